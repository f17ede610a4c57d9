package authz_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc/oidctest"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

const cc = "catalyst-center"

func TestAllowedCallGetsIdentityHeaders(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	set, removed := allowed(t, h.check(mcpPost(cc, tok, callBody(7, "list_devices", map[string]any{"limit": 5}))))
	if set[authz.HeaderSubject] != "alice" || set[authz.HeaderDecisionID] == "" || set["x-gatehouse-email"] != "alice@example.com" {
		t.Fatalf("identity headers: %v", set)
	}
	if set["x-gatehouse-roles"] != "network-engineers" {
		t.Fatalf("policy headers not applied: %v", set)
	}
	// security 18: the client's Authorization header never reaches an adapter.
	if !slices.Contains(removed, "authorization") {
		t.Fatalf("authorization not removed: %v", removed)
	}
}

// security 19
func TestClientIdentityHeadersStripped(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	set, removed := allowed(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil),
		"x-gatehouse-subject", "admin", "x-gatehouse-roles", "admin", "x-gatehouse-impersonate", "root",
		"x-gatehouse-email", "admin@example.com")))
	if set[authz.HeaderSubject] != "alice" || set["x-gatehouse-roles"] != "network-engineers" || set["x-gatehouse-email"] != "alice@example.com" {
		t.Fatalf("client-sent identity survived: %v", set)
	}
	if !slices.Contains(removed, "x-gatehouse-impersonate") {
		t.Fatalf("client x-gatehouse-* header not removed: %v", removed)
	}
	// Headers the edge sets are overwritten, not removed: Envoy removes after it sets.
	if slices.Contains(removed, authz.HeaderSubject) {
		t.Fatalf("edge's own header listed for removal: %v", removed)
	}
}

// security 1, 2, 3, 4, 6, 7: bad messages are refused before policy, with the id echoed.
func TestBadMessagesRefused(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"admin"})
	cases := []struct {
		name       string
		req        func() string
		headers    []string
		status     int
		code       int
		id         any
		deleteCL   bool
		overrideCL string
	}{
		{name: "security 1 batch", req: func() string { return "[" + callBody(1, "list_devices", nil) + "]" }, status: 400, code: mcpmsg.CodeInvalidRequest},
		{name: "security 2 content-type", req: func() string { return callBody(2, "list_devices", nil) }, headers: []string{"content-type", "text/plain"}, status: 415, code: mcpmsg.CodeInvalidRequest, id: 2},
		{name: "security 3 duplicate key", req: func() string {
			return `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_devices","name":"deploy_template"}}`
		}, status: 400, code: mcpmsg.CodeParseError},
		{name: "security 3 case twin", req: func() string {
			return `{"jsonrpc":"2.0","id":3,"method":"tools/list","Method":"tools/call"}`
		}, status: 400, code: mcpmsg.CodeParseError},
		{name: "security 4 not JSON", req: func() string { return `{"jsonrpc":"2.0","id":4,` }, status: 400, code: mcpmsg.CodeParseError},
		{name: "security 4 truncated", req: func() string { return callBody(4, "list_devices", nil) }, overrideCL: "500", status: 400, code: mcpmsg.CodeParseError, id: 4},
		{name: "security 6 jsonrpc", req: func() string { return `{"jsonrpc":"1.0","id":6,"method":"ping"}` }, status: 400, code: mcpmsg.CodeInvalidRequest, id: 6},
		{name: "security 6 null id", req: func() string { return `{"jsonrpc":"2.0","id":null,"method":"ping"}` }, status: 400, code: mcpmsg.CodeInvalidRequest},
		{name: "security 6 object id", req: func() string { return `{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}` }, status: 400, code: mcpmsg.CodeInvalidRequest},
		{name: "security 6 method type", req: func() string { return `{"jsonrpc":"2.0","id":"s6","method":["ping"]}` }, status: 400, code: mcpmsg.CodeInvalidRequest, id: "s6"},
		{name: "security 7 version", req: func() string { return callBody(7, "list_devices", nil) }, headers: []string{"mcp-protocol-version", "2024-11-05"}, status: 400, code: mcpmsg.CodeUnsupportedProtocolVersion, id: 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := mcpPost(cc, tok, c.req(), c.headers...)
			if c.overrideCL != "" {
				req.Attributes.Request.Http.Headers["content-length"] = c.overrideCL
			}
			d := denied(t, h.check(req), c.status)
			e := d.rpcError(t, c.id, c.code)
			if msg, _ := e["message"].(string); msg == "" {
				t.Fatal("no error message")
			}
		})
	}
}

// security 5: oversize bodies get 413, and the gRPC limit is above the body limit, so a
// body right at the limit (plus big headers) still reaches the service.
func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	limit := h.cfg.Authz.MaxBodyBytes
	pad := func(n int) string {
		base := callBody(1, "list_devices", map[string]any{"pad": ""})
		return strings.Replace(base, `"pad":""`, `"pad":"`+strings.Repeat("x", n-len(base))+`"`, 1)
	}
	atLimit := pad(limit)
	if len(atLimit) != limit {
		t.Fatalf("padding: %d", len(atLimit))
	}
	req := mcpPost(cc, tok, atLimit, "x-big-header", strings.Repeat("h", 60<<10))
	allowed(t, h.check(req))
	d := denied(t, h.check(mcpPost(cc, tok, pad(limit+1))), 413)
	d.rpcError(t, nil, mcpmsg.CodeInvalidRequest) // too large to read for its id
	// A large body refused before authentication is not parsed just to echo its id.
	d = denied(t, h.check(mcpPost(cc, "", pad(mcpmsg.PeekLimit+1))), 401)
	d.rpcError(t, nil, authz.CodeUnauthorized)
	d = denied(t, h.check(mcpPost(cc, "", pad(mcpmsg.PeekLimit-1))), 401)
	d.rpcError(t, 1, authz.CodeUnauthorized)
	// Envoy marks a body it cut at max_request_bytes (allow_partial_message) as partial.
	denied(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil), "x-envoy-auth-partial-body", "true")), 413)
}

// Every test sends the body as raw_body, as the generated Envoy config (pack_as_bytes) does;
// an Envoy configured without pack_as_bytes sends it as the UTF-8 string body instead, and
// the decision is the same.
func TestStringBody(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	req := mcpPost(cc, tok, callBody(1, "list_devices", nil))
	req.Attributes.Request.Http.Body = string(req.Attributes.Request.Http.RawBody)
	req.Attributes.Request.Http.RawBody = nil
	allowed(t, h.check(req))
	req = mcpPost(cc, tok, callBody(2, "deploy_template", nil))
	req.Attributes.Request.Http.Body = string(req.Attributes.Request.Http.RawBody)
	req.Attributes.Request.Http.RawBody = nil
	denied(t, h.check(req), 200).rpcError(t, 2, authz.CodeForbidden)
}

func modernCall(id any, tool string) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": map[string]any{},
			"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
	return string(b)
}

// security 8: 2026-07-28 headers must agree with the body.
func TestModernHeaderMismatch(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	v := []string{"mcp-protocol-version", "2026-07-28", "mcp-method", "tools/call"}
	allowed(t, h.check(mcpPost(cc, tok, modernCall("m1", "list_devices"), append(v, "mcp-name", "list_devices")...)))
	d := denied(t, h.check(mcpPost(cc, tok, modernCall("m2", "deploy_template"), append(v, "mcp-name", "list_devices")...)), 400)
	d.rpcError(t, "m2", mcpmsg.CodeHeaderMismatch)
	d = denied(t, h.check(mcpPost(cc, tok, modernCall("m3", "list_devices"), "mcp-protocol-version", "2026-07-28", "mcp-method", "tools/list", "mcp-name", "list_devices")), 400)
	d.rpcError(t, "m3", mcpmsg.CodeHeaderMismatch)
}

// security 9: without the 2026-07-28 headers contract, the body decides and a lying
// header changes nothing.
func TestLegacyHeadersNeverTrusted(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "sam", []string{"service-desk"}, withMFA)
	for _, v := range []string{"", "2025-06-18", "2025-11-25"} {
		req := mcpPost(cc, tok, callBody(9, "deploy_template", nil), "mcp-method", "tools/list", "mcp-name", "list_devices")
		if v == "" {
			delete(req.Attributes.Request.Http.Headers, "mcp-protocol-version")
		} else {
			req.Attributes.Request.Http.Headers["mcp-protocol-version"] = v
		}
		d := denied(t, h.check(req), 200)
		d.rpcError(t, 9, authz.CodeForbidden)
	}
}

// security 10 (authz part): a browser Origin that is not allowed gets 403.
func TestBadOrigin(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	denied(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil), "origin", "http://evil.example")), 403)
	allowed(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil), "origin", publicURL)))
}

// security 11, 17: challenges lead to the absolute metadata URL, with scope where needed.
func TestChallenges(t *testing.T) {
	h := newHarness(t)
	d := denied(t, h.check(mcpPost(cc, "", callBody(11, "list_devices", nil))), 401)
	d.rpcError(t, 11, authz.CodeUnauthorized)
	want := `Bearer resource_metadata="` + publicURL + `/.well-known/oauth-protected-resource/mcp/catalyst-center"`
	if d.headers["www-authenticate"] != want {
		t.Fatalf("challenge %q, want %q", d.headers["www-authenticate"], want)
	}
	// A non-Bearer scheme counts as no token (RFC 6750 §3.1: no error code).
	d = denied(t, h.check(envoyCheck("POST", "/mcp/"+cc, cc, map[string]string{"authorization": "Basic YTpi", "mcp-protocol-version": "2025-06-18"}, callBody(1, "ping", nil))), 401)
	if strings.Contains(d.headers["www-authenticate"], "error=") {
		t.Fatalf("error code for a missing token: %s", d.headers["www-authenticate"])
	}

	d = denied(t, h.check(mcpPost("radkit", "", callBody(12, "list_devices", nil))), 401)
	if got := d.headers["www-authenticate"]; got != `Bearer resource_metadata="`+publicURL+`/.well-known/oauth-protected-resource/mcp/radkit", scope="radkit:use"` {
		t.Fatalf("scoped challenge %q", got)
	}

	// security 17: a token without the server's scope gets 403 insufficient_scope.
	tok := h.token("radkit", "nina", []string{"network-engineers"})
	d = denied(t, h.check(mcpPost("radkit", tok, callBody(17, "list_devices", nil))), 403)
	d.rpcError(t, 17, authz.CodeInsufficientScope)
	wantScope := `Bearer resource_metadata="` + publicURL + `/.well-known/oauth-protected-resource/mcp/radkit", scope="radkit:use", error="insufficient_scope"`
	if d.headers["www-authenticate"] != wantScope {
		t.Fatalf("insufficient_scope challenge %q", d.headers["www-authenticate"])
	}
	tok = h.token("radkit", "nina", []string{"network-engineers"}, func(c map[string]any) { c["scope"] = "openid radkit:use" })
	allowed(t, h.check(mcpPost("radkit", tok, callBody(17, "list_devices", nil))))
}

// security 12, 13: bad tokens get 401 invalid_token.
func TestBadTokens(t *testing.T) {
	h := newHarness(t)
	aud := h.cfg.ResourceURI(cc)
	good := func() map[string]any {
		c := h.iss.Claims("mallory", aud)
		c["groups"] = []any{"admin"}
		return c
	}
	other := oidctest.NewIssuer(t)
	expired := good()
	expired["exp"] = time.Now().Add(-2 * time.Minute).Unix()
	wrongIss := good()
	wrongIss["iss"] = other.URL
	wrongAud := good()
	wrongAud["aud"] = h.cfg.ResourceURI("github")
	idToken := good()
	idToken["nonce"] = "n-0S6_WzA2Mj"
	idToken["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ"

	cases := map[string]string{
		"security 12 expired":                   h.iss.Token(expired),
		"security 12 bad signature":             h.iss.Token(good())[:40] + "A" + h.iss.Token(good())[41:],
		"security 12 forged with unknown key":   h.iss.SignWith(h.iss.NewKey("RS256"), "at+jwt", good()),
		"security 12 another issuer's key":      other.Token(good()),
		"security 12 wrong issuer":              h.iss.Token(wrongIss),
		"security 12 alg none":                  oidctest.Unsigned(good()),
		"security 12 HS256 with the public key": oidctest.HS256WithPublicKey(h.iss.Current(), good()),
		"security 13 wrong audience":            h.iss.Token(wrongAud),
		"security 13 id token":                  h.iss.SignWith(h.iss.Current(), "JWT", idToken),
		"not a JWT":                             "opaque-token-value",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			d := denied(t, h.check(mcpPost(cc, tok, callBody(12, "list_devices", nil))), 401)
			d.rpcError(t, 12, authz.CodeUnauthorized)
			if !strings.Contains(d.headers["www-authenticate"], `error="invalid_token"`) ||
				!strings.Contains(d.headers["www-authenticate"], `resource_metadata="`+publicURL) {
				t.Fatalf("challenge %q", d.headers["www-authenticate"])
			}
		})
	}
	// Only HS*/none failures name the algorithm; a forged signature must not look like success.
	logs := h.logs.String()
	for _, r := range []string{"expired", "bad_signature", "unknown_key", "wrong_issuer", "algorithm_not_allowed", "wrong_audience", "id_token", "malformed"} {
		if !strings.Contains(logs, `"gatehouse.authn_failure":"`+r+`"`) {
			t.Errorf("no decision logged with authn failure %s", r)
		}
	}
	// Clock skew: a token that expired 10s ago is still accepted (skew 30s).
	recent := good()
	recent["exp"] = time.Now().Add(-10 * time.Second).Unix()
	allowed(t, h.check(mcpPost(cc, h.iss.Token(recent), callBody(1, "list_devices", nil))))
}

// security 14: a token in the query string is refused and never logged.
func TestTokenInQuery(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	req := envoyCheck("POST", "/mcp/"+cc+"?access_token="+tok, cc, map[string]string{"mcp-protocol-version": "2025-06-18"}, callBody(14, "list_devices", nil))
	d := denied(t, h.check(req), 401)
	if !strings.Contains(d.headers["www-authenticate"], `error="invalid_request"`) {
		t.Fatalf("challenge %q", d.headers["www-authenticate"])
	}
	// Also with a valid header token: the query token alone is reason enough.
	req.Attributes.Request.Http.Headers["authorization"] = "Bearer " + tok
	denied(t, h.check(req), 401)
	if strings.Contains(h.logs.String(), tok) || strings.Contains(h.logs.String(), tok[len(tok)-20:]) {
		t.Fatal("the token appears in the logs")
	}
}

// security 15: both metadata documents are served without auth, resource exactly right.
func TestProtectedResourceMetadata(t *testing.T) {
	h := newHarness(t)
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource":                    publicURL,
		"/.well-known/oauth-protected-resource/mcp/" + cc:          publicURL + "/mcp/" + cc,
		"/.well-known/oauth-protected-resource/mcp/radkit":         publicURL + "/mcp/radkit",
		"/.well-known/oauth-protected-resource/mcp/no-such-server": "",
	} {
		status, body := httpGet(t, h.httpURL+path)
		if resource == "" {
			if status != 404 {
				t.Fatalf("%s: %d", path, status)
			}
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil || status != 200 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if doc["resource"] != resource {
			t.Fatalf("%s: resource %v, want %s", path, doc["resource"], resource)
		}
		if as, _ := doc["authorization_servers"].([]any); len(as) != 1 || as[0] != h.iss.URL {
			t.Fatalf("%s: authorization_servers %v", path, doc["authorization_servers"])
		}
		// The same routes pass ext_authz without a token.
		allowed(t, h.check(envoyCheck("GET", path, "", nil, "")))
	}
	status, body := httpGet(t, h.httpURL+"/.well-known/oauth-protected-resource/mcp/radkit")
	if status != 200 || !strings.Contains(string(body), `"scopes_supported":["radkit:use"]`) {
		t.Fatalf("scopes_supported: %s", body)
	}
}

// security 16: path tricks never pass unauthorized.
func TestPathTricks(t *testing.T) {
	h := newHarness(t)
	admin := h.token(cc, "root", []string{"admin"})
	for _, p := range []string{
		"/.well-known/../mcp/" + cc,
		"/.well-known/oauth-protected-resource/../../mcp/" + cc,
		"//mcp/" + cc,
		"/mcp//" + cc,
		"/mcp/%2e%2e/mcp/" + cc,
		"/.well-known/oauth-protected-resource/%2e%2e/%2e%2e/mcp/" + cc,
		"/.well-known/oauth-protected-resource%2f..%2fmcp/" + cc,
		"/mcp/./" + cc,
		"/mcp\\" + cc,
		"/.well-known/oauth-protected-resource/mcp/" + cc + "/../../../mcp/" + cc,
	} {
		for _, server := range []string{"", cc} {
			for _, method := range []string{"GET", "POST"} {
				resp := h.check(envoyCheck(method, p, server, map[string]string{"mcp-protocol-version": "2025-06-18"}, callBody(1, "list_devices", nil)))
				if resp.GetOkResponse() != nil {
					t.Fatalf("%s %s (server %q) was allowed without a token", method, p, server)
				}
			}
		}
		// Even with a valid token a non-canonical path is refused: Envoy (normalize_path,
		// merge_slashes) never sends one, and an adapter might resolve it differently.
		req := envoyCheck("POST", p, cc, map[string]string{"mcp-protocol-version": "2025-06-18", "authorization": "Bearer " + admin}, callBody(1, "list_devices", nil))
		denied(t, h.check(req), 400)
	}
	// A POST to the metadata path is not exempt.
	resp := h.check(envoyCheck("POST", "/.well-known/oauth-protected-resource", "", nil, callBody(1, "list_devices", nil)))
	if resp.GetOkResponse() != nil {
		t.Fatal("POST to the metadata path passed")
	}
}

// security 20 through the service: the issuer rotates its key; new tokens work at once.
func TestKeyRotation(t *testing.T) {
	h := newHarness(t)
	old := h.iss.Current()
	time.Sleep(1100 * time.Millisecond) // past jwks_min_refresh_interval since discovery
	h.iss.Rotate("ES256")
	tok := h.token(cc, "alice", []string{"network-engineers"})
	allowed(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil))))
	// A token from the old key still verifies while the issuer publishes it.
	oldTok := h.iss.SignWith(old, "at+jwt", h.iss.Claims("alice", h.cfg.ResourceURI(cc)))
	h.check(mcpPost(cc, oldTok, callBody(1, "ping", nil)))
	if resp := h.check(mcpPost(cc, oldTok, callBody(1, "list_devices", nil))); resp.GetDeniedResponse().GetStatus().GetCode() == 401 {
		t.Fatal("token signed with a still-published key was refused")
	}
}

// Many Checks at once with one token share the cached identity and its memoized policy
// input; under -race this proves that sharing is safe, and every answer is still right.
// The evaluation timeout is generous: this is about decisions, not latency, and 640 Checks
// under the race detector on a shared two-core runner can exceed the default 100 ms.
func TestConcurrentChecks(t *testing.T) {
	h := newHarness(t, withConfig(func(c *config.Config) { c.Policy.EvalTimeout = 5 * time.Second }))
	ne := h.token(cc, "nina", []string{"network-engineers"})
	sd := h.token(cc, "sam", []string{"service-desk"})
	errs := make(chan string, 64)
	done := make(chan struct{})
	for g := range 32 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 20 {
				tok, tool, want := ne, "run_show_commands", true
				if (g+i)%2 == 1 {
					tok, want = sd, false
				}
				resp, err := h.client.Check(t.Context(), mcpPost(cc, tok, callBody(i, tool, nil)))
				if err != nil {
					errs <- err.Error()
					return
				}
				if got := resp.GetOkResponse() != nil; got != want {
					errs <- fmt.Sprintf("wrong decision under concurrency (want allow %v): %s", want, resp.GetDeniedResponse().GetBody())
					return
				}
			}
		}()
	}
	for range 32 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// What the client is told, what the decision log says and what the metrics count come from
// one verdict per Check: for a request stopped at each stage, the answer's status and
// decision id match the log line, and the line names the stage and outcome that decided.
func TestVerdictAgreesEverywhere(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	bad := h.token(cc, "alice", []string{"network-engineers"}, func(c map[string]any) { c["iss"] = "https://evil.example" })
	radkitNoScope := h.token("radkit", "alice", []string{"network-engineers"})
	cases := []struct {
		name           string
		req            *authv3.CheckRequest
		status         int
		stage, outcome string
	}{
		{"path", envoyCheck("POST", "/mcp/../mcp/x", "", nil, callBody(1, "list_devices", nil)), 400, "route", "invalid"},
		{"unknown server", mcpPost("nope", tok, callBody(1, "list_devices", nil)), 404, "route", "invalid"},
		{"origin", mcpPost(cc, tok, callBody(1, "list_devices", nil), "origin", "https://evil.example"), 403, "route", "invalid"},
		{"exempt", envoyCheck("GET", "/.well-known/oauth-protected-resource/mcp/"+cc, "", nil, ""), 200, "route", "exempt"},
		{"no token", mcpPost(cc, "", callBody(1, "list_devices", nil)), 401, "authn", "unauthenticated"},
		{"token in query", envoyCheck("POST", "/mcp/"+cc+"?access_token=x", cc, nil, callBody(1, "list_devices", nil)), 401, "authn", "unauthenticated"},
		{"bad token", mcpPost(cc, bad, callBody(1, "list_devices", nil)), 401, "authn", "unauthenticated"},
		{"scope", mcpPost("radkit", radkitNoScope, callBody(1, "list_devices", nil)), 403, "scope", "deny"},
		{"parse", mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"ping","method":"x"}`), 400, "parse", "invalid"},
		{"policy deny", mcpPost(cc, tok, callBody(1, "deploy_template", nil)), 200, "policy", "deny"},
		{"policy allow", mcpPost(cc, tok, callBody(1, "list_devices", nil)), 200, "policy", "allow"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.check(c.req)
			var status int
			var id string
			if ok := resp.GetOkResponse(); ok != nil {
				status = 200
				for _, hv := range ok.GetHeaders() {
					if hv.GetHeader().GetKey() == authz.HeaderDecisionID {
						id = hv.GetHeader().GetValue()
					}
				}
			} else {
				d := resp.GetDeniedResponse()
				status = int(d.GetStatus().GetCode())
				for _, hv := range d.GetHeaders() {
					if hv.GetHeader().GetKey() == authz.HeaderDecisionID {
						id = hv.GetHeader().GetValue()
					}
				}
			}
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if c.outcome == "exempt" {
				return // exempt answers carry no decision id and log at debug level only
			}
			if id == "" {
				t.Fatal("no decision id on the answer")
			}
			line := h.decision(t, id)
			if line["gatehouse.stage"] != c.stage || line["gatehouse.outcome"] != c.outcome ||
				line["http.response.status_code"] != float64(c.status) {
				t.Fatalf("log line says stage %v outcome %v status %v; want %s %s %d",
					line["gatehouse.stage"], line["gatehouse.outcome"], line["http.response.status_code"], c.stage, c.outcome, c.status)
			}
		})
	}
}

// The edge's headers-only check (stage "headers") runs before any body is read: a stranger
// gets 401 and an oversized Content-Length 413 without the edge buffering a byte; an
// authenticated caller passes with no header changed (the body check decides), and that
// half-decision is not logged as a decision.
func TestHeaderStage(t *testing.T) {
	h := newHarness(t, withConfig(func(c *config.Config) {
		c.Servers[0].MaxBodyBytes = 2048 // catalyst-center takes small messages only
	}))
	tok := h.token(cc, "alice", []string{"network-engineers"})
	headersOnly := func(token string, contentLength int) *authv3.CheckRequest {
		hs := map[string]string{"mcp-protocol-version": "2025-06-18", "content-length": fmt.Sprint(contentLength)}
		if token != "" {
			hs["authorization"] = "Bearer " + token
		}
		return testkit.CheckRequestWithExtensions("POST", "/mcp/"+cc, contract.HeaderStageExtensions("mcp-"+cc, cc), hs, "")
	}
	d := denied(t, h.check(headersOnly("", 500)), 401)
	if !strings.Contains(d.headers["www-authenticate"], "resource_metadata=") {
		t.Fatalf("challenge: %v", d.headers)
	}
	denied(t, h.check(headersOnly(tok, 4096)), 413) // over this server's limit
	before := strings.Count(h.logs.String(), `"event.action":"mcp-authorize"`)
	resp := h.check(headersOnly(tok, 500))
	ok := resp.GetOkResponse()
	if ok == nil || len(ok.GetHeaders()) != 0 || len(ok.GetHeadersToRemove()) != 0 {
		t.Fatalf("headers-only check of an authenticated request: %v", resp)
	}
	if after := strings.Count(h.logs.String(), `"event.action":"mcp-authorize"`); after != before {
		t.Fatalf("the headers-only pass was logged as a decision (%d lines → %d)", before, after)
	}
	// The per-server limit applies to the body check too; another server keeps the default.
	big := callBody(1, "list_devices", map[string]any{"pad": strings.Repeat("x", 3000)})
	denied(t, h.check(mcpPost(cc, tok, big)), 413)
	sn := h.token("servicenow", "sam", []string{"service-desk"})
	allowed(t, h.check(mcpPost("servicenow", sn, callBody(1, "search_incidents", map[string]any{"text": strings.Repeat("x", 3000)}))))
}

// MCP's GET (stream) and DELETE (end of session) carry no body; one that does is refused,
// so an adapter never reads a body the policy did not see.
func TestBodyOnGetOrDeleteRefused(t *testing.T) {
	h := newHarness(t)
	tok := h.token(cc, "nina", []string{"network-engineers"})
	for _, m := range []string{"GET", "DELETE"} {
		hs := map[string]string{"mcp-protocol-version": "2025-11-25", "authorization": "Bearer " + tok}
		allowed(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, "")))
		d := denied(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, callBody(1, "list_devices", nil))), 400)
		d.rpcError(t, 1, mcpmsg.CodeInvalidRequest)
		hs["transfer-encoding"] = "chunked"
		denied(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, "")), 400)
	}
}
