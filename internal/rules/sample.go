package rules

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/grafana/alloy/curated/internal/event"
	"github.com/grafana/alloy/curated/internal/glob"
)

// samples keeps a share of events: the first sample rule whose events
// match decides.
type samples []sample

type sample struct {
	SampleConfig
	threshold uint64
}

func compileSamples(cfg Config) (step, error) {
	if len(cfg.Samples) == 0 {
		return nil, nil
	}
	var (
		ss   samples
		errs []error
	)
	for _, s := range cfg.Samples {
		errs = append(errs, checkGlobs("sample "+s.Name+" events", s.Events))
		if s.Rate < 0 || s.Rate > 1 || math.IsNaN(s.Rate) {
			errs = append(errs, fmt.Errorf("sample %q: rate must be between 0 and 1, got %v", s.Name, s.Rate))
		}
		ss = append(ss, sample{SampleConfig: s, threshold: rateThreshold(s.Rate)})
	}
	return ss, errors.Join(errs...)
}

func (ss samples) apply(ev *event.Event, res *Result, trace bool) bool {
	for i := range ss {
		s := &ss[i]
		if len(s.Events) > 0 && !glob.MatchAny(s.Events, ev.Name) {
			continue
		}
		if !s.keep(ev) {
			res.Outcome, res.Rule = SampledOut, s.Name
			res.fire(trace, "sample:"+s.Name+":dropped")
			return true
		}
		res.fire(trace, "sample:"+s.Name+":kept")
		break
	}
	return false
}

// rateThreshold maps a rate in [0, 1] to a 64-bit hash threshold.
func rateThreshold(rate float64) uint64 {
	if rate >= 1 {
		return math.MaxUint64
	}
	return uint64(rate * (1 << 63) * 2)
}

// keep decides by a hash of session_id (else trace_id), so every event of a
// session is kept or dropped together; events with neither are sampled at
// random.
func (s *sample) keep(ev *event.Event) bool {
	if s.threshold == math.MaxUint64 {
		return true
	}
	key := ev.SessionID
	if key == "" {
		key = ev.TraceID
	}
	if key == "" {
		return rand.Uint64() < s.threshold
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	// fnv's low bits are weak for short keys: mix before comparing.
	return mix(h.Sum64()) < s.threshold
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
