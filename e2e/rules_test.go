package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCollabmakerEventsAreRefined posts raw Collabmaker-like events, some
// with personal data, through real Alloy and Loki with a rule set, and
// checks what Loki stores: refined lines, exactly the configured labels, and
// no personal data anywhere.
func TestCollabmakerEventsAreRefined(t *testing.T) {
	lokiURL := startLoki(t, false)
	run := randomID(t)
	const pepper = "e2e-pepper"
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("collabmaker", apiPort, lokiURL, fmt.Sprintf(`
	labels = {env = "e2e", run = %q}

	schema {
		allowed_events = ["form.*", "shopify.*", "places.*"]

		event {
			pattern  = "form.*"
			required = ["step"]
			types    = {step = "number"}
		}
	}

	drop "bots" {
		attribute = "user_agent"
		value     = "(?i)bot"
	}

	attributes {
		remove = ["debug"]
	}

	redact {
		hash_fields = ["user_id"]
		hash_secret = %q
	}

	promote_labels {
		fields = ["event"]
	}
	structured_metadata = ["attributes.order_id"]`, run, pepper))
	})

	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	at := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format(time.RFC3339Nano) }
	body := fmt.Sprintf(`{"context":{"service":"collabmaker","session_id":"s-77"},"events":[
		{"event":"form.step","timestamp":%q,"message":"applicant jane.doe@example.com started",
		 "user_id":"jane.doe@example.com","attributes":{"step":1,"contact":"jane.doe@example.com","country":"KR"}},
		{"event":"form.submit","timestamp":%q,"attributes":{"step":3,"password":"hunter2",
		 "payment":{"card":"4111 1111 1111 1111","holder_phone":"+82 10-1234-5678"}}},
		{"event":"shopify.sync","level":"error","timestamp":%q,"message":"create product failed: 502",
		 "attributes":{"order_id":"o-981","http_status":502,"debug":{"raw":"x"}}},
		{"event":"places.lookup","level":"warn","timestamp":%q,"message":"lookup from 203.0.113.9 returned ZERO_RESULTS",
		 "attributes":{"query":"Seoul"}},
		{"event":"form.step","timestamp":%q,"attributes":{"country":"KR"}},
		{"event":"form.step","timestamp":%q,"attributes":{"step":2,"user_agent":"Googlebot/2.1"}},
		{"event":"page.view","timestamp":%q}]}`, at(1), at(2), at(3), at(4), at(5), at(6), at(7))
	status, resp := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, []byte(body))
	var r struct {
		Accepted, Rejected, Dropped int
		Errors                      []struct {
			Index       int
			Field, Code string
		}
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil || status != http.StatusAccepted || r.Accepted != 4 || r.Rejected != 2 || r.Dropped != 1 {
		t.Fatalf("got %d %s; want 202 with 4 accepted, 2 rejected, 1 dropped", status, resp)
	}
	if len(r.Errors) != 2 || r.Errors[0].Field != "attributes.step" || r.Errors[0].Code != "required" ||
		r.Errors[1].Field != "event" || r.Errors[1].Code != "not_allowed" {
		t.Errorf("errors = %+v", r.Errors)
	}

	mac := hmac.New(sha256.New, []byte(pepper))
	mac.Write([]byte("jane.doe@example.com"))
	pseudonym := "hmac:" + hex.EncodeToString(mac.Sum(nil)[:16])
	labels := func(event, level string) map[string]string {
		return map[string]string{"env": "e2e", "run": run, "service": "collabmaker", "service_name": "collabmaker",
			"level": level, "event": event}
	}
	md := func(level string, extra ...string) map[string]string {
		m := map[string]string{"session_id": "s-77", "detected_level": level}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	ts := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	want := []expected{
		{labels: labels("form.step", "info"), time: ts(1), metadata: md("info", "user_id", pseudonym),
			line: `{"event":"form.step","message":"applicant [REDACTED:email] started","attributes":{"contact":"[REDACTED:email]","country":"KR","step":1}}`},
		{labels: labels("form.submit", "info"), time: ts(2), metadata: md("info"),
			line: `{"event":"form.submit","attributes":{"password":"[REDACTED]","payment":{"card":"[REDACTED:card]","holder_phone":"[REDACTED:phone]"},"step":3}}`},
		{labels: labels("shopify.sync", "error"), time: ts(3), metadata: md("error", "order_id", "o-981"),
			line: `{"event":"shopify.sync","message":"create product failed: 502","attributes":{"http_status":502}}`},
		{labels: labels("places.lookup", "warn"), time: ts(4), metadata: md("warn"),
			line: `{"event":"places.lookup","message":"lookup from [REDACTED:ipv4] returned ZERO_RESULTS","attributes":{"query":"Seoul"}}`},
	}
	query := fmt.Sprintf(`{run=%q}`, run)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	got := settledEntries(t, lokiURL, "", query, from, to, len(want))
	assertEntries(t, got, want)
	for _, e := range got {
		for _, secret := range []string{"jane.doe", "4111", "hunter2", "1234-5678", "203.0.113.9"} {
			if strings.Contains(e.String(), secret) {
				t.Errorf("Loki stores %q: %s", secret, e)
			}
		}
	}
	for metric, want := range map[string]string{
		`loki_source_curated_api_events_dropped_total{component_id="loki.source.curated_api.collabmaker",component_path="/",rule="bots"}`:        "1",
		`loki_source_curated_api_redactions_total{component_id="loki.source.curated_api.collabmaker",component_path="/",pattern="email"}`:        "2",
		`loki_source_curated_api_redactions_total{component_id="loki.source.curated_api.collabmaker",component_path="/",pattern="hash"}`:         "1",
		`loki_source_curated_api_events_rejected_total{component_id="loki.source.curated_api.collabmaker",component_path="/",reason="required"}`: "1",
	} {
		if got := a.metric(t, metric); got != want {
			t.Errorf("%s = %q, want %s", metric, got, want)
		}
	}
}
