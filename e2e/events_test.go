package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/curated/internal/testutil"
)

func randomID(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// expected is an entry the test expects in Loki. A zero Time means "the
// receive time", which must fall inside the window the post happened in.
type expected struct {
	labels   map[string]string
	line     string
	metadata map[string]string
	time     time.Time
	after    time.Time
	before   time.Time
}

// TestEventsReachLoki posts every body shape of the event API v1 to a real
// alloy-custom, whose loki.write pushes to a real Loki, then reads the
// entries back with LogQL and compares labels, lines, structured metadata
// and timestamps exactly.
func TestEventsReachLoki(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("e2e", apiPort, lokiURL, fmt.Sprintf(`labels = {env = "e2e", run = %q}`, run))
	})

	now := time.Now().UTC().Truncate(time.Millisecond)
	base := now.Add(-20 * time.Minute)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec)*time.Second + 123*time.Millisecond) }
	rfc := func(ts time.Time) string { return ts.Format(time.RFC3339Nano) }
	// Loki itself adds service_name (derived from service, or
	// unknown_service) under its default limits; the test asserts what a
	// user of a default Loki sees.
	labels := func(service, level string) map[string]string {
		l := map[string]string{"env": "e2e", "run": run, "level": level, "service_name": "unknown_service"}
		if service != "" {
			l["service"], l["service_name"] = service, service
		}
		return l
	}
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	jsonCT := map[string]string{"Content-Type": "application/json"}

	var want []expected
	accept := func(name string, headers map[string]string, body []byte, accepted int, exp ...expected) {
		t.Helper()
		before := time.Now()
		status, resp := a.post(t, "/v1/events", headers, body)
		after := time.Now()
		if status != http.StatusAccepted {
			t.Fatalf("%s: status %d, want 202: %s", name, status, resp)
		}
		var r struct{ Accepted, Rejected int }
		if err := json.Unmarshal([]byte(resp), &r); err != nil || r.Accepted != accepted {
			t.Fatalf("%s: response %s, want accepted=%d", name, resp, accepted)
		}
		for _, e := range exp {
			e.after, e.before = before, after
			// Loki's default discover_log_levels copies the level into
			// structured metadata as detected_level.
			e.metadata = maps.Clone(e.metadata)
			if e.metadata == nil {
				e.metadata = map[string]string{}
			}
			e.metadata["detected_level"] = e.labels["level"]
			want = append(want, e)
		}
	}

	accept("single object", jsonCT, []byte(fmt.Sprintf(`{"event":"form.submit","service":"collabmaker","level":"info",
		"timestamp":%q,"message":"Application submitted","attributes":{"step":3,"country":"KR"},
		"session_id":"s-1","trace_id":%q,"span_id":%q}`, rfc(at(1)), traceID, spanID)), 1,
		expected{labels: labels("collabmaker", "info"),
			line:     `{"event":"form.submit","message":"Application submitted","attributes":{"country":"KR","step":3}}`,
			metadata: map[string]string{"session_id": "s-1", "trace_id": traceID, "span_id": spanID},
			time:     at(1)})

	kst := time.FixedZone("KST", 9*3600)
	accept("array", jsonCT, []byte(fmt.Sprintf(`[
		{"event":"form.step","service":"collabmaker","level":"warning","timestamp":%d,
		 "attributes":{"step":2,"field":"email","valid":false},"user_id":"u-42"},
		{"event":"form.view","service":"collabmaker","timestamp":%q}]`, at(2).UnixMilli(), at(3).In(kst).Format(time.RFC3339Nano))), 2,
		expected{labels: labels("collabmaker", "warn"),
			line:     `{"event":"form.step","attributes":{"field":"email","step":2,"valid":false}}`,
			metadata: map[string]string{"user_id": "u-42"}, time: at(2)},
		expected{labels: labels("collabmaker", "info"), line: `{"event":"form.view"}`, time: at(3)})

	accept("envelope", jsonCT, []byte(fmt.Sprintf(`{
		"context":{"service":"collabmaker","session_id":"s-2","attributes":{"app_version":"2.1.0"}},
		"events":[
		 {"event":"places.lookup","level":"error","timestamp":%q,"attributes":{"query":"Seoul","status":"ZERO_RESULTS","latency_ms":812.5}},
		 {"event":"shopify.sync","level":"ERROR","timestamp":%q,"session_id":"s-3",
		  "attributes":{"app_version":"2.2.0-beta","http_status":502,"error":{"retry":true,"code":"THROTTLED"}}}]}`,
		rfc(at(4)), rfc(at(5)))), 2,
		expected{labels: labels("collabmaker", "error"),
			line:     `{"event":"places.lookup","attributes":{"app_version":"2.1.0","latency_ms":812.5,"query":"Seoul","status":"ZERO_RESULTS"}}`,
			metadata: map[string]string{"session_id": "s-2"}, time: at(4)},
		expected{labels: labels("collabmaker", "error"),
			line:     `{"event":"shopify.sync","attributes":{"app_version":"2.2.0-beta","error":{"code":"THROTTLED","retry":true},"http_status":502}}`,
			metadata: map[string]string{"session_id": "s-3"}, time: at(5)})

	accept("ndjson", map[string]string{"Content-Type": "application/x-ndjson"}, []byte(fmt.Sprintf(
		"{\"event\":\"checkout.start\",\"service\":\"shop\",\"level\":\"debug\",\"timestamp\":%q}\n\n"+
			"{\"event\":\"checkout.done\",\"service\":\"shop\",\"message\":\"결제 완료 ✓\",\"timestamp\":%q}\n",
		rfc(at(6)), rfc(at(7)))), 2,
		expected{labels: labels("shop", "debug"), line: `{"event":"checkout.start"}`, time: at(6)},
		expected{labels: labels("shop", "info"), line: `{"event":"checkout.done","message":"결제 완료 ✓"}`, time: at(7)})

	accept("sendBeacon text/plain", map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, []byte(fmt.Sprintf(
		`{"event":"beacon.unload","service":"collabmaker","timestamp":%q,"attributes":{"visible_ms":12000}}`, rfc(at(8)))), 1,
		expected{labels: labels("collabmaker", "info"), line: `{"event":"beacon.unload","attributes":{"visible_ms":12000}}`, time: at(8)})

	accept("gzip", map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, testutil.Gzip(t, fmt.Sprintf(
		`[{"event":"gz.one","service":"collabmaker","timestamp":%q},{"event":"gz.two","service":"collabmaker","timestamp":%q}]`,
		rfc(at(9)), rfc(at(10)))), 2,
		expected{labels: labels("collabmaker", "info"), line: `{"event":"gz.one"}`, time: at(9)},
		expected{labels: labels("collabmaker", "info"), line: `{"event":"gz.two"}`, time: at(10)})

	accept("partly invalid", jsonCT, []byte(fmt.Sprintf(`[{"event":"mixed.ok","timestamp":%q},{"event":"bad name"}]`, rfc(at(11)))), 1,
		expected{labels: labels("", "info"), line: `{"event":"mixed.ok"}`, time: at(11)})

	skewed := now.Add(-2 * time.Hour)
	accept("timestamp outside max_past", jsonCT, []byte(fmt.Sprintf(`{"event":"clock.skewed","timestamp":%d}`, skewed.UnixMilli())), 1,
		expected{labels: labels("", "info"), line: `{"event":"clock.skewed","client_timestamp":"` + rfc(skewed) + `"}`})

	accept("no timestamp", jsonCT, []byte(`{"event":"no.timestamp"}`), 1,
		expected{labels: labels("", "info"), line: `{"event":"no.timestamp"}`})

	// Requests that must not write anything.
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"event":"too.many"},`, 501), ",") + "]"
	for _, bad := range []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		field   string
	}{
		{"every event invalid", jsonCT, `[{"event":"bad name"},{"level":"info"}]`, 400, `"field":"event"`},
		{"malformed JSON", jsonCT, `{"event":"x"`, 400, `"code":"malformed"`},
		{"form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `event=x`, 415, `"field":"Content-Type"`},
		{"over max_events_per_request", jsonCT, many, 413, `max_events_per_request`},
	} {
		status, resp := a.post(t, "/v1/events", bad.headers, []byte(bad.body))
		if status != bad.status || !strings.Contains(resp, bad.field) {
			t.Errorf("%s: got %d %s; want %d mentioning %s", bad.name, status, resp, bad.status, bad.field)
		}
	}

	// The dry run shows the entry it would write and writes nothing.
	status, resp := a.post(t, "/v1/events/validate", jsonCT, []byte(`{"event":"dry.run","service":"collabmaker"}`))
	if status != http.StatusOK || !strings.Contains(resp, `"line":"{\"event\":\"dry.run\"}"`) {
		t.Errorf("validate: %d %s", status, resp)
	}

	query := fmt.Sprintf(`{run=%q}`, run)
	// Anything late (such as a wrongly accepted request) shows before it settles.
	got := settledEntries(t, lokiURL, "", query, now.Add(-time.Hour), time.Now().Add(time.Minute), len(want))
	assertEntries(t, got, want)

	if v := a.metric(t, `loki_source_curated_api_events_accepted_total{component_id="loki.source.curated_api.e2e"`); v != fmt.Sprint(len(want)) {
		t.Errorf("events_accepted_total = %q, want %d", v, len(want))
	}
}

// assertEntries matches every expected entry to exactly one entry from Loki.
func assertEntries(t *testing.T, got []lokiEntry, want []expected) {
	t.Helper()
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("in Loki: %s", g)
		}
		t.Fatalf("Loki has %d entries, want %d", len(got), len(want))
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || g.Line != w.line {
				continue
			}
			found = true
			used[i] = true
			if !maps.Equal(g.Labels, w.labels) {
				t.Errorf("%s: labels %v, want %v", w.line, g.Labels, w.labels)
			}
			if !maps.Equal(g.Metadata, w.metadata) {
				t.Errorf("%s: structured metadata %v, want %v", w.line, g.Metadata, w.metadata)
			}
			switch {
			case !w.time.IsZero() && !g.Time.Equal(w.time):
				t.Errorf("%s: timestamp %s, want the event's %s", w.line, g.Time.Format(time.RFC3339Nano), w.time.Format(time.RFC3339Nano))
			case w.time.IsZero() && (g.Time.Before(w.after) || g.Time.After(w.before)):
				t.Errorf("%s: timestamp %s, want the receive time in [%s, %s]", w.line, g.Time, w.after, w.before)
			}
			break
		}
		if !found {
			t.Errorf("no entry in Loki with line %s", w.line)
		}
	}
}

// TestSkewedClientIsSeenNow sends events from a client whose clock runs
// minutes fast, with the default max_future, and measures how long each
// takes to show in a query that ends now, as dashboards and alert rules
// query. An entry dated ahead of now would stay invisible for the whole
// skew; with the default, the receive time is used and the client's time
// kept in the line.
func TestSkewedClientIsSeenNow(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("skew", apiPort, lokiURL, fmt.Sprintf(`labels = {run = %q}`, run))
	})
	for _, skew := range []time.Duration{2 * time.Minute, 30 * time.Minute} {
		sent := time.Now()
		clientTime := sent.Add(skew).UTC().Truncate(time.Millisecond)
		body := fmt.Sprintf(`{"event":"clock.fast","attributes":{"skew":%q},"timestamp":%d}`, skew, clientTime.UnixMilli())
		if status, resp := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, []byte(body)); status != http.StatusAccepted {
			t.Fatalf("POST: %d %s", status, resp)
		}
		query := fmt.Sprintf(`{run=%q} | json | attributes_skew=%q`, run, skew.String())
		var got []lokiEntry
		deadline := sent.Add(30 * time.Second)
		for len(got) == 0 && time.Now().Before(deadline) {
			got = queryRange(t, lokiURL, "", query, sent.Add(-time.Minute), time.Now()) // ends now, like a panel
			if len(got) == 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if len(got) != 1 {
			t.Fatalf("clock %s fast: not visible to a query ending now within 30 s of the POST", skew)
		}
		visible := time.Since(sent)
		e := got[0]
		if e.Time.After(time.Now()) || e.Time.Before(sent.Add(-time.Second)) {
			t.Errorf("clock %s fast: entry dated %s, want the receive time", skew, e.Time)
		}
		if want := `"client_timestamp":"` + clientTime.Format(time.RFC3339Nano) + `"`; !strings.Contains(e.Line, want) {
			t.Errorf("clock %s fast: line %s lacks %s", skew, e.Line, want)
		}
		t.Logf("clock %s fast: visible to a query ending now %s after the POST (it would have been %s with the event's own time)",
			skew, visible.Round(10*time.Millisecond), skew)
	}
	if v := a.metric(t, `loki_source_curated_api_entry_timestamps_total{component_id="loki.source.curated_api.skew",component_path="/",source="out_of_window"}`); v != "2" {
		t.Errorf("entry_timestamps_total{source=out_of_window} = %q, want 2", v)
	}
}
