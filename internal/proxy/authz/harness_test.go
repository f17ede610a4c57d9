package authz_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc/oidctest"
)

// decision returns the decision log line with the given gatehouse.decision_id.
func (h *harness) decision(t testing.TB, id string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, id) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["gatehouse.decision_id"] == id && m["event.action"] == "mcp-authorize" {
			return m
		}
	}
	t.Fatalf("no decision log line for %s in:\n%s", id, h.logs.String())
	return nil
}

const publicURL = "http://127.0.0.1:8080"

// harness runs the real authz service on loopback against a real OIDC issuer, with a copy of
// the repository's policies, and talks to it over gRPC as Envoy does.
type harness struct {
	t         testing.TB
	iss       *oidctest.Issuer
	cfg       *config.Config
	svc       *authz.Service
	client    authv3.AuthorizationClient
	conn      *grpc.ClientConn
	httpURL   string
	logs      *ecslogtest.Buffer
	policyDir string
	cancel    context.CancelFunc
	done      chan error
	quiet     bool
	clock     func() time.Time
	keys      *binding.Keys
}

// session is the id the edge hands a caller for an upstream's session id inner.
func (h *harness) session(server, sub, inner string) string {
	return h.keys.Wrap(binding.Session, binding.Caller{Issuer: h.iss.URL, Subject: sub, Server: server}, inner)
}

// task is the id the edge hands sub for an upstream's task id inner.
func (h *harness) task(server, sub, inner string) string {
	return h.keys.Wrap(binding.Task, binding.Caller{Issuer: h.iss.URL, Subject: sub, Server: server}, inner)
}

func copyPolicies(t testing.TB) string { return testkit.CopyPolicies(t) }

func baseConfig(issuer, policyDir string) *config.Config {
	yaml := `
public_url: ` + publicURL + `
oidc:
  issuer: ` + issuer + `
  jwks_min_refresh_interval: 1s
authz:
  grpc_listen: 127.0.0.1:0
  http_listen: 127.0.0.1:0
  max_body_bytes: 65536
policy:
  dir: ` + policyDir + `
  reload_interval: 100ms
servers:
  - {name: catalyst-center, upstream: "http://127.0.0.1:8101"}
  - {name: servicenow, upstream: "http://127.0.0.1:8102"}
  - {name: github, upstream: "http://127.0.0.1:8103"}
  - {name: radkit, upstream: "http://127.0.0.1:8104", scopes: ["radkit:use"]}
  - {name: rest-bridge, upstream: "http://127.0.0.1:8105"}
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		panic(err)
	}
	return cfg
}

type option func(*harness)

func withConfig(f func(*config.Config)) option { return func(h *harness) { f(h.cfg) } }
func withClock(now func() time.Time) option    { return func(h *harness) { h.clock = now } }
func withPolicyDir(dir string) option {
	return func(h *harness) { h.cfg.Policy.Dir = dir; h.policyDir = dir }
}

// withQuietLogs sends logs to a discarding writer at info level (benchmarks).
func withQuietLogs() option { return func(h *harness) { h.quiet = true } }

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, iss: oidctest.NewIssuer(t), logs: &ecslogtest.Buffer{}}
	h.policyDir = copyPolicies(t)
	h.cfg = baseConfig(h.iss.URL, h.policyDir)
	// A binding key file shared with the test, so it can make the session ids the edge
	// hands out (as another replica with the same file would).
	keyFile := filepath.Join(t.TempDir(), "binding.keys")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cfg.Authz.BindingKeysFile = keyFile
	keys, err := binding.LoadKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h.keys = keys
	for _, o := range opts {
		o(h)
	}
	var w io.Writer = h.logs
	level := "debug"
	if h.quiet {
		w, level = io.Discard, "info"
	}
	log, err := ecslog.New(w, "gatehouse-authz", level, "json")
	if err != nil {
		t.Fatal(err)
	}
	h.svc = authz.NewService(h.cfg, log, oidc.Options{Now: h.clock})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.httpURL = "http://" + hl.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.svc.Run(ctx, gl, hl) }()
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.client, h.conn = authv3.NewAuthorizationClient(conn), conn
	t.Cleanup(func() {
		_ = conn.Close()
		h.stop()
	})
	deadline := time.Now().Add(10 * time.Second)
	// Ready, or the first policy load was refused (tests of that case).
	for !h.svc.Verifier.Ready() || (!h.svc.Authz.Ready() && h.svc.Policies.LastError() == nil) {
		if time.Now().After(deadline) {
			t.Fatalf("authz service not ready; logs:\n%s", h.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("service stopped with error: %v", err)
	}
}

// token mints an access token for sub with groups, for server's audience.
func (h *harness) token(server, sub string, groups []string, mods ...func(map[string]any)) string {
	c := h.iss.Claims(sub, h.cfg.ResourceURI(server))
	g := make([]any, len(groups))
	for i, x := range groups {
		g[i] = x
	}
	c["groups"] = g
	c["email"] = sub + "@example.com"
	c["amr"] = []any{"pwd"}
	for _, m := range mods {
		m(c)
	}
	return h.iss.Token(c)
}

func withMFA(c map[string]any) { c["amr"] = []any{"pwd", "mfa"} }

// envoyCheck is the CheckRequest Envoy sends (testkit.CheckRequest: the dev edge's builder,
// body as raw_body).
func envoyCheck(method, path, server string, headers map[string]string, body string) *authv3.CheckRequest {
	return testkit.CheckRequest(method, path, server, headers, body)
}

// mcpPost is a POST of an MCP message to server's route.
func mcpPost(server, token, body string, headers ...string) *authv3.CheckRequest {
	hs := map[string]string{"mcp-protocol-version": "2025-06-18"}
	if token != "" {
		hs["authorization"] = "Bearer " + token
	}
	for i := 0; i+1 < len(headers); i += 2 {
		hs[headers[i]] = headers[i+1]
	}
	return envoyCheck("POST", "/mcp/"+server, server, hs, body)
}

func callBody(id any, tool string, args map[string]any) string {
	if args == nil {
		args = map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	return string(b)
}

func (h *harness) check(req *authv3.CheckRequest) *authv3.CheckResponse {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.client.Check(ctx, req)
	if err != nil {
		h.t.Fatalf("Check: %v", err)
	}
	return resp
}

// allowed asserts an OK response and returns the headers it sets and removes.
func allowed(t *testing.T, resp *authv3.CheckResponse) (map[string]string, []string) {
	t.Helper()
	ok := resp.GetOkResponse()
	if resp.GetStatus().GetCode() != 0 || ok == nil {
		d := resp.GetDeniedResponse()
		t.Fatalf("want allow, got gRPC %d HTTP %d: %s", resp.GetStatus().GetCode(), d.GetStatus().GetCode(), d.GetBody())
	}
	set := map[string]string{}
	for _, hv := range ok.GetHeaders() {
		set[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
		if hv.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("header %s is appended, not overwritten", hv.GetHeader().GetKey())
		}
	}
	return set, ok.GetHeadersToRemove()
}

type deniedResp struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

// denied asserts a denial with the given HTTP status and decodes its body.
func denied(t *testing.T, resp *authv3.CheckResponse, status int) deniedResp {
	t.Helper()
	d := resp.GetDeniedResponse()
	if resp.GetStatus().GetCode() == 0 || d == nil {
		t.Fatalf("want a denial with HTTP %d, got allow", status)
	}
	out := deniedResp{status: int(d.GetStatus().GetCode()), headers: map[string]string{}, raw: d.GetBody()}
	for _, hv := range d.GetHeaders() {
		out.headers[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
	}
	if out.status != status {
		t.Fatalf("want HTTP %d, got %d: %s", status, out.status, d.GetBody())
	}
	if err := json.Unmarshal([]byte(d.GetBody()), &out.body); err != nil {
		t.Fatalf("denial body is not JSON: %q", d.GetBody())
	}
	return out
}

// rpcError returns the JSON-RPC error object of a denial and checks the envelope.
func (d deniedResp) rpcError(t *testing.T, wantID any, wantCode int) map[string]any {
	t.Helper()
	if d.body["jsonrpc"] != "2.0" {
		t.Fatalf("not a JSON-RPC response: %s", d.raw)
	}
	if !sameID(d.body["id"], wantID) {
		t.Fatalf("id %v not echoed (want %v): %s", d.body["id"], wantID, d.raw)
	}
	e, _ := d.body["error"].(map[string]any)
	if e == nil || int(e["code"].(float64)) != wantCode {
		t.Fatalf("want JSON-RPC error %d, got %s", wantCode, d.raw)
	}
	data, _ := e["data"].(map[string]any)
	if id, _ := data["decision_id"].(string); id == "" || d.headers["x-gatehouse-decision-id"] != id {
		t.Fatalf("decision id missing or different in body and header: %s / %v", d.raw, d.headers)
	}
	return e
}

func sameID(got, want any) bool {
	if want == nil {
		return got == nil
	}
	switch w := want.(type) {
	case int:
		g, ok := got.(float64)
		return ok && int(g) == w
	default:
		return got == want
	}
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
