package authz

import (
	"encoding/json"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
)

// Server-defined JSON-RPC error codes (documented in docs/errors.md). They sit in
// -32000..-32019, which MCP leaves to implementations.
const (
	CodeUnauthorized       = -32001 // 401: no valid access token
	CodeForbidden          = -32003 // policy denial (HTTP 200 by default, 403 in deny_mode http)
	CodeInsufficientScope  = -32004 // 403: the token lacks a scope the server requires
	CodeAuthzUnavailable   = -32005 // 503: the identity provider's keys are unavailable
	CodeAuthorizationError = -32006 // policy could not be evaluated; denied (fail closed)
)

func okResponse(r *request, set map[string]string, remove []string) *authv3.CheckResponse {
	r.status = 200
	r.allowed = true
	hs := make([]*corev3.HeaderValueOption, 0, len(set))
	for k, v := range set {
		hs = append(hs, headerOption(k, v))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         hs,
			HeadersToRemove: remove,
		}},
	}
}

// reject records the denial's HTTP status and returns it.
func (s *Server) reject(r *request, resp *authv3.CheckResponse) *authv3.CheckResponse {
	if d := resp.GetDeniedResponse(); d != nil {
		r.status = int(d.GetStatus().GetCode())
	}
	return resp
}

// errorBody is a JSON-RPC error response (MCP routes) or an RFC 9457 problem (REST bridge).
func errorBody(r *request, status, code int, message string, data map[string]any) (string, string) {
	if data == nil {
		data = map[string]any{}
	}
	data["decision_id"] = r.decisionID
	if r.via == "rest" {
		p := map[string]any{
			"type":   "about:blank",
			"title":  http.StatusText(status),
			"status": status,
			"detail": message,
		}
		for k, v := range data {
			p[k] = v
		}
		b, _ := json.Marshal(p)
		return string(b), "application/problem+json"
	}
	// The parser's id when it got that far; otherwise whatever id a strict read finds, so
	// that answers given before parsing (401, 403, 413) still echo it.
	var id any
	switch {
	case r.msg != nil:
		id = r.msg.ID
	case r.echoKnown:
		id = r.echoID
	default:
		id = mcpmsg.PeekID(r.body)
	}
	b, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": code, "message": message, "data": data},
	})
	return string(b), "application/json"
}

func deniedResponse(r *request, status int, grpcCode codes.Code, body, contentType string, extra ...[2]string) *authv3.CheckResponse {
	hs := []*corev3.HeaderValueOption{
		headerOption("content-type", contentType),
		headerOption("cache-control", "no-store"),
		headerOption(HeaderDecisionID, r.decisionID),
	}
	for _, kv := range extra {
		hs = append(hs, headerOption(kv[0], kv[1]))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(grpcCode)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: hs,
			Body:    body,
		}},
	}
}

// badRequest answers a malformed or unroutable request.
func badRequest(r *request, status, code int, message string) *authv3.CheckResponse {
	body, ct := errorBody(r, status, code, message, nil)
	return deniedResponse(r, status, codes.InvalidArgument, body, ct)
}

// parseError answers a message mcpmsg refused, echoing the id the parser read.
func parseError(r *request, e *mcpmsg.Error) *authv3.CheckResponse {
	var data map[string]any
	if e.Data != nil {
		if m, ok := e.Data.(map[string]any); ok {
			data = m
		}
	}
	if e.ID != nil {
		r.echoID, r.echoKnown = e.ID, true // the parser read it: do not parse again
	}
	body, ct := errorBody(r, e.Status, e.Code, e.Message, data)
	var extra [][2]string
	if e.Allow != "" {
		extra = append(extra, [2]string{"allow", e.Allow})
	}
	return deniedResponse(r, e.Status, codes.InvalidArgument, body, ct, extra...)
}

// wwwAuthenticate builds the RFC 6750 / RFC 9728 challenge for a server.
func wwwAuthenticate(cfg *config.Config, server, errCode, description string, scopes []string) string {
	var b strings.Builder
	b.WriteString(`Bearer resource_metadata="`)
	b.WriteString(cfg.MetadataURL(server))
	b.WriteString(`"`)
	if len(scopes) > 0 {
		b.WriteString(`, scope="`)
		b.WriteString(strings.Join(scopes, " "))
		b.WriteString(`"`)
	}
	if errCode != "" {
		b.WriteString(`, error="`)
		b.WriteString(errCode)
		b.WriteString(`"`)
	}
	if description != "" {
		b.WriteString(`, error_description="`)
		b.WriteString(quoteSafe(description))
		b.WriteString(`"`)
	}
	return b.String()
}

// quoteSafe keeps text usable inside a quoted header parameter (RFC 6750 allows
// %x20-21 / %x23-5B / %x5D-7E in error_description).
func quoteSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return '\''
		}
		return c
	}, s)
}

func (s *Server) serverScopes(name string) []string {
	if srv, ok := s.cfg.Server(name); ok {
		return srv.Scopes
	}
	return nil
}

// unauthorized answers 401 with a challenge that leads the client to the resource metadata.
func unauthorized(s *Server, r *request, errCode, description string) *authv3.CheckResponse {
	server := r.server
	msg := "Unauthorized: an access token is required"
	if description != "" {
		msg = "Unauthorized: " + description
	}
	body, ct := errorBody(r, 401, CodeUnauthorized, msg, nil)
	var challenge string
	if server == "" {
		challenge = `Bearer resource_metadata="` + s.cfg.PublicURL + config.WellKnownPRM + `"`
		if errCode != "" {
			challenge += `, error="` + errCode + `"`
		}
	} else {
		challenge = wwwAuthenticate(s.cfg, server, errCode, description, s.serverScopes(server))
	}
	return deniedResponse(r, 401, codes.Unauthenticated, body, ct, [2]string{"www-authenticate", challenge})
}

// insufficientScope answers 403 with the scopes the server needs (RFC 6750 §3.1).
func insufficientScope(s *Server, r *request, scopes []string) *authv3.CheckResponse {
	msg := "Forbidden: the access token lacks a scope this server requires: " + strings.Join(scopes, " ")
	body, ct := errorBody(r, 403, CodeInsufficientScope, msg, map[string]any{"required_scopes": scopes})
	challenge := wwwAuthenticate(s.cfg, r.server, "insufficient_scope", "", scopes)
	return deniedResponse(r, 403, codes.PermissionDenied, body, ct, [2]string{"www-authenticate", challenge})
}

// unavailable answers 503 when the token could not be checked at all.
func unavailable(r *request, message string) *authv3.CheckResponse {
	body, ct := errorBody(r, 503, CodeAuthzUnavailable, "Service unavailable: "+message, nil)
	return deniedResponse(r, 503, codes.Unavailable, body, ct, [2]string{"retry-after", "5"})
}

// denied answers a policy denial. A request gets a JSON-RPC error that echoes its id over
// HTTP 200 (deny_mode jsonrpc), so an agent can read the reason and carry on; clients such as
// Claude treat a 403 as fatal for the whole server. Notifications, client responses and
// stream requests have no id to answer and get 403. failedClosed marks denials that come from
// an error rather than from the policy's answer.
func (s *Server) denied(r *request, failedClosed bool) *authv3.CheckResponse {
	code := CodeForbidden
	prefix := "Forbidden: "
	r.failedClosed = failedClosed
	if failedClosed {
		code = CodeAuthorizationError
		prefix = "Authorization failed: "
	}
	data := map[string]any{"reasons": r.reasons, "server": r.server}
	if r.tool != "" {
		data["tool"] = r.tool
	}
	msg := prefix + strings.Join(r.reasons, "; ")
	status := http.StatusForbidden
	if s.cfg.Authz.DenyMode == config.DenyJSONRPC && r.via == "mcp" && r.msg != nil && r.msg.Kind == mcpmsg.KindRequest {
		status = http.StatusOK
	}
	body, ct := errorBody(r, status, code, msg, data)
	return deniedResponse(r, status, codes.PermissionDenied, body, ct)
}
