package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// restAnswer is one answer at the edge's REST bridge paths.
type restAnswer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func rest(t testing.TB, method, url, token string, header map[string]string, contentType, body string) restAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := restAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func callREST(t testing.TB, s *stack.Stack, token, server, tool string, args map[string]any) restAnswer {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"arguments": args})
	return rest(t, "POST", s.RESTURL(server, tool), token, nil, "application/json", string(b))
}

// outcome is how one call ended, the same way for both paths: the policy denied it (with its
// message), the tool reported an error (with its text), or it ran.
type outcome struct {
	kind, text string
}

func (o outcome) String() string { return o.kind + ": " + o.text }

func mcpOutcome(t *testing.T, c *client.Client, tool string, args map[string]any) outcome {
	t.Helper()
	res, err := callTool(c, tool, args)
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "Forbidden: "):
		return outcome{"denied", err.Error()}
	case err != nil:
		t.Fatalf("MCP %s: %v", tool, err)
	case res.IsError:
		return outcome{"tool error", res.Content[0].(mcp.TextContent).Text}
	}
	return outcome{"ran", ""}
}

// connectOrRefused initializes an MCP client at server with token, or reports that the
// policy refused the initialize.
func connectOrRefused(t *testing.T, s *stack.Stack, server, token string) (*client.Client, bool) {
	t.Helper()
	resp, body := post(t, s.ServerURL(server), map[string]string{"Authorization": "Bearer " + token},
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if resp.StatusCode == 200 && strings.Contains(string(body), `"code":-32003`) {
		return nil, true
	}
	return kittest.Connect(t, s.ServerURL(server), "2025-11-25", map[string]string{"Authorization": "Bearer " + token}), false
}

// rawMCPOutcome sends one tools/call as a JSON-RPC POST (no session: the adapters are
// stateless) and reads the edge's answer.
func rawMCPOutcome(t *testing.T, s *stack.Stack, token, server, tool string, args map[string]any) outcome {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	_, body := post(t, s.ServerURL(server), map[string]string{"Authorization": "Bearer " + token}, string(b))
	var m struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(sseData(body), &m); err != nil || m.Error == nil || m.Error.Code != -32003 {
		t.Fatalf("a tools/call on a server the policy refuses: %s", body)
	}
	return outcome{"denied", m.Error.Message}
}

func restOutcome(t *testing.T, a restAnswer) outcome {
	t.Helper()
	detail, _ := a.body["detail"].(string)
	switch {
	case a.status == 403 && a.header.Get("Content-Type") == "application/problem+json" && a.body["decision_id"] != "":
		return outcome{"denied", detail}
	case a.status == 422 || a.status == 400:
		return outcome{"tool error", detail}
	case a.status == 200 && a.body["status"] == "success":
		return outcome{"ran", ""}
	}
	t.Fatalf("REST answer %d %s", a.status, a.raw)
	return outcome{}
}

// security 30 end to end: for every demo user and a set of tools on every server behind the
// bridge, a REST call through the edge ends as the same tools/call over MCP with the same
// token — allowed or denied with the same reason, the same tool error, or a result — cell by
// cell; and each user's REST tool listing names exactly the tools their MCP tools/list shows.
func TestRESTMatchesMCP(t *testing.T) {
	s, _ := start(t)
	// Arguments that need ids from the simulators.
	direct := kittest.ConnectWith(t, s.DirectClient(), s.Adapters["catalyst-center"]+"/mcp", "2025-11-25", nil)
	var devs struct {
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	structured(t, direct, "list_devices", map[string]any{"limit": 1}, &devs)
	device := devs.Devices[0].ID

	repo := map[string]any{"owner": "gatehouse-net", "repo": "network-templates"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for kk, vv := range m {
			out[kk] = vv
		}
		return out
	}
	cells := []struct {
		server, tool string
		args         map[string]any
	}{
		{"catalyst-center", "list_devices", map[string]any{"limit": 2}},
		{"catalyst-center", "get_site_health", map[string]any{}},
		{"catalyst-center", "run_show_commands", map[string]any{"device_ids": []string{device}, "commands": []string{"show version"}}},
		{"catalyst-center", "deploy_template", map[string]any{"template_id": "no-such-template", "device_ids": []string{device}}},
		{"servicenow", "search_incidents", map[string]any{"limit": 2}},
		{"servicenow", "create_incident", map[string]any{"short_description": "REST and MCP agree"}},
		{"github", "list_issues", repo},
		{"github", "create_issue", with(repo, "title", "REST and MCP agree")},
		{"radkit", "list_devices", map[string]any{}},
		{"radkit", "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"show version"}}},
	}
	users := []string{"admin", "nina", "sam", "dana"}
	seen := map[string]int{}
	for _, user := range users {
		tok, err := s.Token(user)
		if err != nil {
			t.Fatal(err)
		}
		// An MCP client per server; where the policy refuses the user the whole server (even
		// initialize), the tools/call goes out on its own, as a client that skips the handshake.
		clients := map[string]*client.Client{}
		refused := map[string]bool{}
		for _, c := range cells {
			if clients[c.server] == nil && !refused[c.server] {
				clients[c.server], refused[c.server] = connectOrRefused(t, s, c.server, tok)
			}
		}
		for _, c := range cells {
			t.Run(user+"/"+c.server+"/"+c.tool, func(t *testing.T) {
				var viaMCP outcome
				if refused[c.server] {
					viaMCP = rawMCPOutcome(t, s, tok, c.server, c.tool, c.args)
				} else {
					viaMCP = mcpOutcome(t, clients[c.server], c.tool, c.args)
				}
				viaREST := restOutcome(t, callREST(t, s, tok, c.server, c.tool, c.args))
				seen[viaMCP.kind]++
				if viaMCP != viaREST {
					t.Errorf("MCP %v\n         REST %v", viaMCP, viaREST)
				}
			})
		}
		// The REST listing is the MCP list, tool for tool (both refused where MCP refuses the server).
		for server, refusedServer := range refused {
			a := rest(t, "GET", s.RESTURL(server, ""), tok, nil, "", "")
			if refusedServer {
				if a.status != 403 {
					t.Errorf("%s lists %s, which MCP refuses them: %d %s", user, server, a.status, a.raw)
				}
				continue
			}
			want := toolNames(t, clients[server])
			if a.status != 200 {
				t.Fatalf("%s lists %s: %d %s", user, server, a.status, a.raw)
			}
			var got []string
			for _, x := range a.body["tools"].([]any) {
				tool := x.(map[string]any)
				if tool["inputSchema"] == nil {
					t.Errorf("%s/%s without its schema", server, tool["name"])
				}
				got = append(got, tool["name"].(string))
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s on %s: REST lists %v, MCP %v", user, server, got, want)
			}
		}
	}
	t.Logf("outcomes: %v", seen)
	// The matrix has every kind of cell, or it proves less than it claims.
	if seen["denied"] < 5 || seen["ran"] < 5 || seen["tool error"] < 1 {
		t.Fatalf("outcomes %v", seen)
	}
}

// The bridge's answers through the edge: the seed's shape with the tool's structured result, a
// tool error as 422 with the tool's message, bad arguments as 400 naming the field, a denial
// as the edge's 403 problem; the adapter gets the caller's verified identity and never the
// token (security 88); an Idempotency-Key makes a write safe to repeat.
func TestRESTBridgeThroughTheEdge(t *testing.T) {
	s, rec := start(t)
	sam, _ := s.Token("sam")
	a := rest(t, "POST", s.RESTURL("catalyst-center", "list_devices"), sam, map[string]string{"X-Gatehouse-Subject": "admin"},
		"application/json", `{"arguments": {"limit": 2}}`)
	result, _ := a.body["result"].(map[string]any)
	if a.status != 200 || a.body["status"] != "success" || a.body["server"] != "catalyst-center" || a.body["tool"] != "list_devices" ||
		len(result["devices"].([]any)) != 2 || a.header.Get(contract.HeaderDecisionID) == "" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	// The bridge got the call, and the adapter got it from the bridge, with the verified
	// subject (not the spoofed one) and the decision id; the token reached neither. (The
	// bridge's own initialize carries no identity.)
	withIdentity := 0
	for _, h := range rec.all() {
		if h.Get("Authorization") != "" || (h.Get(contract.HeaderSubject) != "" &&
			(h.Get(contract.HeaderSubject) != "sam" || h.Get(contract.HeaderDecisionID) != a.header.Get(contract.HeaderDecisionID))) {
			t.Fatalf("a request reached the bridge or an adapter with %v", h)
		}
		if h.Get(contract.HeaderSubject) == "sam" {
			withIdentity++
		}
	}
	if withIdentity != 2 {
		t.Fatalf("%d requests with sam's identity, want the bridge's and the adapter's", withIdentity)
	}
	check := func(a restAnswer, status int, want string) {
		t.Helper()
		if a.status != status || a.header.Get("Content-Type") != "application/problem+json" || a.body["status"] != float64(status) ||
			a.body["decision_id"] == nil || a.body["decision_id"] != a.header.Get(contract.HeaderDecisionID) || !strings.Contains(a.raw, want) {
			t.Fatalf("want a %d problem saying %q: %d %s", status, want, a.status, a.raw)
		}
	}
	check(callREST(t, s, sam, "catalyst-center", "get_device", map[string]any{"device_id": "no-such-device"}), 422, "no-such-device")
	check(callREST(t, s, sam, "catalyst-center", "get_device", map[string]any{"id": "x"}), 400, `"name":"device_id"`)
	check(callREST(t, s, sam, "catalyst-center", "deploy_template", map[string]any{"template_id": "t", "device_ids": []string{"d"}}), 403, `needs \"execute\" access`)

	// Idempotency: the same key and arguments create one incident.
	key := map[string]string{restbridge.IdempotencyHeader: "ticket-4711"}
	body := `{"arguments": {"short_description": "VPN down for the Lyon office"}}`
	first := rest(t, "POST", s.RESTURL("servicenow", "create_incident"), sam, key, "application/json", body)
	again := rest(t, "POST", s.RESTURL("servicenow", "create_incident"), sam, key, "application/json", body)
	if first.status != 200 || again.raw != first.raw || again.header.Get(restbridge.ReplayedHeader) != "true" {
		t.Fatalf("first %d %s\nagain %d %s", first.status, first.raw, again.status, again.raw)
	}
	check(rest(t, "POST", s.RESTURL("servicenow", "create_incident"), sam, key, "application/json",
		`{"arguments": {"short_description": "something else"}}`), 422, "already used")

	// The OpenAPI document, without a token, for the servers behind the bridge.
	doc := rest(t, "GET", s.EdgeURL+contract.RESTOpenAPIPath, "", nil, "", "")
	if doc.status != 200 || doc.body["openapi"] != "3.1.0" || doc.body["paths"].(map[string]any)[contract.RESTPath("radkit", "run_commands")] == nil {
		t.Fatalf("OpenAPI document: %d %.300s", doc.status, doc.raw)
	}
}

// Bad inputs at the REST paths each get their documented answer, and none reaches the bridge
// or an adapter.
func TestRESTBadInputs(t *testing.T) {
	s, rec := start(t)
	sam, _ := s.Token("sam")
	cc := s.EdgeURL + contract.RESTPrefix + "catalyst-center/tools/"
	big := `{"arguments": {"hostname": "` + strings.Repeat("x", 1<<20) + `"}}`
	for _, c := range []struct {
		name, url, contentType, body string
		status                       int
		problem                      bool // an RFC 9457 problem (else the edge's own or a JSON-RPC answer)
		want                         string
	}{
		{"wrong content type", cc + "list_devices", "text/plain", `{"arguments": {}}`, 415, true, "Content-Type must be application/json"},
		{"form content type", cc + "list_devices", "application/x-www-form-urlencoded", `arguments=1`, 415, true, "Content-Type"},
		{"body over the limit", cc + "list_devices", "application/json", big, 413, false, ""},
		{"arguments an array", cc + "list_devices", "application/json", `{"arguments": [1]}`, 400, true, "arguments must be a JSON object"},
		{"arguments a string", cc + "list_devices", "application/json", `{"arguments": "limit=1"}`, 400, true, "arguments must be a JSON object"},
		{"arguments null", cc + "list_devices", "application/json", `{"arguments": null}`, 400, true, "arguments must be a JSON object"},
		{"a body that is an array", cc + "list_devices", "application/json", `[{"arguments": {}}]`, 400, true, "the body must be a JSON object"},
		{"duplicate keys", cc + "list_devices", "application/json", `{"arguments": {"limit": 1, "limit": 2}}`, 400, true, "limit"},
		{"%2F in the tool name", cc + "list%2Fdevices", "application/json", `{}`, 400, false, ""},
		{"%2f in the tool name", cc + "..%2fdeploy_template", "application/json", `{}`, 400, false, ""},
		{".. as the tool name", cc + "..", "application/json", `{}`, 404, false, "no MCP server"},
		{"encoded .. as the tool name", cc + "%2e%2e", "application/json", `{}`, 404, false, "no MCP server"},
		{"%25 in the tool name", cc + "list%255Fdevices", "application/json", `{}`, 400, false, "not in canonical form"},
		// Dot segments are resolved before authorization, as Envoy's normalize_path does: the
		// call is decided as the tool the path names once resolved.
		{".. that resolves to another tool", cc + "list_devices/../deploy_template", "application/json", `{"arguments": {"template_id": "t", "device_ids": ["d"]}}`, 403, true, `needs \"execute\" access`},
		{".. inside a tool name", cc + "list..devices", "application/json", `{}`, 403, true, "list..devices"},
		{"a tool outside the catalog", cc + "format_flash", "application/json", `{}`, 403, true, "format_flash"},
		{"a server the edge does not know", s.RESTURL("nowhere", "x"), "application/json", `{}`, 404, true, "no MCP server"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(rec.all())
			a := rest(t, "POST", c.url, sam, nil, c.contentType, c.body)
			if a.status != c.status || !strings.Contains(a.raw, c.want) {
				t.Fatalf("%d %.300s, want %d saying %q", a.status, a.raw, c.status, c.want)
			}
			if isProblem := a.header.Get("Content-Type") == "application/problem+json"; isProblem != c.problem {
				t.Fatalf("content type %s", a.header.Get("Content-Type"))
			}
			if c.problem && (a.body["decision_id"] == nil || a.body["decision_id"] != a.header.Get(contract.HeaderDecisionID)) {
				t.Fatalf("no decision id: %s", a.raw)
			}
			if n := len(rec.all()) - before; n != 0 {
				t.Fatalf("%d requests reached the bridge or an adapter", n)
			}
		})
	}
}

// The README's curl example, run as printed (curl, with the token `gatehouse-dev token --user
// sam` prints, which is s.Token("sam")), against this stack's edge instead of 127.0.0.1:8080.
func TestREADMECurlExample(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile(testkit.Root("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(export TOKEN=\\$\\(go run ./cmd/gatehouse-dev token --user sam\\)\n(curl [^\n]*(?:\\\\\n[^\n]*)*)\n)# (\\{[^\n]*)\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no REST example: export TOKEN=$(go run ./cmd/gatehouse-dev token --user sam), a curl command, and its answer as a # comment")
	}
	command, printed := string(m[2]), string(m[3])
	if !strings.Contains(command, "http://127.0.0.1:8080/") {
		t.Fatalf("the example does not call the default edge: %s", command)
	}
	s, _ := start(t)
	tok, err := s.Token("sam")
	if err != nil {
		t.Fatal(err)
	}
	command = strings.ReplaceAll(command, "http://127.0.0.1:8080", s.EdgeURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", strings.Replace(command, "curl", curl, 1))
	cmd.Env = append(os.Environ(), "TOKEN="+tok)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s: %v: %s", command, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the answer is not JSON: %s", out)
	}
	// The printed answer abbreviates the result ("…"); its other members are exact.
	if err := json.Unmarshal([]byte(regexp.MustCompile(`\[…\]`).ReplaceAllString(printed, "[]")), &want); err != nil {
		t.Fatalf("the README's answer %s: %v", printed, err)
	}
	for _, k := range []string{"status", "server", "tool"} {
		if got[k] != want[k] {
			t.Errorf("%s: got %v, README says %v", k, got[k], want[k])
		}
	}
	gotResult, _ := got["result"].(map[string]any)
	for k, v := range want["result"].(map[string]any) {
		g, ok := gotResult[k]
		if _, list := v.([]any); !ok || (!list && g != v) {
			t.Errorf("the result's %q is %v, the README shows %v: %s", k, g, v, out)
		}
	}
	devices, _ := gotResult["devices"].([]any)
	if len(devices) == 0 {
		t.Fatalf("no devices: %s", out)
	}
	for _, d := range devices {
		if role := d.(map[string]any)["role"]; fmt.Sprint(role) != "CORE" {
			t.Errorf("a %v device in the answer to a CORE query", role)
		}
	}
}

// BenchmarkRESTvsMCP: the same read tool (catalyst-center get_site_health) through the dev
// edge, called by 64 concurrent callers, first as MCP tools/call (one initialized mcp-go
// client per caller, as agents do), then as REST POSTs (one keep-alive HTTP client per
// caller). It reports both throughputs and rest-cost, the time a REST call takes for each unit of
// time an MCP call takes (MCP calls/s over REST calls/s); the target is at most 1.5.
//
//	go test ./internal/dev/stack -run '^$' -bench RESTvsMCP -benchtime 1x
func BenchmarkRESTvsMCP(b *testing.B) {
	const callers, callsEach = 64, 40
	s, _ := start(b)
	tok, _ := s.Token("nina")
	const tool = "get_site_health"
	run := func(call func(i int) error) float64 {
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		startGate := make(chan struct{})
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				for range callsEach {
					if err := call(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		t0 := time.Now()
		close(startGate)
		wg.Wait()
		elapsed := time.Since(t0)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return float64(callers*callsEach) / elapsed.Seconds()
	}
	mcpClients := make([]*client.Client, callers)
	for i := range mcpClients {
		mcpClients[i] = kittest.Connect(b, s.ServerURL("catalyst-center"), "2025-11-25", map[string]string{"Authorization": "Bearer " + tok})
	}
	restClients := make([]*http.Client, callers)
	for i := range restClients {
		restClients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	}
	mcpCall := func(i int) error {
		res, err := callTool(mcpClients[i], tool, map[string]any{})
		if err != nil || res.IsError {
			return fmt.Errorf("MCP: %v %v", err, res)
		}
		return nil
	}
	restCall := func(i int) error {
		req, _ := http.NewRequest("POST", s.RESTURL("catalyst-center", tool), strings.NewReader(`{"arguments": {}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := restClients[i].Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("REST: %s", resp.Status)
		}
		return nil
	}
	// Warm both paths (connections, the bridge's client, token cache).
	for i := range callers {
		if err := mcpCall(i); err != nil {
			b.Fatal(err)
		}
		if err := restCall(i); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var mcpRate, restRate float64
	for range b.N {
		mcpRate = run(mcpCall)
		restRate = run(restCall)
	}
	b.StopTimer()
	b.ReportMetric(mcpRate, "mcp-calls/s")
	b.ReportMetric(restRate, "rest-calls/s")
	b.ReportMetric(mcpRate/restRate, "rest-cost")
}
