package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// An envelope's sent_at moves the events of a skewed clock to the true
// time; a bad sent_at is an error naming the field.
func TestSentAtCorrectsTheSendersClock(t *testing.T) {
	cfg := testConfig()
	cfg.MaxClockSkew = 24 * time.Hour
	f := newFixtureWith(t, cfg)
	// A browser 10 minutes slow sends an event it tracked 2 s before.
	slow := now.Add(-10 * time.Minute)
	body := `{"sent_at":` + itoa(slow.UnixMilli()) + `,"events":[{"event":"form.submit","timestamp":` + itoa(slow.Add(-2*time.Second).UnixMilli()) + `}]}`
	if r := f.post(t, "application/json", body); r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	got := f.fwd.got()
	if len(got) != 1 || !got[0].Entry.Timestamp.Equal(now.Add(-2*time.Second)) {
		t.Fatalf("entry at %v, want %s", got, now.Add(-2*time.Second))
	}
	if n := promtest.ToFloat64(f.h.metrics.clockCorrections.WithLabelValues("corrected")); n != 1 {
		t.Errorf("clock_corrections_total{outcome=corrected} = %v", n)
	}
	if n := promtest.ToFloat64(f.h.metrics.timestamps.WithLabelValues("corrected")); n != 1 {
		t.Errorf("entry_timestamps_total{source=corrected} = %v", n)
	}

	r := f.post(t, "application/json", `{"sent_at":"yesterday","events":[{"event":"a"}]}`)
	if r.status != 400 || len(r.body.Errors) == 0 || r.body.Errors[0].Field != "sent_at" {
		t.Fatalf("bad sent_at: %d %s", r.status, r.raw)
	}
	// sent_at belongs to the envelope, not to an event.
	r = f.post(t, "application/json", `{"event":"a","sent_at":1}`)
	if r.status != 400 || !strings.Contains(r.raw, `"field":"sent_at"`) || !strings.Contains(r.raw, "unknown_field") {
		t.Fatalf("sent_at in an event: %d %s", r.status, r.raw)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The self-report tells what happened since the last one, at level warn
// when anything was refused; counts that could not be forwarded go to the
// next report instead of being lost.
func TestReport(t *testing.T) {
	f := newFixture(t)
	f.post(t, "application/json", `{"event":"ok"}`)
	f.post(t, "application/json", `{"event":"bad name!"}`)
	f.post(t, "application/json", `[{"event":"a"},{"event":"b"},{"event":"c"},{"event":"d"}]`) // 413: too many

	if err := f.h.Report(context.Background(), "alloy-curated", "host-1"); err != nil {
		t.Fatal(err)
	}
	got := f.fwd.got()
	rep, refused := got[len(got)-3], got[len(got)-2:]
	for i, want := range []string{`"client":"anonymous","count":1,"instance":"host-1","status":400`, `"client":"anonymous","count":1,"instance":"host-1","status":413`} {
		if l := refused[i].Entry.Line; !strings.Contains(l, `{"event":"curated.refused"`) || !strings.Contains(l, want) {
			t.Errorf("refused event %d: %s, want %s", i, l, want)
		}
	}
	if rep.Labels["service"] != "alloy-curated" || rep.Labels["level"] != "warn" {
		t.Errorf("report labels %v", rep.Labels)
	}
	var line struct {
		Event      string         `json:"event"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(rep.Entry.Line), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"requests": 3.0, "accepted": 1.0, "refused": 2.0, "refused_400": 1.0, "refused_413": 1.0,
		"rejected_events": 1.0, "not_forwarded": 0.0, "instance": "host-1"}
	for k, v := range want {
		if gotV, _ := json.Marshal(line.Attributes[k]); string(gotV) != mustJSON(v) {
			t.Errorf("attribute %s = %s, want %s (line %s)", k, gotV, mustJSON(v), rep.Entry.Line)
		}
	}
	if line.Event != ReportEvent {
		t.Errorf("event %q", line.Event)
	}

	// The next report starts over, at level info.
	if err := f.h.Report(context.Background(), "alloy-curated", "host-1"); err != nil {
		t.Fatal(err)
	}
	got = f.fwd.got()
	if l := got[len(got)-1]; l.Labels["level"] != "info" || !strings.Contains(l.Entry.Line, `"requests":0`) {
		t.Errorf("second report: %s %s", l.Labels, l.Entry.Line)
	}

	// A stalled downstream: the report is not forwarded, and its counts
	// are in the next one.
	f.post(t, "application/json", `{"event":"bad name!"}`)
	f.fwd.mu.Lock()
	f.fwd.capacity = len(f.fwd.entries)
	f.fwd.mu.Unlock()
	if err := f.h.Report(context.Background(), "alloy-curated", "host-1"); err == nil {
		t.Fatal("report into a stalled downstream: no error")
	}
	f.fwd.mu.Lock()
	f.fwd.capacity = -1
	f.fwd.mu.Unlock()
	if err := f.h.Report(context.Background(), "alloy-curated", "host-1"); err != nil {
		t.Fatal(err)
	}
	got = f.fwd.got()
	if l := got[len(got)-2].Entry.Line; !strings.Contains(l, `"refused_400":1`) {
		t.Errorf("counts of the report that was not forwarded are lost: %s", l)
	}
	if l := got[len(got)-1].Entry.Line; !strings.Contains(l, `"client":"anonymous","count":1,"instance":"host-1","status":400`) {
		t.Errorf("refusals of the report that was not forwarded are lost: %s", l)
	}
}

// A report forwarded in part: what went is not counted again, what did not
// goes to the next report.
func TestReportForwardedInPart(t *testing.T) {
	f := newFixture(t)
	f.post(t, "application/json", `{"event":"bad name!"}`)
	f.fwd.mu.Lock()
	f.fwd.capacity = len(f.fwd.entries) + 1 // the summary goes, the refusal does not
	f.fwd.mu.Unlock()
	if err := f.h.Report(context.Background(), "alloy-curated", ""); err == nil {
		t.Fatal("a report forwarded in part: no error")
	}
	f.fwd.mu.Lock()
	f.fwd.capacity = -1
	f.fwd.mu.Unlock()
	if err := f.h.Report(context.Background(), "alloy-curated", ""); err != nil {
		t.Fatal(err)
	}
	got := f.fwd.got()
	summary, refused := got[len(got)-2].Entry.Line, got[len(got)-1].Entry.Line
	if strings.Contains(summary, `"refused_400"`) || !strings.Contains(summary, `"refused":0`) {
		t.Errorf("the summary that went is counted again: %s", summary)
	}
	if !strings.Contains(refused, `"client":"anonymous","count":1`) {
		t.Errorf("the refusal that did not go is lost: %s", refused)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// Requests from browsers get the browser's family and major version as an
// attribute (a dimension for rules and dashboards) unless the event has it.
func TestBrowserAttribute(t *testing.T) {
	cfg := testConfig()
	cfg.BrowserAttribute = "browser"
	f := newFixtureWith(t, cfg)
	safari := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	for _, tt := range []struct{ ua, body, want string }{
		{safari, `{"event":"a"}`, `"attributes":{"browser":"Safari 18"}`},
		{safari, `{"event":"a","attributes":{"browser":"own"}}`, `"attributes":{"browser":"own"}`},
		{"alloy-curated-go/0.3.0", `{"event":"a"}`, `{"event":"a"}`},
	} {
		r := f.do(t, "POST", PathEvents, map[string]string{"Content-Type": "application/json", "User-Agent": tt.ua}, []byte(tt.body))
		if r.status != 202 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		got := f.fwd.got()
		if line := got[len(got)-1].Entry.Line; !strings.Contains(line, tt.want) {
			t.Errorf("User-Agent %q, body %s: line %s, want %s in it", tt.ua, tt.body, line, tt.want)
		}
	}
}
