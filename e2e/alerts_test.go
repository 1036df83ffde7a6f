package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// alertRig is the whole alert path, every part real: alloy-custom -> Loki
// (ruler on configs/loki/rules/) -> Alertmanager (configs/alertmanager/,
// webhook receiver) -> an HTTP endpoint of the test.
type alertRig struct {
	inbox *inbox
	am    *alertmanager
	loki  *lokiServer
	alloy *alloy
	rules map[string]string // alert -> group
}

func newAlertRig(t testing.TB, env string) *alertRig {
	t.Helper()
	r := &alertRig{inbox: newInbox(t)}
	r.rules, _ = shippedRules(t)
	r.am = startAlertmanager(t, "ALERT_WEBHOOK_URL="+r.inbox.srv.URL+"/hook")
	r.loki = newLokiWithRules(t, r.am.url)
	r.alloy = startAlloy(t, func(port int) string {
		return curatedConfig("events", port, r.loki.url, fmt.Sprintf("\tlabels = {env = %q}\n", env))
	})
	return r
}

// event is one curated event as the API takes it.
func event(name, service, level string, attrs map[string]any) map[string]any {
	return map[string]any{"event": name, "service": service, "level": level,
		"timestamp": time.Now().UnixMilli(), "attributes": attrs}
}

func (r *alertRig) send(t testing.TB, events ...map[string]any) time.Time {
	t.Helper()
	b, _ := json.Marshal(events)
	sent := time.Now()
	code, body := r.alloy.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, b)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %d %s", code, body)
	}
	return sent
}

// TestAlertShopifyFailureNotifies is the alert path end to end: normal
// traffic (with one stray Shopify error) raises nothing; Shopify failing
// reaches the webhook as a firing notification with the rule's labels and
// text (count, ratio, sample error, dashboard link), while the form-error
// alert it causes is inhibited; when failures stop, a resolved notification
// follows. Every shipped rule must load and evaluate on the real Loki.
func TestAlertShopifyFailureNotifies(t *testing.T) {
	r := newAlertRig(t, "e2e")
	begun := time.Now()
	// Every shipped rule loads and runs on this Loki.
	waitRulesHealthy(t, r.loki.url, r.rules, 150*time.Second)

	// Normal traffic: the form is opened, filled and submitted, Places and
	// Shopify answer, except once. Each event names its session: Loki
	// stores identical lines with the same timestamp once.
	var normal []map[string]any
	for i := 0; i < 12; i++ {
		normal = append(normal,
			event("form.open", "collabmaker", "info", map[string]any{"country": "KR", "session": i}),
			event("form.step", "collabmaker", "info", map[string]any{"step": 1 + i%3, "session": i}),
			event("places.lookup", "collabmaker", "info", map[string]any{"country": "KR", "duration_ms": 120, "session": i}))
	}
	for i := 0; i < 6; i++ {
		normal = append(normal,
			event("form.submit.attempt", "collabmaker", "info", map[string]any{"session": i}),
			event("form.submit", "collabmaker", "info", map[string]any{"outcome": "ok", "session": i}),
			event("shopify.sync", "collabmaker", "info", map[string]any{"http_status": 200, "session": i}))
	}
	normal = append(normal, event("shopify.sync", "collabmaker", "error", map[string]any{"http_status": 502, "error": "502 Bad Gateway", "session": 99}))
	r.send(t, normal...)
	waitForEntries(t, r.loki.url, "", `{env="e2e"}`, begun, time.Now().Add(time.Minute), len(normal))
	stored := time.Now()
	// Evidence that normal traffic raises nothing: the groups that could
	// fire on it evaluated after every event was queryable, and found
	// nothing; no notification came.
	for _, rule := range []string{"IntegrationFailing", "FormSubmitsFailing", "FormSubmitUnanswered"} {
		if got := waitEvaluatedAfter(t, r.loki.url, rule, stored, 90*time.Second); got.State != "inactive" || got.Health != "ok" {
			t.Fatalf("normal traffic: rule %s is %s (%s)", rule, got.State, got.LastError)
		}
	}
	if n := r.inbox.all(); len(n) != 0 {
		t.Fatalf("normal traffic: %d notifications: %s", len(n), n[0].body)
	}

	// Shopify fails for every sync from now on, and the submissions with
	// it: 7 failures of the minute's 13 syncs.
	var failures []map[string]any
	for i := 0; i < 6; i++ {
		failures = append(failures,
			event("shopify.sync", "collabmaker", "error", map[string]any{"http_status": 503, "error": "THROTTLED", "session": 100 + i}),
			event("form.submit", "collabmaker", "error", map[string]any{"outcome": "error", "error": "SHOPIFY_UNAVAILABLE", "session": 100 + i}))
	}
	posted := r.send(t, failures...)

	fired := r.inbox.waitFor(t, 90*time.Second, "firing IntegrationFailing", func(n notification) bool {
		return n.Status == "firing" && n.CommonLabels["alertname"] == "IntegrationFailing"
	})
	t.Logf("IntegrationFailing notified %.1f s after the POST", fired.arrived.Sub(posted).Seconds())
	if len(fired.Alerts) != 1 {
		t.Fatalf("want 1 alert in the notification, got %+v", fired.Alerts)
	}
	a := fired.Alerts[0]
	for k, want := range map[string]string{"alertname": "IntegrationFailing", "severity": "critical",
		"service": "collabmaker", "env": "e2e", "team": "collabmaker", "event": "shopify.sync"} {
		if a.Labels[k] != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], want, a.Labels)
		}
	}
	if s := a.Annotations["summary"]; s != "shopify.sync failing for collabmaker (e2e)" {
		t.Errorf("summary %q", s)
	}
	// The count, the ratio and a sample error, from the ruler's queries
	// (the stray error and the normal syncs may have left the minute).
	d := a.Annotations["description"]
	if !regexp.MustCompile(`^[67] failed shopify\.sync calls in the last minute, [0-9.]+% of all\. Sample: THROTTLED$`).MatchString(d) {
		t.Errorf("description %q lacks the count, the ratio or the sample", d)
	}
	if got := a.Annotations["dashboard"]; got != "/d/curated-collabmaker/?var-env=e2e&var-service=collabmaker" {
		t.Errorf("dashboard %q", got)
	}
	if !strings.HasPrefix(a.GeneratorURL, grafanaURL+"/explore") {
		t.Errorf("generator URL %q is not under Grafana's URL (the dashboard link is built from it)", a.GeneratorURL)
	}

	// The form-error alert fires too, and Alertmanager holds it back: it
	// depends on the integration.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var form *amAlert
		for _, al := range r.am.alerts(t) {
			if al.Labels["alertname"] == "FormSubmitsFailing" {
				form = &al
			}
		}
		if form != nil {
			if form.Status.State != "suppressed" || len(form.Status.InhibitedBy) == 0 {
				t.Fatalf("FormSubmitsFailing is %s, want suppressed by IntegrationFailing: %+v", form.Status.State, form)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FormSubmitsFailing never reached Alertmanager; rules: %+v", rulerRules(t, r.loki.url))
		}
		time.Sleep(250 * time.Millisecond)
	}

	// No more failures: the 1-minute window empties, the ruler resolves the
	// alert after keep_firing_for (2 min) and Alertmanager says so at its
	// next group_interval.
	resolved := r.inbox.waitFor(t, 6*time.Minute, "resolved IntegrationFailing", func(n notification) bool {
		return n.Status == "resolved" && n.CommonLabels["alertname"] == "IntegrationFailing"
	})
	ended := resolved.Alerts[0].EndsAt
	if !ended.After(posted) {
		t.Errorf("resolved alert ends at %s, before the failure was posted (%s)", ended, posted)
	}
	// The inhibition held for as long as Shopify was failing.
	for _, n := range r.inbox.notifications(t) {
		if n.CommonLabels["alertname"] == "FormSubmitsFailing" && n.arrived.Before(ended) {
			t.Errorf("FormSubmitsFailing notified at %s while IntegrationFailing fired (until %s)", n.arrived, ended)
		}
	}
}

// TestRuleFilesAreComplete checks what every shipped rule must carry for a
// notification to be routable and readable: severity and team labels, a
// summary, a description with the value, and the LogQL to look at.
func TestRuleFilesAreComplete(t *testing.T) {
	names, files := shippedRules(t)
	if len(names) < 8 {
		t.Fatalf("only %d rules in configs/loki/rules", len(names))
	}
	for _, f := range files {
		for _, g := range f.Groups {
			if g.Interval == "" {
				t.Errorf("group %s has no interval of its own (the ruler's default is 1 min)", g.Name)
			}
			for _, r := range g.Rules {
				if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
					t.Errorf("%s: severity %q", r.Alert, s)
				}
				if r.Labels["team"] == "" {
					t.Errorf("%s: no team label", r.Alert)
				}
				// An absence has no count to tell.
				counted := !strings.Contains(r.Expr, "absent_over_time")
				if r.Annotations["summary"] == "" || r.Annotations["logql"] == "" || r.Annotations["description"] == "" ||
					counted && !strings.Contains(r.Annotations["description"], "$value") {
					t.Errorf("%s: needs summary, logql and a description with {{ $value }}: %v", r.Alert, r.Annotations)
				}
				if r.For == "" {
					t.Errorf("%s: say `for` explicitly", r.Alert)
				}
			}
		}
	}
}

// curatedSelector is a LogQL stream selector; templates ({{ }}) are not.
var curatedSelector = regexp.MustCompile(`\{[^{}]*\}`)

// leavesContainersOut reports whether a stream selector of a curated query
// excludes container logs (configs/container_logs.alloy), which carry the
// same service label: with source!="container", or a level the container
// streams never have, or by selecting the pipeline's own streams.
func leavesContainersOut(sel string) bool {
	return strings.Contains(sel, "source") || strings.Contains(sel, `level=~\"`) || strings.Contains(sel, `level=~"`) ||
		strings.Contains(sel, `service="alloy-curated"`) || strings.Contains(sel, `component="alloy"`) || !strings.Contains(sel, "=")
}

// TestCuratedQueriesLeaveContainerLogsOut: a service's container lines must
// neither keep ServiceStoppedSending quiet when its events stop nor dilute
// an error ratio, so every selector of the rules (expressions and the
// queries in their annotations) and of the dashboards says which streams
// it reads. TestDashboardQueriesOnLoki proves the dashboards' numbers with
// container lines present.
func TestCuratedQueriesLeaveContainerLogsOut(t *testing.T) {
	_, files := shippedRules(t)
	checked := 0
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				texts := []string{r.Expr, r.Annotations["description"], r.Annotations["logql"]}
				for _, text := range texts {
					for _, sel := range curatedSelector.FindAllString(text, -1) {
						if strings.Contains(sel, "{{") || strings.HasPrefix(sel, "{ ") {
							continue
						}
						checked++
						if !leavesContainersOut(sel) {
							t.Errorf("%s: selector %s reads container logs too; add source!=\"container\"", r.Alert, sel)
						}
					}
				}
			}
		}
	}
	dashboards, _ := filepath.Glob(filepath.Join(repoRoot, "configs", "grafana", "dashboards", "*.json"))
	for _, d := range dashboards {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Panels {
			for _, tg := range p.Targets {
				for _, sel := range curatedSelector.FindAllString(tg.Expr, -1) {
					checked++
					if !leavesContainersOut(sel) {
						t.Errorf("%s / %q: selector %s reads container logs too", filepath.Base(d), p.Title, sel)
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d selectors checked", checked)
	}
}

// A client over its rate limit: the collector's self-report carries the
// 429s to Loki, and the notification names the client and the status and
// says that the limit is each alloy-custom task's own (docs/deploy.md).
func TestAlertRateLimitSaysPerTask(t *testing.T) {
	in := newInbox(t)
	am := startAlertmanager(t, "ALERT_WEBHOOK_URL="+in.srv.URL+"/hook")
	loki := newLokiWithRules(t, am.url)
	a := startAlloy(t, func(port int) string {
		return curatedConfig("limits", port, loki.url, `
	labels               = {env = "limits"}
	self_report_interval = "5s"

	client "web" {
		api_key = "web-key"
		service = "web"

		rate_limit {
			rate  = 0.01
			burst = 1
		}
	}`)
	})
	limited := 0
	for range 15 {
		b, _ := json.Marshal([]map[string]any{event("page.view", "web", "info", nil)})
		if code, _ := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json", "X-API-Key": "web-key"}, b); code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 15 requests answered 429; the rule needs 10", limited)
	}
	n := in.waitFor(t, 3*time.Minute, "CollectorRefusingRequests for 429", func(n notification) bool {
		return n.Status == "firing" && n.CommonLabels["alertname"] == "CollectorRefusingRequests" && n.CommonLabels["status"] == "429"
	})
	desc := n.Alerts[0].Annotations["description"]
	for _, want := range []string{"client web", "429", "each alloy-custom task on its own"} {
		if !strings.Contains(desc, want) {
			t.Errorf("the notification's description lacks %q: %s", want, desc)
		}
	}
}
