package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Body is one prepared request body.
type Body struct {
	Data        []byte
	ContentType string
	Encoding    string
	Events      int
}

// Target is where and what to send.
type Target struct {
	URL    string
	Header http.Header
	// Bodies are sent round-robin.
	Bodies []Body
}

// Mode is how requests are paced.
type Mode string

// Modes.
const (
	// Saturate keeps Concurrency requests in flight: the receiver's ceiling.
	Saturate Mode = "saturate"
	// Fixed starts Rate requests per second whatever the answers: latency
	// is measured from the intended start, so a stalled server shows up in
	// the tail instead of slowing the load (no coordinated omission).
	Fixed Mode = "fixed"
)

// Options controls one run.
type Options struct {
	Mode        Mode
	Concurrency int
	Rate        float64 // requests per second, Fixed mode
	Duration    time.Duration
	Timeout     time.Duration // per request; 0 means 30s
}

// Result is what one run measured.
type Result struct {
	Mode        Mode           `json:"mode"`
	Concurrency int            `json:"concurrency"`
	TargetRate  float64        `json:"target_rate_rps,omitempty"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	Accepted    int            `json:"accepted_events"` // events of 2xx requests
	Statuses    map[string]int `json:"statuses"`        // "202", "503", "error", ...
	Missed      int            `json:"missed,omitempty"`
	RPS         float64        `json:"requests_per_second"`
	EPS         float64        `json:"events_per_second"`
	Latency     Percentiles    `json:"latency_ms"`
}

// Percentiles of request latency in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// NewClient returns an HTTP client that keeps one connection per worker.
func NewClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency * 2,
		MaxConnsPerHost:     0,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}}
}

type sample struct {
	latency time.Duration
	status  string
	events  int
}

// Run sends load to t as opts says and reports what happened.
func Run(ctx context.Context, client *http.Client, t Target, opts Options) (Result, error) {
	if len(t.Bodies) == 0 {
		return Result{}, fmt.Errorf("loadgen: no request bodies")
	}
	if opts.Concurrency <= 0 {
		return Result{}, fmt.Errorf("loadgen: concurrency must be positive, got %d", opts.Concurrency)
	}
	if opts.Mode == Fixed && opts.Rate <= 0 {
		return Result{}, fmt.Errorf("loadgen: fixed mode needs a positive rate, got %v", opts.Rate)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()

	// Each job carries its intended start time (Fixed) or zero (Saturate).
	jobs := make(chan time.Time, opts.Concurrency*4)
	missed := 0
	go func() {
		defer close(jobs)
		if opts.Mode == Saturate {
			for {
				select {
				case jobs <- time.Time{}:
				case <-ctx.Done():
					return
				}
			}
		}
		interval := time.Duration(float64(time.Second) / opts.Rate)
		next := time.Now()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			for now := time.Now(); !next.After(now); next = next.Add(interval) {
				select {
				case jobs <- next:
				default:
					missed++ // every worker busy and the queue full: the client is the bottleneck
				}
			}
			timer.Reset(time.Until(next))
		}
	}()

	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
		counter int
	)
	start := time.Now()
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []sample
			for intended := range jobs {
				mu.Lock()
				b := t.Bodies[counter%len(t.Bodies)]
				counter++
				mu.Unlock()
				begin := time.Now()
				if !intended.IsZero() {
					begin = intended
				}
				status := send(client, t, b, opts.Timeout)
				local = append(local, sample{latency: time.Since(begin), status: status, events: b.Events})
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarize(opts, samples, missed, elapsed), nil
}

// send posts one body and returns the status code as text, or "error".
// Requests cut by the end of the run are not counted as errors by the
// caller: they use their own timeout, not the run's context.
func send(client *http.Client, t Target, b Body, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(b.Data))
	if err != nil {
		return "error"
	}
	for k, v := range t.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", b.ContentType)
	if b.Encoding != "" {
		req.Header.Set("Content-Encoding", b.Encoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}

func summarize(opts Options, samples []sample, missed int, elapsed time.Duration) Result {
	r := Result{
		Mode: opts.Mode, Concurrency: opts.Concurrency, Seconds: elapsed.Seconds(),
		Requests: len(samples), Statuses: map[string]int{}, Missed: missed,
	}
	if opts.Mode == Fixed {
		r.TargetRate = opts.Rate
	}
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		r.Statuses[s.status]++
		if len(s.status) == 3 && s.status[0] == '2' {
			r.Accepted += s.events
		}
		lat = append(lat, s.latency)
	}
	r.RPS = float64(r.Requests) / elapsed.Seconds()
	r.EPS = float64(r.Accepted) / elapsed.Seconds()
	r.Latency = percentiles(lat)
	return r
}

func percentiles(lat []time.Duration) Percentiles {
	if len(lat) == 0 {
		return Percentiles{}
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		i := int(q * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}
