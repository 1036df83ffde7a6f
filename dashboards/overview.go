package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Selectors of the events overview. Labels are env, service and level
// (docs/api.md); the event name is in the line.
const (
	ovEvents = `{env=~"$env", service=~"$service", source!="container", level=~"$level"} | json event | event=~"$event"`
	ovAll    = `{env=~"$env", service=~"$service", source!="container"} | json event | event=~"$event"`
	ovErrors = `{env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} | json event | event=~"$event"`
)

// overview answers "what are my services sending, and what fails?" for
// any service that sends events.
func overview() *dashboard.DashboardBuilder {
	return newDashboard("Events overview", "curated-events-overview", "Every service sending curated events: volume, errors, top failures, latest errors, last event seen.", "events", "now-1h").
		WithVariable(labelVar("env", "Environment", `label_values(env)`, false)).
		WithVariable(labelVar("service", "Service", `label_values({env=~"$env", source!="container"}, service)`, true)).
		WithVariable(levelVar()).
		WithVariable(eventVar()).
		WithPanel(alertList("Firing alerts", `{service=~"$service"}`)).
		WithRow(dashboard.NewRowBuilder("At a glance")).
		WithPanel(stat.NewPanelBuilder().Title("Events").Span(4).Height(4).
			Description("Events stored in the chosen range (level and event filters apply).").
			Unit("short").ReduceOptions(reduce("lastNotNull")).
			WithTarget(instant("A", `sum(count_over_time(`+ovEvents+` [$__range]))`))).
		WithPanel(stat.NewPanelBuilder().Title("Errors").Span(4).Height(4).
			Description("Events at level error or fatal in the chosen range.").
			Unit("short").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 10)).
			WithTarget(instant("A", `sum(count_over_time(`+ovErrors+` [$__range]))`))).
		WithPanel(stat.NewPanelBuilder().Title("Error ratio").Span(4).Height(4).
			Description("Errors as a share of all events of the chosen services and events.").
			Unit("percentunit").Decimals(1).ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(0.01, 0.05)).
			WithTarget(instant("A", `sum(count_over_time(`+ovErrors+` [$__range])) / sum(count_over_time(`+ovAll+` [$__range]))`))).
		WithPanel(stat.NewPanelBuilder().Title("Last event seen").Span(6).Height(4).
			Description("When each service last sent an event: a service that went quiet stands out.").
			Unit("dateTimeFromNow").
			ReduceOptions(reduce("lastNotNull").Fields("/^Time$/")).
			WithTarget(series("A", `sum by (service) (count_over_time({env=~"$env", service=~"$service", source!="container"} [1m]))`, "{{service}}"))).
		WithPanel(stat.NewPanelBuilder().Title("Batches lost on the way to Loki").Span(6).Height(4).
			Description("Batches loki.write dropped after its last retry (from alloy-custom's own logs; details in Pipeline health). Rejected events are counted in alloy-custom's metrics, not in Loki.").
			Unit("short").NoValue("0").ReduceOptions(reduce("lastNotNull")).Thresholds(thresholds(1, 1)).
			WithTarget(instant("A", `sum(count_over_time({component="alloy", env=~"$env"} |= "final error sending batch" [$__range]))`))).
		WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(timeseries.NewPanelBuilder().Title("Events per second by event").Span(12).Height(8).
			Unit("reqps").
			WithTarget(series("A", `sum by (service, event) (rate(`+ovEvents+` [$__auto]))`, "{{service}} {{event}}"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Errors and warnings by event").Span(12).Height(8).
			Unit("short").
			WithTarget(series("A", `sum by (service, event, level) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"warn|error|fatal"} | json event | event=~"$event" [$__auto]))`,
				"{{service}} {{event}} {{level}}"))).
		WithRow(dashboard.NewRowBuilder("What fails")).
		WithPanel(table.NewPanelBuilder().Title("Top errors").Span(12).Height(8).
			Description("The ten most frequent error events, by message and error (the SDKs' error attribute).").
			WithTarget(instant("A", `topk(10, sum by (service, event, message, error) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} | json event, message, error="attributes.error" | event=~"$event" [$__range])))`)).
			WithTransformation(dashboard.DataTransformerConfig{Id: "reduce", Options: map[string]any{"reducers": []string{"lastNotNull"}, "mode": "seriesToRows"}})).
		WithPanel(table.NewPanelBuilder().Title("Top error types").Span(12).Height(8).
			Description("Errors by the SDKs' error_type attribute (the exception class).").
			WithTarget(instant("A", `topk(10, sum by (service, event, error_type) (count_over_time({env=~"$env", service=~"$service", source!="container", level=~"error|fatal"} | json event, error_type="attributes.error_type" | event=~"$event" | error_type!="" [$__range])))`).LegendFormat("{{error_type}}"))).
		WithPanel(logs.NewPanelBuilder().Title("Latest errors").Span(24).Height(12).
			Description("The newest error events with all their attributes; expand a line for its session and trace IDs.").
			ShowTime(true).WrapLogMessage(true).PrettifyLogMessage(true).EnableLogDetails(true).SortOrder(common.LogsSortOrderDescending).
			WithTarget(logLines("A", ovErrors)))
}
