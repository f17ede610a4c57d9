package kit

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// traced makes each request to the MCP endpoint a server span, the child of the edge's span
// (the traceparent the edge sent), when tracing is on.
func (s *Server) traced(next http.Handler) http.Handler {
	return tracing.Handler("adapter", "mcp "+s.opts.Name, func(r *http.Request) []attribute.KeyValue {
		attrs := []attribute.KeyValue{tracing.Server.String(s.opts.Name)}
		if id := r.Header.Get("X-Request-Id"); id != "" {
			attrs = append(attrs, tracing.RequestID.String(id))
		}
		if id := r.Header.Get(contract.HeaderDecisionID); id != "" {
			attrs = append(attrs, tracing.DecisionID.String(id))
		}
		return attrs
	}, next)
}

// traceTool starts the span of one tool call; end records its outcome. The error text is
// not recorded: upstream errors can quote what was asked.
func (s *Server) traceTool(ctx context.Context, tool string) (context.Context, func(outcome string)) {
	if !tracing.Enabled() {
		return ctx, func(string) {}
	}
	ctx, span := tracing.Tracer("adapter").Start(ctx, "tools/call "+tool, trace.WithAttributes(
		tracing.Server.String(s.opts.Name), tracing.Tool.String(tool), tracing.MCPMethod.String("tools/call"),
		tracing.DecisionID.String(callerFrom(ctx).decisionID)))
	return ctx, func(outcome string) {
		span.SetAttributes(tracing.Outcome.String(outcome))
		if outcome != "success" {
			span.SetStatus(codes.Error, "tool call failed")
		}
		span.End()
	}
}
