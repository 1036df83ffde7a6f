package rules

import (
	"errors"
	"fmt"
	"slices"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// Outcome is what the pipeline decided for an event.
type Outcome uint8

// Outcomes.
const (
	Keep       Outcome = iota // forward the (refined) event
	Reject                    // schema violation; Result.Errors says why
	Drop                      // a drop rule matched; Result.Rule names it
	SampledOut                // a sample rule did not keep it; Result.Rule names it
)

// Result is the outcome of applying the pipeline to one event.
type Result struct {
	Outcome Outcome
	Rule    string
	Errors  []event.FieldError
	// Redactions names the pattern of every redaction made (email, card,
	// key, a custom pattern's name, hash), for metrics.
	Redactions []string
	// Fired lists every rule that acted, when tracing was asked for.
	Fired []string
}

func (r *Result) fire(trace bool, what string) {
	if trace {
		r.Fired = append(r.Fired, what)
	}
}

// step is one kind of rule, compiled: each kind lives in its own file.
// apply changes ev in place; it returns true when it decided the event's
// fate (res.Outcome), and later steps do not run.
type step interface {
	apply(ev *event.Event, res *Result, trace bool) (decided bool)
}

// kind is one kind of rule: its name in traces, docs and the package doc,
// and its compiler. A kind with nothing configured compiles to no step.
type kind struct {
	name    string
	compile func(Config) (step, error)
}

// kinds are the kinds of rules in the order they run: the one place the
// order is written. The package doc and docs/loki.source.curated_api.md
// follow it (TestRunOrderIsWrittenOnce, and the component's docs test).
var kinds = [...]kind{
	{"schema", compileSchema},
	{"drop", compileDrops},
	{"sample", compileSamples},
	{"attributes", compileAttributes},
	{"hash", compileHash},
	{"redact", compileRedact},
	{"truncate", compileTruncate},
}

// KindNames lists the kinds of rules in the order they run.
func KindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// Pipeline is a compiled, immutable rule set.
type Pipeline struct {
	steps []step
}

// Compile checks and compiles cfg.
func Compile(cfg Config) (*Pipeline, error) {
	p := &Pipeline{}
	var errs []error
	for _, k := range kinds {
		s, err := k.compile(cfg)
		errs = append(errs, err)
		if s != nil {
			p.steps = append(p.steps, s)
		}
	}
	return p, errors.Join(errs...)
}

// Apply runs the pipeline on ev, changing it in place. With trace, the
// result lists every rule that fired.
func (p *Pipeline) Apply(ev *event.Event, trace bool) Result {
	var res Result
	for _, s := range p.steps {
		if apply(s, ev, &res, trace) {
			break
		}
	}
	return res
}

// apply runs one step. A type switch rather than an interface call: the
// compiler then sees that ev and res stay on the caller's stack, where an
// interface call costs two allocations per event (BenchmarkDefaultRules).
// TestEveryKindIsApplied checks that each kind has its case.
func apply(s step, ev *event.Event, res *Result, trace bool) bool {
	switch s := s.(type) {
	case *schema:
		return s.apply(ev, res, trace)
	case drops:
		return s.apply(ev, res, trace)
	case samples:
		return s.apply(ev, res, trace)
	case *attributes:
		return s.apply(ev, res, trace)
	case *hasher:
		return s.apply(ev, res, trace)
	case *redactor:
		return s.apply(ev, res, trace)
	case *truncator:
		return s.apply(ev, res, trace)
	}
	panic(fmt.Sprintf("rules: no case for %T in apply", s))
}

func checkGlobs(what string, globs []string) error {
	if err := glob.Check(globs); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
