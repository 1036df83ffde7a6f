package curated_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
