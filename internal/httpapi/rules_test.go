package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/grafana/alloy/curated/internal/entry"
	"github.com/grafana/alloy/curated/internal/rules"
)

func rulesConfig(t *testing.T) Config {
	t.Helper()
	p, err := rules.Compile(rules.Config{
		Drops:   []rules.DropConfig{{Name: "noise", Events: []string{"debug.*"}}},
		Samples: []rules.SampleConfig{{Name: "views", Events: []string{"page.view"}, Rate: 0}},
		Redact:  rules.DefaultRedact(),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Limits.MaxEventsPerRequest = 10
	cfg.Rules = p
	cfg.Builder = entry.MustBuilder(entry.Config{MaxPast: 1 << 62, MaxFuture: 1 << 62,
		LabelFields: []string{"attributes.step"}, MaxLabelValueLength: 16, MaxDistinctValues: 1})
	return cfg
}

func TestRulesInTheHandler(t *testing.T) {
	f := newFixtureWith(t, rulesConfig(t))
	r := f.post(t, "application/json", `[
		{"event":"form.submit","message":"mail jane@example.com","attributes":{"step":1}},
		{"event":"debug.trace"},
		{"event":"page.view","session_id":"s1"},
		{"event":"form.submit","attributes":{"step":2,"password":"hunter2"}}]`)
	if r.status != http.StatusAccepted || r.body.Accepted != 2 || r.body.Dropped != 2 || r.body.Rejected != 0 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	got := f.fwd.got()
	if got[0].Entry.Line != `{"event":"form.submit","message":"mail [REDACTED:email]"}` ||
		got[1].Entry.Line != `{"event":"form.submit","attributes":{"password":"[REDACTED]"}}` {
		t.Errorf("lines: %s | %s", got[0].Entry.Line, got[1].Entry.Line)
	}
	if got[0].Labels["step"] != "1" || got[1].Labels["step"] != entry.OverflowValue {
		t.Errorf("step labels: %v %v", got[0].Labels, got[1].Labels)
	}
	for _, c := range []struct {
		v    float64
		want float64
		what string
	}{
		{promtest.ToFloat64(f.h.metrics.dropped.WithLabelValues("noise")), 1, "events_dropped_total{rule=noise}"},
		{promtest.ToFloat64(f.h.metrics.sampledOut.WithLabelValues("views")), 1, "events_sampled_out_total{rule=views}"},
		{promtest.ToFloat64(f.h.metrics.redacted.WithLabelValues("email")), 1, "redactions_total{pattern=email}"},
		{promtest.ToFloat64(f.h.metrics.redacted.WithLabelValues("key")), 1, "redactions_total{pattern=key}"},
		{promtest.ToFloat64(f.h.metrics.labelOverflow.WithLabelValues("step")), 1, "label_overflow_total{label=step}"},
	} {
		if c.v != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.v, c.want)
		}
	}

	// Every event dropped by rules is still a success: nothing to retry.
	r = f.post(t, "application/json", `{"event":"debug.trace"}`)
	if r.status != http.StatusAccepted || r.body.Accepted != 0 || r.body.Dropped != 1 {
		t.Errorf("all dropped: %d %s", r.status, r.raw)
	}
}

func TestValidateShowsRulesFired(t *testing.T) {
	f := newFixtureWith(t, rulesConfig(t))
	r := f.do(t, http.MethodPost, PathValidate, map[string]string{"Content-Type": "application/json"}, []byte(`[
		{"event":"form.submit","message":"from 203.0.113.9","attributes":{"step":7}},
		{"event":"debug.trace"}]`))
	if r.status != http.StatusOK || len(r.body.Results) != 2 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if want := []string{"redact:ipv4:message"}; !slices.Equal(r.body.Results[0].Rules, want) {
		t.Errorf("rules fired = %v, want %v", r.body.Results[0].Rules, want)
	}
	if res := r.body.Results[1]; res.DroppedBy != "noise" || res.Accepted || !slices.Equal(res.Rules, []string{"drop:noise"}) {
		t.Errorf("dropped result = %+v", res)
	}
	if len(f.fwd.got()) != 0 || promtest.ToFloat64(f.h.metrics.dropped.WithLabelValues("noise")) != 0 {
		t.Error("validate forwarded or counted")
	}
	if !strings.Contains(r.raw, `"dropped":1`) {
		t.Errorf("response: %s", r.raw)
	}
}
