package temporalx

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// A failed workflow or activity span says it failed, not the error's text, which can quote
// an argument (the interceptor records the error on the span it is handed).
func TestWorkflowSpansCarryNoErrorText(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() { tracing.Install(nil) })
	if icpts, err := Interceptors(); err != nil || len(icpts) != 1 {
		t.Fatalf("with tracing on: %d interceptors, %v", len(icpts), err)
	}

	o := tracerOptions()
	span := o.SpanStarter(context.Background(), o.Tracer, "RunActivity:CreateChange")
	span.RecordError(errors.New("device lon-b1-core-01 is not in the inventory"))
	span.SetStatus(codes.Error, "device lon-b1-core-01 is not in the inventory")
	span.End()

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Status.Code != codes.Error || strings.Contains(s.Status.Description, "lon-b1") {
		t.Errorf("status %+v", s.Status)
	}
	for _, e := range s.Events {
		for _, a := range e.Attributes {
			if strings.Contains(a.Value.String(), "lon-b1") {
				t.Errorf("event %s carries the error text: %s", e.Name, a.Value.String())
			}
		}
	}
}

func TestNoInterceptorsWithTracingOff(t *testing.T) {
	tracing.Install(nil)
	if icpts, err := Interceptors(); err != nil || len(icpts) != 0 {
		t.Fatalf("with tracing off: %d interceptors, %v", len(icpts), err)
	}
}
