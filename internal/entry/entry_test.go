package entry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/curated/internal/event"
)

var received = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func testBuilder() *Builder {
	return MustBuilder(Config{
		StaticLabels: model.LabelSet{"env": "prod", "service": "default-svc"},
		MaxPast:      time.Hour,
		MaxFuture:    5 * time.Minute,
	})
}

func TestBuildEntry(t *testing.T) {
	ev := event.Event{
		Name: "shopify.sync", Level: event.LevelError, Message: "sync \"failed\"\n<retry>", Service: "collabmaker",
		Timestamp: received.Add(-10 * time.Minute),
		Attributes: []event.Attribute{
			{Key: "attempt", Value: json.Number("3")},
			{Key: "ok", Value: false},
			{Key: "place", Value: map[string]any{"z": "last", "a": []any{json.Number("1.50"), nil}}},
			{Key: "status", Value: "502 & <bad>"},
		},
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", SessionID: "sess-1", UserID: "user-9",
	}
	got := testBuilder().Build(&ev, received)

	wantLabels := model.LabelSet{"env": "prod", "service": "collabmaker", "level": "error"}
	if !got.Labels.Equal(wantLabels) {
		t.Errorf("labels = %v, want %v", got.Labels, wantLabels)
	}
	wantLine := `{"event":"shopify.sync","message":"sync \"failed\"\n<retry>","attributes":{"attempt":3,"ok":false,` +
		`"place":{"a":[1.50,null],"z":"last"},"status":"502 & <bad>"}}`
	if got.Entry.Line != wantLine {
		t.Errorf("line =\n%s\nwant\n%s", got.Entry.Line, wantLine)
	}
	if !json.Valid([]byte(got.Entry.Line)) {
		t.Error("line is not valid JSON")
	}
	wantMD := push.LabelsAdapter{
		{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}, {Name: "span_id", Value: "00f067aa0ba902b7"},
		{Name: "session_id", Value: "sess-1"}, {Name: "user_id", Value: "user-9"},
	}
	if len(got.Entry.StructuredMetadata) != len(wantMD) {
		t.Fatalf("structured metadata = %v, want %v", got.Entry.StructuredMetadata, wantMD)
	}
	for i := range wantMD {
		if got.Entry.StructuredMetadata[i] != wantMD[i] {
			t.Errorf("structured metadata[%d] = %v, want %v", i, got.Entry.StructuredMetadata[i], wantMD[i])
		}
	}
	if !got.Entry.Timestamp.Equal(ev.Timestamp) || got.TimestampSource != TimestampEvent {
		t.Errorf("timestamp = %v (%v), want the event's %v", got.Entry.Timestamp, got.TimestampSource, ev.Timestamp)
	}
}

func TestBuildMinimalEvent(t *testing.T) {
	ev := event.Event{Name: "page.view", Level: event.LevelInfo}
	got := testBuilder().Build(&ev, received)
	if want := (model.LabelSet{"env": "prod", "service": "default-svc", "level": "info"}); !got.Labels.Equal(want) {
		t.Errorf("labels = %v, want %v (static service kept when the event has none)", got.Labels, want)
	}
	if got.Entry.Line != `{"event":"page.view"}` {
		t.Errorf("line = %s", got.Entry.Line)
	}
	if got.Entry.StructuredMetadata != nil {
		t.Errorf("structured metadata = %v, want none", got.Entry.StructuredMetadata)
	}
	if !got.Entry.Timestamp.Equal(received) || got.TimestampSource != TimestampMissing {
		t.Errorf("timestamp = %v (%v), want receive time", got.Entry.Timestamp, got.TimestampSource)
	}
}

func TestTimestampWindow(t *testing.T) {
	tests := []struct {
		name     string
		ts       time.Time
		wantTS   time.Time
		wantSrc  TimestampSource
		wantLine string
	}{
		{"inside past edge", received.Add(-time.Hour), received.Add(-time.Hour), TimestampEvent, `{"event":"e"}`},
		{"inside future edge", received.Add(5 * time.Minute), received.Add(5 * time.Minute), TimestampEvent, `{"event":"e"}`},
		{"too old", received.Add(-time.Hour - time.Nanosecond), received, TimestampOutOfWindow,
			`{"event":"e","client_timestamp":"2026-11-25T08:59:59.999999999Z"}`},
		{"too far ahead", received.Add(6 * time.Minute), received, TimestampOutOfWindow,
			`{"event":"e","client_timestamp":"2026-11-25T10:06:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.Event{Name: "e", Level: event.LevelInfo, Timestamp: tt.ts}
			got := testBuilder().Build(&ev, received)
			if !got.Entry.Timestamp.Equal(tt.wantTS) || got.TimestampSource != tt.wantSrc || got.Entry.Line != tt.wantLine {
				t.Errorf("got %v %v %s; want %v %v %s", got.Entry.Timestamp, got.TimestampSource, got.Entry.Line,
					tt.wantTS, tt.wantSrc, tt.wantLine)
			}
		})
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x1f\x7f", "tab\tnl\ncr\r",
		"한국어 ✓", "bad\xffutf8", "js\u2028\u2029", "<html>&amp;"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendString(%q) = %s: invalid JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s) // decodes to the same string
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendString(%q) round-trips to %q, want %q", s, back, wantBack)
		}
	}
}
