package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

// haLoki is one process of configs/loki/loki-ha.yaml.
type haLoki struct {
	id, url string
	env     []string
	args    []string
	proc    *process
}

// startLokiHA runs n processes of configs/loki/loki-ha.yaml on loopback,
// sharing one filesystem object store and rules directory, joined through
// memberlist, and waits until every one is ready.
func startLokiHA(t *testing.T, n int, shared, amURL string) []*haLoki {
	t.Helper()
	memberlist := make([]int, n)
	for i := range memberlist {
		memberlist[i] = testutil.FreePort(t)
	}
	var join []string
	for _, p := range memberlist {
		join = append(join, fmt.Sprintf("-memberlist.join=127.0.0.1:%d", p))
	}
	nodes := make([]*haLoki, n)
	for i := range nodes {
		httpPort, grpcPort := testutil.FreePort(t), testutil.FreePort(t)
		l := &haLoki{
			id:  fmt.Sprintf("loki-%d", i+1),
			url: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
			env: []string{
				"LOKI_INSTANCE=" + fmt.Sprintf("loki-%d", i+1),
				fmt.Sprintf("LOKI_HTTP_PORT=%d", httpPort),
				fmt.Sprintf("LOKI_GRPC_PORT=%d", grpcPort),
				fmt.Sprintf("LOKI_MEMBERLIST_PORT=%d", memberlist[i]),
				"LOKI_DATA=" + t.TempDir(),
				"LOKI_SHARED=" + shared,
				"ALERTMANAGER_URL=" + amURL,
			},
			args: append([]string{"-config.file=" + filepath.Join(repoRoot, "configs", "loki", "loki-ha.yaml"), "-config.expand-env=true"}, join...),
		}
		l.start(t)
		nodes[i] = l
	}
	for _, l := range nodes {
		l.proc.waitReady(t, l.url+"/ready", 3*time.Minute)
	}
	return nodes
}

func (l *haLoki) start(t *testing.T) {
	l.proc = start(t, l.id, l.env, lokiBin, l.args...)
}

// front spreads requests over the Lokis the way a Cloud Map name with one
// A record per task does for a client that moves on when a connection is
// refused: round robin, skipping a dead address.
type front struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	first := int(f.next.Add(1))
	lastErr := fmt.Errorf("no backend")
	for i := range f.backends {
		b := f.backends[(first+i)%len(f.backends)]
		req, err := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := f.client.Do(req)
		if err != nil {
			lastErr = err // refused: a dead task; the next address
			continue
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, lastErr.Error(), http.StatusBadGateway)
}

// alertPosts is an Alertmanager stand-in that counts the alerts each
// ruler posts, by alert name.
type alertPosts struct {
	mu    sync.Mutex
	posts map[string]int
	first map[string]time.Time
}

func (a *alertPosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, al := range alerts {
		name := al.Labels["alertname"]
		a.posts[name]++
		if _, ok := a.first[name]; !ok {
			a.first[name] = time.Now()
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (a *alertPosts) count(name string) (int, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.posts[name], a.first[name]
}

// TestLokiHAFailover runs three Lokis in HA monolithic mode behind
// alloy-custom and kills one with SIGKILL under steady traffic: no
// acknowledged event is lost or stored twice, queries keep answering while
// it is down, it rejoins when started again on an empty disk (as a replaced
// task on ephemeral storage does), and a rule fires once, not once per
// ruler.
func TestLokiHAFailover(t *testing.T) {
	shared := t.TempDir()
	const rules = `groups:
  - name: ha
    interval: 5s
    rules:
      - alert: HAProbe
        expr: sum(count_over_time({job="ha-probe"} |= "boom" [1m])) > 0
        for: 0s
        labels:
          severity: info
`
	rulesDir := filepath.Join(shared, "rules", "fake") // "fake": the tenant with auth off
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "ha.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	am := &alertPosts{posts: map[string]int{}, first: map[string]time.Time{}}
	amSrv := httptest.NewServer(am)
	t.Cleanup(amSrv.Close)

	began := time.Now()
	nodes := startLokiHA(t, 3, shared, amSrv.URL)
	t.Logf("3 Lokis ready in %.0f s", time.Since(began).Seconds())
	var backends []string
	for _, l := range nodes {
		backends = append(backends, l.url)
	}
	fr := httptest.NewServer(&front{backends: backends, client: &http.Client{Timeout: 30 * time.Second}})
	t.Cleanup(fr.Close)
	lokiURL := fr.URL

	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("ha", apiPort, lokiURL, fmt.Sprintf(`labels = {run = %q}`, run))
	})

	// Steady traffic: one event every 20 ms, each with its number.
	var (
		mu       sync.Mutex
		accepted []int
		refused  int
		stop     = make(chan struct{})
		sent     sync.WaitGroup
	)
	sent.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			body := fmt.Sprintf(`{"event":"ha.tick","attributes":{"n":%d}}`, i)
			// Not a.post: t.Fatal must not run on this goroutine.
			status, resp := 0, ""
			if r, err := http.Post(a.apiURL+"/v1/events", "application/json", strings.NewReader(body)); err == nil {
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				status, resp = r.StatusCode, string(b)
			}
			mu.Lock()
			if status == http.StatusAccepted && strings.Contains(resp, `"accepted":1`) {
				accepted = append(accepted, i)
			} else {
				refused++
			}
			mu.Unlock()
		}
	})
	// Traffic before the failure: a hundred events acknowledged.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events acknowledged in a minute", n)
		}
	}

	// Kill one Loki outright; queries go on through the front meanwhile.
	victim := nodes[0]
	if err := victim.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.proc.done
	killed := time.Now()
	var queriesOK, queriesFailed int
	q := url.Values{"query": {fmt.Sprintf(`sum(count_over_time({run=%q}[5m]))`, run)}}
	for time.Since(killed) < 20*time.Second {
		resp, err := http.Get(lokiURL + "/loki/api/v1/query?" + q.Encode())
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			queriesOK++
		} else {
			queriesFailed++
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Back as a replaced Fargate task comes back: same name, empty disk (no
	// WAL to replay). What it held is on the other two replicas.
	for i, e := range victim.env {
		if strings.HasPrefix(e, "LOKI_DATA=") {
			victim.env[i] = "LOKI_DATA=" + t.TempDir()
		}
	}
	victim.start(t)
	victim.proc.waitReady(t, victim.url+"/ready", 3*time.Minute)
	rejoined := time.Since(killed)
	close(stop)
	sent.Wait()

	mu.Lock()
	ids := append([]int(nil), accepted...)
	mu.Unlock()
	if len(ids) < 500 {
		t.Fatalf("only %d events accepted (%d refused): the traffic did not run", len(ids), refused)
	}
	from, to := began.Add(-time.Minute), time.Now().Add(time.Minute)
	got := settledEntries(t, lokiURL, "", fmt.Sprintf(`{run=%q}`, run), from, to, len(ids))
	seen := map[int]int{}
	for _, e := range got {
		var line struct {
			Attributes struct{ N int }
		}
		if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
			t.Fatal(err)
		}
		seen[line.Attributes.N]++
	}
	lost, twice := 0, 0
	for _, id := range ids {
		switch seen[id] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
	}
	t.Logf("SIGKILL of %s under traffic: %d events acknowledged, %d lost, %d stored twice, %d refused by the API; "+
		"queries while it was down: %d answered, %d failed; ready again %.0f s after the kill",
		victim.id, len(ids), lost, twice, refused, queriesOK, queriesFailed, rejoined.Seconds())
	if lost != 0 || twice != 0 {
		t.Errorf("%d acknowledged events lost, %d stored twice", lost, twice)
	}
	if queriesFailed != 0 || queriesOK == 0 {
		t.Errorf("queries while a Loki was down: %d answered, %d failed", queriesOK, queriesFailed)
	}
	// The ring has all three again.
	resp, err := http.Get(victim.url + "/ring")
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range nodes {
		if !strings.Contains(string(ring), l.id) {
			t.Errorf("%s is not in the ring after the restart", l.id)
		}
	}

	// A rule fires once, not once per ruler: the group runs on one of them.
	push := fmt.Sprintf(`{"streams":[{"stream":{"job":"ha-probe"},"values":[["%d","boom"]]}]}`, time.Now().UnixNano())
	presp, err := http.Post(lokiURL+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for n, _ := am.count("HAProbe"); n == 0; n, _ = am.count("HAProbe") {
		if time.Now().After(deadline) {
			t.Fatal("HAProbe never reached the Alertmanager stand-in")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Three rulers each evaluating the group every 5 s would post it three
	// times at once; one ruler posts it again only after Loki's resend
	// delay (1 min). Watch six evaluations.
	_, first := am.count("HAProbe")
	time.Sleep(time.Until(first.Add(30 * time.Second)))
	posts, _ := am.count("HAProbe")
	t.Logf("HAProbe posted %d time(s) in the 30 s after its first post", posts)
	if posts != 1 {
		t.Errorf("HAProbe posted %d times in 30 s; want 1 (each rule group on one ruler)", posts)
	}
}
