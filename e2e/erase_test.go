package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEraseOneUserInOneService: events of several users in two services
// go through real alloy-custom into real Loki (the shipped config, with
// deletion on); cmd/curated-erase erases one user in one service. That
// user's events there vanish from every query path, and so do the events
// their browser sent before they signed in (anonymous_id, linked by their
// user.identify event); every other event stays byte-identical, another
// user's on the same browser included; hostile requests delete nothing; a
// second request is harmless; the audit event is in Loki without the id.
func TestEraseOneUserInOneService(t *testing.T) {
	loki := newLoki(t, false)
	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("erase", apiPort, loki.url, fmt.Sprintf(`labels = {env = "e2e", run = %q}`, run))
	})
	const subject = "u-1042"
	// The subject, a user whose id extends the subject's, a user whose
	// message names the subject, each in both services.
	users := []string{subject, subject + "0", "u-1043"}
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	var events []string
	n := 0
	for _, service := range []string{"collabmaker", "partners"} {
		for i, u := range users {
			for step := range 3 {
				n++
				events = append(events, fmt.Sprintf(`{"event":"form.step","service":%q,"user_id":%q,"session_id":"s-%d","timestamp":%d,"message":"step %d for %s","attributes":{"step":%d}}`,
					service, u, i, start.Add(time.Duration(n)*time.Second).UnixMilli(), step, users[(i+1)%len(users)], step))
			}
		}
	}
	// The subject's browser a-77: two events before sign-in, the SDK's
	// user.identify at sign-in, then another user signed in on it (no
	// reset); another browser; the same browser id in the other service.
	browser := func(service, anonymous, user, event string) {
		n++
		u := ""
		if user != "" {
			u = fmt.Sprintf(`,"user_id":%q`, user)
		}
		events = append(events, fmt.Sprintf(`{"event":%q,"service":%q,"anonymous_id":%q%s,"timestamp":%d}`,
			event, service, anonymous, u, start.Add(time.Duration(n)*time.Second).UnixMilli()))
	}
	browser("collabmaker", "a-77", "", "page.view")
	browser("collabmaker", "a-77", "", "form.open")
	browser("collabmaker", "a-77", subject, "user.identify")
	browser("collabmaker", "a-77", "u-1043", "user.identify")
	browser("collabmaker", "a-88", "", "page.view")
	browser("partners", "a-77", "", "page.view")
	if status, body := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, []byte("["+strings.Join(events, ",")+"]")); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, body)
	}
	all := fmt.Sprintf(`{run=%q}`, run)
	erased := fmt.Sprintf(`{run=%q, service="collabmaker"} | user_id=%q`, run, subject)
	from := start.Add(-time.Minute)
	before := settledEntries(t, loki.url, "", all, from, time.Now(), len(events))
	if len(before) != len(events) {
		t.Fatalf("%d entries in Loki, want %d", len(before), len(events))
	}
	kept := func(entries []lokiEntry) []string {
		var out []string
		for _, e := range entries {
			subjects := e.Metadata["user_id"] == subject || e.Metadata["anonymous_id"] == "a-77" && e.Metadata["user_id"] == ""
			if !(e.Labels["service"] == "collabmaker" && subjects) {
				out = append(out, e.String())
			}
		}
		return out
	}
	wantKept := kept(before)
	if len(wantKept) != len(events)-6 {
		t.Fatalf("the subject has %d events in collabmaker, want 6", len(events)-len(wantKept))
	}

	bin := filepath.Join(t.TempDir(), "curated-erase")
	build := exec.Command("go", "build", "-o", bin, "./cmd/curated-erase")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building curated-erase: %v\n%s", err, out)
	}
	erase := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"-loki", loki.url, "-requested-by", "e2e (ticket 1)"}, args...)...)
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}

	// Hostile or mistaken requests: refused, nothing filed.
	for name, args := range map[string][]string{
		"empty id":             {"-service", "collabmaker", "-user", "", "-yes"},
		"wildcard":             {"-service", "collabmaker", "-user", "*", "-yes"},
		"regex":                {"-service", "collabmaker", "-user", ".*", "-yes"},
		"query injection":      {"-service", "collabmaker", "-user", `x" or user_id=~".+`, "-yes"},
		"over long":            {"-service", "collabmaker", "-user", strings.Repeat("u", 300), "-yes"},
		"unknown service":      {"-service", "nosuch", "-user", subject, "-yes"},
		"service pattern":      {"-service", "collab.*", "-user", subject, "-yes"},
		"wider than retention": {"-service", "collabmaker", "-user", subject, "-from", time.Now().Add(-800 * time.Hour).UTC().Format(time.RFC3339), "-yes"},
		"not confirmed":        {"-service", "collabmaker", "-user", subject},
	} {
		if code, out := erase(args...); code == 0 || !strings.Contains(out, "refused, nothing deleted") {
			t.Errorf("%s: exit %d, %s; want a refusal", name, code, out)
		}
	}
	if reqs := deleteRequests(t, loki.url); len(reqs) != 0 {
		t.Fatalf("refused requests filed deletions: %+v", reqs)
	}

	code, out := erase("-service", "collabmaker", "-user", subject, "-yes")
	filed := time.Now()
	if code != 0 || !strings.Contains(out, "Matches:        6 events") || !strings.Contains(out, "Outcome:        filed") ||
		!strings.Contains(out, `| anonymous_id="a-77" | user_id="" (2 events now)`) || strings.Contains(out, "a-88") {
		t.Fatalf("erase: exit %d\n%s", code, out)
	}
	beforeSignIn := fmt.Sprintf(`{run=%q, service="collabmaker"} | anonymous_id="a-77" | user_id=""`, run)
	// Gone from every query path: logs (query_range), a metric instant
	// query and the dashboards' kind of metric range query.
	metric := fmt.Sprintf(`sum(count_over_time({run=%q, service="collabmaker"} | user_id=%q [20m]))`, run, subject)
	var gone time.Duration
	for deadline := filed.Add(7 * time.Minute); ; time.Sleep(2 * time.Second) {
		logs := append(queryRange(t, loki.url, "", erased, from, time.Now()), queryRange(t, loki.url, "", beforeSignIn, from, time.Now())...)
		inst := metricValue(t, loki.url, "/loki/api/v1/query", url.Values{"query": {metric}, "time": {strconv.FormatInt(time.Now().UnixNano(), 10)}})
		rng := metricValue(t, loki.url, "/loki/api/v1/query_range", url.Values{"query": {fmt.Sprintf(`sum(count_over_time({run=%q, service="collabmaker"} | user_id=%q [1m]))`, run, subject)},
			"start": {strconv.FormatInt(from.UnixNano(), 10)}, "end": {strconv.FormatInt(time.Now().UnixNano(), 10)}, "step": {"60"}})
		if len(logs) == 0 && inst == 0 && rng == 0 {
			gone = time.Since(filed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("7 minutes after the erasure Loki still returns the subject's events: %d log entries, instant %v, range %v", len(logs), inst, rng)
		}
	}
	t.Logf("ERASED the subject's events vanished from every query path %.0f s after the request", gone.Seconds())
	if got := kept(queryRange(t, loki.url, "", all, from, time.Now())); strings.Join(got, "\n") != strings.Join(wantKept, "\n") {
		t.Fatalf("other events changed:\n got %d\n%s\nwant %d\n%s", len(got), strings.Join(got, "\n"), len(wantKept), strings.Join(wantKept, "\n"))
	}
	if after := queryRange(t, loki.url, "", all, from, time.Now()); len(after) != len(wantKept) {
		t.Fatalf("%d entries left, want %d", len(after), len(wantKept))
	}

	// Again: harmless.
	if code, out := erase("-service", "collabmaker", "-user", subject, "-yes"); code != 0 || !strings.Contains(out, "Matches:        0 events") {
		t.Errorf("second erase: exit %d\n%s", code, out)
	}
	if got := kept(queryRange(t, loki.url, "", all, from, time.Now())); strings.Join(got, "\n") != strings.Join(wantKept, "\n") {
		t.Fatal("a second request changed other events")
	}

	// The audit: who, what, when; the subject only as a hash.
	audit := waitForEntries(t, loki.url, "", `{service="alloy-curated"} |= "curated.erasure"`, filed.Add(-time.Minute), time.Now(), 2)
	if len(audit) < 2 {
		t.Fatalf("%d audit events, want one per request", len(audit))
	}
	for _, e := range audit {
		if strings.Contains(e.Line, subject) || !strings.Contains(e.Line, `"requested_by":"e2e (ticket 1)"`) || !strings.Contains(e.Line, `"subject":"sha256:`) {
			t.Errorf("audit event %s: want who asked and the subject's hash, never the id", e.Line)
		}
	}
}

// deleteRequests lists Loki's delete requests.
func deleteRequests(t *testing.T, lokiURL string) []map[string]any {
	t.Helper()
	resp, err := http.Get(lokiURL + "/loki/api/v1/delete")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// metricValue runs a metric query (lokiAPI) and returns the sum of every
// sample.
func metricValue(t *testing.T, lokiURL, path string, q url.Values) float64 {
	t.Helper()
	_, result := lokiAPI(t, lokiURL, path, q)
	var series []struct {
		Value  []any   `json:"value"`
		Values [][]any `json:"values"`
	}
	if err := json.Unmarshal(result, &series); err != nil {
		t.Fatalf("%s %s: %v: %s", path, q.Get("query"), err, result)
	}
	sum := 0.0
	for _, s := range series {
		samples := s.Values
		if len(s.Value) == 2 {
			samples = append(samples, s.Value)
		}
		for _, v := range samples {
			f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
			sum += f
		}
	}
	return sum
}
