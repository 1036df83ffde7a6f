package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/grafana/alloy/curated/internal/access"
	"github.com/grafana/alloy/curated/internal/admission"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
)

// fairConfig is accessConfig with small in-flight shares: the browser key
// may hold three requests, one per address; the server key is unlimited.
func fairConfig(t *testing.T) Config {
	t.Helper()
	policy, err := access.NewPolicy([]access.ClientConfig{
		{Name: "shopify_worker", APIKey: serverKey, Tenant: "team-a"},
		{Name: "collabmaker_web", APIKey: webKey, Tenant: "team-b", Browser: true, AllowedOrigins: []string{appOrigin},
			InFlight: admission.Limits{Requests: 3}, AddressInFlight: admission.Limits{Requests: 1}},
	}, []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Access = policy
	cfg.ForwardTimeout = 5 * time.Second
	return cfg
}

// heldGate is a Forwarder that holds every request until released, and
// says when each one is held.
type heldGate struct {
	entered chan string
	release chan struct{}
}

func (g *heldGate) Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error) {
	g.entered <- string(entries[0].Labels["service"])
	select {
	case <-g.release:
		return len(entries), nil
	case <-time.After(wait):
		return 0, context.DeadlineExceeded
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func browserPost(t *testing.T, f *fixture, from, event string) reply {
	t.Helper()
	return f.do(t, http.MethodPost, PathEvents+"?api_key="+webKey, map[string]string{
		"Content-Type": "application/json", "Origin": appOrigin, "X-Forwarded-For": from,
	}, []byte(fmt.Sprintf(`{"event":%q,"service":"web"}`, event)))
}

func TestBrowserKeyTakesOnlyItsShare(t *testing.T) {
	f := newFixtureWith(t, fairConfig(t))
	g := &heldGate{entered: make(chan string, 8), release: make(chan struct{})}
	f.h.fwd = g
	held := make(chan int, 3)
	for _, addr := range []string{"198.51.100.1", "198.51.100.2"} {
		go func() { held <- browserPost(t, f, addr, "form.open").status }()
		<-g.entered
	}

	// The same address again: over the address's share.
	r := browserPost(t, f, "198.51.100.1", "form.open")
	if r.status != http.StatusTooManyRequests || r.body.Errors[0].Code != event.CodeRateLimited ||
		!strings.Contains(r.body.Errors[0].Reason, "max_concurrent_requests_per_address (1)") || r.header.Get("Retry-After") == "" {
		t.Errorf("second request from one address: %d %s", r.status, r.raw)
	}
	// A third address takes the key's last slot; a fourth is over the key's share.
	go func() { held <- browserPost(t, f, "198.51.100.3", "form.open").status }()
	<-g.entered
	r = browserPost(t, f, "198.51.100.4", "form.open")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body.Errors[0].Reason, "this client has reached its max_concurrent_requests (3)") {
		t.Errorf("fourth address: %d %s", r.status, r.raw)
	}
	// The server key is not starved by the browser key.
	srv := make(chan reply, 1)
	go func() {
		srv <- f.do(t, http.MethodPost, PathEvents, map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey},
			[]byte(`{"event":"shopify.sync","service":"worker"}`))
	}()
	if svc := <-g.entered; svc != "worker" {
		t.Fatalf("held %q, want the server key's request", svc)
	}
	close(g.release)
	if r := <-srv; r.status != http.StatusAccepted {
		t.Errorf("server key: %d %s", r.status, r.raw)
	}
	for range 3 {
		if s := <-held; s != http.StatusAccepted {
			t.Errorf("held browser request: %d", s)
		}
	}
	for scope, want := range map[string]float64{"address_concurrency": 1, "client_concurrency": 1} {
		if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues(scope)); v != want {
			t.Errorf("throttled_requests_total{scope=%s} = %v, want %v", scope, v, want)
		}
	}
	if n, b := f.h.admission.InFlight(); n != 0 || b != 0 {
		t.Errorf("after every request: %d requests and %d bytes still in flight", n, b)
	}
}

// rawRequest sends a request's head and then writes the body with send,
// returning the status line and body the server answers with.
func rawRequest(t *testing.T, f *fixture, head string, send func(net.Conn)) (string, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Without the body deadline the server would wait forever: fail instead.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go send(conn)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status, string(body)
}

func TestSlowBodiesAreCut(t *testing.T) {
	cfg := testConfig()
	cfg.BodyTimeout = 10 * time.Second
	cfg.MinBodyRate = 1024
	f := newFixtureWith(t, cfg)
	head := "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n"

	trickle := func(c net.Conn) { // one byte every 100 ms: 10 bytes/s
		for range 900 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	silent := func(net.Conn) {}
	for name, send := range map[string]func(net.Conn){"trickle": trickle, "silent": silent} {
		t.Run(name, func(t *testing.T) {
			status, body := rawRequest(t, f, head, send)
			if !strings.HasPrefix(status, "408") || !strings.Contains(body, `"code":"slow_body"`) ||
				!strings.Contains(body, "min_body_rate (1024 bytes/s") {
				t.Errorf("got %s %s, want 408 slow_body naming min_body_rate", status, body)
			}
		})
	}
	if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues(string(event.CodeSlowBody))); v != 2 {
		t.Errorf("throttled_requests_total{scope=slow_body} = %v, want 2", v)
	}
	if n, b := f.h.admission.InFlight(); n != 0 || b != 0 {
		t.Errorf("cut requests still hold %d requests and %d bytes", n, b)
	}
	// A body that keeps up with the rate passes, and the connection serves
	// the next request (the deadline was cleared).
	r := f.post(t, "application/json", `{"event":"a"}`)
	if r.status != http.StatusAccepted {
		t.Errorf("normal request after slow ones: %d %s", r.status, r.raw)
	}
}

// A request whose decoding alone would take more memory than the API may
// hold is refused before it is decoded, and says why.
func TestCostlyBodyRefusedBeforeDecoding(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 64 << 10
	cfg.Limits.MaxEventBytes = 64 << 10
	cfg.MaxInflightBytes = readChunk + 64<<10
	f := newFixtureWith(t, cfg)
	tiny := strings.TrimSuffix(strings.Repeat("1,", 8000), ",")
	r := f.post(t, "application/json", `{"event":"a","attributes":{"a":[`+tiny+`]}}`)
	if r.status != http.StatusRequestEntityTooLarge || r.body.Errors[0].Code != "too_large" ||
		!strings.Contains(r.body.Errors[0].Reason, "needs more memory than max_inflight_bytes") {
		t.Errorf("got %d %s", r.status, r.raw)
	}
	if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues("inflight_bytes")); v != 1 {
		t.Errorf("throttled_requests_total{scope=inflight_bytes} = %v", v)
	}
	if len(f.fwd.got()) != 0 {
		t.Error("the refused event was forwarded")
	}
	// The same values in a normal amount pass.
	if r := f.post(t, "application/json", `{"event":"a","attributes":{"a":[1,2,3]}}`); r.status != http.StatusAccepted {
		t.Errorf("small request: %d %s", r.status, r.raw)
	}
}

func TestOpenAPITenant(t *testing.T) {
	cfg := testConfig()
	cfg.Tenant = "team-x"
	f := newFixtureWith(t, cfg)
	if r := f.post(t, "application/json", `{"event":"a"}`); r.status != http.StatusAccepted {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got := f.fwd.got()[0].Labels[entry.LabelTenant]; got != "team-x" {
		t.Errorf("tenant label %q, want team-x", got)
	}
}

// A request refused before its body is read is answered at once on a
// closing connection, not after net/http drains the body it never read.
func TestRefusedBeforeTheBodyClosesTheConnection(t *testing.T) {
	f := newFixtureWith(t, fairConfig(t))
	head := "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: wrong\r\nContent-Length: 900\r\n\r\n"
	status, body := rawRequest(t, f, head, func(c net.Conn) { // a trickle the server must not wait for
		for range 900 {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if !strings.HasPrefix(status, "401") || !strings.Contains(body, "unauthorized") {
		t.Errorf("got %s %s, want 401", status, body)
	}
	// A complete body keeps the connection open for the next request.
	r := f.do(t, http.MethodPost, PathEvents, map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey},
		[]byte(`{"event":"a"}`))
	if r.status != http.StatusAccepted || r.header.Get("Connection") == "close" {
		t.Errorf("normal request: %d, Connection %q", r.status, r.header.Get("Connection"))
	}
}
