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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
	"gopkg.in/yaml.v3"
)

// alertmanager is a running bin/alertmanager on the config that
// scripts/render-alertmanager.sh renders from configs/alertmanager/.
type alertmanager struct {
	*process
	url string
}

// startAlertmanager renders the config with env (ALERT_WEBHOOK_URL,
// ALERT_RECEIVER, ...) and runs Alertmanager on a free port, without
// clustering, with env in its environment too (AWS credentials for SNS).
func startAlertmanager(t testing.TB, env ...string) *alertmanager {
	t.Helper()
	return startAlertmanagerPeer(t, []string{"--cluster.listen-address="}, env...)
}

// startAlertmanagerPeer is startAlertmanager with cluster flags of its own
// (--cluster.listen-address, --cluster.peer) instead of none.
func startAlertmanagerPeer(t testing.TB, cluster []string, env ...string) *alertmanager {
	t.Helper()
	dir := t.TempDir()
	render := exec.Command(filepath.Join(repoRoot, "scripts", "render-alertmanager.sh"), filepath.Join(dir, "config"))
	render.Env = append(os.Environ(), env...)
	if out, err := render.CombinedOutput(); err != nil {
		t.Fatalf("render-alertmanager.sh: %v\n%s", err, out)
	}
	port := testutil.FreePort(t)
	am := &alertmanager{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	args := append([]string{
		"--config.file=" + filepath.Join(dir, "config", "alertmanager.yml"),
		"--storage.path=" + filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
	}, cluster...)
	am.process = start(t, "alertmanager", env, amBin, args...)
	am.waitReady(t, am.url+"/-/ready", 30*time.Second)
	return am
}

// startAlertmanagerCluster runs n Alertmanagers on the rendered config,
// gossiping on loopback, and waits until each sees all n.
func startAlertmanagerCluster(t testing.TB, n int, env ...string) []*alertmanager {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testutil.FreePort(t)
	}
	ams := make([]*alertmanager, n)
	for i := range ams {
		cluster := []string{fmt.Sprintf("--cluster.listen-address=127.0.0.1:%d", ports[i]), "--cluster.peer-timeout=15s"}
		for j, p := range ports {
			if j != i {
				cluster = append(cluster, fmt.Sprintf("--cluster.peer=127.0.0.1:%d", p))
			}
		}
		ams[i] = startAlertmanagerPeer(t, cluster, env...)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		ready := 0
		for _, am := range ams {
			if peers, status := am.cluster(t); peers == n && status == "ready" {
				ready++
			}
		}
		if ready == n {
			return ams
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d Alertmanagers did not form a cluster within a minute", n)
		}
	}
}

// cluster reports how many peers this Alertmanager sees, itself included,
// and its cluster status.
func (am *alertmanager) cluster(t testing.TB) (int, string) {
	t.Helper()
	resp, err := http.Get(am.url + "/api/v2/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Cluster struct {
			Status string            `json:"status"`
			Peers  []json.RawMessage `json:"peers"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("alertmanager status: %v", err)
	}
	return len(st.Cluster.Peers), st.Cluster.Status
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	Status   struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// alerts lists Alertmanager's alerts, active, inhibited and silenced.
func (am *alertmanager) alerts(t testing.TB) []amAlert {
	t.Helper()
	resp, err := http.Get(am.url + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("alertmanager alerts: %v", err)
	}
	return out
}

// post sends alerts to Alertmanager's API as a ruler would.
func (am *alertmanager) post(t testing.TB, alerts any) {
	t.Helper()
	b, _ := json.Marshal(alerts)
	resp, err := http.Post(am.url+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %d %s", resp.StatusCode, body)
	}
}

// notification is one webhook notification from Alertmanager, with the time
// it arrived.
type notification struct {
	Status       string            `json:"status"`
	GroupLabels  map[string]string `json:"groupLabels"`
	CommonLabels map[string]string `json:"commonLabels"`
	Alerts       []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
	arrived time.Time
}

// inbox is an HTTP endpoint standing in for a messenger: it records every
// request body and wakes up whoever waits for one.
type inbox struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []received
	wake   chan struct{}
}

type received struct {
	path    string
	body    []byte
	arrived time.Time
}

func newInbox(t testing.TB) *inbox {
	in := &inbox{wake: make(chan struct{}, 1)}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.bodies = append(in.bodies, received{path: r.URL.Path, body: b, arrived: time.Now()})
		in.mu.Unlock()
		select {
		case in.wake <- struct{}{}:
		default:
		}
		// Telegram's API answers with a result object; the others ignore it.
		_, _ = io.WriteString(w, `{"ok":true,"result":{}}`)
	}))
	t.Cleanup(in.srv.Close)
	return in
}

// all returns what arrived so far.
func (in *inbox) all() []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]received(nil), in.bodies...)
}

// notifications decodes what arrived as webhook notifications.
func (in *inbox) notifications(t testing.TB) []notification {
	t.Helper()
	var out []notification
	for _, r := range in.all() {
		var n notification
		if err := json.Unmarshal(r.body, &n); err != nil {
			t.Fatalf("webhook body is not a notification: %v: %s", err, r.body)
		}
		n.arrived = r.arrived
		out = append(out, n)
	}
	return out
}

// waitFor returns the first notification that match accepts, waiting up to
// timeout for it to arrive.
func (in *inbox) waitFor(t testing.TB, timeout time.Duration, what string, match func(notification) bool) notification {
	t.Helper()
	var found notification
	in.wait(t, timeout, "notification "+what, func() bool {
		for _, n := range in.notifications(t) {
			if match(n) {
				found = n
				return true
			}
		}
		return false
	})
	return found
}

// wait returns when done, checked on every arrival, says so; it fails the
// test after timeout.
func (in *inbox) wait(t testing.TB, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !done() {
		select {
		case <-in.wake:
		case <-deadline.C:
			t.Fatalf("no %s within %s; received %d requests", what, timeout, len(in.all()))
		}
	}
}

// ruleFile is the part of a Prometheus-format rule file the tests read.
type ruleFile struct {
	path   string
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// shippedRules reads configs/loki/rules/*.yaml: alert name -> group name.
func shippedRules(t testing.TB) (map[string]string, []ruleFile) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "configs", "loki", "rules", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	names := map[string]string{}
	var parsed []ruleFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rf := ruleFile{path: f}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if _, dup := names[r.Alert]; dup {
					t.Errorf("%s: alert %s defined twice", f, r.Alert)
				}
				names[r.Alert] = g.Name
			}
		}
		parsed = append(parsed, rf)
	}
	return names, parsed
}

// rulerRule is a rule as Loki's ruler reports it (Prometheus' rules API).
type rulerRule struct {
	Name           string    `json:"name"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	State          string    `json:"state"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// rulerRules returns every alerting rule Loki's ruler has loaded, by name.
func rulerRules(t testing.TB, lokiURL string) map[string]rulerRule {
	t.Helper()
	resp, err := http.Get(lokiURL + "/prometheus/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rules API: %d %s", resp.StatusCode, body)
	}
	var r struct {
		Data struct {
			Groups []struct {
				Name  string      `json:"name"`
				Rules []rulerRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("rules API: %v: %s", err, body)
	}
	out := map[string]rulerRule{}
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			out[rule.Name] = rule
		}
	}
	return out
}

// waitRulesHealthy waits until the ruler has loaded every shipped rule and
// evaluated each at least once without error; a rule that is missing (its
// file failed to load) or unhealthy fails the test.
func waitRulesHealthy(t testing.TB, lokiURL string, want map[string]string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := rulerRules(t, lokiURL)
		pending := 0
		for name, group := range want {
			r, ok := got[name]
			switch {
			case ok && r.Health == "err":
				t.Fatalf("rule %s (group %s) fails on Loki: %s", name, group, r.LastError)
			case !ok || r.Health != "ok" || r.LastEvaluation.IsZero():
				pending++
			}
		}
		if pending == 0 {
			if len(got) != len(want) {
				t.Fatalf("the ruler has %d rules, configs/loki/rules has %d: %v", len(got), len(want), got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d rules not loaded or never evaluated; ruler has %+v", timeout, pending, len(want), got)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitEvaluatedAfter waits until the ruler has evaluated rule after t0 and
// returns what it reports.
func waitEvaluatedAfter(t testing.TB, lokiURL, rule string, t0 time.Time, timeout time.Duration) rulerRule {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, ok := rulerRules(t, lokiURL)[rule]
		if ok && r.LastEvaluation.After(t0) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule %s not evaluated after %s within %s (%+v)", rule, t0.Format(time.RFC3339Nano), timeout, r)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestAlertReceiversRenderMessages sends one alert through the real
// Alertmanager to each messenger receiver of configs/alertmanager/, with the
// messenger's URL pointing at the test, and checks that what the messenger
// would show says what broke, how often, since when, and where to look.
// (webhook is TestAlertShopifyFailureNotifies; telegram and email need
// their real servers.)
func TestAlertReceiversRenderMessages(t *testing.T) {
	for _, receiver := range []string{"slack", "msteams", "discord"} {
		t.Run(receiver, func(t *testing.T) {
			t.Parallel()
			in := newInbox(t)
			am := startAlertmanager(t, "ALERT_RECEIVER="+receiver, "ALERT_TARGET="+in.srv.URL+"/"+receiver)
			since := time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)
			am.post(t, []map[string]any{{
				"labels": map[string]string{"alertname": "IntegrationFailing", "severity": "critical",
					"service": "collabmaker", "env": "prod", "team": "collabmaker", "event": "places.lookup", "country": "KR"},
				"annotations": map[string]string{
					"summary":     "places.lookup failing for collabmaker in KR (prod)",
					"description": "6 failed places.lookup calls in the last 2 minutes, 86% of all. Sample: OVER_QUERY_LIMIT",
					"logql":       `{service="collabmaker", env="prod", level=~"error|fatal"} | json | event="places.lookup"`,
					"dashboard":   "/d/curated-collabmaker/?var-env=prod&var-service=collabmaker",
				},
				"startsAt":     since.Format(time.RFC3339),
				"generatorURL": "https://grafana.example/grafana/explore?left=x&orgId=1",
			}})
			in.wait(t, 60*time.Second, receiver+" message", func() bool { return len(in.all()) > 0 })
			got := in.all()[0]
			if got.path != "/"+receiver {
				t.Errorf("posted to %s", got.path)
			}
			var doc any
			if err := json.Unmarshal(got.body, &doc); err != nil {
				t.Fatalf("%s body is not JSON: %v: %s", receiver, err, got.body)
			}
			text := strings.Join(jsonStrings(doc), "\n")
			// The dashboard from 30 minutes before the alert to now.
			dashboard := "https://grafana.example/grafana/d/curated-collabmaker/?var-env=prod&var-service=collabmaker&from=" +
				strconv.FormatInt(since.Add(-30*time.Minute).UnixMilli(), 10) + "&to=now"
			for _, want := range []string{
				"IntegrationFailing",             // what broke
				"collabmaker",                    // which service
				"country=KR event=places.lookup", // where
				"6 failed places.lookup calls",   // how often
				"86% of all",                     // the ratio
				"Sample: OVER_QUERY_LIMIT",       // one error
				"Since: 2026-11-30 09:30:00 UTC", // since when
				dashboard,                        // where to look, as a Viewer
			} {
				if !strings.Contains(text, want) {
					t.Errorf("%s message lacks %q:\n%s", receiver, want, text)
				}
			}
			// Explore needs more than a Viewer's role: never linked.
			if strings.Contains(text, "/explore") {
				t.Errorf("%s message links to Explore:\n%s", receiver, text)
			}
		})
	}
}

// jsonStrings returns every string value in a decoded JSON document.
func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// TestAlertmanagerConfigRefusesBadSettings: a messenger chosen without its
// secret stops at rendering with a message naming the variable, instead of
// an Alertmanager that starts and never notifies.
func TestAlertmanagerConfigRefusesBadSettings(t *testing.T) {
	for env, want := range map[string]string{
		"ALERT_RECEIVER=slack":    "ALERT_TARGET",
		"ALERT_RECEIVER=telegram": "ALERT_TARGET",
		"ALERT_RECEIVER=pager":    "must be one of",
		// The heartbeat needs its topic; a typo is no silent "none".
		"ALERT_HEARTBEAT_RECEIVER=heartbeat": "ALERT_HEARTBEAT_TOPIC_ARN",
		"ALERT_HEARTBEAT_RECEIVER=sns":       "must be heartbeat or none",
	} {
		cmd := exec.Command(filepath.Join(repoRoot, "scripts", "render-alertmanager.sh"), t.TempDir())
		cmd.Env = append(os.Environ(), env, "ALERT_TARGET=", "ALERT_WEBHOOK_URL=", "ALERT_HEARTBEAT_TOPIC_ARN=")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: err %v, output %q, want it to name %q", env, err, out, want)
		}
	}
}

// TestHeartbeatReachesSNS is the dead man's switch end to end: Loki's ruler
// on the shipped rules fires Watchdog, Alertmanager's heartbeat receiver
// publishes it to the SNS topic (a stand-in speaking SNS's query API here;
// in AWS a CloudWatch alarm watches the topic's NumberOfMessagesPublished),
// signed for the topic's region, and again a minute later: a silence of
// more than that is what the alarm reports.
func TestHeartbeatReachesSNS(t *testing.T) {
	const topic = "arn:aws:sns:ap-northeast-2:123456789012:curated-heartbeat"
	type publish struct {
		at            time.Time
		form          url.Values
		authorization string
	}
	var (
		mu        sync.Mutex
		published []publish
	)
	sns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		published = append(published, publish{time.Now(), r.PostForm, r.Header.Get("Authorization")})
		n := len(published)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-%d</MessageId></PublishResult>`+
			`<ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata></PublishResponse>`, n, n)
	}))
	t.Cleanup(sns.Close)
	am := startAlertmanager(t, "ALERT_HEARTBEAT_RECEIVER=heartbeat", "ALERT_HEARTBEAT_TOPIC_ARN="+topic,
		"ALERT_HEARTBEAT_REGION=ap-northeast-2", "ALERT_HEARTBEAT_SNS_URL="+sns.URL,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example", "AWS_EC2_METADATA_DISABLED=true")
	newLokiWithRules(t, am.url)

	deadline := time.Now().Add(4 * time.Minute)
	var got []publish
	for time.Now().Before(deadline) {
		mu.Lock()
		got = append(got[:0], published...)
		mu.Unlock()
		if len(got) >= 2 {
			break
		}
		time.Sleep(time.Second)
	}
	if len(got) < 2 {
		t.Fatalf("%d heartbeats published in 4 minutes, want 2 (one a minute): %+v", len(got), got)
	}
	for _, p := range got[:2] {
		if p.form.Get("Action") != "Publish" || p.form.Get("TopicArn") != topic ||
			!strings.Contains(p.form.Get("Message"), "alert path is alive") {
			t.Errorf("published %v, want Action=Publish to %s with the heartbeat message", p.form, topic)
		}
		if !strings.Contains(p.authorization, "/ap-northeast-2/sns/aws4_request") {
			t.Errorf("Authorization %q is not signed for SNS in the topic's region", p.authorization)
		}
	}
	gap := got[1].at.Sub(got[0].at)
	if gap < 50*time.Second || gap > 90*time.Second {
		t.Errorf("heartbeats %.0f s apart, want about a minute (group_interval 1m)", gap.Seconds())
	}
	t.Logf("heartbeats at %s and %s (%.0f s apart)", got[0].at.Format(time.TimeOnly), got[1].at.Format(time.TimeOnly), gap.Seconds())
}
