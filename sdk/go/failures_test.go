package curated

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// refusal is an API error body with one error of code.
func refusal(code string) map[string]any {
	return map[string]any{"errors": []any{map[string]any{"code": code}}}
}

// failFirst answers the first n requests with fail and accepts the rest.
func failFirst(n int, fail func(w http.ResponseWriter)) func(int, stubRequest, http.ResponseWriter) {
	return func(i int, req stubRequest, w http.ResponseWriter) {
		if i < n {
			fail(w)
			return
		}
		accept(w, len(req.events))
	}
}

func seqs(events []map[string]any) []int {
	var out []int
	for _, e := range events {
		out = append(out, int(e["attributes"].(map[string]any)["seq"].(float64)))
	}
	return out
}

func trackN(c *Client, n int) {
	for i := 0; i < n; i++ {
		c.Track(context.Background(), "load.event", slog.Int("seq", i))
	}
}

// 429 with Retry-After: the client waits that long, then the same events
// (same timestamps: the same Loki entries) are accepted once.
func TestRetryAfter429(t *testing.T) {
	stub := newStub(t, failFirst(1, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		answer(w, http.StatusTooManyRequests, refusal("rate_limited"))
	}))
	c, errs := newClient(t, stub.URL, nil)
	trackN(c, 3)
	flush(t, c)
	reqs := stub.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried after %s, before Retry-After's 1 s", gap)
	}
	for i := range reqs[0].events {
		if reqs[0].events[i]["timestamp"] != reqs[1].events[i]["timestamp"] {
			t.Errorf("event %d changed its timestamp on retry", i)
		}
	}
	if st := c.Stats(); st.Sent != 3 || st.Retries != 1 || st.Dropped != 0 || len(errs.get()) != 0 {
		t.Errorf("stats %+v, errors %v", st, errs.get())
	}
}

// 503 listing not_forwarded events: only those are sent again.
func TestRetry503OnlyNotForwarded(t *testing.T) {
	stub := newStub(t, failFirst(1, func(w http.ResponseWriter) {
		answer(w, http.StatusServiceUnavailable, map[string]any{"accepted": 2, "rejected": 0, "errors": []any{
			map[string]any{"index": 2, "code": "not_forwarded"}, map[string]any{"index": 3, "code": "not_forwarded"}}})
	}))
	c, _ := newClient(t, stub.URL, nil)
	trackN(c, 4)
	flush(t, c)
	reqs := stub.all()
	if len(reqs) != 2 || fmt.Sprint(seqs(reqs[1].events)) != "[2 3]" {
		t.Fatalf("requests %d, resent %v; want only [2 3]", len(reqs), seqs(reqs[len(reqs)-1].events))
	}
	if st := c.Stats(); st.Sent != 4 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// 503 overloaded (nothing accepted): the whole batch again.
func TestRetry503Overloaded(t *testing.T) {
	stub := newStub(t, failFirst(2, func(w http.ResponseWriter) {
		answer(w, http.StatusServiceUnavailable, refusal("overloaded"))
	}))
	c, _ := newClient(t, stub.URL, nil)
	trackN(c, 5)
	flush(t, c)
	if got := seqs(stub.events()); len(got) != 15 || fmt.Sprint(got[10:]) != "[0 1 2 3 4]" {
		t.Errorf("sent %v", got)
	}
	if st := c.Stats(); st.Sent != 5 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
}

// 413: the batch is split until it fits; nothing is lost or duplicated.
func TestSplitOn413(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		if len(req.events) > 3 {
			answer(w, http.StatusRequestEntityTooLarge, refusal("too_many"))
			return
		}
		accept(w, len(req.events))
	})
	c, _ := newClient(t, stub.URL, nil)
	trackN(c, 10)
	flush(t, c)
	var accepted []int
	for _, r := range stub.all() {
		if len(r.events) <= 3 {
			accepted = append(accepted, seqs(r.events)...)
		}
	}
	if fmt.Sprint(accepted) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Errorf("accepted %v", accepted)
	}
	if st := c.Stats(); st.Sent != 10 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Per-event 4xx: reported with index -> event, field and code; never retried.
func TestPerEventRejectionsAreReportedNotRetried(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		answer(w, http.StatusAccepted, map[string]any{"accepted": 1, "rejected": 1, "errors": []any{
			map[string]any{"index": 1, "field": "attributes.step", "code": "invalid_type", "reason": "must be a string"}}})
	})
	c, errs := newClient(t, stub.URL, nil)
	c.Track(context.Background(), "form.open")
	c.Track(context.Background(), "form.step", slog.Int("step", 2))
	flush(t, c)
	got := errs.get()
	if len(got) != 1 || got[0].Event != "form.step" || got[0].Index != 1 || got[0].Field != "attributes.step" || got[0].Code != "invalid_type" || got[0].Count != 1 {
		t.Fatalf("reported %+v", got)
	}
	if st := c.Stats(); len(stub.all()) != 1 || st.Sent != 1 || st.Rejected != 1 {
		t.Errorf("requests %d, stats %+v", len(stub.all()), st)
	}
}

// A final 4xx for the request (bad key): reported once for the batch.
func TestUnauthorizedIsFinal(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		answer(w, http.StatusUnauthorized, map[string]any{"errors": []any{map[string]any{"field": "X-API-Key", "code": "unauthorized", "reason": "unknown API key"}}})
	})
	c, errs := newClient(t, stub.URL, nil)
	trackN(c, 3)
	flush(t, c)
	got := errs.get()
	if len(stub.all()) != 1 || len(got) != 1 || got[0].Code != "unauthorized" || got[0].Field != "X-API-Key" || got[0].Count != 3 {
		t.Fatalf("requests %d, reported %+v", len(stub.all()), got)
	}
}

// A connection reset mid-request is retried.
func TestConnectionResetIsRetried(t *testing.T) {
	stub := newStub(t, failFirst(1, func(w http.ResponseWriter) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	c, _ := newClient(t, stub.URL, nil)
	trackN(c, 2)
	flush(t, c)
	if st := c.Stats(); st.Sent != 2 || st.Retries != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A server slower than Timeout: the request is abandoned and retried.
func TestSlowServerTimesOutAndRetries(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stub := newStub(t, failFirst(1, func(http.ResponseWriter) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	c, _ := newClient(t, stub.URL, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
	trackN(c, 1)
	flush(t, c)
	if st := c.Stats(); st.Sent != 1 || st.Retries != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Retries stop at MaxRetries: the events are reported as given up.
func TestGivesUpAfterMaxRetries(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		answer(w, http.StatusServiceUnavailable, refusal("overloaded"))
	})
	c, errs := newClient(t, stub.URL, func(cfg *Config) { cfg.MaxRetries = 3 })
	trackN(c, 2)
	flush(t, c)
	got := errs.get()
	if len(stub.all()) != 4 || len(got) != 1 || got[0].Code != "gave_up" || got[0].Count != 2 || c.Stats().Dropped != 2 {
		t.Fatalf("requests %d, reported %+v, stats %+v", len(stub.all()), got, c.Stats())
	}
}

// An outage longer than MaxRetries tries: while the API cannot be reached
// (connections cut), the request waits instead of giving up, and its
// events arrive once the API is back.
func TestNetworkErrorsDoNotGiveUp(t *testing.T) {
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		if n < 8 { // unreachable for eight tries: cut the connection
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		answer(w, http.StatusAccepted, map[string]any{"accepted": 2})
	})
	c, errs := newClient(t, stub.URL, func(cfg *Config) { cfg.MaxRetries = 2 })
	trackN(c, 2)
	flush(t, c)
	if st := c.Stats(); st.Sent != 2 || st.Dropped != 0 || len(errs.get()) != 0 || st.Retries < 8 {
		t.Fatalf("stats %+v, reported %+v: want both events sent after the outage, nothing given up", st, errs.get())
	}
}

// A full queue never blocks Track: DropOldest keeps the newest events,
// DropNewest the oldest; both count and report the drops.
func TestFullQueueDropsByPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy DropPolicy
		want   string
	}{{DropOldest, "[7 8 9]"}, {DropNewest, "[0 1 2]"}} {
		stub := newStub(t, nil)
		c, errs := newClient(t, stub.URL, func(cfg *Config) {
			cfg.MaxQueueEvents, cfg.Policy = 3, tc.policy
			cfg.BatchEvents = 100
		})
		trackN(c, 10)
		flush(t, c)
		if got := fmt.Sprint(seqs(stub.events())); got != tc.want {
			t.Errorf("policy %d: sent %s, want %s", tc.policy, got, tc.want)
		}
		// Drops are reported in as many calls as the sender found them in.
		st := c.Stats()
		reported := 0
		for _, e := range errs.get() {
			if e.Code != "queue_full" {
				t.Errorf("policy %d: reported %+v", tc.policy, e)
			}
			reported += e.Count
		}
		if st.Dropped != 7 || reported != 7 {
			t.Errorf("policy %d: stats %+v, reported %d drops (%+v)", tc.policy, st, reported, errs.get())
		}
	}
}

// Close under load: concurrent Track calls never block, Close returns within
// its deadline, and every tracked event is either sent or counted dropped.
func TestCloseUnderLoad(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	stub := newStub(t, func(n int, req stubRequest, w http.ResponseWriter) {
		if slow.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		accept(w, len(req.events))
	})
	c, _ := newClient(t, stub.URL, func(cfg *Config) { cfg.BatchEvents = 50 })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var calls atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.Track(context.Background(), "load.event", slog.Int("seq", i))
				calls.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	closeErr := make(chan error, 1)
	go func() { closeErr <- c.Close(ctx) }()
	select {
	case <-closeErr:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after its deadline")
	}
	close(stop)
	wg.Wait()
	// After Close: dropped and counted, at once.
	before := c.Stats().Dropped
	c.Track(context.Background(), "late.event")
	st := c.Stats()
	if st.Dropped != before+1 {
		t.Errorf("Track after Close: dropped %d -> %d", before, st.Dropped)
	}
	if got := uint64(calls.Load()) + 1; st.Sent+st.Dropped != got {
		t.Errorf("%d Track calls, %d sent + %d dropped: events unaccounted for (%+v)", got, st.Sent, st.Dropped, st)
	}
	if err := c.Flush(context.Background()); err == nil {
		t.Error("Flush after Close succeeded")
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Endpoint"},
		{Config{Endpoint: "events.example.com"}, "Endpoint"},
		{Config{Endpoint: "http://x", Service: "a b"}, "Service"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestInvalidEventNamesAreReported(t *testing.T) {
	stub := newStub(t, nil)
	c, errs := newClient(t, stub.URL, nil)
	c.Track(context.Background(), "form submit")
	c.Track(context.Background(), "ok.event")
	flush(t, c)
	got := errs.get()
	if len(got) != 1 || got[0].Code != "invalid_event" || got[0].Field != "event" || len(stub.events()) != 1 {
		t.Errorf("reported %+v, sent %v", got, stub.events())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"Wed, 02 Dec 2026 09:00:07 GMT": 7 * time.Second,
		"Wed, 02 Dec 2026 08:59:00 GMT": 0,
		"3600":                          5 * time.Minute,
		"soon":                          0,
		"":                              0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}
