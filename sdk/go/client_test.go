package curated

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// apiStub is an httptest server speaking the event API's envelope: it
// records every request and answers with what respond returns.
type apiStub struct {
	*httptest.Server
	mu       sync.Mutex
	requests []stubRequest
	respond  func(n int, req stubRequest, w http.ResponseWriter) // n: 0-based request number
}

type stubRequest struct {
	header  http.Header
	context map[string]any
	events  []map[string]any
	raw     []json.RawMessage // the events as sent
	at      time.Time
}

func newStub(t testing.TB, respond func(n int, req stubRequest, w http.ResponseWriter)) *apiStub {
	s := &apiStub{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		var env struct {
			Context map[string]any    `json:"context"`
			Events  []json.RawMessage `json:"events"`
		}
		if err := json.NewDecoder(body).Decode(&env); err != nil {
			t.Errorf("body is not an envelope: %v", err)
			http.Error(w, err.Error(), 400)
			return
		}
		req := stubRequest{header: r.Header.Clone(), context: env.Context, raw: env.Events, at: time.Now()}
		for _, raw := range env.Events {
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Errorf("event is not an object: %s", raw)
			}
			req.events = append(req.events, e)
		}
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		if s.respond != nil {
			s.respond(n, req, w)
			return
		}
		accept(w, len(req.events))
	}))
	t.Cleanup(s.Close)
	return s
}

func accept(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"accepted": n, "rejected": 0, "errors": []any{}})
}

func (s *apiStub) all() []stubRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stubRequest(nil), s.requests...)
}

// events returns every event received, in order.
func (s *apiStub) events() []map[string]any {
	var out []map[string]any
	for _, r := range s.all() {
		out = append(out, r.events...)
	}
	return out
}

// errorLog collects what OnError reports.
type errorLog struct {
	mu   sync.Mutex
	errs []Error
}

func (l *errorLog) add(e Error) { l.mu.Lock(); l.errs = append(l.errs, e); l.mu.Unlock() }
func (l *errorLog) get() []Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Error(nil), l.errs...)
}

func newClient(t testing.TB, url string, mod func(*Config)) (*Client, *errorLog) {
	t.Helper()
	log := &errorLog{}
	cfg := Config{Endpoint: url, Key: "k-1", Service: "collabmaker", OnError: log.add,
		// Batches leave on Flush (or when full), never on a timer: what a
		// request holds does not depend on the machine's speed.
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, FlushInterval: time.Hour}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, log
}

func flush(t testing.TB, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTrackSendsTheAPIsEnvelope(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, func(cfg *Config) { cfg.Attributes = []slog.Attr{slog.String("app_version", "2.1.0")} })
	ctx := WithTrace(WithAnonymous(WithSession(context.Background(), "s-1"), "a-1"), "t-1", "sp-1")
	before := time.Now().UnixMilli()
	c.Track(ctx, "form.submit", slog.Int("step", 3), slog.Group("place", slog.String("country", "KR")), slog.Duration("took", 1500*time.Microsecond))
	c.Log(ctx, LevelError, "shopify.sync", "sync failed:\n502", slog.Any("err", errors.New("bad gateway")))
	flush(t, c)
	reqs := stub.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 batch", len(reqs))
	}
	r := reqs[0]
	if r.header.Get("X-API-Key") != "k-1" || r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.header)
	}
	if r.context["service"] != "collabmaker" || r.context["attributes"].(map[string]any)["app_version"] != "2.1.0" {
		t.Errorf("context %v", r.context)
	}
	if len(r.events) != 2 {
		t.Fatalf("events %v", r.events)
	}
	e := r.events[0]
	ts, _ := e["timestamp"].(float64)
	if e["event"] != "form.submit" || e["level"] != nil || ts < float64(before) || e["session_id"] != "s-1" ||
		e["anonymous_id"] != "a-1" || e["trace_id"] != "t-1" || e["span_id"] != "sp-1" {
		t.Errorf("event %v", e)
	}
	attrs := e["attributes"].(map[string]any)
	if attrs["step"] != 3.0 || attrs["place"].(map[string]any)["country"] != "KR" || attrs["took"] != 1.5 {
		t.Errorf("attributes %v", attrs)
	}
	e = r.events[1]
	if e["level"] != "error" || e["message"] != "sync failed:\n502" || e["attributes"].(map[string]any)["err"] != "bad gateway" {
		t.Errorf("event %v", e)
	}
	if st := c.Stats(); st.Tracked != 2 || st.Sent != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}
