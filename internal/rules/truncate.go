package rules

import (
	"errors"
	"unicode/utf8"

	"github.com/grafana/alloy/curated/internal/event"
)

// truncator cuts strings over a length and marks them.
type truncator struct {
	TruncateConfig
}

func compileTruncate(cfg Config) (step, error) {
	if cfg.Truncate.MaxLength < 0 {
		return nil, errors.New("truncate: max_length must not be negative")
	}
	if cfg.Truncate.MaxLength == 0 {
		return nil, nil
	}
	return &truncator{cfg.Truncate}, nil
}

func (t *truncator) apply(ev *event.Event, res *Result, trace bool) bool {
	cut := func(s, where string) string {
		if len(s) <= t.MaxLength {
			return s
		}
		n := t.MaxLength
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		res.fire(trace, "truncate:"+where)
		return s[:n] + t.Marker
	}
	for i := range event.TextFields {
		if f := &event.TextFields[i]; f.FreeText() {
			v := f.Ref(ev)
			*v = cut(*v, f.Name)
		}
	}
	for i := range ev.Attributes {
		ev.Attributes[i].Value = walkStrings(ev.Attributes[i].Value, func(s string) string {
			return cut(s, "attributes."+ev.Attributes[i].Key)
		})
	}
	return false
}

// walkStrings applies f to every string in v, returning the new value.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, c := range x {
			x[k] = walkStrings(c, f)
		}
	case []any:
		for i, c := range x {
			x[i] = walkStrings(c, f)
		}
	}
	return v
}
