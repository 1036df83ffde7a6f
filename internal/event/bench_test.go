package event

import (
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
