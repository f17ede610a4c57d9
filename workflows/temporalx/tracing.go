package temporalx

import (
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Interceptors are the interceptors of every Gatehouse Temporal client (and of the workers
// made from one). With tracing on (tracing.Enabled) that is Temporal's OpenTelemetry
// interceptor: starting a deployment carries the MCP call's trace context in the workflow's
// headers, and the worker's workflow and activity spans — and the upstream calls the
// activities make (tracing.Transport) — join that trace. With tracing off there are none.
//
// As the rest of Gatehouse, it carries W3C trace context and no baggage; spans name the
// workflow, activity, signal or query and carry Temporal's ids, never an argument. A header it
// cannot read (a workflow started by a client without tracing, another SDK's format) starts
// a new trace instead of failing the workflow task.
func Interceptors() ([]interceptor.ClientInterceptor, error) {
	if !tracing.Enabled() {
		return nil, nil
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:                  tracing.Tracer("workflow"),
		TextMapPropagator:       propagation.TraceContext{},
		DisableBaggage:          true,
		AllowInvalidParentSpans: true,
	})
	if err != nil {
		return nil, fmt.Errorf("the Temporal tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}
