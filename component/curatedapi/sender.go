package curatedapi

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/grafana/alloy/internal/component/common/loki"

	"github.com/grafana/alloy/curated/internal/entry"
)

// sender hands entries to the forward_to receivers. It keeps loki.Fanout's
// contract (a read lock held across a send, so that an update of the
// receivers waits for the sends in flight) and differs on the request path
// only: one lock per request instead of one per entry, and a wait bounded
// by a pooled timer, started only when a receiver is not ready, instead of
// a deadline context (a timer and its registration with the request's
// context) on every request.
type sender struct {
	mut      sync.RWMutex
	children []loki.LogsReceiver
	timers   sync.Pool // of stopped *time.Timer
}

func newSender(children []loki.LogsReceiver) *sender { return &sender{children: children} }

// update replaces the receivers once the sends in flight are done.
func (s *sender) update(children []loki.LogsReceiver) {
	s.mut.RLock()
	same := slices.Equal(s.children, children)
	s.mut.RUnlock()
	if same {
		return
	}
	s.mut.Lock()
	s.children = children
	s.mut.Unlock()
}

// Send hands e to every receiver, waiting as long as ctx allows.
func (s *sender) Send(ctx context.Context, e loki.Entry) error {
	s.mut.RLock()
	defer s.mut.RUnlock()
	for _, r := range s.children {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r.Chan() <- e:
		}
	}
	return nil
}

// Forward implements httpapi.Forwarder: it hands entries to every receiver
// in order and returns how many every receiver took before ctx ended or
// wait passed (context.DeadlineExceeded).
func (s *sender) Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error) {
	s.mut.RLock()
	defer s.mut.RUnlock()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop() // since Go 1.23 a stopped timer's channel holds nothing stale
			s.timers.Put(timer)
		}
	}()
	for i := range entries {
		e := loki.NewEntry(entries[i].Labels, entries[i].Entry)
		for _, r := range s.children {
			select {
			case r.Chan() <- e:
				continue
			default:
			}
			if timer == nil {
				timer = s.timer(wait)
			}
			select {
			case r.Chan() <- e:
			case <-timer.C:
				return i, context.DeadlineExceeded
			case <-ctx.Done():
				return i, ctx.Err()
			}
		}
	}
	return len(entries), nil
}

func (s *sender) timer(wait time.Duration) *time.Timer {
	if t, ok := s.timers.Get().(*time.Timer); ok {
		t.Reset(wait)
		return t
	}
	return time.NewTimer(wait)
}
