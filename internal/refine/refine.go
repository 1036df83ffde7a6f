// Package refine turns validated events into Loki entries: the label set, the
// log line, structured metadata and the timestamp. It knows nothing of HTTP
// or Alloy, so it can be tested, fuzzed and benchmarked on its own.
package refine

import (
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

// Structured metadata keys, in the order they are attached.
const (
	MetadataTraceID   = "trace_id"
	MetadataSpanID    = "span_id"
	MetadataSessionID = "session_id"
	MetadataUserID    = "user_id"
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
	// the future; the receive time was used and the original kept in the line.
	TimestampOutOfWindow
)

var timestampSourceNames = [...]string{"event", "missing", "out_of_window"}

func (s TimestampSource) String() string { return timestampSourceNames[s] }

// Entry is one Loki entry built from one event.
type Entry struct {
	Labels          model.LabelSet
	Entry           push.Entry
	TimestampSource TimestampSource
}

// Config configures a Builder. It is immutable once passed to NewBuilder.
type Config struct {
	// StaticLabels are added to every entry; event-derived labels win.
	StaticLabels model.LabelSet
	// MaxPast and MaxFuture bound how far an event's own timestamp may be
	// from the receive time before the receive time is used instead.
	MaxPast   time.Duration
	MaxFuture time.Duration
}

// Builder builds entries. It is safe for concurrent use.
type Builder struct {
	cfg Config
}

// NewBuilder returns a Builder for cfg.
func NewBuilder(cfg Config) *Builder {
	return &Builder{cfg: cfg}
}

// Build builds the entry for ev received at the given time.
func (b *Builder) Build(ev *event.Event, received time.Time) Entry {
	ts, src := b.timestamp(ev, received)

	labels := make(model.LabelSet, len(b.cfg.StaticLabels)+2)
	for k, v := range b.cfg.StaticLabels {
		labels[k] = v
	}
	if ev.Service != "" {
		labels[LabelService] = model.LabelValue(ev.Service)
	}
	labels[LabelLevel] = model.LabelValue(ev.Level.String())

	var original time.Time
	if src == TimestampOutOfWindow {
		original = ev.Timestamp
	}
	return Entry{
		Labels: labels,
		Entry: push.Entry{
			Timestamp:          ts,
			Line:               string(AppendLine(make([]byte, 0, lineSizeHint(ev)), ev, original)),
			StructuredMetadata: metadata(ev),
		},
		TimestampSource: src,
	}
}

func (b *Builder) timestamp(ev *event.Event, received time.Time) (time.Time, TimestampSource) {
	switch {
	case ev.Timestamp.IsZero():
		return received, TimestampMissing
	case ev.Timestamp.Before(received.Add(-b.cfg.MaxPast)), ev.Timestamp.After(received.Add(b.cfg.MaxFuture)):
		return received, TimestampOutOfWindow
	default:
		return ev.Timestamp, TimestampEvent
	}
}

func metadata(ev *event.Event) push.LabelsAdapter {
	n := 0
	for _, v := range [...]string{ev.TraceID, ev.SpanID, ev.SessionID, ev.UserID} {
		if v != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	md := make(push.LabelsAdapter, 0, n)
	add := func(name, value string) {
		if value != "" {
			md = append(md, push.LabelAdapter{Name: name, Value: value})
		}
	}
	add(MetadataTraceID, ev.TraceID)
	add(MetadataSpanID, ev.SpanID)
	add(MetadataSessionID, ev.SessionID)
	add(MetadataUserID, ev.UserID)
	return md
}
