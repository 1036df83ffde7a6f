package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/testutil"
)

// benchEvent is a ~1 KB Collabmaker-like event with 10 attributes and no
// personal data: every attribute passes the default rules untouched.
const benchEvent = testutil.CollabmakerEvent

func benchSetup(b *testing.B, body string) (*Pipeline, *entry.Builder, event.Event) {
	b.Helper()
	p, err := Compile(Config{Redact: DefaultRedact()})
	if err != nil {
		b.Fatal(err)
	}
	builder := entry.MustBuilder(entry.Config{MaxPast: time.Hour, MaxFuture: 5 * time.Minute})
	return p, builder, decodeOne(b, body)
}

// BenchmarkRefine is the refine stage (default rules, then entry building)
// on one event.
func BenchmarkRefine(b *testing.B) {
	p, builder, ev := benchSetup(b, benchEvent)
	received := time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		e := ev // the rules leave a clean event unchanged, so reuse is fair
		if res := p.Apply(&e, false); res.Outcome != Keep {
			b.Fatal(res)
		}
		_ = builder.Build(&e, received)
	}
}

// BenchmarkDefaultRules is the default rules alone, by number of untouched
// attributes: allocations must not grow with it.
func BenchmarkDefaultRules(b *testing.B) {
	for _, n := range []int{10, 40} {
		attrs := make([]string, n)
		for i := range attrs {
			attrs[i] = fmt.Sprintf(`"attr_%02d":"an ordinary value number %d, nothing personal"`, i, i)
		}
		body := `{"event":"form.step","message":"step completed","attributes":{` + strings.Join(attrs, ",") + `}}`
		b.Run(fmt.Sprintf("attributes=%d", n), func(b *testing.B) {
			p, _, ev := benchSetup(b, body)
			b.ReportAllocs()
			for b.Loop() {
				e := ev
				p.Apply(&e, false)
			}
		})
	}
}

// BenchmarkDecodeAndBuild is decoding plus entry building, without rules:
// the decoder's share of the pipeline.
func BenchmarkDecodeAndBuild(b *testing.B) {
	lim := event.Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64}
	builder := entry.MustBuilder(entry.Config{MaxPast: time.Hour, MaxFuture: 5 * time.Minute})
	body := []byte(benchEvent)
	received := time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := event.Decode(event.FormatJSON, body, lim)
		if err != nil || !items[0].OK() {
			b.Fatal(err, items)
		}
		_ = builder.Build(&items[0].Event, received)
	}
}

// BenchmarkBuild is entry building alone.
func BenchmarkBuild(b *testing.B) {
	_, builder, ev := benchSetup(b, benchEvent)
	received := time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = builder.Build(&ev, received)
	}
}
