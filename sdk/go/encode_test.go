package curated

import (
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAttributeEncoding: whatever the keys and values, the encoded
// attributes are valid JSON the API accepts (no control characters but
// tab, newline and CR in strings), and clean strings come back unchanged.
func FuzzAttributeEncoding(f *testing.F) {
	f.Add("step", "Seoul\tKR\n", int64(3), 1.5, true)
	f.Add("", "\x00\x1f\u2028\xff", int64(-1), math.NaN(), false)
	f.Add("a\"b\\c", "</script>&", int64(math.MaxInt64), math.Inf(-1), true)
	f.Fuzz(func(t *testing.T, key, s string, n int64, fl float64, bl bool) {
		attrs := []slog.Attr{
			slog.String(key, s), slog.Int64("n", n), slog.Float64("f", fl), slog.Bool("b", bl),
			slog.Group("g", slog.String("s", s), slog.Duration("d", time.Duration(n))),
			slog.Any("list", []string{s}), slog.Time("t", time.Unix(0, n)),
		}
		e := encoder{b: []byte{'{'}}
		e.members(nil, nil, attrs, 1, true)
		b := append(e.b, '}')
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %q", b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		clean := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
		})
		got, _ := m["g"].(map[string]any)["s"].(string)
		if clean && got != s {
			t.Fatalf("string %q came back as %q", s, got)
		}
		for _, r := range got {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
				t.Fatalf("control character %U in %q", r, got)
			}
		}
	})
}

func TestAppendStringEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         `"plain"`,
		"a\"b\\c":       `"a\"b\\c"`,
		"tab\tnl\ncr\r": `"tab\tnl\ncr\r"`,
		"nul\x00":       `"nul\ufffd"`,
		"bad\xffutf8":   `"bad\ufffdutf8"`,
		"한국어":           `"한국어"`,
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func TestEventFromMessage(t *testing.T) {
	for in, want := range map[string]string{
		"Payment failed!":        "log.payment_failed",
		"  ":                     "log.message",
		"GET /v1 took 3ms":       "log.get_v1_took_3ms",
		strings.Repeat("x", 200): "log." + strings.Repeat("x", 60),
	} {
		if got := eventFromMessage(in); got != want || !validName(got) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
