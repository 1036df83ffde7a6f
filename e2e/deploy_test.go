package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What deploy/ runs on Fargate, checked against the pinned binaries; the
// deploy module's own tests synthesize the stack offline.

// TestLokiHealthCheckCommand runs the Loki container's health check
// (deploy/services.go: the image is distroless, so Loki checks itself) with
// the pinned Loki: healthy while Loki is ready, failing when it is not.
func TestLokiHealthCheckCommand(t *testing.T) {
	l := newLoki(t, false)
	if out, err := exec.Command(lokiBin, "-health", "-health.url="+l.url+"/ready").CombinedOutput(); err != nil {
		t.Errorf("loki -health on a ready Loki: %v\n%s", err, out)
	}
	l.proc.stop()
	if out, err := exec.Command(lokiBin, "-health", "-health.url="+l.url+"/ready").CombinedOutput(); err == nil {
		t.Errorf("loki -health succeeded with Loki stopped:\n%s", out)
	}
}

// TestAlarmLogPatternsMatchRealLogs checks the CloudWatch metric filters of
// deploy/alarms.go against the lines the pinned Loki and alloy-custom write
// with the deployment's log settings: Loki's 429 on a push over its limits,
// and alloy-custom's error when loki.write drops a batch.
func TestAlarmLogPatternsMatchRealLogs(t *testing.T) {
	patterns := alarmPatterns(t)

	// Loki with deploy/loki.yaml's server log settings and a tiny ingestion
	// limit, so that one push gets 429.
	deployCfg, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "loki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"log_format: json", "log_request_at_info_level_enabled: true"} {
		if !strings.Contains(string(deployCfg), want) {
			t.Fatalf("deploy/loki.yaml lacks %q", want)
		}
	}
	l := newLokiWithArgs(t, "-log.format=json", "-log.level=info", "-server.log-request-at-info-level-enabled=true",
		"-distributor.ingestion-rate-limit-mb=0.01", "-distributor.ingestion-burst-size-mb=0.01")
	push := fmt.Sprintf(`{"streams":[{"stream":{"service":"alarm-test"},"values":[["%d",%q]]}]}`,
		time.Now().UnixNano(), strings.Repeat("x", 64<<10))
	resp, err := http.Post(l.url+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("push over the limit: %d; want 429", resp.StatusCode)
	}
	waitLogLine(t, l.proc, "LokiPushRateLimited", patterns["patternLoki429"])

	// alloy-custom with fargate.alloy's JSON logging, pushing to a "Loki"
	// that refuses every batch for good (400: loki.write does not retry).
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused by the test", http.StatusBadRequest)
	}))
	t.Cleanup(refusing.Close)
	a := startAlloy(t, func(apiPort int) string {
		return `logging {
	level  = "info"
	format = "json"
}
` + curatedConfig("events", apiPort, refusing.URL, "")
	})
	if status, body := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"},
		[]byte(`{"event":"alarm.test","service":"ops"}`)); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, body)
	}
	line := waitLogLine(t, a.process, "PushBatchesDropped", patterns["patternPushDropped"])
	if !cloudWatchMatches(t, patterns["patternAlloyErrors"], line) {
		t.Errorf("AlloyErrors (%s) does not count the dropped batch's line %s", patterns["patternAlloyErrors"], line)
	}
}

// alarmPatterns reads the pattern constants of deploy/alarms.go (a module
// of its own, so not importable here).
func alarmPatterns(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "deploy", "alarms.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && strings.HasPrefix(vs.Names[0].Name, "pattern") {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
				out[vs.Names[0].Name], _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	for _, name := range []string{"patternLoki429", "patternPushDropped", "patternAlloyErrors"} {
		if out[name] == "" {
			t.Fatalf("deploy/alarms.go has no %s", name)
		}
	}
	return out
}

// cloudWatchMatches applies a CloudWatch Logs JSON filter pattern of the
// form { $.key = "value" } (value may end in the * wildcard) to a log line.
func cloudWatchMatches(t *testing.T, pattern, line string) bool {
	t.Helper()
	m := regexp.MustCompile(`^\{ \$\.([A-Za-z_]+) = "([^"]*)" \}$`).FindStringSubmatch(pattern)
	if m == nil {
		t.Fatalf("pattern %q: this test understands { $.key = \"value\" } only", pattern)
	}
	var fields map[string]any
	if json.Unmarshal([]byte(line), &fields) != nil {
		return false // CloudWatch applies JSON patterns to JSON events only
	}
	got, ok := fields[m[1]].(string)
	if prefix, wild := strings.CutSuffix(m[2], "*"); wild {
		return ok && strings.HasPrefix(got, prefix)
	}
	return ok && got == m[2]
}

// waitLogLine waits until p has logged a line the pattern matches and
// returns it.
func waitLogLine(t *testing.T, p *process, alarm, pattern string) string {
	t.Helper()
	var line string
	waitUntil(t, fmt.Sprintf("%s line for %s matching %s", p.name, alarm, pattern), 30*time.Second, func() bool {
		b, _ := os.ReadFile(p.log)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if cloudWatchMatches(t, pattern, sc.Text()) {
				line = sc.Text()
				return true
			}
		}
		return false
	})
	return line
}
