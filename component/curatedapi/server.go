package curatedapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	dskit "github.com/grafana/dskit/server"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2/h2c" //nolint:staticcheck // as Alloy's own TargetServer, until http.Server.Protocols maps every HTTP2Config field

	fnet "github.com/grafana/alloy/internal/component/common/net"

	"github.com/grafana/alloy/curated/internal/httpapi"
)

// apiServer serves the API with Alloy's network server block (listen
// address, TLS, timeouts, connection limit, HTTP/2) on dskit, as every Alloy
// receiver does, but without dskit's per-request middleware unless
// request_tracing asks for it. That chain (a tracing span, a request log
// decision, route matching, response-writer wrapping and five metric
// lookups) cost about a fifth of the CPU of a one-event request, the
// shape browsers send; the handler's own metrics count every request and
// outcome, and the light instrumentation below keeps dskit's
// request_duration_seconds and inflight_requests.
type apiServer struct {
	srv *dskit.Server
}

// startServer builds the server from cfg and serves routes on it in the
// background until stop.
func startServer(logger *slog.Logger, reg prometheus.Registerer, cfg *fnet.ServerConfig, tracing bool, routes []httpapi.Route) (*apiServer, error) {
	// Alloy's own conversion of the block into dskit's configuration.
	ts, err := fnet.NewTargetServer(logger, "loki_source_curated_api", reg, cfg)
	if err != nil {
		return nil, err
	}
	dcfg := ts.Config()
	dcfg.DoNotAddDefaultHTTPMiddleware = !tracing
	metrics := dskit.NewServerMetrics(dcfg)
	srv, err := dskit.NewWithMetrics(dcfg, metrics)
	if err != nil {
		return nil, err
	}
	if tracing {
		for _, r := range routes {
			srv.HTTP.Path(r.Path).Handler(r.Handler)
		}
	} else {
		srv.HTTPServer.Handler = newLeanMux(routes, metrics)
	}
	if h2 := cfg.HTTP.HTTP2.Server(); h2 != nil {
		srv.HTTPServer.Handler = h2c.NewHandler(srv.HTTPServer.Handler, h2)
	}
	logger.Info("starting server", "addr", srv.HTTPListenAddr().String(), "request_tracing", tracing)
	go func() {
		if err := srv.Run(); err != nil {
			logger.Error("server shut down with an error", "err", err)
		}
	}()
	return &apiServer{srv: srv}, nil
}

func (s *apiServer) addr() string { return s.srv.HTTPListenAddr().String() }

func (s *apiServer) stop() {
	s.srv.Stop()
	s.srv.Shutdown()
}

// leanMux routes the API's three exact paths and records each request's
// duration and the requests in flight under dskit's metric names and
// labels, with the series looked up once rather than per request.
type leanMux struct {
	routes   map[string]*leanRoute
	other    *leanRoute
	duration *prometheus.HistogramVec
	writers  sync.Pool
}

// The API answers POST, OPTIONS (preflight) and GET (health); any other
// method is counted as "other", so a client cannot mint series.
var leanMethods = [...]string{http.MethodPost, http.MethodOptions, http.MethodGet, "other"}

func methodIndex(m string) int {
	for i, lm := range leanMethods[:len(leanMethods)-1] {
		if m == lm {
			return i
		}
	}
	return len(leanMethods) - 1
}

type leanRoute struct {
	name      string
	handler   http.Handler
	inflight  [len(leanMethods)]prometheus.Gauge
	observers sync.Map // observerKey -> prometheus.Observer
}

type observerKey struct {
	method int
	code   int
}

func newLeanMux(routes []httpapi.Route, m *dskit.Metrics) *leanMux {
	lm := &leanMux{routes: map[string]*leanRoute{}, duration: m.RequestDuration}
	lm.writers.New = func() any { return new(statusWriter) }
	route := func(name string, h http.Handler) *leanRoute {
		r := &leanRoute{name: name, handler: h}
		for i, method := range leanMethods {
			r.inflight[i] = m.InflightRequests.WithLabelValues(method, name)
		}
		return r
	}
	for _, r := range routes {
		lm.routes[r.Path] = route(r.Name, r.Handler)
	}
	lm.other = route("notfound", http.NotFoundHandler())
	return lm
}

func (lm *leanMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route, ok := lm.routes[r.URL.Path]
	if !ok {
		route = lm.other
	}
	method := methodIndex(r.Method)
	inflight := route.inflight[method]
	inflight.Inc()
	defer inflight.Dec()
	sw := lm.writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.code = w, 0
	route.handler.ServeHTTP(sw, r)
	code := sw.code
	if code == 0 {
		code = http.StatusOK
	}
	sw.ResponseWriter = nil
	lm.writers.Put(sw)
	route.observer(lm.duration, method, code).Observe(time.Since(start).Seconds())
}

func (r *leanRoute) observer(h *prometheus.HistogramVec, method, code int) prometheus.Observer {
	key := observerKey{method, code}
	if o, ok := r.observers.Load(key); ok {
		return o.(prometheus.Observer)
	}
	o, _ := r.observers.LoadOrStore(key, h.WithLabelValues(leanMethods[method], r.name, fmt.Sprint(code), "false"))
	return o.(prometheus.Observer)
}

// statusWriter remembers the status code written. Unwrap lets
// http.ResponseController reach the connection (the body clock sets read
// deadlines through it).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
