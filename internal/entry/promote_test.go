package entry

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/event"
)

func TestPromotedLabelsAndMetadata(t *testing.T) {
	tracker := NewLabelTracker()
	b := MustBuilder(Config{
		StaticLabels: model.LabelSet{"env": "prod"}, MaxPast: time.Hour, MaxFuture: time.Minute,
		LabelFields:         []string{"event", "attributes.step", "attributes.__tenant_id__"},
		MaxLabelValueLength: 8, MaxDistinctValues: 2, Tracker: tracker,
		MetadataFields: []string{"attributes.order_id"},
	})
	ev := event.Event{Name: "form.step", Level: event.LevelInfo, Attributes: []event.Attribute{
		{Key: "__tenant_id__", Value: "team-b"}, {Key: "order_id", Value: "o-981"}, {Key: "step", Value: json.Number("2")},
		{Key: "x", Value: "kept"},
	}}
	e := b.Build(&ev, received)
	want := model.LabelSet{"env": "prod", "level": "info", "event": "form.ste", "step": "2", "tenant_id__": "team-b"}
	if !e.Labels.Equal(want) {
		t.Errorf("labels = %v, want %v (values cut to 8 bytes, __ never a prefix)", e.Labels, want)
	}
	if _, ok := e.Labels[LabelTenant]; ok {
		t.Error("input set the reserved tenant label")
	}
	if e.Entry.Line != `{"event":"form.step","attributes":{"x":"kept"}}` {
		t.Errorf("line = %s (promoted attributes leave the line)", e.Entry.Line)
	}
	if len(e.Entry.StructuredMetadata) != 1 || e.Entry.StructuredMetadata[0].Name != "order_id" || e.Entry.StructuredMetadata[0].Value != "o-981" {
		t.Errorf("structured metadata = %v", e.Entry.StructuredMetadata)
	}

	// max_distinct_values = 2: a third step value overflows, known ones don't.
	var got []string
	for _, step := range []string{"3", "4", "2", "5"} {
		ev.Attributes[2].Value = json.Number(step)
		e := b.Build(&ev, received)
		got = append(got, string(e.Labels["step"])+fmt.Sprint(e.LabelOverflow))
	}
	if strings.Join(got, " ") != "3[] _overflow[step] 2[] _overflow[step]" {
		t.Errorf("step labels = %v", got)
	}
	// The tracker outlives a rebuilt builder (a config reload).
	b2 := MustBuilder(Config{LabelFields: []string{"attributes.step"}, MaxLabelValueLength: 8, MaxDistinctValues: 2, Tracker: tracker})
	ev.Attributes[2].Value = json.Number("9")
	if e := b2.Build(&ev, received); e.Labels["step"] != OverflowValue {
		t.Errorf("reload reset the distinct-value cap: %v", e.Labels)
	}
}

func TestSanitizeLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"step": "step", "Step-Name": "Step_Name", "__tenant_id__": "tenant_id__", "a.b c": "a_b_c",
		"9lives": "attr_9lives", "한글": "attr_", "_x": "x", "x9": "x9",
	} {
		if got := SanitizeLabelName(in); got != want || !model.LegacyValidation.IsValidLabelName(got) || strings.HasPrefix(got, "__") {
			t.Errorf("SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuilderConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{LabelFields: []string{"message"}, MaxLabelValueLength: 1, MaxDistinctValues: 1}, "must be event"},
		{Config{LabelFields: []string{"attributes.level"}, MaxLabelValueLength: 1, MaxDistinctValues: 1}, "which level already sets"},
		{Config{StaticLabels: model.LabelSet{"env": "x"}, LabelFields: []string{"attributes.env"}, MaxLabelValueLength: 1, MaxDistinctValues: 1}, "which labels already sets"},
		{Config{LabelFields: []string{"event"}}, "max_value_length"},
		{Config{MetadataFields: []string{"user_id"}}, "structured metadata already"},
		{Config{MetadataFields: []string{"attributes.trace_id"}}, "twice"},
		{Config{LineFormat: "xml"}, "line_format"},
		{Config{TimestampPolicy: "trust"}, "timestamp_policy"},
	} {
		if _, err := NewBuilder(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewBuilder(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestLogfmtLine(t *testing.T) {
	b := MustBuilder(Config{LineFormat: LineLogfmt, MaxPast: time.Hour, MaxFuture: time.Minute})
	ev := event.Event{Name: "shopify.sync", Level: event.LevelError, Message: `sync "failed" now`,
		Timestamp: received.Add(-2 * time.Hour), Attributes: []event.Attribute{
			{Key: "error", Value: map[string]any{"code": "THROTTLED", "retry": true}},
			{Key: "http_status", Value: json.Number("502")}, {Key: "ids", Value: []any{json.Number("1"), "a"}},
			{Key: "k=v", Value: ""},
		}}
	want := `event=shopify.sync message="sync \"failed\" now" error.code=THROTTLED error.retry=true http_status=502 ids="[1,\"a\"]" k_v="" client_timestamp=2026-11-25T08:00:00Z`
	if got := b.Build(&ev, received).Entry.Line; got != want {
		t.Errorf("logfmt line:\n got %s\nwant %s", got, want)
	}
}

func TestTimestampPolicies(t *testing.T) {
	old, ahead, inside := received.Add(-2*time.Hour), received.Add(time.Hour), received.Add(-time.Minute)
	tests := []struct {
		policy string
		ts     time.Time
		want   time.Time
		src    TimestampSource
		client bool
	}{
		{TimestampAccept, old, received, TimestampOutOfWindow, true},
		{TimestampAccept, inside, inside, TimestampEvent, false},
		{TimestampClamp, old, received.Add(-time.Hour), TimestampOutOfWindow, true},
		{TimestampClamp, ahead, received.Add(5 * time.Minute), TimestampOutOfWindow, true},
		{TimestampClamp, inside, inside, TimestampEvent, false},
		{TimestampServer, inside, received, TimestampServerPolicy, true},
		{TimestampServer, time.Time{}, received, TimestampMissing, false},
	}
	for _, tt := range tests {
		b := MustBuilder(Config{TimestampPolicy: tt.policy, MaxPast: time.Hour, MaxFuture: 5 * time.Minute})
		ev := event.Event{Name: "e", Level: event.LevelInfo, Timestamp: tt.ts}
		e := b.Build(&ev, received)
		if !e.Entry.Timestamp.Equal(tt.want) || e.TimestampSource != tt.src || strings.Contains(e.Entry.Line, "client_timestamp") != tt.client {
			t.Errorf("%s %v: got %v %v %s", tt.policy, tt.ts, e.Entry.Timestamp, e.TimestampSource, e.Entry.Line)
		}
	}
}
