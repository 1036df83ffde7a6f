package event

import (
	"strings"
	"testing"
)

// benchEvent is the ~1 KB Collabmaker-like event of internal/rules'
// benchmarks.
const benchEvent = `{"event":"shopify.sync","service":"collabmaker","level":"error","timestamp":"2026-11-25T09:30:00.123Z",
"message":"Product sync to Shopify failed after 3 retries; the partner application stays stored and the worker queue retries it later today. The partner sees the submitted state; the dashboard shows the sync as pending until the retry succeeds or an operator resolves it by hand.",
"attributes":{"partner_id":"p-1029384","country":"KR","step":4,"http_status":502,"retry":true,"latency_ms":812.5,
"shop_domain":"collab-partner-store.myshopify.com","product_count":12,"error_code":"THROTTLED",
"detail":{"request_id":"f3b2c1d0-9a8b-4c7d-8e6f-5a4b3c2d1e0f","endpoint":"/admin/api/2024-10/products.json","attempt":3,
"note":"Shopify answered 429 Too Many Requests for the product create call; the bucket refills in a few seconds."}},
"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","session_id":"sess-8c1d2e3f4a5b6c7d","user_id":"partner-1029384"}`

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
