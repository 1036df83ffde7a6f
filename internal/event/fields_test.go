package event

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
)

// TestTextFieldsAreWiredUp checks every row of TextFields end to end: the
// reader knows its name, it decodes into its Event member, an envelope's
// context passes it on, and a value its rule refuses is rejected under its
// name. A new field missing any of these fails here.
func TestTextFieldsAreWiredUp(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range TextFields {
		if seen[f.Name] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		if id, ok := lookupField([]byte(f.Name)); !ok || id != f.id || fieldNames[id] != f.Name {
			t.Errorf("%s: the reader maps it to %v (%v), want %v", f.Name, id, ok, f.id)
		}
		value := "v-1"
		body := map[string]any{"event": "x", f.Name: value}
		items, err := Decode(FormatJSON, mustJSON(t, body), Limits{})
		if err != nil || len(items) != 1 || !items[0].OK() {
			t.Fatalf("%s: %v %+v", f.Name, err, items)
		}
		if got := *f.Ref(&items[0].Event); got != value {
			t.Errorf("%s: decoded %q, want %q", f.Name, got, value)
		}
		if f.Name == "event" {
			continue // the event's own name is required in each event
		}
		env := map[string]any{"context": map[string]any{f.Name: value}, "events": []any{map[string]any{"event": "x"}}}
		items, err = Decode(FormatJSON, mustJSON(t, env), Limits{})
		if err != nil || len(items) != 1 || *f.Ref(&items[0].Event) != value {
			t.Errorf("%s: not inherited from the context: %v %+v", f.Name, err, items)
		}
		items, err = Decode(FormatJSON, mustJSON(t, map[string]any{"event": "x", f.Name: "a\x00b"}), Limits{})
		if err != nil || len(items) != 1 || items[0].OK() || items[0].Errors[0].Field != f.Name {
			t.Errorf("%s: a control character was not rejected under the field's name: %v %+v", f.Name, err, items)
		}
	}
}

// TestEveryFieldIsHandled: each field the reader knows is a text field or
// one of the few decoded on their own, so none is forgotten by the table.
func TestEveryFieldIsHandled(t *testing.T) {
	own := []fieldID{fieldLevel, fieldTimestamp, fieldAttributes, fieldContext, fieldEvents, fieldSentAt}
	for id := range numFields {
		if (textField(id) != nil) == slices.Contains(own, id) {
			t.Errorf("field %q: text field %v, decoded on its own %v", fieldNames[id], textField(id) != nil, slices.Contains(own, id))
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryTextFieldIsInTheAPIDocs: docs/api.md's "Event fields" table is
// the clients' list of fields; a row of TextFields missing there is a
// field no SDK author learns about.
func TestEveryTextFieldIsInTheAPIDocs(t *testing.T) {
	section := apiDocSection(t, "Event fields")
	for _, f := range TextFields {
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(f.Name) + "` +\\|").MatchString(section) {
			t.Errorf("field %q is not in docs/api.md's field table", f.Name)
		}
	}
}
