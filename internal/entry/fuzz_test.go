package entry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

// FuzzDecodeAndBuild checks, for arbitrary bodies, that decoding never panics,
// respects the limits, and that every accepted event becomes a valid JSON line
// with a valid level label and the event name it was sent with.
func FuzzDecodeAndBuild(f *testing.F) {
	for _, seed := range []string{
		`{"event":"a"}`,
		`[{"event":"a","level":"warning","attributes":{"x":{"y":[1,"2",null,true]}}},{"event":"b"}]`,
		`{"context":{"service":"s","attributes":{"k":"v"}},"events":[{"event":"c","message":"m\n\"q\""}]}`,
		`{"event":"t","timestamp":1795599000123,"session_id":"s","user_id":"u","trace_id":"t","span_id":"p"}`,
		"{\"event\":\"n1\"}\n{\"event\":\"n2\",\"message\":\"\\u2028\xff\"}",
		`{"event":"d","attributes":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	lim := event.Limits{MaxEventsPerRequest: 50, MaxEventBytes: 4096, MaxAttributes: 16}
	b := MustBuilder(Config{MaxPast: time.Hour, MaxFuture: time.Minute})
	received := time.Unix(1795599000, 0)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := event.FormatJSON
		if ndjson {
			format = event.FormatNDJSON
		}
		items, err := event.Decode(format, body, lim)
		if err != nil {
			return
		}
		if len(items) == 0 || len(items) > lim.MaxEventsPerRequest {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if !it.OK() {
				continue
			}
			if len(it.Event.Attributes) > lim.MaxAttributes {
				t.Fatalf("%d attributes accepted", len(it.Event.Attributes))
			}
			e := b.Build(&it.Event, received)
			var line struct {
				Event string `json:"event"`
			}
			if err := json.Unmarshal([]byte(e.Entry.Line), &line); err != nil {
				t.Fatalf("invalid line %q: %v", e.Entry.Line, err)
			}
			if line.Event != it.Event.Name || !event.IsToken(line.Event) {
				t.Fatalf("line event %q, want %q", line.Event, it.Event.Name)
			}
			if lvl := e.Labels[LabelLevel]; lvl == "" || !lvl.IsValid() {
				t.Fatalf("level label %q", lvl)
			}
		}
	})
}
