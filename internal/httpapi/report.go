package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
)

// The events the API reports itself with.
const (
	ReportEvent  = "curated.pipeline"
	RefusedEvent = "curated.refused"
)

// tally counts what the API did since the last self-report, where Loki's
// ruler and dashboards can see it: Prometheus metrics need a metrics
// backend this stack does not run. A mutex, not per-key atomics: a request
// adds to it once or twice, and the keys are few.
type tally struct {
	mu     sync.Mutex
	counts map[string]int64
	// refusedBy counts refused event requests by client and status.
	refusedBy map[refusal]int64
	since     time.Time
}

// refusal is a client refused with a status.
type refusal struct {
	client string
	status int
}

func newTally(now time.Time) *tally {
	return &tally{counts: map[string]int64{}, refusedBy: map[refusal]int64{}, since: now}
}

func (t *tally) add(key string, n int64) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	t.counts[key] += n
	t.mu.Unlock()
}

// request counts one answered request to /v1/events by status and client.
func (t *tally) request(client string, status int) {
	t.mu.Lock()
	t.counts["requests"]++
	if status >= 300 {
		t.counts["refused"]++
		t.counts["refused_"+strconv.Itoa(status)]++
		t.refusedBy[refusal{client, status}]++
	}
	t.mu.Unlock()
}

// take returns the counts since the last take and starts over.
func (t *tally) take(now time.Time) (counts map[string]int64, refusedBy map[refusal]int64, since time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	counts, refusedBy, since = t.counts, t.refusedBy, t.since
	t.counts, t.refusedBy, t.since = map[string]int64{}, map[refusal]int64{}, now
	return counts, refusedBy, since
}

// giveBack returns counts that could not be reported to the next report.
func (t *tally) giveBack(counts map[string]int64, refusedBy map[refusal]int64, since time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range counts {
		t.counts[k] += v
	}
	for k, v := range refusedBy {
		t.refusedBy[k] += v
	}
	if since.Before(t.since) {
		t.since = since
	}
}

// Report sends a curated.pipeline event through the same path as accepted
// events (entry builder, forward_to; no rules), with what the API did since
// the last report: requests, refusals by status, accepted events, events
// rejected and dropped, events not forwarded in time (the downstream
// stalled), throttled requests and corrected clocks; and one
// curated.refused event per client and status refused, so rules can name
// them. The report's level is warn when anything was refused or not
// forwarded. When the events cannot be forwarded within forward_timeout,
// their counts go to the next report.
func (h *Handler) Report(ctx context.Context, service, instance string) error {
	cfg := h.cfg.Load()
	now := h.now()
	counts, refusedBy, since := h.tally.take(now)
	num := func(n int64) any { return json.Number(strconv.FormatInt(n, 10)) }
	ev := event.Event{Name: ReportEvent, Service: service, Level: event.LevelInfo, Timestamp: now}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		ev.SetAttr(k, num(counts[k]))
	}
	for _, k := range []string{"requests", "refused", "accepted", "not_forwarded"} {
		if _, ok := counts[k]; !ok {
			ev.SetAttr(k, num(0)) // present, so rules can sum them
		}
	}
	ev.SetAttr("interval_ms", num(now.Sub(since).Milliseconds()))
	if instance != "" {
		ev.SetAttr("instance", instance)
	}
	if counts["refused"] > 0 || counts["not_forwarded"] > 0 {
		ev.Level = event.LevelWarn
	}
	events := []event.Event{ev}
	refusals := slices.SortedFunc(maps.Keys(refusedBy), func(a, b refusal) int {
		return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.status, b.status))
	})
	for _, r := range refusals { // events[1+i] reports refusals[i]
		ev := event.Event{Name: RefusedEvent, Service: service, Level: event.LevelWarn, Timestamp: now}
		ev.SetAttr("client", r.client)
		ev.SetAttr("count", num(refusedBy[r]))
		if instance != "" {
			ev.SetAttr("instance", instance)
		}
		ev.SetAttr("status", num(int64(r.status)))
		events = append(events, ev)
	}
	entries := make([]entry.Entry, len(events))
	for i := range events {
		entries[i] = cfg.Builder.Build(&events[i], now)
		if cfg.Tenant != "" {
			entries[i].Labels[entry.LabelTenant] = model.LabelValue(cfg.Tenant)
		}
	}
	n, err := h.forward(ctx, cfg, entries)
	if n == len(entries) {
		return nil
	}
	// Some went: give back only what did not, so nothing is counted twice.
	if n > 0 {
		counts = nil
		for _, r := range refusals[:n-1] {
			delete(refusedBy, r)
		}
	}
	h.tally.giveBack(counts, refusedBy, since)
	return fmt.Errorf("self-report not forwarded within forward_timeout (%s): %w", cfg.ForwardTimeout, err)
}
