package access

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := NewPolicy([]ClientConfig{
		{Name: "server", APIKey: "server-key", Service: "collabmaker", AllowedEvents: []string{"shopify.*", "places.*"}},
		{Name: "web", APIKey: "web-key", Browser: true, AllowedOrigins: []string{"https://apply.example.com", "https://*.collab.example"}},
	}, []string{"10.0.0.0/8", "192.168.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(header map[string]string, query string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/events"+query, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		name   string
		header map[string]string
		query  string
		want   string // client name, or "" for a denial
		field  string
	}{
		{"X-API-Key", map[string]string{"X-API-Key": "server-key"}, "", "server", ""},
		{"Bearer", map[string]string{"Authorization": "Bearer web-key"}, "", "web", ""},
		{"bearer lower case", map[string]string{"Authorization": "bearer  server-key "}, "", "server", ""},
		{"browser key in query", nil, "?api_key=web-key", "web", ""},
		{"header wins over query", map[string]string{"X-API-Key": "server-key"}, "?api_key=web-key", "server", ""},
		{"server key in query refused", nil, "?api_key=server-key", "", QueryAPIKey},
		{"missing", nil, "", "", HeaderAPIKey},
		{"unknown", map[string]string{"X-API-Key": "guess"}, "", "", HeaderAPIKey},
		{"prefix of a key", map[string]string{"X-API-Key": "server-ke"}, "", "", HeaderAPIKey},
		{"basic auth is not a key", map[string]string{"Authorization": "Basic c2VydmVyLWtleTo="}, "", "", HeaderAPIKey},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, "", "", HeaderAPIKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := p.Authenticate(request(tt.header, tt.query))
			switch {
			case tt.want != "" && (d != nil || c == nil || c.Name != tt.want):
				t.Errorf("got client %v, denial %v; want %s", c, d, tt.want)
			case tt.want == "" && (d == nil || d.Code != event.CodeUnauthorized || d.Field != tt.field):
				t.Errorf("got client %v, denial %+v; want 401 on %s", c, d, tt.field)
			}
		})
	}
}

func TestOpenPolicyNeedsNoKey(t *testing.T) {
	p, err := NewPolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, d := p.Authenticate(request(nil, "")); c != nil || d != nil || !p.Open() || !p.OriginAllowed("https://any.example") {
		t.Errorf("open policy: client %v denial %v", c, d)
	}
}

func TestNewPolicyErrors(t *testing.T) {
	tests := []struct {
		clients []ClientConfig
		proxies []string
		want    string
	}{
		{[]ClientConfig{{Name: "a"}}, nil, "api_key must not be empty"},
		{[]ClientConfig{{Name: "a", APIKey: "k"}, {Name: "b", APIKey: "k"}}, nil, "same api_key"},
		{[]ClientConfig{{Name: "a", APIKey: "k", AllowedEvents: []string{"[a"}}}, nil, "bad pattern"},
		{[]ClientConfig{{Name: "a", APIKey: "k", Browser: true}}, nil, "needs allowed_origins"},
		{[]ClientConfig{{Name: "a", APIKey: "k", Rate: 5}}, nil, "burst >= 1"},
		{nil, []string{"10.0.0.0/33"}, "trusted_proxies"},
		{nil, []string{"not-an-ip"}, "trusted_proxies"},
	}
	for _, tt := range tests {
		if _, err := NewPolicy(tt.clients, tt.proxies); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPolicy(%+v, %v) error = %v, want %q", tt.clients, tt.proxies, err, tt.want)
		}
	}
}

func TestOrigins(t *testing.T) {
	p := testPolicy(t)
	server, web := p.Clients()[0], p.Clients()[1]
	for _, tt := range []struct {
		client *Client
		origin string
		ok     bool
	}{
		{web, "https://apply.example.com", true},
		{web, "https://eu.collab.example", true},
		{web, "https://evil.example.com", false},
		{web, "https://apply.example.com.evil.io", false},
		{web, "http://apply.example.com", false},
		{web, "", false}, // browser keys need an Origin
		{server, "", true},
		{server, "https://anything.example", true}, // no allowed_origins: not restricted
	} {
		if d := tt.client.CheckOrigin(tt.origin); (d == nil) != tt.ok || (d != nil && d.Code != event.CodeForbiddenOrigin) {
			t.Errorf("%s CheckOrigin(%q) = %+v, want ok=%v", tt.client.Name, tt.origin, d, tt.ok)
		}
	}
	if !p.OriginAllowed("https://apply.example.com") || p.OriginAllowed("https://evil.example.com") {
		t.Error("OriginAllowed for preflights is wrong")
	}
	if !server.EventAllowed("shopify.sync") || server.EventAllowed("form.submit") || !web.EventAllowed("form.submit") {
		t.Error("EventAllowed is wrong")
	}
}

func TestClientIP(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"forged XFF from an untrusted peer is ignored", "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"ALB in trusted range", "10.1.2.3:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client-sent XFF before the ALB's entry is ignored", "10.1.2.3:5000", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies", "10.1.2.3:5000", []string{"198.51.100.9, 192.168.1.1", "10.9.9.9"}, "198.51.100.9"},
		{"all hops trusted", "10.1.2.3:5000", []string{"10.2.2.2"}, "10.2.2.2"},
		{"malformed hop", "10.1.2.3:5000", []string{"1.2.3.4, garbage"}, "10.1.2.3"},
		{"no XFF from proxy", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::1]:443", []string{"1.2.3.4"}, "2001:db8::1"},
		{"IPv4-mapped IPv6 proxy", "[::ffff:10.1.2.3]:443", []string{"198.51.100.9"}, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := p.ClientIP(r); got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientIP = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	p, err := NewPolicy([]ClientConfig{{Name: "c", APIKey: "k", Rate: 1, Burst: 2}, {Name: "free", APIKey: "f"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, free := p.Clients()[0], p.Clients()[1]
	l := NewLimiter()
	l.Configure(p.Clients(), 0, 0)
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		if ok, _ := l.AllowClient(c, now); !ok {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	ok, wait := l.AllowClient(c, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("third request: ok=%v wait=%v, want refused with wait <= 1s", ok, wait)
	}
	if ok, _ := l.AllowClient(c, now.Add(time.Second)); !ok {
		t.Error("token not refilled after 1s")
	}
	// Reconfiguring keeps the bucket level: no free burst on reload.
	l.Configure(p.Clients(), 0, 0)
	if ok, _ := l.AllowClient(c, now.Add(time.Second)); ok {
		t.Error("reload refilled the bucket")
	}
	for i := 0; i < 100; i++ {
		if ok, _ := l.AllowClient(free, now); !ok {
			t.Fatal("client without rate_limit was limited")
		}
	}
	if ok, _ := l.AllowIP(netip.MustParseAddr("1.2.3.4"), now); !ok {
		t.Error("IP limited without ip_rate_limit")
	}
}

func TestLimiterPerIPIsBounded(t *testing.T) {
	l := NewLimiter()
	l.maxIPs = 100
	l.Configure(nil, 1, 1)
	now := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if ok, _ := l.AllowIP(a, now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.AllowIP(a, now); ok {
		t.Fatal("second request within a second allowed")
	}
	if ok, _ := l.AllowIP(b, now); !ok {
		t.Fatal("another address shares the bucket")
	}
	for i := 0; i < 1000; i++ {
		l.AllowIP(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.TrackedIPs(); n > 100 {
		t.Errorf("tracking %d addresses, cap is 100", n)
	}
}
