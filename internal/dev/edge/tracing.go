package edge

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// startSpan starts the request's server span. The trace is the edge's own: a client's
// traceparent (client) is linked, as the call's recorded parent, but neither chooses the trace
// id nor decides whether the call is traced. (Envoy, which cannot link, only keeps it for the
// logs.) The edge's request id, which the client cannot choose, joins the trace to the logs.
func (e *Edge) startSpan(r *http.Request, client string) trace.Span {
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method))}
	if client != "" {
		if sc := trace.SpanContextFromContext(tracing.FromHTTP(r.Context(), http.Header{"Traceparent": {client}})); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	_, span := tracing.Tracer("edge").Start(r.Context(), "ingress", opts...)
	return span
}

// endSpan names the span after the route and records the decision the authz service gave
// (never a client-sent decision id header): the path, never the query.
func endSpan(span trace.Span, r *http.Request, rec *tracing.StatusRecorder, route string) {
	span.SetName("ingress " + route)
	attrs := []attribute.KeyValue{
		attribute.String("url.path", r.URL.Path),
		attribute.Int("http.response.status_code", rec.Status),
		tracing.Route.String(route),
	}
	if holder, _ := r.Context().Value(metadataKey{}).(*metadataHolder); holder != nil { // an authorized route
		if id := r.Header.Get("X-Request-Id"); id != "" { // the edge's own: authorize sets it
			attrs = append(attrs, tracing.RequestID.String(id))
		}
		if holder.decisionID != "" {
			attrs = append(attrs, tracing.DecisionID.String(holder.decisionID))
		}
	}
	span.SetAttributes(attrs...)
	if rec.Status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(rec.Status))
	}
	span.End()
}
