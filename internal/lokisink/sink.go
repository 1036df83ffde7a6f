// Package lokisink is a fast stand-in for Loki's push API: it decodes what
// loki.write sends (snappy-compressed protobuf) and counts it, so a
// benchmark measures the pipeline in front of it and not Loki.
package lokisink

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

// PushPath is where loki.write sends.
const PushPath = "/loki/api/v1/push"

// Stats counts what the sink accepted.
type Stats struct {
	Requests   int64 `json:"requests"`
	Entries    int64 `json:"entries"`
	LineBytes  int64 `json:"line_bytes"`
	WireBytes  int64 `json:"wire_bytes"`
	BadRequest int64 `json:"bad_requests"`
	// ByLabel counts entries by a label that tells the benchmark's
	// sources apart (see Sink.CountLabel).
	ByLabel map[string]int64 `json:"by_label,omitempty"`
}

// Sink is an http.Handler for POST /loki/api/v1/push.
type Sink struct {
	// CountLabel, when set, counts entries by the value of this label.
	CountLabel string

	requests, entries, lineBytes, wireBytes, bad atomic.Int64

	mu      sync.Mutex
	byLabel map[string]int64
	bufs    sync.Pool
}

// ServeHTTP accepts one push.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != PushPath {
		http.Error(w, "only POST "+PushPath, http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-protobuf") {
		s.bad.Add(1)
		http.Error(w, "Content-Type must be application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return
	}
	compressed, err := io.ReadAll(r.Body)
	if err != nil {
		s.bad.Add(1)
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	n, err := s.count(compressed)
	if err != nil {
		s.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
	s.wireBytes.Add(int64(len(compressed)))
	s.entries.Add(n)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sink) count(compressed []byte) (int64, error) {
	bufp, _ := s.bufs.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer s.bufs.Put(bufp)
	size, err := snappy.DecodedLen(compressed)
	if err != nil {
		return 0, fmt.Errorf("body is not snappy-compressed: %w", err)
	}
	if cap(*bufp) < size {
		*bufp = make([]byte, size)
	}
	raw, err := snappy.Decode((*bufp)[:size], compressed)
	if err != nil {
		return 0, fmt.Errorf("body is not snappy-compressed: %w", err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		return 0, fmt.Errorf("body is not a Loki PushRequest: %w", err)
	}
	var n, lineBytes int64
	var byValue map[string]int64
	for _, st := range req.Streams {
		n += int64(len(st.Entries))
		for _, e := range st.Entries {
			lineBytes += int64(len(e.Line))
		}
		if s.CountLabel != "" {
			if byValue == nil {
				byValue = map[string]int64{}
			}
			byValue[labelValue(st.Labels, s.CountLabel)] += int64(len(st.Entries))
		}
	}
	s.lineBytes.Add(lineBytes)
	if byValue != nil {
		s.mu.Lock()
		if s.byLabel == nil {
			s.byLabel = map[string]int64{}
		}
		for k, v := range byValue {
			s.byLabel[k] += v
		}
		s.mu.Unlock()
	}
	return n, nil
}

// labelValue finds name="value" in a Prometheus-style label string such as
// {a="1", source="curated"}; label values here never contain quotes.
func labelValue(labels, name string) string {
	key := name + `="`
	for i := 0; ; {
		j := strings.Index(labels[i:], key)
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || labels[j-1] == '{' || labels[j-1] == ' ' || labels[j-1] == ',' {
			rest := labels[j+len(key):]
			if end := strings.IndexByte(rest, '"'); end >= 0 {
				return rest[:end]
			}
			return ""
		}
		i = j + len(key)
	}
}

// Stats returns the counters so far.
func (s *Sink) Stats() Stats {
	st := Stats{
		Requests: s.requests.Load(), Entries: s.entries.Load(), LineBytes: s.lineBytes.Load(),
		WireBytes: s.wireBytes.Load(), BadRequest: s.bad.Load(),
	}
	s.mu.Lock()
	if len(s.byLabel) > 0 {
		st.ByLabel = make(map[string]int64, len(s.byLabel))
		for k, v := range s.byLabel {
			st.ByLabel[k] = v
		}
	}
	s.mu.Unlock()
	return st
}
