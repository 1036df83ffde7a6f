package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

// containerPush is what Fluent Bit's loki output sends: Loki's JSON push
// body, one stream per label set, with the record's own timestamp.
type containerPush struct {
	Streams []containerStream `json:"streams"`
}

type containerStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// pushContainerLines posts one stream's lines to the container endpoint.
func pushContainerLines(t *testing.T, url string, labels map[string]string, ts time.Time, lines ...string) {
	t.Helper()
	s := containerStream{Stream: labels}
	for i, l := range lines {
		s.Values = append(s.Values, [2]string{strconv.FormatInt(ts.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10), l})
	}
	body, _ := json.Marshal(containerPush{Streams: []containerStream{s}})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push: %d", resp.StatusCode)
	}
}

// containerLogsConfig runs configs/container_logs.alloy, the module
// configs/fargate.alloy imports, on containerPort, beside a curated API
// on apiPort (the harness waits for its /healthz).
func containerLogsConfig(apiPort, containerPort int, lokiURL, env string, rate, burst int) string {
	return curatedConfig("events", apiPort, lokiURL, `client "k" {
		api_key = "k"
	}`) + fmt.Sprintf(`
import.file "container_logs" {
	filename = %q
}

container_logs.pipeline "default" {
	env              = %q
	listen_address   = "127.0.0.1"
	listen_port      = %d
	lines_per_second = %d
	burst_lines      = %d
	join_wait        = "1s"
	forward_to       = [loki.write.loki.receiver]
}
`, filepath.Join(repoRoot, "configs", "container_logs.alloy"), env, containerPort, rate, burst)
}

// TestContainerLogsThroughCollector pushes container output the way a
// FireLens router does and reads Loki back: the label set, stack traces
// joined per container, probe and access-log noise dropped, personal data
// redacted, and the per-service volume cap.
func TestContainerLogsThroughCollector(t *testing.T) {
	lokiURL := startLoki(t, false)
	env := "ct-" + randomID(t)
	containerPort := testutil.FreePort(t)
	const rate, burst = 5, 60
	a := startAlloy(t, func(apiPort int) string {
		return containerLogsConfig(apiPort, containerPort, lokiURL, env, rate, burst)
	})
	push := fmt.Sprintf("http://127.0.0.1:%d/loki/api/v1/push", containerPort)

	// What Fluent Bit's loki output sends for a FireLens record: the
	// service it was configured with, FireLens's own keys as labels.
	firelens := func(service, source, container string) map[string]string {
		l := map[string]string{"source": source, "container_id": container,
			"ecs_task_arn": "arn:aws:ecs:ap-northeast-2:123456789012:task/c/" + container}
		if service != "" {
			l["service"] = service
		}
		return l
	}
	start := time.Now().Add(-time.Minute)
	ts := start
	next := func() time.Time { ts = ts.Add(10 * time.Millisecond); return ts }
	appA := firelens("collabmaker", "stderr", "aaaa1111")
	appB := firelens("collabmaker", "stderr", "bbbb2222")
	// Two containers' traces arrive interleaved, a request each.
	pushContainerLines(t, push, appA, next(), "2026-12-04T10:00:00Z ERROR shopify sync failed for owner@shop.example trace_id=4bf92f3577b34da6a3ce929d0e0e4736")
	pushContainerLines(t, push, appA, next(), "java.lang.IllegalStateException: boom")
	pushContainerLines(t, push, appB, next(), "Error: places lookup timed out")
	pushContainerLines(t, push, appA, next(), "\tat com.example.Sync.run(Sync.java:42)")
	pushContainerLines(t, push, appB, next(), "    at lookup (/app/places.js:10:5)")
	pushContainerLines(t, push, appA, next(), "\tat java.base/java.lang.Thread.run(Thread.java:1583)")
	pushContainerLines(t, push, appB, next(), "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)")
	// Noise and its exceptions, on stdout.
	out := firelens("collabmaker", "stdout", "aaaa1111")
	pushContainerLines(t, push, out, next(),
		`10.0.1.5 - - [04/Dec/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"`,
		`{"level":"info","path":"/healthz","status":200,"ms":1}`,
		`10.0.7.9 - - [04/Dec/2026:10:00:01 +0000] "POST /api/apply HTTP/1.1" 201 88 "-" "Mozilla/5.0"`,
		`10.0.7.9 - - [04/Dec/2026:10:00:02 +0000] "POST /api/apply HTTP/1.1" 502 17 "-" "Mozilla/5.0"`,
		`10.0.1.5 - - [04/Dec/2026:10:00:03 +0000] "GET /healthz HTTP/1.1" 503 9 "-" "ELB-HealthChecker/2.0"`,
		`level=info msg="server listening" port=8080`)
	pushContainerLines(t, push, firelens("", "stdout", "cccc3333"), next(), "started without a service label")

	query := fmt.Sprintf(`{source="container", env=%q, service!="noisy"}`, env)
	got := settledEntries(t, lokiURL, "", query, start, time.Now().Add(time.Minute), 7)
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Line)
		wantStream := "stdout"
		if e.Labels["service"] == "collabmaker" && !strings.Contains(e.Line, "HTTP/1.1") && !strings.HasPrefix(e.Line, "level=") {
			wantStream = "stderr"
		}
		keys := make([]string, 0, len(e.Labels))
		for k, v := range e.Labels {
			// Loki itself adds service_name from service.
			if k != "service_name" || v != e.Labels["service"] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"env", "service", "source", "stream"}) || e.Labels["stream"] != wantStream {
			t.Errorf("labels %v on %q: want exactly env, service, source, stream=%s", e.Labels, e.Line, wantStream)
		}
	}
	want := []string{
		"2026-12-04T10:00:00Z ERROR shopify sync failed for [REDACTED:email] trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
		"java.lang.IllegalStateException: boom\n\tat com.example.Sync.run(Sync.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)",
		"Error: places lookup timed out\n    at lookup (/app/places.js:10:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
		// Client addresses are personal data, as in curated events.
		`[REDACTED:ipv4] - - [04/Dec/2026:10:00:02 +0000] "POST /api/apply HTTP/1.1" 502 17 "-" "Mozilla/5.0"`,
		`[REDACTED:ipv4] - - [04/Dec/2026:10:00:03 +0000] "GET /healthz HTTP/1.1" 503 9 "-" "ELB-HealthChecker/2.0"`,
		`level=info msg="server listening" port=8080`,
		"started without a service label",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Loki holds:\n%s\nwant:\n%s", strings.Join(lines, "\n--\n"), strings.Join(want, "\n--\n"))
	}
	// docs/container-logs.md's recipe: from a curated event's trace_id to
	// the container lines of the same request.
	if got := queryRange(t, lokiURL, "", fmt.Sprintf(`{env=%q, service="collabmaker", source="container"} |= "4bf92f3577b34da6a3ce929d0e0e4736"`, env),
		start, time.Now().Add(time.Minute)); len(got) != 1 || !strings.Contains(got[0].Line, "shopify sync failed") {
		t.Errorf("the trace_id recipe found %v", got)
	}
	if n := len(queryRange(t, lokiURL, "", fmt.Sprintf(`{env=%q, service="unknown"}`, env), start, time.Now().Add(time.Minute))); n != 1 {
		t.Errorf("%d entries under service=unknown, want the one sent without a service", n)
	}

	// Volume cap: one service sends far more than its burst at once; the
	// others keep their share.
	noisy := make([]string, 600)
	for i := range noisy {
		noisy[i] = fmt.Sprintf("level=debug msg=\"tick\" n=%d", i)
	}
	sent := time.Now()
	pushContainerLines(t, push, firelens("noisy", "stdout", "dddd4444"), next(), noisy...)
	pushContainerLines(t, push, appA, next(), "2026-12-04T10:00:09Z WARN still here")
	kept := settledEntries(t, lokiURL, "", fmt.Sprintf(`{env=%q, service="noisy"}`, env), start, time.Now().Add(time.Minute), burst)
	if limit := burst + int(time.Since(sent).Seconds()+1)*rate; len(kept) > limit {
		t.Errorf("the noisy service kept %d of 600 lines, want at most %d (burst %d + %d/s)", len(kept), limit, burst, rate)
	}
	waitForEntries(t, lokiURL, "", fmt.Sprintf(`{env=%q, service="collabmaker"} |= "still here"`, env), start, time.Now().Add(time.Minute), 1)
	if v := a.metric(t, `loki_process_dropped_lines_by_label_total{component_id="loki.process.containers",component_path="/container_logs.pipeline.default",label_name="service",label_value="noisy"}`); v == "" || v == "0" {
		t.Errorf("the cap's drops are not counted: %q", v)
	}
	for reason, want := range map[string]string{"health_check": "2", "access_log": "1"} {
		if v := a.metric(t, `loki_process_dropped_lines_total{component_id="loki.process.containers",component_path="/container_logs.pipeline.default",reason="`+reason+`"}`); v != want {
			t.Errorf("lines dropped as %s: %q, want %s", reason, v, want)
		}
	}
	if v := a.metric(t, `loki_curated_redact_redactions_total{component_id="loki.curated_redact.containers",component_path="/container_logs.pipeline.default",pattern="email"}`); v != "1" {
		t.Errorf("email redactions counted: %q, want 1", v)
	}
}
