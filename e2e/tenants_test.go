package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestTenantsAreIsolated runs two clients with two tenants against a
// multi-tenant Loki: each tenant must see exactly its own client's events,
// whatever the bodies and headers claim.
func TestTenantsAreIsolated(t *testing.T) {
	lokiURL := startLoki(t, true)
	run := randomID(t)
	a := startAlloy(t, func(apiPort int) string {
		return curatedConfig("tenants", apiPort, lokiURL, fmt.Sprintf(`
	labels = {run = %q}

	client "alpha" {
		api_key = "alpha-key-0123456789"
		service = "collabmaker"
		tenant  = "team-alpha"
	}

	client "beta" {
		api_key        = "beta-key-0123456789"
		service        = "shop"
		tenant         = "team-beta"
		allowed_events = ["checkout.*"]
	}`, run))
	})

	send := func(key string, extra map[string]string, body string, wantStatus int) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/json", "X-API-Key": key}
		for k, v := range extra {
			h[k] = v
		}
		if status, resp := a.post(t, "/v1/events", h, []byte(body)); status != wantStatus {
			t.Fatalf("POST %s: %d %s, want %d", body, status, resp, wantStatus)
		}
	}
	const alpha, beta = "alpha-key-0123456789", "beta-key-0123456789"
	send(alpha, nil, `[{"event":"form.submit"},{"event":"places.lookup","level":"error"}]`, 202)
	// Spoofing attempts: a tenant header, a tenant-like attribute, another
	// client's service. None may reach team-beta.
	send(alpha, map[string]string{"X-Scope-OrgID": "team-beta"}, `{"event":"spoof.header","attributes":{"__tenant_id__":"team-beta"}}`, 202)
	send(alpha, nil, `{"event":"spoof.service","service":"shop"}`, 403)
	send(beta, nil, `{"event":"checkout.done"}`, 202)
	send(beta, nil, `{"event":"form.submit"}`, 403) // not in beta's allowed_events
	send("wrong-key", nil, `{"event":"form.submit"}`, 401)
	if status, _ := a.post(t, "/v1/events", map[string]string{"Content-Type": "application/json"}, []byte(`{"event":"x"}`)); status != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", status)
	}

	query := fmt.Sprintf(`{run=%q}`, run)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	for _, tc := range []struct {
		tenant  string
		service string
		events  []string
	}{
		{"team-alpha", "collabmaker", []string{"form.submit", "places.lookup", "spoof.header"}},
		{"team-beta", "shop", []string{"checkout.done"}},
	} {
		got := waitForEntries(t, lokiURL, tc.tenant, query, from, to, len(tc.events))
		time.Sleep(500 * time.Millisecond)
		got = queryRange(t, lokiURL, tc.tenant, query, from, to)
		var names []string
		for _, e := range got {
			if e.Labels["service"] != tc.service {
				t.Errorf("%s: entry %s has service %q, want %q", tc.tenant, e.Line, e.Labels["service"], tc.service)
			}
			if _, ok := e.Labels["__tenant_id__"]; ok {
				t.Errorf("%s: reserved tenant label stored: %v", tc.tenant, e.Labels)
			}
			var line struct{ Event string }
			if err := json.Unmarshal([]byte(e.Line), &line); err != nil {
				t.Fatalf("line %q: %v", e.Line, err)
			}
			names = append(names, line.Event)
		}
		sort.Strings(names)
		if strings.Join(names, ",") != strings.Join(tc.events, ",") {
			t.Errorf("tenant %s sees %v, want %v", tc.tenant, names, tc.events)
		}
	}
	// A tenant nobody writes as sees nothing.
	if got := queryRange(t, lokiURL, "team-gamma", query, from, to); len(got) != 0 {
		t.Errorf("team-gamma sees %d entries", len(got))
	}
}
