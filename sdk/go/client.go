// Package curated sends events to alloy-curated's event API
// (loki.source.curated_api, docs/api.md) from Go services: a client that
// never blocks its caller, a slog.Handler, and wrappers for functions, HTTP
// handlers and outbound HTTP calls. It uses only the standard library.
//
//	c, err := curated.New(curated.Config{Endpoint: "https://events.example.com", Key: key, Service: "collabmaker"})
//	defer c.Close(context.Background())
//	c.Track(ctx, "form.submit", slog.Int("step", 3))
package curated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// 32 KiB, the API's max_event_bytes).
	MaxEventBytes int

	// DisableGzip sends bodies uncompressed.
	DisableGzip bool
	// MaxRetries is how often one request is retried after a network error,
	// 408, 429 or 5xx before its events are dropped (default 10; backoff
	// from MinBackoff doubling to MaxBackoff, with jitter, or Retry-After).
	MaxRetries int
	MinBackoff time.Duration // default 100 ms
	MaxBackoff time.Duration // default 30 s
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// HTTPClient sends the requests. The default has its own transport, so
	// wrapping http.DefaultTransport with Transport never loops back.
	HTTPClient *http.Client

	// OnError, when set, is told about every event that will not reach
	// Loki: refused by the API (with index, field and code), dropped from a
	// full queue, given up after retries, or tracked after Close. It runs on
	// the client's sending goroutine: keep it quick.
	OnError func(Error)
}

// Error describes events that will not reach Loki.
type Error struct {
	Code   string // the API's error code, or queue_full, closed, gave_up, invalid_event
	Event  string // the event's name, when one event is meant
	Index  int    // the event's position in its request (the API's index); -1 when not one event
	Field  string // the field at fault, as the API names it
	Reason string
	Count  int // how many events this is about
}

func (e Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("curated: %d event(s) %s: %s: %s", e.Count, e.Code, e.Field, e.Reason)
	}
	return fmt.Sprintf("curated: %d event(s) %s: %s", e.Count, e.Code, e.Reason)
}

// Stats counts what happened to the client's events.
type Stats struct {
	Tracked  uint64 // queued for sending (some may be pushed out later: see Dropped)
	Sent     uint64 // accepted by the API (202)
	Rejected uint64 // refused by the API (4xx per event or request)
	Dropped  uint64 // never sent: queue full, given up, or tracked after Close
	Retries  uint64 // requests sent again
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
	queueDrops, closedDrops, invalid          atomic.Uint64
}

// New validates cfg, applies defaults and starts the sending goroutine.
func New(cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		url:      endpointURL(cfg.Endpoint),
		flushReq: make(chan chan struct{}),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
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
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return nil
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
	c.push(level, event, message, time.Now(), idsFrom(ctx), attrs)
}

// Event is an event with every field the API knows; Send queues it.
type Event struct {
	Name       string
	Level      Level // default info
	Message    string
	Time       time.Time // default now
	Attributes []slog.Attr
	// IDs override those of the context (WithSession, WithUser, WithTrace).
	SessionID, UserID, TraceID, SpanID string
}

// Send queues e.
func (c *Client) Send(ctx context.Context, e Event) {
	if e.Level == "" {
		e.Level = LevelInfo
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	ids := idsFrom(ctx)
	if e.SessionID != "" {
		ids.session = e.SessionID
	}
	if e.UserID != "" {
		ids.user = e.UserID
	}
	if e.TraceID != "" {
		ids.trace = e.TraceID
	}
	if e.SpanID != "" {
		ids.span = e.SpanID
	}
	c.push(e.Level, e.Name, e.Message, e.Time, ids, e.Attributes)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// push encodes the event once, on the caller's goroutine, and queues the
// bytes: the timestamp is fixed now, so a retried request carries the same
// Loki entry, which Loki stores once.
func (c *Client) push(level Level, event, message string, t time.Time, ids ids, attrs []slog.Attr) {
	if c.closed.Load() {
		c.drop(&c.closedDrops, 1)
		return
	}
	if !validName(event) {
		c.drop(&c.invalid, 1)
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"event":`...)
	b = appendString(b, event)
	if level != LevelInfo && level != "" {
		b = append(b, `,"level":`...)
		b = appendString(b, string(level))
	}
	if message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, message)
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = ids.append(b)
	b = appendAttributesMember(b, ",", attrs)
	b = append(b, '}')
	var item []byte
	if len(b) <= c.cfg.MaxEventBytes {
		item = append([]byte(nil), b...)
	}
	*bp = b
	bufPool.Put(bp)
	if item == nil {
		c.drop(&c.invalid, 1)
		return
	}
	kept, evicted := c.q.push(item)
	c.drop(&c.queueDrops, uint64(evicted))
	if !kept {
		c.drop(&c.queueDrops, 1)
		return
	}
	c.tracked.Add(1)
}

// drop counts n events that will not be sent, and keeps them in pending
// until the sending goroutine reports them (callers must not run OnError).
func (c *Client) drop(pending *atomic.Uint64, n uint64) {
	if n > 0 {
		c.dropped.Add(n)
		pending.Add(n)
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

// Close sends what is queued within ctx's deadline and stops the client;
// what could not be sent by then is dropped and counted. Events tracked
// after Close are dropped and counted, never blocking.
func (c *Client) Close(ctx context.Context) error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.closing)
	})
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.abort()
		<-c.done
		return ctx.Err()
	}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Tracked:  c.tracked.Load(),
		Sent:     c.sent.Load(),
		Rejected: c.rejected.Load(),
		Dropped:  c.dropped.Load(),
		Retries:  c.retries.Load(),
	}
}

// envelopeContext is the request envelope's context: the service and the
// attributes every event shares.
func envelopeContext(service string, attrs []slog.Attr) []byte {
	b := []byte{'{'}
	sep := ""
	if service != "" {
		b = append(b, `"service":`...)
		b = appendString(b, service)
		sep = ","
	}
	return append(appendAttributesMember(b, sep, attrs), '}')
}

// appendAttributesMember appends sep and an "attributes" member, unless no
// attribute has anything to say.
func appendAttributesMember(b []byte, sep string, attrs []slog.Attr) []byte {
	if len(attrs) == 0 {
		return b
	}
	n := len(b)
	b = append(b, sep...)
	b = append(b, `"attributes":{`...)
	b, empty := appendAttrs(b, attrs, 1, true)
	if empty {
		return b[:n]
	}
	return append(b, '}')
}
