package curatedapi

import (
	"fmt"

	"github.com/grafana/alloy/syntax/alloytypes"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/pii"
	"github.com/grafana/alloy/curated/internal/rules"
)

// Defaults of the refinement rules.
const (
	DefaultLineFormat        = entry.LineJSON
	DefaultTimestampPolicy   = entry.TimestampAccept
	DefaultLabelValueLength  = 64
	DefaultMaxDistinctValues = 100
	DefaultTruncateMarker    = "…[truncated]"
)

// SchemaArguments is the schema block.
type SchemaArguments struct {
	// AllowedEvents are globs of the event names allowed; empty allows all.
	AllowedEvents []string `alloy:"allowed_events,attr,optional"`
	// MaxAttributes caps the top-level attributes; 0 leaves the component's max_attributes in charge.
	MaxAttributes int `alloy:"max_attributes,attr,optional"`
	// MaxStringLength caps every string of an event; 0 means no limit.
	MaxStringLength int `alloy:"max_string_length,attr,optional"`
	// Events are per-event-name schemas.
	Events []EventSchemaArgument `alloy:"event,block,optional"`
}

// EventSchemaArgument is a schema > event block.
type EventSchemaArgument struct {
	// Pattern is the glob of event names the schema applies to.
	Pattern string `alloy:"pattern,attr"`
	// Required are attribute keys the events must have.
	Required []string `alloy:"required,attr,optional"`
	// Types maps attribute keys to string, number, bool, object or array.
	Types map[string]string `alloy:"types,attr,optional"`
}

// DropArguments is a drop block.
type DropArguments struct {
	// Name is the rule's label, reported in metrics and dry runs.
	Name string `alloy:",label"`
	// Events are globs of the event names to drop.
	Events []string `alloy:"events,attr,optional"`
	// Levels are the levels to drop.
	Levels []string `alloy:"levels,attr,optional"`
	// Attribute is an attribute key that must be present; with Value, its value must match.
	Attribute string `alloy:"attribute,attr,optional"`
	// Value is a regular expression the attribute's value must match.
	Value string `alloy:"value,attr,optional"`
}

// SampleArguments is a sample block.
type SampleArguments struct {
	// Name is the rule's label, reported in metrics and dry runs.
	Name string `alloy:",label"`
	// Events are globs of the event names sampled; empty means all.
	Events []string `alloy:"events,attr,optional"`
	// Rate is the share of events kept, from 0 to 1.
	Rate float64 `alloy:"rate,attr"`
}

// AttributesArguments is the attributes block.
type AttributesArguments struct {
	// Rename maps old attribute keys to new ones.
	Rename map[string]string `alloy:"rename,attr,optional"`
	// Set adds or overwrites attributes with fixed values.
	Set map[string]string `alloy:"set,attr,optional"`
	// Remove lists attribute keys to delete.
	Remove []string `alloy:"remove,attr,optional"`
}

// RedactArguments is the redact block. Redaction is on by default.
type RedactArguments struct {
	// Builtins are the built-in detectors scanned in every string (all by default).
	Builtins []string `alloy:"builtins,attr,optional"`
	// SecretKeys masks attributes named like secrets (password, token, ...).
	SecretKeys bool `alloy:"secret_keys,attr,optional"`
	// Keys are extra attribute names to treat as secrets (case-insensitive).
	Keys []string `alloy:"keys,attr,optional"`
	// QueryParams are extra URL query parameter names whose values are
	// secrets in any text (with the credential detector on).
	QueryParams []string `alloy:"query_params,attr,optional"`
	// KeyAction is what happens to a secret-named attribute: mask or remove.
	KeyAction string `alloy:"key_action,attr,optional"`
	// Patterns are named regular expressions replaced by [REDACTED:name].
	Patterns map[string]string `alloy:"patterns,attr,optional"`
	// HashFields are fields replaced by a keyed hash: user_id, session_id or attributes.KEY.
	HashFields []string `alloy:"hash_fields,attr,optional"`
	// HashSecret is the HMAC key of HashFields.
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
	// MaxLength is the longest a string may be, in bytes.
	MaxLength int `alloy:"max_length,attr"`
	// Marker is appended to a cut string.
	Marker string `alloy:"marker,attr,optional"`
}

// SetToDefault implements syntax.Defaulter.
func (t *TruncateArguments) SetToDefault() { *t = TruncateArguments{Marker: DefaultTruncateMarker} }

// PromoteLabelsArguments is the promote_labels block.
type PromoteLabelsArguments struct {
	// Fields are the fields to promote: event, trace_id, ... or attributes.KEY.
	Fields []string `alloy:"fields,attr"`
	// MaxValueLength is the bytes a label value is cut to.
	MaxValueLength int `alloy:"max_value_length,attr,optional"`
	// MaxDistinctValues caps the values of one label; later ones become the overflow value.
	MaxDistinctValues int `alloy:"max_distinct_values,attr,optional"`
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
			QueryParams: a.Redact.QueryParams,
			KeyAction:   a.Redact.KeyAction,
			Patterns:    a.Redact.Patterns,
		},
	}
	builtins, err := pii.ParseSet(a.Redact.Builtins)
	if err != nil {
		return cfg, fmt.Errorf("redact: %w", err)
	}
	cfg.Redact.Builtins = builtins
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
func (a *Arguments) builderConfig(tracker *entry.LabelTracker) entry.Config {
	cfg := entry.Config{
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
