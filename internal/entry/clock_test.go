package entry

import (
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/event"
)

func TestClockOffset(t *testing.T) {
	received := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name       string
		sentAt     time.Time
		want       time.Duration
		wantResult string
	}{
		{"no sent_at", time.Time{}, 0, ""},
		{"a correct clock and 300 ms of latency", received.Add(-300 * time.Millisecond), 0, SkewNone},
		{"4.9 s: under half a step", received.Add(-4900 * time.Millisecond), 0, SkewNone},
		{"a clock 10 minutes slow", received.Add(-10*time.Minute + 120*time.Millisecond), 10 * time.Minute, SkewCorrected},
		{"a clock 2 minutes fast", received.Add(2*time.Minute + 80*time.Millisecond), -2 * time.Minute, SkewCorrected},
		{"a day and more: not trusted", received.Add(-25 * time.Hour), 0, SkewImplausible},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, result := ClockOffset(tt.sentAt, received, 24*time.Hour)
			if got != tt.want || result != tt.wantResult {
				t.Errorf("ClockOffset = %s, %q; want %s, %q", got, result, tt.want, tt.wantResult)
			}
		})
	}
	if got, result := ClockOffset(received.Add(-time.Hour), received, 0); got != 0 || result != SkewImplausible {
		t.Errorf("max 0 corrects nothing; got %s %q", got, result)
	}
}

// A request retried with a new sent_at (the sender's clock at each attempt)
// and a different latency gets the same offset, so its entries are
// identical and Loki keeps one.
func TestClockOffsetSameAcrossRetries(t *testing.T) {
	received := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	skew := -7*time.Minute - 2*time.Second // the sender's clock runs this far behind
	first, _ := ClockOffset(received.Add(skew-40*time.Millisecond), received, time.Hour)
	// The retry arrives 30 s later with its own sent_at 30 s later too,
	// and 860 ms more latency.
	retry, _ := ClockOffset(received.Add(30*time.Second+skew-900*time.Millisecond), received.Add(30*time.Second), time.Hour)
	if first != retry {
		t.Fatalf("offsets differ across attempts: %s and %s", first, retry)
	}
}

func TestBuildCorrected(t *testing.T) {
	b := MustBuilder(Config{MaxPast: time.Hour, MaxFuture: 5 * time.Second})
	received := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	// A browser 10 minutes slow: its event happened 3 s before it was sent.
	ev := event.Event{Name: "form.submit", Timestamp: received.Add(-10*time.Minute - 3*time.Second)}
	e := b.BuildCorrected(&ev, received, 10*time.Minute)
	if want := received.Add(-3 * time.Second); !e.Entry.Timestamp.Equal(want) || e.TimestampSource != TimestampCorrected {
		t.Errorf("slow clock: %s (%s), want %s (corrected)", e.Entry.Timestamp, e.TimestampSource, want)
	}
	// A browser 2 minutes fast: without correction its event would lie in
	// the future and get the receive time; corrected, it keeps its own.
	ev = event.Event{Name: "form.submit", Timestamp: received.Add(2*time.Minute - 20*time.Second)}
	if e := b.BuildCorrected(&ev, received, -2*time.Minute); !e.Entry.Timestamp.Equal(received.Add(-20 * time.Second)) {
		t.Errorf("fast clock: %s", e.Entry.Timestamp)
	}
	// Queued offline for two hours by a slow clock: the corrected time is
	// still older than max_past, so the receive time is used and the
	// client's own time kept in the line.
	ev = event.Event{Name: "form.submit", Timestamp: received.Add(-2*time.Hour - 10*time.Minute)}
	e = b.BuildCorrected(&ev, received, 10*time.Minute)
	if !e.Entry.Timestamp.Equal(received) || e.TimestampSource != TimestampOutOfWindow {
		t.Errorf("old event: %s (%s)", e.Entry.Timestamp, e.TimestampSource)
	}
}
