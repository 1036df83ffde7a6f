package event

import (
	"runtime"
	"strings"
	"testing"

	"github.com/grafana/alloy/curated/internal/testutil"
)

// benchEvent is the event of internal/rules' benchmarks too.
const benchEvent = testutil.CollabmakerEvent

// BenchmarkDecode compares the reader with the encoding/json decoder it
// replaced, on one event and on a batch of 50.
func BenchmarkDecode(b *testing.B) {
	lim := Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64}
	batch := "[" + strings.Repeat(benchEvent+",", 49) + benchEvent + "]"
	for _, body := range []struct{ name, data string }{{"event", benchEvent}, {"batch50", batch}} {
		for _, dec := range []struct {
			name string
			fn   func(Format, []byte, Limits) ([]Item, error)
		}{{"reader", Decode}, {"encoding_json", refDecode}} {
			b.Run(body.name+"/"+dec.name, func(b *testing.B) {
				data := []byte(body.data)
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					items, err := dec.fn(FormatJSON, data, lim)
					if err != nil || !items[0].OK() {
						b.Fatal(err, items[0].Errors)
					}
				}
			})
		}
	}
}

// BenchmarkWorstShapes decodes the shapes of limits_test.go sized to the
// default limits, reporting the bytes allocated per body byte (alloc/B) and
// what Cost charges per body byte (cost/B).
func BenchmarkWorstShapes(b *testing.B) {
	for _, s := range append(refusedShapes(), acceptedShapes()...) {
		b.Run(strings.ReplaceAll(s.name, " ", "_"), func(b *testing.B) {
			body := []byte(s.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var cost int64
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if batch, err := Scan(s.format, body, defaultLimits); err == nil {
					cost = batch.Cost()
					_ = batch.Items()
				}
			}
			runtime.ReadMemStats(&after)
			perOp := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N)
			b.ReportMetric(perOp/float64(len(body)), "alloc/B")
			b.ReportMetric(float64(cost)/float64(len(body)), "cost/B")
		})
	}
}
