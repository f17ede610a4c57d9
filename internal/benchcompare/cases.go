package benchcompare

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/envoycheck"
)

// checkRequest is the CheckRequest Envoy sends for an HTTP request to the edge (as the dev
// edge builds it: headers, path, raw_body, the route's context_extensions).
func checkRequest(method, path, server string, headers map[string]string, body string) *authv3.CheckRequest {
	r, err := http.NewRequest(method, publicURL+path, strings.NewReader(body))
	if err != nil {
		panic(err) // literal methods and paths only
	}
	r.RemoteAddr = "192.0.2.10:51234"
	r.Proto = "HTTP/1.1"
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8080}))
	r.Header.Set("X-Request-Id", "9d7a6f1e-5f44-4c1e-9d5e-2b0e3c9f8a11")
	r.Header.Set("User-Agent", "bench-client/1.0")
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
	} else {
		r.ContentLength = -1
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return envoycheck.Build(r, []byte(body), contract.RouteExtensions("bench-route", server))
}

func rpc(id any, method string, params map[string]any) string {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if id != nil {
		m["id"] = id
	}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func call(tool string, args map[string]any) string {
	if args == nil {
		args = map[string]any{}
	}
	return rpc(7, "tools/call", map[string]any{"name": tool, "arguments": args})
}

// mcpPost is a POST of an MCP message to server with token (none when empty).
func mcpPost(server, token, body string) *authv3.CheckRequest {
	hs := map[string]string{"mcp-protocol-version": "2025-06-18"}
	if token != "" {
		hs["authorization"] = "Bearer " + token
	}
	return checkRequest(http.MethodPost, "/mcp/"+server, server, hs, body)
}

// Case is one request type of the decision-equivalence check.
type Case struct {
	Name string
	Req  *authv3.CheckRequest
}

// caller mints tokens for sub in groups (amr pwd, or pwd and mfa).
type caller struct {
	iss    *issuer
	sub    string
	groups []string
	mfa    bool
}

func (c caller) tokenFor(server string, mod func(map[string]any)) string {
	amr := []string{"pwd"}
	if c.mfa {
		amr = append(amr, "mfa")
	}
	cl := c.iss.claims(c.sub, audience(server), c.groups, amr)
	if mod != nil {
		mod(cl)
	}
	t, err := c.iss.token(cl)
	if err != nil {
		panic(err) // signing with a key we made cannot fail
	}
	return t
}

// cases are the request types both servers must decide identically: allowed and denied
// tool calls, lists, session methods, notifications, responses, the REST bridge, and
// missing, forged, expired and misdirected tokens.
func cases(iss *issuer) []Case {
	const cc, sn, gh = "catalyst-center", "servicenow", "github"
	neteng := caller{iss: iss, sub: "nina", groups: []string{"network-engineers"}}
	netengMFA := caller{iss: iss, sub: "nina", groups: []string{"network-engineers"}, mfa: true}
	desk := caller{iss: iss, sub: "sam", groups: []string{"service-desk"}}
	dev := caller{iss: iss, sub: "dana", groups: []string{"developers"}}
	nobody := caller{iss: iss, sub: "otto", groups: []string{"visitors"}}
	tok := neteng.tokenFor(cc, nil)
	expired := neteng.tokenFor(cc, func(c map[string]any) {
		past := time.Now().Add(-2 * time.Hour)
		c["iat"], c["nbf"], c["exp"] = past.Unix(), past.Unix(), past.Add(time.Hour).Unix()
	})
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	restCall := func(c caller, tool, args string) *authv3.CheckRequest {
		return checkRequest(http.MethodPost, contract.RESTPath(gh, tool), gh,
			map[string]string{"authorization": "Bearer " + c.tokenFor(gh, nil)}, args)
	}
	return []Case{
		{"tools/call read, allowed", mcpPost(cc, tok, call("list_devices", map[string]any{"limit": 50, "site": "hq"}))},
		{"tools/call execute, allowed", mcpPost(cc, tok, call("run_show_commands", map[string]any{"device_ids": []string{"d1"}, "commands": []string{"show version"}}))},
		{"tools/call destructive without MFA, denied", mcpPost(cc, tok, call("deploy_template", map[string]any{"template_id": "t1", "device_ids": []string{"d1"}}))},
		{"tools/call destructive with MFA", mcpPost(cc, netengMFA.tokenFor(cc, nil), call("deploy_template", map[string]any{"template_id": "t1", "device_ids": []string{"d1"}}))},
		{"tools/call not in catalog, denied", mcpPost(cc, tok, call("format_flash", nil))},
		{"tools/call write on read-only server, denied", mcpPost(sn, neteng.tokenFor(sn, nil), call("create_incident", map[string]any{"short_description": "x"}))},
		{"tools/call by tool grant, allowed", mcpPost(sn, neteng.tokenFor(sn, nil), call("create_change", map[string]any{"short_description": "x"}))},
		{"tools/call write, allowed", mcpPost(sn, desk.tokenFor(sn, nil), call("create_incident", map[string]any{"short_description": "x"}))},
		{"tools/call on a server without a role, denied", mcpPost(gh, neteng.tokenFor(gh, nil), call("get_issue", map[string]any{"owner": "o", "repo": "r", "issue_number": 1}))},
		{"tools/list, allowed", mcpPost(cc, tok, rpc(2, "tools/list", map[string]any{}))},
		{"tools/list by a non-member, denied", mcpPost(cc, nobody.tokenFor(cc, nil), rpc(2, "tools/list", map[string]any{}))},
		{"resources/list, allowed", mcpPost(cc, tok, rpc(3, "resources/list", nil))},
		{"prompts/list, allowed", mcpPost(gh, dev.tokenFor(gh, nil), rpc(3, "prompts/list", nil))},
		{"initialize, allowed", mcpPost(cc, tok, rpc(1, "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "b", "version": "1"}}))},
		{"initialize by a non-member, denied", mcpPost(cc, nobody.tokenFor(cc, nil), rpc(1, "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "b", "version": "1"}}))},
		{"ping, allowed", mcpPost(cc, tok, rpc(4, "ping", nil))},
		{"notification, allowed", mcpPost(cc, tok, rpc(nil, "notifications/initialized", nil))},
		{"notification by a non-member, denied", mcpPost(cc, nobody.tokenFor(cc, nil), rpc(nil, "notifications/initialized", nil))},
		{"unknown method, denied", mcpPost(cc, tok, rpc(5, "devices/wipe", nil))},
		{"no token, 401", mcpPost(cc, "", call("list_devices", nil))},
		{"forged signature, 401", mcpPost(cc, forged, call("list_devices", nil))},
		{"expired token, 401", mcpPost(cc, expired, call("list_devices", nil))},
		{"token for another server, 401", mcpPost(cc, neteng.tokenFor(sn, nil), call("list_devices", nil))},
		{"REST tool call, allowed", restCall(dev, "get_issue", `{"arguments": {"owner": "o", "repo": "r", "issue_number": 1}}`)},
		{"REST destructive tool without MFA, denied", restCall(dev, "delete_branch", `{"arguments": {"owner": "o", "repo": "r", "branch": "b"}}`)},
	}
}

// Decision is what a server answered, as far as the two must agree.
type Decision struct {
	Allowed bool
	Status  int // HTTP status of a denial; 0 when allowed
	Err     string
}

func (d Decision) String() string {
	switch {
	case d.Err != "":
		return "error " + d.Err
	case d.Allowed:
		return "allow"
	}
	return fmt.Sprintf("deny %d", d.Status)
}

// decider answers one CheckRequest.
type decider func(context.Context, *authv3.CheckRequest) Decision

// overGRPC decides through an ext_authz gRPC client.
func overGRPC(c authv3.AuthorizationClient) decider {
	return func(ctx context.Context, req *authv3.CheckRequest) Decision { return decide(ctx, c, req) }
}

func decide(ctx context.Context, c authv3.AuthorizationClient, req *authv3.CheckRequest) Decision {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		return Decision{Err: err.Error()}
	}
	if resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil {
		return Decision{Allowed: true}
	}
	return Decision{Status: int(resp.GetDeniedResponse().GetStatus().GetCode())}
}

// Mismatch is a request type the two servers decided differently.
type Mismatch struct {
	Case           string
	Gatehouse, OPA Decision
}

// compare decides every case on both servers and returns the decisions and the mismatches.
func compare(ctx context.Context, gh, opa decider, cs []Case) (map[string][2]Decision, []Mismatch) {
	all := map[string][2]Decision{}
	var bad []Mismatch
	for _, c := range cs {
		g, o := gh(ctx, c.Req), opa(ctx, c.Req)
		all[c.Name] = [2]Decision{g, o}
		if g != o {
			bad = append(bad, Mismatch{c.Name, g, o})
		}
	}
	return all, bad
}
