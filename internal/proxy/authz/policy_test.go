package authz_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
)

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

// security 21: unknown methods are denied; notifications and client responses are
// authorized too (a non-member's are refused).
func TestMethodsNotificationsResponses(t *testing.T) {
	h := newHarness(t)
	admin := h.token(cc, "root", []string{"admin"})
	d := denied(t, h.check(mcpPost(cc, admin, rpc(21, "admin/shutdown", nil))), 200)
	e := d.rpcError(t, 21, authz.CodeForbidden)
	if !strings.Contains(e["message"].(string), `method "admin/shutdown" is not a known MCP method`) {
		t.Fatalf("reason: %v", e["message"])
	}

	dev := h.token(cc, "dana", []string{"developers"})
	ne := h.token(cc, "nina", []string{"network-engineers"})
	note := rpc(nil, "notifications/initialized", nil)
	allowed(t, h.check(mcpPost(cc, ne, note)))
	d = denied(t, h.check(mcpPost(cc, dev, note)), 403) // no id to answer: plain 403
	d.rpcError(t, nil, authz.CodeForbidden)

	resp := `{"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept","content":{}}}`
	allowed(t, h.check(mcpPost(cc, ne, resp)))
	denied(t, h.check(mcpPost(cc, dev, resp)), 403)

	// GET (stream) and DELETE (session end) of the 2025 revisions are authorized as well.
	for _, m := range []string{"GET", "DELETE"} {
		hs := map[string]string{"mcp-protocol-version": "2025-11-25", "mcp-session-id": h.session(cc, "nina", "s-1")}
		hs["authorization"] = "Bearer " + ne
		allowed(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, "")))
		hs["authorization"] = "Bearer " + dev
		hs["mcp-session-id"] = h.session(cc, "dana", "s-2")
		denied(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, "")), 403)
		// security 34 at the authz level: no GET/DELETE in 2026-07-28.
		hs["mcp-protocol-version"] = "2026-07-28"
		hs["authorization"] = "Bearer " + ne
		d := denied(t, h.check(envoyCheck(m, "/mcp/"+cc, cc, hs, "")), 405)
		if d.headers["allow"] != "POST" {
			t.Fatalf("405 without Allow: %v", d.headers)
		}
	}
}

// security 22, 24: the policy sees subject, server, tool name, arguments and the catalog's
// tool entry; what the request claims about the tool is never used.
func TestInputContract(t *testing.T) {
	dir := copyPolicies(t)
	// Replace the default policy with one that echoes its input into headers.
	echo := `package gatehouse.authz

import rego.v1

allow := true

headers := {
	"x-echo-sub": input.subject.sub,
	"x-echo-groups": concat(",", input.subject.groups),
	"x-echo-server": input.mcp.server,
	"x-echo-method": input.mcp.method,
	"x-echo-name": input.mcp.name,
	"x-echo-args": json.marshal(input.mcp.arguments),
	"x-echo-id": json.marshal(input.mcp.id),
	"x-echo-version": input.mcp.protocol_version,
	"x-echo-via": input.mcp.via,
	"x-echo-tool": json.marshal(object.get(input, "tool", null)),
	"x-echo-path": concat("/", input.parsed_path),
	"x-echo-ce": input.attributes.contextExtensions.server,
	"x-echo-has-authz": json.marshal(object.get(input.attributes.request.http.headers, "authorization", false)),
	"x-echo-now": input.now,
	"x-echo-parsed-body": json.marshal([input.parsed_body.method, input.parsed_body.id, object.get(input.parsed_body.params.arguments, "template_id", null)]),
	"x-echo-raw-body": json.marshal([object.get(input.attributes.request.http, "rawBody", false), object.get(input.attributes.request.http, "body", false)]),
	"mcp-session-id": "hijacked",
	"x-envoy-original-path": "/admin",
	"keep-alive": "timeout=1",
	"authorization": "Bearer forged",
}
`
	rego, _ := filepath.Glob(filepath.Join(dir, "*.rego"))
	for _, f := range rego {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "echo.rego"), []byte(echo), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withPolicyDir(dir))
	tok := h.token(cc, "alice", []string{"network-engineers", "extra"})
	// The body tries to pass its own annotations; input.tool must be the catalog's.
	body := `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"deploy_template","arguments":{"template_id":"t-7","devices":["sw1"]},"annotations":{"readOnlyHint":true,"destructiveHint":false},"_meta":{"action":"read"}}}`
	set, _ := allowed(t, h.check(mcpPost(cc, tok, body, "mcp-protocol-version", "2025-11-25")))
	want := map[string]string{
		"x-echo-sub":       "alice",
		"x-echo-groups":    "network-engineers,extra",
		"x-echo-server":    cc,
		"x-echo-method":    "tools/call",
		"x-echo-name":      "deploy_template",
		"x-echo-args":      `{"devices":["sw1"],"template_id":"t-7"}`,
		"x-echo-id":        "42",
		"x-echo-version":   "2025-11-25",
		"x-echo-via":       "mcp",
		"x-echo-tool":      `{"action":"execute","annotations":{"destructiveHint":true,"idempotentHint":false,"openWorldHint":true,"readOnlyHint":false}}`,
		"x-echo-path":      "mcp/" + cc,
		"x-echo-ce":        cc,
		"x-echo-has-authz": "false",
		// The body parsed once (parsed_body, as opa-envoy-plugin names it); no raw copy.
		"x-echo-parsed-body": `["tools/call",42,"t-7"]`,
		"x-echo-raw-body":    `[false,false]`,
	}
	for k, v := range want {
		if set[k] != v {
			t.Errorf("%s = %q, want %q", k, set[k], v)
		}
	}
	for _, k := range []string{"mcp-session-id", "x-envoy-original-path", "keep-alive", "authorization"} {
		if v, ok := set[k]; ok {
			t.Errorf("the policy set %s: %q", k, v)
		}
	}
	if _, err := time.Parse(time.RFC3339, set["x-echo-now"]); err != nil {
		t.Errorf("input.now %q: %v", set["x-echo-now"], err)
	}
	// A tool not in the catalog has no input.tool.
	set, _ = allowed(t, h.check(mcpPost(cc, tok, callBody(1, "format_flash", nil))))
	if set["x-echo-tool"] != "null" {
		t.Fatalf("uncatalogued tool got input.tool %s", set["x-echo-tool"])
	}
}

// security 22, 23, 24, 25 with the default policy.
func TestDefaultPolicyDecisions(t *testing.T) {
	h := newHarness(t)
	sd := h.token(cc, "sam", []string{"service-desk"}, withMFA)
	ne := h.token(cc, "nina", []string{"network-engineers"}, withMFA)
	admin := h.token(cc, "root", []string{"admin"}, withMFA)

	allowed(t, h.check(mcpPost(cc, sd, callBody(1, "list_devices", nil))))
	allowed(t, h.check(mcpPost(cc, admin, callBody(2, "deploy_template", map[string]any{"template_id": "t"}))))
	// Network engineers deploy through the deployments server (change request, approval).
	d0 := denied(t, h.check(mcpPost(cc, ne, callBody(3, "deploy_template", map[string]any{"template_id": "t"}))), 200)
	if !strings.Contains(d0.raw, "start_deployment") {
		t.Errorf("a network engineer's deploy_template: %s", d0.raw)
	}

	// security 25: the documented denial.
	d := denied(t, h.check(mcpPost(cc, sd, callBody("req-25", "deploy_template", map[string]any{"template_id": "t"}))), 200)
	e := d.rpcError(t, "req-25", authz.CodeForbidden)
	msg := e["message"].(string)
	if !strings.HasPrefix(msg, "Forbidden: ") || !strings.Contains(msg, `tool "deploy_template" on server "catalyst-center" needs "execute" access`) {
		t.Fatalf("reason a model can act on: %q", msg)
	}
	data := e["data"].(map[string]any)
	if data["tool"] != "deploy_template" || data["server"] != cc || len(data["reasons"].([]any)) != 1 {
		t.Fatalf("data: %v", data)
	}
	if d.headers["content-type"] != "application/json" {
		t.Fatalf("content-type %q", d.headers["content-type"])
	}

	// security 24: a tool missing from the catalog is denied, even for admin.
	d = denied(t, h.check(mcpPost(cc, admin, callBody(3, "format_flash", nil))), 200)
	if !strings.Contains(d.rpcError(t, 3, authz.CodeForbidden)["message"].(string), "not in the pinned catalog") {
		t.Fatal(d.raw)
	}

	// security 23: resources/read by URI, prompts/get, completion/complete, tasks/*.
	dev := h.token(cc, "dana", []string{"developers"})
	for _, c := range []struct {
		method string
		params func(sub string) map[string]any
	}{
		{"resources/read", func(string) map[string]any { return map[string]any{"uri": "catalyst://devices/1"} }},
		{"prompts/get", func(string) map[string]any { return map[string]any{"name": "triage"} }},
		{"completion/complete", func(string) map[string]any {
			return map[string]any{"ref": map[string]any{"type": "ref/prompt", "name": "triage"}, "argument": map[string]any{"name": "site", "value": "h"}}
		}},
		// Task ids as the edge hands them out: bound to their caller.
		{"tasks/get", func(sub string) map[string]any { return map[string]any{"taskId": h.task(cc, sub, "task-1")} }},
		{"tasks/cancel", func(sub string) map[string]any { return map[string]any{"taskId": h.task(cc, sub, "task-1")} }},
	} {
		allowed(t, h.check(mcpPost(cc, ne, rpc(1, c.method, c.params("nina")))))
		denied(t, h.check(mcpPost(cc, dev, rpc(1, c.method, c.params("dana")))), 200)
	}
	// tasks/cancel needs write: service desk (read only here) is refused.
	denied(t, h.check(mcpPost(cc, sd, rpc(1, "tasks/cancel", map[string]any{"taskId": h.task(cc, "sam", "task-1")}))), 200)
	allowed(t, h.check(mcpPost(cc, sd, rpc(1, "tasks/get", map[string]any{"taskId": h.task(cc, "sam", "task-1")}))))
}

func TestDenyModeHTTP(t *testing.T) {
	h := newHarness(t, withConfig(func(c *config.Config) { c.Authz.DenyMode = config.DenyHTTP }))
	sd := h.token(cc, "sam", []string{"service-desk"}, withMFA)
	d := denied(t, h.check(mcpPost(cc, sd, callBody(5, "deploy_template", nil))), 403)
	d.rpcError(t, 5, authz.CodeForbidden)
}

// security 30: the REST bridge is decided by the same policy as the same call over MCP.
func TestRESTBridgeSameDecision(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		groups []string
		tool   string
		allow  bool
	}{
		{[]string{"service-desk"}, "list_devices", true},
		{[]string{"service-desk"}, "deploy_template", false},
		{[]string{"developers"}, "list_devices", false},
		{[]string{"admin"}, "format_flash", false},
		{[]string{"network-engineers"}, "run_show_commands", true},
	} {
		tok := h.token(cc, "u", c.groups, withMFA)
		viaMCP := h.check(mcpPost(cc, tok, callBody(1, c.tool, map[string]any{"site": "hq"})))
		restReq := envoyCheck("POST", "/api/v1/mcp/"+cc+"/tools/"+c.tool, "", map[string]string{"authorization": "Bearer " + tok}, `{"arguments":{"site":"hq"}}`)
		viaREST := h.check(restReq)
		if (viaMCP.GetOkResponse() != nil) != c.allow || (viaREST.GetOkResponse() != nil) != c.allow {
			t.Fatalf("%v %s: MCP allowed=%v, REST allowed=%v, want %v", c.groups, c.tool,
				viaMCP.GetOkResponse() != nil, viaREST.GetOkResponse() != nil, c.allow)
		}
		if !c.allow {
			d := denied(t, viaREST, 403)
			if d.headers["content-type"] != "application/problem+json" || d.body["status"] != float64(403) || d.body["decision_id"] == "" {
				t.Fatalf("REST denial: %s", d.raw)
			}
		}
	}
	// Encoded segments are refused rather than decoded differently than the bridge would.
	tok0 := h.token(cc, "u", []string{"admin"})
	denied(t, h.check(envoyCheck("POST", "/api/v1/mcp/"+cc+"/tools/list%5Fdevices", "", map[string]string{"authorization": "Bearer " + tok0}, `{}`)), 404)
	// The REST body is held to the same strict JSON rules.
	tok := h.token(cc, "u", []string{"admin"})
	denied(t, h.check(envoyCheck("POST", "/api/v1/mcp/"+cc+"/tools/list_devices", "", map[string]string{"authorization": "Bearer " + tok}, `{"a":1,"A":2}`)), 400)
	// The body is the seed's {"arguments": {...}}; anything else is refused naming what is wrong.
	for body, want := range map[string]string{
		`{"site":"hq"}`:      `unknown member \"site\"`,
		`{"arguments":[1]}`:  "arguments must be a JSON object",
		`[{"arguments":{}}]`: "the body must be a JSON object",
	} {
		d := denied(t, h.check(envoyCheck("POST", "/api/v1/mcp/"+cc+"/tools/list_devices", "", map[string]string{"authorization": "Bearer " + tok}, body)), 400)
		if !strings.Contains(d.raw, want) || d.headers["content-type"] != "application/problem+json" {
			t.Errorf("%s: %s", body, d.raw)
		}
	}
	if resp := h.check(envoyCheck("POST", "/api/v1/mcp/"+cc+"/tools/list_devices", "", map[string]string{"authorization": "Bearer " + tok}, "")); resp.GetOkResponse() == nil {
		t.Errorf("an empty body (no arguments) is refused: %v", resp)
	}
	if !strings.Contains(h.logs.String(), `"gatehouse.via":"rest"`) {
		t.Fatal("REST decisions are not logged with via=rest")
	}
}

// security 30: a REST tool listing is decided at Check time by the same listing query that
// filters tools/list over MCP; the bridge gets the names in x-gatehouse-tools.
func TestRESTToolListing(t *testing.T) {
	h := newHarness(t)
	get := func(groups []string, path, body string) *authv3.CheckResponse {
		tok := h.token(cc, "u", groups, withMFA)
		return h.check(envoyCheck("GET", path, "", map[string]string{"authorization": "Bearer " + tok}, body))
	}
	list := func(groups []string) []string {
		t.Helper()
		resp := get(groups, contract.RESTToolsPath(cc), "")
		if resp.GetOkResponse() == nil {
			t.Fatalf("%v: listing refused: %v", groups, resp)
		}
		for _, hv := range resp.GetOkResponse().GetHeaders() {
			if hv.GetHeader().GetKey() == contract.HeaderTools {
				return strings.Split(hv.GetHeader().GetValue(), ",")
			}
		}
		t.Fatalf("%v: no %s header", groups, contract.HeaderTools)
		return nil
	}
	sd, ne := list([]string{"service-desk"}), list([]string{"network-engineers"})
	if !slices.Contains(sd, "list_devices") || slices.Contains(sd, "deploy_template") || !slices.Contains(ne, "run_show_commands") ||
		slices.Contains(sd, "run_show_commands") || slices.Contains(ne, "deploy_template") {
		t.Fatalf("service desk %v, network engineers %v", sd, ne)
	}
	if !slices.IsSorted(sd) {
		t.Errorf("not sorted: %v", sd)
	}
	// Callers with no grant on the server are refused the listing; a body or a POST is refused.
	denied(t, get([]string{"developers"}, contract.RESTToolsPath(cc), ""), 403)
	denied(t, get([]string{"service-desk"}, contract.RESTToolsPath(cc), "{}"), 400)
	tok := h.token(cc, "u", []string{"service-desk"})
	d := denied(t, h.check(envoyCheck("POST", contract.RESTToolsPath(cc), "", map[string]string{"authorization": "Bearer " + tok,
		"content-type": "application/json"}, "{}")), 405)
	if d.headers["allow"] != "GET" {
		t.Errorf("405 without Allow: GET: %v", d.headers)
	}
	// A client cannot smuggle its own list.
	tok = h.token(cc, "u", []string{"service-desk"})
	resp := h.check(envoyCheck("GET", contract.RESTToolsPath(cc), "", map[string]string{"authorization": "Bearer " + tok,
		contract.HeaderTools: "deploy_template"}, ""))
	for _, hv := range resp.GetOkResponse().GetHeaders() {
		if hv.GetHeader().GetKey() == contract.HeaderTools && strings.Contains(hv.GetHeader().GetValue(), "deploy_template") {
			t.Fatalf("client-sent %s kept: %s", contract.HeaderTools, hv.GetHeader().GetValue())
		}
	}
}

// security 30: a REST task path is decided as the same task request over MCP: GET as
// tasks/get, DELETE as tasks/cancel; other methods, bodies and odd ids are refused.
func TestRESTTaskPaths(t *testing.T) {
	h := newHarness(t)
	const id = "deploy-0123456789abcdef-0123456789ab"
	allowed := map[bool]int{}
	for _, groups := range [][]string{{"service-desk"}, {"network-engineers"}, {"developers"}, {"admin"}} {
		for method, rpc := range map[string]string{"GET": "tasks/get", "DELETE": "tasks/cancel"} {
			tok := h.token(cc, "u", groups, withMFA)
			viaMCP := h.check(mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"`+rpc+`","params":{"taskId":"`+h.task(cc, "u", id)+`"}}`,
				"mcp-protocol-version", "2025-11-25"))
			viaREST := h.check(envoyCheck(method, contract.RESTTaskPath(cc, id), "", map[string]string{"authorization": "Bearer " + tok}, ""))
			if (viaMCP.GetOkResponse() != nil) != (viaREST.GetOkResponse() != nil) {
				t.Errorf("%v %s: MCP %s allowed=%v, REST allowed=%v", groups, method, rpc, viaMCP.GetOkResponse() != nil, viaREST.GetOkResponse() != nil)
			}
			allowed[viaREST.GetOkResponse() != nil]++
			if viaREST.GetOkResponse() == nil {
				if d := denied(t, viaREST, 403); d.headers["content-type"] != "application/problem+json" || !strings.Contains(d.raw, rpc) {
					t.Errorf("%v %s: REST denial %s", groups, method, d.raw)
				}
			}
		}
	}
	if allowed[true] == 0 || allowed[false] == 0 {
		t.Errorf("allowed/denied: %v, want both", allowed)
	}
	if !strings.Contains(h.logs.String(), `"gatehouse.method":"tasks/get"`) || !strings.Contains(h.logs.String(), `"gatehouse.method":"tasks/cancel"`) {
		t.Error("no REST task decision logged as tasks/get")
	}
	tok := h.token(cc, "u", []string{"admin"}, withMFA)
	d := denied(t, h.check(envoyCheck("POST", contract.RESTTaskPath(cc, id), "", map[string]string{"authorization": "Bearer " + tok,
		"content-type": "application/json"}, "{}")), 405)
	if d.headers["allow"] != "GET, DELETE" {
		t.Errorf("405 without Allow: GET, DELETE: %v", d.headers)
	}
	denied(t, h.check(envoyCheck("GET", contract.RESTTaskPath(cc, id), "", map[string]string{"authorization": "Bearer " + tok}, "{}")), 400)
	denied(t, h.check(envoyCheck("GET", "/api/v1/mcp/"+cc+"/tasks/a%2Fb", "", map[string]string{"authorization": "Bearer " + tok}, "")), 400)
	denied(t, h.check(envoyCheck("GET", "/api/v1/mcp/"+cc+"/tasks/a~b", "", map[string]string{"authorization": "Bearer " + tok}, "")), 404)
}

func writePolicyFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// security 29: a policy change takes effect without a restart; a policy that fails to
// compile or fails its own tests is refused and the last good one keeps serving.
func TestPolicyReload(t *testing.T) {
	h := newHarness(t)
	contractor := h.token("servicenow", "cora", []string{"contractors"})
	call := mcpPost("servicenow", contractor, callBody(1, "search_incidents", nil))
	denied(t, h.check(call), 200)
	first := h.svc.Policies.Current().ID

	data, err := os.ReadFile(filepath.Join(h.policyDir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Map a new IdP group onto the service-desk role: data only, no Rego change.
	grant := strings.Replace(string(data), `"group_roles": {`, `"group_roles": {"contractors": ["service-desk"],`, 1)
	if grant == string(data) {
		t.Fatal("data.json changed shape; update this test")
	}
	writePolicyFile(t, h.policyDir, "data.json", grant)
	waitFor(t, "the new revision", func() bool { return h.svc.Policies.Current().ID != first })
	allowed(t, h.check(call))
	second := h.svc.Policies.Current().ID

	// A compile error is refused; the previous revision keeps deciding.
	writePolicyFile(t, h.policyDir, "broken.rego", "package gatehouse.authz\n\nallow if {\n")
	waitFor(t, "the refusal", func() bool { return h.svc.Policies.LastError() != nil })
	if h.svc.Policies.Current().ID != second {
		t.Fatal("a policy that does not compile went into service")
	}
	allowed(t, h.check(call))
	if err := os.Remove(filepath.Join(h.policyDir, "broken.rego")); err != nil {
		t.Fatal(err)
	}

	// A policy that fails its own tests is refused too.
	writePolicyFile(t, h.policyDir, "extra_test.rego", "package gatehouse.authz_test\n\nimport rego.v1\n\nimport data.gatehouse.authz\n\ntest_contractors_never_read_servicenow if {\n\tnot authz.allow with input as {\"subject\": {\"sub\": \"d\", \"groups\": [\"contractors\"]}, \"mcp\": {\"server\": \"servicenow\", \"kind\": \"request\", \"method\": \"tools/call\", \"name\": \"x\"}, \"tool\": {\"action\": \"read\", \"annotations\": {}}}\n}\n")
	waitFor(t, "the test failure", func() bool {
		err := h.svc.Policies.LastError()
		return err != nil && strings.Contains(err.Error(), "test_contractors_never_read_servicenow")
	})
	if h.svc.Policies.Current().ID != second {
		t.Fatal("a policy failing its tests went into service")
	}
	allowed(t, h.check(call))
	if !strings.Contains(h.logs.String(), "policy refused; the previous revision stays in service") {
		t.Fatal("refusal not logged")
	}
}

// security 26: no policy or an evaluation error denies (fail closed); an evaluation that
// outlasts policy.eval_timeout is a retryable 503 (still closed), never a denial.
func TestFailClosed(t *testing.T) {
	t.Run("no policy", func(t *testing.T) {
		empty := t.TempDir()
		h := newHarness(t, withPolicyDir(empty))
		tok := h.token(cc, "root", []string{"admin"})
		d := denied(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil))), 200)
		d.rpcError(t, 1, authz.CodeAuthorizationError)
		status, _ := httpGet(t, h.httpURL+"/readyz")
		if status != 503 {
			t.Fatalf("readyz %d without a policy", status)
		}
	})
	t.Run("evaluation error", func(t *testing.T) {
		dir := copyPolicies(t)
		// Two values for one complete rule: a runtime conflict error on every evaluation.
		writePolicyFile(t, dir, "conflict.rego", "package gatehouse.authz\n\nimport rego.v1\n\nboom := 1 if input.mcp.server\nboom := 2 if input.mcp.server\n\nallow if boom\n")
		h := newHarness(t, withPolicyDir(dir))
		tok := h.token(cc, "root", []string{"admin"})
		d := denied(t, h.check(mcpPost(cc, tok, callBody(1, "list_devices", nil))), 200)
		d.rpcError(t, 1, authz.CodeAuthorizationError)
	})
	t.Run("timeout", func(t *testing.T) {
		dir := copyPolicies(t)
		writePolicyFile(t, dir, "slow.rego", "package gatehouse.authz\n\nimport rego.v1\n\nallow if {\n\tinput.mcp.name == \"slow_tool\"\n\tcount([x | some x in numbers.range(1, 50000000); x > 0]) > 0\n}\n")
		h := newHarness(t, withPolicyDir(dir), withConfig(func(c *config.Config) { c.Policy.EvalTimeout = 20 * time.Millisecond }))
		tok := h.token(cc, "root", []string{"admin"})
		for i := range 3 {
			start := time.Now()
			d := denied(t, h.check(mcpPost(cc, tok, callBody(i, "slow_tool", nil))), 503)
			d.rpcError(t, i, authz.CodeAuthzUnavailable)
			if d.headers["retry-after"] != "1" {
				t.Fatalf("no Retry-After: %v", d.headers)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("evaluation was not cut at the timeout: %s", el)
			}
		}
		_, metrics := httpGet(t, h.httpURL+"/metrics")
		for _, m := range []string{`gatehouse_authz_eval_timeouts_total 3`,
			`gatehouse_authz_decisions_total{method="tools/call",outcome="overloaded",server="catalyst-center"} 3`} {
			if !strings.Contains(string(metrics), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
		// The three timeouts take well under a second, but may straddle the limiter's second.
		if n := strings.Count(h.logs.String(), "did not finish within policy.eval_timeout"); n < 1 || n > 2 {
			t.Errorf("the overload warning was logged %d times, want at most once a second", n)
		}
	})
}

// security 27: dry-run allows and logs the would-be denial.
func TestDryRun(t *testing.T) {
	h := newHarness(t, withConfig(func(c *config.Config) { c.Policy.DryRun = true }))
	sd := h.token(cc, "sam", []string{"service-desk"}, withMFA)
	set, _ := allowed(t, h.check(mcpPost(cc, sd, callBody(1, "deploy_template", nil))))
	line := h.decision(t, set[authz.HeaderDecisionID])
	if line["gatehouse.dry_run"] != true || line["gatehouse.outcome"] != "dry_run_deny" || line["event.outcome"] != "failure" {
		t.Fatalf("dry-run log: %v", line)
	}
	if r, _ := line["gatehouse.reasons"].([]any); len(r) == 0 {
		t.Fatalf("would-be denial reason missing: %v", line)
	}
	// Authentication is never dry-run.
	denied(t, h.check(mcpPost(cc, "", callBody(1, "list_devices", nil))), 401)
}

// security 28: one decision line with the ECS fields, never a token, secret or body.
func TestDecisionLog(t *testing.T) {
	h := newHarness(t)
	secretArg := "s3cr3t-argument-value"
	tok := h.token(cc, "alice", []string{"network-engineers"})
	req := mcpPost(cc, tok, callBody(1, "list_devices", map[string]any{"filter": secretArg}),
		"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	set, _ := allowed(t, h.check(req))
	id := set[authz.HeaderDecisionID]
	line := h.decision(t, id)
	want := map[string]any{
		"event.kind": "event", "event.action": "mcp-authorize", "event.outcome": "success",
		"user.id": "alice", "user.email": "alice@example.com", "client.address": "192.0.2.10",
		// trace.id is the edge's request id; the client's traceparent is the parent only.
		"url.path": "/mcp/" + cc, "trace.id": "9d7a6f1e-5f44-4c1e-9d5e-2b0e3c9f8a11",
		"gatehouse.parent_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"gatehouse.server":          cc, "gatehouse.method": "tools/call", "gatehouse.tool": "list_devices",
		"gatehouse.decision_id": id, "gatehouse.policy_revision": h.svc.Policies.Current().ID,
		"log.level": "info", "ecs.version": "8.11.0",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	for _, k := range []string{"@timestamp", "event.duration", "user.roles", "message"} {
		if _, ok := line[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	// A denial carries its reasons.
	sd := h.token(cc, "sam", []string{"service-desk"})
	d := denied(t, h.check(mcpPost(cc, sd, callBody(2, "deploy_template", nil))), 200)
	line = h.decision(t, d.headers["x-gatehouse-decision-id"])
	if line["event.outcome"] != "failure" || line["gatehouse.reasons"] == nil {
		t.Fatalf("denial log: %v", line)
	}
	logs := h.logs.String()
	for _, secret := range []string{tok, sd, secretArg, `"jsonrpc"`} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains %q", secret[:min(len(secret), 24)])
		}
	}
	// The metrics count it.
	_, metrics := httpGet(t, h.httpURL+"/metrics")
	for _, m := range []string{
		`gatehouse_authz_decisions_total{method="tools/call",outcome="allow",server="catalyst-center"} 1`,
		`gatehouse_authz_decisions_total{method="tools/call",outcome="deny",server="catalyst-center"} 1`,
		`gatehouse_authz_duration_seconds_count`,
		`gatehouse_policy_revision_info{revision="` + h.svc.Policies.Current().ID + `"} 1`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

func TestReadinessAndShutdown(t *testing.T) {
	h := newHarness(t)
	waitFor(t, "readiness", func() bool { s, _ := httpGet(t, h.httpURL+"/readyz"); return s == 200 })
	if s, _ := httpGet(t, h.httpURL+"/healthz"); s != 200 {
		t.Fatalf("healthz %d", s)
	}
	h.stop() // SIGTERM path: Run returns nil after draining
	if _, err := httpClient.Get(h.httpURL + "/healthz"); err == nil {
		t.Fatal("HTTP server still up after shutdown")
	}
}
