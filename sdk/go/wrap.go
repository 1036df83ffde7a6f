package curated

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// Do runs fn and sends one event named event: outcome ok, error or panic,
// duration_ms, and for failures the error's message and its Go type, at
// level error. It returns fn's error; a panic is reported and re-raised.
//
//	err := c.Do(ctx, "shopify.sync", func(ctx context.Context) error { return shop.Sync(ctx, order) },
//		slog.String("order_id", order.ID))
func (c *Client) Do(ctx context.Context, event string, fn func(context.Context) error, attrs ...slog.Attr) error {
	_, err := DoValue(ctx, c, event, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, attrs...)
	return err
}

// Attempt is Do for actions whose silence is the failure to catch, such as
// a form's submit handled by a server: it sends event+".attempt" at once,
// then the outcome as Do does. An attempt without an outcome (the process
// hung or died) is what the FormSubmitUnanswered alert rule pages on.
//
//	err := c.Attempt(ctx, "form.submit", func(ctx context.Context) error { return applications.Create(ctx, form) })
func (c *Client) Attempt(ctx context.Context, event string, fn func(context.Context) error, attrs ...slog.Attr) error {
	c.push(LevelInfo, event+".attempt", "", time.Now(), c.ids(ctx), attrSet{add: attrs})
	return c.Do(ctx, event, fn, attrs...)
}

// DoValue is Do for functions that return a value.
func DoValue[T any](ctx context.Context, c *Client, event string, fn func(context.Context) (T, error), attrs ...slog.Attr) (v T, err error) {
	start := time.Now()
	defer func() {
		outcome, level := "ok", LevelInfo
		extra := make([]slog.Attr, 0, len(attrs)+4)
		extra = append(extra, attrs...)
		if p := recover(); p != nil {
			outcome, level = "panic", LevelError
			extra = append(extra, slog.String("error", scrubURLs(fmt.Sprint(p))))
			defer panic(p)
		} else if err != nil {
			outcome, level = "error", LevelError
			extra = append(extra, slog.String("error", scrubURLs(err.Error())), slog.String("error_type", fmt.Sprintf("%T", err)))
		}
		extra = append(extra, slog.String("outcome", outcome),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
		c.push(level, event, "", start, c.ids(ctx), attrSet{add: extra})
	}()
	return fn(ctx)
}

// Middleware returns next wrapped to send one event per request, named
// event (default "http.request"): method, route, status, bytes and
// duration_ms; level error for 5xx, warn for 4xx. The route is the ServeMux
// pattern that matched; a request no pattern matched (404, 405) is
// "unmatched", so probes of random paths stay one value; other routers'
// requests get the path with IDs replaced by ":id". Never the query string.
// The ResponseWriter passed on still flushes and hijacks (SSE, WebSockets).
func (c *Client) Middleware(event string, next http.Handler) http.Handler {
	return c.MiddlewareWith(MiddlewareOptions{Event: event}, next)
}

// MiddlewareOptions configure MiddlewareWith.
type MiddlewareOptions struct {
	// Event names the events (default "http.request").
	Event string
	// Route names the route of a request once it was served, for routers
	// other than ServeMux: chi's chi.RouteContext(r.Context()).RoutePattern(),
	// gorilla's mux.CurrentRoute(r).GetPathTemplate(), echo's c.Path(). An
	// empty result falls back to the rules of Middleware.
	Route func(r *http.Request) string
	// Skip, when it returns true, sends no event for the request (health
	// checks, metrics scrapes).
	Skip func(r *http.Request) bool
}

// MiddlewareWith is Middleware with options: a route function for other
// routers and requests to skip.
func (c *Client) MiddlewareWith(opts MiddlewareOptions, next http.Handler) http.Handler {
	event := opts.Event
	if event == "" {
		event = "http.request"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.Skip != nil && opts.Skip(r) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			route := r.Pattern // set by ServeMux on this request when it routed it
			if route == "" && opts.Route != nil {
				route = opts.Route(r)
			}
			switch {
			case route != "":
			case rw.status == http.StatusNotFound || rw.status == http.StatusMethodNotAllowed:
				route = "unmatched"
			default:
				route = routeTemplate(r.URL.Path)
			}
			level := LevelInfo
			switch {
			case rw.status >= 500:
				level = LevelError
			case rw.status >= 400:
				level = LevelWarn
			}
			if p := recover(); p != nil {
				level, rw.status = LevelError, http.StatusInternalServerError
				defer panic(p)
			}
			c.push(level, event, "", start, c.ids(r.Context()), attrSet{add: []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", rw.status),
				slog.Int64("bytes", rw.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}})
		}()
		next.ServeHTTP(rw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush makes the writer an http.Flusher, as handlers that stream (SSE)
// assert; it does nothing where the underlying writer cannot flush.
func (w *statusWriter) Flush() {
	w.wroteHeader = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack makes the writer an http.Hijacker (WebSockets); it fails where the
// underlying writer cannot hijack.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, rw, err
}

// Transport returns base (http.DefaultTransport when nil) wrapped to send
// one event per outbound request, named event (default "http.client"):
// host, method, status, duration_ms and, on failure, error_class (timeout,
// canceled, dns, refused, reset, tls, other); level error for failures and
// 5xx, warn for 4xx. Paths and query strings, which often carry keys, are
// never sent.
func (c *Client) Transport(event string, base http.RoundTripper) http.RoundTripper {
	if event == "" {
		event = "http.client"
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, event: event, base: base}
}

type transport struct {
	c     *Client
	event string
	base  http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	attrs := []slog.Attr{slog.String("host", r.URL.Host), slog.String("method", r.Method)}
	level := LevelInfo
	switch {
	case err != nil:
		level = LevelError
		attrs = append(attrs, slog.String("error_class", errorClass(err)), slog.String("error", scrubURLs(err.Error())))
	case resp.StatusCode >= 500:
		level = LevelError
	case resp.StatusCode >= 400:
		level = LevelWarn
	}
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	attrs = append(attrs, slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	t.c.push(level, t.event, "", start, t.c.ids(r.Context()), attrSet{add: attrs})
	return resp, err
}

// errorClass names what kind of failure err is, for grouping in queries.
func errorClass(err error) string {
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.As(err, &tlsErr), errors.As(err, &recordErr):
		return "tls"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}
