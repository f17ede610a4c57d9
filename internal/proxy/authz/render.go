package authz

import (
	"encoding/json"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
)

// render turns a verdict into the CheckResponse Envoy acts on.
func (s *Server) render(r *request, v *Verdict) *authv3.CheckResponse {
	if v.Outcome == OutcomeAuthenticated {
		return okResponse(nil, nil) // the body check that follows removes and sets headers
	}
	if v.Allowed() {
		resp := okResponse(v.Upstream, headersToRemove(r, v.Upstream))
		resp.DynamicMetadata = v.Metadata
		return resp
	}
	body, contentType := errorBody(r, v)
	hs := []*corev3.HeaderValueOption{
		headerOption("content-type", contentType),
		headerOption("cache-control", "no-store"),
		headerOption(HeaderDecisionID, v.DecisionID),
	}
	for k, val := range v.Response {
		hs = append(hs, headerOption(k, val))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(v.GRPC)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(v.Status)},
			Headers: hs,
			Body:    body,
		}},
	}
}

// okResponse lets Envoy forward the request with the given headers set and others removed.
func okResponse(set map[string]string, remove []string) *authv3.CheckResponse {
	hs := make([]*corev3.HeaderValueOption, 0, len(set))
	for k, v := range set {
		hs = append(hs, headerOption(k, v))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: 0},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         hs,
			HeadersToRemove: remove,
		}},
	}
}

// headersToRemove lists Authorization and client-sent x-gatehouse-* headers, except those
// being set (which Envoy overwrites): removals run after sets in Envoy, so listing a header
// in both would delete the edge's own value.
func headersToRemove(r *request, set map[string]string) []string {
	rm := []string{"authorization"}
	for k := range r.headers {
		if strings.HasPrefix(k, contract.HeaderPrefix) && len(k) > len(contract.HeaderPrefix) {
			if _, ok := set[k]; !ok {
				rm = append(rm, k)
			}
		}
	}
	return rm
}

func headerOption(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// errorBody is a JSON-RPC error response (MCP routes) or an RFC 9457 problem (REST bridge).
func errorBody(r *request, v *Verdict) (body, contentType string) {
	data := map[string]any{}
	for k, val := range v.Data {
		data[k] = val
	}
	data["decision_id"] = v.DecisionID
	if r.via == viaREST {
		p := map[string]any{
			"type":   "about:blank",
			"title":  http.StatusText(v.Status),
			"status": v.Status,
			"detail": v.Message,
		}
		for k, val := range data {
			p[k] = val
		}
		b, _ := json.Marshal(p)
		return string(b), "application/problem+json"
	}
	// The id a stage read (the parser's); otherwise whatever id a strict read of a small
	// body finds, so that answers given before parsing (401, 403, 413) still echo it.
	id := v.id
	switch {
	case v.idKnown:
	case r.msg != nil:
		id = r.msg.ID
	default:
		id = mcpmsg.PeekID(r.body)
	}
	b, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": v.Code, "message": v.Message, "data": data},
	})
	return string(b), "application/json"
}

// challenge is the WWW-Authenticate value of a 401 for the request's server, or for the
// edge as a whole when no server was routed yet.
func (s *Server) challenge(r *request, errCode, description string) string {
	if r.srv == nil {
		c := `Bearer resource_metadata="` + s.cfg.PublicURL + contract.WellKnownPRM + `"`
		if errCode != "" {
			c += `, error="` + errCode + `"`
		}
		return c
	}
	return s.challengeFor(r.server, errCode, description, r.srv.Scopes)
}

// challengeFor builds the RFC 6750 / RFC 9728 challenge for a server.
func (s *Server) challengeFor(server, errCode, description string, scopes []string) string {
	var b strings.Builder
	b.WriteString(`Bearer resource_metadata="`)
	b.WriteString(s.cfg.MetadataURL(server))
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
