package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// alloyLogs are alloy-custom's own log lines (JSON), which configs/loki.alloy
// and configs/fargate.alloy send to Loki with `logging { write_to }`.
const alloyLogs = `{component="alloy", env=~"$env"}`

func alloyLineCount(filter string) string {
	return `sum(count_over_time(` + alloyLogs + ` |= "` + filter + `" [$__range]))`
}

// reports are the component's self-report events (docs/loki.source.curated_api.md).
const reports = `{service="alloy-curated", env=~"$env"}`

func reported(field, window string) string {
	return `sum(sum_over_time(` + reports + ` |= "curated.pipeline" | json event, n="attributes.` + field + `" | event="curated.pipeline" | unwrap n [` + window + `]))`
}

// pipeline is what the collector says about itself, without a metrics
// backend: its self-report (requests, refusals by client and status,
// events not forwarded) and its own log lines (dropped batches, config
// reloads, errors).
func pipeline() *dashboard.DashboardBuilder {
	return newDashboard("Pipeline health", "curated-pipeline", "The collector's self-report (accepted, refused by client and status, not forwarded) and alloy-custom's own log lines: batches dropped on the way to Loki, config reloads, errors by component.", "pipeline", "now-1h").
		WithVariable(labelVar("env", "Environment", `label_values({service="alloy-curated"}, env)`, false)).
		WithPanel(alertList("Firing alerts", `{service="alloy-curated"}`)).
		WithRow(dashboard.NewRowBuilder("Self-report")).
		WithPanel(stat.NewPanelBuilder().Title("Reports in the last 5 minutes").Span(6).Height(4).
			Description("Every collector reports once a minute; 0 means they are down or their events no longer reach Loki.").
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(zeroIsRed()).
			WithTarget(instant("A", `sum(count_over_time(`+reports+` |= "curated.pipeline" [5m])) or vector(0)`))).
		WithPanel(stat.NewPanelBuilder().Title("Events accepted").Span(6).Height(4).
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").
			WithTarget(instant("A", reported("accepted", "$__range")))).
		WithPanel(stat.NewPanelBuilder().Title("Requests refused").Span(6).Height(4).
			Description("Requests to /v1/events answered with an error status (4xx, 503).").
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", reported("refused", "$__range")+" or vector(0)"))).
		WithPanel(stat.NewPanelBuilder().Title("Events not forwarded").Span(6).Height(4).
			Description("Events answered 503 because loki.write did not take them within forward_timeout (Loki slow or down).").
			Unit("short").ReduceOptions(reduce("lastNotNull")).NoValue("0").Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", reported("not_forwarded", "$__range")+" or vector(0)"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Refused requests by client and status").Span(12).Height(8).
			Unit("short").
			WithTarget(series("A", `sum by (client, status) (sum_over_time(`+reports+` |= "curated.refused" | json event, client="attributes.client", status="attributes.status", n="attributes.count" | event="curated.refused" | unwrap n [$__auto]))`, "{{client}} {{status}}"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Accepted and not forwarded").Span(12).Height(8).
			Unit("short").
			WithTarget(series("A", reported("accepted", "$__auto"), "accepted")).
			WithTarget(series("B", reported("not_forwarded", "$__auto")+" or vector(0)", "not forwarded"))).
		WithRow(dashboard.NewRowBuilder("Log lines")).
		WithPanel(stat.NewPanelBuilder().Title("Batches dropped").Span(8).Height(4).
			Description("loki.write gave up on a batch after its last retry: acknowledged events were lost.").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 1)).
			WithTarget(instant("A", alloyLineCount("final error sending batch")))).
		WithPanel(stat.NewPanelBuilder().Title("Config reloads").Span(8).Height(4).
			Description("Config reloads by /-/reload (SIGHUP reloads may not reach Loki). Process starts are not counted: what alloy-custom logs before its logging pipeline runs never reaches Loki.").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum(count_over_time(`+alloyLogs+` |= "reload requested" [$__range]))`))).
		WithPanel(stat.NewPanelBuilder().Title("Error lines").Span(8).Height(4).
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", `sum(count_over_time(`+alloyLogs+` | json level | level="error" [$__range]))`))).
		WithPanel(timeseries.NewPanelBuilder().Title("Warnings and errors by component").Span(12).Height(8).
			Unit("short").
			WithTarget(series("A", `sum by (component_id, level) (count_over_time(`+alloyLogs+` | json level, component_id | level=~"warn|error" [$__auto]))`, "{{component_id}} {{level}}"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Log lines by level").Span(12).Height(8).
			Unit("short").
			WithTarget(series("A", `sum by (level) (count_over_time(`+alloyLogs+` | json level [$__auto]))`, "{{level}}"))).
		WithPanel(logs.NewPanelBuilder().Title("Warnings and errors").Span(24).Height(12).
			ShowTime(true).WrapLogMessage(true).PrettifyLogMessage(true).EnableLogDetails(true).SortOrder(common.LogsSortOrderDescending).
			WithTarget(logLines("A", alloyLogs+` | json level | level=~"warn|error"`)))
}
