package rules

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// drops discards the events the first matching drop rule describes.
type drops []drop

type drop struct {
	DropConfig
	levels map[event.Level]bool
	value  *regexp.Regexp
}

func compileDrops(cfg Config) (step, error) {
	if len(cfg.Drops) == 0 {
		return nil, nil
	}
	var (
		ds   drops
		errs []error
	)
	for _, d := range cfg.Drops {
		cd := drop{DropConfig: d, levels: map[event.Level]bool{}}
		errs = append(errs, checkGlobs("drop "+d.Name+" events", d.Events))
		for _, l := range d.Levels {
			lvl, ok := event.ParseLevel(l)
			if !ok {
				errs = append(errs, fmt.Errorf("drop %q: unknown level %q", d.Name, l))
			}
			cd.levels[lvl] = true
		}
		if d.Value != "" {
			re, err := regexp.Compile(d.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("drop %q: value: %w", d.Name, err))
			}
			if d.Attribute == "" {
				errs = append(errs, fmt.Errorf("drop %q: value needs attribute", d.Name))
			}
			cd.value = re
		}
		if len(d.Events) == 0 && len(d.Levels) == 0 && d.Attribute == "" {
			errs = append(errs, fmt.Errorf("drop %q: needs at least one of events, levels or attribute", d.Name))
		}
		ds = append(ds, cd)
	}
	return ds, errors.Join(errs...)
}

func (ds drops) apply(ev *event.Event, res *Result, trace bool) bool {
	for i := range ds {
		if d := &ds[i]; d.matches(ev) {
			res.Outcome, res.Rule = Drop, d.Name
			res.fire(trace, "drop:"+d.Name)
			return true
		}
	}
	return false
}

func (d *drop) matches(ev *event.Event) bool {
	if len(d.Events) > 0 && !glob.MatchAny(d.Events, ev.Name) {
		return false
	}
	if len(d.levels) > 0 && !d.levels[ev.Level] {
		return false
	}
	if d.Attribute != "" {
		v, ok := ev.Attr(d.Attribute)
		if !ok || (d.value != nil && !d.value.MatchString(event.ValueText(v))) {
			return false
		}
	}
	return true
}
