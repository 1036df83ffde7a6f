package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scenarioClass is one incident class of docs/alerts.md's detection model:
// what is injected, which notification catches it, and the word its text
// must carry to say where.
type scenarioClass struct {
	name    string
	service string
	target  time.Duration // the detection goal
	match   func(a alertOf) bool
	where   string // a dimension value the summary must name
	// also lists alerts the incident may rightly raise besides the one
	// that catches it (its consequences).
	also []string

	caught   time.Time
	rule     string
	summary  string
	named    bool
	injected time.Time
}

type alertOf struct {
	Labels      map[string]string
	Annotations map[string]string
}

// TestAlertScenarios replays a realistic day and injects one incident per
// service, every part real: a day of history for five form services (with a
// quiet night) pushed into Loki, live traffic through alloy-custom over
// HTTP, the shipped rules in Loki's ruler, the shipped Alertmanager, a
// webhook. It asserts that every class is caught, that the notification
// names where, and that nothing else pages: not during the live run, and
// not at any point of the replayed day (every rule evaluated over the
// history with query_range). Times go to .cache/bench/scenario.md.
func TestAlertScenarios(t *testing.T) {
	const env = "scenario"
	// The processes' logs follow a failure; the verdict is repeated after
	// them, where a CI log's tail shows it (cleanups run last-in first-out).
	var failures []string
	fail := func(format string, args ...any) {
		failures = append(failures, fmt.Sprintf(format, args...))
		t.Error(failures[len(failures)-1])
	}
	t.Cleanup(func() {
		if len(failures) > 0 {
			t.Logf("TestAlertScenarios failed:\n%s", strings.Join(failures, "\n"))
		}
	})
	in := newInbox(t)
	am := startAlertmanager(t, "ALERT_WEBHOOK_URL="+in.srv.URL+"/hook")
	data := t.TempDir()
	loki := newLokiWith(t, "LOKI_DATA="+data, "ALERTMANAGER_URL="+am.url, "GRAFANA_URL="+grafanaURL)
	// loki.write reaches Loki through a proxy the test can stall.
	target, _ := url.Parse(loki.url)
	var stalled atomic.Bool
	resume := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(target)
	stallable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalled.Load() {
			select {
			case <-resume:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(stallable.Close)
	alloy := startAlloy(t, func(port int) string {
		return curatedConfig("events", port, stallable.URL,
			fmt.Sprintf("\tlabels = {env = %q}\n\tself_report_interval = \"1m\"\n", env))
	})

	services := []*scenarioService{
		{name: "collabmaker", peak: 6, inc: &incident{submitUnanswered: true}},
		{name: "partners-eu", peak: 6, inc: &incident{shopifyDown: true}},
		// Its browsers' clocks run 10 minutes slow: only the API's sent_at
		// correction puts their events where a 2-minute window sees them.
		{name: "partners-kr", peak: 5, clockSkew: 10 * time.Minute, inc: &incident{placesDownIn: "KR"}},
		// Busier: the broken slice (Chrome 131 on release 2.4.0, a fifth
		// of sessions) gets about 1.4 sessions a minute to step 2.
		{name: "partners-us", peak: 8, inc: &incident{jsErrorsOn: [2]string{"Chrome 131", "2.4.0"}}},
		{name: "partners-jp", peak: 6, inc: &incident{silent: true}},
	}
	classes := []*scenarioClass{
		{name: "submissions stop while the form is in use", service: "collabmaker", target: 3 * time.Minute, where: "collabmaker",
			match: func(a alertOf) bool { return a.Labels["alertname"] == "FormSubmitUnanswered" }},
		{name: "Shopify failing", service: "partners-eu", target: 30 * time.Second, where: "shopify.sync",
			match: func(a alertOf) bool {
				return a.Labels["alertname"] == "IntegrationFailing" && a.Labels["event"] == "shopify.sync"
			},
			also: []string{"IntegrationDegraded", "FormSubmitsFailing"}},
		{name: "Google Places failing for one country (browser clocks 10 min slow)", service: "partners-kr", target: 30 * time.Second, where: "KR",
			match: func(a alertOf) bool {
				return a.Labels["alertname"] == "IntegrationFailing" && a.Labels["event"] == "places.lookup" && a.Labels["country"] == "KR"
			},
			also: []string{"IntegrationDegraded"}},
		{name: "JavaScript errors on one browser and release", service: "partners-us", target: 3 * time.Minute, where: "Chrome 131",
			match: func(a alertOf) bool {
				return a.Labels["alertname"] == "BrowserErrorsConcentrated" && a.Labels["browser"] == "Chrome 131" && a.Labels["release"] == "2.4.0"
			}},
		{name: "a service goes silent", service: "partners-jp", target: 3 * time.Minute, where: "partners-jp",
			match: func(a alertOf) bool { return a.Labels["alertname"] == "ServiceSilent" },
			// Its applicants' submissions get no answer either, and the
			// unanswered-submit rule can be the first to say so.
			also: []string{"FormSubmitUnanswered"}},
		{name: "the collector refuses a client's requests (413)", service: "alloy-curated", target: 3 * time.Minute, where: "413",
			match: func(a alertOf) bool {
				// The per-task remark is for rate limits (429) only.
				return a.Labels["alertname"] == "CollectorRefusingRequests" && a.Labels["status"] == "413" &&
					!strings.Contains(a.Annotations["description"], "each alloy-custom task")
			}},
	}
	stall := &scenarioClass{name: "Loki stalls (pushes hang)", service: "alloy-curated", target: 3 * time.Minute, where: env,
		match: func(a alertOf) bool { return a.Labels["alertname"] == "CollectorNotReporting" },
		also:  []string{"EventsNotForwarded", "CollectorRefusingRequests"}}

	// The day before now as history, pushed straight into Loki the way the
	// component stores it (first: Loki takes a stream's entries at most an
	// hour behind its newest); then live traffic through the API.
	live := time.Now()
	history := pushHistory(t, loki.url, env, services, live)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	sender := &liveSender{t: t, url: alloy.apiURL + "/v1/events", ctx: ctx}
	for i, s := range services {
		wg.Add(1)
		go func() { defer wg.Done(); sender.run(uint64(i), s, live, &wg) }()
	}

	// Rules load now that the history is in: evaluated earlier, they would
	// see a day half pushed.
	names, files := shippedRules(t)
	dir := filepath.Join(data, "rules", "fake")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f.path)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitRulesHealthy(t, loki.url, names, 3*time.Minute)
	t.Logf("rules loaded %.0f s after the live traffic began", time.Since(live).Seconds())
	waitHistoryQueryable(t, loki.url, env, live, history, 3*time.Minute)

	// The replayed day, evaluated while the live part runs.
	var replay []falsePage
	replayDone := make(chan struct{})
	go func() {
		defer close(replayDone)
		replay = replayDay(t, loki.url, files, live.Add(-23*time.Hour), live.Add(-3*time.Minute))
	}()

	// A minute of normal live traffic, then every incident at once, each
	// on its own service.
	time.Sleep(time.Minute)
	injected := time.Now()
	for _, s := range services {
		s.inc.from.Store(injected.UnixNano())
	}
	for _, c := range classes {
		c.injected = injected
	}
	wg.Add(1)
	go func() { defer wg.Done(); sender.refuse(20, 40*time.Second) }()
	awaitClasses(t, in, classes, injected.Add(6*time.Minute))

	// Then the pipeline: pushes to Loki hang until the alert comes.
	stall.injected = time.Now()
	stalled.Store(true)
	awaitClasses(t, in, []*scenarioClass{stall}, stall.injected.Add(6*time.Minute))
	stalled.Store(false)
	close(resume)

	<-replayDone
	all := append(classes, stall)
	pages := livePages(t, in, all)
	writeScenarioReport(t, all, pages, replay)
	for _, c := range all {
		switch {
		case c.caught.IsZero():
			fail("%s: not caught", c.name)
		case !c.named:
			fail("%s: caught by %s, but its summary %q does not say where (%q)", c.name, c.rule, c.summary, c.where)
		}
	}
	for _, p := range pages {
		fail("false page (live): %s", p)
	}
	for _, p := range replay {
		fail("false page (replayed day): %s", p)
	}
}

// liveSender posts the live traffic as applications do: one request per
// event at its time, browsers with their User-Agent and clock.
type liveSender struct {
	t   *testing.T
	url string
	ctx context.Context
}

func (s *liveSender) run(seed uint64, svc *scenarioService, from time.Time, wg *sync.WaitGroup) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for m := from; s.ctx.Err() == nil; m = m.Add(time.Minute) {
		n := poisson(rng, rateAt(m, from, svc.peak))
		for i := 0; i < n; i++ {
			start := m.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			sessionRNG := rand.New(rand.NewPCG(seed, rng.Uint64()))
			events := applicant(sessionRNG, svc.name, start, []string{"2.3.0", "2.4.0"}[rng.IntN(2)])
			wg.Add(1)
			go func() { defer wg.Done(); s.play(svc, events, sessionRNG) }()
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Until(m.Add(time.Minute))):
		}
	}
}

// play sends one applicant's events at their times, as the service's
// incident changes them.
func (s *liveSender) play(svc *scenarioService, events []scenarioEvent, rng *rand.Rand) {
	for _, e := range events {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Until(e.at)):
		}
		e, ok, last := svc.inc.apply(e, rng)
		if !ok {
			if last {
				return
			}
			continue
		}
		ua := "alloy-curated-go/0.3.0 (go1.26)"
		skew := time.Duration(0)
		if e.browser != "" {
			ua, skew = userAgents[e.browser], svc.clockSkew
		}
		clock := time.Now().Add(-skew)
		body, _ := json.Marshal(map[string]any{
			"sent_at": clock.UnixMilli(),
			"events": []map[string]any{{"event": e.name, "level": e.level, "service": svc.name,
				"timestamp": e.at.Add(-skew).UnixMilli(), "session_id": e.session, "attributes": e.attrs}},
		})
		s.post(ua, body)
		if last {
			return
		}
	}
}

func (s *liveSender) post(ua string, body []byte) int {
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refuse sends n requests over d that the API refuses with 413: a client
// whose batches outgrew max_events_per_request.
func (s *liveSender) refuse(n int, d time.Duration) {
	var events []map[string]any
	for i := 0; i < 501; i++ {
		events = append(events, map[string]any{"event": "cart.item", "service": "partners-batch"})
	}
	body, _ := json.Marshal(events)
	for i := 0; i < n && s.ctx.Err() == nil; i++ {
		if code := s.post("partners-batch/1.0", body); code != http.StatusRequestEntityTooLarge {
			s.t.Errorf("oversized batch answered %d, want 413", code)
		}
		time.Sleep(d / time.Duration(n))
	}
}

// pushHistory stores the day before live: every service's traffic and the
// component's reports, hour by hour in time order (Loki takes a stream's
// entries up to an hour out of order).
//
// It returns the number of distinct entries (Loki stores an identical
// line at the same time in a stream once) stamped before live.
func pushHistory(t *testing.T, lokiURL, env string, services []*scenarioService, live time.Time) int {
	t.Helper()
	start := live.Add(-24 * time.Hour).Truncate(time.Minute)
	total := 0
	before := map[string]bool{}
	count := func(service string, events []scenarioEvent) {
		for _, e := range events {
			if e.at.Before(live) {
				before[service+"\x00"+e.level+"\x00"+strconv.FormatInt(e.at.UnixNano(), 10)+"\x00"+e.line()] = true
			}
		}
	}
	for hour, h := 0, start; h.Before(live); hour, h = hour+1, h.Add(time.Hour) {
		end := h.Add(time.Hour)
		if end.After(live) {
			end = live
		}
		for i, s := range services {
			// The same day every run (seeded by service and hour). Sessions
			// begun before live are pushed whole: their last events are up
			// to two minutes ahead, within Loki's creation grace period, and
			// show in queries when their time comes. Cut at live, they
			// would leave submit attempts without outcomes.
			// The day's curve is anchored on whole minutes, so the same
			// seeds draw the same day whatever second the test starts.
			events := s.traffic(uint64(100+i), uint64(hour), h, end, start.Add(24*time.Hour))
			if total += len(events); len(events) > 0 {
				lokiPush(t, lokiURL, pushBody(env, s.name, events))
				count(s.name, events)
			}
		}
		// The component reports every minute; now and then a client's
		// request is refused (noise under the alert's threshold).
		var reports []scenarioEvent
		last := end
		if end.Equal(live) {
			last = live.Add(2 * time.Minute) // until the collector's first own report
		}
		for m := h; m.Before(last); m = m.Add(time.Minute) {
			reports = append(reports, scenarioEvent{at: m, name: "curated.pipeline", level: "info",
				attrs: map[string]any{"requests": 40, "accepted": 40, "refused": 0, "not_forwarded": 0}})
		}
		if noise := h.Add(17 * time.Minute); noise.Before(end) {
			reports = append(reports, scenarioEvent{at: noise, name: "curated.refused", level: "warn",
				attrs: map[string]any{"client": "anonymous", "status": 400, "count": 2}})
		}
		lokiPush(t, lokiURL, pushBody(env, "alloy-curated", reports))
		count("alloy-curated", reports)
	}
	t.Logf("history: %d events of %d services over %s, pushed in %.1f s", total, len(services),
		live.Sub(start).Round(time.Minute), time.Since(live).Seconds())
	return len(before)
}

// waitHistoryQueryable waits until queries see every entry of the history
// stamped before live. Loki answers for entries older than
// query_ingesters_within (3 h) from its store only, and the pushed day
// reaches the store at the ingester's next flush: a replay before that
// reads most of the day as empty.
func waitHistoryQueryable(t *testing.T, lokiURL, env string, live time.Time, want int, timeout time.Duration) {
	t.Helper()
	q := url.Values{"query": {fmt.Sprintf(`sum(count_over_time({env=%q}[25h]))`, env)},
		"time": {live.Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano)}}
	deadline := time.Now().Add(timeout)
	for {
		got := int(metricValue(t, lokiURL, "/loki/api/v1/query", q))
		if got == want {
			t.Logf("history queryable %.0f s after the live traffic began", time.Since(live).Seconds())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("history: queries see %d of the %d entries stamped before live after %s", got, want, timeout)
		}
		time.Sleep(2 * time.Second)
	}
}

// firingAt lists the label sets for which a rule's expression returns a
// sample at one time (an instant query, as the ruler evaluates it).
func firingAt(t *testing.T, lokiURL, expr string, at time.Time) []string {
	t.Helper()
	_, result := lokiAPI(t, lokiURL, "/loki/api/v1/query", url.Values{"query": {expr}, "time": {strconv.FormatInt(at.Unix(), 10)}})
	var series []struct {
		Metric map[string]string `json:"metric"`
	}
	if err := json.Unmarshal(result, &series); err != nil {
		t.Fatalf("instant query %s: %v: %s", expr, err, result)
	}
	var out []string
	for _, s := range series {
		out = append(out, fmt.Sprint(s.Metric))
	}
	return out
}

func lokiPush(t *testing.T, lokiURL string, body []byte) {
	t.Helper()
	resp, err := http.Post(lokiURL+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("pushing history: %d %s", resp.StatusCode, b)
	}
}

// awaitClasses waits until each class's alert was notified firing, or
// deadline.
func awaitClasses(t *testing.T, in *inbox, classes []*scenarioClass, deadline time.Time) {
	t.Helper()
	for time.Now().Before(deadline) {
		pending := 0
		for _, c := range classes {
			if c.caught.IsZero() {
				for _, n := range in.notifications(t) {
					if n.Status != "firing" || n.arrived.Before(c.injected) {
						continue
					}
					for _, a := range n.Alerts {
						if a.Labels["service"] == c.service && c.match(alertOf{a.Labels, a.Annotations}) {
							c.caught, c.rule, c.summary = n.arrived, a.Labels["alertname"], a.Annotations["summary"]
							c.named = strings.Contains(c.summary, c.where)
							t.Logf("%s: %s notified %.1f s after the incident began", c.name, c.rule, c.caught.Sub(c.injected).Seconds())
							break
						}
					}
					if !c.caught.IsZero() {
						break
					}
				}
			}
			if c.caught.IsZero() {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(time.Second)
	}
}

// falsePage is a notification, or a replayed rule firing, that no incident
// explains.
type falsePage struct {
	at     time.Time
	alert  string
	labels string
	expr   string // the rule's, for a replayed page
}

func (p falsePage) String() string {
	return fmt.Sprintf("%s %s %s", p.at.UTC().Format(time.TimeOnly), p.alert, p.labels)
}

// livePages lists the firing alerts notified that no injected incident
// explains: another service, or an alert the incident does not raise.
func livePages(t *testing.T, in *inbox, classes []*scenarioClass) []falsePage {
	var out []falsePage
	for _, n := range in.notifications(t) {
		if n.Status != "firing" {
			continue
		}
		for _, a := range n.Alerts {
			explained := false
			for _, c := range classes {
				if a.Labels["service"] == c.service && !n.arrived.Before(c.injected) &&
					(c.match(alertOf{a.Labels, a.Annotations}) || slices.Contains(c.also, a.Labels["alertname"])) {
					explained = true
				}
			}
			if !explained {
				out = append(out, falsePage{at: n.arrived, alert: a.Labels["alertname"], labels: fmt.Sprint(a.Labels)})
			}
		}
	}
	return out
}

// replayDay evaluates every rule over [from, to] at a 30 s step, as the
// ruler would have, and returns each time a rule would have fired (every
// rule has `for: 0s`): one page per run of consecutive steps.
func replayDay(t *testing.T, lokiURL string, files []ruleFile, from, to time.Time) []falsePage {
	var out []falsePage
	began := time.Now()
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert == "Watchdog" {
					continue // fires by design: the dead man's switch
				}
				// query_range returns at most 11,000 points per series: a
				// day at 30 s is 2,760.
				q := url.Values{"query": {r.Expr}, "start": {strconv.FormatInt(from.Unix(), 10)},
					"end": {strconv.FormatInt(to.Unix(), 10)}, "step": {"30"}}
				resp, err := http.Get(lokiURL + "/loki/api/v1/query_range?" + q.Encode())
				if err != nil {
					t.Errorf("replaying %s: %v", r.Alert, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("replaying %s: %d %s", r.Alert, resp.StatusCode, body)
					continue
				}
				var res struct {
					Data struct {
						Result []struct {
							Metric map[string]string `json:"metric"`
							Values [][2]any          `json:"values"`
						} `json:"result"`
					} `json:"data"`
				}
				if err := json.Unmarshal(body, &res); err != nil {
					t.Errorf("replaying %s: %v", r.Alert, err)
					continue
				}
				for _, series := range res.Data.Result {
					last := 0.0
					for _, v := range series.Values {
						ts, _ := v[0].(float64)
						if ts-last > 30 { // a new run of firing steps
							out = append(out, falsePage{time.Unix(int64(ts), 0), r.Alert, fmt.Sprint(series.Metric), r.Expr})
						}
						last = ts
					}
				}
			}
		}
	}
	t.Logf("replayed the day through every rule in %.0f s", time.Since(began).Seconds())
	// A rule's answer over stored data is the same at every asking; one
	// that does not come again was a read that missed entries (seen while
	// Loki hands chunks from its ingester to its store), not a page.
	confirmed := out[:0]
	for _, p := range out {
		if slices.Contains(firingAt(t, lokiURL, p.expr, p.at), p.labels) {
			confirmed = append(confirmed, p)
		} else {
			t.Logf("replay: %s did not fire when asked again: not counted", p)
		}
	}
	return confirmed
}

func writeScenarioReport(t *testing.T, classes []*scenarioClass, live, replay []falsePage) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Alert scenarios (%s)\n\n", time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "| incident class | caught by | seconds to notification | goal | names where |\n|---|---|---|---|---|\n")
	for _, c := range classes {
		secs := "not caught"
		if !c.caught.IsZero() {
			secs = fmt.Sprintf("%.1f", c.caught.Sub(c.injected).Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | ≤ %.0f s | %v |\n", c.name, c.rule, secs, c.target.Seconds(), c.named)
	}
	fmt.Fprintf(&b, "\nFalse pages: %d live, %d over the replayed day.\n", len(live), len(replay))
	for _, p := range append(live, replay...) {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	t.Log("\n" + b.String())
	dir := filepath.Join(repoRoot, ".cache", "bench")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "scenario.md"), []byte(b.String()), 0o644)
	}
}
