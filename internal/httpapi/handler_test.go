package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/testutil"
)

// recorder is a Forwarder that keeps what it is given. With capacity >= 0
// it takes at most that many entries and then blocks until ctx ends, like a
// saturated downstream.
type recorder struct {
	mu       sync.Mutex
	entries  []entry.Entry
	capacity int
}

func (r *recorder) Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range entries {
		if r.capacity >= 0 && len(r.entries) >= r.capacity {
			select {
			case <-time.After(wait):
				return i, context.DeadlineExceeded
			case <-ctx.Done():
				return i, ctx.Err()
			}
		}
		r.entries = append(r.entries, e)
	}
	return len(entries), nil
}

func (r *recorder) got() []entry.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]entry.Entry(nil), r.entries...)
}

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		MaxRequestBytes: 1024,
		Limits:          event.Limits{MaxEventsPerRequest: 3, MaxEventBytes: 256, MaxAttributes: 4},
		Builder: entry.MustBuilder(entry.Config{
			StaticLabels: model.LabelSet{"app": "test"}, MaxPast: time.Hour, MaxFuture: time.Minute,
		}),
		ForwardTimeout: 50 * time.Millisecond,
	}
}

type fixture struct {
	h   *Handler
	fwd *recorder
	reg *prometheus.Registry
	srv *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, testConfig())
}

func newFixtureWith(t *testing.T, cfg Config) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	fwd := &recorder{capacity: -1}
	h := New(cfg, fwd, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.now = func() time.Time { return now }
	mux := http.NewServeMux()
	for _, r := range h.Routes() {
		mux.Handle(r.Path, r.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{h: h, fwd: fwd, reg: reg, srv: srv}
}

type reply struct {
	status int
	header http.Header
	body   Response
	raw    string
}

func (f *fixture) do(t *testing.T, method, path string, header map[string]string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: r, raw: string(raw)}
}

func (f *fixture) post(t *testing.T, contentType, body string) reply {
	return f.do(t, http.MethodPost, PathEvents, map[string]string{"Content-Type": contentType}, []byte(body))
}

func TestAcceptedBodies(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		wantEvents  []string
	}{
		{"single", "application/json", "", []byte(`{"event":"a"}`), []string{"a"}},
		{"array", "application/json; charset=utf-8", "", []byte(`[{"event":"a"},{"event":"b"}]`), []string{"a", "b"}},
		{"envelope", "application/json", "", []byte(`{"context":{"service":"s"},"events":[{"event":"a"}]}`), []string{"a"}},
		{"ndjson", "application/x-ndjson", "", []byte("{\"event\":\"a\"}\n{\"event\":\"b\"}\n"), []string{"a", "b"}},
		{"sendBeacon text/plain", "text/plain;charset=UTF-8", "", []byte(`{"event":"a"}`), []string{"a"}},
		{"gzip", "application/json", "gzip", testutil.Gzip(t, `[{"event":"a"},{"event":"b"},{"event":"c"}]`), []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			h := map[string]string{"Content-Type": tt.contentType}
			if tt.encoding != "" {
				h["Content-Encoding"] = tt.encoding
			}
			r := f.do(t, http.MethodPost, PathEvents, h, tt.body)
			if r.status != http.StatusAccepted || r.body.Accepted != len(tt.wantEvents) || r.body.Rejected != 0 || len(r.body.Errors) != 0 {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			if !strings.Contains(r.raw, `"errors":[]`) {
				t.Errorf("errors must be an empty array, got %s", r.raw)
			}
			got := f.fwd.got()
			if len(got) != len(tt.wantEvents) {
				t.Fatalf("forwarded %d entries, want %d", len(got), len(tt.wantEvents))
			}
			for i, name := range tt.wantEvents {
				if want := `{"event":"` + name + `"}`; got[i].Entry.Line != want {
					t.Errorf("entry %d line = %s, want %s", i, got[i].Entry.Line, want)
				}
			}
		})
	}
}

func TestPartialRejection(t *testing.T) {
	f := newFixture(t)
	r := f.post(t, "application/json", `[{"event":"ok"},{"event":"bad name"},{"event":"ok2","attributes":{"x":[]},"level":"loud"}]`)
	if r.status != http.StatusAccepted || r.body.Accepted != 1 || r.body.Rejected != 2 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	want := []struct {
		index int
		field string
	}{{1, "event"}, {2, "level"}}
	if len(r.body.Errors) != len(want) {
		t.Fatalf("errors = %s", r.raw)
	}
	for i, w := range want {
		e := r.body.Errors[i]
		if e.Index == nil || *e.Index != w.index || e.Field != w.field || e.Reason == "" {
			t.Errorf("error %d = %+v, want index %d field %q", i, e, w.index, w.field)
		}
	}
	if n := len(f.fwd.got()); n != 1 {
		t.Errorf("forwarded %d, want 1", n)
	}
	if v := promtest.ToFloat64(f.h.metrics.rejected.WithLabelValues("invalid_value")); v != 2 {
		t.Errorf("events_rejected_total{reason=invalid_value} = %v, want 2", v)
	}
	if v := promtest.ToFloat64(f.h.metrics.accepted); v != 1 {
		t.Errorf("events_accepted_total = %v, want 1", v)
	}
}

func TestRejectedRequests(t *testing.T) {
	bomb := testutil.Gzip(t, `[{"event":"a","message":"`+strings.Repeat("x", 2000)+`"}]`) // small on the wire, 2 KB inflated
	tests := []struct {
		name       string
		method     string
		header     map[string]string
		body       []byte
		wantStatus int
		wantField  string
		wantIndex  bool
		wantText   string
	}{
		{"all events rejected", "POST", map[string]string{"Content-Type": "application/json"},
			[]byte(`[{"event":"bad name"}]`), 400, "event", true, "letters"},
		{"malformed JSON", "POST", map[string]string{"Content-Type": "application/json"},
			[]byte(`{"event":`), 400, "", false, "invalid JSON"},
		{"empty body", "POST", map[string]string{"Content-Type": "application/json"},
			nil, 400, "", false, "empty"},
		{"envelope field", "POST", map[string]string{"Content-Type": "application/json"},
			[]byte(`{"context":{"level":7},"events":[{"event":"a"}]}`), 400, "context.level", false, "string"},
		{"body over max_request_bytes", "POST", map[string]string{"Content-Type": "application/json"},
			[]byte(`[{"event":"a","message":"` + strings.Repeat("x", 1100) + `"}]`), 413, "", false, "max_request_bytes"},
		{"gzip inflating past max_request_bytes", "POST", map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
			bomb, 413, "", false, "after decompression"},
		{"too many events", "POST", map[string]string{"Content-Type": "application/json"},
			[]byte(`[{"event":"a"},{"event":"a"},{"event":"a"},{"event":"a"}]`), 413, "", false, "max_events_per_request"},
		{"form content type", "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			[]byte(`event=a`), 415, "Content-Type", false, "unsupported Content-Type"},
		{"no content type", "POST", nil, []byte(`{"event":"a"}`), 415, "Content-Type", false, "required"},
		{"brotli", "POST", map[string]string{"Content-Type": "application/json", "Content-Encoding": "br"},
			[]byte(`{"event":"a"}`), 415, "Content-Encoding", false, "br"},
		{"invalid gzip", "POST", map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
			[]byte(`{"event":"a"}`), 400, "Content-Encoding", false, "gzip"},
		{"GET", "GET", nil, nil, 405, "", false, "POST"},
		{"PUT", "PUT", map[string]string{"Content-Type": "application/json"}, []byte(`{"event":"a"}`), 405, "", false, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.do(t, tt.method, PathEvents, tt.header, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.raw)
			}
			if r.body.Accepted != 0 || len(r.body.Errors) == 0 {
				t.Fatalf("body = %s", r.raw)
			}
			e := r.body.Errors[0]
			if e.Field != tt.wantField || (e.Index != nil) != tt.wantIndex || !strings.Contains(e.Reason, tt.wantText) || e.Code == "" {
				t.Errorf("error = %+v; want field %q, index present %v, reason containing %q", e, tt.wantField, tt.wantIndex, tt.wantText)
			}
			if tt.wantStatus == 405 && r.header.Get("Allow") != "POST, OPTIONS" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
			if n := len(f.fwd.got()); n != 0 {
				t.Errorf("forwarded %d entries of a rejected request", n)
			}
			if v := promtest.ToFloat64(f.h.metrics.requests.WithLabelValues("events", strconv.Itoa(tt.wantStatus))); v != 1 {
				t.Errorf("requests_total{status_code=%d} = %v, want 1", tt.wantStatus, v)
			}
		})
	}
}

// unreadBody fails the test when anything reads it.
type unreadBody struct{ t *testing.T }

func (b unreadBody) Read([]byte) (int, error) {
	b.t.Error("the body was read")
	return 0, io.EOF
}

func TestContentLengthOverLimitIsRejectedBeforeReading(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodPost, PathEvents, unreadBody{t})
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 1 << 20
	rec := httptest.NewRecorder()
	f.h.Events().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestDownstreamTimeoutAnswers503WithForwardedCount(t *testing.T) {
	f := newFixture(t)
	f.fwd.capacity = 2
	r := f.post(t, "application/json", `[{"event":"a"},{"event":"bad name"},{"event":"b"}]`)
	if r.status != http.StatusAccepted || r.body.Accepted != 2 {
		t.Fatalf("first request: %d %s", r.status, r.raw)
	}
	// The downstream is now full: the next valid events wait forward_timeout.
	r = f.post(t, "application/json", `[{"event":"c"},{"event":"bad name"},{"event":"d"}]`)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503: %s", r.status, r.raw)
	}
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}
	if r.body.Accepted != 0 || r.body.Rejected != 1 {
		t.Errorf("body = %s", r.raw)
	}
	var notForwarded []int
	for _, e := range r.body.Errors {
		if e.Code == event.CodeNotForwarded {
			notForwarded = append(notForwarded, *e.Index)
		}
	}
	if len(notForwarded) != 2 || notForwarded[0] != 0 || notForwarded[1] != 2 {
		t.Errorf("not_forwarded indexes = %v, want [0 2]: %s", notForwarded, r.raw)
	}
	if v := promtest.ToFloat64(f.h.metrics.notForwarded); v != 2 {
		t.Errorf("events_not_forwarded_total = %v, want 2", v)
	}
}

func TestPartiallyForwardedRequestReportsCount(t *testing.T) {
	f := newFixture(t)
	f.fwd.capacity = 1
	r := f.post(t, "application/json", `[{"event":"a"},{"event":"b"}]`)
	if r.status != http.StatusServiceUnavailable || r.body.Accepted != 1 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if len(r.body.Errors) != 1 || *r.body.Errors[0].Index != 1 || r.body.Errors[0].Code != event.CodeNotForwarded {
		t.Errorf("errors = %s", r.raw)
	}
}

func TestValidateIsADryRun(t *testing.T) {
	f := newFixture(t)
	body := `[{"event":"form.step","service":"cm","level":"warning","timestamp":"2026-11-25T09:50:00Z",
		"attributes":{"step":2},"session_id":"s1"},{"event":"bad name"},{"event":"old","timestamp":1000}]`
	r := f.do(t, http.MethodPost, PathValidate, map[string]string{"Content-Type": "application/json"}, []byte(body))
	if r.status != http.StatusOK || r.body.Accepted != 2 || r.body.Rejected != 1 || len(r.body.Results) != 3 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if n := len(f.fwd.got()); n != 0 {
		t.Fatalf("validate forwarded %d entries", n)
	}
	got, _ := json.Marshal(r.body.Results[0].Entry)
	want := `{"labels":{"app":"test","level":"warn","service":"cm"},"line":"{\"event\":\"form.step\",\"attributes\":{\"step\":2}}",` +
		`"structured_metadata":{"session_id":"s1"},"timestamp":"2026-11-25T09:50:00Z","timestamp_source":"event"}`
	if string(got) != want {
		t.Errorf("entry =\n%s\nwant\n%s", got, want)
	}
	if r.body.Results[1].Accepted || r.body.Results[1].Entry != nil || r.body.Results[1].Errors[0].Field != "event" {
		t.Errorf("result 1 = %+v", r.body.Results[1])
	}
	if e := r.body.Results[2].Entry; e == nil || e.TimestampSource != "out_of_window" || e.Timestamp != "2026-11-25T10:00:00Z" ||
		e.Line != `{"event":"old","client_timestamp":"1970-01-01T00:00:01Z"}` {
		t.Errorf("result 2 entry = %+v", e)
	}
	if v := promtest.ToFloat64(f.h.metrics.accepted); v != 0 {
		t.Errorf("validate counted %v accepted events", v)
	}

	r = f.do(t, http.MethodPost, PathValidate, map[string]string{"Content-Type": "application/json"}, []byte(`{"event":"bad name"}`))
	if r.status != http.StatusBadRequest || len(r.body.Results) != 1 {
		t.Errorf("all-invalid validate: %d %s", r.status, r.raw)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.srv.URL + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", resp.StatusCode, body)
	}
	r := f.do(t, http.MethodPost, PathHealth, nil, nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST healthz = %d", r.status)
	}
}

func TestSetConfigAppliesToNextRequest(t *testing.T) {
	f := newFixture(t)
	body := `[{"event":"a"},{"event":"b"},{"event":"c"},{"event":"d"}]`
	if r := f.post(t, "application/json", body); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("before: %d", r.status)
	}
	cfg := testConfig()
	cfg.Limits.MaxEventsPerRequest = 10
	f.h.SetConfig(cfg)
	if r := f.post(t, "application/json", body); r.status != http.StatusAccepted || r.body.Accepted != 4 {
		t.Fatalf("after: %d %s", r.status, r.raw)
	}
}

func TestMetricsCountBytesAndTimestamps(t *testing.T) {
	f := newFixture(t)
	payload := `[{"event":"a","timestamp":"2026-11-25T09:59:00Z"},{"event":"b"},{"event":"c","timestamp":1000}]`
	f.do(t, http.MethodPost, PathEvents, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, testutil.Gzip(t, payload))
	if v := promtest.ToFloat64(f.h.metrics.decodedBytes); v != float64(len(payload)) {
		t.Errorf("decoded_bytes_total = %v, want %d", v, len(payload))
	}
	if v := promtest.ToFloat64(f.h.metrics.receivedBytes); v != float64(len(testutil.Gzip(t, payload))) {
		t.Errorf("received_bytes_total = %v, want %d", v, len(testutil.Gzip(t, payload)))
	}
	for src, want := range map[string]float64{"event": 1, "missing": 1, "out_of_window": 1} {
		if v := promtest.ToFloat64(f.h.metrics.timestamps.WithLabelValues(src)); v != want {
			t.Errorf("entry_timestamps_total{source=%s} = %v, want %v", src, v, want)
		}
	}
	if n := promtest.CollectAndCount(f.h.metrics.forwardWait); n != 1 {
		t.Errorf("forward_wait_seconds series = %d", n)
	}
}

// TestMetricsReuseARegistry: metrics created twice on one registry (a
// component rebuilt) share the registered collectors instead of failing.
func TestMetricsReuseARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics on the same registry: %v", err)
	}
	b.accepted.Add(3)
	if got := promtest.ToFloat64(a.accepted); got != 3 {
		t.Errorf("the two share no counter: %v", got)
	}
}

// TestWriteResponseMatchesEncoding: the hand-written all-accepted answer is
// byte for byte what encoding/json writes, and every other answer is
// encoded.
func TestWriteResponseMatchesEncoding(t *testing.T) {
	idx := 0
	for _, resp := range []Response{
		{Accepted: 1, Errors: []ErrorItem{}},
		{Accepted: 500, Errors: []ErrorItem{}},
		{Accepted: 0, Errors: []ErrorItem{}},
		{Accepted: 3, Rejected: 1, Errors: []ErrorItem{{Index: &idx, Field: "event", Code: event.CodeRequired, Reason: "required"}}},
		{Accepted: 2, Dropped: 1, Errors: []ErrorItem{}},
	} {
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeResponse(got, http.StatusAccepted, resp)
		writeJSON(want, http.StatusAccepted, resp)
		if got.Body.String() != want.Body.String() || got.Code != want.Code ||
			!reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("%+v: wrote %d %v %q, encoding/json %d %v %q", resp,
				got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}

// perEventCodes are the codes only ever given to one event of a request,
// never as a whole request's answer.
var perEventCodes = []event.Code{event.CodeRequired, event.CodeUnknownField, event.CodeInvalidType, event.CodeInvalidValue,
	event.CodeTooLong, event.CodeTooDeep, event.CodeNotAllowed, event.CodeForbiddenEvent}

// TestEveryCodeIsClassified: each code either has its status and outcome
// in meanings (refuse panics without one) or is given per event only. A
// new code must be placed in one of the two.
func TestEveryCodeIsClassified(t *testing.T) {
	for _, c := range event.Codes() {
		_, whole := meanings[c]
		if whole == slices.Contains(perEventCodes, c) {
			t.Errorf("code %q: in meanings %v, per event only %v; it must be exactly one", c, whole, !whole)
		}
		if whole {
			if e := refuse(c, "", "r"); e.status < 400 || e.outcome == "" || e.response().Errors[0].Code != c {
				t.Errorf("refuse(%q) = %+v", c, e)
			}
		}
	}
}
