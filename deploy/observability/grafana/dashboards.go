// Package grafana defines Gatehouse's Grafana dashboards as code (the Grafana Foundation SDK)
// and writes them as JSON beside this file (go generate). Every panel's PromQL is in Panels,
// so the test that runs a real Prometheus against the dev platform runs exactly these queries.
//
// The queries assume scrape jobs named after the components (JobAuthz, AdapterJob) and the
// recording rules in ../prometheus/recording.yml.
package grafana

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

//go:generate go run ./gen

// JobAuthz is the scrape job of the authz service.
const JobAuthz = "gatehouse-authz"

// AdapterJob is the scrape job of an adapter.
func AdapterJob(server string) string { return "gatehouse-adapter-" + server }

// Adapters are the adapters with a dashboard each.
var Adapters = []string{"catalyst-center", "servicenow", "github", "radkit", "deployments"}

// Panel is one dashboard panel.
type Panel struct {
	Title, Description string
	Query, Legend      string
	Unit               string
	Stat               bool // a single number rather than a time series
	// Needs names a component the dev platform does not run (vault): its query is checked
	// by Prometheus but may be empty there.
	Needs string
}

// Dashboard is one generated dashboard.
type Dashboard struct {
	UID, Title, Description string
	Panels                  []Panel
}

// Dashboards are all of Gatehouse's dashboards.
func Dashboards() []Dashboard {
	ds := []Dashboard{edge(), authz()}
	for _, a := range Adapters {
		ds = append(ds, adapter(a))
	}
	return append(ds, workflows())
}

func edge() Dashboard {
	return Dashboard{UID: "gatehouse-edge", Title: "Gatehouse / Edge",
		Description: "What callers get at the edge: every MCP request is authenticated and decided by the authz service before Envoy forwards it.",
		Panels: []Panel{
			{Title: "Requests by outcome", Unit: "reqps", Legend: "{{outcome}}",
				Query: `sum by (outcome) (gatehouse:authz_decisions:rate5m)`},
			{Title: "Requests by server", Unit: "reqps", Legend: "{{server}}",
				Query: `sum by (server) (gatehouse:authz_decisions:rate5m)`},
			{Title: "Authentication by outcome", Unit: "reqps", Legend: "{{outcome}}",
				Query: `gatehouse:authn:rate5m`},
			{Title: "Authentication failures by reason", Unit: "reqps", Legend: "{{reason}}",
				Query: `sum by (reason) (rate(gatehouse_authn_failures_total[5m]))`},
			{Title: "Authentication p99", Unit: "s", Query: `gatehouse:authn_duration_seconds:p99_5m`},
			{Title: "Denied share", Unit: "percentunit", Stat: true,
				Query: `sum(gatehouse:authz_decisions:rate5m{outcome=~"deny|unauthenticated"}) / clamp_min(sum(gatehouse:authz_decisions:rate5m), 1e-9)`},
		}}
}

func authz() Dashboard {
	return Dashboard{UID: "gatehouse-authz", Title: "Gatehouse / Authz",
		Description: "The authz service: decisions per resource, their latency, policy revisions and the process.",
		Panels: []Panel{
			{Title: "Decisions per server and method", Unit: "reqps", Legend: "{{server}} {{method}} {{outcome}}",
				Query: `gatehouse:authz_decisions:rate5m`},
			{Title: "Fail-closed ratio", Unit: "percentunit", Stat: true, Query: `gatehouse:authz_error_ratio:rate5m`},
			{Title: "Decision latency p99", Unit: "s", Query: `gatehouse:authz_duration_seconds:p99_5m`},
			{Title: "Decision latency p50", Unit: "s",
				Query: `histogram_quantile(0.5, sum by (le) (rate(gatehouse_authz_duration_seconds_bucket[5m])))`},
			{Title: "Wait for an evaluation slot p99", Unit: "s",
				Query: `histogram_quantile(0.99, sum by (le) (rate(gatehouse_authz_queue_seconds_bucket[5m])))`},
			{Title: "Policy revision in service", Legend: "{{revision}}", Stat: true,
				Query: `max by (revision) (gatehouse_policy_revision_info)`},
			{Title: "Policy loads by outcome", Legend: "{{outcome}}",
				Query: `sum by (outcome) (increase(gatehouse_policy_reloads_total[1h]))`},
			{Title: "CPU", Unit: "percentunit", Legend: "{{instance}}",
				Query: `rate(process_cpu_seconds_total{job="` + JobAuthz + `"}[5m])`},
			{Title: "Resident memory", Unit: "bytes", Legend: "{{instance}}",
				Query: `process_resident_memory_bytes{job="` + JobAuthz + `"}`},
		}}
}

func adapter(server string) Dashboard {
	job := AdapterJob(server)
	sel := `{server="` + server + `"}`
	d := Dashboard{UID: "gatehouse-adapter-" + server, Title: "Gatehouse / Adapter / " + server,
		Description: "The " + server + " adapter: latency and errors per tool, its upstream, secrets and the process.",
		Panels: []Panel{
			{Title: "Tool latency p50", Unit: "s", Legend: "{{tool}}", Query: `gatehouse:tool_duration_seconds:p50_5m` + sel},
			{Title: "Tool latency p95", Unit: "s", Legend: "{{tool}}", Query: `gatehouse:tool_duration_seconds:p95_5m` + sel},
			{Title: "Tool latency p99", Unit: "s", Legend: "{{tool}}", Query: `gatehouse:tool_duration_seconds:p99_5m` + sel},
			{Title: "Tool calls by outcome", Unit: "reqps", Legend: "{{tool}} {{outcome}}",
				Query: `sum by (tool, outcome) (rate(gatehouse_tool_calls_total` + sel + `[5m]))`},
			{Title: "Tool error ratio", Unit: "percentunit", Legend: "{{tool}}", Query: `gatehouse:tool_error_ratio:rate5m` + sel},
			{Title: "CPU", Unit: "percentunit", Legend: "{{instance}}",
				Query: `rate(process_cpu_seconds_total{job="` + job + `"}[5m])`},
			{Title: "Resident memory", Unit: "bytes", Legend: "{{instance}}",
				Query: `process_resident_memory_bytes{job="` + job + `"}`},
		}}
	if server == "deployments" {
		return d // its upstream is Temporal, on the workflows dashboard; it reads no secrets
	}
	d.Panels = append(d.Panels,
		Panel{Title: "Upstream requests by status", Unit: "reqps", Legend: "{{status}}",
			Query: `sum by (status) (rate(gatehouse_upstream_requests_total` + sel + `[5m]))`},
		Panel{Title: "Vault operations", Unit: "reqps", Legend: "{{operation}} {{outcome}}", Needs: "vault",
			Query: `sum by (operation, outcome) (rate(gatehouse_vault_operation_duration_seconds_count{job="` + job + `"}[5m]))`},
	)
	return d
}

func workflows() Dashboard {
	job := AdapterJob("deployments")
	return Dashboard{UID: "gatehouse-workflows", Title: "Gatehouse / Workflows",
		Description: "Template deployments (Temporal workflows): where they are and who is waiting for approval.",
		Panels: []Panel{
			{Title: "Deployments by state", Legend: "{{state}}", Query: `max by (state) (gatehouse_deployments)`},
			{Title: "Waiting for approval", Stat: true, Query: `max(gatehouse_deployments{state="awaiting_approval"})`},
			{Title: "Oldest approval wait", Unit: "s", Stat: true, Query: `max(gatehouse_deployments_awaiting_approval_oldest_seconds)`},
			{Title: "Listing from Temporal", Stat: true, Query: `min(gatehouse_deployments_listing_up{job="` + job + `"})`},
			{Title: "Deployment tool calls", Unit: "reqps", Legend: "{{tool}} {{outcome}}",
				Query: `sum by (tool, outcome) (rate(gatehouse_tool_calls_total{server="deployments"}[5m]))`},
		}}
}

// datasource is the Prometheus data source, chosen when the dashboard is imported.
func datasource() common.DataSourceRef {
	typ, uid := "prometheus", "${datasource}"
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// JSON renders d as Grafana dashboard JSON.
func JSON(d Dashboard) ([]byte, error) {
	// The classic dashboard model: file provisioning and import take it on every Grafana
	// release; the v2 schema needs Grafana 12 with a feature toggle.
	//lint:ignore SA1019 v1 is the model operators can load today
	b := dashboard.NewDashboardBuilder(d.Title).Uid(d.UID).Description(d.Description).
		Tags([]string{"gatehouse"}).Refresh("30s").Time("now-6h", "now").
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
	for _, p := range d.Panels {
		target := prometheus.NewDataqueryBuilder().Expr(p.Query).LegendFormat(p.Legend).RefId("A").Datasource(datasource())
		var panel cog.Builder[dashboard.Panel]
		if p.Stat {
			panel = stat.NewPanelBuilder().Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource()).
				Height(6).Span(6).WithTarget(target)
		} else {
			panel = timeseries.NewPanelBuilder().Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource()).
				Height(8).Span(12).WithTarget(target)
		}
		b = b.WithPanel(panel)
	}
	out, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	j, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	return append(j, '\n'), nil
}
