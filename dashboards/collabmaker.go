package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Collabmaker's events (testdata/scenarios/collabmaker.json is a day of
// them): form.open (country, browser), form.step (step), form.submit,
// shopify.sync and places.lookup (duration_ms; error and error_type on
// failure, level error).
const cmAll = `{env=~"$env", service=~"$service", source!="container"}`

// count is the number of one event's entries in the range; ok counts only
// those not at level error or fatal.
func count(event string, ok bool, filters string) string {
	sel := cmAll
	if ok {
		sel = `{env=~"$env", service=~"$service", source!="container", level!~"error|fatal"}`
	}
	return `sum(count_over_time(` + sel + ` |= "` + event + `" | json event` + filters + ` | event="` + event + `" [$__range]))`
}

func failed(event string) string {
	return `sum(count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} |= "` + event + `" | json event | event="` + event + `" [$__range]))`
}

func p95(event, window string) string {
	return `quantile_over_time(0.95, ` + cmAll + ` |= "` + event + `" | json event, duration_ms="attributes.duration_ms" | event="` + event + `" | unwrap duration_ms [` + window + `]) by (event)`
}

// recent counts one event in the last 10 minutes, 0 when there is none.
func recent(event string, ok bool) string {
	return `sum(count_over_time(` + selector(ok) + ` |= "` + event + `" | json event | event="` + event + `" [10m])) or vector(0)`
}

// per5m counts one event per Grafana step (5 minutes or more), 0 where
// there is none.
func per5m(event string, ok bool) string {
	return `sum(count_over_time(` + selector(ok) + ` |= "` + event + `" | json event | event="` + event + `" [$__auto])) or vector(0)`
}

func selector(ok bool) string {
	if ok {
		return `{env=~"$env", service=~"$service", source!="container", level!~"error|fatal"}`
	}
	return cmAll
}

// stepFilter keeps form.step events of one step.
func stepFilter(step string) string {
	return `, step="attributes.step" | step="` + step + `"`
}

// collabmaker is the partner application form's health at a glance: the
// funnel, the integrations it depends on, and the submissions that failed.
func collabmaker() *dashboard.DashboardBuilder {
	return newDashboard("Collabmaker form health", "curated-collabmaker", "The partner application form now: alerts, opens and submissions per 5 minutes, the funnel, Shopify and Google Places, errors by browser and release, failed submissions.", "collabmaker", "now-1h").
		WithVariable(labelVar("env", "Environment", `label_values(env)`, false)).
		WithVariable(labelVar("service", "Service", `label_values({env=~"$env", source!="container"}, service)`, false).
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("collabmaker")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("collabmaker")}})).
		WithPanel(alertList("Firing alerts", `{service=~"$service"}`)).
		WithRow(dashboard.NewRowBuilder("Now")).
		WithPanel(stat.NewPanelBuilder().Title("Last 10 minutes").Span(8).Height(6).
			Description("Opened, submit attempts and successful submissions in the last 10 minutes, whatever the range: red at 0.").
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(zeroIsRed()).
			WithTarget(instant("A", recent("form.open", false)).LegendFormat("opened")).
			WithTarget(instant("B", recent("form.submit.attempt", false)).LegendFormat("submit attempts")).
			WithTarget(instant("C", recent("form.submit", true)).LegendFormat("submitted"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Per 5 minutes").Span(16).Height(6).
			Description("Opens, steps, submit attempts and successful submissions per 5 minutes; 0 is drawn, never a gap.").
			Unit("short").Interval("5m").
			WithTarget(series("A", per5m("form.open", false), "opened")).
			WithTarget(series("B", per5m("form.step", false), "steps")).
			WithTarget(series("C", per5m("form.submit.attempt", false), "submit attempts")).
			WithTarget(series("D", per5m("form.submit", true), "submitted"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Integration error ratio").Span(12).Height(7).
			Description("Failed calls as a share of all calls, per integration and country, over time.").
			Unit("percentunit").
			WithTarget(series("A", `sum by (event, country) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} |~ `+"`"+`"event":"[^"]*\.(sync|lookup)"`+"`"+` | json event, country="attributes.country" | event=~`+"`"+`.+\.(sync|lookup)`+"`"+` [$__auto])) / on (event, country) sum by (event, country) (count_over_time(`+cmAll+` |~ `+"`"+`"event":"[^"]*\.(sync|lookup)"`+"`"+` | json event, country="attributes.country" | event=~`+"`"+`.+\.(sync|lookup)`+"`"+` [$__auto]))`, "{{event}} {{country}}"))).
		WithPanel(table.NewPanelBuilder().Title("Errors and conversion by browser and release").Span(12).Height(7).
			Description("Per browser and release in the range: sessions with an uncaught error as a share of sessions, and submissions per form opened. A release that broke one browser stands out.").
			WithTarget(instant("A", `count by (browser, release) (sum by (browser, release, session_id) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} |= "browser.error" | json event, browser="attributes.browser", release="attributes.release" | event="browser.error" [$__range]))) / on (browser, release) count by (browser, release) (sum by (browser, release, session_id) (count_over_time(`+cmAll+` |= "form.open" | json event, browser="attributes.browser", release="attributes.release" | event="form.open" [$__range])))`).LegendFormat("{{browser}} {{release}} errors")).
			WithTarget(instant("B", `sum by (browser, release) (count_over_time({env=~"$env", service=~"$service", source!="container", level!~"error|fatal"} |= "form.submit" | json event, browser="attributes.browser", release="attributes.release" | event="form.submit" [$__range])) / on (browser, release) sum by (browser, release) (count_over_time(`+cmAll+` |= "form.open" | json event, browser="attributes.browser", release="attributes.release" | event="form.open" [$__range]))`).LegendFormat("{{browser}} {{release}} conversion")).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}})).
		WithRow(dashboard.NewRowBuilder("Funnel")).
		WithPanel(bargauge.NewPanelBuilder().Title("Funnel").Span(12).Height(9).
			Description("How many applicants reached each stage in the chosen range.").
			Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic).
			Unit("short").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", count("form.open", false, "")).LegendFormat("1 opened")).
			WithTarget(instant("B", count("form.step", false, stepFilter("2"))).LegendFormat("2 reached step 2")).
			WithTarget(instant("C", count("form.step", false, stepFilter("3"))).LegendFormat("3 reached step 3")).
			WithTarget(instant("D", count("form.submit", true, "")).LegendFormat("4 submitted")).
			WithTarget(instant("E", count("shopify.sync", true, "")).LegendFormat("5 synced to Shopify"))).
		WithPanel(stat.NewPanelBuilder().Title("Conversion between steps").Span(12).Height(9).
			Description("Share of applicants who went on from one stage to the next.").
			Unit("percentunit").Decimals(1).ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", count("form.step", false, stepFilter("2"))+" / "+count("form.open", false, "")).LegendFormat("opened → step 2")).
			WithTarget(instant("B", count("form.step", false, stepFilter("3"))+" / "+count("form.step", false, stepFilter("2"))).LegendFormat("step 2 → step 3")).
			WithTarget(instant("C", count("form.submit", true, "")+" / "+count("form.step", false, stepFilter("3"))).LegendFormat("step 3 → submitted")).
			WithTarget(instant("D", count("form.submit", true, "")+" / "+count("form.open", false, "")).LegendFormat("opened → submitted"))).
		WithRow(dashboard.NewRowBuilder("Integrations")).
		WithPanel(stat.NewPanelBuilder().Title("Failures").Span(8).Height(6).
			Description("Failed submissions, Shopify syncs and Places lookups in the chosen range.").
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(thresholds(1, 5)).
			WithTarget(instant("A", failed("form.submit")).LegendFormat("submissions")).
			WithTarget(instant("B", failed("shopify.sync")).LegendFormat("Shopify syncs")).
			WithTarget(instant("C", failed("places.lookup")).LegendFormat("Places lookups"))).
		WithPanel(stat.NewPanelBuilder().Title("Failure rate").Span(8).Height(6).
			Description("Failed calls as a share of all calls to each integration.").
			Unit("percentunit").Decimals(1).ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(thresholds(0.02, 0.1)).
			WithTarget(instant("A", failed("shopify.sync")+" / "+count("shopify.sync", false, "")).LegendFormat("Shopify")).
			WithTarget(instant("B", failed("places.lookup")+" / "+count("places.lookup", false, "")).LegendFormat("Google Places"))).
		WithPanel(stat.NewPanelBuilder().Title("p95 duration").Span(8).Height(6).
			Description("95th percentile of duration_ms over the chosen range.").
			Unit("ms").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1000, 3000)).
			WithTarget(instant("A", p95("shopify.sync", "$__range")).LegendFormat("Shopify")).
			WithTarget(instant("B", p95("places.lookup", "$__range")).LegendFormat("Google Places"))).
		WithPanel(timeseries.NewPanelBuilder().Title("p95 duration over time").Span(24).Height(8).
			Unit("ms").
			WithTarget(series("A", p95("shopify.sync", "$__auto"), "Shopify")).
			WithTarget(series("B", p95("places.lookup", "$__auto"), "Google Places"))).
		WithRow(dashboard.NewRowBuilder("Who")).
		WithPanel(bargauge.NewPanelBuilder().Title("Forms opened by country").Span(8).Height(8).
			Orientation(common.VizOrientationHorizontal).Unit("short").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum by (country) (count_over_time(`+cmAll+` |= "form.open" | json event, country="attributes.country" | event="form.open" [$__range]))`).LegendFormat("{{country}}"))).
		WithPanel(bargauge.NewPanelBuilder().Title("Forms opened by browser").Span(8).Height(8).
			Orientation(common.VizOrientationHorizontal).Unit("short").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum by (browser) (count_over_time(`+cmAll+` |= "form.open" | json event, browser="attributes.browser" | event="form.open" [$__range]))`).LegendFormat("{{browser}}"))).
		WithPanel(bargauge.NewPanelBuilder().Title("Failures by country").Span(8).Height(8).
			Orientation(common.VizOrientationHorizontal).Unit("short").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum by (country, event) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} | json event, country="attributes.country" | country!="" [$__range]))`).LegendFormat("{{country}} {{event}}"))).
		WithRow(dashboard.NewRowBuilder("Act on it")).
		WithPanel(table.NewPanelBuilder().Title("Recent failed submissions").Span(12).Height(10).
			Description("Each failed submission with the session to look up, the step and the error.").
			WithTarget(logLines("A", `{env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} |= "form.submit" | json event, step="attributes.step", error="attributes.error", error_type="attributes.error_type", country="attributes.country" | event="form.submit"`)).
			WithTransformation(dashboard.DataTransformerConfig{Id: "extractFields", Options: map[string]any{"source": "labels"}}).
			WithTransformation(organize(
				[2]string{"Time", "Time"}, [2]string{"session_id", "Session"}, [2]string{"trace_id", "Trace"},
				[2]string{"step", "Step"}, [2]string{"error", "Error"}, [2]string{"error_type", "Error type"},
				[2]string{"country", "Country"},
			))).
		WithPanel(logs.NewPanelBuilder().Title("Container errors").Span(12).Height(10).
			Description("Error lines and stack traces the service's containers wrote in the same range (docs/container-logs.md): " +
				"the stack trace behind a failed submission of the same minute.").
			ShowTime(true).WrapLogMessage(true).EnableLogDetails(true).SortOrder(common.LogsSortOrderDescending).
			WithTarget(logLines("A", containerErrors)))
}

// containerErrors are the service's container lines (configs/
// container_logs.alloy) that mention an error, an exception (Java's
// IllegalStateException, Python's ValueError too), a panic, a fatal or a
// traceback.
const containerErrors = `{env=~"$env", service=~"$service", source="container"} |~ "(?i)(error|exception|panic|fatal|traceback)"`
