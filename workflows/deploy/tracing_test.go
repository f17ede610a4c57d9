package deploy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

// With tracing on, a deployment joins the trace of the call that started it: the start, the
// worker's workflow and activities, and the activities' calls to ServiceNow and Catalyst
// Center are spans of that one trace, each under its caller.
func TestRealServerTraceFollowsTheDeployment(t *testing.T) {
	srv := startServer(t)
	exp := tracetest.NewInMemoryExporter()
	tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() { tracing.Install(nil) })

	sim := deploytest.New(t)
	sim.RunClockFast(t)
	sim.StartWorker(t, srv.Address, srv.Namespace, "traced", zerolog.Nop())
	ctx := context.Background()
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: srv.Address, Namespace: srv.Namespace, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := deploy.NewClient(tc, "traced")
	c.Timeouts = fast

	// The adapter's span of the MCP call.
	callCtx, call := tracing.Tracer("adapter").Start(ctx, "tools/call deploy_template")
	req := sim.Request(t, "lon-b1-core-01")
	if req.Parameters["ntp_primary"] == "" {
		t.Fatalf("the request has no ntp_primary parameter to look for: %+v", req.Parameters)
	}
	id, err := c.Start(callCtx, req, deploy.Approval{})
	call.End()
	if err != nil {
		t.Fatal(err)
	}
	if final, err := c.Result(ctx, id); err != nil || final.State != deploy.StateCompleted {
		t.Fatalf("result %v: %+v", err, final)
	}
	traceID := call.SpanContext().TraceID()

	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	// Every span of this trace descends from the call's span.
	descends := func(s tracetest.SpanStub) bool {
		for i := 0; i < 50; i++ {
			if s.SpanContext.SpanID() == call.SpanContext().SpanID() {
				return true
			}
			p, ok := byID[s.Parent.SpanID()]
			if !ok {
				return false
			}
			s = p
		}
		return false
	}
	var names []string
	upstream := map[string]bool{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != traceID {
			continue
		}
		names = append(names, s.Name)
		if !descends(s) {
			t.Errorf("span %q is not under the call's span", s.Name)
		}
		for _, a := range s.Attributes {
			if a.Key == tracing.Upstream {
				upstream[a.Value.AsString()] = true
			}
			// No argument reaches a span: not the device, not a template parameter.
			if v := a.Value.String(); strings.Contains(v, "lon-b1-core-01") || strings.Contains(v, req.Parameters["ntp_primary"]) {
				t.Errorf("span %q carries an argument: %s=%s", s.Name, a.Key, v)
			}
		}
	}
	for _, want := range []string{"StartWorkflow:", "RunWorkflow:", "StartActivity:", "RunActivity:"} {
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, want)
		}
		if !found {
			t.Errorf("no %s… span in the call's trace: %v", want, names)
		}
	}
	if !upstream["ServiceNow"] || !upstream["Catalyst Center"] {
		t.Errorf("upstream calls in the call's trace: %v (want ServiceNow and Catalyst Center); spans %v", upstream, names)
	}
}
