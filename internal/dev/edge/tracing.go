package edge

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// startSpan starts the request's server span, as Envoy's OpenTelemetry tracer does: a valid
// client traceparent is its parent (the client's trace continues); the edge's request id,
// which the client cannot choose, joins the trace to the logs.
func (e *Edge) startSpan(r *http.Request) trace.Span {
	ctx := tracing.FromHTTP(r.Context(), r.Header)
	_, span := tracing.Tracer("edge").Start(ctx, "ingress", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method)))
	return span
}

// endSpan names the span after the route and records the decision, as the control plane's
// custom tags make Envoy do: the path, never the query (which can hold argument values).
func endSpan(span trace.Span, r *http.Request, rec *statusRecorder, route string) {
	span.SetName("ingress " + route)
	attrs := []attribute.KeyValue{
		attribute.String("url.path", r.URL.Path),
		attribute.Int("http.response.status_code", rec.status),
		tracing.Route.String(route),
	}
	for _, h := range []struct {
		key  attribute.Key
		name string
	}{
		{tracing.RequestID, "X-Request-Id"},
		{tracing.DecisionID, contract.HeaderDecisionID},
	} {
		// Set by the authz service on the request (allowed) or on the answer (denied).
		v := r.Header.Get(h.name)
		if v == "" {
			v = rec.Header().Get(h.name)
		}
		if v != "" {
			attrs = append(attrs, h.key.String(v))
		}
	}
	span.SetAttributes(attrs...)
	if rec.status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(rec.status))
	}
	span.End()
}
