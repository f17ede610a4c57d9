// Package authz is the Envoy ext_authz v3 gRPC service: for every HTTP request to an MCP route
// it authenticates the bearer token, parses the MCP message strictly, asks OPA, and answers with
// the header mutations of an allow or a spec-shaped denial. It fails closed: any error on the
// way is a denial, never a pass.
//
// The pipeline of one Check, in order (see check):
//
//	route      canonical path, server from context_extensions (or path), exempt routes, Origin, size
//	authn      Bearer token from the Authorization header only, verified for this server's audience
//	scope      the server's required scopes
//	parse      mcpmsg.Parse (or ParseREST for the REST bridge)
//	policy     data.gatehouse.authz through opa-envoy-plugin's envoyauth, with the pinned catalog
package authz

import (
	"context"
	"errors"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// TokenVerifier verifies bearer tokens (proxy/oidc in production).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string, audiences []string) (*oidc.Identity, error)
	Ready() bool
}

// PolicySource hands out the policy revision in service (proxy/policy in production).
type PolicySource interface {
	Current() *policy.Revision
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	cfg      *config.Config
	verifier TokenVerifier
	policy   PolicySource
	log      zerolog.Logger
	metrics  *Metrics
	now      func() time.Time
	origins  []string
	// slots bounds how many Checks do CPU work at once. Without it the scheduler time-slices
	// every Check in flight, so under load each one takes (in-flight × service time) and
	// evaluations hit their timeout; with it, Checks queue in order and each runs at full speed.
	slots           chan struct{}
	lastOverloadLog atomic.Int64
}

// New returns an authz server.
func New(cfg *config.Config, verifier TokenVerifier, policies PolicySource, log zerolog.Logger, metrics *Metrics) *Server {
	origins := cfg.Authz.AllowedOrigins
	if len(origins) == 0 {
		origins = []string{cfg.Origin()}
	}
	return &Server{cfg: cfg, verifier: verifier, policy: policies, log: log, metrics: metrics, now: time.Now, origins: origins,
		slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

// Ready reports whether the server can make decisions: a policy is loaded and the issuer's
// keys were fetched.
func (s *Server) Ready() bool {
	return s.policy.Current() != nil && s.verifier.Ready()
}

// Stages of the pipeline, as logged in gatehouse.stage.
const (
	stageRoute  = "route"
	stageAuthn  = "authn"
	stageScope  = "scope"
	stageParse  = "parse"
	stagePolicy = "policy"
)

// request is one Check in flight: what was read from it and what was decided.
type request struct {
	start         time.Time
	decisionID    string
	method        string // HTTP method
	path          string // without query
	query         string
	headers       map[string]string
	body          []byte
	server        string
	via           string
	tool          string // REST bridge: tool named in the path
	identity      *oidc.Identity
	msg           *mcpmsg.Message
	revision      string
	stage         string
	reasons       []string
	dryRunDeny    bool
	authnFail     oidc.Reason
	status        int
	clientAddress string
	failedClosed  bool
	allowed       bool
	echoID        any  // the id a parse error answer echoes
	echoKnown     bool // whether echoID was read by the parser
}

// Check implements the ext_authz gRPC API. It never returns a gRPC error for a bad request:
// every outcome is a CheckResponse, so that Envoy relays our answer rather than its own.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	queued := s.now()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		// Envoy has given up on this Check (its ext_authz timeout); it fails closed itself.
		s.overloaded()
		return nil, status.Error(codes.DeadlineExceeded, "authz service overloaded: no evaluation slot before the deadline")
	}
	defer func() { <-s.slots }()
	r := s.newRequest(req)
	s.metrics.queue.Observe(r.start.Sub(queued).Seconds())
	resp := s.check(ctx, req, r)
	s.record(r)
	return resp, nil
}

// overloaded counts a Check that expired while queued, and logs it at most once a second:
// under a flood the count is what matters, and the log must not become the flood.
func (s *Server) overloaded() {
	s.metrics.queueTimeouts.Inc()
	now := s.now().Unix()
	if last := s.lastOverloadLog.Load(); now > last && s.lastOverloadLog.CompareAndSwap(last, now) {
		s.log.Warn().Str("event.action", "mcp-authorize").Str("event.outcome", "failure").
			Str("gatehouse.outcome", "overloaded").
			Msg("a Check expired while waiting for an evaluation slot (Envoy denies it): the service is saturated")
	}
}

func (s *Server) newRequest(req *authv3.CheckRequest) *request {
	h := req.GetAttributes().GetRequest().GetHttp()
	r := &request{
		start:      s.now(),
		decisionID: newDecisionID(),
		method:     h.GetMethod(),
		headers:    h.GetHeaders(),
		via:        "mcp",

		clientAddress: req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress(),
	}
	if r.headers == nil {
		r.headers = map[string]string{}
	}
	r.path, r.query, _ = strings.Cut(h.GetPath(), "?")
	r.body = h.GetRawBody()
	if len(r.body) == 0 && h.GetBody() != "" {
		r.body = []byte(h.GetBody())
	}
	return r
}

func newDecisionID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func (s *Server) check(ctx context.Context, req *authv3.CheckRequest, r *request) *authv3.CheckResponse {
	// Route.
	r.stage = stageRoute
	if !canonicalPath(r.path) {
		return s.reject(r, badRequest(r, 400, mcpmsg.CodeInvalidRequest, "the request path is not in canonical form"))
	}
	if queryHasToken(r.query) {
		// checklist 14: tokens in the query string are refused (and the query is never logged).
		r.authnFail = "token_in_query"
		return s.reject(r, unauthorized(s, r, "invalid_request", "access tokens are accepted only in the Authorization header"))
	}
	if s.exempt(r) {
		r.stage = stageRoute
		return s.allowExempt(r)
	}
	ce := req.GetAttributes().GetContextExtensions()
	if !s.route(r, ce) {
		return s.reject(r, badRequest(r, 404, mcpmsg.CodeInvalidRequest, "no MCP server is served at this path"))
	}
	if origin := r.headers["origin"]; origin != "" && !slices.Contains(s.origins, origin) {
		// checklist 10: a browser origin that is not allowed (DNS rebinding, cross-site).
		return s.reject(r, badRequest(r, 403, mcpmsg.CodeInvalidRequest, "requests from origin "+quoteSafe(origin)+" are not allowed"))
	}
	if resp := s.checkSize(r); resp != nil {
		return s.reject(r, resp)
	}

	// Authentication.
	r.stage = stageAuthn
	raw, present, err := bearerToken(r.headers["authorization"])
	if !present {
		r.authnFail = "missing"
		return s.reject(r, unauthorized(s, r, "", ""))
	}
	if err != nil {
		r.authnFail = "malformed_header"
		return s.reject(r, unauthorized(s, r, "invalid_request", err.Error()))
	}
	id, err := s.verifier.Verify(ctx, raw, s.cfg.Audiences(r.server))
	if err != nil {
		var te *oidc.TokenError
		if errors.As(err, &te) {
			r.authnFail = te.Reason
			if te.Unavailable() {
				return s.reject(r, unavailable(r, "the identity provider's keys are not available; try again shortly"))
			}
			return s.reject(r, unauthorized(s, r, "invalid_token", te.Description))
		}
		r.authnFail = "error"
		return s.reject(r, unavailable(r, "the token could not be checked; try again shortly"))
	}
	r.identity = id

	// Scope.
	r.stage = stageScope
	if srv, _ := s.cfg.Server(r.server); len(srv.Scopes) > 0 {
		for _, sc := range srv.Scopes {
			if !slices.Contains(id.Scopes, sc) {
				return s.reject(r, insufficientScope(s, r, srv.Scopes))
			}
		}
	}

	// Parsing.
	r.stage = stageParse
	var msg *mcpmsg.Message
	if r.via == "rest" {
		msg, err = mcpmsg.ParseREST(r.method, r.headers["content-type"], r.tool, r.body)
	} else {
		msg, err = mcpmsg.Parse(mcpmsg.HTTPRequest{Method: r.method, Header: r.header, Body: r.body})
	}
	if err != nil {
		var pe *mcpmsg.Error
		if !errors.As(err, &pe) {
			pe = &mcpmsg.Error{Status: 400, Code: mcpmsg.CodeInvalidRequest, Message: err.Error()}
		}
		return s.reject(r, parseError(r, pe))
	}
	r.msg = msg

	// Policy.
	r.stage = stagePolicy
	return s.decide(ctx, req, r)
}

func (r *request) header(name string) string { return r.headers[name] }

// exempt reports routes served without authentication: protected resource metadata (RFC 9728)
// and health. Only exact, canonical paths for known servers qualify.
func (s *Server) exempt(r *request) bool {
	if r.method != "GET" && r.method != "HEAD" {
		return false
	}
	switch r.path {
	case config.WellKnownPRM, "/healthz", "/readyz":
		return true
	}
	name, ok := strings.CutPrefix(r.path, config.WellKnownPRM+"/mcp/")
	if !ok {
		return false
	}
	_, known := s.cfg.Server(name)
	return known
}

// restPrefix is where the REST bridge's routes live: /api/v1/mcp/<server>/tools/<tool>.
const restPrefix = "/api/v1/mcp/"

// route finds the server a request is for: the route's context_extensions set by the
// control plane (or the dev edge) win; otherwise the path names it.
func (s *Server) route(r *request, ce map[string]string) bool {
	if rest, ok := strings.CutPrefix(r.path, restPrefix); ok {
		server, tool, ok := strings.Cut(rest, "/tools/")
		if !ok || server == "" || tool == "" || strings.Contains(tool, "/") {
			return false
		}
		if strings.Contains(server+tool, "%") {
			// Segments are matched as written; an encoded name could decode differently
			// at the bridge. MCP tool and server names never need escaping.
			return false
		}
		r.via, r.server, r.tool = "rest", server, tool
		if name := ce["server"]; name != "" && name != server {
			return false
		}
		_, known := s.cfg.Server(server)
		return known
	}
	name := ce["server"]
	if name == "" {
		var ok bool
		name, ok = strings.CutPrefix(r.path, "/mcp/")
		if !ok {
			return false
		}
	}
	r.server = name
	_, known := s.cfg.Server(name)
	return known
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

func (s *Server) checkSize(r *request) *authv3.CheckResponse {
	max := s.cfg.Authz.MaxBodyBytes
	if len(r.body) > max || r.headers["x-envoy-auth-partial-body"] == "true" {
		return badRequest(r, 413, mcpmsg.CodeInvalidRequest, "the message is larger than this edge accepts")
	}
	if cl := r.headers["content-length"]; cl != "" {
		n, err := strconv.ParseUint(cl, 10, 63)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > uint64(max):
			return badRequest(r, 413, mcpmsg.CodeInvalidRequest, "the message is larger than this edge accepts")
		case err != nil:
			return badRequest(r, 400, mcpmsg.CodeInvalidRequest, "invalid Content-Length")
		case n != uint64(len(r.body)):
			// checklist 4: a truncated body never reaches policy or an adapter.
			return badRequest(r, 400, mcpmsg.CodeParseError, "the body is shorter than its Content-Length (truncated)")
		}
	}
	return nil
}
