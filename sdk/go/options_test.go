package curated_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	curated "github.com/alloy-curated/alloy-curated/sdk/go"
	"github.com/alloy-curated/alloy-curated/sdk/go/curatedtest"
)

type spanKey struct{}

// TraceFunc fills trace_id and span_id from the context (a tracing
// library's span), unless WithTrace set them.
func TestTraceFuncFillsIDsFromTheContext(t *testing.T) {
	c, rec := curatedtest.New(t, curated.Config{TraceFunc: func(ctx context.Context) (string, string) {
		if s, ok := ctx.Value(spanKey{}).([2]string); ok {
			return s[0], s[1]
		}
		return "", ""
	}})
	ctx := context.WithValue(context.Background(), spanKey{}, [2]string{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"})
	c.Track(ctx, "traced")
	c.Track(curated.WithTrace(ctx, "t-explicit", "s-explicit"), "explicit")
	c.Track(context.Background(), "untraced")
	got := rec.Events()
	if len(got) != 3 || got[0].TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || got[0].SpanID != "00f067aa0ba902b7" ||
		got[1].TraceID != "t-explicit" || got[2].TraceID != "" {
		t.Errorf("events %+v", got)
	}
}

// Every request names the SDK and its version.
func TestUserAgentNamesTheSDK(t *testing.T) {
	ua := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ua <- r.UserAgent():
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c, err := curated.New(curated.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.Track(context.Background(), "x")
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-ua; !strings.HasPrefix(got, "alloy-curated-go/"+curated.Version+" (go") {
		t.Errorf("User-Agent %q", got)
	}
}

// MiddlewareWith: a route function for other routers, and requests to skip.
func TestMiddlewareRouteFuncAndSkip(t *testing.T) {
	c, rec := curatedtest.New(t, curated.Config{})
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := c.MiddlewareWith(curated.MiddlewareOptions{
		Route: func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/partners/") {
				return "/partners/{id}" // what chi or gorilla would report
			}
			return ""
		},
		Skip: func(r *http.Request) bool { return r.URL.Path == "/healthz" },
	}, router)
	for _, p := range []string{"/partners/p-42", "/healthz", "/orders/12345"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	var routes []string
	for _, e := range rec.Events() {
		routes = append(routes, e.Attributes["route"].(string))
	}
	if strings.Join(routes, " ") != "/partners/{id} /orders/:id" {
		t.Errorf("routes %v", routes)
	}
}

// BeforeSend changes or drops events before they are encoded (the slog
// handler's With attributes arrive merged); OnSent hears what was taken.
func TestBeforeSendAndOnSent(t *testing.T) {
	var sent atomic.Int64
	var dropped []curated.Error
	var mu sync.Mutex
	c, rec := curatedtest.New(t, curated.Config{
		BeforeSend: func(e *curated.Event) bool {
			if e.Name == "noise" {
				return false
			}
			e.Attributes = append(e.Attributes, slog.String("region", "eu"))
			for i, a := range e.Attributes {
				if a.Key == "email" {
					e.Attributes[i] = slog.String("email", "scrubbed")
				}
			}
			return true
		},
		OnSent:  func(n int) { sent.Add(int64(n)) },
		OnError: func(e curated.Error) { mu.Lock(); dropped = append(dropped, e); mu.Unlock() },
	})
	c.Track(context.Background(), "noise")
	c.Track(context.Background(), "signup", slog.String("email", "jane@example.com"))
	slog.New(c.Handler(nil)).With("event", "grouped").WithGroup("req").With("id", "r-1").Info("m", "k", 1)
	got := rec.Events()
	if len(got) != 2 || got[0].Attributes["email"] != "scrubbed" || got[0].Attributes["region"] != "eu" ||
		got[1].Name != "grouped" || got[1].Attributes["req"].(map[string]any)["id"] != "r-1" || got[1].Attributes["region"] != "eu" {
		t.Errorf("events %+v", got)
	}
	if sent.Load() != 2 || c.Stats().Dropped != 1 {
		t.Errorf("OnSent heard %d, stats %+v", sent.Load(), c.Stats())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) != 1 || dropped[0].Code != "before_send" {
		t.Errorf("OnError heard %v", dropped)
	}
}

// HandlerOptions.ReplaceAttr rewrites or removes attributes (With ones
// too), with their groups; AddSource adds the caller.
func TestHandlerReplaceAttrAndAddSource(t *testing.T) {
	c, rec := curatedtest.New(t, curated.Config{})
	h := c.Handler(&curated.HandlerOptions{
		AddSource: true,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch {
			case a.Key == "password":
				return slog.Attr{}
			case len(groups) == 1 && groups[0] == "req" && a.Key == "ip":
				return slog.String("ip", "masked")
			}
			return a
		},
	})
	slog.New(h).With("password", "p").WithGroup("req").Info("login", "event", "login", "ip", "203.0.113.9", "password", "q")
	got := rec.Events()
	if len(got) != 1 {
		t.Fatalf("events %+v", got)
	}
	a := got[0].Attributes
	req, _ := a["req"].(map[string]any)
	src, _ := a["source"].(map[string]any)
	if _, ok := a["password"]; ok || req["ip"] != "masked" || req["password"] != nil || req["event"] != "login" {
		t.Errorf("attributes %v", a)
	}
	if src == nil || !strings.HasSuffix(src["file"].(string), "options_test.go") || src["line"] == nil {
		t.Errorf("source %v", src)
	}
}

// Sample keeps about the given share of an event, and says how many it left out.
func TestSampleByEventName(t *testing.T) {
	c, rec := curatedtest.New(t, curated.Config{Sample: map[string]float64{"page.view": 0.1, "never": 0}})
	for i := 0; i < 2000; i++ {
		c.Track(context.Background(), "page.view")
	}
	c.Track(context.Background(), "never")
	c.Track(context.Background(), "form.submit")
	views := len(rec.Named("page.view"))
	st := c.Stats()
	// 2,000 draws at 0.1: 200 expected, outside 120..280 with probability < 1e-8.
	if views < 120 || views > 280 || len(rec.Named("never")) != 0 || len(rec.Named("form.submit")) != 1 {
		t.Errorf("kept %d page views, %d never, %d submits", views, len(rec.Named("never")), len(rec.Named("form.submit")))
	}
	if st.Sampled != uint64(2000-views+1) || st.Tracked != st.Sent+st.Sampled || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}
