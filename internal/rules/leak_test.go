package rules

import (
	"encoding/json"
	"strings"
	"testing"
)

var plantedSecrets = []string{
	"jane.doe@example.com", "kim+apply@partner.co.kr", "4111111111111111", "4111 1111 1111 1111",
	"5500-0000-0000-0004", "378282246310005",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}

// plant builds an event body with secret, between before and after, in the
// field selected by where.
func plant(where uint8, before, secret, after string) []byte {
	text := before + " " + secret + " " + after
	ev := map[string]any{"event": "form.submit", "service": "collabmaker"}
	switch where % 8 {
	case 0:
		ev["message"] = text
	case 1:
		ev["attributes"] = map[string]any{"note": text}
	case 2:
		ev["attributes"] = map[string]any{"a": map[string]any{"b": []any{"x", text}}}
	case 3:
		ev["attributes"] = map[string]any{text: "value"}
	case 4:
		ev["session_id"] = text
	case 5:
		ev["user_id"] = text
	case 6:
		ev["attributes"] = map[string]any{"promoted": text}
	case 7:
		ev["attributes"] = map[string]any{"meta": text}
	}
	b, _ := json.Marshal(ev)
	return b
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
			t.Fatalf("secret %q leaked (field %d): %q", pos.secret, where%8, out)
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
