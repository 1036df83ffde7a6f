// Package curatedapi registers the loki.source.curated_api component: an HTTP
// API that takes small curated events from applications and browsers,
// validates and refines them, and forwards them as Loki entries. The API
// itself lives in internal/httpapi; this package is the Alloy glue.
package curatedapi

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grafana/alloy/internal/component"
	fnet "github.com/grafana/alloy/internal/component/common/net"
	"github.com/grafana/alloy/internal/featuregate"
	"github.com/grafana/alloy/internal/util"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/httpapi"
	"github.com/grafana/alloy/curated/internal/spool"
)

// Name is the component's name in Alloy configuration.
const Name = "loki.source.curated_api"

func init() {
	component.Register(component.Registration{
		Name:      Name,
		Stability: featuregate.StabilityPublicPreview,
		Args:      Arguments{},
		Build: func(opts component.Options, args component.Arguments) (component.Component, error) {
			return New(opts, args.(Arguments))
		},
	})
}

// Component implements loki.source.curated_api.
type Component struct {
	opts    component.Options
	send    *sender
	handler *httpapi.Handler
	// labels remembers promoted label values across reloads, so
	// max_distinct_values holds for the component's lifetime.
	labels *entry.LabelTracker
	// serverMetrics collects the embedded server's metrics; the server is
	// rebuilt on listen changes, and its metrics with it.
	serverMetrics *util.UncheckedCollector

	// fwd spools entries (when durable is on) before the fan-out.
	fwd          *durableForwarder
	spoolMetrics *spool.Metrics
	spoolChanged chan struct{} // tells maintainSpool to look again
	instance     string        // host name/component ID, in reports and spool names

	mut       sync.Mutex
	report    reportArgs    // the self-report's settings, swapped by Update
	rearm     chan struct{} // tells Run that report changed
	spool     *spool.Spool
	spoolCfg  spoolSettings
	server    *apiServer
	serverCfg serverSettings
	health    component.Health
}

var (
	_ component.Component       = (*Component)(nil)
	_ component.HealthComponent = (*Component)(nil)
)

// New creates the component and starts its server.
func New(opts component.Options, args Arguments) (*Component, error) {
	metrics, err := httpapi.NewMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	spoolMetrics, err := spool.NewMetrics(opts.Registerer, "loki_source_curated_api")
	if err != nil {
		return nil, fmt.Errorf("registering spool metrics: %w", err)
	}
	instance, _ := os.Hostname()
	if instance == "" {
		instance = opts.ID
	} else {
		instance += "/" + opts.ID
	}
	c := &Component{
		opts:          opts,
		send:          newSender(args.ForwardTo),
		serverMetrics: util.NewUncheckedCollector(nil),
		labels:        entry.NewLabelTracker(),
		rearm:         make(chan struct{}, 1),
		spoolMetrics:  spoolMetrics,
		spoolChanged:  make(chan struct{}, 1),
		instance:      instance,
	}
	c.fwd = &durableForwarder{next: c.send}
	cfg, err := args.handlerConfig(c.labels)
	if err != nil {
		return nil, err
	}
	c.handler = httpapi.New(cfg, c.fwd, metrics, opts.Logger)
	if err := opts.Registerer.Register(c.serverMetrics); err != nil {
		return nil, fmt.Errorf("registering server metrics: %w", err)
	}
	if err := c.Update(args); err != nil {
		return nil, err
	}
	return c, nil
}

// reportArgs are the self-report's settings.
type reportArgs struct {
	interval time.Duration // 0: off
	service  string
}

// Run sends the self-report every self_report_interval until ctx is done,
// then shuts the server down, letting in-flight requests finish within
// graceful_shutdown_timeout.
func (c *Component) Run(ctx context.Context) error {
	spoolCtx, stopSpool := context.WithCancel(context.Background())
	spoolDone := make(chan struct{})
	go func() { defer close(spoolDone); c.maintainSpool(spoolCtx) }()
	defer func() { stopSpool(); <-spoolDone; c.closeSpool() }()
	// A timer armed with the current interval, re-armed when Update
	// changes it; stopped while reports are off.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		args := c.reportArgs()
		timer.Stop()
		if args.interval > 0 {
			timer.Reset(args.interval)
		}
		select {
		case <-ctx.Done():
			return c.shutdown()
		case <-c.rearm:
			continue
		case <-timer.C:
		}
		if args = c.reportArgs(); args.interval > 0 {
			if err := c.handler.Report(ctx, args.service, c.instance); err != nil && ctx.Err() == nil {
				c.opts.Logger.Warn("self-report not sent; its counts go to the next one", "err", err)
			}
		}
	}
}

func (c *Component) reportArgs() reportArgs {
	c.mut.Lock()
	defer c.mut.Unlock()
	return c.report
}

// closeSpool closes the spool once the server has stopped: nothing appends
// any more, and the directory is left for the next process to adopt.
func (c *Component) closeSpool() {
	c.mut.Lock()
	defer c.mut.Unlock()
	if c.spool != nil {
		if err := c.spool.Close(); err != nil {
			c.opts.Logger.Warn("closing the spool", "err", err)
		}
		c.spool = nil
		c.fwd.set(nil)
	}
}

func (c *Component) shutdown() error {
	c.mut.Lock()
	defer c.mut.Unlock()
	if c.server != nil {
		c.server.stop()
		c.server = nil
		c.serverCfg = serverSettings{}
	}
	return nil
}

// Update applies new arguments. Limits, labels and receivers change in
// place; the server is restarted only when its network settings change.
func (c *Component) Update(args component.Arguments) error {
	newArgs, ok := args.(Arguments)
	if !ok {
		return fmt.Errorf("invalid type of arguments: %T", args)
	}
	cfg, err := newArgs.handlerConfig(c.labels)
	if err != nil {
		return err
	}
	cfg.Check = c.spoolHealth
	c.send.update(newArgs.ForwardTo)

	c.mut.Lock()
	defer c.mut.Unlock()
	if err := c.updateSpool(newArgs.Durable); err != nil {
		return c.unhealthy(err)
	}
	c.handler.SetConfig(cfg)
	if report := (reportArgs{interval: newArgs.SelfReportInterval, service: newArgs.SelfReportService}); report != c.report {
		c.report = report
		select {
		case c.rearm <- struct{}{}:
		default: // Run has a wake-up pending already
		}
	}
	settings := serverSettings{net: newArgs.serverConfig(), tracing: newArgs.RequestTracing}
	if c.server != nil && reflect.DeepEqual(settings, c.serverCfg) {
		return nil
	}
	if c.server != nil {
		c.server.stop()
		c.server, c.serverCfg = nil, serverSettings{}
	}

	// The server registers its metrics on creation; a fresh registry per
	// server avoids duplicate registration after a restart.
	reg := prometheus.NewRegistry()
	c.serverMetrics.SetCollector(reg)
	// The server logs request URIs; browser keys may be in them.
	srv, err := startServer(redactingLogger(c.opts.Logger), reg, settings.net, settings.tracing, c.handler.Routes())
	if err != nil {
		return c.unhealthy(fmt.Errorf("starting server on %s:%d: %w", settings.net.HTTP.ListenAddress, settings.net.HTTP.ListenPort, err))
	}
	c.server, c.serverCfg = srv, settings
	c.health = component.Health{Health: component.HealthTypeHealthy, UpdateTime: time.Now(),
		Message: "receiving events on " + srv.addr()}
	return nil
}

// serverSettings are what a running server was built from: a change
// restarts it.
type serverSettings struct {
	net     *fnet.ServerConfig
	tracing bool
}

// unhealthy records err as the component's health, so a server that could
// not start shows in Alloy's UI and API until a later update succeeds.
// Called with c.mut held.
func (c *Component) unhealthy(err error) error {
	c.health = component.Health{Health: component.HealthTypeUnhealthy, Message: err.Error(), UpdateTime: time.Now()}
	return err
}

// CurrentHealth implements component.HealthComponent.
func (c *Component) CurrentHealth() component.Health {
	c.mut.Lock()
	defer c.mut.Unlock()
	if c.spool != nil && c.health.Health == component.HealthTypeHealthy {
		if err := c.spool.Err(); err != nil {
			return component.Health{Health: component.HealthTypeUnhealthy, UpdateTime: time.Now(),
				Message: "durable spool cannot write; requests get 503: " + err.Error()}
		}
	}
	return c.health
}

// HTTPAddr returns the address the API listens on, for tests.
func (c *Component) HTTPAddr() string {
	c.mut.Lock()
	defer c.mut.Unlock()
	if c.server == nil {
		return ""
	}
	return c.server.addr()
}
