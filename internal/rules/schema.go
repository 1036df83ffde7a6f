package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// schema rejects events outside the allowed names, attribute counts, string
// lengths, required attributes and types.
type schema struct {
	SchemaConfig
}

func compileSchema(cfg Config) (step, error) {
	if cfg.Schema == nil {
		return nil, nil
	}
	var errs []error
	errs = append(errs, checkGlobs("schema.allowed_events", cfg.Schema.AllowedEvents))
	for _, es := range cfg.Schema.Events {
		errs = append(errs, checkGlobs("schema.event", []string{es.Pattern}))
		for k, typ := range es.Types {
			if !slices.Contains([]string{"string", "number", "bool", "object", "array"}, typ) {
				errs = append(errs, fmt.Errorf("schema.event %q: type of %q must be string, number, bool, object or array, got %q", es.Pattern, k, typ))
			}
		}
	}
	return &schema{*cfg.Schema}, errors.Join(errs...)
}

func (s *schema) apply(ev *event.Event, res *Result, trace bool) bool {
	if res.Errors = s.check(ev); len(res.Errors) == 0 {
		return false
	}
	res.Outcome = Reject
	res.fire(trace, "schema")
	return true
}

func (s *schema) check(ev *event.Event) []event.FieldError {
	var errs []event.FieldError
	if len(s.AllowedEvents) > 0 && !glob.MatchAny(s.AllowedEvents, ev.Name) {
		errs = append(errs, event.FieldError{Field: "event", Code: event.CodeNotAllowed,
			Reason: fmt.Sprintf("event %q is not in the schema's allowed events", ev.Name)})
	}
	if s.MaxAttributes > 0 && len(ev.Attributes) > s.MaxAttributes {
		errs = append(errs, event.FieldError{Field: "attributes", Code: event.CodeTooMany,
			Reason: fmt.Sprintf("has %d attributes, more than the schema allows (%d)", len(ev.Attributes), s.MaxAttributes)})
	}
	if s.MaxStringLength > 0 {
		for i := range event.TextFields {
			if f := &event.TextFields[i]; f.FreeText() && len(*f.Ref(ev)) > s.MaxStringLength {
				errs = append(errs, tooLong(f.Name, s.MaxStringLength))
			}
		}
		for _, a := range ev.Attributes {
			if path := longString("attributes."+a.Key, a.Value, s.MaxStringLength); path != "" {
				errs = append(errs, tooLong(path, s.MaxStringLength))
			}
		}
	}
	for _, es := range s.Events {
		if !glob.MatchAny([]string{es.Pattern}, ev.Name) {
			continue
		}
		for _, k := range es.Required {
			if _, ok := ev.Attr(k); !ok {
				errs = append(errs, event.FieldError{Field: "attributes." + k, Code: event.CodeRequired,
					Reason: fmt.Sprintf("required for %s events", es.Pattern)})
			}
		}
		for _, k := range sortedKeys(es.Types) {
			if v, ok := ev.Attr(k); ok && typeOf(v) != es.Types[k] {
				errs = append(errs, event.FieldError{Field: "attributes." + k, Code: event.CodeInvalidType,
					Reason: fmt.Sprintf("must be a %s for %s events, got %s", es.Types[k], es.Pattern, typeOf(v))})
			}
		}
	}
	return errs
}

func tooLong(field string, n int) event.FieldError {
	return event.FieldError{Field: field, Code: event.CodeTooLong, Reason: fmt.Sprintf("longer than the schema's max_string_length (%d)", n)}
}

// longString returns the path of the first string in v longer than n.
func longString(p string, v any, n int) string {
	switch x := v.(type) {
	case string:
		if len(x) > n {
			return p
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if q := longString(p+"."+k, x[k], n); q != "" {
				return q
			}
		}
	case []any:
		for i, c := range x {
			if q := longString(fmt.Sprintf("%s[%d]", p, i), c, n); q != "" {
				return q
			}
		}
	}
	return ""
}

func typeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "null"
	}
}
