// Command benchrun compares loki.source.curated_api with Alloy's own
// loki.source.api and faro.receiver side by side: one alloy-custom process
// runs all three, each forwarding to the same loki.write, which pushes to a
// counting Loki stand-in (or a real Loki). The same Collabmaker events are
// sent to each receiver in its own format, in alternating rounds.
//
//	go run ./cmd/benchrun -alloy bin/alloy-custom -out .cache/bench
//
// It writes results.json and results.md to -out (see docs/performance.md).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/grafana/alloy/curated/internal/loadgen"
	"github.com/grafana/alloy/curated/internal/lokisink"
)

type options struct {
	alloyBin    string
	out         string
	lokiURL     string // push to a real Loki instead of the sink
	duration    time.Duration
	rounds      int
	concurrency int
	batch       int
	fixedEPS    float64
	overload    float64
	overloadFor time.Duration
	profile     bool
	shapes      bool
	only        string // comma-separated receiver names; "" for all
	// containerModule is configs/container_logs.alloy, made absolute.
	containerModule string
}

func main() {
	var o options
	flag.StringVar(&o.alloyBin, "alloy", "bin/alloy-custom", "alloy-custom binary")
	flag.StringVar(&o.containerModule, "container-module", "configs/container_logs.alloy", "the container-log module (container_logs receiver)")
	flag.StringVar(&o.out, "out", ".cache/bench", "directory for results.json, results.md and profiles")
	flag.StringVar(&o.lokiURL, "loki", "", "base URL of a real Loki to push to (default: the built-in counting sink)")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "length of each measured run")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds over the receivers")
	flag.IntVar(&o.concurrency, "concurrency", 32, "requests in flight at saturation")
	flag.IntVar(&o.batch, "batch", 50, "events per request")
	flag.Float64Var(&o.fixedEPS, "fixed-rate", 5000, "events per second of the fixed-rate (latency) runs")
	flag.Float64Var(&o.overload, "overload", 10, "overload run: this many times curated_api's measured saturation rate (0: skip)")
	flag.DurationVar(&o.overloadFor, "overload-duration", 30*time.Second, "length of the overload run")
	flag.BoolVar(&o.profile, "pprof", true, "save a CPU and an allocation profile of alloy-custom during each receiver's first saturation run (<label>.cpu.pprof, <label>.allocs.pprof)")
	flag.BoolVar(&o.shapes, "shapes", true, "also measure curated_api's payload shapes (single, batch, ndjson, gzip)")
	flag.StringVar(&o.only, "receivers", "", "comma-separated receivers to measure (default: all), e.g. 'curated_api,curated_api (durable off)'")
	render := flag.String("render", "", "only write results.md again from this results.json")
	flag.Parse()
	if abs, err := filepath.Abs(o.containerModule); err == nil {
		o.containerModule = abs
	}
	if *render != "" {
		if err := rerender(*render); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
			os.Exit(1)
		}
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), logger, o); err != nil {
		logger.Error("benchrun failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	sink := &lokisink.Sink{CountLabel: "source"}
	pushURL := o.lokiURL + lokisink.PushPath
	if o.lokiURL == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		pushURL = "http://" + ln.Addr().String() + lokisink.PushPath
	}

	a, err := startAlloy(logger, o, pushURL)
	if err != nil {
		return err
	}
	defer a.stop()

	rep := report{Machine: machine(), Started: time.Now().UTC(), Options: o.describe(), SinkIsLoki: o.lokiURL != ""}
	b := &bench{o: o, a: a, sink: sink, logger: logger, client: loadgen.NewClient(4 * o.concurrency)}

	// Warm up every receiver (and loki.write) before measuring.
	for _, rc := range b.receivers() {
		if _, err := b.measure(ctx, rc, loadgen.Options{Mode: loadgen.Saturate, Concurrency: o.concurrency, Duration: 3 * time.Second}, false); err != nil {
			return fmt.Errorf("warm-up of %s: %w", rc.name, err)
		}
	}
	for r := 0; r < o.rounds; r++ {
		rcs := b.receivers()
		// Rotate the order every round so no receiver always follows another.
		rcs = append(rcs[r%len(rcs):], rcs[:r%len(rcs)]...)
		for _, rc := range rcs {
			m, err := b.measure(ctx, rc, loadgen.Options{Mode: loadgen.Saturate, Concurrency: o.concurrency, Duration: o.duration},
				o.profile && r == 0)
			if err != nil {
				return err
			}
			m.Round = r + 1
			rep.Saturation = append(rep.Saturation, m)
			logger.Info("saturation", "receiver", rc.name, "round", r+1, "events_per_s", int(m.Load.EPS), "cpu_s_per_M", int(m.CPUPerMillion))
		}
	}
	for _, rc := range b.receivers() {
		rps := o.fixedEPS / float64(o.batch)
		m, err := b.measure(ctx, rc, loadgen.Options{Mode: loadgen.Fixed, Rate: rps, Concurrency: 4 * o.concurrency, Duration: o.duration}, false)
		if err != nil {
			return err
		}
		rep.Fixed = append(rep.Fixed, m)
		logger.Info("fixed rate", "receiver", rc.name, "p99_ms", m.Load.Latency.P99)
	}
	if o.shapes {
		for _, shape := range []loadgen.Shape{loadgen.Single, loadgen.Batch, loadgen.NDJSON, loadgen.Gzip} {
			rc := b.curated(shape)
			m, err := b.measure(ctx, rc, loadgen.Options{Mode: loadgen.Saturate, Concurrency: o.concurrency, Duration: o.duration}, false)
			if err != nil {
				return err
			}
			rep.Shapes = append(rep.Shapes, m)
			logger.Info("shape", "shape", shape, "events_per_s", int(m.Load.EPS))
		}
	}
	rep.summarize()
	if o.overload > 0 {
		sat := rep.Summary["curated_api"].EventsPerSecond
		rps := o.overload * sat / float64(o.batch)
		ov, err := b.overloadRun(ctx, rps)
		if err != nil {
			return err
		}
		ov.Factor = o.overload
		rep.Overload = &ov
		logger.Info("overload", "rss_start_mib", ov.RSSStartMiB, "rss_max_mib", ov.RSSMaxMiB, "rss_end_mib", ov.RSSEndMiB)
	}
	st, err := loadgen.ReadProc(a.pid())
	if err == nil {
		rep.PeakRSSMiB = mib(st.HWMBytes)
	}
	rep.Sink = sink.Stats()
	return rep.write(o.out)
}

// rerender rewrites results.md next to a results.json.
func rerender(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	rep.summarize()
	return rep.write(filepath.Dir(path))
}

func (o options) describe() map[string]any {
	return map[string]any{
		"duration": o.duration.String(), "rounds": o.rounds, "concurrency": o.concurrency, "batch": o.batch,
		"fixed_rate_eps": o.fixedEPS, "overload_factor": o.overload, "overload_duration": o.overloadFor.String(),
		"receivers": o.only,
	}
}

func machine() map[string]any {
	m := map[string]any{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": runtime.NumCPU(), "go": runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				m["cpu"] = strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"))
	}
	return m
}

// alloyProc is the alloy-custom process under test.
type alloyProc struct {
	cmd                                              *exec.Cmd
	curated, volatile, lokiAPI, faro, containers, ui string // base URLs
	dir                                              string
}

func (a *alloyProc) pid() int { return a.cmd.Process.Pid }

func (a *alloyProc) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
}

const benchConfig = `
loki.source.curated_api "bench" {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %d
	}
	// Default rules (redaction) on; no client blocks: an open API, as in
	// loki.source.api and faro.receiver.
	labels     = {source = "curated"}
	forward_to = [loki.write.sink.receiver]

	// At saturation (~50,000 events/s, ~1 GB a minute) the default window
	// would fill the default cap within a minute; the cost measured is the
	// same with any window.
	durable {
		replay_window = "1m"
		max_size      = "16GiB"
	}
}

// The same without the durable spool: what the spool costs.
loki.source.curated_api "volatile" {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %d
	}
	labels     = {source = "curated_volatile"}
	forward_to = [loki.write.sink.receiver]

	durable {
		enabled = false
	}
}

loki.source.api "bench" {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %d
	}
	labels     = {source = "loki"}
	forward_to = [loki.write.sink.receiver]
}

faro.receiver "bench" {
	server {
		listen_address           = "127.0.0.1"
		listen_port              = %d
		max_allowed_payload_size = "10MiB"

		rate_limiting {
			enabled = false
		}
	}
	extra_log_labels = {source = "faro"}

	output {
		logs = [loki.write.sink.receiver]
	}
}

loki.write "sink" {
	endpoint {
		url = %q
	}
}

// The container-log path as configs/fargate.alloy runs it, its volume cap
// lifted.
import.file "container_logs" {
	filename = %q
}

container_logs.pipeline "bench" {
	listen_address   = "127.0.0.1"
	listen_port      = %d
	lines_per_second = 100000000
	burst_lines      = 100000000
	forward_to       = [loki.write.sink.receiver]
}
`

func startAlloy(logger *slog.Logger, o options, pushURL string) (*alloyProc, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "benchrun-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "bench.alloy")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, benchConfig, ports[0], ports[4], ports[1], ports[2], pushURL, o.containerModule, ports[5]), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(o.out, "alloy.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.alloyBin, "run", "--stability.level=public-preview", "--disable-reporting",
		"--storage.path="+filepath.Join(dir, "data"), fmt.Sprintf("--server.http.listen-addr=127.0.0.1:%d", ports[3]), cfg)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.alloyBin, err)
	}
	url := func(p int) string { return fmt.Sprintf("http://127.0.0.1:%d", p) }
	a := &alloyProc{cmd: cmd, curated: url(ports[0]), volatile: url(ports[4]), lokiAPI: url(ports[1]), faro: url(ports[2]),
		containers: url(ports[5]), ui: url(ports[3]), dir: dir}
	for _, ready := range []string{a.curated + "/healthz", a.volatile + "/healthz", a.lokiAPI + "/ready", a.faro + "/-/ready",
		a.containers + "/ready", a.ui + "/-/ready"} {
		if err := waitOK(ready, 60*time.Second); err != nil {
			a.stop()
			return nil, fmt.Errorf("alloy-custom not ready (see %s): %w", logFile.Name(), err)
		}
	}
	logger.Info("alloy-custom ready", "pid", a.pid(), "curated", a.curated, "loki_api", a.lokiAPI, "faro", a.faro)
	return a, nil
}

func waitOK(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
