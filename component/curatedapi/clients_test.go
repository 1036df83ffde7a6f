package curatedapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/internal/admission"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/testutil"
)

const clientsConfig = `
	forward_to      = []
	trusted_proxies = ["10.0.0.0/8"]
	ip_rate_limit {
		rate  = 50
		burst = 100
	}
	max_concurrent_requests = 64
	max_inflight_bytes      = "16MiB"
	cors_max_age            = "1h"

	client "web" {
		api_key         = "web-secret"
		service         = "collabmaker-web"
		tenant          = "team-a"
		allowed_events  = ["form.*"]
		allowed_origins = ["https://apply.example.com"]
		browser         = true
		rate_limit {
			rate  = 20
			burst = 40
		}
	}

	client "worker" {
		api_key                 = "worker-secret"
		service                 = "collabmaker"
		tenant                  = "team-a"
		max_concurrent_requests = 48
	}
`

func TestClientArguments(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(clientsConfig), &args); err != nil {
		t.Fatal(err)
	}
	if len(args.Clients) != 2 || args.Clients[0].Name != "web" || string(args.Clients[0].APIKey) != "web-secret" ||
		!args.Clients[0].Browser || args.Clients[0].RateLimit.Rate != 20 || args.Clients[0].RateLimit.Burst != 40 {
		t.Fatalf("clients = %+v", args.Clients)
	}
	cfg, err := args.handlerConfig(entry.NewLabelTracker())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Access.Open() || len(cfg.Access.Clients()) != 2 || cfg.IPRate != 50 || cfg.IPBurst != 100 ||
		cfg.MaxConcurrent != 64 || cfg.MaxInflightBytes != 16<<20 || cfg.CORSMaxAge != time.Hour ||
		cfg.BodyTimeout != DefaultBodyTimeout || cfg.MinBodyRate != int64(DefaultMinBodyRate) {
		t.Errorf("handler config = %+v", cfg)
	}
	// Shares: half of the component's limits unless set; per address only
	// for the browser key.
	web, worker := cfg.Access.Clients()[0], cfg.Access.Clients()[1]
	if web.InFlight != (admission.Limits{Requests: 32, Bytes: 8 << 20}) ||
		web.AddressInFlight != (admission.Limits{Requests: DefaultMaxConcurrentPerAddress, Bytes: int64(DefaultMaxInflightBytesPerAddress)}) {
		t.Errorf("browser client shares: %+v %+v", web.InFlight, web.AddressInFlight)
	}
	if worker.InFlight != (admission.Limits{Requests: 48, Bytes: 8 << 20}) || worker.AddressInFlight != (admission.Limits{}) {
		t.Errorf("server client shares: %+v %+v", worker.InFlight, worker.AddressInFlight)
	}
}

// A client without a tenant next to clients with one only works when
// loki.write happens to set a tenant: the component cannot see that, so the
// config must say it.
func TestTenantlessClientBesideTenantsRefused(t *testing.T) {
	cfg := `forward_to = []
	%s
	client "web" {
		api_key = "a"
		tenant  = "team-a"
	}
	client "worker" {
		api_key = "b"
	}`
	var args Arguments
	err := syntax.Unmarshal([]byte(strings.Replace(cfg, "%s", "", 1)), &args)
	if err == nil || !strings.Contains(err.Error(), `clients ["worker"] have no tenant while ["web"] have one`) {
		t.Fatalf("mixed tenants: %v", err)
	}
	if err := syntax.Unmarshal([]byte(strings.Replace(cfg, "%s", `tenant = "team-default"`, 1)), &args); err != nil {
		t.Fatalf("with the component's tenant: %v", err)
	}
	hc, err := args.handlerConfig(entry.NewLabelTracker())
	if err != nil {
		t.Fatal(err)
	}
	if got := hc.Access.Clients()[1].Tenant; got != "team-default" {
		t.Errorf("worker's tenant %q, want the component's", got)
	}
	if got := hc.Access.Clients()[0].Tenant; got != "team-a" {
		t.Errorf("web's tenant %q, want its own", got)
	}
}

func TestClientArgumentsInvalid(t *testing.T) {
	client := func(body string) string {
		return "forward_to = []\nclient \"c\" {\n" + body + "\n}\n"
	}
	tests := []struct {
		cfg  string
		want string
	}{
		{client(`service = "x"`), `missing required attribute "api_key"`},
		{client(`api_key = ""`), "api_key must not be empty"},
		{client(`api_key = "k"
			browser = true`), "needs allowed_origins"},
		{client(`api_key = "k"
			service = "bad service"`), "service"},
		{client(`api_key = "k"
			tenant = "team/a"`), "tenant"},
		{client(`api_key = "k"
			allowed_events = ["[x"]`), "bad pattern"},
		{client(`api_key = "k"
			rate_limit {
				rate  = 0
				burst = 1
			}`), "rate must be greater than 0"},
		{"forward_to = []\nclient \"c\" {\napi_key = \"a\"\n}\nclient \"c\" {\napi_key = \"b\"\n}\n", "defined twice"},
		{"forward_to = []\nclient \"a\" {\napi_key = \"k\"\n}\nclient \"b\" {\napi_key = \"k\"\n}\n", "same api_key"},
		{"forward_to = []\ntrusted_proxies = [\"10.0.0.0/99\"]", "trusted_proxies"},
		{"forward_to = []\nmax_concurrent_requests = -1", "max_concurrent_requests"},
		{"forward_to = []\nbody_timeout = \"-1s\"", "body_timeout"},
		{"forward_to = []\ntenant = \"a/b\"", "tenant"},
		{client(`api_key = "k"
			max_concurrent_requests_per_address = -1`), "max_concurrent_requests_per_address must not be negative"},
	}
	for _, tt := range tests {
		var args Arguments
		err := syntax.Unmarshal([]byte(tt.cfg), &args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config:\n%s\nerror = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestKeysNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := redactingLogger(base).With("uri", "/v1/events?x=1&api_key=attr-secret")
	l.Debug("POST /v1/events?api_key=msg-secret (202) 1ms", "other", "/v1/events?api_key=other-secret&a=b")
	out := buf.String()
	for _, secret := range []string{"attr-secret", "msg-secret", "other-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %s: %s", secret, out)
		}
	}
	if strings.Count(out, "api_key=REDACTED") != 3 || !strings.Contains(out, "&a=b") {
		t.Errorf("log = %s", out)
	}
}

// TestBrowserKeyInURLIsNotLogged runs the component with debug logging and
// request_tracing, whose middleware logs every request line, and checks the
// log. (Without request_tracing no request line is logged at all.)
func TestBrowserKeyInURLIsNotLogged(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(clientsConfig), &args); err != nil {
		t.Fatal(err)
	}
	args.RequestTracing = true
	port := testutil.FreePort(t)
	args.HTTP.ListenAddress, args.HTTP.ListenPort = "127.0.0.1", port
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runComponentWithLogger(t, args, logger)

	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(port)+"/v1/events?api_key=web-secret",
		strings.NewReader(`{"event":"form.submit"}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://apply.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The request line is logged after the response: wait for it.
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if out = buf.String(); strings.Contains(out, "api_key=") {
			break
		}
	}
	if strings.Contains(out, "web-secret") || !strings.Contains(out, "api_key=REDACTED") {
		t.Errorf("log must show the request with the key redacted:\n%s", out)
	}
}
