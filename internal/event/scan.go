package event

import (
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON reader for request bodies. It follows encoding/json's
// rules (invalid UTF-8 and lone surrogates become U+FFFD, the last of
// duplicate keys wins, numbers stay json.Number) so events decode exactly as
// json.Unmarshal would decode them, but it reads fields in place instead of
// through reflection and map[string]json.RawMessage: decoding was 3x the
// cost of all refinement rules together (docs/performance.md).
// decode_reference_test.go checks the equivalence by fuzzing.

// maxNesting bounds recursion. The API itself needs about a dozen levels
// (envelope, events, event, attributes and 8 nested levels); encoding/json
// allows 10,000, which costs megabytes of goroutine stack per request.
const maxNesting = 64

// syntaxError is a JSON syntax error, worded like encoding/json's.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

type reader struct {
	data []byte
	pos  int
	// values and objects count the JSON values (objects among them) skip
	// has validated: what a request will cost once decoded (Batch.Cost).
	values, objects int
}

func (r *reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *reader) errAt(context string) error {
	if r.pos >= len(r.data) {
		return &syntaxError{"unexpected end of JSON input"}
	}
	return &syntaxError{"invalid character " + quoteChar(r.data[r.pos]) + " " + context}
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// end fails unless only whitespace is left.
func (r *reader) end() error {
	r.ws()
	if r.pos < len(r.data) {
		return r.errAt("after top-level value")
	}
	return nil
}

// skip validates the value at r.pos and returns its bytes.
func (r *reader) skip(depth int) ([]byte, error) {
	r.ws()
	start := r.pos
	if r.pos >= len(r.data) {
		return nil, r.errAt("")
	}
	if depth > maxNesting {
		return nil, &syntaxError{"exceeded max depth"}
	}
	r.values++
	switch c := r.data[r.pos]; {
	case c == '{':
		r.objects++
		r.pos++
		r.ws()
		if r.pos < len(r.data) && r.data[r.pos] == '}' {
			r.pos++
			return r.data[start:r.pos], nil
		}
		for {
			r.ws()
			if r.pos >= len(r.data) || r.data[r.pos] != '"' {
				return nil, r.errAt("looking for beginning of object key string")
			}
			if err := r.skipString(); err != nil {
				return nil, err
			}
			if err := r.colon(); err != nil {
				return nil, err
			}
			if _, err := r.skip(depth + 1); err != nil {
				return nil, err
			}
			done, err := r.next('}', "object key:value pair")
			if err != nil {
				return nil, err
			}
			if done {
				return r.data[start:r.pos], nil
			}
		}
	case c == '[':
		r.pos++
		r.ws()
		if r.pos < len(r.data) && r.data[r.pos] == ']' {
			r.pos++
			return r.data[start:r.pos], nil
		}
		for {
			if _, err := r.skip(depth + 1); err != nil {
				return nil, err
			}
			done, err := r.next(']', "array element")
			if err != nil {
				return nil, err
			}
			if done {
				return r.data[start:r.pos], nil
			}
		}
	case c == '"':
		err := r.skipString()
		return r.data[start:r.pos], err
	case c == '-' || (c >= '0' && c <= '9'):
		err := r.skipNumber()
		return r.data[start:r.pos], err
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if c == lit[0] {
				err := r.literal(lit)
				return r.data[start:r.pos], err
			}
		}
		return nil, r.errAt("looking for beginning of value")
	}
}

func (r *reader) colon() error {
	r.ws()
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return r.errAt("after object key")
	}
	r.pos++
	return nil
}

// next consumes ',' (false) or the closing byte (true).
func (r *reader) next(closing byte, after string) (bool, error) {
	r.ws()
	if r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ',':
			r.pos++
			return false, nil
		case closing:
			r.pos++
			return true, nil
		}
	}
	return false, r.errAt("after " + after)
}

func (r *reader) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if r.pos >= len(r.data) || r.data[r.pos] != lit[i] {
			return r.errAt("in literal " + lit + " (expecting " + quoteChar(lit[i]) + ")")
		}
		r.pos++
	}
	return nil
}

func (r *reader) skipNumber() error {
	d := r.data
	if d[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		n := 0
		for r.pos < len(d) && d[r.pos] >= '0' && d[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	switch {
	case r.pos < len(d) && d[r.pos] == '0':
		r.pos++
	case digits() == 0:
		return r.errAt("in numeric literal")
	}
	if r.pos < len(d) && d[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return r.errAt("after decimal point in numeric literal")
		}
	}
	if r.pos < len(d) && (d[r.pos] == 'e' || d[r.pos] == 'E') {
		r.pos++
		if r.pos < len(d) && (d[r.pos] == '+' || d[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return r.errAt("in exponent of numeric literal")
		}
	}
	return nil
}

// strStop marks the bytes that end a run of plain string content.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skipString moves past the string at r.pos (its opening quote).
func (r *reader) skipString() error {
	d := r.data
	i := r.pos + 1
	for {
		for i < len(d) && !strStop[d[i]] {
			i++
		}
		if i >= len(d) {
			r.pos = len(d)
			return r.errAt("")
		}
		switch d[i] {
		case '"':
			r.pos = i + 1
			return nil
		case '\\':
			i++
			if i >= len(d) {
				r.pos = len(d)
				return r.errAt("")
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(d) || !isHex(d[i+k]) {
						r.pos = min(i+k, len(d))
						return r.errAt("in \\u hexadecimal character escape")
					}
				}
				i += 5
			default:
				r.pos = i
				return r.errAt("in string escape code")
			}
		default: // a control character
			r.pos = i
			return r.errAt("in string literal")
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unquote returns the text of a valid JSON string literal (quotes
// included). Plain strings come back as a sub-slice of lit, without copying.
func unquote(lit []byte) []byte {
	s := lit[1 : len(lit)-1]
	plain := true
	ascii := true
	for _, c := range s {
		if c == '\\' {
			plain = false
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if plain && (ascii || utf8.Valid(s)) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(rr) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[i+2:])); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // " \ /
				out = append(out, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			rr, size := utf8.DecodeRune(s[i:])
			if rr == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, unicode.ReplacementChar)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return out
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// members decodes the valid JSON object at r.pos into its members, in
// document order, duplicates included. With a limit, it stops when one more
// member than limit follows, and reports it.
func (r *reader) members(limit int) (_ []Attribute, over bool) {
	d := r.data
	r.ws()
	r.pos++
	r.ws()
	attrs := make([]Attribute, 0, 16)
	if d[r.pos] == '}' {
		r.pos++
		return attrs, false
	}
	for {
		if limit > 0 && len(attrs) == limit {
			return nil, true
		}
		r.ws()
		start := r.pos
		_ = r.skipString()
		key := string(unquote(d[start:r.pos]))
		_ = r.colon()
		attrs = append(attrs, Attribute{Key: key, Value: r.value()})
		if done, _ := r.next('}', ""); done {
			return attrs, false
		}
	}
}

// memberKeys returns the keys of the valid JSON object at r.pos, in
// document order, without decoding its values.
func (r *reader) memberKeys() []string {
	d := r.data
	r.ws()
	r.pos++
	r.ws()
	var keys []string
	if d[r.pos] == '}' {
		r.pos++
		return keys
	}
	for {
		r.ws()
		start := r.pos
		_ = r.skipString()
		keys = append(keys, string(unquote(d[start:r.pos])))
		_ = r.colon()
		_, _ = r.skip(1)
		if done, _ := r.next('}', ""); done {
			return keys
		}
	}
}

// value decodes the valid JSON value at r.pos as encoding/json decodes into
// an interface{} with UseNumber.
func (r *reader) value() any {
	r.ws()
	d := r.data
	switch c := d[r.pos]; {
	case c == '{':
		m := map[string]any{}
		r.pos++
		r.ws()
		if d[r.pos] == '}' {
			r.pos++
			return m
		}
		for {
			r.ws()
			start := r.pos
			_ = r.skipString()
			key := string(unquote(d[start:r.pos]))
			_ = r.colon()
			m[key] = r.value()
			if done, _ := r.next('}', ""); done {
				return m
			}
		}
	case c == '[':
		a := []any{}
		r.pos++
		r.ws()
		if d[r.pos] == ']' {
			r.pos++
			return a
		}
		for {
			a = append(a, r.value())
			if done, _ := r.next(']', ""); done {
				return a
			}
		}
	case c == '"':
		start := r.pos
		_ = r.skipString()
		return string(unquote(d[start:r.pos]))
	case c == 't':
		r.pos += 4
		return true
	case c == 'f':
		r.pos += 5
		return false
	case c == 'n':
		r.pos += 4
		return nil
	default:
		start := r.pos
		_ = r.skipNumber()
		return json.Number(d[start:r.pos])
	}
}
