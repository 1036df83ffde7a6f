package curated

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// The API's limits (docs/api.md): attributes nested 8 levels, keys of
// 1-128 bytes, IDs of 256 bytes.
const (
	maxDepth  = 8
	maxKeyLen = 128
	maxIDLen  = 256
)

// appendString appends s as a JSON string. ASCII control characters other
// than tab, newline and carriage return (DEL included), which the API
// refuses in attribute values and messages, become U+FFFD, as does invalid
// UTF-8: the event is kept, the offending byte is not (the conformance set,
// testdata/conformance/events.json).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
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
		if r == utf8.RuneError && size == 1 {
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

// encoder appends attributes as JSON object members. User code runs inside
// it (LogValue, MarshalJSON, Error, String): a value whose code panics is
// left out and counted in dropped, never a panic in the caller.
type encoder struct {
	b       []byte
	dropped int
	// invalid names the field that makes the event one the API refuses
	// (nested too deep, a key too long, too many attributes): the event is
	// dropped before it is queued, as the API would refuse it.
	invalid string
	top     int // top-level attributes written
}

// members appends the members of one object (without braces) made of base
// and add: add's attribute wins over base's of the same key, two groups of
// the same key merge, and within one list the last attribute of a key wins
// (the API refuses a key twice). With a path, add belongs in the group
// path[0] of base, and so on down. first says nothing was written yet; the
// result says whether that is still so.
func (e *encoder) members(base []slog.Attr, path []string, add []slog.Attr, depth int, first bool) bool {
	if len(path) > 0 {
		merged := false
		for i, a := range base {
			if a.Key != "" && lastIndex(base[i+1:], a.Key) >= 0 {
				continue
			}
			if !merged && a.Key == path[0] && a.Value.Kind() == slog.KindGroup {
				merged = true
				first = e.group(a.Key, a.Value.Group(), path[1:], add, depth, first)
				continue
			}
			first = e.member(a, depth, first)
		}
		if !merged {
			first = e.group(path[0], nil, path[1:], add, depth, first)
		}
		return first
	}
	for i, a := range base {
		if a.Key != "" && lastIndex(base[i+1:], a.Key) >= 0 {
			continue
		}
		if j := lastIndex(add, a.Key); a.Key != "" && j >= 0 {
			if a.Value.Kind() == slog.KindGroup && add[j].Value.Kind() == slog.KindGroup {
				first = e.group(a.Key, a.Value.Group(), nil, add[j].Value.Group(), depth, first)
			}
			continue // add's attribute is written below, or was merged here
		}
		first = e.member(a, depth, first)
	}
	for i, a := range add {
		if a.Key != "" && lastIndex(add[i+1:], a.Key) >= 0 {
			continue
		}
		if k := lastIndex(base, a.Key); a.Key != "" && k >= 0 && a.Value.Kind() == slog.KindGroup && base[k].Value.Kind() == slog.KindGroup {
			continue // merged above
		}
		first = e.member(a, depth, first)
	}
	return first
}

// group appends key and the object made of base and add at path, unless
// that object is empty (slog omits empty groups).
func (e *encoder) group(key string, base []slog.Attr, path []string, add []slog.Attr, depth int, first bool) bool {
	mark := len(e.b)
	if !first {
		e.b = append(e.b, ',')
	}
	e.b = appendString(e.b, key)
	e.b = append(e.b, ':', '{')
	if depth >= maxDepth {
		e.invalid = "attributes"
		return false
	}
	if e.members(base, path, add, depth+1, true) {
		e.b = e.b[:mark]
		return first
	}
	e.b = append(e.b, '}')
	return false
}

// member appends one attribute; a keyless group is inlined, as slog does.
func (e *encoder) member(a slog.Attr, depth int, first bool) bool {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		var ok bool
		if v, ok = e.resolve(v); !ok {
			return first
		}
	}
	if v.Kind() == slog.KindGroup && len(v.Group()) == 0 {
		return first
	}
	if a.Key == "" {
		// Only a group may go without a key: its members join this object.
		if v.Kind() == slog.KindGroup {
			return e.members(nil, nil, v.Group(), depth, first)
		}
		return first
	}
	if len(a.Key) > maxKeyLen {
		e.invalid = "attributes"
		return first
	}
	mark := len(e.b)
	if !first {
		e.b = append(e.b, ',')
	}
	e.b = appendString(e.b, a.Key)
	e.b = append(e.b, ':')
	if !e.value(v, depth) {
		e.b = e.b[:mark]
		return first
	}
	if depth == 1 {
		e.top++
	}
	return false
}

// resolve calls LogValue until the value is not a LogValuer, reporting a
// panic in it as a dropped attribute. Only LogValuers get here: the
// deferred recover costs a call the other kinds do not pay.
func (e *encoder) resolve(v slog.Value) (out slog.Value, ok bool) {
	defer func() {
		if recover() != nil {
			e.dropped++
			ok = false
		}
	}()
	for i := 0; i < 100 && v.Kind() == slog.KindLogValuer; i++ {
		v = v.LogValuer().LogValue()
	}
	return v, v.Kind() != slog.KindLogValuer
}

// value appends a resolved v as JSON and reports whether it could. Durations
// become milliseconds, times RFC 3339 strings, errors their message (URLs
// scrubbed), NaN and infinities strings; groups nested beyond the API's
// limit become their text.
func (e *encoder) value(v slog.Value, depth int) bool {
	switch v.Kind() {
	case slog.KindString:
		e.b = appendString(e.b, v.String())
	case slog.KindInt64:
		e.b = strconv.AppendInt(e.b, v.Int64(), 10)
	case slog.KindUint64:
		e.b = strconv.AppendUint(e.b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			e.b = appendString(e.b, strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			e.b = strconv.AppendFloat(e.b, f, 'g', -1, 64)
		}
	case slog.KindBool:
		e.b = strconv.AppendBool(e.b, v.Bool())
	case slog.KindDuration:
		e.b = strconv.AppendFloat(e.b, float64(v.Duration())/float64(time.Millisecond), 'f', -1, 64)
	case slog.KindTime:
		e.b = append(e.b, '"')
		e.b = v.Time().UTC().AppendFormat(e.b, time.RFC3339Nano)
		e.b = append(e.b, '"')
	case slog.KindGroup:
		if depth >= maxDepth {
			e.invalid = "attributes"
			return false
		}
		e.b = append(e.b, '{')
		e.members(nil, nil, v.Group(), depth+1, true)
		e.b = append(e.b, '}')
	default:
		return e.any(v.Any(), depth)
	}
	return true
}

// any appends a value of the user's type; a panic in its methods drops it.
func (e *encoder) any(x any, depth int) (ok bool) {
	mark := len(e.b)
	defer func() {
		if recover() != nil {
			e.b = e.b[:mark]
			e.dropped++
			ok = false
		}
	}()
	e.b = appendAny(e.b, x, depth)
	return true
}

func appendAny(b []byte, x any, depth int) []byte {
	if x == nil || isNilPointer(x) {
		return append(b, "null"...)
	}
	switch x := x.(type) {
	case error:
		return appendString(b, scrubURLs(x.Error()))
	case []byte:
		return appendString(b, string(x))
	case json.Marshaler, map[string]any, []any, []string, []int, []float64:
		j, err := json.Marshal(x)
		if err == nil && depth < maxDepth {
			return appendClean(b, j)
		}
	case fmt.Stringer:
		return appendString(b, x.String())
	}
	j, err := json.Marshal(x)
	if err != nil || depth >= maxDepth {
		return appendString(b, fmt.Sprint(x))
	}
	return appendClean(b, j)
}

// appendClean appends JSON that encoding/json (or a MarshalJSON) wrote,
// with the control characters the API refuses in its strings replaced by
// U+FFFD, as appendString does: encoding/json escapes them (\u0007, \b,
// \f) and writes DEL as it is.
func appendClean(b, j []byte) []byte {
	for i := 0; i < len(j); i++ {
		c := j[i]
		switch {
		case c == 0x7f:
			b = append(b, `\ufffd`...)
		case c == '\\' && i+1 < len(j):
			switch j[i+1] {
			case 'b', 'f':
				b = append(b, `\ufffd`...)
			case 'u':
				if i+5 < len(j) && string(j[i+2:i+4]) == "00" && (j[i+4] == '0' || j[i+4] == '1') &&
					!(j[i+4] == '0' && (j[i+5] == '9' || j[i+5] == 'a' || j[i+5] == 'A' || j[i+5] == 'd' || j[i+5] == 'D')) {
					b = append(b, `\ufffd`...)
					i += 5
					continue
				}
				fallthrough
			default:
				b = append(b, c, j[i+1])
			}
			i++
		default:
			b = append(b, c)
		}
	}
	return b
}

// isNilPointer reports a typed nil (a nil *T in an interface), whose
// Error or String method would otherwise run on a nil receiver.
func isNilPointer(x any) bool {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// lastIndex is the index of the last attribute named key in list, or -1.
func lastIndex(list []slog.Attr, key string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Key == key {
			return i
		}
	}
	return -1
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
