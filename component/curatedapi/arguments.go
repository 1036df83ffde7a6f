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
	"github.com/grafana/alloy/syntax/alloytypes"

	"github.com/grafana/alloy/curated/internal/access"
	"github.com/grafana/alloy/curated/internal/admission"
	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/httpapi"
	"github.com/grafana/alloy/curated/internal/rules"
)

// Defaults of the component's arguments.
const (
	DefaultMaxRequestBytes     = units.MiB
	DefaultMaxEventsPerRequest = 500
	DefaultMaxEventBytes       = 32 * units.KiB
	DefaultMaxAttributes       = 64
	DefaultForwardTimeout      = 5 * time.Second
	DefaultMaxPast             = time.Hour
	// DefaultMaxFuture is small: an entry dated ahead of the clock is
	// invisible to every panel and alert rule that evaluates "up to now"
	// until the clock catches up, so a fast client clock would delay
	// detection by its skew. Past it, the receive time is used and the
	// client's own time kept in the line.
	DefaultMaxFuture        = 5 * time.Second
	DefaultGracefulShutdown = 30 * time.Second
	// DefaultMaxClockSkew: a sender clock off by more than a day is broken
	// rather than skewed; its sent_at is not trusted.
	DefaultMaxClockSkew = 24 * time.Hour
	// The component reports itself once a minute: rules that look at the
	// last few minutes see a report in every window.
	DefaultSelfReportInterval = time.Minute
	DefaultSelfReportService  = "alloy-curated"
	DefaultBrowserAttribute   = "browser"
	DefaultMaxConcurrent      = 1024
	DefaultMaxInflightBytes   = 64 * units.MiB
	DefaultCORSMaxAge         = 10 * time.Minute
	DefaultBodyTimeout        = 10 * time.Second
	DefaultMinBodyRate        = units.KiB
	// A browser key's holders are anyone: each address gets this share.
	DefaultMaxConcurrentPerAddress    = 32
	DefaultMaxInflightBytesPerAddress = 8 * units.MiB
)

// Arguments holds the values of loki.source.curated_api's config block.
type Arguments struct {
	// HTTP holds the listen address, port and server settings of the API.
	HTTP *HTTPArguments `alloy:"http,block,optional"`
	// GracefulShutdownTimeout is how long in-flight requests may finish on shutdown.
	GracefulShutdownTimeout time.Duration `alloy:"graceful_shutdown_timeout,attr,optional"`
	// RequestTracing wraps every request in dskit's default middleware
	// (a tracing span, request logging, per-route instrumentation), as
	// loki.source.api does; off, the API keeps only its own metrics and
	// dskit's request duration and in-flight gauges.
	RequestTracing bool `alloy:"request_tracing,attr,optional"`
	// ForwardTo receives every accepted entry (for example loki.write).
	ForwardTo []loki.LogsReceiver `alloy:"forward_to,attr"`
	// Labels are static labels added to every entry.
	Labels map[string]string `alloy:"labels,attr,optional"`
	// MaxRequestBytes caps a request body after gzip decompression (413 above it).
	MaxRequestBytes units.Base2Bytes `alloy:"max_request_bytes,attr,optional"`
	// MaxEventsPerRequest caps the events of one request (413 above it).
	MaxEventsPerRequest int `alloy:"max_events_per_request,attr,optional"`
	// MaxEventBytes caps one event's JSON (too_large above it).
	MaxEventBytes units.Base2Bytes `alloy:"max_event_bytes,attr,optional"`
	// MaxAttributes caps an event's top-level attributes (too_many above it).
	MaxAttributes int `alloy:"max_attributes,attr,optional"`
	// ForwardTimeout is how long a request waits for the receivers to take its entries (503 after it).
	ForwardTimeout time.Duration `alloy:"forward_timeout,attr,optional"`
	// MaxPast is how far in the past an event's own timestamp is kept.
	MaxPast time.Duration `alloy:"max_past,attr,optional"`
	// MaxFuture is how far ahead of the clock an event's own timestamp is kept.
	MaxFuture time.Duration `alloy:"max_future,attr,optional"`
	// MaxClockSkew is the largest sender clock skew (from an envelope's sent_at) corrected; 0 corrects none.
	MaxClockSkew time.Duration `alloy:"max_clock_skew,attr,optional"`
	// BrowserAttribute is the attribute that gets the browser ("Chrome 131") of requests from browsers; "" adds none.
	BrowserAttribute string `alloy:"browser_attribute,attr,optional"`
	// SelfReportInterval is how often the component sends a curated.pipeline event with its counts; 0 disables it.
	SelfReportInterval time.Duration `alloy:"self_report_interval,attr,optional"`
	// SelfReportService is the service of the curated.pipeline events.
	SelfReportService string `alloy:"self_report_service,attr,optional"`
	// Durable keeps accepted entries on disk until they cannot be lost to a crash.
	Durable DurableArguments `alloy:"durable,block,optional"`

	// Clients are the API keys; with none, the API is open.
	Clients []ClientArguments `alloy:"client,block,optional"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose X-Forwarded-For is believed.
	TrustedProxies []string `alloy:"trusted_proxies,attr,optional"`
	// IPRateLimit limits the requests of each client address.
	IPRateLimit *RateLimitArguments `alloy:"ip_rate_limit,block,optional"`
	// MaxConcurrentRequests caps the requests the API handles at once (503 above it).
	MaxConcurrentRequests int `alloy:"max_concurrent_requests,attr,optional"`
	// MaxInflightBytes caps the memory all requests in flight may hold (503 above it).
	MaxInflightBytes units.Base2Bytes `alloy:"max_inflight_bytes,attr,optional"`
	// BodyTimeout is how long a request body may take to arrive (408 after it).
	BodyTimeout time.Duration `alloy:"body_timeout,attr,optional"`
	// MinBodyRate is the slowest a body may arrive after its first 2 seconds (408 below it).
	MinBodyRate units.Base2Bytes `alloy:"min_body_rate,attr,optional"`
	// CORSMaxAge is how long browsers may cache a preflight answer.
	CORSMaxAge time.Duration `alloy:"cors_max_age,attr,optional"`
	// Tenant is the Loki tenant of entries from clients without their own, and of an open API.
	Tenant string `alloy:"tenant,attr,optional"`

	// Refinement rules, applied in the order documented in internal/rules.
	// Schema rejects events outside the allowed names, limits, required attributes and types.
	Schema *SchemaArguments `alloy:"schema,block,optional"`
	// Drops discard matching events before they are stored.
	Drops []DropArguments `alloy:"drop,block,optional"`
	// Samples keep a share of matching events, by session.
	Samples []SampleArguments `alloy:"sample,block,optional"`
	// Attributes renames, sets and removes attributes.
	Attributes AttributesArguments `alloy:"attributes,block,optional"`
	// Redact removes personal data and secrets; on by default.
	Redact RedactArguments `alloy:"redact,block,optional"`
	// Truncate cuts long strings and marks them.
	Truncate *TruncateArguments `alloy:"truncate,block,optional"`
	// PromoteLabels turns low-cardinality fields into labels, with caps.
	PromoteLabels *PromoteLabelsArguments `alloy:"promote_labels,block,optional"`
	// StructuredMetadata lists attributes stored as structured metadata.
	StructuredMetadata []string `alloy:"structured_metadata,attr,optional"`
	// LineFormat is the entry line: json or logfmt.
	LineFormat string `alloy:"line_format,attr,optional"`
	// TimestampPolicy is accept, clamp or server: how far an event's own timestamp is trusted.
	TimestampPolicy string `alloy:"timestamp_policy,attr,optional"`
}

// ClientArguments is one client block: an API key and what it may do.
type ClientArguments struct {
	// Name is the block's label, used in metrics.
	Name string `alloy:",label"`
	// APIKey is the key the client sends (X-API-Key, Bearer, or api_key for browser keys).
	APIKey alloytypes.Secret `alloy:"api_key,attr"`
	// Service is the client's service label; events naming another are refused.
	Service string `alloy:"service,attr,optional"`
	// Tenant is the Loki tenant of the client's entries.
	Tenant string `alloy:"tenant,attr,optional"`
	// AllowedEvents are globs of the event names the key may send; empty allows all.
	AllowedEvents []string `alloy:"allowed_events,attr,optional"`
	// AllowedOrigins are globs of the browser origins the key is accepted from.
	AllowedOrigins []string `alloy:"allowed_origins,attr,optional"`
	// Browser marks a public key shipped to browsers: origins required, key allowed in the URL, per-address shares.
	Browser bool `alloy:"browser,attr,optional"`
	// RateLimit limits the client's requests.
	RateLimit *RateLimitArguments `alloy:"rate_limit,block,optional"`

	// The client's share of what is in flight; 0 means half of the
	// component's limit. The per-address shares apply to browser clients.
	// MaxConcurrentRequests is the client's share of the requests in flight.
	MaxConcurrentRequests int `alloy:"max_concurrent_requests,attr,optional"`
	// MaxInflightBytes is the client's share of the memory in flight.
	MaxInflightBytes units.Base2Bytes `alloy:"max_inflight_bytes,attr,optional"`
	// MaxConcurrentRequestsPerAddress is each browser address's share of the client's requests.
	MaxConcurrentRequestsPerAddress int `alloy:"max_concurrent_requests_per_address,attr,optional"`
	// MaxInflightBytesPerAddress is each browser address's share of the client's memory.
	MaxInflightBytesPerAddress units.Base2Bytes `alloy:"max_inflight_bytes_per_address,attr,optional"`
}

// RateLimitArguments is a token bucket: rate requests per second on
// average, up to burst at once.
type RateLimitArguments struct {
	// Rate is the requests per second allowed on average.
	Rate float64 `alloy:"rate,attr"`
	// Burst is the requests allowed at once on top of Rate.
	Burst int `alloy:"burst,attr"`
}

// Validate implements syntax.Validator.
func (r *RateLimitArguments) Validate() error {
	if r.Rate <= 0 || r.Burst < 1 {
		return fmt.Errorf("rate_limit: rate must be greater than 0 and burst at least 1, got rate %v and burst %d", r.Rate, r.Burst)
	}
	return nil
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
		MaxClockSkew:            DefaultMaxClockSkew,
		SelfReportInterval:      DefaultSelfReportInterval,
		SelfReportService:       DefaultSelfReportService,
		BrowserAttribute:        DefaultBrowserAttribute,
		MaxConcurrentRequests:   DefaultMaxConcurrent,
		MaxInflightBytes:        DefaultMaxInflightBytes,
		BodyTimeout:             DefaultBodyTimeout,
		MinBodyRate:             DefaultMinBodyRate,
		CORSMaxAge:              DefaultCORSMaxAge,
		LineFormat:              DefaultLineFormat,
		TimestampPolicy:         DefaultTimestampPolicy,
	}
	a.Redact.SetToDefault()
	a.Durable.SetToDefault()
}

// Validate implements syntax.Validator.
func (a *Arguments) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be greater than 0, got %d", name, v))
		}
	}
	nonNegative := func(name string, negative bool, v any) {
		if negative {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", name, v))
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
	nonNegative("max_past", a.MaxPast < 0, a.MaxPast)
	nonNegative("max_future", a.MaxFuture < 0, a.MaxFuture)
	nonNegative("max_clock_skew", a.MaxClockSkew < 0, a.MaxClockSkew)
	nonNegative("self_report_interval", a.SelfReportInterval < 0, a.SelfReportInterval)
	if a.SelfReportInterval > 0 && a.SelfReportInterval < time.Second {
		errs = append(errs, fmt.Errorf("self_report_interval must be 0 (off) or at least 1s, got %s", a.SelfReportInterval))
	}
	if a.SelfReportInterval > 0 && (a.SelfReportService == "" || len(a.SelfReportService) > 128 || !event.IsToken(a.SelfReportService)) {
		errs = append(errs, fmt.Errorf("self_report_service %q must be 1-128 characters of A-Z a-z 0-9 _ . : -", a.SelfReportService))
	}
	nonNegative("graceful_shutdown_timeout", a.GracefulShutdownTimeout < 0, a.GracefulShutdownTimeout)
	nonNegative("max_concurrent_requests", a.MaxConcurrentRequests < 0, a.MaxConcurrentRequests)
	nonNegative("max_inflight_bytes", a.MaxInflightBytes < 0, a.MaxInflightBytes)
	nonNegative("cors_max_age", a.CORSMaxAge < 0, a.CORSMaxAge)
	nonNegative("body_timeout", a.BodyTimeout < 0, a.BodyTimeout)
	nonNegative("min_body_rate", a.MinBodyRate < 0, a.MinBodyRate)
	if a.HTTP != nil && (a.HTTP.ListenPort < 0 || a.HTTP.ListenPort > 65535) {
		errs = append(errs, fmt.Errorf("http.listen_port must be between 0 and 65535, got %d", a.HTTP.ListenPort))
	}
	for name, value := range a.Labels {
		if err := validateStaticLabel(name, value); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.validateClients()...)
	// Compiling here too makes `alloy validate` report bad patterns and rule
	// clashes; Update compiles the rules it swaps in. Both are config-time only.
	if _, err := a.compileRules(entry.NewLabelTracker()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *Arguments) validateClients() []error {
	var errs []error
	names := map[string]bool{}
	var withTenant, withoutTenant []string
	for _, c := range a.Clients {
		if names[c.Name] {
			errs = append(errs, fmt.Errorf("client %q is defined twice", c.Name))
		}
		names[c.Name] = true
		if c.Service != "" && !event.IsToken(c.Service) {
			errs = append(errs, fmt.Errorf("client %q: service %q may contain only letters, digits and _ . : -", c.Name, c.Service))
		}
		if c.Tenant != "" && !validTenant(c.Tenant) {
			errs = append(errs, fmt.Errorf("client %q: tenant %q must be up to 150 of the characters Loki allows in a tenant ID", c.Name, c.Tenant))
		}
		if c.Tenant == "" {
			withoutTenant = append(withoutTenant, c.Name)
		} else {
			withTenant = append(withTenant, c.Name)
		}
		for name, v := range map[string]int64{
			"max_concurrent_requests":             int64(c.MaxConcurrentRequests),
			"max_inflight_bytes":                  int64(c.MaxInflightBytes),
			"max_concurrent_requests_per_address": int64(c.MaxConcurrentRequestsPerAddress),
			"max_inflight_bytes_per_address":      int64(c.MaxInflightBytesPerAddress),
		} {
			if v < 0 {
				errs = append(errs, fmt.Errorf("client %q: %s must not be negative, got %d", c.Name, name, v))
			}
		}
	}
	// Tenants mean a multi-tenant Loki, which refuses entries without one
	// (401 no org id) after the API has answered 202: refuse the config
	// instead of losing the events.
	if a.Tenant != "" && !validTenant(a.Tenant) {
		errs = append(errs, fmt.Errorf("tenant %q must be up to 150 of the characters Loki allows in a tenant ID", a.Tenant))
	}
	if len(withTenant) > 0 && len(withoutTenant) > 0 && a.Tenant == "" {
		errs = append(errs, fmt.Errorf("clients %q have no tenant while %q have one: a multi-tenant Loki would refuse their entries; "+
			"set tenant on each of them, or the component's tenant for every client without one", withoutTenant, withTenant))
	}
	if _, err := a.policy(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// validTenant follows Loki's tenant ID rules: at most 150 characters of
// letters, digits and !-_.*'(), and not "." or "..".
func validTenant(t string) bool {
	if len(t) > 150 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!-_.*'()", r)) {
			return false
		}
	}
	return true
}

// policy compiles the client blocks and trusted proxies.
func (a *Arguments) policy() (*access.Policy, error) {
	clients := make([]access.ClientConfig, 0, len(a.Clients))
	for _, c := range a.Clients {
		cc := access.ClientConfig{
			Name:           c.Name,
			APIKey:         string(c.APIKey),
			Service:        c.Service,
			Tenant:         c.Tenant,
			AllowedEvents:  c.AllowedEvents,
			AllowedOrigins: c.AllowedOrigins,
			Browser:        c.Browser,
		}
		if cc.Tenant == "" {
			cc.Tenant = a.Tenant
		}
		if c.RateLimit != nil {
			cc.Rate, cc.Burst = c.RateLimit.Rate, c.RateLimit.Burst
		}
		cc.InFlight = admission.Limits{
			Requests: orDefault(int64(c.MaxConcurrentRequests), int64(a.MaxConcurrentRequests)/2),
			Bytes:    orDefault(int64(c.MaxInflightBytes), int64(a.MaxInflightBytes)/2),
		}
		if c.Browser {
			cc.AddressInFlight = admission.Limits{
				Requests: orDefault(int64(c.MaxConcurrentRequestsPerAddress), DefaultMaxConcurrentPerAddress),
				Bytes:    orDefault(int64(c.MaxInflightBytesPerAddress), int64(DefaultMaxInflightBytesPerAddress)),
			}
		}
		clients = append(clients, cc)
	}
	return access.NewPolicy(clients, a.TrustedProxies)
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

func validateStaticLabel(name, value string) error {
	switch {
	case !model.LegacyValidation.IsValidLabelName(name): // Loki accepts only legacy names
		return fmt.Errorf("labels: %q is not a valid Loki label name", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("labels: %q: names starting with __ are reserved", name)
	case name == entry.LabelLevel:
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

// compiledRules is what an Update compiles once and swaps in atomically.
type compiledRules struct {
	pipeline *rules.Pipeline
	builder  *entry.Builder
}

func (a *Arguments) compileRules(tracker *entry.LabelTracker) (compiledRules, error) {
	rc, err := a.rulesConfig()
	if err != nil {
		return compiledRules{}, err
	}
	pipeline, perr := rules.Compile(rc)
	builder, berr := entry.NewBuilder(a.builderConfig(tracker))
	return compiledRules{pipeline: pipeline, builder: builder}, errors.Join(perr, berr)
}

func (a *Arguments) labelSet() model.LabelSet {
	labels := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		labels[model.LabelName(k)] = model.LabelValue(v)
	}
	return labels
}

// handlerConfig is the hot-swappable API configuration. tracker keeps the
// promoted label values across reloads.
func (a *Arguments) handlerConfig(tracker *entry.LabelTracker) (httpapi.Config, error) {
	policy, err := a.policy()
	if err != nil {
		return httpapi.Config{}, err
	}
	compiled, err := a.compileRules(tracker)
	if err != nil {
		return httpapi.Config{}, err
	}
	var ipRate float64
	var ipBurst int
	if a.IPRateLimit != nil {
		ipRate, ipBurst = a.IPRateLimit.Rate, a.IPRateLimit.Burst
	}
	return httpapi.Config{
		MaxRequestBytes: int64(a.MaxRequestBytes),
		Limits: event.Limits{
			MaxEventsPerRequest: a.MaxEventsPerRequest,
			MaxEventBytes:       int(a.MaxEventBytes),
			MaxAttributes:       a.MaxAttributes,
		},
		Rules:            compiled.pipeline,
		Builder:          compiled.builder,
		ForwardTimeout:   a.ForwardTimeout,
		MaxClockSkew:     a.MaxClockSkew,
		BrowserAttribute: a.BrowserAttribute,
		Access:           policy,
		IPRate:           ipRate,
		IPBurst:          ipBurst,
		MaxConcurrent:    int64(a.MaxConcurrentRequests),
		MaxInflightBytes: int64(a.MaxInflightBytes),
		BodyTimeout:      a.BodyTimeout,
		MinBodyRate:      int64(a.MinBodyRate),
		CORSMaxAge:       a.CORSMaxAge,
		Tenant:           a.Tenant,
	}, nil
}
