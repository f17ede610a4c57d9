package authz

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// traceVerdict records a decision on the Check's span: what identifies it (decision id,
// server, tool, MCP method, stage, policy revision) and its outcome, never an argument, a
// token or a reason text (a policy may quote an argument in it; the decision log has it).
func traceVerdict(span trace.Span, r *request, v *Verdict) {
	if !span.IsRecording() {
		return
	}
	check := "body"
	if r.headerStage {
		check = "headers"
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		tracing.DecisionID.String(v.DecisionID),
		tracing.Outcome.String(string(v.Outcome)),
		tracing.Stage.String(string(v.Stage)),
		tracing.Check.String(check),
		attribute.Int("http.response.status_code", v.Status),
	)
	if r.server != "" {
		attrs = append(attrs, tracing.Server.String(r.server))
	}
	if r.tool != "" {
		attrs = append(attrs, tracing.Tool.String(r.tool))
	}
	if r.msg != nil && r.msg.Method != "" {
		attrs = append(attrs, tracing.MCPMethod.String(r.msg.Method))
	}
	if id := r.headers["x-request-id"]; id != "" {
		attrs = append(attrs, tracing.RequestID.String(id))
	}
	if v.Revision != "" {
		attrs = append(attrs, attribute.String("gatehouse.policy_revision", v.Revision))
	}
	span.SetAttributes(attrs...)
	if v.Outcome == OutcomeError {
		// A deny is the service working; a failure that denied (fail closed) is an error.
		span.SetStatus(codes.Error, "fail closed")
	}
}
