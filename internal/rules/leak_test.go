package rules

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/grafana/alloy/curated/internal/event"
)

var plantedSecrets = []string{
	"jane.doe@example.com", "kim+apply@partner.co.kr", "4111111111111111", "4111 1111 1111 1111",
	"5500-0000-0000-0004", "378282246310005",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}

// placements is how many places plant can put a secret: the attribute
// shapes below, then every top-level text field of event.TextFields, so a
// field added there is fuzzed without a change here.
var placements = 3 + len(event.TextFields)

// plant builds an event body with secret, between before and after, in the
// place selected by where. A field whose rules refuse the text (a token
// field and a space, say) makes the event invalid: it is never stored.
func plant(where uint8, before, secret, after string) []byte {
	text := before + " " + secret + " " + after
	ev := map[string]any{"event": "form.submit", "service": "collabmaker"}
	switch w := int(where) % placements; w {
	case 0:
		ev["attributes"] = map[string]any{"note": text, "promoted": text, "meta": text}
	case 1:
		ev["attributes"] = map[string]any{"a": map[string]any{"b": []any{"x", text}}}
	case 2:
		ev["attributes"] = map[string]any{text: "value"}
	default:
		ev[event.TextFields[w-3].Name] = text
	}
	b, _ := json.Marshal(ev)
	return b
}

// placeOf is plant's place for the top-level text field name.
func placeOf(name string) uint8 {
	for i, f := range event.TextFields {
		if f.Name == name {
			return uint8(3 + i)
		}
	}
	panic("no text field " + name)
}

// FuzzDefaultRulesNeverLeak checks the default rule set on any field, with
// the corpus's positives and the secrets above planted in arbitrary text.
func FuzzDefaultRulesNeverLeak(f *testing.F) {
	planted := make([]positive, 0, len(plantedSecrets))
	for _, s := range plantedSecrets {
		planted = append(planted, positive{text: s, secret: s})
	}
	planted = append(planted, positives(f)...)
	for i := range planted {
		f.Add(uint8(i), uint8(i), "contact", "thanks")
		f.Add(uint8(i), uint8(i+3), "", "")
	}
	p, b := defaultRig(f)
	f.Fuzz(func(t *testing.T, which, where uint8, before, after string) {
		pos := planted[int(which)%len(planted)]
		out, _ := stored(p, b, plant(where, before, pos.text, after))
		if leaked(out, pos.secret) {
			t.Fatalf("secret %q leaked (place %d): %q", pos.secret, int(where)%placements, out)
		}
	})
}

// A secret-named nested attribute keeps its key, so the key itself is
// scanned too.
func TestSecretNamedNestedKeyIsScanned(t *testing.T) {
	p := mustCompile(t, Config{Redact: DefaultRedact()})
	ev := decodeOne(t, `{"event":"x","attributes":{"profile":{"reset_token_for_kim@example.com":"abc"},"reset_token_for_lee@example.com":"x"}}`)
	p.Apply(&ev, false)
	if got := attrsJSON(ev); strings.Contains(got, "example.com") || strings.Contains(got, "abc") {
		t.Errorf("personal data in a secret-named key survived: %s", got)
	}
}

func TestCardAsJSONNumberIsRedacted(t *testing.T) {
	p := mustCompile(t, Config{Redact: DefaultRedact()})
	ev := decodeOne(t, `{"event":"x","attributes":{"n":4111111111111111,"m":{"k":[378282246310005]}}}`)
	p.Apply(&ev, false)
	if got := attrsJSON(ev); strings.Contains(got, "4111111111111111") || strings.Contains(got, "378282246310005") {
		t.Errorf("card numbers as JSON numbers leaked: %s", got)
	}
}

// TestEveryTextFieldIsRedacted plants a secret that the field's own rules
// accept in each of event.TextFields: the default rules must redact it, so
// a new field cannot carry personal data to Loki unnoticed.
func TestEveryTextFieldIsRedacted(t *testing.T) {
	p := mustCompile(t, Config{Redact: DefaultRedact()})
	for _, f := range event.TextFields {
		var (
			ev     event.Event
			secret string
		)
		for _, s := range []string{"mail jane.doe@example.com", "4111111111111111"} {
			body, _ := json.Marshal(map[string]string{"event": "x", f.Name: s})
			items, err := event.Decode(event.FormatJSON, body, event.Limits{})
			if err == nil && len(items) == 1 && items[0].OK() {
				ev, secret = items[0].Event, s
				break
			}
		}
		if secret == "" {
			t.Fatalf("%s: no planted secret passes its rules; add one", f.Name)
		}
		p.Apply(&ev, false)
		if got := *f.Ref(&ev); got == secret || strings.Contains(got, "example.com") || strings.Contains(got, "4111") {
			t.Errorf("%s: %q not redacted: %q", f.Name, secret, got)
		}
	}
}
