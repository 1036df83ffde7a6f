package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browserPage serves a page that sends one event with navigator.sendBeacon
// (key in the URL, text/plain: no preflight) and one with fetch (key in a
// header, application/json: preflighted), then reports to its own origin
// what the browser saw.
const browserPage = `<!doctype html>
<html><body><script>
const api = %q, key = %q, tag = %q;
const report = (what) => fetch("/report?" + new URLSearchParams(what));
const queued = navigator.sendBeacon(api + "?api_key=" + key,
  JSON.stringify({event: "browser.beacon", attributes: {page: tag}}));
fetch(api, {method: "POST", headers: {"Content-Type": "application/json", "X-API-Key": key},
            body: JSON.stringify({event: "browser.fetch", attributes: {page: tag}})})
  .then(async (r) => report({beacon: queued, fetch: r.status, body: await r.text()}))
  .catch((e) => report({beacon: queued, fetch: "blocked", body: String(e)}));
</script></body></html>`

type pageReport struct {
	beacon, fetch, body string
}

// servePage starts a page server (its own origin) and returns its URL and
// the channel its report arrives on. apiURL is read when the page is served.
func servePage(t *testing.T, apiURL *string, key, tag string) (string, <-chan pageReport) {
	t.Helper()
	reports := make(chan pageReport, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, browserPage, *apiURL+"/v1/events", key, tag)
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		select {
		case reports <- pageReport{beacon: q.Get("beacon"), fetch: q.Get("fetch"), body: q.Get("body")}:
		default:
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, reports
}

// openInChromium loads url in headless Chromium and waits for the page's
// report; then, with delivered set, keeps the browser open until it
// reports true (a beacon may still be in flight when fetch answers).
func openInChromium(t *testing.T, url string, reports <-chan pageReport, delivered func() bool) pageReport {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed; `make test` installs Debian's chromium package (scripts/ensure-package.sh)")
	}
	p := start(t, "chromium", nil, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), url)
	defer p.stop()
	select {
	case r := <-reports:
		for deadline := time.Now().Add(30 * time.Second); delivered != nil && !delivered(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("what the page sent never arrived")
			}
		}
		return r
	case <-p.done:
		t.Fatal("chromium exited before the page reported")
	case <-time.After(60 * time.Second):
		t.Fatal("no report from the page after 60s")
	}
	return pageReport{}
}

// TestBrowserOrigins checks CORS and origin enforcement with a real browser.
func TestBrowserOrigins(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	const key = "browser-key-0123456789"

	// Page servers first: the allowed origin goes into the config, and the
	// pages learn the API's URL once Alloy runs.
	var apiURL string
	allowedURL, allowedReports := servePage(t, &apiURL, key, "allowed")
	deniedURL, deniedReports := servePage(t, &apiURL, key, "denied")
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("browser", apiPort, lokiURL, fmt.Sprintf(`
	labels = {run = %q}

	client "web" {
		api_key         = %q
		service         = "collabmaker-web"
		browser         = true
		allowed_origins = [%q]
	}`, run, key, allowedURL))
	})
	apiURL = a.apiURL

	query := fmt.Sprintf(`{run=%q}`, run)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	// The beacon and the fetch both reached Loki.
	bothArrived := func() bool { return len(queryRange(t, lokiURL, "", query, from, to)) >= 2 }
	got := openInChromium(t, allowedURL, allowedReports, bothArrived)
	t.Logf("allowed origin %s reported %+v", allowedURL, got)
	if got.beacon != "true" || got.fetch != "202" || !strings.Contains(got.body, `"accepted":1`) {
		t.Errorf("allowed origin: %+v", got)
	}
	// The denied page's beacon needs no preflight: it reaches the API, which
	// must refuse it (403). The browser stays open until it has.
	refusedBeacon := func() bool {
		v, _ := strconv.Atoi(a.metric(t, `loki_source_curated_api_requests_total{component_id="loki.source.curated_api.browser",component_path="/",endpoint="events",status_code="403"}`))
		return v >= 1
	}
	got = openInChromium(t, deniedURL, deniedReports, refusedBeacon)
	t.Logf("denied origin %s reported %+v", deniedURL, got)
	if got.fetch != "blocked" {
		t.Errorf("denied origin: fetch should be blocked by the failed preflight, got %+v", got)
	}

	entries := settledEntries(t, lokiURL, "", query, from, to, 2)
	var seen []string
	for _, e := range entries {
		var line struct {
			Event      string
			Attributes struct{ Page string }
		}
		if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, line.Event+"/"+line.Attributes.Page)
	}
	sort.Strings(seen)
	if want := "browser.beacon/allowed,browser.fetch/allowed"; strings.Join(seen, ",") != want {
		t.Errorf("Loki has %v, want %s", seen, want)
	}
}
