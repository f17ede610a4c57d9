package main

import (
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls against the simulator (targets: binary ≤ 20 MB, idle RSS ≤ 20 MB).
//
//	go test ./cmd/gatehouse-adapter-catalyst-center -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	up := httptest.NewServer(sim.New(sim.Options{}))
	defer up.Close()
	kittest.MeasureFootprint(b, kittest.Footprint{
		Package: ".", Upstream: up.URL, Count: 50,
		Env:   []string{"GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME=admin", "GATEHOUSE_SECRET_CATALYST_CENTER_PASSWORD=C1sco12345"},
		Calls: []mcp.CallToolParams{{Name: "list_devices"}, {Name: "get_topology"}, {Name: "list_issues"}, {Name: "get_site_health"}},
	})
	for i := 0; i < b.N; i++ {
	}
}
