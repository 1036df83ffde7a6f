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
	"slices"
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
// memberlist, and waits until every one is ready. The last return value
// are the -memberlist.join flags, for a process that joins later.
func startLokiHA(t *testing.T, n int, shared, amURL string) ([]*haLoki, []string) {
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
		nodes[i] = newHALoki(t, fmt.Sprintf("loki-%d", i+1), memberlist[i], join, shared, amURL)
		nodes[i].start(t)
	}
	for _, l := range nodes {
		l.proc.waitReady(t, l.url+"/ready", 3*time.Minute)
	}
	return nodes, join
}

// newHALoki is one process of the HA configuration, named id, on free
// ports of its own and an empty data directory.
func newHALoki(t *testing.T, id string, memberlistPort int, join []string, shared, amURL string) *haLoki {
	httpPort, grpcPort := testutil.FreePort(t), testutil.FreePort(t)
	return &haLoki{
		id:  id,
		url: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		env: []string{
			"LOKI_INSTANCE=" + id,
			fmt.Sprintf("LOKI_HTTP_PORT=%d", httpPort),
			fmt.Sprintf("LOKI_GRPC_PORT=%d", grpcPort),
			fmt.Sprintf("LOKI_MEMBERLIST_PORT=%d", memberlistPort),
			"LOKI_DATA=" + t.TempDir(),
			"LOKI_SHARED=" + shared,
			"ALERTMANAGER_URL=" + amURL,
		},
		args: append([]string{"-config.file=" + filepath.Join(repoRoot, "configs", "loki", "loki-ha.yaml"), "-config.expand-env=true"}, join...),
	}
}

func (l *haLoki) start(t *testing.T) {
	l.proc = start(t, l.id, l.env, lokiBin, l.args...)
}

// front spreads requests over the Lokis the way a Cloud Map name with one
// A record per task does for a client that moves on when a connection is
// refused: round robin, skipping a dead address.
type front struct {
	mu       sync.Mutex
	backends []string
	next     atomic.Uint64
	client   *http.Client
}

// replace swaps a backend's address, as Cloud Map does when ECS replaces a
// task.
func (f *front) replace(old, new string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends = slices.Replace(f.backends, slices.Index(f.backends, old), slices.Index(f.backends, old)+1, new)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	first := int(f.next.Add(1))
	lastErr := fmt.Errorf("no backend")
	f.mu.Lock()
	backends := slices.Clone(f.backends)
	f.mu.Unlock()
	for i := range backends {
		b := backends[(first+i)%len(backends)]
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

// alertPosts stands in front of one Alertmanager and counts the alerts
// rulers post to it, by alert name, before passing them on.
type alertPosts struct {
	next  *url.URL
	mu    sync.Mutex
	posts map[string]int
	first map[string]time.Time
}

func newAlertPosts(next string) *alertPosts {
	u, err := url.Parse(next)
	if err != nil {
		panic(err)
	}
	return &alertPosts{next: u, posts: map[string]int{}, first: map[string]time.Time{}}
}

func (a *alertPosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(body, &alerts); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	for _, al := range alerts {
		name := al.Labels["alertname"]
		a.posts[name]++
		if _, ok := a.first[name]; !ok {
			a.first[name] = time.Now()
		}
	}
	a.mu.Unlock()
	resp, err := http.Post(a.next.JoinPath(r.URL.Path).String(), r.Header.Get("Content-Type"), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
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
          severity: critical
`
	rulesDir := filepath.Join(shared, "rules", "fake") // "fake": the tenant with auth off
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "ha.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	// Two Alertmanagers clustered as deploy/ runs them in HA mode: every
	// ruler posts each alert to both (alertmanager_url lists both), and
	// their shared notification log lets only one notify.
	in := newInbox(t)
	ams := startAlertmanagerCluster(t, 2, "ALERT_WEBHOOK_URL="+in.srv.URL+"/hook")
	posts := make([]*alertPosts, len(ams))
	var amURLs []string
	for i, am := range ams {
		posts[i] = newAlertPosts(am.url)
		srv := httptest.NewServer(posts[i])
		t.Cleanup(srv.Close)
		amURLs = append(amURLs, srv.URL)
	}

	began := time.Now()
	nodes, join := startLokiHA(t, 3, shared, strings.Join(amURLs, ","))
	t.Logf("3 Lokis ready in %.0f s", time.Since(began).Seconds())
	var backends []string
	for _, l := range nodes {
		backends = append(backends, l.url)
	}
	fe := &front{backends: backends, client: &http.Client{Timeout: 30 * time.Second}}
	fr := httptest.NewServer(fe)
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

	// A replaced Fargate task: a new name (its hostname is its new IP), new
	// addresses, an empty disk (no WAL to replay). What the dead one held is
	// on the other two replicas; the ring forgets the dead one.
	replacement := newHALoki(t, "loki-4", testutil.FreePort(t), join, shared, strings.Join(amURLs, ","))
	replacement.start(t)
	replacement.proc.waitReady(t, replacement.url+"/ready", 3*time.Minute)
	fe.replace(victim.url, replacement.url)
	rejoined := time.Since(killed)
	nodes[0] = replacement
	// The ring has the three live ones, and forgets the dead one
	// (autoforget_unhealthy, after heartbeat_timeout: 1 min), while the
	// traffic goes on.
	var ring string
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		resp, err := http.Get(replacement.url + "/ring")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ring = string(b)
		live := 0
		for _, l := range nodes {
			if strings.Contains(ring, l.id) {
				live++
			}
		}
		if live == len(nodes) && !strings.Contains(ring, victim.id) {
			t.Logf("ring: %s forgotten, %s in, %.0f s after the kill", victim.id, replacement.id, time.Since(killed).Seconds())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 min after the kill the ring lists %d of the live Lokis and the dead %s: %v", live, victim.id, strings.Contains(ring, victim.id))
		}
	}

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
	// A rule fires once, not once per ruler: the group runs on one of them.
	push := fmt.Sprintf(`{"streams":[{"stream":{"job":"ha-probe"},"values":[["%d","boom"]]}]}`, time.Now().UnixNano())
	presp, err := http.Post(lokiURL+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	isProbe := func(n notification) bool { return n.CommonLabels["alertname"] == "HAProbe" && n.Status == "firing" }
	first := in.waitFor(t, 2*time.Minute, "HAProbe", isProbe)
	// Three rulers each evaluating the group every 5 s would post it three
	// times at once; one ruler posts it again only after Loki's resend
	// delay (1 min). Unclustered, both Alertmanagers would notify after
	// group_wait; clustered, the second waits its peer timeout (15 s) and
	// finds the first's entry in the notification log. Watch 30 s.
	time.Sleep(time.Until(first.arrived.Add(30 * time.Second)))
	notified := 0
	for _, n := range in.notifications(t) {
		if isProbe(n) {
			notified++
		}
	}
	for i, p := range posts {
		n, _ := p.count("HAProbe")
		t.Logf("HAProbe posted %d time(s) to Alertmanager %d", n, i+1)
		if n != 1 {
			t.Errorf("HAProbe posted %d times to Alertmanager %d in 30 s; want 1 (each rule group on one ruler, sent to every Alertmanager)", n, i+1)
		}
	}
	t.Logf("HAProbe notified %d time(s) by two clustered Alertmanagers", notified)
	if notified != 1 {
		t.Errorf("HAProbe notified %d times; want 1 (the cluster deduplicates)", notified)
	}
}
