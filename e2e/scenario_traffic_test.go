package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// The traffic of a realistic day of partner forms like Collabmaker's, for
// the alert scenarios: applicants arrive at a rate that follows the hour
// (a quiet night with nobody at all, a busy afternoon), open the form, some
// give up at each step, look up their address in Google Places, submit
// (the SDK's form helper sends the attempt, then the outcome), and the
// backend syncs to Shopify. Normal noise: 0.5 % of integration calls fail,
// 2 % of sessions hit a JavaScript error, 1 % leave while submitting.

// dayCurve is the share of the peak rate at each local hour (0-23): nobody
// from 02:00 to 06:00.
var dayCurve = [24]float64{0.15, 0.03, 0, 0, 0, 0, 0.03, 0.15, 0.4, 0.7, 0.9, 1, 1, 0.9, 1, 1, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.35, 0.25}

// nowLocalHour is the local hour the scenario's "now" stands for: the
// afternoon, when the incidents happen.
const nowLocalHour = 14.0

// rateAt is the applicants per minute at t, for a service whose peak is peak.
func rateAt(t, now time.Time, peak float64) float64 {
	h := nowLocalHour - now.Sub(t).Hours()
	h = math.Mod(math.Mod(h, 24)+24, 24)
	i := int(h)
	frac := h - float64(i)
	return peak * (dayCurve[i]*(1-frac) + dayCurve[(i+1)%24]*frac)
}

type weighted struct {
	value  string
	weight float64
}

func pick(rng *rand.Rand, choices []weighted) string {
	x := rng.Float64()
	for _, c := range choices {
		if x < c.weight {
			return c.value
		}
		x -= c.weight
	}
	return choices[len(choices)-1].value
}

var (
	browsers = []weighted{{"Chrome 131", 0.45}, {"Safari 18", 0.30}, {"Samsung Internet 26", 0.10}, {"Firefox 133", 0.08}, {"Edge 131", 0.07}}
	// User-Agents the component names as the browsers above.
	userAgents = map[string]string{
		"Chrome 131":          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Safari 18":           "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Samsung Internet 26": "Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		"Firefox 133":         "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Edge 131":            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
	}
	countries = []weighted{{"KR", 0.40}, {"US", 0.25}, {"JP", 0.20}, {"DE", 0.15}}
)

// incident is what is broken for a service from a moment on.
type incident struct {
	// from is when it starts (Unix nanoseconds), 0 until it is set.
	from atomic.Int64
	// submitUnanswered: the submit request hangs; no outcome, no sync.
	submitUnanswered bool
	// shopifyDown: every sync fails, and with it the submission.
	shopifyDown bool
	// placesDownIn: Places refuses every lookup from this country.
	placesDownIn string
	// jsErrorsOn: sessions of this browser and release hit an error at
	// step 2 (4 in 5) and stop there.
	jsErrorsOn [2]string
	// silent: the service sends nothing.
	silent bool
}

// scenarioEvent is one event as an application sends it, at its time.
type scenarioEvent struct {
	at      time.Time
	name    string
	level   string
	session string
	browser string // "" for server-side events
	attrs   map[string]any
}

// applicant is one person filling in the form from start.
func applicant(rng *rand.Rand, service string, start time.Time, release string) []scenarioEvent {
	session := fmt.Sprintf("%s-%x", service, rng.Uint64())
	browser := pick(rng, browsers)
	country := pick(rng, countries)
	var out []scenarioEvent
	add := func(after time.Duration, name, level string, server bool, attrs map[string]any) time.Time {
		e := scenarioEvent{at: start.Add(after), name: name, level: level, session: session, attrs: attrs}
		if !server {
			e.browser = browser
			if e.attrs == nil {
				e.attrs = map[string]any{}
			}
			e.attrs["release"] = release
		}
		out = append(out, e)
		return e.at
	}
	add(0, "form.open", "info", false, map[string]any{"country": country})
	add(15*time.Second, "form.step", "info", false, map[string]any{"step": 1})
	if rng.Float64() < 0.3 {
		return out // gave up after the first step
	}
	for i := 0; i < 3; i++ {
		after := time.Duration(20+5*i) * time.Second
		a := map[string]any{"country": country, "duration_ms": 80 + rng.IntN(200)}
		level := "info"
		if rng.Float64() < 0.005 {
			level, a["error"] = "error", "OVER_QUERY_LIMIT"
		}
		add(after, "places.lookup", level, false, a)
	}
	add(45*time.Second, "form.step", "info", false, map[string]any{"step": 2})
	if rng.Float64() < 0.02 {
		add(50*time.Second, "browser.error", "error", false, map[string]any{"error": "ResizeObserver loop completed with undelivered notifications.", "page": "/apply", "kind": "uncaught"})
	}
	if rng.Float64() < 0.1 {
		return out
	}
	add(75*time.Second, "form.step", "info", false, map[string]any{"step": 3})
	add(100*time.Second, "form.submit.attempt", "info", false, map[string]any{"form": "partner"})
	if rng.Float64() < 0.01 {
		add(110*time.Second, "form.submit", "warn", false, map[string]any{"form": "partner", "outcome": "abandoned", "duration_ms": 10000})
		return out
	}
	sync := map[string]any{"duration_ms": 300 + rng.IntN(500)}
	syncLevel := "info"
	if rng.Float64() < 0.005 {
		syncLevel, sync["error"], sync["http_status"] = "error", "502 Bad Gateway", 502
	}
	add(101*time.Second, "shopify.sync", syncLevel, true, sync)
	outcome := map[string]any{"form": "partner", "outcome": "ok", "duration_ms": 1200}
	level := "info"
	if syncLevel == "error" {
		level, outcome["outcome"], outcome["error"] = "error", "error", "SHOPIFY_UNAVAILABLE"
	}
	add(102*time.Second, "form.submit", level, false, outcome)
	return out
}

// active says whether the incident has begun at t.
func (inc *incident) active(t time.Time) bool {
	from := inc.from.Load()
	return from != 0 && t.UnixNano() >= from
}

// apply changes what an applicant's event becomes while the incident is on,
// at the moment it is sent: ok is false when the event is not sent, and
// last when the session ends there.
func (inc *incident) apply(e scenarioEvent, rng *rand.Rand) (out scenarioEvent, ok, last bool) {
	if inc == nil || !inc.active(e.at) {
		return e, true, false
	}
	attrs := make(map[string]any, len(e.attrs)+2)
	for k, v := range e.attrs {
		attrs[k] = v
	}
	e.attrs = attrs
	switch {
	case inc.silent:
		return e, false, false
	case inc.submitUnanswered && (e.name == "shopify.sync" || e.name == "form.submit"):
		return e, false, e.name == "form.submit" // the request hangs; the applicant closes the tab
	case inc.shopifyDown && e.name == "shopify.sync":
		e.level, e.attrs["error"], e.attrs["http_status"] = "error", "502 Bad Gateway", 502
	case inc.shopifyDown && e.name == "form.submit" && e.attrs["outcome"] == "ok":
		e.level, e.attrs["outcome"], e.attrs["error"] = "error", "error", "SHOPIFY_UNAVAILABLE"
	case inc.placesDownIn != "" && e.name == "places.lookup" && e.attrs["country"] == inc.placesDownIn:
		e.level, e.attrs["error"] = "error", "REQUEST_DENIED"
	case inc.jsErrorsOn == [2]string{e.browser, fmt.Sprint(e.attrs["release"])} && e.name == "form.step" && e.attrs["step"] == 2 && rng.Float64() < 0.8:
		// The new release breaks the address step on this browser: the
		// error, and the session ends there.
		return scenarioEvent{at: e.at, name: "browser.error", level: "error", session: e.session, browser: e.browser,
			attrs: map[string]any{"release": e.attrs["release"], "kind": "uncaught", "page": "/apply/address",
				"error": "TypeError: Cannot read properties of undefined (reading 'postcode')"}}, true, true
	}
	return e, true, false
}

// scenarioService is one service of the scenario with its own traffic.
type scenarioService struct {
	name string
	peak float64 // applicants per minute at the busiest hour
	// clockSkew is how far its browsers' clocks run behind.
	clockSkew time.Duration
	inc       *incident
}

// traffic returns the events of the applicants who start in [from, to),
// sorted by time; the same for the same seeds.
func (s *scenarioService) traffic(seed, seed2 uint64, from, to, now time.Time) []scenarioEvent {
	rng := rand.New(rand.NewPCG(seed, seed2))
	var out []scenarioEvent
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		n := poisson(rng, rateAt(m, now, s.peak))
		for i := 0; i < n; i++ {
			start := m.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			if !start.Before(to) {
				continue
			}
			release := "2.3.0"
			// Release 2.4.0 rolls out over the last two hours.
			if now.Sub(start) < 2*time.Hour && rng.Float64() < 0.5 {
				release = "2.4.0"
			}
			out = append(out, applicant(rng, s.name, start, release)...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

func poisson(rng *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// line is the entry line the component would store for e (keys sorted, as
// the component writes them).
func (e scenarioEvent) line() string {
	attrs := e.attrs
	if e.browser != "" {
		attrs = make(map[string]any, len(e.attrs)+1)
		for k, v := range e.attrs {
			attrs[k] = v
		}
		attrs["browser"] = e.browser
	}
	b, _ := json.Marshal(struct {
		Event      string         `json:"event"`
		Attributes map[string]any `json:"attributes,omitempty"`
	}{e.name, attrs})
	return string(b)
}

// pushBody is a Loki push request for history: entries grouped into
// streams by service and level, in time order, with session_id as
// structured metadata, as the component would have stored them.
func pushBody(env, service string, events []scenarioEvent) []byte {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	byLevel := map[string]*stream{}
	for _, e := range events {
		s := byLevel[e.level]
		if s == nil {
			s = &stream{Stream: map[string]string{"env": env, "service": service, "level": e.level}}
			byLevel[e.level] = s
		}
		v := []any{fmt.Sprint(e.at.UnixNano()), e.line()}
		if e.session != "" {
			v = append(v, map[string]string{"session_id": e.session})
		}
		s.Values = append(s.Values, v)
	}
	var body struct {
		Streams []*stream `json:"streams"`
	}
	for _, l := range slices.Sorted(func(yield func(string) bool) {
		for k := range byLevel {
			if !yield(k) {
				return
			}
		}
	}) {
		body.Streams = append(body.Streams, byLevel[l])
	}
	b, _ := json.Marshal(body)
	return b
}
