package main

import (
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls against the simulator (targets: binary ≤ 20 MB, idle RSS ≤ 20 MB).
//
//	go test ./cmd/gatehouse-adapter-servicenow -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	up := httptest.NewServer(sim.New(sim.Options{}))
	defer up.Close()
	kittest.MeasureFootprint(b, kittest.Footprint{
		Package: ".", Upstream: up.URL, Count: 50,
		Env: []string{"GATEHOUSE_SECRET_SERVICENOW_CLIENT_ID=" + sim.DefaultClientID,
			"GATEHOUSE_SECRET_SERVICENOW_CLIENT_SECRET=" + sim.DefaultClientSecret},
		Calls: []mcp.CallToolParams{
			{Name: "search_incidents", Arguments: map[string]any{"state": "open"}},
			{Name: "get_incident", Arguments: map[string]any{"number": "INC0000001"}},
			{Name: "get_change", Arguments: map[string]any{"number": "CHG0000001"}},
			{Name: "find_configuration_items", Arguments: map[string]any{"name": "lon-"}},
			{Name: "get_ci_relationships", Arguments: map[string]any{"name": "lon-b1-core-01"}},
		},
	})
	for i := 0; i < b.N; i++ {
	}
}
