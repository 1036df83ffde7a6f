package curatedapi

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/alecthomas/units"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component/common/loki"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/httpapi"
	"github.com/grafana/alloy/curated/internal/spool"
)

// Defaults of the durable block. The window covers what loki.write may
// hold with its default retries (10, backing off to 5 minutes: about 9
// minutes) three times over, and stays inside the hour Loki accepts behind
// a stream's newest entry (max_chunk_age / 2); docs/reliability.md.
const (
	DefaultReplayWindow = 30 * time.Minute
	DefaultSpoolMaxSize = units.GiB
	minReplayWindow     = time.Minute
	maxReplayWindow     = time.Hour
	minSpoolMaxSize     = units.MiB
)

// DurableArguments is the durable block: accepted entries are on disk
// before the API answers 202, and replayed after a crash.
type DurableArguments struct {
	// Enabled turns the spool on (the default).
	Enabled bool `alloy:"enabled,attr,optional"`
	// Path is the spool's directory, shared by the processes that adopt
	// each other's spools; "" is the component's data directory.
	Path string `alloy:"path,attr,optional"`
	// ReplayWindow is how long accepted entries are kept for replay.
	ReplayWindow time.Duration `alloy:"replay_window,attr,optional"`
	// MaxSize caps the spool on disk; past it the API answers 503.
	MaxSize units.Base2Bytes `alloy:"max_size,attr,optional"`
}

// SetToDefault implements syntax.Defaulter.
func (d *DurableArguments) SetToDefault() {
	*d = DurableArguments{Enabled: true, ReplayWindow: DefaultReplayWindow, MaxSize: DefaultSpoolMaxSize}
}

// Validate implements syntax.Validator.
func (d *DurableArguments) Validate() error {
	if !d.Enabled {
		return nil
	}
	var errs []error
	if d.ReplayWindow < minReplayWindow || d.ReplayWindow > maxReplayWindow {
		errs = append(errs, fmt.Errorf("durable.replay_window must be between %s and %s (Loki refuses entries an hour behind a stream's newest), got %s",
			minReplayWindow, maxReplayWindow, d.ReplayWindow))
	}
	if d.MaxSize < minSpoolMaxSize {
		errs = append(errs, fmt.Errorf("durable.max_size must be at least %s, got %s", minSpoolMaxSize, d.MaxSize))
	}
	return errors.Join(errs...)
}

// spoolSettings is what reopening the spool depends on.
type spoolSettings struct {
	path   string
	window time.Duration
	max    int64
}

// settings places the spool: under the component's data directory, or
// under path in a directory named for the component, so that processes
// adopt the spools of the same component only. (On NFS, EFS included,
// flock is emulated with POSIX locks, which one process never conflicts
// with itself on: two components of one process sharing a directory would
// take each other for dead.)
func (d DurableArguments) settings(dataPath, componentID string) (spoolSettings, bool) {
	if !d.Enabled {
		return spoolSettings{}, false
	}
	path := filepath.Join(dataPath, "spool")
	if d.Path != "" {
		path = filepath.Join(d.Path, componentID)
	}
	return spoolSettings{path: path, window: d.ReplayWindow, max: int64(d.MaxSize)}, true
}

// updateSpool opens, reopens or closes the spool for new arguments. A
// spool left behind (path changed, durable turned off) is closed: its
// directory is adopted by the next process that opens a spool there.
// Called with c.mut held.
func (c *Component) updateSpool(d DurableArguments) error {
	want, on := d.settings(c.opts.DataPath, c.opts.ID)
	if on && c.spool != nil && want == c.spoolCfg {
		return nil
	}
	var next *spool.Spool
	if on {
		var err error
		next, err = spool.Open(spool.Options{Path: want.path, ReplayWindow: want.window, MaxSize: want.max,
			Owner: c.instance, Logger: c.opts.Logger, Metrics: c.spoolMetrics})
		if err != nil {
			return fmt.Errorf("durable: opening the spool in %s: %w", want.path, err)
		}
	}
	prev := c.spool
	c.spool, c.spoolCfg = next, want
	c.fwd.set(next)
	if prev != nil {
		if err := prev.Close(); err != nil {
			c.opts.Logger.Warn("closing the previous spool", "dir", prev.Dir(), "err", err)
		}
	}
	select {
	case c.spoolChanged <- struct{}{}:
	default:
	}
	return nil
}

// maintainSpool replays what adopted spools hold and, every tick, deletes
// what left the replay window and adopts the spools of processes gone
// since. It runs for the component's lifetime.
func (c *Component) maintainSpool(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		if s := c.currentSpool(); s != nil {
			n, err := s.ReplayEntries(ctx, func(labels model.LabelSet, e push.Entry) error {
				return c.send.Send(ctx, loki.NewEntry(labels, e))
			})
			if n > 0 || err != nil && ctx.Err() == nil {
				c.opts.Logger.Info("replayed the spools of processes that were gone", "entries", n, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-c.spoolChanged:
		case <-tick.C:
			if s := c.currentSpool(); s != nil {
				if _, err := s.Maintain(); err != nil {
					c.opts.Logger.Warn("spool maintenance", "err", err)
				}
			}
		}
	}
}

func (c *Component) currentSpool() *spool.Spool {
	c.mut.Lock()
	defer c.mut.Unlock()
	return c.spool
}

// spoolHealth is the spool's part of the component's health: a spool
// whose last write failed refuses every request.
func (c *Component) spoolHealth() error {
	if s := c.currentSpool(); s != nil {
		if err := s.Err(); err != nil {
			return fmt.Errorf("durable spool cannot write: %w", err)
		}
	}
	return nil
}

// durableForwarder spools a request's entries before handing them on, so
// what the API acknowledges survives a crash of this process.
type durableForwarder struct {
	next  httpapi.Forwarder
	spool atomic.Pointer[spool.Spool]
}

func (d *durableForwarder) set(s *spool.Spool) { d.spool.Store(s) }

func (d *durableForwarder) Forward(ctx context.Context, entries []entry.Entry, wait time.Duration) (int, error) {
	if s := d.spool.Load(); s != nil {
		if err := s.AppendEntries(entries); err != nil {
			if errors.Is(err, spool.ErrFull) {
				return 0, &httpapi.Unavailable{Reason: "the durable spool is full (durable.max_size)", RetryAfter: 30 * time.Second, Err: err}
			}
			return 0, &httpapi.Unavailable{Reason: "the durable spool cannot write to disk", RetryAfter: 10 * time.Second, Err: err}
		}
	}
	return d.next.Forward(ctx, entries, wait)
}
