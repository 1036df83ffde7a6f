package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBenchHarness runs cmd/benchrun briefly against the real alloy-custom:
// all three receivers must deliver every acknowledged event to the sink
// (benchrun fails otherwise) and the report must hold every measurement.
// It checks the harness, not speed: docs/performance.md has the numbers.
func TestBenchHarness(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./cmd/benchrun", "-alloy", alloyBin, "-out", out,
		"-duration", "2s", "-rounds", "1", "-concurrency", "8", "-fixed-rate", "1000",
		"-overload", "3", "-overload-duration", "3s", "-shapes=true", "-pprof=true")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("benchrun: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Saturation []struct {
			Receiver  string `json:"receiver"`
			Delivered int64  `json:"delivered_to_sink"`
			Load      struct {
				Accepted int     `json:"accepted_events"`
				EPS      float64 `json:"events_per_second"`
			} `json:"load"`
			CPU    float64 `json:"alloy_cpu_seconds_per_million_events"`
			Allocs float64 `json:"alloy_allocs_per_request"`
		} `json:"saturation"`
		Shapes  []json.RawMessage `json:"curated_shapes"`
		Summary map[string]struct {
			EPS float64 `json:"events_per_second"`
			P99 float64 `json:"fixed_rate_p99_ms"`
		} `json:"summary"`
		Overload *struct {
			RSSMiB []float64 `json:"alloy_rss_mib_each_second"`
		} `json:"overload"`
		Sink struct {
			ByLabel map[string]int64 `json:"by_label"`
		} `json:"sink"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range rep.Saturation {
		seen[m.Receiver] = true
		if m.Load.Accepted == 0 || m.Delivered != int64(m.Load.Accepted) || m.CPU <= 0 || m.Allocs <= 0 {
			t.Errorf("%s: accepted %d, delivered %d, CPU/M %v, allocations per request %v", m.Receiver, m.Load.Accepted, m.Delivered, m.CPU, m.Allocs)
		}
	}
	for _, name := range []string{"curated_api", "loki.source.api", "faro.receiver", "container_logs"} {
		if !seen[name] || rep.Summary[name].EPS <= 0 || rep.Summary[name].P99 <= 0 {
			t.Errorf("%s: missing from the report: %+v", name, rep.Summary[name])
		}
	}
	for _, label := range []string{"curated", "loki", "faro", "container"} {
		if rep.Sink.ByLabel[label] == 0 {
			t.Errorf("the sink got no entries labeled source=%s: %v", label, rep.Sink.ByLabel)
		}
	}
	if len(rep.Shapes) != 4 || rep.Overload == nil || len(rep.Overload.RSSMiB) < 2 {
		t.Errorf("shapes %d, overload %+v", len(rep.Shapes), rep.Overload)
	}
	files := []string{"results.md"}
	for _, label := range []string{"curated", "curated_volatile", "loki", "faro", "container"} {
		files = append(files, label+".cpu.pprof", label+".allocs.pprof") // each receiver's first round
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
