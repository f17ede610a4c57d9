package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// decide runs the stages in order; the first that reaches a verdict decides. Only the
// policy stage can allow an MCP message; the route stage allows exempt routes.
//
// The edge's first check of a request carries its headers only (context_extensions stage
// "headers"): it runs route, authn and scope, and lets the edge read the body only for an
// authenticated caller. The second check, with the body, decides.
func (s *Server) decide(ctx context.Context, req *authv3.CheckRequest, r *request) *Verdict {
	ce := req.GetAttributes().GetContextExtensions()
	r.headerStage = ce[contract.ExtensionStage] == contract.StageHeaders
	if v := s.routeStage(r, ce); v != nil {
		return v
	}
	if v := s.authnStage(ctx, r); v != nil {
		return v
	}
	if v := s.scopeStage(r); v != nil {
		return v
	}
	if r.headerStage {
		return authenticated()
	}
	if v := s.parseStage(r); v != nil {
		return v
	}
	if v := s.bindStage(r); v != nil {
		return v
	}
	return s.policyStage(ctx, req, r)
}

// bindStage checks that a session id the client presents (2025 revisions) was issued to this
// caller for this server — the edge hands out ids bound to their caller (responses.go) — and
// puts the upstream's own id back in its place. Another caller's id, or one the edge never
// issued, is answered as the session not existing: MCP's 404, after which a client starts a
// new session.
//
// Task ids over MCP (tasks/get, tasks/result, tasks/cancel) are bound the same way: the edge
// hands out only wrapped ids, so an id that is not one issued to this caller for this server
// is answered as an unknown task, in the same words. The adapter receives the wrapped id (the
// body cannot be rewritten here) and reads the upstream's id out of it (kit.EdgeTaskID);
// the policy sees the upstream's id. REST bridge task paths carry the adapter's own ids,
// whose owner the adapter checks; a bound id there is checked as over MCP, so that the policy
// and the adapter never see different ids.
func (s *Server) bindStage(r *request) *Verdict {
	if r.msg.TaskID != "" && (r.via == viaMCP || binding.Wrapped(r.msg.TaskID)) {
		inner, err := s.keys.Unwrap(binding.Task, r.caller(), r.msg.TaskID)
		if err != nil {
			return taskNotBound(r.via == viaREST)
		}
		r.msg.TaskID = inner
	}
	if r.msg.SessionID == "" {
		return nil
	}
	inner, err := s.keys.Unwrap(binding.Session, r.caller(), r.msg.SessionID)
	if err != nil {
		return sessionNotBound()
	}
	r.session = inner
	r.msg.SessionID = inner // the policy sees the upstream's id
	return nil
}

// caller is who ids issued in this exchange are bound to.
func (r *request) caller() binding.Caller {
	return binding.Caller{Issuer: r.identity.Issuer, Subject: r.identity.Subject, Server: r.server}
}

// routeStage: canonical path, no token in the query, exempt routes, a known server, an
// allowed Origin, and a body within the limit.
func (s *Server) routeStage(r *request, ce map[string]string) *Verdict {
	if !canonicalPath(r.path) {
		return invalid(StageRoute, http.StatusBadRequest, mcpmsg.CodeInvalidRequest, "the request path is not in canonical form")
	}
	if queryHasToken(r.query) {
		// security 14: tokens in the query string are refused (and the query is never logged).
		return unauthenticated("token_in_query", s.challenge(r, "invalid_request", ""),
			"access tokens are accepted only in the Authorization header")
	}
	if s.exempt(r) {
		return allowed(StageRoute, OutcomeExempt, nil)
	}
	if !s.route(r, ce) {
		return invalid(StageRoute, http.StatusNotFound, mcpmsg.CodeInvalidRequest, "no MCP server is served at this path")
	}
	if origin := r.headers["origin"]; origin != "" && !slices.Contains(s.origins, origin) {
		// security 10: a browser origin that is not allowed (DNS rebinding, cross-site).
		return invalid(StageRoute, http.StatusForbidden, mcpmsg.CodeInvalidRequest, "requests from origin "+quoteSafe(origin)+" are not allowed")
	}
	if v := bodyless(r); v != nil {
		return v
	}
	return s.checkSize(r)
}

// bodyless refuses a body on GET, HEAD and DELETE: MCP sends none, and an adapter could read
// one the policy never saw.
func bodyless(r *request) *Verdict {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		return nil
	}
	cl := r.headers["content-length"]
	if len(r.body) > 0 || (cl != "" && cl != "0") || r.headers["transfer-encoding"] != "" {
		return invalid(StageRoute, http.StatusBadRequest, mcpmsg.CodeInvalidRequest, "a "+r.method+" request carries no body in MCP")
	}
	return nil
}

// authnStage verifies the bearer token for the server's audiences.
func (s *Server) authnStage(ctx context.Context, r *request) *Verdict {
	raw, present, err := bearerToken(r.headers["authorization"])
	if !present {
		return unauthenticated("missing", s.challenge(r, "", ""), "")
	}
	if err != nil {
		return unauthenticated("malformed_header", s.challenge(r, "invalid_request", err.Error()), err.Error())
	}
	start := time.Now()
	id, err := s.verifier.Verify(ctx, raw, s.cfg.ServerAudiences(r.srv))
	if err != nil {
		var te *oidc.TokenError
		if !errors.As(err, &te) {
			s.metrics.authn.WithLabelValues("unavailable").Observe(time.Since(start).Seconds())
			return unavailable("error", "the token could not be checked; try again shortly")
		}
		if te.Unavailable() {
			s.metrics.authn.WithLabelValues("unavailable").Observe(time.Since(start).Seconds())
			return unavailable(te.Reason, "the identity provider's keys are not available; try again shortly")
		}
		s.metrics.authn.WithLabelValues("failure").Observe(time.Since(start).Seconds())
		return unauthenticated(te.Reason, s.challenge(r, "invalid_token", te.Description), te.Description)
	}
	s.metrics.authn.WithLabelValues("success").Observe(time.Since(start).Seconds())
	r.identity = id
	return nil
}

// scopeStage checks the scopes the server requires of every token.
func (s *Server) scopeStage(r *request) *Verdict {
	for _, sc := range r.srv.Scopes {
		if !slices.Contains(r.identity.Scopes, sc) {
			return insufficientScope(r.srv.Scopes, s.challengeFor(r.server, "insufficient_scope", "", r.srv.Scopes))
		}
	}
	return nil
}

// parseStage reads the MCP message strictly (or the REST bridge call).
func (s *Server) parseStage(r *request) *Verdict {
	var msg *mcpmsg.Message
	var err error
	switch {
	case r.via == viaREST && r.task != "":
		msg, err = mcpmsg.ParseRESTTask(r.method, r.task, r.body)
	case r.via == viaREST:
		msg, err = mcpmsg.ParseREST(r.method, r.headers["content-type"], r.tool, r.body)
	default:
		msg, err = mcpmsg.Parse(mcpmsg.HTTPRequest{Method: r.method, Header: r.header, Body: r.body})
	}
	if err != nil {
		var pe *mcpmsg.Error
		if !errors.As(err, &pe) {
			pe = &mcpmsg.Error{Status: http.StatusBadRequest, Code: mcpmsg.CodeInvalidRequest, Message: err.Error()}
		}
		return parseRefusal(pe)
	}
	r.msg = msg
	if msg.Method == "tools/call" {
		r.tool = msg.Name
	}
	return nil
}

func (r *request) header(name string) string { return r.headers[name] }

// exempt reports routes served without authentication: protected resource metadata (RFC 9728)
// and health. Only exact, canonical paths for known servers qualify.
func (s *Server) exempt(r *request) bool {
	if r.method != http.MethodGet && r.method != http.MethodHead {
		return false
	}
	switch r.path {
	case contract.WellKnownPRM, contract.HealthPath, contract.ReadinessPath:
		return true
	}
	name, ok := strings.CutPrefix(r.path, contract.WellKnownPRM+contract.MCPPrefix)
	if !ok {
		return false
	}
	_, known := s.cfg.Server(name)
	return known
}

// route finds the server a request is for: the route's context_extensions set by the
// control plane (or the dev edge) win; otherwise the path names it. It looks the server's
// config up once for the whole Check.
func (s *Server) route(r *request, ce map[string]string) bool {
	named := ce[contract.ExtensionServer]
	if strings.HasPrefix(r.path, contract.RESTPrefix) {
		server, tool, ok := contract.ParseRESTPath(r.path)
		task := ""
		if !ok {
			server, task, ok = contract.ParseRESTTaskPath(r.path)
		}
		if !ok || (named != "" && named != server) {
			return false
		}
		r.via, r.server, r.tool, r.task = viaREST, server, tool, task
	} else {
		if named == "" {
			var ok bool
			if named, ok = strings.CutPrefix(r.path, contract.MCPPrefix); !ok {
				return false
			}
		}
		r.server = named
	}
	r.srv, _ = s.cfg.Server(r.server)
	return r.srv != nil
}

// canonicalPath refuses paths that a normalizing proxy would rewrite: dot segments, empty
// segments, backslashes and percent-encoded dots, slashes and backslashes. Envoy (with
// normalize_path and merge_slashes on) never sends these, so seeing one means a
// misconfigured edge or an attack, and routing on it could skip authorization.
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00#") {
		return false
	}
	lower := strings.ToLower(p)
	for _, enc := range []string{"%2e", "%2f", "%5c", "%00", "%25"} {
		if strings.Contains(lower, enc) {
			return false
		}
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func queryHasToken(q string) bool {
	if q == "" {
		return false
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return strings.Contains(strings.ToLower(q), "access_token")
	}
	for k := range vals {
		if strings.EqualFold(k, "access_token") {
			return true
		}
	}
	return false
}

// bearerToken reads "Bearer <token>". present is false when there is no Authorization header
// or it carries another scheme (RFC 6750 §3.1: then no error code is sent).
func bearerToken(h string) (token string, present bool, err error) {
	if h == "" {
		return "", false, nil
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.ContainsAny(rest, " ,\t") {
		return "", true, errors.New("the Authorization header must carry exactly one bearer token")
	}
	return rest, true, nil
}

// checkSize refuses bodies over the server's limit (413) and bodies shorter than their
// Content-Length (security 4: a truncated body never reaches policy or an adapter). The
// headers-only check has no body yet: it refuses a Content-Length over the limit.
func (s *Server) checkSize(r *request) *Verdict {
	tooLarge := func() *Verdict {
		return invalid(StageRoute, http.StatusRequestEntityTooLarge, mcpmsg.CodeInvalidRequest, "the message is larger than this edge accepts")
	}
	max := r.srv.MaxBodyBytes
	if len(r.body) > max || r.headers["x-envoy-auth-partial-body"] == "true" {
		return tooLarge()
	}
	if cl := r.headers["content-length"]; cl != "" {
		n, err := strconv.ParseUint(cl, 10, 63)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > uint64(max):
			return tooLarge()
		case err != nil:
			return invalid(StageRoute, http.StatusBadRequest, mcpmsg.CodeInvalidRequest, "invalid Content-Length")
		case r.headerStage:
		case n != uint64(len(r.body)):
			return invalid(StageRoute, http.StatusBadRequest, mcpmsg.CodeParseError, "the body is shorter than its Content-Length (truncated)")
		}
	}
	return nil
}
