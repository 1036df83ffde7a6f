package spool

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the spool did. A nil *Metrics counts nothing.
type Metrics struct {
	bytes         prometheus.Gauge
	syncs         prometheus.Histogram
	refusedTotal  *prometheus.CounterVec
	replayedTotal prometheus.Counter
	expiredTotal  prometheus.Counter
	tornTotal     prometheus.Counter
	adoptedTotal  prometheus.Counter
	writeErrors   prometheus.Counter
}

// NewMetrics creates the spool's metrics, named namespace_spool_*, and
// registers them with reg.
func NewMetrics(reg prometheus.Registerer, namespace string) (*Metrics, error) {
	m := &Metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "spool_bytes",
			Help: "Bytes of spooled entries on disk (this process's directory, adopted segments included)."}),
		syncs: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "spool_sync_duration_seconds",
			Help:    "Time of each spool write and fsync; concurrent requests share one.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1}}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "spool_refused_entries_total",
			Help: "Entries refused (the client got 503) because the spool was full or its write failed, by reason."}, []string{"reason"}),
		replayedTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "spool_replayed_entries_total",
			Help: "Entries of a process that was gone (crashed, killed, replaced) handed to forward_to again."}),
		expiredTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "spool_expired_entries_total",
			Help: "Entries of a process that was gone, found older than replay_window and deleted without replay."}),
		tornTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "spool_torn_segments_total",
			Help: "Replayed segments that ended in a damaged record (a write a crash cut short, never acknowledged)."}),
		adoptedTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "spool_adopted_total",
			Help: "Spool directories of processes that were gone, adopted for replay."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "spool_write_errors_total",
			Help: "Spool writes or fsyncs that failed."}),
	}
	for _, c := range []prometheus.Collector{m.bytes, m.syncs, m.refusedTotal, m.replayedTotal, m.expiredTotal, m.tornTotal, m.adoptedTotal, m.writeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) setSize(n int64) {
	if m != nil {
		m.bytes.Set(float64(n))
	}
}

func (m *Metrics) synced(d time.Duration) {
	if m != nil {
		m.syncs.Observe(d.Seconds())
	}
}

func (m *Metrics) refused(reason string, n int) {
	if m != nil {
		m.refusedTotal.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) replayed(n int) {
	if m != nil {
		m.replayedTotal.Add(float64(n))
	}
}

func (m *Metrics) expired(n int) {
	if m != nil {
		m.expiredTotal.Add(float64(n))
	}
}

func (m *Metrics) torn() {
	if m != nil {
		m.tornTotal.Inc()
	}
}

func (m *Metrics) adopted() {
	if m != nil {
		m.adoptedTotal.Inc()
	}
}

func (m *Metrics) writeError() {
	if m != nil {
		m.writeErrors.Inc()
	}
}
