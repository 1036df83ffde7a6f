// Package rules refines validated events before they become Loki entries:
// schema checks, drop and sample rules, attribute edits, keyed hashing,
// redaction of personal data and secrets, and truncation. A Config is
// compiled once into a Pipeline, which is immutable and safe for concurrent
// use, so a new configuration is swapped in atomically.
//
// Rules run in this order, which docs/loki.source.curated_api.md documents:
//
//  1. schema     allowed events, required attributes and types, limits
//  2. drop       the first matching drop rule drops the event
//  3. sample     the first sample rule whose events match keeps a
//     deterministic share, by session_id, else trace_id
//  4. attributes rename, then set, then remove
//  5. hash       HMAC-SHA256 of the listed fields
//  6. redact     sensitive attribute keys, then value patterns in every string
//  7. truncate   strings over a length get a marker
package rules

import "github.com/grafana/alloy/curated/internal/pii"

// Config is the rule configuration.
type Config struct {
	Schema     *SchemaConfig
	Drops      []DropConfig
	Samples    []SampleConfig
	Attributes AttributesConfig
	Hash       HashConfig
	Redact     RedactConfig
	Truncate   TruncateConfig
}

// SchemaConfig restricts what events may contain.
type SchemaConfig struct {
	AllowedEvents   []string // globs; empty allows all
	MaxAttributes   int      // 0: no limit beyond the API's
	MaxStringLength int      // 0: no limit
	Events          []EventSchema
}

// EventSchema applies to events whose name matches Pattern.
type EventSchema struct {
	Pattern  string
	Required []string          // attribute keys
	Types    map[string]string // attribute key -> string, number, bool, object, array
}

// DropConfig drops events matching all of its non-empty conditions.
type DropConfig struct {
	Name      string
	Events    []string // globs
	Levels    []string
	Attribute string // attribute key; with Value, a regexp its value must match
	Value     string
}

// SampleConfig keeps Rate (0 to 1) of the events matching Events.
type SampleConfig struct {
	Name   string
	Events []string
	Rate   float64
}

// AttributesConfig edits attributes.
type AttributesConfig struct {
	Rename map[string]string
	Set    map[string]string
	Remove []string
}

// HashConfig replaces fields by a keyed hash (pseudonymous ids).
type HashConfig struct {
	Fields []string // "user_id", "session_id", or "attributes.KEY"
	Secret string
}

// Key actions of RedactConfig.
const (
	KeyActionMask   = "mask"
	KeyActionRemove = "remove"
)

// RedactConfig removes personal data and secrets.
type RedactConfig struct {
	// Builtins are the value patterns scanned in every string; the zero
	// value means none, DefaultRedact enables all.
	Builtins pii.Set
	// BuiltinKeys masks or removes attributes named like secrets
	// (password, token, authorization, card number, ...).
	BuiltinKeys bool
	Keys        []string          // extra sensitive key names (case-insensitive)
	QueryParams []string          // extra URL query parameter names whose values are secrets
	KeyAction   string            // mask or remove
	Patterns    map[string]string // name -> regexp, replaced by [REDACTED:name]
}

// DefaultRedact is the redaction in force when nothing is configured.
func DefaultRedact() RedactConfig {
	return RedactConfig{Builtins: pii.All, BuiltinKeys: true, KeyAction: KeyActionMask}
}

// TruncateConfig shortens long strings.
type TruncateConfig struct {
	MaxLength int // bytes; 0 disables
	Marker    string
}
