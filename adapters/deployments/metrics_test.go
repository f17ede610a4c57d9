package deployments_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// The adapter's /metrics reports a deployment waiting for approval, and how long it has
// waited, read from a real Temporal server (the approval queue age alert's input).
func TestQueueMetricsAgainstTemporal(t *testing.T) {
	srv := devserver.Start(t, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	const queue = "deployments-metrics"
	sim.StartWorker(t, srv.Address, srv.Namespace, queue, zerolog.Nop())
	dc := deploy.NewClient(srv.Client(t, nil), queue)
	reg := prometheus.NewRegistry()
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Version: "test", Logger: zerolog.Nop(), Registry: reg})
	deployments.Register(s, dc)

	gauge := func(name string, labels ...string) float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				if len(labels) == 0 || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == labels[0]) {
					return m.GetGauge().GetValue()
				}
			}
		}
		return -1
	}
	if up := gauge("gatehouse_deployments_listing_up"); up != 1 {
		t.Fatalf("listing_up %v", up)
	}
	if n := gauge("gatehouse_deployments", "awaiting_approval"); n != 0 {
		t.Fatalf("awaiting before any deployment: %v", n)
	}
	req := sim.Request(t, "lon-b1-core-01")
	if _, err := dc.Start(context.Background(), req, deploy.Approval{Required: true, Approvers: 1, Role: "network-approvers", Timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for gauge("gatehouse_deployments", "awaiting_approval") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the deployment never showed as awaiting approval")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond)
	if age := gauge("gatehouse_deployments_awaiting_approval_oldest_seconds"); age < 1 || age > 60 {
		t.Fatalf("oldest approval age %v s", age)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "gatehouse_deployments" && len(f.GetMetric()) != 7 {
			t.Fatalf("%d open-state series, want 7", len(f.GetMetric()))
		}
	}
}
