package curated

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardAPI answers 202 after reading (and gunzipping) the body, as a
// fast event API would.
func discardAPI(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			_, _ = io.Copy(io.Discard, zr)
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"accepted":0,"rejected":0,"errors":[]}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient(b *testing.B) *Client {
	c, err := New(Config{Endpoint: discardAPI(b).URL, Service: "collabmaker",
		MaxQueueEvents: 1 << 20, MaxQueueBytes: 512 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// idleClient never sends during the benchmark, so only the caller's
// goroutine is measured; drainEvery empties its queue outside the timer.
func idleClient(b *testing.B) *Client {
	c, err := New(Config{Endpoint: discardAPI(b).URL, Service: "collabmaker",
		MaxQueueEvents: 1 << 20, MaxQueueBytes: 1 << 30, BatchEvents: 1 << 30, BatchBytes: 1 << 30, FlushInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func drainEvery(b *testing.B, c *Client, i int) {
	if i%(1<<16) == 0 && i > 0 {
		b.StopTimer()
		c.q.drain()
		b.StartTimer()
	}
}

// BenchmarkTrack is the caller's cost of one event with three attributes
// when the queue has room (goal: <= 500 ns, <= 2 allocations).
func BenchmarkTrack(b *testing.B) {
	c := idleClient(b)
	ctx := WithSession(context.Background(), "sess-0123456789abcdef")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drainEvery(b, c, i)
		c.Track(ctx, "form.step", slog.Int("step", 3), slog.String("country", "KR"), slog.Float64("latency_ms", 81.5))
	}
}

// BenchmarkSlogHandler is the same event logged through slog with typed
// attributes (LogAttrs; key-value pairs add slog's own boxing).
func BenchmarkSlogHandler(b *testing.B) {
	c := idleClient(b)
	log := slog.New(c.Handler(nil))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drainEvery(b, c, i)
		log.LogAttrs(ctx, slog.LevelInfo, "step done", slog.String("event", "form.step"),
			slog.Int("step", 3), slog.String("country", "KR"), slog.Float64("latency_ms", 81.5))
	}
}

// BenchmarkExport is the whole pipeline: events tracked, queued, batched,
// gzipped and posted to a local server that gunzips them, all in this
// process; reports events/s (goal: >= 50,000 on one core: run with -cpu 1).
func BenchmarkExport(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c.Track(ctx, "form.step", slog.Int("step", i%5), slog.String("country", "KR"), slog.Float64("latency_ms", 81.5))
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if st := c.Stats(); st.Dropped != 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
}

// BenchmarkHandlerHandle is the handler alone, on a record slog has built
// (slog.Logger adds its own cost before it: the caller's PC, the record).
func BenchmarkHandlerHandle(b *testing.B) {
	c := idleClient(b)
	h := c.Handler(nil)
	ctx := context.Background()
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "step done", 0)
	r.AddAttrs(slog.String("event", "form.step"), slog.Int("step", 3), slog.String("country", "KR"), slog.Float64("latency_ms", 81.5))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drainEvery(b, c, i)
		_ = h.Handle(ctx, r)
	}
}

// BenchmarkHandlerWithGroups is a logger with With attributes and a group,
// as services build per request (goal: <= 2 allocations per record): the
// record's attributes merge with the With ones while encoding.
func BenchmarkHandlerWithGroups(b *testing.B) {
	c := idleClient(b)
	log := slog.New(c.Handler(nil)).With(slog.String("event", "form.step"), slog.Group("req", slog.String("id", "r-1"))).
		WithGroup("req").With(slog.String("route", "/apply"))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drainEvery(b, c, i)
		log.LogAttrs(ctx, slog.LevelInfo, "step done", slog.Int("step", 3), slog.String("country", "KR"))
	}
}
