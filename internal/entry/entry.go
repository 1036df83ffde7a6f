// Package entry turns validated events into Loki entries: the label set, the
// log line, structured metadata and the timestamp. It knows nothing of HTTP
// or Alloy, so it can be tested, fuzzed and benchmarked on its own.
package entry

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/event"
)

// Label names the builder sets from event fields.
const (
	LabelService = "service"
	LabelLevel   = "level"
	// LabelTenant is the reserved label loki.write sends as the tenant
	// (X-Scope-OrgID) and removes from the entry.
	LabelTenant = "__tenant_id__"
)

// TimestampSource says where an entry's timestamp came from.
type TimestampSource uint8

// Timestamp sources.
const (
	// TimestampEvent: the event's own timestamp, inside the accepted window.
	TimestampEvent TimestampSource = iota
	// TimestampMissing: the event had none; the receive time was used.
	TimestampMissing
	// TimestampOutOfWindow: the event's timestamp was too old or too far in
	// the future; the receive time (or, with clamp, the window's edge) was
	// used and the original kept in the line.
	TimestampOutOfWindow
	// TimestampServerPolicy: timestamp_policy is server; the receive time
	// was used and any original kept in the line.
	TimestampServerPolicy
	// TimestampCorrected: the event's timestamp moved by the sender's
	// measured clock skew (see ClockOffset), inside the accepted window.
	TimestampCorrected
)

var timestampSourceNames = [...]string{"event", "missing", "out_of_window", "server", "corrected"}

func (s TimestampSource) String() string { return timestampSourceNames[s] }

// Entry is one Loki entry built from one event.
type Entry struct {
	Labels          model.LabelSet
	Entry           push.Entry
	TimestampSource TimestampSource
	// LabelOverflow names promoted labels whose value was replaced by
	// OverflowValue.
	LabelOverflow []string
}

// Line formats.
const (
	LineJSON   = "json"
	LineLogfmt = "logfmt"
)

// Timestamp policies for events whose timestamp is outside the window.
const (
	// TimestampAccept uses the event's timestamp inside the window and the
	// receive time outside it.
	TimestampAccept = "accept"
	// TimestampClamp moves timestamps outside the window to its nearest edge.
	TimestampClamp = "clamp"
	// TimestampServer always uses the receive time.
	TimestampServer = "server"
)

// Config configures a Builder. It is immutable once passed to NewBuilder.
type Config struct {
	// StaticLabels are added to every entry; event-derived labels win.
	StaticLabels model.LabelSet
	// MaxPast and MaxFuture bound how far an event's own timestamp may be
	// from the receive time.
	MaxPast   time.Duration
	MaxFuture time.Duration
	// TimestampPolicy is accept (the default), clamp or server.
	TimestampPolicy string
	// LineFormat is json (the default) or logfmt.
	LineFormat string

	// LabelFields are promoted to labels: event, trace_id, span_id,
	// session_id, user_id or attributes.KEY (labelled KEY, sanitized).
	LabelFields []string
	// MaxLabelValueLength cuts promoted label values (bytes).
	MaxLabelValueLength int
	// MaxDistinctValues caps the values one promoted label may take; later
	// new values become OverflowValue.
	MaxDistinctValues int
	// Tracker remembers promoted label values; nil gets a private one.
	Tracker *LabelTracker
	// MetadataFields become structured metadata, like LabelFields.
	MetadataFields []string
}

// Builder builds entries. It is safe for concurrent use.
type Builder struct {
	cfg      Config
	labels   []field
	metadata []field
	// moved lists attribute keys that became labels or metadata; the line
	// leaves them out. Sorted.
	moved []string
	// lines are scratch buffers for building lines (*[]byte).
	lines sync.Pool
}

// NewBuilder checks cfg and returns a Builder for it.
func NewBuilder(cfg Config) (*Builder, error) {
	b := &Builder{cfg: cfg}
	if b.cfg.Tracker == nil {
		b.cfg.Tracker = NewLabelTracker()
	}
	if b.cfg.TimestampPolicy == "" {
		b.cfg.TimestampPolicy = TimestampAccept
	}
	if b.cfg.LineFormat == "" {
		b.cfg.LineFormat = LineJSON
	}
	var errs []error
	switch b.cfg.TimestampPolicy {
	case TimestampAccept, TimestampClamp, TimestampServer:
	default:
		errs = append(errs, fmt.Errorf("timestamp_policy must be accept, clamp or server, got %q", cfg.TimestampPolicy))
	}
	if b.cfg.LineFormat != LineJSON && b.cfg.LineFormat != LineLogfmt {
		errs = append(errs, fmt.Errorf("line_format must be json or logfmt, got %q", cfg.LineFormat))
	}
	taken := map[string]string{LabelLevel: "level", LabelService: "service"}
	for name := range cfg.StaticLabels {
		taken[string(name)] = "labels"
	}
	for _, p := range cfg.LabelFields {
		f, err := parseField(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("labels: %w", err))
			continue
		}
		if other, dup := taken[f.name]; dup {
			errs = append(errs, fmt.Errorf("labels: field %q would be label %q, which %s already sets", p, f.name, other))
			continue
		}
		taken[f.name] = p
		b.labels = append(b.labels, f)
	}
	if len(b.labels) > 0 && (cfg.MaxLabelValueLength <= 0 || cfg.MaxDistinctValues <= 0) {
		errs = append(errs, errors.New("labels: max_value_length and max_distinct_values must be greater than 0"))
	}
	smTaken := map[string]bool{}
	for _, f := range event.TextFields {
		if f.Metadata {
			smTaken[f.Name] = true
		}
	}
	for _, p := range cfg.MetadataFields {
		f, err := parseField(p)
		if err == nil && f.Text != nil {
			err = fmt.Errorf("field %q is structured metadata already; list attributes.KEY", p)
		}
		if err == nil && smTaken[f.name] {
			err = fmt.Errorf("field %q would be metadata %q twice", p, f.name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("structured_metadata: %w", err))
			continue
		}
		smTaken[f.name] = true
		b.metadata = append(b.metadata, f)
	}
	for _, f := range append(append([]field(nil), b.labels...), b.metadata...) {
		if f.Text == nil {
			b.moved = append(b.moved, f.Attr)
		}
	}
	slices.Sort(b.moved)
	return b, errors.Join(errs...)
}

// MustBuilder is NewBuilder for configurations known to be valid.
func MustBuilder(cfg Config) *Builder {
	b, err := NewBuilder(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Build builds the entry for ev received at the given time.
func (b *Builder) Build(ev *event.Event, received time.Time) Entry {
	return b.BuildCorrected(ev, received, 0)
}

// BuildCorrected builds the entry for ev received at the given time from a
// sender whose clock is offset behind the receiver's (ClockOffset): the
// event's own timestamp is moved by offset before the window applies.
func (b *Builder) BuildCorrected(ev *event.Event, received time.Time, offset time.Duration) Entry {
	ts, src := b.timestamp(ev, received, offset)

	labels := make(model.LabelSet, len(b.cfg.StaticLabels)+2+len(b.labels))
	for k, v := range b.cfg.StaticLabels {
		labels[k] = v
	}
	if ev.Service != "" {
		labels[LabelService] = model.LabelValue(ev.Service)
	}
	labels[LabelLevel] = model.LabelValue(ev.Level.String())
	var overflow []string
	for _, f := range b.labels {
		v := truncateValue(valueOf(ev, f), b.cfg.MaxLabelValueLength)
		if v == "" {
			continue
		}
		v, over := b.cfg.Tracker.admit(f.name, v, b.cfg.MaxDistinctValues)
		if over {
			overflow = append(overflow, f.name)
		}
		labels[model.LabelName(f.name)] = model.LabelValue(v)
	}

	var clientTS time.Time
	if src == TimestampOutOfWindow || (src == TimestampServerPolicy && !ev.Timestamp.IsZero()) {
		clientTS = ev.Timestamp
	}
	return Entry{
		Labels: labels,
		Entry: push.Entry{
			Timestamp:          ts,
			Line:               b.line(ev, clientTS),
			StructuredMetadata: b.structuredMetadata(ev),
		},
		TimestampSource: src,
		LabelOverflow:   overflow,
	}
}

// line writes ev's log line into a pooled scratch buffer and copies it out
// once: the line's only allocation is the string itself, of its exact size,
// where building into a fresh slice grew it two or three times.
func (b *Builder) line(ev *event.Event, clientTS time.Time) string {
	buf, _ := b.lines.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	line := (*buf)[:0]
	if b.cfg.LineFormat == LineLogfmt {
		line = appendLogfmt(line, ev, clientTS, b.moved)
	} else {
		line = appendLine(line, ev, clientTS, b.moved)
	}
	s := string(line)
	if cap(line) <= maxPooledLine { // one huge event does not keep its buffer
		*buf = line
		b.lines.Put(buf)
	}
	return s
}

const maxPooledLine = 64 << 10

func valueOf(ev *event.Event, f field) string {
	v, _ := f.Value(ev)
	return v
}

func (b *Builder) timestamp(ev *event.Event, received time.Time, offset time.Duration) (time.Time, TimestampSource) {
	if ev.Timestamp.IsZero() {
		return received, TimestampMissing
	}
	if b.cfg.TimestampPolicy == TimestampServer {
		return received, TimestampServerPolicy
	}
	earliest, latest := received.Add(-b.cfg.MaxPast), received.Add(b.cfg.MaxFuture)
	ts := ev.Timestamp.Add(offset)
	switch {
	case ts.Before(earliest):
		if b.cfg.TimestampPolicy == TimestampClamp {
			return earliest, TimestampOutOfWindow
		}
		return received, TimestampOutOfWindow
	case ts.After(latest):
		if b.cfg.TimestampPolicy == TimestampClamp {
			return latest, TimestampOutOfWindow
		}
		return received, TimestampOutOfWindow
	case offset != 0:
		return ts, TimestampCorrected
	default:
		return ts, TimestampEvent
	}
}

func (b *Builder) structuredMetadata(ev *event.Event) push.LabelsAdapter {
	md := metadata(ev)
	for _, f := range b.metadata {
		if v := valueOf(ev, f); v != "" {
			md = append(md, push.LabelAdapter{Name: f.name, Value: v})
		}
	}
	return md
}

// metadata is the event's own structured metadata: its metadata fields
// that are set, in TextFields' order.
func metadata(ev *event.Event) push.LabelsAdapter {
	var md push.LabelsAdapter
	for i := range event.TextFields {
		f := &event.TextFields[i]
		if v := *f.Ref(ev); f.Metadata && v != "" {
			if md == nil {
				md = make(push.LabelsAdapter, 0, 4)
			}
			md = append(md, push.LabelAdapter{Name: f.Name, Value: v})
		}
	}
	return md
}
