package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// detection is one failure -> notification cycle, in seconds after the POST
// of the failing event.
type detection struct {
	visible  float64 // the event is queryable in Loki (loki.write's batch, push, ingest)
	active   float64 // the ruler's evaluation that found it (the alert's startsAt)
	received float64 // Alertmanager has the alert
	notified float64 // the webhook got the notification (group_wait, send)
}

// BenchmarkAlertDetection measures detection time with every part real
// (make bench-alerts): each iteration posts one failed Shopify sync from a
// service of its own (a new alert group, as a real first failure is) at a
// random moment of the ruler's 10 s cycle, and times the stages until the
// webhook has the notification. It reports p50/p95/max and writes
// .cache/bench/alerts.md; docs/alerts.md holds the numbers.
func BenchmarkAlertDetection(b *testing.B) {
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	in := newInbox(b)
	am := startAlertmanager(b, "ALERT_WEBHOOK_URL="+in.srv.URL+"/hook")
	loki := newLokiWithRules(b, am.url)
	// The shipped configs' loki.write batching (Alloy's default batch_wait
	// of 1 s), not the tests' 100 ms.
	a := startAlloy(b, func(port int) string {
		return fmt.Sprintf(`
loki.source.curated_api "events" {
	http {
		listen_address = "127.0.0.1"
		listen_port    = %d
	}
	labels     = {env = "bench"}
	forward_to = [loki.write.loki.receiver]
}

loki.write "loki" {
	endpoint {
		url = "%s/loki/api/v1/push"
	}
}
`, port, loki.url)
	})
	waitEvaluatedAfter(b, loki.url, "IntegrationFailing", time.Now(), 60*time.Second)
	r := &alertRig{inbox: in, am: am, loki: loki, alloy: a}

	var runs []detection
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A failure happens at any moment of the evaluation cycle.
		time.Sleep(rand.N(10 * time.Second))
		service := fmt.Sprintf("bench-%s-%d-%d", run, b.N, i)
		// The third failure of a Shopify outage (fewer can be stray
		// errors), from sessions of their own: the time from it to the
		// notification.
		var failures []map[string]any
		for s := 1; s <= 3; s++ {
			e := event("shopify.sync", service, "error", map[string]any{"http_status": 502})
			e["session_id"] = fmt.Sprintf("s-%d", s)
			failures = append(failures, e)
		}
		posted := r.send(b, failures...)
		runs = append(runs, r.measure(b, service, posted))
	}
	b.StopTimer()

	total := make([]float64, len(runs))
	for i, d := range runs {
		total[i] = d.notified
	}
	slices.Sort(total)
	b.ReportMetric(percentile(total, 50), "p50-s")
	b.ReportMetric(percentile(total, 95), "p95-s")
	b.ReportMetric(total[len(total)-1], "max-s")
	b.ReportMetric(0, "ns/op")
	if b.N > 1 {
		writeDetectionReport(b, runs)
	}
}

// measure watches Loki, Alertmanager and the webhook until the notification
// for service arrives, and times each stage from posted.
func (r *alertRig) measure(b *testing.B, service string, posted time.Time) detection {
	var d detection
	since := func(t time.Time) float64 { return t.Sub(posted).Seconds() }
	deadline := time.Now().Add(2 * time.Minute)
	for d.notified == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("%s: no notification within 2 min (%+v)", service, d)
		}
		now := time.Now()
		if d.visible == 0 && len(queryRange(b, r.loki.url, "", fmt.Sprintf(`{service=%q}`, service), posted.Add(-time.Minute), now)) > 0 {
			d.visible = since(now)
		}
		if d.received == 0 {
			for _, al := range r.am.alerts(b) {
				if al.Labels["service"] == service {
					d.active, d.received = since(al.StartsAt), since(now)
				}
			}
		}
		for _, n := range r.inbox.notifications(b) {
			if n.Status == "firing" && n.CommonLabels["service"] == service {
				d.notified = since(n.arrived)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

func percentile(sorted []float64, p float64) float64 {
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func writeDetectionReport(b *testing.B, runs []detection) {
	col := func(f func(detection) float64) []float64 {
		out := make([]float64, len(runs))
		for i, d := range runs {
			out[i] = f(d)
		}
		slices.Sort(out)
		return out
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Alert detection time (%s, %d cycles)\n\n", time.Now().UTC().Format(time.RFC3339), len(runs))
	sb.WriteString("Seconds from the POST of the third failing sync to each stage (IntegrationFailing, a new alert group each cycle).\n\n")
	sb.WriteString("| stage (cumulative) | p50 | p95 | max |\n|---|---|---|---|\n")
	for _, s := range []struct {
		name string
		f    func(detection) float64
	}{
		{"queryable in Loki (loki.write batch_wait 1 s, push)", func(d detection) float64 { return d.visible }},
		{"ruler evaluation that fired (startsAt; interval 10 s)", func(d detection) float64 { return d.active }},
		{"in Alertmanager (ruler notifier)", func(d detection) float64 { return d.received }},
		{"webhook notified (group_wait 5 s, send)", func(d detection) float64 { return d.notified }},
	} {
		v := col(s.f)
		fmt.Fprintf(&sb, "| %s | %.1f | %.1f | %.1f |\n", s.name, percentile(v, 50), percentile(v, 95), v[len(v)-1])
	}
	sb.WriteString("\nEach cycle (visible / active / received / notified):\n\n")
	for i, d := range runs {
		fmt.Fprintf(&sb, "%2d. %.2f / %.2f / %.2f / %.2f\n", i+1, d.visible, d.active, d.received, d.notified)
	}
	dir := filepath.Join(repoRoot, ".cache", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.md"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("\n%s", sb.String())
}
