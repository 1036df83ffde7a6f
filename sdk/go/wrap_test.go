package curated

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func lastEvent(t *testing.T, stub *apiStub) map[string]any {
	t.Helper()
	ev := stub.events()
	if len(ev) == 0 {
		t.Fatal("no event sent")
	}
	return ev[len(ev)-1]
}

func attrsOf(e map[string]any) map[string]any {
	a, _ := e["attributes"].(map[string]any)
	return a
}

func TestSlogHandler(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	log := slog.New(c.Handler(&HandlerOptions{Level: slog.LevelWarn}))
	log.Info("below the level")
	log = log.With("event", "shopify.sync", "shop", "collab").WithGroup("req").With("id", "r-1")
	log.Error("sync failed", "status", 502, slog.Group("retry", "attempt", 3))
	slog.New(c.Handler(nil)).Warn("Payment failed: card declined!", "err", errors.New("declined"))
	flush(t, c)
	ev := stub.events()
	if len(ev) != 2 {
		t.Fatalf("sent %v", ev)
	}
	e := ev[0]
	if e["event"] != "shopify.sync" || e["level"] != "error" || e["message"] != "sync failed" {
		t.Errorf("event %v", e)
	}
	b, _ := json.Marshal(attrsOf(e))
	if string(b) != `{"req":{"id":"r-1","retry":{"attempt":3},"status":502},"shop":"collab"}` {
		t.Errorf("attributes %s", b)
	}
	if e := ev[1]; e["event"] != "log.payment_failed_card_declined" || e["level"] != "warn" || attrsOf(e)["err"] != "declined" {
		t.Errorf("event %v", e)
	}
}

func TestFanoutKeepsTheAppsHandler(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	var app strings.Builder
	log := slog.New(Fanout(slog.NewTextHandler(&app, nil), c.Handler(nil)))
	log.Info("hello", "event", "app.start")
	flush(t, c)
	if !strings.Contains(app.String(), "msg=hello") || lastEvent(t, stub)["event"] != "app.start" {
		t.Errorf("app log %q, events %v", app.String(), stub.events())
	}
}

func TestDo(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	ctx := context.Background()
	if err := c.Do(ctx, "places.lookup", func(context.Context) error { time.Sleep(5 * time.Millisecond); return nil }, slog.String("field", "address")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("ZERO_RESULTS")
	if err := c.Do(ctx, "places.lookup", func(context.Context) error { return boom }); err != boom {
		t.Fatalf("Do returned %v", err)
	}
	n, err := DoValue(ctx, c, "shopify.sync", func(context.Context) (int, error) { return 7, nil })
	if n != 7 || err != nil {
		t.Fatalf("DoValue %d %v", n, err)
	}
	func() {
		defer func() {
			if recover() != "kaput" {
				t.Error("the panic was not re-raised")
			}
		}()
		_ = c.Do(ctx, "risky.call", func(context.Context) error { panic("kaput") })
	}()
	flush(t, c)
	ev := stub.events()
	if len(ev) != 4 {
		t.Fatalf("events %v", ev)
	}
	ok, failed, panicked := attrsOf(ev[0]), ev[1], ev[3]
	if ok["outcome"] != "ok" || ok["field"] != "address" || ok["duration_ms"].(float64) < 5 || ev[0]["level"] != nil {
		t.Errorf("ok event %v", ev[0])
	}
	if failed["level"] != "error" || attrsOf(failed)["outcome"] != "error" || attrsOf(failed)["error"] != "ZERO_RESULTS" || attrsOf(failed)["error_type"] != "*errors.errorString" {
		t.Errorf("failed event %v", failed)
	}
	if panicked["level"] != "error" || attrsOf(panicked)["outcome"] != "panic" || attrsOf(panicked)["error"] != "kaput" {
		t.Errorf("panic event %v", panicked)
	}
}

// Attempt sends the attempt before fn runs, then the outcome.
func TestAttempt(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	var sentBefore int
	err := c.Attempt(context.Background(), "form.submit", func(context.Context) error {
		flush(t, c)
		sentBefore = len(stub.events())
		return errors.New("SHOPIFY_UNAVAILABLE")
	}, slog.String("form", "partner"))
	if err == nil || err.Error() != "SHOPIFY_UNAVAILABLE" {
		t.Fatalf("Attempt returned %v", err)
	}
	flush(t, c)
	ev := stub.events()
	if sentBefore != 1 || len(ev) != 2 {
		t.Fatalf("%d events sent before fn returned, %d in all: %v", sentBefore, len(ev), ev)
	}
	if ev[0]["event"] != "form.submit.attempt" || attrsOf(ev[0])["form"] != "partner" || ev[0]["level"] != nil {
		t.Errorf("attempt %v", ev[0])
	}
	if ev[1]["event"] != "form.submit" || ev[1]["level"] != "error" || attrsOf(ev[1])["outcome"] != "error" || attrsOf(ev[1])["form"] != "partner" {
		t.Errorf("outcome %v", ev[1])
	}
}

func TestMiddleware(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /partners/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) })
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 502) })
	srv := httptest.NewServer(c.Middleware("", mux))
	defer srv.Close()
	for _, req := range []struct{ method, path string }{{"GET", "/partners/p-42?email=jane@example.com"}, {"POST", "/apply"}, {"GET", "/nope"}} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	flush(t, c)
	ev := stub.events()
	if len(ev) != 3 {
		t.Fatalf("events %v", ev)
	}
	want := []struct {
		route  string
		status float64
		level  any
	}{{"GET /partners/{id}", 200, nil}, {"POST /apply", 502, "error"}, {"unmatched", 404, "warn"}}
	for i, w := range want {
		a := attrsOf(ev[i])
		if ev[i]["event"] != "http.request" || a["route"] != w.route || a["status"] != w.status || ev[i]["level"] != w.level {
			t.Errorf("request %d: %v", i, ev[i])
		}
	}
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), "jane") || strings.Contains(string(b), "p-42") {
		t.Errorf("the query string or path parameters leaked: %s", b)
	}
}

func TestTransport(t *testing.T) {
	stub := newStub(t, nil)
	c, _ := newClient(t, stub.URL, nil)
	places := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer places.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := l.Addr().String()
	l.Close()
	hc := &http.Client{Transport: c.Transport("places.http", nil)}
	resp, err := hc.Get(places.URL + "/maps/api/place?key=SECRET")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := hc.Get("http://" + closedAddr + "/x"); err == nil {
		t.Fatal("a closed port answered")
	}
	flush(t, c)
	ev := stub.events()
	if len(ev) != 2 {
		t.Fatalf("events %v", ev)
	}
	if a := attrsOf(ev[0]); ev[0]["event"] != "places.http" || ev[0]["level"] != "error" || a["status"] != 503.0 || a["host"] != strings.TrimPrefix(places.URL, "http://") || a["method"] != "GET" {
		t.Errorf("503 event %v", ev[0])
	}
	if a := attrsOf(ev[1]); ev[1]["level"] != "error" || a["error_class"] != "refused" {
		t.Errorf("refused event %v", ev[1])
	}
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), "SECRET") || strings.Contains(string(b), "/maps") {
		t.Errorf("the path or query leaked: %s", b)
	}
}
