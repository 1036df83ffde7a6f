package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/refine"
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

// FuzzDefaultRulesNeverLeak checks the default rule set on any field.
func FuzzDefaultRulesNeverLeak(f *testing.F) {
	for i := range plantedSecrets {
		f.Add(uint8(i), uint8(i), "contact", "thanks")
		f.Add(uint8(i), uint8(i+3), "", "")
	}
	p, err := Compile(Config{Redact: DefaultRedact()})
	if err != nil {
		f.Fatal(err)
	}
	b, err := refine.NewBuilder(refine.Config{MaxPast: time.Hour, MaxFuture: time.Minute,
		LabelFields: []string{"attributes.promoted"}, MaxLabelValueLength: 1024, MaxDistinctValues: 1 << 20,
		MetadataFields: []string{"attributes.meta"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which, where uint8, before, after string) {
		secret := plantedSecrets[int(which)%len(plantedSecrets)]
		items, err := event.Decode(event.FormatJSON, plant(where, before, secret, after), event.Limits{})
		if err != nil || !items[0].OK() {
			return // rejected events are not stored
		}
		ev := items[0].Event
		if res := p.Apply(&ev, false); res.Outcome != Keep {
			return
		}
		e := b.Build(&ev, time.Unix(1795599000, 0))
		stored := []string{e.Entry.Line}
		for k, v := range e.Labels {
			stored = append(stored, string(k), string(v))
		}
		for _, md := range e.Entry.StructuredMetadata {
			stored = append(stored, md.Name, md.Value)
		}
		for _, s := range stored {
			// JSON escaping cannot hide these secrets: they are plain ASCII.
			if strings.Contains(s, secret) {
				t.Fatalf("secret %q leaked (field %d): %q", secret, where%8, s)
			}
		}
	})
}

func TestCardAsJSONNumberIsRedacted(t *testing.T) {
	p := mustCompile(t, Config{Redact: DefaultRedact()})
	ev := decodeOne(t, `{"event":"x","attributes":{"n":4111111111111111,"m":{"k":[378282246310005]}}}`)
	p.Apply(&ev, false)
	if got := attrsJSON(ev); strings.Contains(got, "4111111111111111") || strings.Contains(got, "378282246310005") {
		t.Errorf("card numbers as JSON numbers leaked: %s", got)
	}
}
