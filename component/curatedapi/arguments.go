package curatedapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"

	"github.com/grafana/alloy/internal/component/common/loki"
	fnet "github.com/grafana/alloy/internal/component/common/net"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/httpapi"
	"github.com/grafana/alloy/curated/internal/refine"
)

// Defaults of the component's arguments.
const (
	DefaultMaxRequestBytes     = units.MiB
	DefaultMaxEventsPerRequest = 500
	DefaultMaxEventBytes       = 32 * units.KiB
	DefaultMaxAttributes       = 64
	DefaultForwardTimeout      = 5 * time.Second
	DefaultMaxPast             = time.Hour
	DefaultMaxFuture           = 5 * time.Minute
	DefaultGracefulShutdown    = 30 * time.Second
)

// Arguments holds the values of loki.source.curated_api's config block.
type Arguments struct {
	HTTP                    *HTTPArguments      `alloy:"http,block,optional"`
	GracefulShutdownTimeout time.Duration       `alloy:"graceful_shutdown_timeout,attr,optional"`
	ForwardTo               []loki.LogsReceiver `alloy:"forward_to,attr"`
	Labels                  map[string]string   `alloy:"labels,attr,optional"`
	MaxRequestBytes         units.Base2Bytes    `alloy:"max_request_bytes,attr,optional"`
	MaxEventsPerRequest     int                 `alloy:"max_events_per_request,attr,optional"`
	MaxEventBytes           units.Base2Bytes    `alloy:"max_event_bytes,attr,optional"`
	MaxAttributes           int                 `alloy:"max_attributes,attr,optional"`
	ForwardTimeout          time.Duration       `alloy:"forward_timeout,attr,optional"`
	MaxPast                 time.Duration       `alloy:"max_past,attr,optional"`
	MaxFuture               time.Duration       `alloy:"max_future,attr,optional"`
}

// HTTPArguments is Alloy's own HTTP server block (listen address and port,
// TLS, timeouts, connection limit, HTTP/2), given defaults so that a partial
// http block keeps the server timeouts instead of disabling them.
type HTTPArguments fnet.HTTPConfig

// SetToDefault implements syntax.Defaulter.
func (h *HTTPArguments) SetToDefault() {
	*h = HTTPArguments(*fnet.DefaultServerConfig().HTTP)
}

// SetToDefault implements syntax.Defaulter.
func (a *Arguments) SetToDefault() {
	var httpArgs HTTPArguments
	httpArgs.SetToDefault()
	*a = Arguments{
		HTTP:                    &httpArgs,
		GracefulShutdownTimeout: DefaultGracefulShutdown,
		MaxRequestBytes:         DefaultMaxRequestBytes,
		MaxEventsPerRequest:     DefaultMaxEventsPerRequest,
		MaxEventBytes:           DefaultMaxEventBytes,
		MaxAttributes:           DefaultMaxAttributes,
		ForwardTimeout:          DefaultForwardTimeout,
		MaxPast:                 DefaultMaxPast,
		MaxFuture:               DefaultMaxFuture,
	}
}

// Validate implements syntax.Validator.
func (a *Arguments) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be greater than 0, got %d", name, v))
		}
	}
	positive("max_request_bytes", int64(a.MaxRequestBytes))
	positive("max_events_per_request", int64(a.MaxEventsPerRequest))
	positive("max_event_bytes", int64(a.MaxEventBytes))
	positive("max_attributes", int64(a.MaxAttributes))
	if a.MaxEventBytes > a.MaxRequestBytes && a.MaxRequestBytes > 0 {
		errs = append(errs, fmt.Errorf("max_event_bytes (%s) must not exceed max_request_bytes (%s)", a.MaxEventBytes, a.MaxRequestBytes))
	}
	if a.ForwardTimeout <= 0 {
		errs = append(errs, fmt.Errorf("forward_timeout must be greater than 0, got %s", a.ForwardTimeout))
	}
	if a.MaxPast < 0 {
		errs = append(errs, fmt.Errorf("max_past must not be negative, got %s", a.MaxPast))
	}
	if a.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max_future must not be negative, got %s", a.MaxFuture))
	}
	if a.GracefulShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("graceful_shutdown_timeout must not be negative, got %s", a.GracefulShutdownTimeout))
	}
	if a.HTTP != nil && (a.HTTP.ListenPort < 0 || a.HTTP.ListenPort > 65535) {
		errs = append(errs, fmt.Errorf("http.listen_port must be between 0 and 65535, got %d", a.HTTP.ListenPort))
	}
	for name, value := range a.Labels {
		if err := validateStaticLabel(name, value); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validateStaticLabel(name, value string) error {
	switch {
	case !model.LegacyValidation.IsValidLabelName(name): // Loki accepts only legacy names
		return fmt.Errorf("labels: %q is not a valid Loki label name", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("labels: %q: names starting with __ are reserved", name)
	case name == refine.LabelLevel:
		return fmt.Errorf("labels: %q is set from each event's level and cannot be static", name)
	case value == "" || !model.LabelValue(value).IsValid():
		return fmt.Errorf("labels: %q must have a non-empty UTF-8 value", name)
	}
	return nil
}

// serverConfig is the network configuration of the embedded server.
func (a *Arguments) serverConfig() *fnet.ServerConfig {
	httpCfg := fnet.HTTPConfig(*a.HTTP)
	return &fnet.ServerConfig{
		HTTP: &httpCfg,
		// dskit always starts a gRPC server; the API does not use it, so keep
		// it on a random loopback port where it cannot conflict or be reached.
		GRPC:                    &fnet.GRPCConfig{ListenAddress: "127.0.0.1", ListenPort: 0},
		GracefulShutdownTimeout: a.GracefulShutdownTimeout,
	}
}

// handlerConfig is the hot-swappable API configuration.
func (a *Arguments) handlerConfig() httpapi.Config {
	labels := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		labels[model.LabelName(k)] = model.LabelValue(v)
	}
	return httpapi.Config{
		MaxRequestBytes: int64(a.MaxRequestBytes),
		Limits: event.Limits{
			MaxEventsPerRequest: a.MaxEventsPerRequest,
			MaxEventBytes:       int(a.MaxEventBytes),
			MaxAttributes:       a.MaxAttributes,
		},
		Builder: refine.NewBuilder(refine.Config{
			StaticLabels: labels,
			MaxPast:      a.MaxPast,
			MaxFuture:    a.MaxFuture,
		}),
		ForwardTimeout: a.ForwardTimeout,
	}
}
