// Package testutil holds small helpers shared by the project's tests.
package testutil

import (
	"bytes"
	"compress/gzip"
	"net"
	"testing"
)

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Gzip compresses s.
func Gzip(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// CollabmakerEvent is a ~1 KB Collabmaker-like event with 10 attributes,
// one of them a nested object, and no personal data: the event of the
// decode and refine benchmarks.
const CollabmakerEvent = `{"event":"shopify.sync","service":"collabmaker","level":"error","timestamp":"2026-11-25T09:30:00.123Z",
"message":"Product sync to Shopify failed after 3 retries; the partner application stays stored and the worker queue retries it later today. The partner sees the submitted state; the dashboard shows the sync as pending until the retry succeeds or an operator resolves it by hand.",
"attributes":{"partner_id":"p-1029384","country":"KR","step":4,"http_status":502,"retry":true,"latency_ms":812.5,
"shop_domain":"collab-partner-store.myshopify.com","product_count":12,"error_code":"THROTTLED",
"detail":{"request_id":"f3b2c1d0-9a8b-4c7d-8e6f-5a4b3c2d1e0f","endpoint":"/admin/api/2024-10/products.json","attempt":3,
"note":"Shopify answered 429 Too Many Requests for the product create call; the bucket refills in a few seconds."}},
"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","session_id":"sess-8c1d2e3f4a5b6c7d","user_id":"partner-1029384"}`
