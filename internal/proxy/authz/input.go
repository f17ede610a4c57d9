package authz

import (
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa-envoy-plugin/envoyauth"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// buildInput is the opa-envoy-plugin input document plus subject, mcp, tool and now. The
// Authorization header is dropped from it: policies see the verified input.subject instead,
// and a token must not surface through print() or a decision dump.
//
// The body is parsed once, by mcpmsg: input.parsed_body is that parse (as opa-envoy-plugin
// names it), and the raw body (attributes.request.http.body / rawBody) is left out rather
// than copied into the input a second time, base64-encoded. The whole input is a lazy object
// (ast.LazyObject, as OPA's own server hands its input over): a part is converted to an OPA
// value only when a rule reads it, so a megabyte of arguments costs nothing when the policy
// looks at a tool's name. (An eager object would hash, and so convert, everything.)
func (s *Server) buildInput(req *authv3.CheckRequest, r *request, tool map[string]any) (ast.Value, error) {
	in, err := envoyauth.RequestToInput(req, nil, nil, true)
	if err != nil {
		return nil, err
	}
	if attrs, ok := in["attributes"].(map[string]any); ok {
		if rq, ok := attrs["request"].(map[string]any); ok {
			if h, ok := rq["http"].(map[string]any); ok {
				if hs, ok := h["headers"].(map[string]any); ok {
					delete(hs, "authorization")
				}
				delete(h, "body")
				delete(h, "rawBody")
			}
		}
	}
	in["subject"] = r.identity.Memo(subjectValue)
	mcp, err := mcpInput(r)
	if err != nil {
		return nil, err
	}
	in["mcp"] = mcp
	if r.msg.Body != nil {
		in["parsed_body"] = r.msg.Body
	}
	if tool != nil {
		in["tool"] = tool
	}
	in["now"] = s.now().UTC().Format(time.RFC3339)
	return ast.LazyObject(in), nil
}

// subjectValue is input.subject as an OPA value; it is computed once per verified token.
func subjectValue(id *oidc.Identity) any {
	v, err := ast.InterfaceToValue(subjectInput(id))
	if err != nil {
		// Claims come from json.Unmarshal, which InterfaceToValue always handles; fall back
		// to the plain map, which the caller converts (and reports) again.
		return subjectInput(id)
	}
	return v
}

func subjectInput(id *oidc.Identity) map[string]any {
	return map[string]any{
		"sub":       id.Subject,
		"iss":       id.Issuer,
		"email":     id.Email,
		"groups":    nonNil(id.Groups),
		"scopes":    nonNil(id.Scopes),
		"amr":       nonNil(id.AMR),
		"client_id": id.ClientID,
		"claims":    id.Claims,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mcpInput is input.mcp; the message's params, arguments and ref are lazy (see buildInput).
func mcpInput(r *request) (map[string]any, error) {
	m := r.msg
	out := map[string]any{
		"server":           r.server,
		"protocol_version": m.ProtocolVersion,
		"kind":             string(m.Kind),
		"via":              r.via,
	}
	if m.Method != "" {
		out["method"] = m.Method
	}
	if m.ID != nil {
		out["id"] = m.ID
	}
	if m.Name != "" {
		out["name"] = m.Name
	}
	if m.URI != "" {
		out["uri"] = m.URI
	}
	if m.TaskID != "" {
		out["task_id"] = m.TaskID
	}
	if m.Ref != nil {
		out["ref"] = m.Ref
	}
	if m.Params != nil {
		out["params"] = m.Params
	}
	if m.Method == "tools/call" || m.Method == "prompts/get" {
		args := m.Arguments
		if args == nil {
			args = map[string]any{}
		}
		out["arguments"] = args
	}
	if m.SessionID != "" {
		out["session_id"] = m.SessionID
	}
	return out, nil
}
