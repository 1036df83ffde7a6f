package curated

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// run is the sending goroutine: it waits for a full batch, the flush
// interval, a Flush or Close, and sends batch after batch in order.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	s := sender{c: c}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	timerSet := false
	for {
		n, size := c.q.status()
		if n >= c.cfg.BatchEvents || size >= c.cfg.BatchBytes {
			s.sendBatch(ctx)
			continue
		}
		if n > 0 && !timerSet {
			timer.Reset(c.cfg.FlushInterval)
			timerSet = true
		}
		c.reportDrops()
		select {
		case <-c.q.ready:
		case <-timer.C:
			timerSet = false
			s.sendBatch(ctx)
		case done := <-c.flushReq:
			s.sendAll(ctx)
			c.reportDrops()
			close(done)
		case <-c.closing:
			s.sendAll(ctx)
			if lost := c.q.drain(); lost > 0 {
				c.giveUp(Error{Code: "gave_up", Reason: "queued when Close's deadline passed", Count: lost})
			}
			c.reportDrops()
			return
		}
	}
}

// reportDrops tells OnError about events dropped on callers' goroutines,
// which must not run the callback themselves.
func (c *Client) reportDrops() {
	if n := c.queueDrops.Swap(0); n > 0 {
		c.report(Error{Code: "queue_full", Reason: "the send queue was full", Count: int(n)})
	}
	if n := c.beforeSendDrops.Swap(0); n > 0 {
		c.report(Error{Code: "before_send", Reason: "BeforeSend returned false", Count: int(n)})
	}
	if n := c.closedDrops.Swap(0); n > 0 {
		c.report(Error{Code: "closed", Reason: "tracked after Close", Count: int(n)})
	}
	for i := range c.invalid {
		if n := c.invalid[i].Swap(0); n > 0 {
			c.report(Error{Code: "invalid_event", Field: invalidFields[i], Count: int(n), Reason: invalidReasons[i]})
		}
	}
	if n := c.attrPending.Swap(0); n > 0 {
		c.report(Error{Code: "attribute_dropped", Field: "attributes",
			Reason: "a value's LogValue, MarshalJSON, Error or String panicked; the event was sent without it", Count: int(n)})
	}
}

// invalidReasons say why the API would refuse an event, by invalidFields.
var invalidReasons = [len(invalidFields)]string{
	"the name is not 1-128 of A-Z a-z 0-9 _ . : -, or the event is over MaxEventBytes",
	"session_id is over 256 bytes",
	"user_id is over 256 bytes",
	"trace_id is not 1-128 of A-Z a-z 0-9 _ . : -",
	"span_id is not 1-128 of A-Z a-z 0-9 _ . : -",
	"attributes nested over 8 levels, a key over 128 bytes, or over MaxAttributes",
}

// accepted counts n events the API took and tells OnSent.
func (c *Client) accepted(n int) {
	c.sent.Add(uint64(n))
	if c.cfg.OnSent != nil && n > 0 {
		c.cfg.OnSent(n)
	}
}

// giveUp counts and reports events the sender stops trying to send.
func (c *Client) giveUp(e Error) {
	c.dropped.Add(uint64(e.Count))
	c.gaveUp.Add(uint64(e.Count))
	c.report(e)
}

func (c *Client) report(e Error) {
	if c.cfg.OnError != nil && e.Count > 0 {
		if e.Event == "" {
			e.Index = -1
		}
		c.cfg.OnError(e)
	}
}

type sender struct {
	c    *Client
	body bytes.Buffer
	gz   *gzip.Writer
}

// sendAll sends until the queue is empty (or ctx is done).
func (s *sender) sendAll(ctx context.Context) {
	for ctx.Err() == nil && s.sendBatch(ctx) {
	}
}

// sendBatch sends one batch and reports whether there was one.
func (s *sender) sendBatch(ctx context.Context) bool {
	batch := s.c.q.take(s.c.cfg.BatchEvents, s.c.cfg.BatchBytes)
	if len(batch) > 0 {
		s.deliver(ctx, batch)
	}
	return len(batch) > 0
}

// response is the API's answer (docs/api.md, Responses).
type response struct {
	Accepted int        `json:"accepted"`
	Rejected int        `json:"rejected"`
	Dropped  int        `json:"dropped"`
	Errors   []apiError `json:"errors"`
}

type apiError struct {
	Index  *int   `json:"index"` // absent for the request as a whole
	Field  string `json:"field"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// deliver sends batch until the API has answered for every event: 2xx and
// final 4xx end it; 413 splits it; 408, 429, 5xx and network errors retry
// with backoff (Retry-After when given), 503 with only the events the API
// lists as not forwarded. Network errors retry until ctx ends.
func (s *sender) deliver(ctx context.Context, batch [][]byte) {
	c := s.c
	// Only answers count towards MaxRetries: while the API cannot be
	// reached (an outage, a deploy, no network) the batch waits, and the
	// queue behind it holds new events up to its limits, as the JS SDK
	// does. An API that answers and keeps failing gives up.
	answers := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
		}
		status, resp, retryAfter, err := s.post(ctx, batch)
		switch {
		case err == nil && status/100 == 2:
			// Counted from the batch, not the body's "accepted": a proxy's
			// empty 200 must not leave events neither sent nor rejected.
			c.accepted(len(batch) - s.perEvent(batch, resp))
			return
		case err == nil && status == http.StatusRequestEntityTooLarge && len(batch) > 1:
			half := len(batch) / 2
			s.deliver(ctx, batch[:half])
			s.deliver(ctx, batch[half:])
			return
		case err == nil && status == http.StatusServiceUnavailable:
			// Some events forwarded, the rest listed: retry only those.
			// Otherwise (overloaded) the whole batch.
			if rest, refused := s.notForwarded(batch, resp); len(rest) > 0 {
				c.accepted(len(batch) - len(rest) - refused)
				batch = rest
			}
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			if len(resp.Errors) > 0 && resp.Errors[0].Index != nil {
				// Events without an error of their own were refused with the request.
				if n := len(batch) - s.perEvent(batch, resp); n > 0 {
					c.rejected.Add(uint64(n))
				}
			} else {
				code, field, reason := "http_"+strconv.Itoa(status), "", ""
				if len(resp.Errors) > 0 {
					code, field, reason = resp.Errors[0].Code, resp.Errors[0].Field, resp.Errors[0].Reason
				}
				c.rejected.Add(uint64(len(batch)))
				c.report(Error{Code: code, Field: field, Reason: reason, Count: len(batch)})
			}
			return
		}
		if err == nil {
			answers++
		}
		if ctx.Err() != nil || answers > c.cfg.MaxRetries {
			reason := fmt.Sprintf("after %d attempts: status %d", attempt+1, status)
			if err != nil {
				reason = fmt.Sprintf("after %d attempts: %v", attempt+1, scrubURLs(err.Error()))
			}
			c.giveUp(Error{Code: "gave_up", Reason: reason, Count: len(batch)})
			return
		}
		wait := retryAfter
		if wait <= 0 {
			wait = backoff(c.cfg.MinBackoff, c.cfg.MaxBackoff, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// backoff is exponential with full jitter in [d/2, d).
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo << min(attempt, 20)
	if d > hi || d <= 0 {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

// perEvent reports the events the API refused, by their index, and returns
// how many events that is: an event refused for two fields has two errors
// and counts once.
func (s *sender) perEvent(batch [][]byte, resp response) int {
	refused := 0
	for k, e := range resp.Errors {
		if e.Index == nil || *e.Index < 0 || *e.Index >= len(batch) {
			continue
		}
		s.c.report(Error{Code: e.Code, Field: e.Field, Reason: e.Reason, Event: eventName(batch[*e.Index]), Index: *e.Index, Count: 1})
		if !slices.ContainsFunc(resp.Errors[:k], func(o apiError) bool { return o.Index != nil && *o.Index == *e.Index }) {
			refused++
		}
	}
	s.c.rejected.Add(uint64(refused))
	return refused
}

// notForwarded returns the events a 503 lists as not forwarded, whose
// resending alone avoids duplicating the ones that were (docs/api.md), and
// reports (and counts) the events it refused.
func (s *sender) notForwarded(batch [][]byte, resp response) ([][]byte, int) {
	var out [][]byte
	var refused []apiError
	for _, e := range resp.Errors {
		switch {
		case e.Code != "not_forwarded":
			refused = append(refused, e)
		case e.Index != nil && *e.Index >= 0 && *e.Index < len(batch):
			out = append(out, batch[*e.Index])
		}
	}
	return out, s.perEvent(batch, response{Errors: refused})
}

// eventName reads the name back from an encoded event, for reports.
func eventName(item []byte) string {
	var e struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(item, &e)
	return e.Event
}

// post sends one request: an envelope with the client's context and batch.
func (s *sender) post(ctx context.Context, batch [][]byte) (status int, resp response, retryAfter time.Duration, err error) {
	c := s.c
	s.body.Reset()
	var w io.Writer = &s.body
	if !c.cfg.DisableGzip {
		if s.gz == nil {
			s.gz, _ = gzip.NewWriterLevel(&s.body, gzip.BestSpeed)
		} else {
			s.gz.Reset(&s.body)
		}
		w = s.gz
	}
	// sent_at is this attempt's clock: the API measures the clock's skew
	// from it and moves the events' timestamps to its own time.
	_, _ = io.WriteString(w, `{"sent_at":`)
	_, _ = io.WriteString(w, strconv.FormatInt(time.Now().UnixMilli(), 10))
	_, _ = io.WriteString(w, `,"context":`)
	_, _ = w.Write(c.context)
	_, _ = io.WriteString(w, `,"events":[`)
	for i, item := range batch {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(item)
	}
	_, _ = io.WriteString(w, "]}")
	if gz, ok := w.(*gzip.Writer); ok {
		if err := gz.Close(); err != nil {
			return 0, resp, 0, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.url, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return 0, resp, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if !c.cfg.DisableGzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.cfg.Key != "" {
		req.Header.Set("X-API-Key", c.cfg.Key)
	}
	r, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, resp, 0, err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return 0, resp, 0, fmt.Errorf("reading the response: %w", err)
	}
	_ = json.Unmarshal(body, &resp)
	retryAfter = parseRetryAfter(r.Header.Get("Retry-After"), time.Now())
	return r.StatusCode, resp, retryAfter, nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date, capped at
// 5 minutes; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, 5*time.Minute))
}
