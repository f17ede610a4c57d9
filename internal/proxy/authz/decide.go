package authz

import (
	"context"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa-envoy-plugin/envoyauth"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// decide builds the OPA input, evaluates the policy in service and answers. Every failure
// here (no policy, an evaluation error, a timeout) is a denial.
func (s *Server) decide(ctx context.Context, req *authv3.CheckRequest, r *request) *authv3.CheckResponse {
	rev := s.policy.Current()
	if rev == nil {
		r.reasons = []string{"no authorization policy is loaded (fail closed)"}
		return s.reject(r, s.denied(r, true))
	}
	r.revision = rev.ID
	var tool map[string]any
	if r.msg.Method == "tools/call" {
		r.tool = r.msg.Name
		if t, ok := rev.Catalog.Lookup(r.server, r.msg.Name); ok {
			tool = t.Input()
		}
	}
	input, err := s.buildInput(req, r, tool)
	if err != nil {
		s.log.Error().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("cannot build policy input; denying")
		r.reasons = []string{"the request could not be prepared for policy evaluation (fail closed)"}
		return s.reject(r, s.denied(r, true))
	}
	ectx, cancel := context.WithTimeout(ctx, s.cfg.Policy.EvalTimeout)
	defer cancel()
	d, err := rev.Eval(ectx, input, r.decisionID)
	if err != nil {
		s.metrics.policyErrors.Inc()
		s.log.Error().Err(err).Str("gatehouse.decision_id", r.decisionID).Str("gatehouse.policy_revision", rev.ID).
			Msg("policy evaluation failed; denying")
		r.reasons = []string{"the authorization policy could not be evaluated (fail closed)"}
		return s.reject(r, s.denied(r, true))
	}
	if !d.Allow {
		r.reasons = d.Reasons
		if len(r.reasons) == 0 {
			r.reasons = []string{"denied by policy"}
		}
		if s.cfg.Policy.DryRun {
			// checklist 27: dry-run allows and logs the would-be denial.
			r.dryRunDeny = true
			return s.allow(r, d)
		}
		return s.reject(r, s.denied(r, false))
	}
	return s.allow(r, d)
}

// buildInput is the opa-envoy-plugin input document plus subject, mcp, tool and now. The
// Authorization header is dropped from it: policies see the verified input.subject instead,
// and a token must not surface through print() or a decision dump.
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
			}
		}
	}
	in["subject"] = r.identity.Memo(subjectValue)
	mcp, err := mcpInput(r)
	if err != nil {
		return nil, err
	}
	in["mcp"] = mcp
	if tool != nil {
		in["tool"] = tool
	}
	in["now"] = s.now().UTC().Format(time.RFC3339)
	return ast.InterfaceToValue(in)
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

// mcpInput is input.mcp. params is converted once and arguments taken from it, so a large
// argument object is not converted twice.
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
	var params ast.Value
	if m.Params != nil {
		v, err := ast.InterfaceToValue(m.Params)
		if err != nil {
			return nil, err
		}
		params = v
		out["params"] = v
	}
	if m.Method == "tools/call" || m.Method == "prompts/get" {
		var args ast.Value = ast.NewObject()
		if obj, ok := params.(ast.Object); ok && m.Arguments != nil {
			if a := obj.Get(ast.InternedTerm("arguments")); a != nil {
				args = a.Value
			}
		}
		out["arguments"] = args
	}
	if m.SessionID != "" {
		out["session_id"] = m.SessionID
	}
	return out, nil
}

// Headers the edge sets on an allowed request; they overwrite any client-sent value.
const (
	HeaderSubject    = "x-gatehouse-subject"
	HeaderDecisionID = "x-gatehouse-decision-id"
	headerPrefix     = "x-gatehouse-"
)

// allow answers OK with the header mutations of DESIGN.md: Authorization and every
// client-sent x-gatehouse-* header removed, subject and decision id set, plus the headers
// the policy asked for.
func (s *Server) allow(r *request, d *policy.Decision) *authv3.CheckResponse {
	set := map[string]string{}
	if d != nil {
		if hvs, err := d.Result.GetResponseEnvoyHeaderValueOptions(); err == nil {
			for _, hv := range hvs {
				k := strings.ToLower(hv.GetHeader().GetKey())
				if !settable(k) {
					s.log.Warn().Str("gatehouse.decision_id", r.decisionID).Str("http.request.header", k).
						Msg("policy header not settable; dropped")
					continue
				}
				set[k] = hv.GetHeader().GetValue()
			}
		} else {
			s.log.Warn().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("ignoring malformed headers from policy")
		}
	}
	set[HeaderSubject] = r.identity.Subject
	set[HeaderDecisionID] = r.decisionID
	return okResponse(r, set, s.headersToRemove(r, set))
}

// allowExempt passes metadata and health requests without identity headers.
func (s *Server) allowExempt(r *request) *authv3.CheckResponse {
	return okResponse(r, nil, s.headersToRemove(r, nil))
}

// headersToRemove lists Authorization and client-sent x-gatehouse-* headers, except those
// being set (which Envoy overwrites): removals run after sets in Envoy, so listing a header
// in both would delete the edge's own value.
func (s *Server) headersToRemove(r *request, set map[string]string) []string {
	rm := []string{"authorization"}
	for k := range r.headers {
		if len(k) > len(headerPrefix) && k[:len(headerPrefix)] == headerPrefix {
			if _, ok := set[k]; !ok {
				rm = append(rm, k)
			}
		}
	}
	return rm
}

// settable refuses policy headers that would break the request, impersonate the client or
// steer the proxy: pseudo-headers, credentials, framing and hop-by-hop headers, the MCP
// transport's own headers, and Envoy's internal ones.
func settable(k string) bool {
	if k == "" || k[0] == ':' || strings.HasPrefix(k, "mcp-") || strings.HasPrefix(k, "x-envoy-") {
		return false
	}
	switch k {
	case "authorization", "proxy-authorization", "cookie", "host", "content-length", "content-type",
		"transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade":
		return false
	}
	return true
}

func headerOption(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
