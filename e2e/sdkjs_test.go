package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

// The JavaScript SDK (sdk/js) in headless Chromium and in Node.js, against
// the real alloy-custom and Loki. Pages load the built bundle
// (sdk/js/dist/curated.min.js) under a strict CSP and talk to the API
// through a recording proxy that can be stopped (connections refused) and
// that counts every event each request carried: Loki stores a resent event
// once, so duplicates sent by the SDK show only there.

const (
	jsWebKey     = "sdk-js-browser-key-0001"
	jsLimitedKey = "sdk-js-limited-key-0001"
	jsNodeKey    = "sdk-js-node-key-0001"
)

// jsProxy sits in front of alloy-custom's event API on a fixed port.
type jsProxy struct {
	addr  string
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	srv   *http.Server // nil while stopped
	posts []jsPost
}

// jsPost is one POST that reached the proxy and what the API answered.
type jsPost struct {
	at         time.Time
	status     int
	retryAfter string
	events     []string // event/tab/n of each event carried
}

func (p *jsProxy) url() string { return "http://" + p.addr }

// start serves on the proxy's port, unless it serves already.
func (p *jsProxy) start(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	srv := &http.Server{Handler: p}
	p.srv = srv
	go func() { _ = srv.Serve(l) }()
}

// stop closes the listener and every connection: the API is unreachable.
func (p *jsProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (p *jsProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.proxy.ServeHTTP(w, r)
		return
	}
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	p.proxy.ServeHTTP(rec, r)
	var env struct {
		Events []struct {
			Event      string
			Attributes struct {
				Tab string
				N   json.Number
			}
		}
	}
	_ = json.Unmarshal(body, &env)
	post := jsPost{at: at, status: rec.status, retryAfter: rec.Header().Get("Retry-After")}
	for _, e := range env.Events {
		post.events = append(post.events, e.Event+"/"+e.Attributes.Tab+"/"+e.Attributes.N.String())
	}
	p.mu.Lock()
	p.posts = append(p.posts, post)
	p.mu.Unlock()
}

// received counts how often each event reached the API, and returns the
// posts seen so far.
func (p *jsProxy) received(prefix string) (map[string]int, []jsPost) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]int{}
	var posts []jsPost
	for _, post := range p.posts {
		hit := false
		for _, e := range post.events {
			if strings.HasPrefix(e, prefix) {
				seen[e]++
				hit = true
			}
		}
		if hit {
			posts = append(posts, post)
		}
	}
	return seen, posts
}

// jsPages serves the scenario pages, the SDK bundle and the report endpoint
// from one origin, with a CSP that allows scripts from 'self' only.
type jsPages struct {
	url     string
	reports chan url.Values
}

func newJSPages(t *testing.T, apiOrigin string) *jsPages {
	bundle := filepath.Join(repoRoot, "sdk", "js", "dist", "curated.min.js")
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("the SDK bundle is not built (make test-e2e builds it): %v", err)
	}
	dir := filepath.Join(repoRoot, "e2e", "testdata", "sdkjs")
	p := &jsPages{reports: make(chan url.Values, 4096)}
	mux := http.NewServeMux()
	csp := "default-src 'self'; script-src 'self'; connect-src 'self' " + apiOrigin
	serve := func(path, file, typ string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", typ)
			w.Header().Set("Content-Security-Policy", csp)
			w.Header().Set("Cache-Control", "no-store")
			http.ServeFile(w, r, file)
		})
	}
	serve("/page.html", filepath.Join(dir, "page.html"), "text/html")
	serve("/scenario.js", filepath.Join(dir, "scenario.js"), "text/javascript")
	serve("/curated.min.js", bundle, "text/javascript")
	// An application's own endpoints that fail: /status/503 answers 503.
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		p.reports <- r.URL.Query()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// open starts headless Chromium (fresh profile: empty storage) on a page.
func (p *jsPages) open(t *testing.T, query url.Values) *process {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed; `make test` installs Debian's chromium package (scripts/ensure-package.sh)")
	}
	return start(t, "chromium", nil, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--disable-popup-blocking", "--enable-logging=stderr", "--v=0",
		"--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), p.url+"/page.html?"+query.Encode())
}

// await returns the first report that ok accepts, failing after timeout or
// when the browser exits.
func (p *jsPages) await(t *testing.T, browser *process, timeout time.Duration, what string, ok func(url.Values) bool) url.Values {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case r := <-p.reports:
			if ok(r) {
				return r
			}
		case <-browser.done:
			t.Fatalf("chromium exited before %s", what)
		case <-deadline:
			t.Fatalf("no %s after %s", what, timeout)
		}
	}
}

// inLoki counts the entries of run's event name per event/tab/n key.
func inLoki(t *testing.T, lokiURL, run, event string, want int) map[string]int {
	t.Helper()
	query := fmt.Sprintf(`{run=%q} | json | event=%q`, run, event)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	entries := waitForEntries(t, lokiURL, "", query, from, to, want)
	counts := map[string]int{}
	for _, e := range entries {
		var line struct {
			Event      string
			Attributes struct {
				Tab string
				N   json.Number
			}
		}
		if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
			t.Fatal(err)
		}
		counts[line.Event+"/"+line.Attributes.Tab+"/"+line.Attributes.N.String()]++
	}
	return counts
}

// exactlyOnce fails unless counts holds each of the want keys exactly once
// and nothing else; it returns how many are missing.
func exactlyOnce(t *testing.T, where string, counts map[string]int, want []string) int {
	t.Helper()
	missing := 0
	for _, k := range want {
		switch n := counts[k]; {
		case n == 0:
			missing++
		case n > 1:
			t.Errorf("%s: %s %d times", where, k, n)
		}
	}
	wanted := map[string]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	var extra []string
	for k := range counts {
		if !wanted[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		t.Errorf("%s: %d unexpected events: %.10v", where, len(extra), extra)
	}
	return missing
}

// deliveredOnce checks that each of want reached the API exactly once and
// is in Loki exactly once.
func deliveredOnce(t *testing.T, proxy *jsProxy, lokiURL, run, event string, want []string) {
	t.Helper()
	sent, _ := proxy.received(event + "/")
	if lost := exactlyOnce(t, "sent", sent, want); lost != 0 {
		t.Errorf("%d events never sent", lost)
	}
	inLokiOnce(t, lokiURL, run, event, want)
}

// inLokiOnce checks that each of want is in Loki exactly once.
func inLokiOnce(t *testing.T, lokiURL, run, event string, want []string) {
	t.Helper()
	if lost := exactlyOnce(t, "Loki", inLoki(t, lokiURL, run, event, len(want)), want); lost != 0 {
		t.Errorf("%d events not in Loki", lost)
	}
}

func eventKeys(event, tab string, from, to int) []string {
	var out []string
	for n := from; n < to; n++ {
		out = append(out, fmt.Sprintf("%s/%s/%d", event, tab, n))
	}
	return out
}

func TestJSSDK(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	// The pages' origins must be in the config, and the pages learn the
	// proxy's address from their URL: pages first, with the proxy's port
	// chosen before alloy-custom starts.
	proxyPort := testutil.FreePort(t)
	proxyOrigin := fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	pages := newJSPages(t, proxyOrigin)
	denied := newJSPages(t, proxyOrigin)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("sdkjs", apiPort, lokiURL, fmt.Sprintf(`
	labels = {run = %q}

	client "web" {
		api_key         = %q
		service         = "sdk-js"
		browser         = true
		allowed_origins = [%q]
	}

	client "limited" {
		api_key         = %q
		service         = "sdk-js"
		browser         = true
		allowed_origins = [%q]

		rate_limit {
			rate  = 0.5
			burst = 1
		}
	}

	client "node" {
		api_key = %q
		service = "sdk-js-node"
	}`, run, jsWebKey, pages.url, jsLimitedKey, pages.url, jsNodeKey))
	})
	target, _ := url.Parse(a.apiURL)
	proxy := &jsProxy{addr: fmt.Sprintf("127.0.0.1:%d", proxyPort), proxy: httputil.NewSingleHostReverseProxy(target)}
	proxy.start(t)
	t.Cleanup(proxy.stop)
	scenario := func(s, key string, extra ...string) url.Values {
		q := url.Values{"s": {s}, "run": {run}, "api": {proxy.url()}, "key": {key}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q
	}

	// (a) Page after page tracks five events in 200 ms and navigates away:
	// the events of each page leave as a beacon on pagehide.
	t.Run("navigate", func(t *testing.T) {
		const pagesN, perPage = 200, 5
		b := pages.open(t, scenario("nav", jsWebKey, "i", "0", "pages", strconv.Itoa(pagesN)))
		pages.await(t, b, 4*time.Minute, "report from the last page", func(r url.Values) bool { return r.Get("s") == "nav" })
		want := eventKeys("nav.step", "", 0, pagesN*perPage)
		stored := inLoki(t, lokiURL, run, "nav.step", len(want))
		lost := exactlyOnce(t, "Loki", stored, want)
		sent, posts := proxy.received("nav.step/")
		dup := 0
		for _, n := range sent {
			dup += n - 1
		}
		t.Logf("navigate: %d events on %d pages, %d in Loki, %d lost (%.2f %%), %d requests, %d events sent twice (Loki keeps one)",
			len(want), pagesN, len(stored), lost, 100*float64(lost)/float64(len(want)), len(posts), dup)
		// Goal 0; the worst case is 0.5 %.
		if lost*200 > len(want) {
			t.Errorf("lost %d of %d events on navigation", lost, len(want))
		}
	})

	// (b) The API is down: events tracked, the page reloads, finds them
	// stored, and delivers them once when the API is back.
	t.Run("offline reload", func(t *testing.T) {
		proxy.stop()
		t.Cleanup(func() { proxy.start(t) })
		b := pages.open(t, scenario("reload", jsWebKey))
		r := pages.await(t, b, time.Minute, "report after the reload", func(r url.Values) bool { return r.Get("phase") == "reloaded" })
		if r.Get("queued") != "20" {
			t.Fatalf("after the reload %s events were queued, want the 20 tracked before it", r.Get("queued"))
		}
		if sent, _ := proxy.received("reload.event/"); len(sent) != 0 {
			t.Fatalf("events reached a stopped API: %v", sent)
		}
		proxy.start(t)
		r = pages.await(t, b, time.Minute, "delivery", func(r url.Values) bool { return r.Get("phase") == "delivered" })
		if r.Get("done") != "true" || r.Get("queued") != "0" {
			t.Errorf("after the API came back: %v", r)
		}
		deliveredOnce(t, proxy, lokiURL, run, "reload.event", eventKeys("reload.event", "", 0, 20))
	})

	// The API is down before any page got an answer: each page is left
	// 150 ms after tracking, before its own first request has failed. A
	// beacon to the dead API proves nothing, so each page's event stays
	// stored too; all 20 are delivered once when the API is back.
	t.Run("outage before the first request", func(t *testing.T) {
		const pagesN = 20
		proxy.stop()
		t.Cleanup(func() { proxy.start(t) })
		b := pages.open(t, scenario("outage", jsWebKey, "i", "0", "pages", strconv.Itoa(pagesN)))
		r := pages.await(t, b, 2*time.Minute, "the last page waiting", func(r url.Values) bool { return r.Get("phase") == "waiting" })
		if r.Get("queued") != strconv.Itoa(pagesN) {
			t.Errorf("the last page holds %s events, want all %d tracked during the outage", r.Get("queued"), pagesN)
		}
		proxy.start(t)
		r = pages.await(t, b, time.Minute, "delivery", func(r url.Values) bool { return r.Get("phase") == "delivered" })
		if r.Get("done") != "true" || r.Get("queued") != "0" {
			t.Errorf("after the API came back: %v", r)
		}
		deliveredOnce(t, proxy, lokiURL, run, "outage.event", eventKeys("outage.event", "", 0, pagesN))
	})

	// A page whose stored events another page adopted comes back from the
	// back/forward cache, or a tab whose slot went stale (frozen) and was
	// adopted by another tab resumes: each sends only what it tracks
	// afterwards.
	adoptedThenBack := func(t *testing.T, s, event, back string, extra ...string) url.Values {
		proxy.stop()
		t.Cleanup(func() { proxy.start(t) })
		b := pages.open(t, scenario(s, jsWebKey, extra...))
		r := pages.await(t, b, time.Minute, "the other page holding the first page's events", func(r url.Values) bool { return r.Get("phase") == "adopted" })
		if r.Get("queued") != "5" {
			t.Errorf("the other page holds %s events, want the first page's 5", r.Get("queued"))
		}
		proxy.start(t)
		r = pages.await(t, b, time.Minute, "the first page "+back, func(r url.Values) bool { return r.Get("phase") == back })
		if r.Get("done") != "true" || r.Get("queued") != "0" {
			t.Errorf("the first page %s: %v", back, r)
		}
		deliveredOnce(t, proxy, lokiURL, run, event, eventKeys(event, "", 0, 6))
		return r
	}
	t.Run("bfcache restore after adoption", func(t *testing.T) {
		if r := adoptedThenBack(t, "bfcache", "bfcache.event", "restored"); r.Get("persisted") != "true" {
			t.Errorf("page a was loaded again, not restored from the back/forward cache: %v", r)
		}
	})
	t.Run("frozen tab resumes after adoption", func(t *testing.T) {
		adoptedThenBack(t, "frozen", "frozen.event", "resumed", "tab", "1")
	})

	// (c) Three tabs share the origin's storage while the API is down; the
	// third closes with its events stored, the others adopt them: every
	// event is sent exactly once, by one tab.
	t.Run("tabs", func(t *testing.T) {
		proxy.stop()
		t.Cleanup(func() { proxy.start(t) })
		b := pages.open(t, scenario("tabs", jsWebKey, "tab", "1"))
		pages.await(t, b, time.Minute, "tab 3 closing", func(r url.Values) bool { return r.Get("tab") == "3" && r.Get("phase") == "closing" })
		// Evidence of adoption: tabs 1 and 2 hold all 90 events between them.
		queued := map[string]int{}
		pages.await(t, b, time.Minute, "tabs 1 and 2 holding all 90 events", func(r url.Values) bool {
			if r.Get("phase") == "waiting" {
				queued[r.Get("tab")], _ = strconv.Atoi(r.Get("queued"))
			}
			return queued["1"]+queued["2"] == 90
		})
		t.Logf("tabs: queued before the API came back: tab 1 %d, tab 2 %d", queued["1"], queued["2"])
		proxy.start(t)
		delivered := map[string]bool{}
		pages.await(t, b, time.Minute, "both tabs delivering", func(r url.Values) bool {
			if r.Get("phase") == "delivered" && r.Get("done") == "true" {
				delivered[r.Get("tab")] = true
			}
			return delivered["1"] && delivered["2"]
		})
		var want []string
		for _, tab := range []string{"1", "2", "3"} {
			want = append(want, eventKeys("tabs.event", tab, 0, 30)...)
		}
		deliveredOnce(t, proxy, lokiURL, run, "tabs.event", want)
	})

	// (d) A real 429 from the API's rate limit: no request before its
	// Retry-After.
	t.Run("retry-after", func(t *testing.T) {
		b := pages.open(t, scenario("ratelimit", jsLimitedKey))
		r := pages.await(t, b, time.Minute, "report", func(r url.Values) bool { return r.Get("s") == "ratelimit" })
		if r.Get("done") != "true" {
			t.Errorf("not delivered: %v", r)
		}
		_, posts := proxy.received("ratelimit.event/")
		limited := 0
		for i, p := range posts {
			if p.status != http.StatusTooManyRequests {
				continue
			}
			limited++
			secs, err := strconv.Atoi(p.retryAfter)
			if err != nil || i+1 >= len(posts) {
				t.Fatalf("429 with Retry-After %q, %d requests after it", p.retryAfter, len(posts)-i-1)
			}
			wait := posts[i+1].at.Sub(p.at)
			t.Logf("retry-after: 429 with Retry-After %s s, next request %s later", p.retryAfter, wait.Round(time.Millisecond))
			if wait < time.Duration(secs)*time.Second {
				t.Errorf("retried %s after a 429 with Retry-After %d", wait, secs)
			}
		}
		if limited == 0 {
			t.Fatalf("the API never answered 429; requests: %+v", posts)
		}
		// The events of the refused request were sent twice: Loki has each once.
		inLokiOnce(t, lokiURL, run, "ratelimit.event", eventKeys("ratelimit.event", "", 0, 3))
	})

	// A full localStorage (QuotaExceededError on every write) neither throws
	// into the page nor loses events while the page lives.
	t.Run("storage full", func(t *testing.T) {
		b := pages.open(t, scenario("quota", jsWebKey))
		r := pages.await(t, b, time.Minute, "report", func(r url.Values) bool { return r.Get("s") == "quota" })
		if r.Get("threw") != "" || r.Get("done") != "true" || r.Get("queued") != "0" {
			t.Errorf("storage full: %v", r)
		}
		deliveredOnce(t, proxy, lokiURL, run, "quota.event", eventKeys("quota.event", "", 0, 40))
	})

	// (e) An origin the key does not allow: the SDK reads the API's refusal,
	// drops the events with a console warning naming it, stores nothing.
	t.Run("denied origin", func(t *testing.T) {
		b := denied.open(t, scenario("denied", jsWebKey))
		r := denied.await(t, b, time.Minute, "report", func(r url.Values) bool { return r.Get("s") == "denied" })
		if r.Get("done") != "true" || r.Get("queued") != "0" || r.Get("stored") != "" ||
			!strings.Contains(r.Get("dropped"), "5:rejected:Origin: forbidden_origin") {
			t.Errorf("denied origin: %v", r)
		}
		b.stop()
		log, _ := os.ReadFile(b.log)
		if !strings.Contains(string(log), "forbidden_origin") || !strings.Contains(string(log), "is not allowed for this key") {
			t.Errorf("no console warning naming the refusal in chromium's log")
		}
		if got := queryRange(t, lokiURL, "", fmt.Sprintf(`{run=%q} | json | event="denied.event"`, run),
			time.Now().Add(-time.Hour), time.Now().Add(time.Minute)); len(got) != 0 {
			t.Errorf("Loki has %d events from a denied origin", len(got))
		}
	})

	// No scenario page had an uncaught error (the SDK would have sent it).
	if errs, _ := proxy.received("browser.error/"); len(errs) > 0 {
		t.Errorf("pages reported errors: %v", errs)
	}

	// Uncaught errors and unhandled rejections become browser.error events
	// (each distinct error once), with the page path and the tab's session.
	t.Run("errors", func(t *testing.T) {
		b := pages.open(t, scenario("errors", jsWebKey))
		if r := pages.await(t, b, time.Minute, "report", func(r url.Values) bool { return r.Get("s") == "errors" }); r.Get("done") != "true" {
			t.Errorf("errors: %v", r)
		}
		query := fmt.Sprintf(`{run=%q, level="error"} | json | event="browser.error" | attributes_scenario="errors"`, run)
		entries := waitForEntries(t, lokiURL, "", query, time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 2)
		var got []string
		for _, e := range entries {
			var line struct{ Attributes map[string]any }
			if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
				t.Fatal(err)
			}
			a := line.Attributes
			got = append(got, fmt.Sprintf("%v %v %v %v", a["kind"], a["error_type"], a["error"], a["page"]))
			if e.Metadata["session_id"] == "" {
				t.Errorf("no session_id: %v", e)
			}
		}
		slices.Sort(got)
		want := "uncaught Error boom-uncaught /page.html|unhandled_rejection TypeError boom-rejected /page.html"
		if strings.Join(got, "|") != want {
			t.Errorf("Loki has %q, want %q", strings.Join(got, "|"), want)
		}
		if sent, _ := proxy.received("browser.error/"); sent["browser.error//"] != 2 {
			t.Errorf("the page sent %d browser.error events, want 2 (the repeats are not sent)", sent["browser.error//"])
		}
	})

	// A single-page app with every capture module, left for another page
	// without persistence: both routes' views and leaves, the failed fetch
	// and XMLHttpRequest, and the Web Vitals of a real load all reach Loki,
	// so what the end of the page reported left in its beacon.
	t.Run("capture modules", func(t *testing.T) {
		b := pages.open(t, scenario("spa", jsWebKey))
		if r := pages.await(t, b, time.Minute, "the next page's report", func(r url.Values) bool { return r.Get("s") == "spa-next" }); r.Get("done") != "true" {
			t.Errorf("spa-next: %v", r)
		}
		query := fmt.Sprintf(`{run=%q} | json | attributes_scenario="spa"`, run)
		entries := waitForEntries(t, lokiURL, "", query, time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 7)
		got := map[string][]map[string]any{}
		for _, e := range entries {
			event, attrs := eventLine(t, e)
			got[event] = append(got[event], attrs)
			if e.Metadata["anonymous_id"] == "" || e.Metadata["session_id"] == "" {
				t.Errorf("%s without anonymous_id or session_id: %v", event, e.Metadata)
			}
		}
		summary := func(event string, keys ...string) []string {
			var out []string
			for _, a := range got[event] {
				var vals []string
				for _, k := range keys {
					vals = append(vals, fmt.Sprint(a[k]))
				}
				out = append(out, strings.Join(vals, " "))
			}
			slices.Sort(out)
			return out
		}
		for _, c := range []struct {
			event string
			keys  []string
			want  []string
		}{
			{"page.view", []string{"navigation", "page"}, []string{"load /page.html", "push /app/step-2"}},
			{"page.leave", []string{"navigation", "page"}, []string{"push /page.html", "unload /app/step-2"}},
			// Same origin: the route only, the number as an id, never the query.
			{"http.failed", []string{"method", "url", "status"}, []string{"GET /status/:id 503", "POST /status/:id 500"}},
		} {
			if g := summary(c.event, c.keys...); !slices.Equal(g, c.want) {
				t.Errorf("%s: %q, want %q", c.event, g, c.want)
			}
		}
		for _, a := range got["page.leave"] {
			if a["page"] == "/page.html" {
				engaged, _ := a["engaged_ms"].(float64)
				duration, _ := a["duration_ms"].(float64)
				// 1.5 s of sleeps on a visible page before the route change.
				if engaged < 1400 || duration < engaged {
					t.Errorf("page.leave of the first route: engaged_ms %v, duration_ms %v", a["engaged_ms"], a["duration_ms"])
				}
			}
		}
		if len(got["web.vitals"]) != 1 {
			t.Fatalf("%d web.vitals events, want 1", len(got["web.vitals"]))
		}
		v := got["web.vitals"][0]
		lcp, _ := v["lcp_ms"].(float64)
		cls, _ := v["cls"].(float64)
		if lcp <= 0 || v["lcp_rating"] == nil || cls <= 0 || v["cls_rating"] == nil || v["ttfb_ms"] == nil {
			t.Errorf("web.vitals of a real load: %v", v)
		}
		t.Logf("web.vitals in headless Chromium: %v", v)
		if raw, _ := json.Marshal(got); strings.Contains(string(raw), "SECRET") {
			t.Errorf("a query string reached Loki: %s", raw)
		}
	})

	// Consent pending: the page's events wait in memory, nothing is stored
	// or sent; once the visitor accepts, they are delivered once, with the
	// browser's anonymous id.
	t.Run("consent pending, then granted", func(t *testing.T) {
		b := pages.open(t, scenario("consent", jsWebKey))
		r := pages.await(t, b, time.Minute, "the pending report", func(r url.Values) bool { return r.Get("phase") == "pending" })
		if r.Get("queued") != "3" || r.Get("stored") != "" {
			t.Errorf("before consent: %s queued, stored %q; want 3 queued in memory, nothing stored", r.Get("queued"), r.Get("stored"))
		}
		if sent, _ := proxy.received("consent.event/"); len(sent) != 0 {
			t.Errorf("sent before consent: %v", sent)
		}
		r = pages.await(t, b, time.Minute, "the granted report", func(r url.Values) bool { return r.Get("phase") == "granted" })
		if r.Get("done") != "true" || !strings.Contains(r.Get("stored"), "curated.a") {
			t.Errorf("after optIn: %v", r)
		}
		deliveredOnce(t, proxy, lokiURL, run, "consent.event", eventKeys("consent.event", "", 0, 4))
		entries := waitForEntries(t, lokiURL, "", fmt.Sprintf(`{run=%q} | json | event="consent.event"`, run), time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 4)
		for _, e := range entries {
			if e.Metadata["anonymous_id"] == "" {
				t.Errorf("no anonymous_id: %v", e.Metadata)
			}
		}
	})

	// A Node.js service using wrap, @tracked and instrumentFetch (compiled by
	// tsc) sends through the real API.
	t.Run("node", func(t *testing.T) {
		places := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/0") {
				w.WriteHeader(http.StatusBadGateway)
			}
		}))
		defer places.Close()
		script := filepath.Join(repoRoot, "sdk", "js", "dist-test", "examples", "node-service.js")
		out, err := exec.Command("node", script, a.apiURL, jsNodeKey, run, places.URL).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `{"delivered":true}`) {
			t.Fatalf("node example: %v\n%s", err, out)
		}
		query := fmt.Sprintf(`{run=%q, service="sdk-js-node"}`, run)
		entries := waitForEntries(t, lokiURL, "", query, time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 6)
		var got []string
		for _, e := range entries {
			event, a := eventLine(t, e)
			got = append(got, fmt.Sprintf("%s %s %v %v %v %v", e.Labels["level"], event, a["outcome"], a["route"], a["status"], a["source"]))
		}
		want := []string{
			"error partner.sync error <nil> <nil> decorator",
			"error places.http <nil> /places/:id 502 <nil>",
			"info partner.sync ok <nil> <nil> decorator",
			"info places.http <nil> /places/:id 200 <nil>",
			"info places.http <nil> /search 200 <nil>",
			"info places.lookup ok <nil> <nil> wrap",
		}
		slices.Sort(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Loki has\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, e := range entries {
			if strings.Contains(e.Line, "not-for-loki") {
				t.Errorf("a query string reached Loki: %s", e.Line)
			}
		}
	})
}

// eventLine reads an entry's line as the component writes it: the event's
// name and attributes.
func eventLine(t *testing.T, e lokiEntry) (string, map[string]any) {
	t.Helper()
	var line struct {
		Event      string
		Attributes map[string]any
	}
	if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
		t.Fatal(err)
	}
	return line.Event, line.Attributes
}
