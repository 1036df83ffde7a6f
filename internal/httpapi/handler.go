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
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/alloy/curated/internal/access"
	"github.com/grafana/alloy/curated/internal/admission"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/rules"
	"github.com/grafana/alloy/curated/internal/useragent"
)

// endpointEvents names /v1/events in metrics; /v1/events/validate is "validate".
const endpointEvents = "events"

// Paths served by the API.
const (
	PathEvents   = "/v1/events"
	PathValidate = "/v1/events/validate"
	PathHealth   = "/healthz"
)

// Forwarder hands entries downstream. It returns how many entries, from the
// start of the slice, every receiver took before ctx ended or wait passed;
// the rest were not forwarded. The wait is an argument rather than ctx's
// deadline because a deadline context costs a timer and its registration
// with the request's context on every request, and most sends never wait.
type Forwarder interface {
	Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error)
}

// Unavailable is a Forwarder's refusal of a request's entries for a reason
// the client should hear (a full or failing spool) rather than a slow
// downstream: none of them was taken, and the client may retry after
// RetryAfter.
type Unavailable struct {
	Reason     string
	RetryAfter time.Duration
	Err        error
}

func (u *Unavailable) Error() string { return u.Reason + ": " + u.Err.Error() }
func (u *Unavailable) Unwrap() error { return u.Err }

// Config is the hot-swappable part of the handler's configuration.
type Config struct {
	MaxRequestBytes int64
	Limits          event.Limits
	// Rules refine events before entries are built; nil applies none.
	Rules   *rules.Pipeline
	Builder *entry.Builder
	// ForwardTimeout bounds how long a request waits for the downstream.
	ForwardTimeout time.Duration
	// BrowserAttribute names the attribute that gets the sender's browser
	// ("Chrome 131") on requests from browsers, unless the event has it;
	// "" adds none.
	BrowserAttribute string
	// MaxClockSkew is the largest sender clock skew (measured from an
	// envelope's sent_at) that is corrected; 0 corrects none.
	MaxClockSkew time.Duration

	// Access decides who may call the API; nil means open.
	Access *access.Policy
	// IPRate (requests per second, 0 for none) and IPBurst limit each
	// client address.
	IPRate  float64
	IPBurst int
	// MaxConcurrent and MaxInflightBytes (0 for none) cap the requests and
	// the memory they reserve (bodies as they arrive, then their decoded
	// events) at once; past them requests get 503. Each client has its own
	// share of both (access.ClientConfig).
	MaxConcurrent    int64
	MaxInflightBytes int64
	// BodyTimeout bounds reading a request body; after the first seconds
	// the body must also arrive at MinBodyRate bytes per second (0 for no
	// minimum). Slower bodies get 408.
	BodyTimeout time.Duration
	MinBodyRate int64
	// CORSMaxAge is how long browsers may cache a preflight answer.
	CORSMaxAge time.Duration
	// Tenant is the Loki tenant of an open API's entries; clients carry
	// their own.
	Tenant string
	// Check, when set, is asked by GET /healthz: an error answers 503
	// with its text, so a load balancer stops sending events this
	// process cannot keep.
	Check func() error
}

// Handler serves the API. Its configuration can be swapped while it serves.
type Handler struct {
	cfg     atomic.Pointer[Config]
	fwd     Forwarder
	metrics *Metrics
	logger  *slog.Logger
	body    bodyReader
	now     func() time.Time

	limiter   *access.Limiter       // outlives configurations
	admission *admission.Controller // likewise
	tally     *tally                // what Report tells, likewise
	warnOpen  sync.Once
}

// New returns a Handler; cfg can later be replaced with SetConfig.
func New(cfg Config, fwd Forwarder, metrics *Metrics, logger *slog.Logger) *Handler {
	h := &Handler{fwd: fwd, metrics: metrics, logger: logger, now: time.Now, limiter: access.NewLimiter(),
		admission: admission.NewController(), tally: newTally(time.Now())}
	h.SetConfig(cfg)
	return h
}

// SetConfig atomically replaces the configuration; requests already being
// served finish with the configuration they started with. Rate limit
// buckets keep their levels.
func (h *Handler) SetConfig(cfg Config) {
	if cfg.Access == nil {
		cfg.Access, _ = access.NewPolicy(nil, nil)
	}
	if cfg.Access.Open() {
		h.warnOpen.Do(func() {
			h.logger.Warn("no client blocks: the event API accepts requests without an API key; configure clients before exposing it")
		})
	}
	h.limiter.Configure(cfg.Access.Clients(), cfg.IPRate, cfg.IPBurst)
	h.cfg.Store(&cfg)
}

// Route is one path the API serves.
type Route struct {
	Path string
	// Name is the route's name in metrics (dskit's form: the path with its
	// separators replaced).
	Name    string
	Handler http.Handler
}

// Routes are every path the API serves: the one list the component's
// server and the tests mount.
func (h *Handler) Routes() []Route {
	return []Route{
		{PathEvents, "v1_events", h.Events()},
		{PathValidate, "v1_events_validate", h.Validate()},
		{PathHealth, "healthz", h.Health()},
	}
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
			h.reject(w, "healthz", clientNone, methodNotAllowed("GET, HEAD"))
			return
		}
		if check := h.cfg.Load().Check; check != nil {
			if err := check(); err != nil {
				h.metrics.requests.WithLabelValues("healthz", "503").Inc()
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
				return
			}
		}
		h.metrics.requests.WithLabelValues("healthz", "200").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Values of the client label before a request is authenticated and for
// an open API.
const (
	clientNone      = "unknown"
	clientAnonymous = "anonymous"
)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, dryRun bool) {
	endpoint := endpointEvents
	if dryRun {
		endpoint = "validate"
	}
	cfg := h.cfg.Load()
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions {
		h.preflight(w, endpoint, cfg, origin)
		return
	}
	if origin != "" && cfg.Access.OriginAllowed(origin) {
		setCORSHeaders(w.Header(), origin)
	}
	c := call{w: w, r: r, cfg: cfg, origin: origin, dryRun: dryRun, client: clientNone}
	a, err := h.handle(&c)
	if err != nil {
		// Refused before its body was read, a request is answered on a
		// connection that closes: otherwise net/http drains the unread body
		// before it answers, waiting on whatever the client trickles.
		// (HTTP/2 resets the stream instead and has no such header.)
		if !c.bodyRead && r.ProtoMajor == 1 && r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
		h.reject(w, endpoint, c.client, err)
		return
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	h.finish(w, endpoint, c.client, a.meaning, a.body)
}

// call is one request on its way through handle's steps: what they all
// read, and what they learn on the way.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	cfg    *Config
	origin string
	dryRun bool
	// client is the client label of the metrics: clientNone until
	// identify knows who sent the request.
	client string
	// bodyRead is set once the whole body is in.
	bodyRead bool
}

// answer is what a request that got through its steps is told.
type answer struct {
	meaning
	body   Response
	header http.Header
}

// What a request whose events were decided is answered with, when no single
// code says it.
var (
	answerAccepted  = meaning{http.StatusAccepted, outcomeAccepted}
	answerValidated = meaning{http.StatusOK, outcomeValidated}
	answerInvalid   = meaning{http.StatusBadRequest, outcomeInvalid} // every event refused
)

// handle runs a request's steps in order: admission, identification,
// decoding, deciding each event's outcome (decide.go), reporting it and
// forwarding. Each step returns an error value; serve alone writes the
// answer.
func (h *Handler) handle(c *call) (answer, *apiError) {
	cfg, r, dryRun := c.cfg, c.r, c.dryRun
	if r.Method != http.MethodPost {
		return answer{}, methodNotAllowed("POST, OPTIONS")
	}
	ticket, refused := h.admission.Enter(admission.Limits{Requests: cfg.MaxConcurrent, Bytes: cfg.MaxInflightBytes})
	if refused != nil {
		return answer{}, h.refused(refused)
	}
	// The admission ticket stays a parameter: kept in c, it would escape
	// to the heap (an allocation per request).
	defer ticket.Release()

	received := h.now()
	client, err := h.identify(c, ticket, received)
	if err != nil {
		return answer{}, err
	}
	items, sentAt, err := h.decode(c, ticket, time.Now())
	if err != nil {
		return answer{}, err
	}
	req := request{received: received, offset: h.clockOffset(cfg, sentAt, received, dryRun)}
	if cfg.BrowserAttribute != "" {
		req.browser = useragent.Browser(r.Header.Get("User-Agent"))
	}
	decisions := decide(cfg, client, items, req, dryRun)
	var (
		rep        reporter = eventsReporter{h.metrics, h.tally}
		validation *validateReporter
	)
	if dryRun {
		validation = &validateReporter{}
		rep = validation
	}
	sum := summarize(decisions, rep)
	resp := sum.resp
	if dryRun {
		resp.Results = validation.results
	}
	switch {
	case len(sum.entries) == 0 && sum.forbidden:
		return answer{meaning: meanings[event.CodeForbidden], body: resp}, nil
	case len(sum.entries) == 0 && resp.Dropped == 0:
		return answer{meaning: answerInvalid, body: resp}, nil
	case dryRun:
		resp.Accepted = len(sum.entries)
		return answer{meaning: answerValidated, body: resp}, nil
	case len(sum.entries) == 0: // every valid event was dropped by a rule
		return answer{meaning: answerAccepted, body: resp}, nil
	}

	forwarded, ferr := h.forward(r.Context(), cfg, sum.entries)
	resp.Accepted = forwarded
	rep.forwarded(sum.entries, forwarded)
	if forwarded == len(sum.entries) {
		return answer{meaning: answerAccepted, body: resp}, nil
	}
	notForwarded := len(sum.entries) - forwarded
	reason := fmt.Sprintf("not forwarded: the downstream did not take the event within forward_timeout (%s); retry it", cfg.ForwardTimeout)
	wait := cfg.ForwardTimeout
	var unavailable *Unavailable
	switch {
	case errors.As(ferr, &unavailable):
		reason, wait = "not accepted: "+unavailable.Reason+"; retry it", unavailable.RetryAfter
		h.logger.Warn("events refused; answering 503", "client", c.client, "not_forwarded", notForwarded, "err", ferr)
	case errors.Is(ferr, context.Canceled):
		reason = "not forwarded: the request was canceled"
		fallthrough
	default:
		h.logger.Warn("downstream did not take events in time; answering 503",
			"client", c.client, "forwarded", forwarded, "not_forwarded", notForwarded, "forward_timeout", cfg.ForwardTimeout, "err", ferr)
	}
	for _, idx := range sum.indexes[forwarded:] {
		resp.Errors = append(resp.Errors, ErrorItem{Index: &idx, Code: event.CodeNotForwarded, Reason: reason})
	}
	return answer{meaning: meanings[event.CodeNotForwarded], body: resp,
		header: http.Header{"Retry-After": {retryAfter(wait)}}}, nil
}

// identify applies the per-address limit, authenticates the request and
// its origin, and applies the client's limits: its rate and its share of
// what is in flight (and, for browser keys, the address's share). It sets
// c.client once the client is known.
func (h *Handler) identify(c *call, ticket *admission.Ticket, received time.Time) (*access.Client, *apiError) {
	cfg, r, origin := c.cfg, c.r, c.origin
	ip := cfg.Access.ClientIP(r)
	if ok, wait := h.limiter.AllowIP(ip, received); !ok {
		h.metrics.throttled.WithLabelValues("ip").Inc()
		h.tally.add("throttled_ip", 1)
		return nil, rateLimited("this address", wait)
	}
	client, denial := cfg.Access.Authenticate(r)
	if denial == nil {
		denial = client.CheckOrigin(origin)
	}
	if denial != nil {
		e := refuse(denial.Code, denial.Field, denial.Reason)
		if denial.Code == event.CodeForbiddenOrigin && origin != "" {
			// The page may read this refusal, and only this: a browser SDK
			// then reports a wrong allowed_origins instead of retrying what
			// looks like a network error. It holds no data but the refusal.
			e.header = http.Header{}
			setCORSHeaders(e.header, origin)
		}
		return nil, e
	}
	c.client = clientAnonymous
	if client != nil {
		c.client = client.Name
	}
	if ok, wait := h.limiter.AllowClient(client, received); !ok {
		h.metrics.throttled.WithLabelValues("client").Inc()
		h.tally.add("throttled_client", 1)
		return nil, rateLimited("this client", wait)
	}
	if client == nil {
		return client, nil
	}
	refused := ticket.Join(admission.Client, client.Name, client.InFlight)
	if refused == nil && client.Browser {
		refused = ticket.Join(admission.Address, client.Name+"/"+ip.String(), client.AddressInFlight)
	}
	if refused != nil {
		return nil, h.refused(refused)
	}
	return client, nil
}

// decode reads and decodes the body. Memory is reserved on the ticket
// before it is used: the body as it arrives, then what decoding it will
// take. The body's clock starts at start, on the wall clock (h.now is the
// events' clock). sentAt is the envelope's sent_at, zero without one.
func (h *Handler) decode(c *call, ticket *admission.Ticket, start time.Time) (items []event.Item, sentAt time.Time, aerr *apiError) {
	w, r, cfg := c.w, c.r, c.cfg
	format, aerr := formatOf(r.Header.Get("Content-Type"))
	if aerr != nil {
		return nil, time.Time{}, aerr
	}
	lim := bodyLimits{maxBytes: cfg.MaxRequestBytes, timeout: cfg.BodyTimeout, minRate: cfg.MinBodyRate}
	reserve := func(n int64) *apiError {
		if refused := ticket.Reserve(n); refused != nil {
			return h.refused(refused)
		}
		return nil
	}
	buf, wireBytes, aerr := h.body.read(w, r, lim, reserve, start)
	h.metrics.receivedBytes.Add(float64(wireBytes))
	if aerr != nil {
		if aerr.code == event.CodeSlowBody {
			h.metrics.throttled.WithLabelValues(string(event.CodeSlowBody)).Inc()
		}
		return nil, time.Time{}, aerr
	}
	defer h.body.pool.put(buf) // decoded events hold no reference to the buffer
	c.bodyRead = true
	h.metrics.decodedBytes.Add(float64(buf.Len()))
	batch, err := event.Scan(format, buf.Bytes(), cfg.Limits)
	if err != nil {
		return nil, time.Time{}, payloadError(err)
	}
	if aerr := reserve(batch.Cost()); aerr != nil {
		return nil, time.Time{}, aerr
	}
	return batch.Items(), batch.SentAt(), nil
}

// refused counts a refusal by an in-flight limit and words the answer:
// 503 for the API's own limits, 429 for a client's or an address's share
// (the client itself is sending too much), 413 when the request alone needs
// more memory than its share and retrying cannot help.
func (h *Handler) refused(r *admission.Refusal) *apiError {
	h.metrics.throttled.WithLabelValues(r.Metric()).Inc()
	h.tally.add("throttled_"+r.Metric(), 1)
	return refusalError(r)
}

func refusalError(r *admission.Refusal) *apiError {

	limit := map[bool]string{false: "max_concurrent_requests", true: "max_inflight_bytes"}[r.Bytes]
	switch {
	case r.Never:
		return refuse(event.CodeTooLarge, "",
			fmt.Sprintf("decoding this request needs more memory than %s of the %s (%d bytes); send fewer or larger values per request",
				limit, r.Scope, r.Limit))
	case r.Scope == admission.Global:
		return refuse(event.CodeOverloaded, "", "the server is at its limit of concurrent requests or in-flight bytes; retry shortly").
			withHeader(http.Header{"Retry-After": {"1"}})
	default:
		who := map[admission.Scope]string{admission.Client: "this client", admission.Address: "this client's address"}[r.Scope]
		if r.Scope == admission.Address {
			limit += "_per_address"
		}
		return refuse(event.CodeRateLimited, "", fmt.Sprintf("%s has reached its %s (%d); retry after the Retry-After seconds", who, limit, r.Limit)).
			withHeader(http.Header{"Retry-After": {"1"}})
	}
}

// preflight answers a CORS preflight. Preflights carry no API key, so any
// origin that some client allows passes; the actual request is checked
// against its own client's origins.
func (h *Handler) preflight(w http.ResponseWriter, endpoint string, cfg *Config, origin string) {
	if origin == "" || !cfg.Access.OriginAllowed(origin) {
		h.reject(w, endpoint, clientNone, refuse(event.CodeForbiddenOrigin, "Origin", fmt.Sprintf("origin %q is not allowed", origin)))
		return
	}
	hdr := w.Header()
	setCORSHeaders(hdr, origin)
	hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hdr.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, X-API-Key, Authorization")
	hdr.Set("Access-Control-Max-Age", strconv.Itoa(int(cfg.CORSMaxAge/time.Second)))
	h.metrics.requests.WithLabelValues(endpoint, "204").Inc()
	w.WriteHeader(http.StatusNoContent)
}

func setCORSHeaders(hdr http.Header, origin string) {
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Add("Vary", "Origin")
	hdr.Set("Access-Control-Expose-Headers", "Retry-After")
}

func rateLimited(who string, wait time.Duration) *apiError {
	return refuse(event.CodeRateLimited, "", fmt.Sprintf("rate limit exceeded for %s; retry after the Retry-After seconds", who)).
		withHeader(http.Header{"Retry-After": {retryAfter(wait)}})
}

// clockOffset measures the sender's clock skew from sent_at (see
// entry.ClockOffset) and counts it; a dry run counts nothing.
func (h *Handler) clockOffset(cfg *Config, sentAt, received time.Time, dryRun bool) time.Duration {
	offset, outcome := entry.ClockOffset(sentAt, received, cfg.MaxClockSkew)
	if outcome == "" || dryRun {
		return offset
	}
	h.metrics.clockSkew.Observe(received.Sub(sentAt).Abs().Seconds())
	h.metrics.clockCorrections.WithLabelValues(outcome).Inc()
	if outcome != entry.SkewNone {
		h.tally.add("clock_"+outcome, 1)
	}
	return offset
}

// forward hands entries downstream, waiting at most cfg.ForwardTimeout.
func (h *Handler) forward(ctx context.Context, cfg *Config, entries []entry.Entry) (int, error) {
	start := time.Now()
	n, err := h.fwd.Forward(ctx, entries, cfg.ForwardTimeout)
	h.metrics.forwardWait.Observe(time.Since(start).Seconds())
	return n, err
}

func (h *Handler) reject(w http.ResponseWriter, endpoint, client string, e *apiError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	h.logger.Debug("rejected request", "endpoint", endpoint, "client", client, "status", e.status, "field", e.field, "code", e.code)
	h.finish(w, endpoint, client, e.meaning, e.response())
}

func (h *Handler) finish(w http.ResponseWriter, endpoint, client string, m meaning, resp Response) {
	h.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(m.status)).Inc()
	if endpoint == endpointEvents {
		h.tally.request(client, m.status)
	}
	h.metrics.clientRequests.WithLabelValues(client, m.outcome).Inc()
	writeResponse(w, m.status, resp)
}

func methodNotAllowed(allow string) *apiError {
	return refuse(event.CodeMethodNotAllowed, "", "method not allowed; use "+allow).withHeader(http.Header{"Allow": {allow}})
}

func payloadError(err error) *apiError {
	var pe *event.PayloadError
	if !errors.As(err, &pe) {
		return refuse(event.CodeMalformed, "", err.Error())
	}
	if pe.Kind == event.PayloadTooManyEvents {
		return refuse(event.CodeTooMany, pe.Field, pe.Reason)
	}
	return refuse(event.CodeMalformed, pe.Field, pe.Reason)
}
