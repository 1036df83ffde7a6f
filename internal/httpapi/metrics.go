package httpapi

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "loki_source_curated_api"

// Metrics are the API's Prometheus metrics.
type Metrics struct {
	requests      *prometheus.CounterVec
	accepted      prometheus.Counter
	rejected      *prometheus.CounterVec
	notForwarded  prometheus.Counter
	receivedBytes prometheus.Counter
	decodedBytes  prometheus.Counter
	forwardWait   prometheus.Histogram
	timestamps    *prometheus.CounterVec

	clockSkew        prometheus.Histogram
	clockCorrections *prometheus.CounterVec

	clientRequests *prometheus.CounterVec
	throttled      *prometheus.CounterVec

	dropped       *prometheus.CounterVec
	sampledOut    *prometheus.CounterVec
	redacted      *prometheus.CounterVec
	labelOverflow *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "HTTP requests by endpoint and response status code.",
		}, []string{"endpoint", "status_code"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_accepted_total",
			Help: "Events validated and handed to every forward_to receiver.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_rejected_total",
			Help: "Events rejected by validation, by reason (the first error's code).",
		}, []string{"reason"}),
		notForwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_not_forwarded_total",
			Help: "Valid events not taken by the downstream within forward_timeout; the client got 503.",
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "received_bytes_total",
			Help: "Request body bytes read off the wire (compressed size for gzip bodies).",
		}),
		decodedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "decoded_bytes_total",
			Help: "Request body bytes after decompression.",
		}),
		forwardWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "forward_wait_seconds",
			Help:    "Time a request waited for the forward_to receivers to take its entries.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		timestamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "entry_timestamps_total",
			Help: "Entries by timestamp source: event (the event's own), corrected (the event's own, moved by the sender's clock skew), missing, out_of_window or server (receive time used).",
		}, []string{"source"}),
		clockSkew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "clock_skew_seconds",
			Help:    "Absolute difference between the receive time and a request's sent_at (the sender's clock skew plus network latency).",
			Buckets: []float64{.1, .5, 1, 5, 10, 30, 60, 300, 600, 3600, 86400},
		}),
		clockCorrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "clock_corrections_total",
			Help: "Requests with sent_at by outcome: none (skew under 5 s), corrected (timestamps moved by the skew in 10 s steps) or implausible (skew beyond max_clock_skew, ignored).",
		}, []string{"outcome"}),
		clientRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "client_requests_total",
			Help: "Requests by client name (unknown before authentication, anonymous for an open API) and outcome.",
		}, []string{"client", "outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "throttled_requests_total",
			Help: "Requests refused by a limit: scope ip or client (429), concurrency or inflight_bytes (503).",
		}, []string{"scope"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_dropped_total",
			Help: "Valid events discarded by a drop rule, by rule.",
		}, []string{"rule"}),
		sampledOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_sampled_out_total",
			Help: "Valid events a sample rule did not keep, by rule.",
		}, []string{"rule"}),
		redacted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "redactions_total",
			Help: "Values redacted, by pattern (a built-in detector such as email, card or token, key, hash, or a custom pattern's name).",
		}, []string{"pattern"}),
		labelOverflow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "label_overflow_total",
			Help: "Promoted label values replaced by the overflow value because the label reached max_distinct_values, by label.",
		}, []string{"label"}),
	}
	var errs []error
	registerOrGet(reg, &m.requests, &errs)
	registerOrGet(reg, &m.accepted, &errs)
	registerOrGet(reg, &m.rejected, &errs)
	registerOrGet(reg, &m.notForwarded, &errs)
	registerOrGet(reg, &m.receivedBytes, &errs)
	registerOrGet(reg, &m.decodedBytes, &errs)
	registerOrGet(reg, &m.forwardWait, &errs)
	registerOrGet(reg, &m.timestamps, &errs)
	registerOrGet(reg, &m.clockSkew, &errs)
	registerOrGet(reg, &m.clockCorrections, &errs)
	registerOrGet(reg, &m.clientRequests, &errs)
	registerOrGet(reg, &m.throttled, &errs)
	registerOrGet(reg, &m.dropped, &errs)
	registerOrGet(reg, &m.sampledOut, &errs)
	registerOrGet(reg, &m.redacted, &errs)
	registerOrGet(reg, &m.labelOverflow, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// registerOrGet registers *c, or points it at the collector registered
// already under the same description (as Alloy's util.MustRegisterOrGet
// does): a component rebuilt on the same registry keeps counting where it
// was instead of failing.
func registerOrGet[C prometheus.Collector](reg prometheus.Registerer, c *C, errs *[]error) {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	if err != nil {
		*errs = append(*errs, err)
	}
}
