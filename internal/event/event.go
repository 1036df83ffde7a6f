// Package event defines the curated event of the event API v1 and decodes and
// validates request bodies into events. It has no knowledge of HTTP or Alloy.
package event

import (
	"encoding/json"
	"strings"
	"time"
)

// Level is the severity of an event.
type Level uint8

// Levels, lowest first. The zero value means "not set".
const (
	LevelDebug Level = iota + 1
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

var levelNames = [...]string{"", "debug", "info", "warn", "error", "fatal"}

// String returns the canonical name of the level, as used in labels.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return ""
}

// ParseLevel parses a level name case-insensitively, accepting the aliases
// common logging libraries emit (warning, err, critical, ...).
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "dbg", "trace", "verbose":
		return LevelDebug, true
	case "info", "information", "informational", "notice", "log":
		return LevelInfo, true
	case "warn", "warning":
		return LevelWarn, true
	case "error", "err":
		return LevelError, true
	case "fatal", "critical", "crit", "panic", "emerg", "emergency", "alert":
		return LevelFatal, true
	}
	return 0, false
}

// Attribute is one top-level attribute of an event. Value is one of string,
// json.Number, bool, nil, []any or map[string]any.
type Attribute struct {
	Key   string
	Value any
}

// Event is a decoded and validated curated event.
type Event struct {
	Name      string
	Level     Level
	Message   string
	Service   string
	Timestamp time.Time // zero when the client sent none
	// Attributes are sorted by key, keys are unique.
	Attributes []Attribute
	TraceID    string
	SpanID     string
	SessionID  string
	UserID     string
	// AnonymousID identifies a browser or device before (and beside) a
	// user id: the SDKs keep one per browser.
	AnonymousID string
}

// FieldError says why one event (or one field of it) was rejected.
type FieldError struct {
	// Field is the JSON path of the offending field, e.g. "attributes.step";
	// empty when the event as a whole is at fault.
	Field string `json:"field"`
	// Code is a stable, machine-readable reason (see the Code constants).
	Code Code `json:"code"`
	// Reason is a human-readable explanation.
	Reason string `json:"reason"`
}

// Item is the outcome of decoding one event of a request.
type Item struct {
	Event Event
	// Errors is non-empty when the event is rejected.
	Errors []FieldError
}

// OK reports whether the event passed validation.
func (it *Item) OK() bool { return len(it.Errors) == 0 }

// ValueText is the text form of an attribute value, as drop rules, labels
// and structured metadata see it: strings as they are, numbers as sent,
// objects and arrays as compact JSON, null as "".
func ValueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
