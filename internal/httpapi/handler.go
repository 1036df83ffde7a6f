// Package httpapi serves the event API v1 over HTTP: it reads and decodes
// request bodies, validates events, builds Loki entries and hands them to a
// Forwarder, answering with the documented status codes and JSON bodies. It
// imports no Alloy internals; the component wires it to Alloy's fan-out.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/refine"
)

// Paths served by the API.
const (
	PathEvents   = "/v1/events"
	PathValidate = "/v1/events/validate"
	PathHealth   = "/healthz"
)

// Forwarder hands entries downstream. It returns how many entries, from the
// start of the slice, every receiver took before ctx ended; the rest were not
// forwarded.
type Forwarder interface {
	Forward(ctx context.Context, entries []refine.Entry) (int, error)
}

// Config is the hot-swappable part of the handler's configuration.
type Config struct {
	MaxRequestBytes int64
	Limits          event.Limits
	Builder         *refine.Builder
	// ForwardTimeout bounds how long a request waits for the downstream.
	ForwardTimeout time.Duration
}

// Handler serves the API. Its configuration can be swapped while it serves.
type Handler struct {
	cfg     atomic.Pointer[Config]
	fwd     Forwarder
	metrics *Metrics
	logger  *slog.Logger
	body    bodyReader
	now     func() time.Time
}

// New returns a Handler; cfg can later be replaced with SetConfig.
func New(cfg Config, fwd Forwarder, metrics *Metrics, logger *slog.Logger) *Handler {
	h := &Handler{fwd: fwd, metrics: metrics, logger: logger, now: time.Now}
	h.SetConfig(cfg)
	return h
}

// SetConfig atomically replaces the configuration; requests already being
// served finish with the configuration they started with.
func (h *Handler) SetConfig(cfg Config) {
	h.cfg.Store(&cfg)
}

// Events returns the handler of POST /v1/events.
func (h *Handler) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, false) })
}

// Validate returns the handler of POST /v1/events/validate.
func (h *Handler) Validate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, true) })
}

// Health returns the handler of GET /healthz, for load balancer checks.
func (h *Handler) Health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.reject(w, "healthz", methodNotAllowed("GET, HEAD"))
			return
		}
		h.metrics.requests.WithLabelValues("healthz", "200").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, dryRun bool) {
	endpoint := "events"
	if dryRun {
		endpoint = "validate"
	}
	if r.Method != http.MethodPost {
		h.reject(w, endpoint, methodNotAllowed(http.MethodPost))
		return
	}
	cfg := h.cfg.Load()
	received := h.now()

	format, aerr := formatOf(r.Header.Get("Content-Type"))
	if aerr != nil {
		h.reject(w, endpoint, aerr)
		return
	}
	buf, wireBytes, aerr := h.body.read(r, cfg.MaxRequestBytes)
	h.metrics.receivedBytes.Add(float64(wireBytes))
	if aerr != nil {
		h.reject(w, endpoint, aerr)
		return
	}
	h.metrics.decodedBytes.Add(float64(buf.Len()))
	items, err := event.Decode(format, buf.Bytes(), cfg.Limits)
	h.body.pool.put(buf) // decoded events hold no reference to the buffer
	if err != nil {
		h.reject(w, endpoint, payloadError(err))
		return
	}

	resp := Response{Errors: []ErrorItem{}}
	entries := make([]refine.Entry, 0, len(items))
	indexes := make([]int, 0, len(items)) // request index of each entry
	for i := range items {
		it := &items[i]
		if !it.OK() {
			resp.Rejected++
			for _, fe := range it.Errors {
				resp.Errors = append(resp.Errors, ErrorItem{Index: &i, Field: fe.Field, Code: fe.Code, Reason: fe.Reason})
			}
			if dryRun {
				resp.Results = append(resp.Results, Result{Index: i, Errors: it.Errors})
			} else {
				h.metrics.rejected.WithLabelValues(string(it.Errors[0].Code)).Inc()
			}
			continue
		}
		e := cfg.Builder.Build(&it.Event, received)
		if dryRun {
			resp.Results = append(resp.Results, Result{Index: i, Accepted: true, Entry: viewOf(&e)})
		}
		entries = append(entries, e)
		indexes = append(indexes, i)
	}

	switch {
	case len(entries) == 0:
		h.finish(w, endpoint, http.StatusBadRequest, resp)
		return
	case dryRun:
		resp.Accepted = len(entries)
		h.finish(w, endpoint, http.StatusOK, resp)
		return
	}

	forwarded, ferr := h.forward(r.Context(), cfg, entries)
	resp.Accepted = forwarded
	h.metrics.accepted.Add(float64(forwarded))
	for _, e := range entries[:forwarded] {
		h.metrics.timestamps.WithLabelValues(e.TimestampSource.String()).Inc()
	}
	if forwarded < len(entries) {
		notForwarded := len(entries) - forwarded
		h.metrics.notForwarded.Add(float64(notForwarded))
		h.logger.Warn("downstream did not take events in time; answering 503",
			"forwarded", forwarded, "not_forwarded", notForwarded, "forward_timeout", cfg.ForwardTimeout, "err", ferr)
		reason := fmt.Sprintf("not forwarded: the downstream did not take the event within forward_timeout (%s); retry it", cfg.ForwardTimeout)
		if errors.Is(ferr, context.Canceled) {
			reason = "not forwarded: the request was canceled"
		}
		for _, idx := range indexes[forwarded:] {
			resp.Errors = append(resp.Errors, ErrorItem{Index: &idx, Code: CodeNotForwarded, Reason: reason})
		}
		w.Header().Set("Retry-After", retryAfter(cfg.ForwardTimeout))
		h.finish(w, endpoint, http.StatusServiceUnavailable, resp)
		return
	}
	h.finish(w, endpoint, http.StatusAccepted, resp)
}

// forward hands entries downstream, waiting at most cfg.ForwardTimeout.
func (h *Handler) forward(ctx context.Context, cfg *Config, entries []refine.Entry) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.ForwardTimeout)
	defer cancel()
	start := time.Now()
	n, err := h.fwd.Forward(ctx, entries)
	h.metrics.forwardWait.Observe(time.Since(start).Seconds())
	return n, err
}

func (h *Handler) reject(w http.ResponseWriter, endpoint string, e *apiError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	h.logger.Debug("rejected request", "endpoint", endpoint, "status", e.status, "field", e.field, "reason", e.reason)
	h.finish(w, endpoint, e.status, e.response())
}

func (h *Handler) finish(w http.ResponseWriter, endpoint string, status int, resp Response) {
	h.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	writeJSON(w, status, resp)
}

func methodNotAllowed(allow string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, reason: "method not allowed; use " + allow,
		header: http.Header{"Allow": {allow}}}
}

func payloadError(err error) *apiError {
	var pe *event.PayloadError
	if !errors.As(err, &pe) {
		return &apiError{status: http.StatusBadRequest, reason: err.Error()}
	}
	if pe.Kind == event.PayloadTooManyEvents {
		return &apiError{status: http.StatusRequestEntityTooLarge, field: pe.Field, code: event.CodeTooMany, reason: pe.Reason}
	}
	return &apiError{status: http.StatusBadRequest, field: pe.Field, reason: pe.Reason}
}
