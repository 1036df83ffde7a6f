package refine

import (
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

// benchEvent is a ~0.7 KB Collabmaker-like event with 10 attributes.
const benchEvent = `{"event":"shopify.sync","service":"collabmaker","level":"error","timestamp":"2026-11-25T09:30:00.123Z",
"message":"Product sync to Shopify failed after retries; the partner application is stored and will be retried by the worker queue.",
"attributes":{"partner_id":"p-1029384","country":"KR","step":4,"http_status":502,"retry":true,"latency_ms":812.5,
"shop_domain":"collab-partner-store.myshopify.com","product_count":12,"error_code":"THROTTLED",
"detail":{"request_id":"f3b2c1d0-9a8b-4c7d-8e6f-5a4b3c2d1e0f","endpoint":"/admin/api/2024-10/products.json","attempt":3}},
"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","session_id":"sess-8c1d2e3f4a5b6c7d","user_id":"partner-1029384"}`

func BenchmarkDecodeAndBuild(b *testing.B) {
	lim := event.Limits{MaxEventsPerRequest: 500, MaxEventBytes: 32 << 10, MaxAttributes: 64}
	builder := MustBuilder(Config{MaxPast: time.Hour, MaxFuture: 5 * time.Minute})
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

func BenchmarkBuild(b *testing.B) {
	items, err := event.Decode(event.FormatJSON, []byte(benchEvent), event.Limits{})
	if err != nil || !items[0].OK() {
		b.Fatal(err, items)
	}
	builder := MustBuilder(Config{MaxPast: time.Hour, MaxFuture: 5 * time.Minute})
	received := time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = builder.Build(&items[0].Event, received)
	}
}
