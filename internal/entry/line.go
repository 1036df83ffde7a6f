package entry

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
)

// Keys of the JSON log line after the event's line fields
// (event.TextFields: event, message), in the order they are written.
const (
	LineKeyAttributes      = "attributes"
	LineKeyClientTimestamp = "client_timestamp"
)

// appendLine appends the log line of ev to dst: compact JSON with a fixed
// key order (event, message, attributes, client_timestamp) and attribute
// keys sorted at every level, so equal events always produce equal lines.
// Fields carried as labels or structured metadata are not repeated: the
// sorted attribute keys in moved are left out. A non-zero clientTS is
// written as client_timestamp, for events whose own timestamp was replaced.
func appendLine(dst []byte, ev *event.Event, clientTS time.Time, moved []string) []byte {
	dst = append(dst, '{')
	for i := range event.TextFields {
		f := &event.TextFields[i]
		if v := *f.Ref(ev); f.Line && v != "" {
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = appendString(dst, f.Name)
			dst = append(dst, ':')
			dst = appendString(dst, v)
		}
	}
	first := true
	for _, a := range ev.Attributes {
		if isMoved(moved, a.Key) {
			continue
		}
		if first {
			dst = append(dst, `,"`+LineKeyAttributes+`":{`...)
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(dst, a.Key)
		dst = append(dst, ':')
		dst = appendValue(dst, a.Value)
	}
	if !first {
		dst = append(dst, '}')
	}
	if !clientTS.IsZero() {
		dst = append(dst, `,"`+LineKeyClientTimestamp+`":"`...)
		dst = clientTS.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendString(dst, x)
	case json.Number:
		return append(dst, x...)
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case map[string]any:
		// Sort keys on the stack for the common small object.
		var buf [16]string
		keys := buf[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendValue(dst, x[k])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, c := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, c)
		}
		return append(dst, ']')
	default: // nil, and anything a decoder would not produce
		return append(dst, "null"...)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json does
// without HTML escaping.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript string literals.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func isMoved(moved []string, key string) bool {
	if len(moved) == 0 {
		return false
	}
	_, ok := slices.BinarySearch(moved, key)
	return ok
}

// appendLogfmt appends the log line of ev as logfmt: event, message, then
// attributes with nested keys joined by dots (arrays as JSON), then
// client_timestamp.
func appendLogfmt(dst []byte, ev *event.Event, clientTS time.Time, moved []string) []byte {
	for i := range event.TextFields {
		if f := &event.TextFields[i]; f.Line && *f.Ref(ev) != "" {
			dst = appendLogfmtPair(dst, f.Name, *f.Ref(ev))
		}
	}
	for _, a := range ev.Attributes {
		if !isMoved(moved, a.Key) {
			dst = appendLogfmtValue(dst, a.Key, a.Value)
		}
	}
	if !clientTS.IsZero() {
		dst = appendLogfmtPair(dst, LineKeyClientTimestamp, clientTS.UTC().Format(time.RFC3339Nano))
	}
	return dst
}

func appendLogfmtValue(dst []byte, key string, v any) []byte {
	if m, ok := v.(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendLogfmtValue(dst, key+"."+k, m[k])
		}
		return dst
	}
	return appendLogfmtPair(dst, key, event.ValueText(v))
}

func appendLogfmtPair(dst []byte, key, value string) []byte {
	if len(dst) > 0 {
		dst = append(dst, ' ')
	}
	dst = appendLogfmtKey(dst, key)
	dst = append(dst, '=')
	if value != "" && !strings.ContainsAny(value, " =\"\\") && !hasControl(value) {
		return append(dst, value...)
	}
	return appendString(dst, value)
}

// appendLogfmtKey writes key with characters logfmt keys cannot hold
// (space, =, quote, controls) replaced by underscores.
func appendLogfmtKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
