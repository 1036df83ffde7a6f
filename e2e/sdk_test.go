package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoSDKExample runs sdk/go/example against the real alloy-custom and
// Loki: the events of Track, the slog handler, Do, the HTTP middleware and
// the RoundTripper are found with LogQL with the expected labels and
// attributes; alloy-custom is restarted in the middle of a stream of
// numbered events, and every one of them is in Loki exactly once.
func TestGoSDKExample(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, "./example")
	build.Dir = filepath.Join(repoRoot, "sdk", "go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sdk/go/example: %v\n%s", err, out)
	}
	lokiURL := startLoki(t, false)
	a := startAlloy(t, func(port int) string {
		return curatedConfig("events", port, lokiURL, "\tlabels = {env = \"sdk\"}\n")
	})
	run := fmt.Sprintf("r%d", time.Now().UnixNano())
	const stream = 1500
	begun := time.Now()
	cmd := exec.Command(bin, "-endpoint", a.apiURL, "-service", "sdk-e2e", "-run", run,
		"-stream", fmt.Sprint(stream), "-every", "4ms")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logLines []string
	streaming := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logLines = append(logLines, sc.Text())
			if sc.Text() == "example: streaming" {
				close(streaming)
			}
		}
	}()
	select {
	case <-streaming:
	case <-time.After(30 * time.Second):
		t.Fatal("the example never started streaming")
	}
	// Restart alloy-custom mid-stream (graceful: what it acknowledged is
	// pushed to Loki before it exits). While it is down, its port hangs up
	// on every connection; it comes back only after the SDK has been hung
	// up on at least once, so a retry is certain, not a matter of timing.
	a.stop()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.apiPort))
	if err != nil {
		t.Fatal(err)
	}
	hungUp := make(chan struct{})
	go func() {
		for n := 0; ; n++ {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
			if n == 0 {
				close(hungUp)
			}
		}
	}()
	select {
	case <-hungUp:
	case <-time.After(30 * time.Second):
		t.Fatal("the SDK never tried to send while alloy-custom was down")
	}
	l.Close()
	a.start(t)
	<-readDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("example: %v\n%s", err, strings.Join(logLines, "\n"))
	}
	var stats struct{ Tracked, Sent, Rejected, Dropped, Retries uint64 }
	if err := json.Unmarshal(stdout.Bytes(), &stats); err != nil {
		t.Fatalf("example's stats %q: %v", stdout.String(), err)
	}
	if want := uint64(stream + 5); stats.Tracked != want || stats.Sent != want || stats.Dropped != 0 || stats.Rejected != 0 {
		t.Errorf("stats %+v; want %d tracked and sent, none dropped (log:\n%s)", stats, want, strings.Join(logLines, "\n"))
	}
	if stats.Retries == 0 {
		t.Errorf("no retry while alloy-custom restarted: the restart did not happen mid-stream (%+v)", stats)
	}

	sel := fmt.Sprintf(`{env="sdk", service="sdk-e2e"} | json | attributes_run=%q`, run)
	end := time.Now().Add(time.Minute)
	entries := waitForEntries(t, lokiURL, "", sel, begun.Add(-time.Minute), end, stream+5)
	byEvent := map[string][]lokiEntry{}
	seen := map[int]int{}
	for _, e := range entries {
		var line struct {
			Event      string         `json:"event"`
			Message    string         `json:"message"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
			t.Fatalf("line %q: %v", e.Line, err)
		}
		byEvent[line.Event] = append(byEvent[line.Event], e)
		if line.Event == "load.event" {
			seen[int(line.Attributes["seq"].(float64))]++
		}
	}
	for i := 0; i < stream; i++ {
		if seen[i] != 1 {
			t.Errorf("load.event seq %d is in Loki %d times", i, seen[i])
		}
	}
	one := func(event string) lokiEntry {
		if len(byEvent[event]) != 1 {
			t.Fatalf("%s: %d entries in Loki: %v", event, len(byEvent[event]), byEvent[event])
		}
		return byEvent[event][0]
	}
	checks := []struct {
		event, level string
		session      bool // sent with the session's context
		contains     []string
	}{
		{"form.open", "info", true, []string{`"country":"KR"`}},
		{"shopify.sync", "error", true, []string{`"message":"Shopify sync failed"`, `"shopify":{"status":502}`}},
		{"places.lookup", "error", true, []string{`"outcome":"error"`, `"error":"ZERO_RESULTS"`, `"duration_ms":`}},
		{"http.request", "info", false, []string{`"route":"GET /partners/{id}"`, `"status":200`, `"method":"GET"`}},
		{"partner.api", "info", false, []string{`"host":"localhost:`, `"status":200`}},
	}
	for _, c := range checks {
		e := one(c.event)
		if e.Labels["level"] != c.level || e.Labels["service"] != "sdk-e2e" || c.session && e.Metadata["session_id"] != "sess-"+run {
			t.Errorf("%s: labels %v, metadata %v; want level %s, service sdk-e2e, session %v", c.event, e.Labels, e.Metadata, c.level, c.session)
		}
		for _, want := range c.contains {
			if !strings.Contains(e.Line, want) {
				t.Errorf("%s: line %s lacks %s", c.event, e.Line, want)
			}
		}
		if strings.Contains(e.Line, "secret") || strings.Contains(e.Line, "p-42") {
			t.Errorf("%s: the URL's path or query reached Loki: %s", c.event, e.Line)
		}
	}
}
