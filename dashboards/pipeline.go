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

// pipeline is what the collector says about itself, without a metrics
// backend: dropped batches, Loki holding back, config reloads, errors.
func pipeline() *dashboard.DashboardBuilder {
	return newDashboard("Pipeline health", "curated-pipeline", "alloy-custom's own log lines: batches dropped on the way to Loki, 503s while Loki holds back, config reloads, errors by component.", "pipeline", "now-6h").
		WithVariable(labelVar("env", "Environment", `label_values({component="alloy"}, env)`, false)).
		WithRow(dashboard.NewRowBuilder("At a glance")).
		WithPanel(stat.NewPanelBuilder().Title("Batches dropped").Span(6).Height(4).
			Description("loki.write gave up on a batch after its last retry: acknowledged events were lost.").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 1)).
			WithTarget(instant("A", alloyLineCount("final error sending batch")))).
		WithPanel(stat.NewPanelBuilder().Title("Requests answered 503").Span(6).Height(4).
			Description("The event API answered 503 because loki.write did not take events within forward_timeout (Loki slow or down).").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", alloyLineCount("downstream did not take events in time")))).
		WithPanel(stat.NewPanelBuilder().Title("Config reloads").Span(6).Height(4).
			Description("Config reloads by /-/reload (SIGHUP reloads may not reach Loki). Process starts are not counted: what alloy-custom logs before its logging pipeline runs never reaches Loki.").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum(count_over_time(`+alloyLogs+` |= "reload requested" [$__range]))`))).
		WithPanel(stat.NewPanelBuilder().Title("Error lines").Span(6).Height(4).
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", `sum(count_over_time(`+alloyLogs+` | json level | level="error" [$__range]))`))).
		WithRow(dashboard.NewRowBuilder("Over time")).
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
