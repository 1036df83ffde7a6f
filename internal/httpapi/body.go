package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

// Media types the API accepts.
const (
	MediaJSON   = "application/json"
	MediaText   = "text/plain" // what navigator.sendBeacon sends for a string
	MediaNDJSON = "application/x-ndjson"
)

// formatOf maps a Content-Type header to a body format.
func formatOf(contentType string) (event.Format, *apiError) {
	if contentType == "" {
		return 0, refuse(event.CodeUnsupportedMediaType, "Content-Type",
			"Content-Type header is required; use "+MediaJSON+", "+MediaText+" or "+MediaNDJSON)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, refuse(event.CodeUnsupportedMediaType, "Content-Type", fmt.Sprintf("cannot parse Content-Type %q", contentType))
	}
	switch mt {
	case MediaJSON, MediaText:
		return event.FormatJSON, nil
	case MediaNDJSON, "application/ndjson", "application/jsonl":
		return event.FormatNDJSON, nil
	}
	return 0, refuse(event.CodeUnsupportedMediaType, "Content-Type",
		fmt.Sprintf("unsupported Content-Type %q; use %s, %s or %s", mt, MediaJSON, MediaText, MediaNDJSON))
}

// bodyReader reads request bodies into pooled buffers, enforcing the size
// limit on the decompressed bytes so a small gzip bomb cannot expand past it.
type bodyReader struct {
	pool bufferPool
}

// Memory a body holds, reserved before it is used: bytes are read in
// chunks of readChunk, each reserved first; a gzip reader's window and
// tables cost about gzipCost.
const (
	readChunk = 32 << 10
	gzipCost  = 64 << 10
)

// bodyLimits bound reading one body.
type bodyLimits struct {
	maxBytes int64
	// timeout bounds the whole body; minRate (bytes per second, on the
	// wire) must be kept after the first bodyGrace.
	timeout time.Duration
	minRate int64
}

// bodyGrace is how long a body may take before min_body_rate applies: a
// TLS handshake or a mobile radio waking up is not a slow client.
const bodyGrace = 2 * time.Second

// read returns the decompressed body and the number of bytes read off the
// wire, reserving memory with reserve as the body arrives, so a body that is slow
// or never comes holds nothing it has not sent. The caller must release
// the buffer with put when done with the bytes.
func (br *bodyReader) read(w http.ResponseWriter, r *http.Request, lim bodyLimits, reserve func(int64) *apiError,
	start time.Time) (*bytes.Buffer, int64, *apiError) {
	gzipped, aerr := isGzip(r.Header.Values("Content-Encoding"))
	if aerr != nil {
		return nil, 0, aerr
	}
	if r.ContentLength > lim.maxBytes {
		return nil, 0, tooLargeError(lim.maxBytes)
	}
	clock := newBodyClock(w, start, lim)
	defer clock.stop()

	wire := &countingReader{r: io.LimitReader(r.Body, lim.maxBytes+1)}
	var src io.Reader = &clockedReader{r: wire, clock: clock, wire: wire}
	if gzipped {
		if aerr := reserve(gzipCost); aerr != nil {
			return nil, 0, aerr
		}
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, wire.n, readError(err, clock, true)
		}
		defer zr.Close()
		src = zr
	}

	buf := br.pool.get()
	for {
		if int64(buf.Len()) > lim.maxBytes || wire.n > lim.maxBytes {
			br.pool.put(buf)
			return nil, wire.n, tooLargeError(lim.maxBytes)
		}
		if aerr := reserve(readChunk); aerr != nil {
			br.pool.put(buf)
			return nil, wire.n, aerr
		}
		n, err := buf.ReadFrom(io.LimitReader(src, readChunk))
		if err != nil {
			br.pool.put(buf)
			return nil, wire.n, readError(err, clock, gzipped)
		}
		if n < readChunk {
			break
		}
	}
	if int64(buf.Len()) > lim.maxBytes || wire.n > lim.maxBytes {
		br.pool.put(buf)
		return nil, wire.n, tooLargeError(lim.maxBytes)
	}
	return buf, wire.n, nil
}

func readError(err error, clock *bodyClock, gzipped bool) *apiError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLargeError(mbe.Limit)
	case clock.expired(err):
		return clock.error()
	case gzipped:
		return refuse(event.CodeMalformed, "Content-Encoding", "body is not valid gzip: "+err.Error())
	}
	return refuse(event.CodeMalformed, "", "cannot read request body: "+err.Error())
}

// bodyClock enforces a body's deadline: the connection's read deadline
// when the server lets us set it, so a client that sends nothing is cut
// too, and a check after every read in any case.
type bodyClock struct {
	rc       *http.ResponseController
	settable bool
	start    time.Time
	lim      bodyLimits
	late     bool // the deadline passed
}

func newBodyClock(w http.ResponseWriter, start time.Time, lim bodyLimits) *bodyClock {
	c := &bodyClock{rc: http.NewResponseController(w), start: start, lim: lim}
	c.settable = c.rc.SetReadDeadline(c.deadline(0)) == nil
	return c
}

// deadline is when the body must be complete if no more than read bytes
// arrive: the timeout, or sooner when the rate falls below minRate.
func (c *bodyClock) deadline(read int64) time.Time {
	d := c.start.Add(c.lim.timeout)
	if c.lim.timeout <= 0 {
		d = c.start.Add(24 * time.Hour)
	}
	if c.lim.minRate > 0 {
		byRate := c.start.Add(bodyGrace + time.Duration(float64(read)/float64(c.lim.minRate)*float64(time.Second)))
		if byRate.Before(d) {
			d = byRate
		}
	}
	return d
}

// advance moves the deadline on after read bytes, failing if it passed.
func (c *bodyClock) advance(read int64) error {
	d := c.deadline(read)
	if time.Now().After(d) {
		c.late = true
		return os.ErrDeadlineExceeded
	}
	if c.settable {
		_ = c.rc.SetReadDeadline(d)
	}
	return nil
}

func (c *bodyClock) expired(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.late = true
	}
	return c.late
}

func (c *bodyClock) error() *apiError {
	reason := fmt.Sprintf("the request body did not arrive within body_timeout (%s)", c.lim.timeout)
	if c.lim.minRate > 0 && time.Since(c.start) < c.lim.timeout {
		reason = fmt.Sprintf("the request body arrived slower than min_body_rate (%d bytes/s after the first %s)",
			c.lim.minRate, bodyGrace)
	}
	return refuse(event.CodeSlowBody, "", reason).withHeader(http.Header{"Connection": {"close"}})
}

// stop clears the read deadline once the body is in: the connection may
// carry more requests. A late body keeps its expired deadline, so the
// server's drain of the unread body fails at once instead of waiting on the
// client that was just cut.
func (c *bodyClock) stop() {
	if c.settable && !c.late {
		_ = c.rc.SetReadDeadline(time.Time{})
	}
}

// clockedReader advances the clock after every read off the wire.
type clockedReader struct {
	r     io.Reader
	clock *bodyClock
	wire  *countingReader
}

func (c *clockedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == nil || err == io.EOF {
		if cerr := c.clock.advance(c.wire.n); cerr != nil && err != io.EOF {
			return n, cerr
		}
	}
	return n, err
}

func isGzip(encodings []string) (bool, *apiError) {
	gz := false
	for _, header := range encodings {
		for _, enc := range strings.Split(header, ",") {
			switch strings.ToLower(strings.TrimSpace(enc)) {
			case "", "identity":
			case "gzip", "x-gzip":
				if gz {
					return false, unsupportedEncoding("gzip applied twice")
				}
				gz = true
			default:
				return false, unsupportedEncoding(fmt.Sprintf("unsupported Content-Encoding %q; use gzip or none", enc))
			}
		}
	}
	return gz, nil
}

func unsupportedEncoding(reason string) *apiError {
	return refuse(event.CodeUnsupportedMediaType, "Content-Encoding", reason)
}

func tooLargeError(maxBytes int64) *apiError {
	return refuse(event.CodeTooLarge, "",
		fmt.Sprintf("request body is larger than max_request_bytes (%d bytes, counted after decompression)", maxBytes))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
