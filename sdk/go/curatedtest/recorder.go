// Package curatedtest records in memory what a curated.Client sends, for an
// application's own tests: the exact request bodies the event API would
// get, decoded, with no server and no network.
//
//	c, rec := curatedtest.New(t, curated.Config{Service: "collabmaker"})
//	app := NewApp(c)
//	app.Submit(ctx, form)
//	for _, e := range rec.Events() { ... } // Events flushes the client first
package curatedtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	curated "github.com/alloy-curated/alloy-curated/sdk/go"
)

// Event is one event as the API received it.
type Event struct {
	Name        string         `json:"event"`
	Level       string         `json:"level"` // "info" when the event left it out
	Message     string         `json:"message"`
	Timestamp   int64          `json:"timestamp"` // Unix milliseconds
	Attributes  map[string]any `json:"attributes"`
	SessionID   string         `json:"session_id"`
	UserID      string         `json:"user_id"`
	AnonymousID string         `json:"anonymous_id"`
	TraceID     string         `json:"trace_id"`
	SpanID      string         `json:"span_id"`
	// Context is the request envelope's context (service, shared attributes).
	Context map[string]any `json:"-"`
	// Raw is the event's JSON exactly as sent.
	Raw json.RawMessage `json:"-"`
}

// Recorder is an http.RoundTripper that answers every request as the API
// does when it accepts everything (202), and keeps the events.
type Recorder struct {
	client *curated.Client
	mu     sync.Mutex
	events []Event
}

// New returns a client that sends to a Recorder, closed when the test ends.
// cfg's Endpoint and HTTPClient are set; its other fields are kept.
func New(t testing.TB, cfg curated.Config) (*curated.Client, *Recorder) {
	t.Helper()
	r := &Recorder{}
	cfg.Endpoint = "http://curatedtest.invalid"
	cfg.HTTPClient = &http.Client{Transport: r}
	c, err := curated.New(cfg)
	if err != nil {
		t.Fatalf("curatedtest: %v", err)
	}
	r.client = c
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, r
}

// Events flushes the client and returns every event received so far, in
// order.
func (r *Recorder) Events() []Event {
	if r.client != nil {
		_ = r.client.Flush(context.Background())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Named returns the events named name (after a flush).
func (r *Recorder) Named(name string) []Event {
	var out []Event
	for _, e := range r.Events() {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Reset forgets the events received so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

// RoundTrip decodes one request of the event API's envelope and answers 202.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("curatedtest: gzip body: %w", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("curatedtest: gzip body: %w", err)
		}
	}
	var env struct {
		Context map[string]any    `json:"context"`
		Events  []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("curatedtest: the body is not the API's envelope: %w", err)
	}
	r.mu.Lock()
	for _, raw := range env.Events {
		e := Event{Level: "info", Context: env.Context, Raw: raw}
		if err := json.Unmarshal(raw, &e); err != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("curatedtest: event %s: %w", raw, err)
		}
		r.events = append(r.events, e)
	}
	r.mu.Unlock()
	answer := fmt.Sprintf(`{"accepted":%d,"rejected":0,"errors":[]}`, len(env.Events))
	return &http.Response{
		StatusCode: http.StatusAccepted,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewBufferString(answer)),
		Request:    req,
	}, nil
}
