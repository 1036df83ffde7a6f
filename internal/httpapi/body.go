package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

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
		return 0, &apiError{status: http.StatusUnsupportedMediaType, field: "Content-Type",
			reason: "Content-Type header is required; use " + MediaJSON + ", " + MediaText + " or " + MediaNDJSON}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, &apiError{status: http.StatusUnsupportedMediaType, field: "Content-Type",
			reason: fmt.Sprintf("cannot parse Content-Type %q", contentType)}
	}
	switch mt {
	case MediaJSON, MediaText:
		return event.FormatJSON, nil
	case MediaNDJSON, "application/ndjson", "application/jsonl":
		return event.FormatNDJSON, nil
	}
	return 0, &apiError{status: http.StatusUnsupportedMediaType, field: "Content-Type",
		reason: fmt.Sprintf("unsupported Content-Type %q; use %s, %s or %s", mt, MediaJSON, MediaText, MediaNDJSON)}
}

// bodyReader reads request bodies into pooled buffers, enforcing the size
// limit on the decompressed bytes so a small gzip bomb cannot expand past it.
type bodyReader struct {
	pool bufferPool
}

// read returns the decompressed body and the number of bytes read off the
// wire. The caller must release the buffer with put when done with the bytes.
func (br *bodyReader) read(r *http.Request, maxBytes int64) (*bytes.Buffer, int64, *apiError) {
	gzipped, aerr := isGzip(r.Header.Values("Content-Encoding"))
	if aerr != nil {
		return nil, 0, aerr
	}
	if r.ContentLength > maxBytes {
		return nil, 0, tooLargeError(maxBytes)
	}

	wire := &countingReader{r: io.LimitReader(r.Body, maxBytes+1)}
	var src io.Reader = wire
	if gzipped {
		zr, err := gzip.NewReader(wire)
		if err != nil {
			return nil, wire.n, &apiError{status: http.StatusBadRequest, field: "Content-Encoding",
				reason: "body is not valid gzip: " + err.Error()}
		}
		defer zr.Close()
		src = zr
	}

	buf := br.pool.get()
	_, err := buf.ReadFrom(io.LimitReader(src, maxBytes+1))
	switch {
	case int64(buf.Len()) > maxBytes || wire.n > maxBytes:
		br.pool.put(buf)
		return nil, wire.n, tooLargeError(maxBytes)
	case err != nil:
		br.pool.put(buf)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, wire.n, tooLargeError(maxBytes)
		}
		if gzipped {
			return nil, wire.n, &apiError{status: http.StatusBadRequest, field: "Content-Encoding",
				reason: "body is not valid gzip: " + err.Error()}
		}
		return nil, wire.n, &apiError{status: http.StatusBadRequest, reason: "cannot read request body: " + err.Error()}
	}
	return buf, wire.n, nil
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
	return &apiError{status: http.StatusUnsupportedMediaType, field: "Content-Encoding", reason: reason}
}

func tooLargeError(maxBytes int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge,
		reason: fmt.Sprintf("request body is larger than max_request_bytes (%d bytes, counted after decompression)", maxBytes)}
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
