package curated

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestConformance runs testdata/conformance/events.json (the set the API's
// and the JS SDK's tests read too) through Send: what reaches the API is
// exactly the set's sdk fields, or the event is dropped before sending with
// OnError naming the field.
func TestConformance(t *testing.T) {
	b, err := os.ReadFile("../../testdata/conformance/events.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Limits struct {
			MaxEventBytes int `json:"max_event_bytes"`
			MaxAttributes int `json:"max_attributes"`
		}
		Cases []struct {
			Name  string
			Input json.RawMessage
			SDK   map[string]any
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, c := range set.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var in struct {
				Event, Message string
				SessionID      string `json:"session_id"`
				UserID         string `json:"user_id"`
				AnonymousID    string `json:"anonymous_id"`
				TraceID        string `json:"trace_id"`
				SpanID         string `json:"span_id"`
				Attributes     map[string]any
			}
			d := json.NewDecoder(strings.NewReader(string(c.Input)))
			d.UseNumber()
			if err := d.Decode(&in); err != nil {
				t.Fatal(err)
			}
			stub := newStub(t, nil)
			cl, errs := newClient(t, stub.URL, func(cfg *Config) {
				cfg.MaxEventBytes, cfg.MaxAttributes = set.Limits.MaxEventBytes, set.Limits.MaxAttributes
			})
			cl.Send(context.Background(), Event{Name: in.Event, Message: in.Message, Attributes: attrsFromJSON(in.Attributes),
				SessionID: in.SessionID, UserID: in.UserID, AnonymousID: in.AnonymousID, TraceID: in.TraceID, SpanID: in.SpanID})
			flush(t, cl)
			sent := stub.events()
			if field, dropped := c.SDK["dropped"]; dropped {
				got := errs.get()
				if len(sent) != 0 || len(got) != 1 || got[0].Code != "invalid_event" || got[0].Field != field {
					t.Errorf("want dropped for %v before sending; sent %v, OnError %v", field, sent, got)
				}
				return
			}
			if len(sent) != 1 {
				t.Fatalf("sent %v, OnError %v", sent, errs.get())
			}
			got := sent[0]
			delete(got, "timestamp")
			wantJSON, _ := json.Marshal(c.SDK)
			gotJSON, _ := json.Marshal(got)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("sent\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
}

// attrsFromJSON turns decoded JSON into the slog attributes a Go caller
// would write: objects as groups, the rest as values.
func attrsFromJSON(m map[string]any) []slog.Attr {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []slog.Attr
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			out = append(out, slog.Attr{Key: k, Value: slog.GroupValue(attrsFromJSON(v)...)})
		case json.Number:
			if n, err := v.Int64(); err == nil {
				out = append(out, slog.Int64(k, n))
			} else {
				f, _ := v.Float64()
				out = append(out, slog.Float64(k, f))
			}
		default:
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}
