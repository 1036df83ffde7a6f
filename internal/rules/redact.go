package rules

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/pii"
)

// MaskedValue replaces the value of an attribute whose key names a secret.
const MaskedValue = "[REDACTED]"

type customPattern struct {
	name   string
	re     *regexp.Regexp
	marker string
}

type redactor struct {
	builtins    pii.Set
	builtinKeys bool
	keys        map[string]bool // normalized extra key names
	queryParams pii.ParamNames  // extra secret query parameter names
	remove      bool
	custom      []customPattern
}

// compileRedact compiles the redaction, which runs on every event when it
// finds anything at all (the default finds everything).
func compileRedact(cfg Config) (step, error) {
	r, err := newRedactor(cfg.Redact)
	if err != nil {
		return nil, err
	}
	if r.builtins == 0 && !r.builtinKeys && len(r.keys) == 0 && len(r.custom) == 0 {
		return nil, nil
	}
	return &r, nil
}

func newRedactor(cfg RedactConfig) (redactor, error) {
	r := redactor{builtins: cfg.Builtins, builtinKeys: cfg.BuiltinKeys, keys: map[string]bool{}, queryParams: pii.NewParamNames(cfg.QueryParams)}
	switch cfg.KeyAction {
	case "", KeyActionMask:
	case KeyActionRemove:
		r.remove = true
	default:
		return r, fmt.Errorf("redact: key_action must be mask or remove, got %q", cfg.KeyAction)
	}
	for _, k := range cfg.Keys {
		var buf [128]byte
		r.keys[string(pii.NormalizeName(k, &buf))] = true
	}
	for _, name := range sortedKeys(cfg.Patterns) {
		re, err := regexp.Compile(cfg.Patterns[name])
		if err != nil {
			return r, fmt.Errorf("redact: pattern %q: %w", name, err)
		}
		r.custom = append(r.custom, customPattern{name: name, re: re, marker: "[REDACTED:" + name + "]"})
	}
	return r, nil
}

func (r *redactor) sensitiveKey(key string) bool {
	if !r.builtinKeys && len(r.keys) == 0 {
		return false
	}
	var buf [128]byte
	k := pii.NormalizeName(key, &buf)
	if len(r.keys) > 0 && r.keys[string(k)] { // no allocation: map index by string(bytes)
		return true
	}
	return r.builtinKeys && pii.IsSecretName(k)
}

// fieldPath is a field's JSON path, built only when a rule fires on it, so
// untouched fields cost no allocation.
type fieldPath struct {
	parent *fieldPath
	key    string
	isKey  bool // the key itself, not its value
}

// field is the name the value at p is under: the innermost key (an array's
// elements are under their array's key); "" for a key itself.
func (p *fieldPath) field() string {
	if p == nil || p.isKey {
		return ""
	}
	return p.key
}

func (p *fieldPath) String() string {
	if p == nil {
		return ""
	}
	s := p.key
	if p.parent != nil {
		s = p.parent.String() + "." + s
	}
	if p.isKey {
		s += " (key)"
	}
	return s
}

// str redacts one string, recording what it found.
func (r *redactor) str(s string, where *fieldPath, res *Result, trace bool) string {
	opts := pii.Options{QueryParams: r.queryParams, Field: where.field()}
	out, found := pii.RedactWith(s, r.builtins, &opts)
	if found != 0 {
		for _, k := range pii.Kinds() {
			if found.Has(k) {
				res.Redactions = append(res.Redactions, k.String())
				res.fire(trace, "redact:"+k.String()+":"+where.String())
			}
		}
	}
	for i := range r.custom {
		c := &r.custom[i]
		if c.re.MatchString(out) {
			out = c.re.ReplaceAllLiteralString(out, c.marker)
			res.Redactions = append(res.Redactions, c.name)
			res.fire(trace, "redact:"+c.name+":"+where.String())
		}
	}
	return out
}

func (r *redactor) apply(ev *event.Event, res *Result, trace bool) bool {
	for i := range event.TextFields {
		f := &event.TextFields[i]
		if v := f.Ref(ev); *v != "" {
			where := fieldPath{key: f.Name}
			*v = r.str(*v, &where, res, trace)
		}
	}
	keysChanged := false
	out := ev.Attributes[:0]
	for _, a := range ev.Attributes {
		if !r.sensitiveKey(a.Key) && r.cleanString(a.Key, "") && r.clean(a.Value, a.Key) {
			out = append(out, a) // fast path: nothing to change, nothing allocated
			continue
		}
		attributes := fieldPath{key: "attributes"}
		where := fieldPath{parent: &attributes, key: a.Key}
		if r.sensitiveKey(a.Key) {
			res.Redactions = append(res.Redactions, "key")
			res.fire(trace, "redact:key:"+where.String())
			if r.remove {
				continue
			}
			a.Value = MaskedValue
		} else {
			a.Value = r.value(a.Value, &where, res, trace)
		}
		keyPath := where
		keyPath.isKey = true
		if k := r.str(a.Key, &keyPath, res, trace); k != a.Key {
			a.Key, keysChanged = k, true
		}
		out = append(out, a)
	}
	ev.Attributes = out
	if keysChanged {
		ev.Normalize()
	}
	return false
}

// cleanString reports whether str would leave s, the value of field (""
// for a key), unchanged.
func (r *redactor) cleanString(s, field string) bool {
	var buf [4]pii.Match
	opts := pii.Options{QueryParams: r.queryParams, Field: field}
	if len(pii.FindWith(s, r.builtins, &opts, buf[:0])) > 0 {
		return false
	}
	for i := range r.custom {
		if r.custom[i].re.MatchString(s) {
			return false
		}
	}
	return true
}

// clean reports whether value would leave v, the value of field,
// unchanged, without allocating.
func (r *redactor) clean(v any, field string) bool {
	switch x := v.(type) {
	case string:
		return r.cleanString(x, field)
	case json.Number:
		return !(r.builtins.Has(pii.Card) && pii.IsCardNumber(string(x)))
	case map[string]any:
		for k, c := range x {
			if r.sensitiveKey(k) || !r.cleanString(k, "") || !r.clean(c, k) {
				return false
			}
		}
	case []any:
		for _, c := range x {
			if !r.clean(c, field) {
				return false
			}
		}
	}
	return true
}

// value redacts an attribute value, recursing into objects and arrays.
func (r *redactor) value(v any, where *fieldPath, res *Result, trace bool) any {
	switch x := v.(type) {
	case string:
		if out := r.str(x, where, res, trace); out != x {
			return out
		}
	case json.Number:
		// A card number sent as a JSON number is still a card number.
		if r.builtins.Has(pii.Card) && pii.IsCardNumber(string(x)) {
			res.Redactions = append(res.Redactions, pii.Card.String())
			res.fire(trace, "redact:card:"+where.String())
			return pii.Marker(pii.Card)
		}
	case map[string]any:
		for k, c := range x {
			p := fieldPath{parent: where, key: k}
			if r.sensitiveKey(k) {
				res.Redactions = append(res.Redactions, "key")
				res.fire(trace, "redact:key:"+p.String())
				if r.remove {
					delete(x, k)
					continue
				}
				c = MaskedValue // and the key itself is scanned below
			} else {
				c = r.value(c, &p, res, trace)
			}
			keyPath := p
			keyPath.isKey = true
			if nk := r.str(k, &keyPath, res, trace); nk != k {
				delete(x, k)
				for _, taken := x[nk]; taken; _, taken = x[nk] {
					nk += "_"
				}
				k = nk
			}
			x[k] = c
		}
	case []any:
		for i, c := range x {
			x[i] = r.value(c, where, res, trace)
		}
	}
	return v
}
