// Package curatedredact registers loki.curated_redact: the personal-data and
// secret redaction of loki.source.curated_api, applied to the lines of any
// Loki pipeline (container logs, docs/container-logs.md). The detectors live
// in internal/rules and internal/pii; this package is the Alloy glue.
package curatedredact

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/grafana/alloy/internal/component"
	"github.com/grafana/alloy/internal/component/common/loki"
	"github.com/grafana/alloy/internal/featuregate"

	"github.com/grafana/alloy/curated/internal/pii"
	"github.com/grafana/alloy/curated/internal/rules"
)

// Name is the component's name in Alloy configuration.
const Name = "loki.curated_redact"

func init() {
	component.Register(component.Registration{
		Name:      Name,
		Stability: featuregate.StabilityPublicPreview,
		Args:      Arguments{},
		Exports:   Exports{},
		Build: func(opts component.Options, args component.Arguments) (component.Component, error) {
			return New(opts, args.(Arguments))
		},
	})
}

// Arguments configure loki.curated_redact. The defaults are the redact
// block's defaults of loki.source.curated_api: every built-in detector.
type Arguments struct {
	ForwardTo []loki.LogsReceiver `alloy:"forward_to,attr"`
	// Builtins are the built-in detectors scanned in every line.
	Builtins []string `alloy:"builtins,attr,optional"`
	// QueryParams are extra URL query parameter names whose values are secrets.
	QueryParams []string `alloy:"query_params,attr,optional"`
	// Patterns are named regular expressions replaced by [REDACTED:name].
	Patterns map[string]string `alloy:"patterns,attr,optional"`
}

// SetToDefault implements syntax.Defaulter.
func (a *Arguments) SetToDefault() {
	*a = Arguments{Builtins: rules.DefaultRedact().Builtins.Names()}
}

// Validate implements syntax.Validator.
func (a *Arguments) Validate() error {
	_, err := a.redactor()
	return err
}

func (a *Arguments) redactor() (*rules.LineRedactor, error) {
	builtins, err := pii.ParseSet(a.Builtins)
	if err != nil {
		return nil, fmt.Errorf("builtins: %w", err)
	}
	r, err := rules.NewLineRedactor(rules.RedactConfig{Builtins: builtins, QueryParams: a.QueryParams, Patterns: a.Patterns})
	if err != nil {
		return nil, fmt.Errorf("patterns: %w", err)
	}
	return r, nil
}

// Exports are the component's exported fields.
type Exports struct {
	Receiver loki.LogsReceiver `alloy:"receiver,attr"`
}

// Component implements loki.curated_redact.
type Component struct {
	receiver loki.LogsReceiver
	fanout   *loki.Fanout
	metrics  *metrics

	mut      sync.RWMutex
	redactor *rules.LineRedactor
}

var _ component.Component = (*Component)(nil)

// New creates the component.
func New(opts component.Options, args Arguments) (*Component, error) {
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	c := &Component{
		receiver: loki.NewLogsReceiver(loki.WithComponentID(opts.ID)),
		fanout:   loki.NewFanout(args.ForwardTo),
		metrics:  m,
	}
	if err := c.Update(args); err != nil {
		return nil, err
	}
	opts.OnStateChange(Exports{Receiver: c.receiver})
	return c, nil
}

// Run redacts every entry it receives and forwards it.
func (c *Component) Run(ctx context.Context) error {
	found := make([]string, 0, 4)
	loki.ConsumeAndProcess(ctx, c.receiver, c.fanout, func(e loki.Entry) (loki.Entry, bool) {
		c.mut.RLock()
		r := c.redactor
		c.mut.RUnlock()
		found = found[:0]
		e.Entry, found = redactEntry(r, e.Entry, found)
		c.metrics.entries.Inc()
		if len(found) > 0 {
			c.metrics.redacted.Inc()
			for _, kind := range found {
				c.metrics.redactions.WithLabelValues(kind).Inc()
			}
		}
		return e, true
	})
	return nil
}

// redactEntry redacts the line and the structured metadata's values. The
// metadata slice may be shared with the sender's other receivers, so it is
// copied before the first change.
func redactEntry(r *rules.LineRedactor, e push.Entry, found []string) (push.Entry, []string) {
	e.Line, found = r.Redact(e.Line, found)
	copied := false
	for i, md := range e.StructuredMetadata {
		v, f := r.Redact(md.Value, found)
		found = f
		if v == md.Value {
			continue
		}
		if !copied {
			e.StructuredMetadata = slices.Clone(e.StructuredMetadata)
			copied = true
		}
		e.StructuredMetadata[i].Value = v
	}
	return e, found
}

// Update implements component.Component.
func (c *Component) Update(args component.Arguments) error {
	a := args.(Arguments)
	r, err := a.redactor()
	if err != nil {
		return err
	}
	c.mut.Lock()
	c.redactor = r
	c.mut.Unlock()
	c.fanout.UpdateChildren(a.ForwardTo)
	return nil
}

type metrics struct {
	entries    prometheus.Counter
	redacted   prometheus.Counter
	redactions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "loki_curated_redact"
	m := &metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "entries_total",
			Help: "Entries scanned."}),
		redacted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "redacted_entries_total",
			Help: "Entries in which at least one value was redacted."}),
		redactions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "redactions_total",
			Help: "Redactions by detector or pattern name, once per kind per line or metadata value."}, []string{"pattern"}),
	}
	for _, col := range []prometheus.Collector{m.entries, m.redacted, m.redactions} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
