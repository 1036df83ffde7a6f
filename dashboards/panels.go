package main

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/loki"
)

// Every query reads from the dashboard's datasource variable, so one
// dashboard serves any Loki the viewer picks.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("loki"), Uid: cog.ToPtr("${datasource}")}
}

// instant is a query evaluated once over the dashboard's range (stat,
// table, bar gauge panels use [$__range]).
func instant(ref, expr string) *loki.DataqueryBuilder {
	return loki.NewDataqueryBuilder().RefId(ref).Expr(expr).Datasource(datasource()).
		QueryType("instant").Instant(true).Range(false)
}

// series is a query evaluated over time (time series panels use
// [$__auto], Grafana's step).
func series(ref, expr, legend string) *loki.DataqueryBuilder {
	return loki.NewDataqueryBuilder().RefId(ref).Expr(expr).Datasource(datasource()).
		QueryType("range").Range(true).LegendFormat(legend)
}

// logLines is a log query: the newest lines first.
func logLines(ref, expr string) *loki.DataqueryBuilder {
	return loki.NewDataqueryBuilder().RefId(ref).Expr(expr).Datasource(datasource()).
		QueryType("range").Range(true).MaxLines(100).Direction(loki.LokiQueryDirectionBackward)
}

// newDashboard starts a dashboard of the alloy-curated folder: refreshed
// every minute, in the viewer's time zone, over the last from.
func newDashboard(title, uid, description, tag, from string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).Uid(uid).Description(description).
		Tags([]string{"alloy-curated", tag}).Time(from, "now").Refresh("1m").
		Timezone(common.TimeZoneBrowser).WithVariable(datasourceVar())
}

func datasourceVar() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("loki")
}

// labelVar lists a label's values in the chosen range; multi adds "All"
// (every value, as a regex).
func labelVar(name, label, query string, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).Label(label).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Datasource(datasource()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if multi {
		v = v.Multi(true).IncludeAll(true).AllValue(".+")
	}
	return v
}

// levelVar picks levels; the event API's five.
func levelVar() *dashboard.CustomVariableBuilder {
	return dashboard.NewCustomVariableBuilder("level").Label("Level").
		Values(dashboard.StringOrMap{String: cog.ToPtr("debug,info,warn,error,fatal")}).
		Multi(true).IncludeAll(true).AllValue(".+").
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}})
}

// eventVar filters event names with a regular expression (event names live
// in the log line, not in a label, so Loki cannot list them).
func eventVar() *dashboard.TextBoxVariableBuilder {
	return dashboard.NewTextBoxVariableBuilder("event").Label("Event (regex)").
		DefaultValue(dashboard.StringOrMap{String: cog.ToPtr(".+")}).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr(".+")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(".+")}})
}

func reduce(calc string) *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{calc}).Values(false)
}

// thresholds: green below warn, orange from warn, red from crit.
func thresholds(warn, crit float64) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Color: "green"},
		{Value: cog.ToPtr(warn), Color: "orange"},
		{Value: cog.ToPtr(crit), Color: "red"},
	})
}

// zeroIsRed: red at 0, green from 1. A count that drops to zero is the
// news; with "or vector(0)" the query returns 0 instead of no data.
func zeroIsRed() *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Color: "red"},
		{Value: cog.ToPtr(1.0), Color: "green"},
	})
}

// alertList lists the firing alerts of the provisioned Alertmanager
// datasource (uid alertmanager) whose labels match filter, for the top of
// a dashboard. The foundation SDK has no builder for this panel type.
// Watchdog, the always-firing heartbeat, is left out: it says nothing
// about a service.
func alertList(title, filter string) *dashboard.PanelBuilder {
	filter = strings.TrimSuffix(filter, "}") + `, alertname!="Watchdog"}`
	return dashboard.NewPanelBuilder().Type("alertlist").Title(title).Span(24).Height(5).
		Description("Alerts firing now (Alertmanager), for this dashboard's service.").
		Options(map[string]any{
			"viewMode": "list", "groupMode": "default", "groupBy": []string{}, "maxItems": 20,
			"sortOrder": 1, "dashboardAlerts": false, "alertName": "", "alertInstanceLabelFilter": filter,
			"datasource":  "Alertmanager",
			"stateFilter": map[string]bool{"firing": true, "pending": true, "noData": false, "normal": false, "error": true},
		})
}

// organize keeps, orders and renames the columns of a table.
func organize(columns ...[2]string) dashboard.DataTransformerConfig {
	index := map[string]int{}
	rename := map[string]string{}
	for i, c := range columns {
		index[c[0]] = i
		rename[c[0]] = c[1]
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
		"indexByName": index, "renameByName": rename, "excludeByName": map[string]bool{"Line": true, "id": true, "tsNs": true, "labels": true},
	}}
}
