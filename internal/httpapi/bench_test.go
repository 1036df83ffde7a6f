package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/loadgen"
	"github.com/grafana/alloy/curated/internal/rules"
)

// BenchmarkRequest is the handler's cost per request, without the network:
// the component's defaults (default redaction, limits, labels), a forwarder
// that keeps nothing, Collabmaker-like events at one and at fifty a request.
// allocs/op is the allocations per request that docs/performance.md tracks.
func BenchmarkRequest(b *testing.B) {
	p, err := rules.Compile(rules.Config{Redact: rules.DefaultRedact()})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{
		MaxRequestBytes: 1 << 20,
		Limits:          event.Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64},
		Rules:           p,
		Builder:         entry.MustBuilder(entry.Config{MaxPast: time.Hour, MaxFuture: 5 * time.Second}),
		ForwardTimeout:  5 * time.Second,
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	h := New(cfg, discard{}, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	events := h.Events()
	for _, batch := range []int{1, 50} {
		bodies, err := loadgen.Bodies(loadgen.Curated, loadgen.Batch, batch, 64, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.Run("events="+strconv.Itoa(batch), func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				body := bodies[n%len(bodies)]
				n++
				req := httptest.NewRequest(http.MethodPost, PathEvents, bytes.NewReader(body.Data))
				req.Header.Set("Content-Type", body.ContentType)
				w := httptest.NewRecorder()
				events.ServeHTTP(w, req)
				if w.Code != http.StatusAccepted {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}

type discard struct{}

func (discard) Forward(_ context.Context, entries []entry.Entry, _ time.Duration) (int, error) {
	return len(entries), nil
}
