package curatedapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component/common/loki"

	"github.com/grafana/alloy/curated/internal/entry"
)

func entriesNamed(lines ...string) []entry.Entry {
	out := make([]entry.Entry, len(lines))
	for i, l := range lines {
		out[i] = entry.Entry{Labels: model.LabelSet{"service": "web"}, Entry: push.Entry{Timestamp: time.Unix(int64(i), 0), Line: l}}
	}
	return out
}

func lines(ch chan loki.Entry, n int) []string {
	var out []string
	for range n {
		out = append(out, (<-ch).Line)
	}
	return out
}

func TestSenderForwardsToEveryReceiverInOrder(t *testing.T) {
	a := loki.NewLogsReceiver(loki.WithChannel(make(chan loki.Entry, 3)))
	b := loki.NewLogsReceiver(loki.WithChannel(make(chan loki.Entry, 3)))
	s := newSender([]loki.LogsReceiver{a, b})
	n, err := s.Forward(context.Background(), entriesNamed("1", "2", "3"), time.Minute)
	if n != 3 || err != nil {
		t.Fatalf("Forward = %d, %v; want 3, nil", n, err)
	}
	for _, r := range []loki.LogsReceiver{a, b} {
		if got := lines(r.Chan(), 3); got[0] != "1" || got[1] != "2" || got[2] != "3" {
			t.Errorf("receiver got %v, want [1 2 3]", got)
		}
	}
}

// A receiver that stops taking entries ends the wait after wait, with the
// count of entries it took; the timer goes back to the pool and a later
// request that must wait waits its whole time again (no stale expiry).
func TestSenderWaitIsBoundedAndTimersAreReused(t *testing.T) {
	r := loki.NewLogsReceiver(loki.WithChannel(make(chan loki.Entry, 1)))
	s := newSender([]loki.LogsReceiver{r})
	n, err := s.Forward(context.Background(), entriesNamed("1", "2", "3"), 20*time.Millisecond)
	if n != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Forward to a full receiver = %d, %v; want 1, deadline exceeded", n, err)
	}
	<-r.Chan()

	// The receiver now takes entries only after a while; the pooled timer
	// must not end this request early.
	slow := loki.NewLogsReceiver() // unbuffered
	s.update([]loki.LogsReceiver{slow})
	got := make(chan []string)
	go func() {
		time.Sleep(50 * time.Millisecond) // longer than the first request's wait
		got <- lines(slow.Chan(), 2)
	}()
	n, err = s.Forward(context.Background(), entriesNamed("a", "b"), time.Hour)
	if n != 2 || err != nil {
		t.Fatalf("Forward after a reused timer = %d, %v; want 2, nil", n, err)
	}
	if l := <-got; l[0] != "a" || l[1] != "b" {
		t.Errorf("receiver got %v", l)
	}
}

func TestSenderStopsWhenTheRequestEnds(t *testing.T) {
	s := newSender([]loki.LogsReceiver{loki.NewLogsReceiver()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.Forward(ctx, entriesNamed("1"), time.Hour)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Forward with the request gone = %d, %v; want 0, canceled", n, err)
	}
}
