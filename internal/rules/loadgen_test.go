package rules

import (
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/loadgen"
)

// The benchmark's events must exercise the default rules as real traffic
// does: clean events untouched, and only the planted email redacted.
func TestLoadgenEventsUnderDefaultRules(t *testing.T) {
	p, err := Compile(Config{Redact: DefaultRedact()})
	if err != nil {
		t.Fatal(err)
	}
	var evs []loadgen.Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, loadgen.Collabmaker(i, time.Now()))
	}
	body, _, _, err := loadgen.CuratedBody(evs, loadgen.Batch)
	if err != nil {
		t.Fatal(err)
	}
	items, err := event.Decode(event.FormatJSON, body, event.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	redacted := 0
	for _, it := range items {
		e := it.Event
		res := p.Apply(&e, true)
		if len(res.Fired) == 0 {
			continue
		}
		redacted++
		if e.Name != "shopify.sync" || len(res.Fired) != 1 || res.Fired[0] != "redact:email:message" {
			t.Errorf("%s: fired %v", e.Name, res.Fired)
		}
	}
	if redacted != 20 {
		t.Errorf("%d of 1000 events redacted; want the 20 shopify.sync ones", redacted)
	}
}
