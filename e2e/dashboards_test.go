package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

// scenario is testdata/scenarios/collabmaker.json: event groups with known
// counts, and what each dashboard panel must show for them.
type scenario struct {
	Service string `json:"service"`
	Groups  []struct {
		Event       string         `json:"event"`
		Count       int            `json:"count"`
		Level       string         `json:"level"`
		Message     string         `json:"message"`
		DurationsMS []float64      `json:"durations_ms"`
		Attributes  map[string]any `json:"attributes"`
	} `json:"groups"`
	// dashboard file -> panel title -> a number, ">=N", or legend -> number
	Expect map[string]map[string]any `json:"expect"`
}

func loadScenario(t *testing.T) scenario {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "scenarios", "collabmaker.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s scenario
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("testdata/scenarios/collabmaker.json: %v", err)
	}
	return s
}

// events expands the groups into events with distinct timestamps (Loki
// keeps one of identical lines with one timestamp) and sessions, spread
// over the minutes before now.
func (s scenario) events(t *testing.T, now time.Time) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, g := range s.Groups {
		if g.DurationsMS != nil && len(g.DurationsMS) != g.Count {
			t.Fatalf("group %s: %d durations for %d events", g.Event, len(g.DurationsMS), g.Count)
		}
		for i := range g.Count {
			attrs := map[string]any{}
			for k, v := range g.Attributes {
				attrs[k] = v
			}
			if g.DurationsMS != nil {
				attrs["duration_ms"] = g.DurationsMS[i]
			}
			e := map[string]any{"event": g.Event, "service": s.Service, "attributes": attrs,
				"session_id": fmt.Sprintf("s-%d", len(out))}
			if g.Level != "" {
				e["level"] = g.Level
			}
			if g.Message != "" {
				e["message"] = g.Message
			}
			out = append(out, e)
		}
	}
	for i, e := range out {
		e["timestamp"] = now.Add(-5*time.Minute + time.Duration(i)*time.Second).UnixMilli()
	}
	return out
}

// panelTarget is one query of one panel of a generated dashboard.
type panelTarget struct {
	dashboard, panel, panelType string
	expr, legend                string
	instant                     bool
}

func dashboardTargets(t *testing.T) (map[string][]panelTarget, map[string][]string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "configs", "grafana", "dashboards", "*.json"))
	if len(files) < 3 {
		t.Fatalf("%d dashboards in configs/grafana/dashboards", len(files))
	}
	targets := map[string][]panelTarget{}
	varQueries := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Templating struct {
				List []struct {
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
			Panels []struct {
				Type, Title string
				Targets     []struct {
					Expr         string `json:"expr"`
					LegendFormat string `json:"legendFormat"`
					QueryType    string `json:"queryType"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		for _, v := range d.Templating.List {
			if q, ok := v.Query.(string); ok && v.Type == "query" {
				varQueries[name] = append(varQueries[name], q)
			}
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				targets[name] = append(targets[name], panelTarget{dashboard: name, panel: p.Title, panelType: p.Type,
					expr: tg.Expr, legend: tg.LegendFormat, instant: tg.QueryType == "instant"})
			}
		}
	}
	return targets, varQueries
}

// substitute replaces the dashboard's variables the way Grafana does for
// the values picked: template variables (All is the variable's allValue
// regex), $__range as the range in seconds, $__auto, $__interval and
// $__rate_interval as the step.
func substitute(t *testing.T, expr string, vars map[string]string, rng, step time.Duration) string {
	t.Helper()
	builtins := map[string]string{
		"__range":         fmt.Sprintf("%ds", int(rng.Seconds())),
		"__auto":          fmt.Sprintf("%ds", int(step.Seconds())),
		"__interval":      fmt.Sprintf("%ds", int(step.Seconds())),
		"__rate_interval": fmt.Sprintf("%ds", int(step.Seconds())),
	}
	out := regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`).ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		if v, ok := builtins[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		t.Errorf("query %q uses $%s, which no dashboard variable of the test sets", expr, name)
		return m
	})
	return out
}

// lokiAPI calls one of Loki's query endpoints and returns data.result.
func lokiAPI(t *testing.T, lokiURL, path string, params url.Values) (string, json.RawMessage) {
	t.Helper()
	resp, err := http.Get(lokiURL + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s %s: %d %s", path, params.Get("query"), resp.StatusCode, body)
		return "", nil
	}
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
	if strings.Contains(path, "/label/") {
		return "labels", r.Data // a list of values
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
	return data.ResultType, data.Result
}

// legendOf renders a legend format ({{label}}) for a series' labels.
func legendOf(format string, labels map[string]string) string {
	return strings.TrimSpace(regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`).ReplaceAllStringFunc(format, func(m string) string {
		return labels[strings.Trim(m, "{} ")]
	}))
}

// TestDashboardQueriesOnLoki sends the Collabmaker scenario through the real
// alloy-custom into the real Loki, then runs every query of every panel of
// every generated dashboard (and every variable's query) as Grafana would,
// and checks the numbers the scenario fixes.
func TestDashboardQueriesOnLoki(t *testing.T) {
	sc := loadScenario(t)
	lokiURL := startLoki(t, false)
	env := "dash-" + randomID(t)
	// A "Loki" that refuses everything, so that loki.write drops batches and
	// the pipeline dashboard has something to show.
	containerPort := testutil.FreePort(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused by the test", http.StatusBadRequest)
	}))
	t.Cleanup(refusing.Close)
	a := startAlloy(t, func(apiPort int) string {
		return fmt.Sprintf(`
logging {
	level    = "info"
	format   = "json"
	write_to = [loki.process.own_logs.receiver]
}

loki.process "own_logs" {
	stage.static_labels {
		values = {env = %[1]q}
	}
	forward_to = [loki.write.loki.receiver]
}

loki.source.curated_api "events" {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %[3]d
	}
	labels     = {env = %[1]q}
	forward_to = [loki.write.loki.receiver, loki.write.refused.receiver]
	// The pipeline dashboard's self-report panels, without waiting a minute.
	self_report_interval = "1s"
}

loki.write "loki" {
	endpoint {
		url        = "%[4]s/loki/api/v1/push"
		batch_wait = "100ms"
	}
}

loki.write "refused" {
	endpoint {
		url        = "%[2]s/loki/api/v1/push"
		batch_wait = "100ms"
	}
}
`, env, refusing.URL, apiPort, lokiURL) + fmt.Sprintf(`
import.file "container_logs" {
	filename = %q
}

container_logs.pipeline "default" {
	env            = %q
	listen_address = "127.0.0.1"
	listen_port    = %d
	join_wait      = "500ms"
	forward_to     = [loki.write.loki.receiver]
}
`, filepath.Join(repoRoot, "configs", "container_logs.alloy"), env, containerPort)
	})

	now := time.Now()
	events := sc.events(t, now)
	for i := 0; i < len(events); i += 100 {
		batch, _ := json.Marshal(events[i:min(i+100, len(events))])
		if status, body := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, batch); status != http.StatusAccepted {
			t.Fatalf("post: %d %s", status, body)
		}
	}
	// The service's container output (configs/container_logs.alloy), for
	// the Container errors panel. It carries the service label too: the
	// curated panels' numbers hold only if they leave it out, the line
	// that looks like a curated event included.
	containerLines := []string{
		"2026-12-04T10:00:00Z ERROR shopify sync failed: 502 Bad Gateway",
		"java.lang.IllegalStateException: boom",
		"\tat com.example.Sync.run(Sync.java:42)",
		`{"event":"form.open","level":"error","session_id":"s-container","attributes":{"country":"KR","browser":"Chrome"}}`,
		`level=info msg="server listening" port=8080`,
	}
	pushContainerLines(t, fmt.Sprintf("http://127.0.0.1:%d/loki/api/v1/push", containerPort),
		map[string]string{"service": sc.Service, "source": "stderr", "container_id": "c1"}, now.Add(-time.Minute), containerLines...)
	// A refused request, for the pipeline dashboard's refusals.
	if status, body := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, []byte(`{"event":"bad name!"}`)); status != http.StatusBadRequest {
		t.Fatalf("bad event: %d %s", status, body)
	}
	// A reload, for the pipeline dashboard's config reloads.
	resp, err := http.Post(strings.TrimSuffix(a.metricsURL, "/metrics")+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	start, end := now.Add(-25*time.Minute), now.Add(5*time.Minute)
	if got := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{env=%q, service=%q, source!="container"}`, env, sc.Service), start, end, len(events)); len(got) != len(events) {
		t.Fatalf("%d of the scenario's %d events in Loki", len(got), len(events))
	}
	// The refusal reported (the component reports every second here).
	if got := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{service="alloy-curated", env=%q} |= "curated.refused"`, env), start, end, 1); len(got) == 0 {
		t.Fatal("the component's self-report of the refused request never reached Loki")
	}
	if got := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{env=%q, source="container"}`, env), start, end, 4); len(got) != 4 {
		t.Fatalf("%d container entries in Loki; want 4 (the stack trace joined): %v", len(got), got)
	}
	for _, line := range []string{"final error sending batch", "reload requested"} {
		if got := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{component="alloy", env=%q} |= %q`, env, line), start, end, 1); len(got) == 0 {
			t.Fatalf("alloy-custom's line %q never reached Loki", line)
		}
	}

	targets, varQueries := dashboardTargets(t)
	rng, step := end.Sub(start), time.Minute
	vars := map[string]map[string]string{ // the values a viewer picks
		// One service: the component's own reports are a service too.
		"events-overview.json": {"env": env, "service": sc.Service, "level": ".+", "event": ".+"},
		"collabmaker.json":     {"env": env, "service": sc.Service},
		"pipeline.json":        {"env": env},
	}
	for dash, list := range targets {
		dv, ok := vars[dash]
		if !ok {
			t.Errorf("%s: a dashboard this test does not know; add the values a viewer picks", dash)
			continue
		}
		// Each variable's own query lists the scenario's values.
		for _, q := range varQueries[dash] {
			m := regexp.MustCompile(`^label_values\((?:(\{.*\}),\s*)?(\w+)\)$`).FindStringSubmatch(substitute(t, q, dv, rng, step))
			if m == nil {
				t.Errorf("%s: variable query %q is not label_values(...)", dash, q)
				continue
			}
			params := url.Values{"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)}}
			if m[1] != "" {
				params.Set("query", m[1])
			}
			_, res := lokiAPI(t, lokiURL, "/loki/api/v1/label/"+m[2]+"/values", params)
			want := dv[m[2]]
			if m[2] == "service" {
				want = sc.Service
			}
			if !strings.Contains(string(res), strconv.Quote(want)) {
				t.Errorf("%s: variable query %q lists %s; want %q among them", dash, q, res, want)
			}
		}

		results := map[string]map[string]float64{} // panel -> legend -> value
		for _, tg := range list {
			expr := substitute(t, tg.expr, dv, rng, step)
			where := fmt.Sprintf("%s / %q", dash, tg.panel)
			got := results[tg.panel]
			if got == nil {
				got = map[string]float64{}
				results[tg.panel] = got
			}
			if tg.instant {
				_, res := lokiAPI(t, lokiURL, "/loki/api/v1/query", url.Values{"query": {expr}, "time": {strconv.FormatInt(end.UnixNano(), 10)}})
				var vec []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				}
				if err := json.Unmarshal(res, &vec); err != nil {
					t.Errorf("%s: %s: %v: %s", where, expr, err, res)
					continue
				}
				for _, s := range vec {
					v, _ := strconv.ParseFloat(s.Value[1].(string), 64)
					got[legendOf(tg.legend, s.Metric)] = v
				}
				continue
			}
			params := url.Values{"query": {expr}, "start": {strconv.FormatInt(start.UnixNano(), 10)},
				"end": {strconv.FormatInt(end.UnixNano(), 10)}, "step": {fmt.Sprintf("%ds", int(step.Seconds()))}, "limit": {"1000"}}
			typ, res := lokiAPI(t, lokiURL, "/loki/api/v1/query_range", params)
			switch typ {
			case "matrix":
				var mat []struct {
					Metric map[string]string `json:"metric"`
					Values [][2]any          `json:"values"`
				}
				_ = json.Unmarshal(res, &mat)
				for _, s := range mat {
					got[legendOf(tg.legend, s.Metric)] += float64(len(s.Values))
				}
			case "streams":
				var streams []struct {
					Stream map[string]string `json:"stream"`
					Values [][]any           `json:"values"`
				}
				_ = json.Unmarshal(res, &streams)
				for _, s := range streams {
					got[""] += float64(len(s.Values))
					if tg.panel == "Recent failed submissions" && s.Stream["session_id"] == "" {
						t.Errorf("%s: a failed submission without its session_id: %v", where, s.Stream)
					}
				}
			default:
				t.Errorf("%s: %s answered %q", where, expr, typ)
			}
		}
		for panel, got := range results {
			want, fixed := sc.Expect[dash][panel]
			switch {
			case want == "empty":
			case !fixed && len(got) == 0:
				t.Errorf("%s / %q: no data for the scenario", dash, panel)
			case fixed: // log panels count lines
				checkExpectation(t, fmt.Sprintf("%s / %q", dash, panel), want, got)
			}
		}
		for panel := range sc.Expect[dash] {
			if _, ok := results[panel]; !ok {
				t.Errorf("%s: the scenario expects panel %q, which the dashboard lacks", dash, panel)
			}
		}
	}
}

// checkExpectation compares a panel's results with the scenario's number
// ("": the panel's only series), ">=N", or a map of legend -> number.
func checkExpectation(t *testing.T, where string, want any, got map[string]float64) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
	switch w := want.(type) {
	case float64:
		if len(got) != 1 {
			t.Errorf("%s: %d series %v; want one with %v", where, len(got), got, w)
			return
		}
		for _, v := range got {
			if !near(v, w) {
				t.Errorf("%s = %v; want %v", where, v, w)
			}
		}
	case string:
		min, err := strconv.ParseFloat(strings.TrimPrefix(w, ">="), 64)
		if err != nil || !strings.HasPrefix(w, ">=") {
			t.Fatalf("%s: expectation %q", where, w)
		}
		total := 0.0
		for _, v := range got {
			total += v
		}
		if total < min {
			t.Errorf("%s = %v; want at least %v", where, got, min)
		}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(got))
		if len(got) != len(w) {
			t.Errorf("%s: series %v; want %v", where, got, w)
		}
		for legend, v := range w {
			if g, ok := got[legend]; !ok || !near(g, v.(float64)) {
				t.Errorf("%s[%s] = %v (have %v); want %v", where, legend, g, keys, v)
			}
		}
	default:
		t.Fatalf("%s: expectation %v of type %T", where, want, want)
	}
}
