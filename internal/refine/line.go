package refine

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
)

// Keys of the JSON log line, in the order they are written.
const (
	LineKeyEvent           = "event"
	LineKeyMessage         = "message"
	LineKeyAttributes      = "attributes"
	LineKeyClientTimestamp = "client_timestamp"
)

// AppendLine appends the log line of ev to dst: compact JSON with a fixed key
// order (event, message, attributes, client_timestamp) and attribute keys
// sorted at every level, so equal events always produce equal lines. Fields
// carried as labels or structured metadata are not repeated. A non-zero
// clientTS is written as client_timestamp, for events whose own timestamp
// was replaced by the receive time.
func AppendLine(dst []byte, ev *event.Event, clientTS time.Time) []byte {
	dst = append(dst, `{"`+LineKeyEvent+`":`...)
	dst = appendString(dst, ev.Name)
	if ev.Message != "" {
		dst = append(dst, `,"`+LineKeyMessage+`":`...)
		dst = appendString(dst, ev.Message)
	}
	if len(ev.Attributes) > 0 {
		dst = append(dst, `,"`+LineKeyAttributes+`":{`...)
		for i, a := range ev.Attributes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, a.Key)
			dst = append(dst, ':')
			dst = appendValue(dst, a.Value)
		}
		dst = append(dst, '}')
	}
	if !clientTS.IsZero() {
		dst = append(dst, `,"`+LineKeyClientTimestamp+`":"`...)
		dst = clientTS.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func lineSizeHint(ev *event.Event) int {
	return 64 + len(ev.Name) + len(ev.Message) + 32*len(ev.Attributes)
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
	case nil:
		return append(dst, "null"...)
	default:
		// Nested objects and arrays: encoding/json sorts map keys. HTML
		// escaping is off so lines read naturally in Grafana.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return append(dst, "null"...) // unreachable for decoded JSON values
		}
		return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...)
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
