package curated

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxDepth is the API's attribute nesting limit (docs/api.md: 8 levels).
const maxDepth = 8

// appendString appends s as a JSON string. Control characters other than
// tab, newline and carriage return, which the API refuses in attribute
// values and messages, become U+FFFD, as does invalid UTF-8: the event is
// kept, the offending byte is not.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, `\ufffd`...)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0x2028 || r == 0x2029 || (r >= 0x7f && r <= 0x9f) {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendAttrs appends attrs as the members of a JSON object (without the
// braces), skipping empty attributes as slog does. It reports whether it
// wrote anything.
func appendAttrs(b []byte, attrs []slog.Attr, depth int, first bool) ([]byte, bool) {
	for _, a := range attrs {
		v := a.Value.Resolve()
		if a.Key == "" {
			// slog inlines a group without a key; anything else keyless is dropped.
			if v.Kind() == slog.KindGroup {
				b, first = appendAttrs(b, v.Group(), depth, first)
			}
			continue
		}
		if v.Kind() == slog.KindGroup && len(v.Group()) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, a.Key)
		b = append(b, ':')
		b = appendValue(b, v, depth)
	}
	return b, first
}

// appendValue appends v as JSON. Durations become milliseconds, times RFC
// 3339 strings, errors their message, NaN and infinities strings; groups
// nested beyond the API's limit become their text.
func appendValue(b []byte, v slog.Value, depth int) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendFloat(b, float64(v.Duration())/float64(time.Millisecond), 'f', -1, 64)
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case slog.KindGroup:
		if depth >= maxDepth {
			return appendString(b, v.String())
		}
		b = append(b, '{')
		b, _ = appendAttrs(b, v.Group(), depth+1, true)
		return append(b, '}')
	case slog.KindLogValuer:
		return appendValue(b, v.Resolve(), depth)
	}
	return appendAny(b, v.Any(), depth)
}

func appendAny(b []byte, x any, depth int) []byte {
	switch x := x.(type) {
	case nil:
		return append(b, "null"...)
	case error:
		return appendString(b, x.Error())
	case []byte:
		return appendString(b, string(x))
	case json.Marshaler, map[string]any, []any, []string, []int, []float64:
		j, err := json.Marshal(x)
		if err == nil && depth < maxDepth {
			return append(b, j...)
		}
	case fmt.Stringer:
		return appendString(b, x.String())
	}
	j, err := json.Marshal(x)
	if err != nil || depth >= maxDepth {
		return appendString(b, fmt.Sprint(x))
	}
	return append(b, j...)
}

// validName reports whether s is an event name (or service, trace or span
// ID) the API accepts: 1-128 of A-Z a-z 0-9 _ . : -.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
