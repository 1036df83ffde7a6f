package event

import (
	"encoding/json"
	"os"
	"testing"
)

// conformance is testdata/conformance/events.json: one set of cases read
// by this package's tests and both SDKs', so the API's rules are written
// down once and the SDKs cannot drift from them.
type conformance struct {
	Limits struct {
		MaxEventBytes int `json:"max_event_bytes"`
		MaxAttributes int `json:"max_attributes"`
	} `json:"limits"`
	Cases []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		API   json.RawMessage `json:"api"`
		SDK   json.RawMessage `json:"sdk"`
	} `json:"cases"`
}

// TestConformance: the API answers each input as the set says, and what
// the SDKs are to send for it is accepted as it is.
func TestConformance(t *testing.T) {
	b, err := os.ReadFile("../../testdata/conformance/events.json")
	if err != nil {
		t.Fatal(err)
	}
	var set conformance
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	lim := Limits{MaxEventBytes: set.Limits.MaxEventBytes, MaxAttributes: set.Limits.MaxAttributes, MaxEventsPerRequest: 10}
	for _, c := range set.Cases {
		t.Run(c.Name, func(t *testing.T) {
			// The raw input, not a Go re-encoding: lone surrogates and
			// escapes reach the decoder as a client writes them.
			items, err := Decode(FormatJSON, c.Input, lim)
			if err != nil || len(items) != 1 {
				t.Fatalf("decode: %v (%d items)", err, len(items))
			}
			var want struct{ Code, Field string }
			if string(c.API) != `"accepted"` {
				if err := json.Unmarshal(c.API, &want); err != nil {
					t.Fatalf("api: %v", err)
				}
			}
			var got struct{ Code, Field string }
			if errs := items[0].Errors; len(errs) > 0 {
				got.Code, got.Field = string(errs[0].Code), errs[0].Field
			}
			if got != want {
				t.Errorf("the API answers %+v, the set says %+v", got, want)
			}
			var sdk map[string]json.RawMessage
			if err := json.Unmarshal(c.SDK, &sdk); err != nil {
				t.Fatalf("sdk: %v", err)
			}
			if _, dropped := sdk["dropped"]; dropped {
				if got.Code == "" {
					t.Errorf("the SDKs drop an event the API accepts")
				}
				return
			}
			wire, _ := json.Marshal(sdk)
			if items, err := Decode(FormatJSON, wire, lim); err != nil || !items[0].OK() {
				t.Errorf("what the SDKs send is refused: %v %+v", err, items)
			}
		})
	}
}
