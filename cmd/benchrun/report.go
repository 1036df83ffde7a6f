package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/grafana/alloy/curated/internal/lokisink"
)

type report struct {
	Machine    map[string]any     `json:"machine"`
	Started    time.Time          `json:"started"`
	Options    map[string]any     `json:"options"`
	SinkIsLoki bool               `json:"sink_is_real_loki"`
	Saturation []Measurement      `json:"saturation"`
	Fixed      []Measurement      `json:"fixed_rate"`
	Shapes     []Measurement      `json:"curated_shapes,omitempty"`
	Summary    map[string]Summary `json:"summary"`
	Ratios     map[string]float64 `json:"ratios_curated_over"`
	Overload   *Overload          `json:"overload,omitempty"`
	PeakRSSMiB float64            `json:"alloy_peak_rss_mib"`
	Sink       lokisink.Stats     `json:"sink"`
}

// Summary is one receiver's medians over the rounds.
type Summary struct {
	EventsPerSecond float64 `json:"events_per_second"`
	CPUPerMillion   float64 `json:"alloy_cpu_seconds_per_million_events"`
	FixedP50        float64 `json:"fixed_rate_p50_ms"`
	FixedP99        float64 `json:"fixed_rate_p99_ms"`
	RSSMaxMiB       float64 `json:"alloy_rss_max_mib"`
	// AllocsPerRequest is alloy-custom's allocations per accepted request
	// at saturation (median over the rounds).
	AllocsPerRequest float64 `json:"alloy_allocs_per_request"`
}

var order = []string{"curated_api", volatileName, "loki.source.api", "faro.receiver", containerName}

// volatileName is curated_api with its durable spool off: the spool's cost
// is the ratio against it.
const volatileName = "curated_api (durable off)"

// containerName is configs/container_logs.alloy, the container-log path:
// loki.source.api and the stages that join, drop, cap and redact lines.
const containerName = "container_logs"

// ratioKeys name the ratios of curated_api against each other receiver.
var ratioKeys = map[string]string{volatileName: "volatile", "loki.source.api": "loki", "faro.receiver": "faro"}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r *report) summarize() {
	r.Summary = map[string]Summary{}
	for _, name := range order {
		var eps, cpu, allocs []float64
		var s Summary
		for _, m := range r.Saturation {
			if m.Receiver == name {
				eps = append(eps, m.Load.EPS)
				cpu = append(cpu, m.CPUPerMillion)
				allocs = append(allocs, m.AllocsPerRequest)
				s.RSSMaxMiB = max(s.RSSMaxMiB, m.RSSMaxMiB)
			}
		}
		s.EventsPerSecond, s.CPUPerMillion, s.AllocsPerRequest = median(eps), median(cpu), median(allocs)
		for _, m := range r.Fixed {
			if m.Receiver == name {
				s.FixedP50, s.FixedP99 = m.Load.Latency.P50, m.Load.Latency.P99
			}
		}
		r.Summary[name] = s
	}
	c := r.Summary["curated_api"]
	r.Ratios = map[string]float64{}
	// The spool's cost, paired within each round: a VM's speed drifts
	// between rounds more than the spool costs.
	var paired []float64
	for _, m := range r.Saturation {
		for _, v := range r.Saturation {
			if m.Receiver == "curated_api" && v.Receiver == volatileName && m.Round == v.Round && v.Load.EPS > 0 {
				paired = append(paired, m.Load.EPS/v.Load.EPS)
			}
		}
	}
	if len(paired) > 0 {
		r.Ratios["spool_paired_events_per_second"] = median(paired)
	}
	ratios := func(prefix string, c, o Summary) {
		if o.EventsPerSecond > 0 && c.EventsPerSecond > 0 {
			r.Ratios[prefix+"_events_per_second"] = c.EventsPerSecond / o.EventsPerSecond
		}
		if o.CPUPerMillion > 0 && c.CPUPerMillion > 0 {
			r.Ratios[prefix+"_cpu_per_event"] = c.CPUPerMillion / o.CPUPerMillion
		}
		if o.FixedP99 > 0 && c.FixedP99 > 0 {
			r.Ratios[prefix+"_p99"] = c.FixedP99 / o.FixedP99
		}
	}
	for _, other := range order[1:] {
		if key, ok := ratioKeys[other]; ok {
			ratios(key, c, r.Summary[other])
		}
	}
	// What the container path's stages cost over the bare push receiver.
	ratios("container_vs_loki", r.Summary[containerName], r.Summary["loki.source.api"])
	// Without the spool, as loki.source.api runs: the per-request cost
	// of the API alone.
	ratios("volatile_vs_loki", r.Summary[volatileName], r.Summary["loki.source.api"])
}

func (r *report) write(dir string) error {
	if err := writeJSON(filepath.Join(dir, "results.json"), r); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	sink := "counting Loki stand-in (internal/lokisink)"
	if r.SinkIsLoki {
		sink = "a real Loki"
	}
	p("Run %s on %v (%v CPUs, %v, %v); loki.write pushes to %s. Options: %v.\n\n",
		r.Started.Format(time.RFC3339), r.Machine["cpu"], r.Machine["cpus"], r.Machine["memory"], r.Machine["go"], sink, r.Options)

	p("| Receiver | events/s at saturation (median) | CPU-s per 1M events | allocations per request (whole process) | p50 / p99 at fixed rate (ms) | max RSS during its runs (MiB) |\n")
	p("|---|---|---|---|---|---|\n")
	for _, name := range order {
		s := r.Summary[name]
		if s.EventsPerSecond == 0 && s.FixedP99 == 0 {
			continue // not measured in this run (-receivers)
		}
		p("| `%s` | %s | %.1f | %.0f | %.2f / %.2f | %.0f |\n", name, thousands(s.EventsPerSecond), s.CPUPerMillion, s.AllocsPerRequest, s.FixedP50, s.FixedP99, s.RSSMaxMiB)
	}
	p("\nRatios, the first over the other (events/s: higher is better; CPU and p99: lower is better):\n\n")
	p("| Receiver | vs | events/s | CPU per event | p99 |\n|---|---|---|---|---|\n")
	for _, k := range []struct{ key, self, other string }{
		{"volatile", "`curated_api`", "`curated_api` without the spool (the spool's cost)"},
		{"loki", "`curated_api`", "`loki.source.api`"},
		{"volatile_vs_loki", "`curated_api (durable off)`", "`loki.source.api`"},
		{"faro", "`curated_api`", "`faro.receiver`"},
		{"container_vs_loki", "`container_logs` (stages included)", "`loki.source.api`"},
	} {
		if _, ok := r.Ratios[k.key+"_events_per_second"]; !ok {
			continue
		}
		p("| %s | %s | %.2f | %.2f | %.2f |\n", k.self, k.other,
			r.Ratios[k.key+"_events_per_second"], r.Ratios[k.key+"_cpu_per_event"], r.Ratios[k.key+"_p99"])
	}
	if v, ok := r.Ratios["spool_paired_events_per_second"]; ok {
		p("\nThe durable spool's cost, paired by round (median of curated_api / curated_api without the spool, events/s): %.3f, a throughput cost of %.1f %%.\n", v, 100*(1-v))
	}
	p("\nEvery round (saturation):\n\n| Round | Receiver | events/s | requests | statuses | delivered | CPU-s | max RSS MiB |\n|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.Saturation {
		p("| %d | `%s` | %s | %d | %s | %d | %.1f | %.0f |\n", m.Round, m.Receiver, thousands(m.Load.EPS), m.Load.Requests,
			statuses(m.Load.Statuses), m.Delivered, m.CPUSeconds, m.RSSMaxMiB)
	}
	if len(r.Shapes) > 0 {
		p("\ncurated_api by payload shape (saturation):\n\n| Shape | events/s | requests/s | p99 (ms) | CPU-s per 1M events |\n|---|---|---|---|---|\n")
		for _, m := range r.Shapes {
			p("| %s | %s | %s | %.2f | %.1f |\n", m.Shape, thousands(m.Load.EPS), thousands(m.Load.RPS), m.Load.Latency.P99, m.CPUPerMillion)
		}
	}
	if ov := r.Overload; ov != nil {
		p("\nOverload: %.0f× curated_api's saturation rate (%s events/s offered) for %.0f s: statuses %s, %d events accepted and all %d delivered; RSS %.0f MiB at the start, %.0f MiB at most, %.0f MiB at the end.\n",
			ov.Factor, thousands(ov.TargetEPS), ov.Load.Seconds, statuses(ov.Load.Statuses), ov.Load.Accepted, ov.Delivered,
			ov.RSSStartMiB, ov.RSSMaxMiB, ov.RSSEndMiB)
		p("RSS every 5 s (MiB):")
		for i := 0; i < len(ov.RSSMiB); i += 5 {
			p(" %.0f", ov.RSSMiB[i])
		}
		p(".\n")
	}
	p("\nalloy-custom peak RSS over the whole run: %.0f MiB. Sink: %d entries in %d pushes.\n", r.PeakRSSMiB, r.Sink.Entries, r.Sink.Requests)
	return b.String()
}

// statuses formats status counts as "202: 100, 503: 7".
func statuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
