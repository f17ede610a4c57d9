package authz

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// Stage names a step of the Check pipeline; it is logged as gatehouse.stage.
type Stage string

// Stages, in the order a Check runs them.
const (
	StageRoute   Stage = "route"   // canonical path, server, exempt routes, Origin, size
	StageAuthn   Stage = "authn"   // the bearer token
	StageScope   Stage = "scope"   // the server's required scopes
	StageParse   Stage = "parse"   // the MCP message (or REST bridge call)
	StageBinding Stage = "binding" // the session id belongs to the caller
	StagePolicy  Stage = "policy"  // data.gatehouse.authz
)

// Outcome is what a Check decided, as counted in gatehouse_authz_decisions_total{outcome}
// and logged as gatehouse.outcome.
type Outcome string

// Outcomes.
const (
	OutcomeAllow           Outcome = "allow"           // the policy allowed the message
	OutcomeAuthenticated   Outcome = "authenticated"   // headers-only check passed: the edge may read the body
	OutcomeExempt          Outcome = "exempt"          // metadata and health: no token needed
	OutcomeDryRunDeny      Outcome = "dry_run_deny"    // the policy denied; dry-run let it pass
	OutcomeDeny            Outcome = "deny"            // the policy (or a missing scope) denied
	OutcomeUnauthenticated Outcome = "unauthenticated" // no valid access token
	OutcomeInvalid         Outcome = "invalid"         // the request or message is malformed
	OutcomeError           Outcome = "error"           // a failure denied it (fail closed)
	OutcomeOverloaded      Outcome = "overloaded"      // not decided in time under load: 503, retry
)

// Server-defined JSON-RPC error codes (docs/errors.md). They sit in -32000..-32019, which
// MCP leaves to implementations.
const (
	CodeUnauthorized       = -32001 // 401: no valid access token
	CodeForbidden          = -32003 // policy denial (HTTP 200 by default, 403 in deny_mode http)
	CodeInsufficientScope  = -32004 // 403: the token lacks a scope the server requires
	CodeAuthzUnavailable   = -32005 // 503: the identity provider's keys are unavailable
	CodeAuthorizationError = -32006 // policy could not be evaluated; denied (fail closed)
	CodeSessionNotFound    = -32007 // 404: the session id was not issued to this caller for this server
)

// Verdict is the decision of one Check, made by exactly one stage. The CheckResponse is
// rendered from it (render.go), and the decision log line and metrics are recorded from it
// (observe.go); nothing else carries the outcome.
type Verdict struct {
	Stage   Stage
	Outcome Outcome
	// Status is the HTTP status the client gets: 200 for an allowed request (and for a
	// policy denial answered as a JSON-RPC error), the error status otherwise.
	Status int
	// Code is the JSON-RPC error code of a denial (0 when allowed); Message its message.
	Code    int
	Message string
	// Reasons say why, for the log and (policy denials) the client.
	Reasons    []string
	DecisionID string
	// Revision is the policy revision that decided, when one did.
	Revision string
	// Data is merged into the error's data member (required_scopes, server, tool, ...).
	Data map[string]any
	// Response holds extra headers of a denial: www-authenticate, retry-after, allow.
	Response map[string]string
	// Upstream holds the headers an allowed request gets on its way to the adapter
	// (identity and the policy's headers); Authorization and client x-gatehouse-* headers
	// are removed besides.
	Upstream map[string]string
	// Metadata is the dynamic metadata of an allowed request, for the response side.
	Metadata *structpb.Struct
	// AuthnFailure classifies a refused token (gatehouse_authn_failures_total{reason}).
	AuthnFailure oidc.Reason
	// GRPC is the status code of the CheckResponse: OK lets Envoy forward the request.
	GRPC codes.Code
	// id is the JSON-RPC id the answer echoes, when a stage read it; otherwise the answer
	// peeks at small bodies for it.
	id      any
	idKnown bool
}

// Allowed reports whether the request goes on to the adapter.
func (v *Verdict) Allowed() bool { return v.GRPC == codes.OK }

// withID records the JSON-RPC id the answer echoes.
func (v *Verdict) withID(id any) *Verdict {
	v.id, v.idKnown = id, true
	return v
}

// authenticated lets the edge read the body of a request whose headers passed route, token
// and scope. It changes no header: the body check that follows decides and mutates.
func authenticated() *Verdict {
	return &Verdict{Stage: StageScope, Outcome: OutcomeAuthenticated, Status: http.StatusOK, GRPC: codes.OK}
}

func allowed(stage Stage, outcome Outcome, upstream map[string]string) *Verdict {
	return &Verdict{Stage: stage, Outcome: outcome, Status: http.StatusOK, GRPC: codes.OK, Upstream: upstream}
}

// invalid refuses a malformed or unroutable request.
func invalid(stage Stage, status, code int, message string) *Verdict {
	return &Verdict{Stage: stage, Outcome: OutcomeInvalid, Status: status, Code: code, Message: message,
		Reasons: []string{message}, GRPC: codes.InvalidArgument}
}

// parseRefusal refuses a message mcpmsg would not accept, echoing the id the parser read.
func parseRefusal(e *mcpmsg.Error) *Verdict {
	v := invalid(StageParse, e.Status, e.Code, e.Message)
	if m, ok := e.Data.(map[string]any); ok {
		v.Data = m
	}
	if e.Allow != "" {
		v.Response = map[string]string{"allow": e.Allow}
	}
	if e.ID != nil {
		v.withID(e.ID)
	}
	return v
}

// sessionNotBound answers a session id that is not the caller's as MCP answers a session that
// does not exist (404), so that the client starts a new one.
func sessionNotBound() *Verdict {
	msg := "Session not found: this session id was not issued to you for this server; initialize a new session"
	return &Verdict{Stage: StageBinding, Outcome: OutcomeDeny, Status: http.StatusNotFound, Code: CodeSessionNotFound,
		Message: msg, Reasons: []string{"the session id was not issued to this caller for this server"}, GRPC: codes.NotFound}
}

// taskNotBound answers a task id the edge did not issue to this caller for this server as
// MCP answers an unknown task: Invalid params, in the words of the unknown id, so that the
// answer does not tell another caller's task from no task.
func taskNotBound(rest bool) *Verdict {
	msg := "Failed to retrieve task: Task not found"
	status := http.StatusOK // a JSON-RPC error over MCP
	if rest {
		status = http.StatusNotFound // the REST bridge's answer to a task path that names nothing
	}
	return &Verdict{Stage: StageBinding, Outcome: OutcomeDeny, Status: status, Code: mcpmsg.CodeInvalidParams,
		Message: msg, Reasons: []string{"the task id was not issued to this caller for this server"}, GRPC: codes.NotFound}
}

// unauthenticated answers 401; the challenge leads the client to the resource metadata.
func unauthenticated(reason oidc.Reason, challenge, description string) *Verdict {
	msg := "Unauthorized: an access token is required"
	if description != "" {
		msg = "Unauthorized: " + description
	}
	return &Verdict{Stage: StageAuthn, Outcome: OutcomeUnauthenticated, Status: http.StatusUnauthorized,
		Code: CodeUnauthorized, Message: msg, Reasons: []string{msg}, AuthnFailure: reason,
		Response: map[string]string{"www-authenticate": challenge}, GRPC: codes.Unauthenticated}
}

// unavailable answers 503 when the token could not be checked at all.
func unavailable(reason oidc.Reason, message string) *Verdict {
	msg := "Service unavailable: " + message
	return &Verdict{Stage: StageAuthn, Outcome: OutcomeError, Status: http.StatusServiceUnavailable,
		Code: CodeAuthzUnavailable, Message: msg, Reasons: []string{msg}, AuthnFailure: reason,
		Response: map[string]string{"retry-after": "5"}, GRPC: codes.Unavailable}
}

// overloaded answers a Check whose policy evaluation did not finish in time: under load that
// is the service's fault, not the caller's, so it is a retryable 503, never a denial (an
// allowed request must not be refused because the service was busy). It still fails closed.
func overloaded(r *request) *Verdict {
	msg := "Service unavailable: the authorization service could not decide in time; retry shortly"
	v := &Verdict{Stage: StagePolicy, Outcome: OutcomeOverloaded, Status: http.StatusServiceUnavailable,
		Code: CodeAuthzUnavailable, Message: msg, Reasons: []string{msg},
		Response: map[string]string{"retry-after": "1"}, GRPC: codes.Unavailable}
	v.Data = map[string]any{"server": r.server}
	return v
}

// insufficientScope answers 403 with the scopes the server needs (RFC 6750 §3.1).
func insufficientScope(scopes []string, challenge string) *Verdict {
	msg := "Forbidden: the access token lacks a scope this server requires: " + strings.Join(scopes, " ")
	return &Verdict{Stage: StageScope, Outcome: OutcomeDeny, Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Message: msg, Reasons: []string{msg}, Data: map[string]any{"required_scopes": scopes},
		Response: map[string]string{"www-authenticate": challenge}, GRPC: codes.PermissionDenied}
}

// policyDenial answers a denial by the policy (failedClosed false) or by a failure to get
// the policy's answer (true). A request gets a JSON-RPC error that echoes its id over HTTP
// 200 (deny_mode jsonrpc), so an agent can read the reason and carry on; clients such as
// Claude treat a 403 as fatal for the whole server. Notifications, client responses and
// stream requests have no id to answer and get 403.
func policyDenial(r *request, reasons []string, failedClosed bool, jsonrpc bool) *Verdict {
	v := &Verdict{Stage: StagePolicy, Outcome: OutcomeDeny, Status: http.StatusForbidden, Code: CodeForbidden,
		Message: "Forbidden: " + strings.Join(reasons, "; "), Reasons: reasons, GRPC: codes.PermissionDenied}
	if failedClosed {
		v.Outcome, v.Code = OutcomeError, CodeAuthorizationError
		v.Message = "Authorization failed: " + strings.Join(reasons, "; ")
	}
	if jsonrpc && r.via == viaMCP && r.msg != nil && r.msg.Kind == mcpmsg.KindRequest {
		v.Status = http.StatusOK
	}
	v.Data = map[string]any{"reasons": reasons, "server": r.server}
	if r.tool != "" {
		v.Data["tool"] = r.tool
	}
	return v
}
