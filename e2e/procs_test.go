// Package e2e runs bin/alloy-custom and bin/loki as real processes, posts
// events over HTTP and reads them back from Loki with LogQL.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

var (
	repoRoot string
	alloyBin string
	lokiBin  string
	amBin    string
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(wd)
	alloyBin = filepath.Join(repoRoot, "bin", "alloy-custom")
	lokiBin = filepath.Join(repoRoot, "bin", "loki")
	amBin = filepath.Join(repoRoot, "bin", "alertmanager")
	// Never skip for a missing binary: build it (make knows how, and whether
	// it is stale).
	cmd := exec.Command("make", "-C", repoRoot, "bin/alloy-custom", "bin/curated-erase", "bin/loki", "bin/alertmanager")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building binaries:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// process is a child process whose output goes to a log file that is shown
// when the test fails.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t testing.TB, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) dumpLog(t testing.TB) {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("last lines of %s log:\n%s", p.name, strings.Join(lines, "\n"))
}

// waitReady polls url until it answers 200, failing if the process exits.
func (p *process) waitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before becoming ready", p.name)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s after %s", p.name, url, timeout)
}

// lokiServer is a Loki process that can be stopped and started again on
// the same ports and data.
type lokiServer struct {
	url  string
	env  []string
	args []string // after the config file's
	proc *process
}

// startLoki runs bin/loki with configs/loki/loki-local.yaml on free ports and
// returns its base URL. multiTenant turns on Loki's auth_enabled.
func startLoki(t testing.TB, multiTenant bool) string {
	return newLoki(t, multiTenant).url
}

func newLoki(t testing.TB, multiTenant bool) *lokiServer {
	return newLokiWith(t, fmt.Sprintf("LOKI_AUTH_ENABLED=%v", multiTenant))
}

// newLokiWithRules is a single-tenant Loki whose ruler evaluates the alert
// rules of configs/loki/rules/ and sends to the Alertmanager at amURL.
func newLokiWithRules(t testing.TB, amURL string) *lokiServer {
	t.Helper()
	data := t.TempDir()
	rules, err := filepath.Glob(filepath.Join(repoRoot, "configs", "loki", "rules", "*.yaml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rule files in configs/loki/rules: %v", err)
	}
	// The ruler's local storage has a directory per tenant: "fake" with auth off.
	dir := filepath.Join(data, "rules", "fake")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return newLokiWith(t, "LOKI_DATA="+data, "ALERTMANAGER_URL="+amURL, "GRAFANA_URL="+grafanaURL)
}

// grafanaURL is the Grafana the ruler's alert links point at.
const grafanaURL = "http://grafana.test:3000"

// newLokiWithArgs is a single-tenant Loki with command-line flags that
// override configs/loki/loki-local.yaml.
func newLokiWithArgs(t testing.TB, args ...string) *lokiServer {
	return newLokiWithEnvArgs(t, nil, args)
}

func newLokiWith(t testing.TB, env ...string) *lokiServer {
	return newLokiWithEnvArgs(t, env, nil)
}

func newLokiWithEnvArgs(t testing.TB, env, args []string) *lokiServer {
	t.Helper()
	httpPort, grpcPort := testutil.FreePort(t), testutil.FreePort(t)
	l := &lokiServer{
		url: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		env: append([]string{
			fmt.Sprintf("LOKI_HTTP_PORT=%d", httpPort),
			fmt.Sprintf("LOKI_GRPC_PORT=%d", grpcPort),
			"LOKI_DATA=" + t.TempDir(),
			"LOKI_AUTH_ENABLED=false",
		}, env...), // later entries win in exec's environment
		args: args,
	}
	l.start(t)
	return l
}

func (l *lokiServer) start(t testing.TB) {
	t.Helper()
	l.proc = start(t, "loki", l.env, lokiBin, append([]string{
		"-config.file=" + filepath.Join(repoRoot, "configs", "loki", "loki-local.yaml"), "-config.expand-env=true"}, l.args...)...)
	l.proc.waitReady(t, l.url+"/ready", 90*time.Second)
}

// alloy is a running alloy-custom with its event API.
type alloy struct {
	*process
	dir                 string
	apiPort, serverPort int
	stability           string
	wrap                []string // a command alloy-custom runs under (prlimit ...)
	apiURL              string   // base URL of the event API
	metricsURL          string   // Alloy's own /metrics
}

// startAlloy runs bin/alloy-custom on the configuration that config returns
// for the event API's port.
func startAlloy(t testing.TB, config func(apiPort int) string) *alloy {
	return startAlloyWith(t, "public-preview", config)
}

// startAlloyWith is startAlloy at a given --stability.level (loki.write's
// WAL needs experimental).
func startAlloyWith(t testing.TB, stability string, config func(apiPort int) string) *alloy {
	t.Helper()
	return startAlloyAs(t, stability, nil, config)
}

// startAlloyWrapped is startAlloy under a wrapping command, such as
// prlimit with its options and "--".
func startAlloyWrapped(t testing.TB, wrap []string, config func(apiPort int) string) *alloy {
	t.Helper()
	return startAlloyAs(t, "public-preview", wrap, config)
}

func startAlloyAs(t testing.TB, stability string, wrap []string, config func(apiPort int) string) *alloy {
	t.Helper()
	a := &alloy{dir: t.TempDir(), apiPort: testutil.FreePort(t), serverPort: testutil.FreePort(t), stability: stability, wrap: wrap}
	a.apiURL = fmt.Sprintf("http://127.0.0.1:%d", a.apiPort)
	a.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", a.serverPort)
	if err := os.WriteFile(filepath.Join(a.dir, "config.alloy"), []byte(config(a.apiPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	return a
}

// start runs (or runs again) alloy-custom with the same config, ports and
// storage path.
func (a *alloy) start(t testing.TB) {
	t.Helper()
	args := []string{alloyBin, "run", "--stability.level=" + a.stability, "--disable-reporting",
		"--storage.path=" + filepath.Join(a.dir, "data"),
		fmt.Sprintf("--server.http.listen-addr=127.0.0.1:%d", a.serverPort), filepath.Join(a.dir, "config.alloy")}
	args = append(append([]string(nil), a.wrap...), args...)
	a.process = start(t, "alloy", nil, args[0], args[1:]...)
	a.waitReady(t, a.apiURL+"/healthz", 60*time.Second)
}

// post sends body to the event API and returns the status and response body.
func (a *alloy) post(t testing.TB, path string, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.apiURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the first sample of Alloy's /metrics whose
// line starts with prefix.
func (a *alloy) metric(t testing.TB, prefix string) string {
	t.Helper()
	resp, err := http.Get(a.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return ""
}

// curatedConfig returns an Alloy config with loki.source.curated_api "name"
// listening on apiPort, with the arguments and blocks in body, forwarding to
// a loki.write that pushes to lokiURL in small, quick batches.
func curatedConfig(name string, apiPort int, lokiURL, body string) string {
	// The self-report adds entries tests do not count; the tests that want
	// it say so.
	if !strings.Contains(body, "self_report_interval") {
		body += "\n\tself_report_interval = \"0s\"\n"
	}
	return fmt.Sprintf(`
loki.source.curated_api %q {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %d
	}
	forward_to = [loki.write.loki.receiver]
%s
}

loki.write "loki" {
	endpoint {
		url        = "%s/loki/api/v1/push"
		batch_wait = "100ms"
	}
}
`, name, apiPort, body, lokiURL)
}
