package rules

import "github.com/grafana/alloy/curated/internal/event"

// attributes renames, then sets, then removes attributes.
type attributes struct {
	AttributesConfig
	setKeys []string // Set's keys, sorted: the trace is stable
}

func compileAttributes(cfg Config) (step, error) {
	a := cfg.Attributes
	if len(a.Rename) == 0 && len(a.Set) == 0 && len(a.Remove) == 0 {
		return nil, nil
	}
	return &attributes{AttributesConfig: a, setKeys: sortedKeys(a.Set)}, nil
}

func (a *attributes) apply(ev *event.Event, res *Result, trace bool) bool {
	changed := false
	for i := range ev.Attributes {
		if to, ok := a.Rename[ev.Attributes[i].Key]; ok {
			res.fire(trace, "rename:"+ev.Attributes[i].Key)
			ev.Attributes[i].Key = to
			changed = true
		}
	}
	if changed {
		ev.Normalize()
	}
	for _, k := range a.setKeys {
		ev.SetAttr(k, a.Set[k])
		res.fire(trace, "set:"+k)
	}
	for _, k := range a.Remove {
		if ev.DeleteAttr(k) {
			res.fire(trace, "remove:"+k)
		}
	}
	return false
}
