package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/grafana/alloy/curated/internal/access"
	"github.com/grafana/alloy/curated/internal/entry"
)

const (
	serverKey = "srv-0123456789abcdef"
	webKey    = "web-0123456789abcdef"
	appOrigin = "https://apply.example.com"
)

func accessConfig(t *testing.T) Config {
	t.Helper()
	policy, err := access.NewPolicy([]access.ClientConfig{
		{Name: "shopify_worker", APIKey: serverKey, Service: "collabmaker", Tenant: "team-a",
			AllowedEvents: []string{"shopify.*", "places.*"}},
		{Name: "collabmaker_web", APIKey: webKey, Service: "collabmaker-web", Tenant: "team-b", Browser: true,
			AllowedOrigins: []string{appOrigin}, Rate: 1, Burst: 2},
	}, []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Limits.MaxEventsPerRequest = 10
	cfg.Access = policy
	cfg.CORSMaxAge = 10 * time.Minute
	return cfg
}

func TestAuthStatusCodes(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		query  string
		body   string
		status int
		code   string
		field  string
	}{
		{"no key", nil, "", `{"event":"shopify.sync"}`, 401, "unauthorized", "X-API-Key"},
		{"wrong key", map[string]string{"X-API-Key": "nope"}, "", `{"event":"shopify.sync"}`, 401, "unauthorized", "X-API-Key"},
		{"server key in URL", nil, "?api_key=" + serverKey, `{"event":"shopify.sync"}`, 401, "unauthorized", "api_key"},
		{"server key", map[string]string{"X-API-Key": serverKey}, "", `{"event":"shopify.sync"}`, 202, "", ""},
		{"bearer", map[string]string{"Authorization": "Bearer " + serverKey}, "", `{"event":"places.lookup"}`, 202, "", ""},
		{"event not allowed", map[string]string{"X-API-Key": serverKey}, "", `{"event":"form.submit"}`, 403, "forbidden_event", "event"},
		{"browser key without Origin", nil, "?api_key=" + webKey, `{"event":"form.submit"}`, 403, "forbidden_origin", "Origin"},
		{"browser key from another origin", map[string]string{"Origin": "https://evil.example"}, "?api_key=" + webKey, `{"event":"form.submit"}`, 403, "forbidden_origin", "Origin"},
		{"browser key from its origin", map[string]string{"Origin": appOrigin}, "?api_key=" + webKey, `{"event":"form.submit"}`, 202, "", ""},
		{"validate needs a key too", nil, "", `{"event":"shopify.sync"}`, 401, "unauthorized", "X-API-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, accessConfig(t))
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range tt.header {
				h[k] = v
			}
			path := PathEvents
			if strings.HasPrefix(tt.name, "validate") {
				path = PathValidate
			}
			r := f.do(t, http.MethodPost, path+tt.query, h, []byte(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if tt.code != "" && (len(r.body.Errors) == 0 || string(r.body.Errors[0].Code) != tt.code || r.body.Errors[0].Field != tt.field) {
				t.Errorf("errors = %s, want code %s field %s", r.raw, tt.code, tt.field)
			}
			if strings.Contains(r.raw, serverKey) || strings.Contains(r.raw, webKey) {
				t.Errorf("response echoes a key: %s", r.raw)
			}
			if tt.status != 202 && len(f.fwd.got()) != 0 {
				t.Errorf("refused request forwarded entries")
			}
		})
	}
}

func TestClientDecidesServiceAndTenant(t *testing.T) {
	f := newFixtureWith(t, accessConfig(t))
	h := map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey,
		"X-Scope-OrgID": "team-b"} // a client cannot pick its tenant with a header
	r := f.do(t, http.MethodPost, PathEvents, h, []byte(`[
		{"event":"shopify.sync"},
		{"event":"shopify.sync","service":"collabmaker"},
		{"event":"shopify.sync","service":"billing"},
		{"event":"shopify.sync","attributes":{"__tenant_id__":"team-b","service":"billing","level":"x"}},
		{"event":"shopify.sync","labels":{"__tenant_id__":"team-b"}},
		{"event":"form.submit"}]`))
	if r.status != http.StatusAccepted || r.body.Accepted != 3 || r.body.Rejected != 3 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	wantErrs := map[int]string{2: "service/forbidden", 4: "labels/unknown_field", 5: "event/forbidden_event"}
	for _, e := range r.body.Errors {
		if got := e.Field + "/" + string(e.Code); wantErrs[*e.Index] != got {
			t.Errorf("event %d: error %s, want %s", *e.Index, got, wantErrs[*e.Index])
		}
	}
	for i, e := range f.fwd.got() {
		if e.Labels["service"] != "collabmaker" || e.Labels[entry.LabelTenant] != "team-a" || e.Labels["level"] != "info" || len(e.Labels) != 4 {
			t.Errorf("entry %d labels = %v, want exactly app, service=collabmaker, level and tenant team-a", i, e.Labels)
		}
	}
	if line := f.fwd.got()[2].Entry.Line; !strings.Contains(line, `"__tenant_id__":"team-b"`) {
		t.Errorf("attributes must stay in the line, not become labels: %s", line)
	}
}

func TestEnvelopeCannotSpoofService(t *testing.T) {
	f := newFixtureWith(t, accessConfig(t))
	h := map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey}
	r := f.do(t, http.MethodPost, PathEvents, h, []byte(`{"context":{"service":"billing"},"events":[{"event":"shopify.sync"}]}`))
	if r.status != http.StatusForbidden || r.body.Errors[0].Field != "service" {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
}

func TestPreflight(t *testing.T) {
	f := newFixtureWith(t, accessConfig(t))
	req, _ := http.NewRequest(http.MethodOptions, f.srv.URL+PathEvents, nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-api-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := map[string]string{
		"Access-Control-Allow-Origin":   appOrigin,
		"Access-Control-Allow-Methods":  "POST, OPTIONS",
		"Access-Control-Allow-Headers":  "Content-Type, Content-Encoding, X-API-Key, Authorization",
		"Access-Control-Max-Age":        "600",
		"Access-Control-Expose-Headers": "Retry-After",
		"Vary":                          "Origin",
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status %d, want 204", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	for _, origin := range []string{"https://evil.example", ""} {
		r := f.do(t, http.MethodOptions, PathEvents, map[string]string{"Origin": origin}, nil)
		if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %q: %d, ACAO %q", origin, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestCORSHeadersOnResponses(t *testing.T) {
	f := newFixtureWith(t, accessConfig(t))
	h := map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": appOrigin}
	r := f.do(t, http.MethodPost, PathEvents+"?api_key="+webKey, h, []byte(`{"event":"form.submit"}`))
	if r.status != 202 || r.header.Get("Access-Control-Allow-Origin") != appOrigin || r.header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Errorf("status %d headers %v", r.status, r.header)
	}
	// A disallowed origin may read its refusal (so the SDK can say why),
	// and nothing is accepted.
	h["Origin"] = "https://evil.example"
	r = f.do(t, http.MethodPost, PathEvents+"?api_key="+webKey, h, []byte(`{"event":"form.submit"}`))
	if r.status != http.StatusForbidden || !strings.Contains(r.raw, `"code":"forbidden_origin"`) ||
		r.header.Get("Access-Control-Allow-Origin") != "https://evil.example" {
		t.Errorf("disallowed origin: status %d, ACAO %q, body %s", r.status, r.header.Get("Access-Control-Allow-Origin"), r.raw)
	}
	// Any other refusal stays unreadable to an origin no client allows.
	r = f.do(t, http.MethodPost, PathEvents+"?api_key=no-such-key", h, []byte(`{"event":"form.submit"}`))
	if r.status != http.StatusUnauthorized || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unknown key from a disallowed origin: status %d, ACAO %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestClientRateLimit(t *testing.T) {
	f := newFixtureWith(t, accessConfig(t))
	f.h.now = time.Now
	h := map[string]string{"Content-Type": "application/json", "Origin": appOrigin}
	var statuses []int
	for i := 0; i < 3; i++ {
		r := f.do(t, http.MethodPost, PathEvents+"?api_key="+webKey, h, []byte(`{"event":"form.submit"}`))
		statuses = append(statuses, r.status)
		if r.status == http.StatusTooManyRequests {
			if r.header.Get("Retry-After") != "1" || r.body.Errors[0].Code != "rate_limited" {
				t.Errorf("429 without Retry-After or code: %v %s", r.header, r.raw)
			}
		}
	}
	if statuses[0] != 202 || statuses[1] != 202 || statuses[2] != 429 {
		t.Fatalf("statuses %v, want [202 202 429] (burst 2)", statuses)
	}
	// Another client has its own bucket.
	r := f.do(t, http.MethodPost, PathEvents, map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey},
		[]byte(`{"event":"shopify.sync"}`))
	if r.status != 202 {
		t.Errorf("other client: %d", r.status)
	}
	if v := promtest.ToFloat64(f.h.metrics.clientRequests.WithLabelValues("collabmaker_web", "rate_limited")); v != 1 {
		t.Errorf("client_requests_total{client=collabmaker_web,outcome=rate_limited} = %v", v)
	}
	if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues("client")); v != 1 {
		t.Errorf("throttled_requests_total{scope=client} = %v", v)
	}
}

func TestIPRateLimitUsesTrustedForwardedFor(t *testing.T) {
	cfg := accessConfig(t) // 127.0.0.0/8 (the test client) is a trusted proxy
	cfg.IPRate, cfg.IPBurst = 1, 1
	f := newFixtureWith(t, cfg)
	f.h.now = time.Now
	send := func(xff string) int {
		h := map[string]string{"Content-Type": "application/json", "X-API-Key": serverKey, "X-Forwarded-For": xff}
		return f.do(t, http.MethodPost, PathEvents, h, []byte(`{"event":"shopify.sync"}`)).status
	}
	if s := send("198.51.100.1"); s != 202 {
		t.Fatalf("first: %d", s)
	}
	if s := send("198.51.100.1"); s != 429 {
		t.Fatalf("same address again: %d, want 429", s)
	}
	if s := send("198.51.100.2"); s != 202 {
		t.Fatalf("another address: %d, want 202", s)
	}
	if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues("ip")); v != 1 {
		t.Errorf("throttled_requests_total{scope=ip} = %v", v)
	}
}

func TestIPRateLimitIgnoresForgedForwardedFor(t *testing.T) {
	cfg := testConfig() // no trusted proxies: X-Forwarded-For is not believed
	cfg.IPRate, cfg.IPBurst = 1, 1
	f := newFixtureWith(t, cfg)
	f.h.now = time.Now
	for i, want := range []int{202, 429} {
		h := map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "198.51.100." + string(rune('1'+i))}
		if r := f.do(t, http.MethodPost, PathEvents, h, []byte(`{"event":"a"}`)); r.status != want {
			t.Fatalf("request %d: %d, want %d (a forged header must not buy a new bucket)", i, r.status, want)
		}
	}
}

// gate is a Forwarder that holds every request until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return len(entries), nil
	case <-time.After(wait):
		return 0, context.DeadlineExceeded
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func TestConcurrencyCapAnswers503(t *testing.T) {
	for _, tt := range []struct {
		name  string
		set   func(*Config)
		scope string
	}{
		{"max concurrent requests", func(c *Config) { c.MaxConcurrent = 1 }, "concurrency"},
		{"max inflight bytes", func(c *Config) { c.MaxInflightBytes = readChunk + 8<<10 }, "inflight_bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ForwardTimeout = 5 * time.Second
			tt.set(&cfg)
			f := newFixtureWith(t, cfg)
			g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{})}
			f.h.fwd = g
			done := make(chan int)
			go func() {
				done <- f.post(t, "application/json", `{"event":"first"}`).status
			}()
			<-g.entered // the first request now holds its slot
			r := f.post(t, "application/json", `{"event":"second"}`)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" || r.body.Errors[0].Code != "overloaded" {
				t.Errorf("second request: %d %v %s", r.status, r.header, r.raw)
			}
			close(g.release)
			if s := <-done; s != 202 {
				t.Errorf("first request: %d", s)
			}
			if v := promtest.ToFloat64(f.h.metrics.throttled.WithLabelValues(tt.scope)); v != 1 {
				t.Errorf("throttled_requests_total{scope=%s} = %v", tt.scope, v)
			}
			// Slots are released: the next request passes.
			g.release = make(chan struct{})
			close(g.release)
			go func() { <-g.entered }()
			if r := f.post(t, "application/json", `{"event":"third"}`); r.status != 202 {
				t.Errorf("after release: %d %s", r.status, r.raw)
			}
		})
	}
}
