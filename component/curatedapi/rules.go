package curatedapi

import (
	"fmt"
	"strings"

	"github.com/grafana/alloy/syntax/alloytypes"

	"github.com/grafana/alloy/curated/internal/pii"
	"github.com/grafana/alloy/curated/internal/refine"
	"github.com/grafana/alloy/curated/internal/rules"
)

// Defaults of the refinement rules.
const (
	DefaultLineFormat        = refine.LineJSON
	DefaultTimestampPolicy   = refine.TimestampAccept
	DefaultLabelValueLength  = 64
	DefaultMaxDistinctValues = 100
	DefaultTruncateMarker    = "…[truncated]"
)

// SchemaArguments is the schema block.
type SchemaArguments struct {
	AllowedEvents   []string              `alloy:"allowed_events,attr,optional"`
	MaxAttributes   int                   `alloy:"max_attributes,attr,optional"`
	MaxStringLength int                   `alloy:"max_string_length,attr,optional"`
	Events          []EventSchemaArgument `alloy:"event,block,optional"`
}

// EventSchemaArgument is a schema > event block.
type EventSchemaArgument struct {
	Pattern  string            `alloy:"pattern,attr"`
	Required []string          `alloy:"required,attr,optional"`
	Types    map[string]string `alloy:"types,attr,optional"`
}

// DropArguments is a drop block.
type DropArguments struct {
	Name      string   `alloy:",label"`
	Events    []string `alloy:"events,attr,optional"`
	Levels    []string `alloy:"levels,attr,optional"`
	Attribute string   `alloy:"attribute,attr,optional"`
	Value     string   `alloy:"value,attr,optional"`
}

// SampleArguments is a sample block.
type SampleArguments struct {
	Name   string   `alloy:",label"`
	Events []string `alloy:"events,attr,optional"`
	Rate   float64  `alloy:"rate,attr"`
}

// AttributesArguments is the attributes block.
type AttributesArguments struct {
	Rename map[string]string `alloy:"rename,attr,optional"`
	Set    map[string]string `alloy:"set,attr,optional"`
	Remove []string          `alloy:"remove,attr,optional"`
}

// RedactArguments is the redact block. Redaction is on by default.
type RedactArguments struct {
	Builtins   []string          `alloy:"builtins,attr,optional"`
	SecretKeys bool              `alloy:"secret_keys,attr,optional"`
	Keys       []string          `alloy:"keys,attr,optional"`
	KeyAction  string            `alloy:"key_action,attr,optional"`
	Patterns   map[string]string `alloy:"patterns,attr,optional"`
	HashFields []string          `alloy:"hash_fields,attr,optional"`
	HashSecret alloytypes.Secret `alloy:"hash_secret,attr,optional"`
}

// SetToDefault implements syntax.Defaulter: the core's default redaction
// (rules.DefaultRedact, which the leak fuzz tests cover).
func (r *RedactArguments) SetToDefault() {
	d := rules.DefaultRedact()
	*r = RedactArguments{Builtins: d.Builtins.Names(), SecretKeys: d.BuiltinKeys, KeyAction: d.KeyAction}
}

// TruncateArguments is the truncate block.
type TruncateArguments struct {
	MaxLength int    `alloy:"max_length,attr"`
	Marker    string `alloy:"marker,attr,optional"`
}

// SetToDefault implements syntax.Defaulter.
func (t *TruncateArguments) SetToDefault() { *t = TruncateArguments{Marker: DefaultTruncateMarker} }

// PromoteLabelsArguments is the promote_labels block.
type PromoteLabelsArguments struct {
	Fields            []string `alloy:"fields,attr"`
	MaxValueLength    int      `alloy:"max_value_length,attr,optional"`
	MaxDistinctValues int      `alloy:"max_distinct_values,attr,optional"`
}

// SetToDefault implements syntax.Defaulter.
func (p *PromoteLabelsArguments) SetToDefault() {
	*p = PromoteLabelsArguments{MaxValueLength: DefaultLabelValueLength, MaxDistinctValues: DefaultMaxDistinctValues}
}

// rulesConfig converts the rule blocks.
func (a *Arguments) rulesConfig() (rules.Config, error) {
	cfg := rules.Config{
		Attributes: rules.AttributesConfig(a.Attributes),
		Hash:       rules.HashConfig{Fields: a.Redact.HashFields, Secret: string(a.Redact.HashSecret)},
		Redact: rules.RedactConfig{
			BuiltinKeys: a.Redact.SecretKeys,
			Keys:        a.Redact.Keys,
			KeyAction:   a.Redact.KeyAction,
			Patterns:    a.Redact.Patterns,
		},
	}
	for _, name := range a.Redact.Builtins {
		k, ok := pii.ParseKind(name)
		if !ok {
			return cfg, fmt.Errorf("redact: unknown builtin %q; use %s", name, strings.Join(pii.Names(), ", "))
		}
		cfg.Redact.Builtins = cfg.Redact.Builtins.With(k)
	}
	if a.Schema != nil {
		s := &rules.SchemaConfig{AllowedEvents: a.Schema.AllowedEvents, MaxAttributes: a.Schema.MaxAttributes,
			MaxStringLength: a.Schema.MaxStringLength}
		for _, e := range a.Schema.Events {
			s.Events = append(s.Events, rules.EventSchema(e))
		}
		cfg.Schema = s
	}
	for _, d := range a.Drops {
		cfg.Drops = append(cfg.Drops, rules.DropConfig(d))
	}
	for _, s := range a.Samples {
		cfg.Samples = append(cfg.Samples, rules.SampleConfig(s))
	}
	if a.Truncate != nil {
		cfg.Truncate = rules.TruncateConfig(*a.Truncate)
	}
	return cfg, nil
}

// builderConfig is the entry builder's configuration.
func (a *Arguments) builderConfig(tracker *refine.LabelTracker) refine.Config {
	cfg := refine.Config{
		StaticLabels:    a.labelSet(),
		MaxPast:         a.MaxPast,
		MaxFuture:       a.MaxFuture,
		TimestampPolicy: a.TimestampPolicy,
		LineFormat:      a.LineFormat,
		MetadataFields:  a.StructuredMetadata,
		Tracker:         tracker,
	}
	if a.PromoteLabels != nil {
		cfg.LabelFields = a.PromoteLabels.Fields
		cfg.MaxLabelValueLength = a.PromoteLabels.MaxValueLength
		cfg.MaxDistinctValues = a.PromoteLabels.MaxDistinctValues
	}
	return cfg
}
