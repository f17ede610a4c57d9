package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls (starting, reading and listing deployments) against a real Temporal dev server
// with a worker and the simulators. It is kittest.MeasureFootprint's measurement for an
// adapter whose upstream is Temporal (no --upstream, no secrets): built as
// adapters/Dockerfile builds it (static, stripped). Needs GATEHOUSE_TEMPORAL_BIN.
//
//	GATEHOUSE_TEMPORAL_BIN=$PWD/.bin/temporal go test ./cmd/gatehouse-adapter-deployments -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	srv := devserver.Start(b, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
	sim := deploytest.New(b)
	sim.RunClockFast(b)
	const queue = "footprint"
	sim.StartWorker(b, srv.Address, srv.Namespace, queue, zerolog.Nop())

	kittest.MeasureFootprint(b, kittest.Footprint{Package: ".", Args: []string{"--temporal-address", srv.Address, "--task-queue", queue},
		Exercise: func(b *testing.B, base string) {
			n := 0
			tr, err := transport.NewStreamableHTTP(base+"/mcp", transport.WithHTTPHeaderFunc(func(context.Context) map[string]string {
				n++
				return map[string]string{"X-Gatehouse-Subject": "nina", "X-Gatehouse-Roles": "network-engineers",
					"X-Gatehouse-Decision-Id": fmt.Sprintf("dec-%d", n), "X-Gatehouse-Approval": `{"required":false}`}
			}))
			if err != nil {
				b.Fatal(err)
			}
			c := client.NewClient(tr)
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			init := mcp.InitializeRequest{}
			init.Params.ClientInfo = mcp.Implementation{Name: "footprint", Version: "1"}
			if _, err := c.Initialize(ctx, init); err != nil {
				b.Fatal(err)
			}
			now := time.Now().UTC()
			call := func(name string, args map[string]any) *mcp.CallToolResult {
				req := mcp.CallToolRequest{}
				req.Params.Name, req.Params.Arguments = name, args
				res, err := c.CallTool(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("call %s: %v %+v", name, err, res)
				}
				return res
			}
			var last string
			for i := 0; i < 50; i++ {
				switch i % 3 {
				case 0:
					res := call("start_deployment", map[string]any{
						"template_id": sim.Templates["NTP-Servers"], "template_version": 2,
						"parameters": map[string]any{"ntp_primary": fmt.Sprintf("10.9.%d.1", i), "ntp_secondary": "10.0.0.2"},
						"device_ids": []string{sim.Devices["lon-b1-acc-01"]},
						"change_window": map[string]any{"start": now.Add(-time.Hour).Format(time.RFC3339),
							"end": now.Add(time.Hour).Format(time.RFC3339)}})
					m, _ := res.StructuredContent.(map[string]any)
					last, _ = m["workflow_id"].(string)
				case 1:
					call("get_deployment", map[string]any{"workflow_id": last})
				case 2:
					call("list_my_deployments", map[string]any{})
				}
			}
			c.Close()
		}})
	for i := 0; i < b.N; i++ {
	}
}
