// Package curated sends events to alloy-curated's event API
// (loki.source.curated_api, docs/api.md) from Go services: a client that
// never blocks its caller, a slog.Handler, and wrappers for functions, HTTP
// handlers and outbound HTTP calls. It uses only the standard library.
//
//	c, err := curated.New(curated.Config{Endpoint: "https://events.example.com", Key: key, Service: "collabmaker"})
//	defer c.Close(context.Background()) // at most Config.CloseTimeout (5 s)
//	c.Track(ctx, "form.submit", slog.Int("step", 3))
package curated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level is an event's level as the API names it.
type Level string

// Levels.
const (
	LevelDebug Level = "debug"
	LevelInfo  Level = "info"
	LevelWarn  Level = "warn"
	LevelError Level = "error"
	LevelFatal Level = "fatal"
)

// DropPolicy says which events a full queue gives up.
type DropPolicy int

const (
	// DropOldest makes room for the new event (the default): during an
	// outage the newest events, which describe the outage, survive.
	DropOldest DropPolicy = iota
	// DropNewest keeps what is queued and refuses the new event.
	DropNewest
)

// Config configures a Client. Only Endpoint is required.
type Config struct {
	// Endpoint is the API's base URL (https://events.example.com) or the
	// full URL of POST /v1/events.
	Endpoint string
	// Key is the API key, sent as X-API-Key. Empty for an open API.
	Key string
	// Service names the sender; it becomes the service label.
	Service string
	// Attributes are added to every event (the request envelope's context).
	Attributes []slog.Attr

	// MaxQueueEvents and MaxQueueBytes bound what waits to be sent
	// (defaults 10,000 events, 8 MiB). Past them, Policy decides.
	MaxQueueEvents int
	MaxQueueBytes  int
	Policy         DropPolicy

	// BatchEvents and BatchBytes bound one request (defaults 250 events and
	// 512 KiB, under the API's defaults of 500 and 1 MiB); FlushInterval is
	// how long the first queued event waits for company (default 1 s).
	BatchEvents   int
	BatchBytes    int
	FlushInterval time.Duration
	// MaxEventBytes refuses larger events before they are queued (default
	// 32 KiB, the API's max_event_bytes); MaxAttributes, events with more
	// top-level attributes (default 64, the API's max_attributes).
	MaxEventBytes int
	MaxAttributes int

	// DisableGzip sends bodies uncompressed.
	DisableGzip bool
	// MaxRetries is how often one request is retried after the API
	// answered 408, 429 or 5xx before its events are dropped (default 10;
	// backoff from MinBackoff doubling to MaxBackoff, with jitter, or
	// Retry-After). Network errors (the API unreachable) do not count: the
	// request waits for the API, and the queue behind it fills by Policy.
	MaxRetries int
	MinBackoff time.Duration // default 100 ms
	MaxBackoff time.Duration // default 30 s
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// CloseTimeout bounds Close (default 5 s), whatever its context says:
	// a Close(context.Background()) against a dead or hanging API still
	// returns within it, and reports what it gave up.
	CloseTimeout time.Duration
	// HTTPClient sends the requests. The default has its own transport
	// (closed by Close), so wrapping http.DefaultTransport with Transport
	// never loops back.
	HTTPClient *http.Client

	// TraceFunc, when set, gives the trace and span IDs of a context whose
	// events carry none from WithTrace: the hook for a tracing library
	// without importing one here. For OpenTelemetry:
	//
	//	TraceFunc: func(ctx context.Context) (string, string) {
	//		sc := trace.SpanContextFromContext(ctx)
	//		if !sc.IsValid() {
	//			return "", ""
	//		}
	//		return sc.TraceID().String(), sc.SpanID().String()
	//	},
	TraceFunc func(ctx context.Context) (traceID, spanID string)

	// BeforeSend, when set, sees every event before it is encoded and may
	// change it, or drop it by returning false (counted in Dropped and
	// reported as before_send). It runs on the caller's goroutine: keep it
	// quick. Attributes of a slog handler's With and groups arrive merged.
	BeforeSend func(e *Event) bool
	// Sample keeps events of the named events with the given probability
	// (0 to 1), client-side: {"page.view": 0.1} sends one page view in
	// ten. Sampled-out events are counted in Stats.Sampled, not Dropped.
	Sample map[string]float64
	// OnSent, when set, is told how many events the API accepted after each
	// answered request, on the sending goroutine.
	OnSent func(n int)

	// OnError, when set, is told about every event that will not reach
	// Loki: refused by the API (with index, field and code), dropped from a
	// full queue, given up after retries, or tracked after Close; and about
	// attributes left out because their LogValue, MarshalJSON, Error or
	// String method panicked (code attribute_dropped: the event was sent).
	// It runs on the client's sending goroutine (after Close: on the
	// goroutine that tracked): keep it quick.
	OnError func(Error)
}

// Error describes events that will not reach Loki.
type Error struct {
	Code   string // the API's error code, or queue_full, closed, gave_up, invalid_event, attribute_dropped
	Event  string // the event's name, when one event is meant
	Index  int    // the event's position in its request (the API's index); -1 when not one event
	Field  string // the field at fault, as the API names it
	Reason string
	Count  int // how many events this is about (attribute_dropped: how many attributes)
}

func (e Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("curated: %d event(s) %s: %s: %s", e.Count, e.Code, e.Field, e.Reason)
	}
	return fmt.Sprintf("curated: %d event(s) %s: %s", e.Count, e.Code, e.Reason)
}

// Stats counts what happened to the client's events. Every event counts
// once in Tracked and, once settled, once in Sent, Rejected, Dropped or
// Sampled: Tracked = Sent + Rejected + Dropped + Sampled + Pending at every
// moment, and Pending is 0 once Close has returned.
type Stats struct {
	Tracked  uint64 // every event given to the client (Track, Log, Send, the handler, the wrappers)
	Sent     uint64 // accepted by the API (202)
	Rejected uint64 // refused by the API (4xx per event or request)
	Dropped  uint64 // never sent: invalid, queue full, given up, or tracked after Close
	Sampled  uint64 // left out by Config.Sample, on purpose
	Pending  uint64 // queued or in flight
	Queued   int    // waiting in the queue now (not in flight)
	Retries  uint64 // requests sent again
	// DroppedAttributes counts attributes left out because their value's
	// own code panicked (the events were sent without them).
	DroppedAttributes uint64
}

// Client queues events and sends them in batches from one goroutine. It is
// safe for concurrent use; Track never blocks.
type Client struct {
	cfg      Config
	url      string
	context  []byte // the envelope's context object
	q        queue
	flushReq chan chan struct{}
	closing  chan struct{}
	done     chan struct{}
	abort    context.CancelFunc
	closed   atomic.Bool
	once     sync.Once

	tracked, sent, rejected, dropped, retries atomic.Uint64
	sampled                                   atomic.Uint64
	gaveUp                                    atomic.Uint64 // dropped by the sender: given up or left at Close
	queueDrops, closedDrops, beforeSendDrops  atomic.Uint64 // reported by the sender
	invalid                                   [len(invalidFields)]atomic.Uint64
	attrDrops, attrPending                    atomic.Uint64   // cumulative; to report
	ownTransport                              *http.Transport // closed by Close
}

// New validates cfg, applies defaults and starts the sending goroutine.
func New(cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var ownTransport *http.Transport
	if cfg.HTTPClient == nil {
		ownTransport = newTransport()
		cfg.HTTPClient = &http.Client{Transport: ownTransport}
	}
	c := &Client{
		cfg:          cfg,
		ownTransport: ownTransport,
		url:          endpointURL(cfg.Endpoint),
		flushReq:     make(chan chan struct{}),
		closing:      make(chan struct{}),
		done:         make(chan struct{}),
	}
	c.q.init(cfg.MaxQueueEvents, cfg.MaxQueueBytes, cfg.Policy)
	c.q.batchSize = cfg.BatchEvents
	c.context = envelopeContext(cfg.Service, cfg.Attributes)
	ctx, cancel := context.WithCancel(context.Background())
	c.abort = cancel
	go c.run(ctx)
	return c, nil
}

func (cfg *Config) defaults() error {
	if cfg.Endpoint == "" {
		return errors.New("curated: Config.Endpoint is required")
	}
	if !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
		return fmt.Errorf("curated: Config.Endpoint %q: want an http:// or https:// URL", cfg.Endpoint)
	}
	if cfg.Service != "" && !validName(cfg.Service) {
		return fmt.Errorf("curated: Config.Service %q: 1-128 of A-Z a-z 0-9 _ . : -", cfg.Service)
	}
	setInt := func(p *int, def int) {
		if *p <= 0 {
			*p = def
		}
	}
	setInt(&cfg.MaxQueueEvents, 10000)
	setInt(&cfg.MaxQueueBytes, 8<<20)
	setInt(&cfg.BatchEvents, 250)
	setInt(&cfg.BatchBytes, 512<<10)
	setInt(&cfg.MaxEventBytes, 32<<10)
	setInt(&cfg.MaxAttributes, 64)
	setInt(&cfg.MaxRetries, 10)
	setDur := func(p *time.Duration, def time.Duration) {
		if *p <= 0 {
			*p = def
		}
	}
	setDur(&cfg.FlushInterval, time.Second)
	setDur(&cfg.MinBackoff, 100*time.Millisecond)
	setDur(&cfg.MaxBackoff, 30*time.Second)
	setDur(&cfg.Timeout, 10*time.Second)
	setDur(&cfg.CloseTimeout, 5*time.Second)
	return nil
}

// newTransport is the client's own transport, with net/http's default
// settings. It is built, not cloned from http.DefaultTransport, which tests
// and libraries (httpmock, VCR recorders) replace with other types.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func endpointURL(e string) string {
	e = strings.TrimRight(e, "/")
	if strings.HasSuffix(e, "/v1/events") {
		return e
	}
	return e + "/v1/events"
}

// Track queues an info event. It never blocks: with the queue full, the
// drop policy decides, and the drop is counted and reported.
func (c *Client) Track(ctx context.Context, event string, attrs ...slog.Attr) {
	c.Log(ctx, LevelInfo, event, "", attrs...)
}

// Log queues an event with a level and a message.
func (c *Client) Log(ctx context.Context, level Level, event, message string, attrs ...slog.Attr) {
	c.push(level, event, message, time.Now(), c.ids(ctx), attrSet{add: attrs})
}

// Event is an event with every field the API knows; Send queues it.
type Event struct {
	Name       string
	Level      Level // default info
	Message    string
	Time       time.Time // default now
	Attributes []slog.Attr
	// IDs override those of the context (WithSession, WithUser,
	// WithAnonymous, WithTrace).
	SessionID, UserID, AnonymousID, TraceID, SpanID string
}

// Send queues e.
func (c *Client) Send(ctx context.Context, e Event) {
	if e.Level == "" {
		e.Level = LevelInfo
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	ids := c.ids(ctx)
	if e.SessionID != "" {
		ids.session = e.SessionID
	}
	if e.UserID != "" {
		ids.user = e.UserID
	}
	if e.AnonymousID != "" {
		ids.anonymous = e.AnonymousID
	}
	if e.TraceID != "" {
		ids.trace = e.TraceID
	}
	if e.SpanID != "" {
		ids.span = e.SpanID
	}
	c.push(e.Level, e.Name, e.Message, e.Time, ids, attrSet{add: e.Attributes})
}

// attrSet is an event's attributes: add, placed at the group path of base
// (the slog handler's With attributes and groups; both empty for Track).
type attrSet struct {
	base []slog.Attr
	path []string
	add  []slog.Attr
}

// merged is the attributes as one list (for BeforeSend).
func (a attrSet) merged() []slog.Attr {
	if len(a.base) == 0 && len(a.path) == 0 {
		return a.add
	}
	return mergeAt(a.base, a.path, a.add)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// push encodes the event once, on the caller's goroutine, and queues the
// bytes: the timestamp is fixed now, so a retried request carries the same
// Loki entry, which Loki stores once.
func (c *Client) push(level Level, event, message string, t time.Time, ids ids, attrs attrSet) {
	c.tracked.Add(1)
	if c.closed.Load() {
		c.dropClosed()
		return
	}
	if c.cfg.BeforeSend != nil {
		var ok bool
		if level, event, message, t, ids, attrs, ok = c.beforeSend(level, event, message, t, ids, attrs); !ok {
			c.drop(&c.beforeSendDrops, 1)
			return
		}
	}
	if !validName(event) {
		c.dropInvalid("event")
		return
	}
	if rate, ok := c.cfg.Sample[event]; ok && rand.Float64() >= rate {
		c.sampled.Add(1)
		return
	}
	if f := ids.invalid(); f != "" {
		c.dropInvalid(f)
		return
	}
	bp := bufPool.Get().(*[]byte)
	e := encoder{b: (*bp)[:0]}
	e.b = append(e.b, `{"event":`...)
	e.b = appendString(e.b, event)
	if level != LevelInfo && level != "" {
		e.b = append(e.b, `,"level":`...)
		e.b = appendString(e.b, string(level))
	}
	if message != "" {
		e.b = append(e.b, `,"message":`...)
		e.b = appendString(e.b, message)
	}
	e.b = append(e.b, `,"timestamp":`...)
	e.b = strconv.AppendInt(e.b, t.UnixMilli(), 10)
	e.b = ids.append(e.b)
	e.attributesMember(",", attrs)
	e.b = append(e.b, '}')
	var item []byte
	invalid := e.invalid
	switch {
	case invalid != "":
	case e.top > c.cfg.MaxAttributes:
		invalid = "attributes"
	case len(e.b) > c.cfg.MaxEventBytes:
		invalid = "event"
	default:
		item = append([]byte(nil), e.b...)
	}
	*bp = e.b
	bufPool.Put(bp)
	if e.dropped > 0 {
		c.attrDrops.Add(uint64(e.dropped))
		c.attrPending.Add(uint64(e.dropped))
	}
	if item == nil {
		c.dropInvalid(invalid)
		return
	}
	res, evicted := c.q.push(item)
	c.drop(&c.queueDrops, uint64(evicted))
	switch res {
	case refused:
		c.drop(&c.queueDrops, 1)
	case closed:
		c.dropClosed()
	}
}

// beforeSend runs Config.BeforeSend on a copy of the event (so the
// caller's attributes never escape to the heap when there is no hook).
func (c *Client) beforeSend(level Level, event, message string, t time.Time, v ids, attrs attrSet) (Level, string, string, time.Time, ids, attrSet, bool) {
	e := Event{Name: event, Level: level, Message: message, Time: t, Attributes: append([]slog.Attr(nil), attrs.merged()...),
		SessionID: v.session, UserID: v.user, AnonymousID: v.anonymous, TraceID: v.trace, SpanID: v.span}
	if !c.cfg.BeforeSend(&e) {
		return "", "", "", t, v, attrSet{}, false
	}
	if e.Level == "" {
		e.Level = LevelInfo
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return e.Level, e.Name, e.Message, e.Time, ids{e.SessionID, e.UserID, e.TraceID, e.SpanID, e.AnonymousID}, attrSet{add: e.Attributes}, true
}

// drop counts n events that will not be sent, and keeps them in pending
// until the sending goroutine reports them (callers must not run OnError).
func (c *Client) drop(pending *atomic.Uint64, n uint64) {
	if n > 0 {
		c.dropped.Add(n)
		pending.Add(n)
	}
}

// invalidFields are the fields an event is refused for before queueing.
var invalidFields = [...]string{"event", "session_id", "user_id", "anonymous_id", "trace_id", "span_id", "attributes"}

// dropInvalid counts an event the API would refuse for field.
func (c *Client) dropInvalid(field string) {
	for i, f := range invalidFields {
		if f == field {
			c.drop(&c.invalid[i], 1)
			return
		}
	}
	panic("curated: unknown field " + field) // a bug in this package
}

// dropClosed counts an event tracked after Close. Once the sending
// goroutine has ended, nobody else will report it: the caller does.
func (c *Client) dropClosed() {
	c.drop(&c.closedDrops, 1)
	select {
	case <-c.done:
		c.reportDrops()
	default:
	}
}

// Flush sends everything queued so far, tells OnError about what was
// dropped, and returns when it has been answered (or given up), or when
// ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.flushReq <- done:
	case <-c.done:
		return errors.New("curated: client closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends what is queued and stops the client, within ctx and at most
// Config.CloseTimeout (default 5 s): against a dead or hanging API it still
// returns in time, aborting the request in flight. What could not be sent
// is dropped, counted and reported to OnError, and Close returns it as an
// Error (code gave_up) — joined with ctx's error when ctx ended first.
// Events tracked after Close are dropped and counted, never blocking. The
// client's own transport's idle connections are closed.
func (c *Client) Close(ctx context.Context) error {
	before := c.gaveUp.Load()
	c.once.Do(func() {
		c.closed.Store(true)
		c.q.close()
		close(c.closing)
	})
	bound, cancel := context.WithTimeout(ctx, c.cfg.CloseTimeout)
	defer cancel()
	var ctxErr error
	select {
	case <-c.done:
	case <-bound.Done():
		ctxErr = ctx.Err()
		c.abort()
		<-c.done
	}
	c.reportDrops()
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	var err error
	if lost := c.gaveUp.Load() - before; lost > 0 {
		err = Error{Code: "gave_up", Index: -1, Reason: "not sent before Close returned", Count: int(lost)}
	}
	return errors.Join(ctxErr, err)
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	// Settled counts are read before Tracked, so Pending is never negative.
	sent, rejected, dropped, sampled := c.sent.Load(), c.rejected.Load(), c.dropped.Load(), c.sampled.Load()
	tracked := c.tracked.Load()
	queued, _ := c.q.status()
	return Stats{
		Tracked:           tracked,
		Sent:              sent,
		Rejected:          rejected,
		Dropped:           dropped,
		Sampled:           sampled,
		Pending:           tracked - sent - rejected - dropped - sampled,
		Queued:            queued,
		Retries:           c.retries.Load(),
		DroppedAttributes: c.attrDrops.Load(),
	}
}

// envelopeContext is the request envelope's context: the service and the
// attributes every event shares.
func envelopeContext(service string, attrs []slog.Attr) []byte {
	e := encoder{b: []byte{'{'}}
	sep := ""
	if service != "" {
		e.b = append(e.b, `"service":`...)
		e.b = appendString(e.b, service)
		sep = ","
	}
	e.attributesMember(sep, attrSet{add: attrs})
	return append(e.b, '}')
}

// attributesMember appends sep and an "attributes" member, unless no
// attribute has anything to say.
func (e *encoder) attributesMember(sep string, attrs attrSet) {
	if len(attrs.base) == 0 && len(attrs.add) == 0 {
		return
	}
	n := len(e.b)
	e.b = append(e.b, sep...)
	e.b = append(e.b, `"attributes":{`...)
	if e.members(attrs.base, attrs.path, attrs.add, 1, true) {
		e.b = e.b[:n]
		return
	}
	e.b = append(e.b, '}')
}
