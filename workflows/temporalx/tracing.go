package temporalx

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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
// workflow, activity, signal or query and carry Temporal's ids, never an argument, and a
// failed one says that it failed, not the error's text (an upstream's error can quote a
// device or a parameter). A header it cannot read (a workflow started by a client without
// tracing, another SDK's format) starts a new trace instead of failing the workflow task.
func Interceptors() ([]interceptor.ClientInterceptor, error) {
	if !tracing.Enabled() {
		return nil, nil
	}
	i, err := temporalotel.NewTracingInterceptor(tracerOptions())
	if err != nil {
		return nil, fmt.Errorf("the Temporal tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}

func tracerOptions() temporalotel.TracerOptions {
	return temporalotel.TracerOptions{
		Tracer:                  tracing.Tracer("workflow"),
		TextMapPropagator:       propagation.TraceContext{},
		DisableBaggage:          true,
		AllowInvalidParentSpans: true,
		SpanStarter: func(ctx context.Context, t trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
			_, span := t.Start(ctx, name, opts...)
			return withoutErrorText{span}
		},
	}
}

// withoutErrorText is a span that records that it failed but not how: the interceptor would
// put the error's text in an exception event and in the status.
type withoutErrorText struct{ trace.Span }

func (withoutErrorText) RecordError(error, ...trace.EventOption) {}

func (s withoutErrorText) SetStatus(code codes.Code, _ string) {
	if code == codes.Error {
		s.Span.SetStatus(codes.Error, "failed")
		return
	}
	s.Span.SetStatus(code, "")
}
