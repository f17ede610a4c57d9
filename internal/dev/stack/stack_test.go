package stack_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
)

func policyDir() string { return testkit.Root("policies") }

// seen records the headers of every request that reached an adapter.
type seen struct {
	mu      sync.Mutex
	headers []http.Header
}

func (s *seen) wrap(_ string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.headers = append(s.headers, r.Header.Clone())
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *seen) all() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

func start(t testing.TB) (*stack.Stack, *seen) {
	t.Helper()
	rec := &seen{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: policyDir(), Log: zerolog.Nop(), AdapterMiddleware: rec.wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, rec
}

func connect(t testing.TB, s *stack.Stack, user, version string) *client.Client {
	t.Helper()
	tok, err := s.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return kittest.Connect(t, s.ServerURL("catalyst-center"), version, map[string]string{"Authorization": "Bearer " + tok})
}

func callTool(c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.CallTool(ctx, req)
}

// A network engineer lists and calls Catalyst Center tools through the edge on every
// revision, and is sent to start_deployment for deploy_template, which an admin (break-glass)
// may call; a service-desk user is refused deploy_template with the documented denial.
func TestThroughTheEdge(t *testing.T) {
	s, rec := start(t)
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			nina := connect(t, s, "nina", v)
			if nina.ProtocolVersion() != v {
				t.Fatalf("negotiated %s", nina.ProtocolVersion())
			}
			tools, err := nina.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(tools.Tools) != 11 {
				t.Fatalf("tools/list: %v (%d tools)", err, len(tools.Tools))
			}
			res, err := callTool(nina, "list_devices", map[string]any{"limit": 2})
			if err != nil || res.IsError {
				t.Fatalf("list_devices: %v %+v", err, res)
			}
			var devs struct {
				Devices []struct {
					ID string `json:"id"`
				} `json:"devices"`
			}
			b, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(b, &devs)
			_, err = callTool(nina, "deploy_template", map[string]any{"template_id": "nope", "device_ids": []string{devs.Devices[0].ID}})
			if err == nil || !strings.Contains(err.Error(), "start_deployment") {
				t.Fatalf("nina's direct deploy_template: want the policy's pointer to start_deployment, got %v", err)
			}
			admin := connect(t, s, "admin", v)
			res, err = callTool(admin, "deploy_template", map[string]any{"template_id": "nope", "device_ids": []string{devs.Devices[0].ID}})
			if err != nil {
				t.Fatalf("admin (MFA) was refused deploy_template: %v", err)
			}
			if !res.IsError { // an unknown template: the upstream's 404 comes back as a tool error
				t.Fatalf("deploy of an unknown template: %+v", res)
			}

			sam := connect(t, s, "sam", v)
			if res, err := callTool(sam, "list_devices", map[string]any{}); err != nil || res.IsError {
				t.Fatalf("service desk read: %v", err)
			}
			_, err = callTool(sam, "deploy_template", map[string]any{"template_id": "t", "device_ids": []string{"d"}})
			if err == nil || !strings.Contains(err.Error(), `needs "execute" access`) {
				t.Fatalf("service desk deploy: want the policy's reason, got %v", err)
			}
		})
	}
	// security 18, 19 on the way to the adapter.
	for _, h := range rec.all() {
		if h.Get("Authorization") != "" {
			t.Fatal("an adapter received the Authorization header")
		}
		if sub := h.Get("X-Gatehouse-Subject"); sub != "nina" && sub != "sam" && sub != "admin" {
			t.Fatalf("adapter saw subject %q", sub)
		}
	}
}

func post(t testing.TB, url string, headers map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const deployCall = `{"jsonrpc":"2.0","id":"d-1","method":"tools/call","params":{"name":"deploy_template","arguments":{"template_id":"t","device_ids":["d"]}}}`

// security 25 at the wire, 18/19 with spoofed headers.
func TestDenialOnTheWire(t *testing.T) {
	s, rec := start(t)
	sam, _ := s.Token("sam")
	resp, body := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + sam,
		"X-Gatehouse-Subject": "admin"}, deployCall)
	var m struct {
		ID    string `json:"id"`
		Error struct {
			Code int `json:"code"`
			Data struct {
				DecisionID string   `json:"decision_id"`
				Reasons    []string `json:"reasons"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != 200 || m.ID != "d-1" || m.Error.Code != -32003 ||
		m.Error.Data.DecisionID == "" || len(m.Error.Data.Reasons) == 0 {
		t.Fatalf("denial: %d %s", resp.StatusCode, body)
	}
	if len(rec.all()) != 0 {
		t.Fatal("a denied call reached the adapter")
	}
	// Allowed, with a spoofed identity header: the adapter sees the verified subject.
	resp, _ = post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + sam,
		"X-Gatehouse-Subject": "admin", "X-Gatehouse-Roles": "admin"},
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_sites","arguments":{}}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("list_sites: %d", resp.StatusCode)
	}
	h := rec.all()[0]
	if h.Get("X-Gatehouse-Subject") != "sam" || h.Get("X-Gatehouse-Roles") != "service-desk" || h.Get("Authorization") != "" {
		t.Fatalf("adapter headers: %v", h)
	}
}

// No token: 401 whose resource metadata leads to the dev issuer, and the sign-in flow an MCP
// client runs from there (registration, authorization code with PKCE, resource indicator)
// yields a token that works.
func TestNoTokenLeadsToTheIssuerAndSignInWorks(t *testing.T) {
	s, _ := start(t)
	resp, _ := post(t, s.ServerURL("catalyst-center"), nil, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	challenge := resp.Header.Get("Www-Authenticate")
	const prefix = `Bearer resource_metadata="`
	if resp.StatusCode != 401 || !strings.HasPrefix(challenge, prefix) {
		t.Fatalf("no token: %d %q", resp.StatusCode, challenge)
	}
	metaURL := strings.TrimSuffix(strings.TrimPrefix(challenge, prefix), `"`)
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	getJSON(t, metaURL, &meta)
	if meta.Resource != s.ServerURL("catalyst-center") || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != s.Issuer.URL() {
		t.Fatalf("metadata %+v", meta)
	}
	var as struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		RegistrationEndpoint  string `json:"registration_endpoint"`
	}
	getJSON(t, meta.AuthorizationServers[0]+"/.well-known/oauth-authorization-server", &as)

	// Dynamic client registration (RFC 7591).
	reg, _ := json.Marshal(map[string]any{"redirect_uris": []string{"http://127.0.0.1:33418/callback"}, "client_name": "e2e"})
	r, err := http.Post(as.RegistrationEndpoint, "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		ClientID string `json:"client_id"`
	}
	_ = json.NewDecoder(r.Body).Decode(&cl)
	r.Body.Close()
	// Authorization code with PKCE and the resource indicator, signing in as nina.
	verifier := "e2e-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(verifier))
	form := url.Values{"response_type": {"code"}, "client_id": {cl.ClientID}, "redirect_uri": {"http://127.0.0.1:33418/callback"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"xyz"}, "resource": {meta.Resource}, "user": {"nina"}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err = noRedirect.PostForm(as.AuthorizationEndpoint, form)
	if err != nil || r.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", err, r.Status)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	r, err = http.PostForm(as.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:33418/callback"}, "client_id": {cl.ClientID}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&tok)
	r.Body.Close()
	if loc.Query().Get("state") != "xyz" || tok.AccessToken == "" {
		t.Fatalf("sign-in: state %q token %q", loc.Query().Get("state"), tok.AccessToken)
	}
	resp, body := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + tok.AccessToken},
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_sites","arguments":{}}}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Building-1") {
		t.Fatalf("call with the signed-in token: %d %s", resp.StatusCode, body)
	}
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	r, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, r.Status)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// security 10: preflights are answered without auth; a bad Origin is refused; a 401 to an
// allowed origin exposes WWW-Authenticate.
func TestCORS(t *testing.T) {
	s, rec := start(t)
	req, _ := http.NewRequest("OPTIONS", s.ServerURL("catalyst-center"), nil)
	req.Header.Set("Origin", s.EdgeURL)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != s.EdgeURL ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "mcp-protocol-version") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	r, _ := post(t, s.ServerURL("catalyst-center"), map[string]string{"Origin": "http://evil.example"}, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("bad origin: %d %v", r.StatusCode, r.Header)
	}
	r, _ = post(t, s.ServerURL("catalyst-center"), map[string]string{"Origin": s.EdgeURL}, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if r.StatusCode != 401 || !strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Expose-Headers")), "www-authenticate") {
		t.Fatalf("401 to an allowed origin: %d %v", r.StatusCode, r.Header)
	}
	if len(rec.all()) != 0 {
		t.Fatal("a CORS or unauthenticated request reached the adapter")
	}
}

// security 16 through the edge: path tricks never reach an adapter unauthorized.
func TestPathTricksThroughTheEdge(t *testing.T) {
	s, rec := start(t)
	for _, p := range []string{"/.well-known/../mcp/catalyst-center", "//mcp/catalyst-center", "/mcp/./catalyst-center",
		"/.well-known/oauth-protected-resource/../../mcp/catalyst-center", "/mcp/%2e%2e/mcp/catalyst-center",
		"/.well-known/oauth-protected-resource%2F..%2F..%2Fmcp/catalyst-center", "/mcp/catalyst-center/../catalyst-center"} {
		resp, _ := post(t, s.EdgeURL+p, nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if resp.StatusCode != 401 && resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d unauthorized requests reached the adapter", n)
	}
}

// security 5 at the edge: bodies over the limit get 413 before authorization.
func TestBodyLimitAtTheEdge(t *testing.T) {
	s, rec := start(t)
	nina, _ := s.Token("nina")
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_devices","arguments":{"pad":"` +
		strings.Repeat("x", s.Config.Authz.MaxBodyBytes) + `"}}}`
	resp, _ := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + nina}, big)
	if resp.StatusCode != 413 || len(rec.all()) != 0 {
		t.Fatalf("oversize body: %d", resp.StatusCode)
	}
}

// A 2026-07-28 client that still sends initialize is answered by the edge with the spec's
// error (404, -32601, naming what to send instead and the supported versions); the adapter
// never sees it. The same client's tools/call, with its version in _meta, goes through.
func TestModernInitializeAnsweredAtTheEdge(t *testing.T) {
	s, rec := start(t)
	nina, _ := s.Token("nina")
	modern := map[string]string{"Authorization": "Bearer " + nina, "MCP-Protocol-Version": "2026-07-28",
		"Mcp-Method": "initialize"}
	resp, body := post(t, s.ServerURL("catalyst-center"), modern,
		`{"jsonrpc":"2.0","id":"i-1","method":"initialize","params":{"protocolVersion":"2026-07-28","capabilities":{},`+
			`"clientInfo":{"name":"t","version":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	var m struct {
		ID    string `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Supported []string `json:"supported"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != 404 || m.ID != "i-1" || m.Error.Code != -32601 ||
		!strings.Contains(m.Error.Message, "server/discover") || len(m.Error.Data.Supported) != 3 {
		t.Fatalf("initialize under 2026-07-28: %d %s", resp.StatusCode, body)
	}
	if len(rec.all()) != 0 {
		t.Fatal("a 2026-07-28 initialize reached the adapter")
	}
	modern["Mcp-Method"], modern["Mcp-Name"] = "tools/call", "list_sites"
	resp, body = post(t, s.ServerURL("catalyst-center"), modern,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_sites","arguments":{},`+
			`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	if resp.StatusCode != 200 || len(rec.all()) != 1 || strings.Contains(string(body), `"error"`) {
		t.Fatalf("tools/call under 2026-07-28: %d %s", resp.StatusCode, body)
	}
}

// Nothing is buffered for strangers: a request without a token is answered 401 from its
// headers, while its declared megabyte of body has not even been sent; the same headers with
// a token wait for the body. Request ids come from the edge, never from the client.
func TestStrangersBodyNotRead(t *testing.T) {
	s, rec := start(t)
	u, _ := url.Parse(s.ServerURL("catalyst-center"))
	send := func(auth string) (*bufio.Reader, net.Conn) {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-06-18\r\n"+
			"Content-Length: 1048576\r\n%s\r\n", u.Path, u.Host, auth)
		return bufio.NewReader(c), c
	}
	r, c := send("")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("stranger: %d", resp.StatusCode)
	}
	nina, _ := s.Token("nina")
	r, c = send("Authorization: Bearer " + nina + "\r\n")
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := http.ReadResponse(r, nil); err == nil {
		t.Fatal("an authenticated request was answered before its body arrived")
	}

	// The client's X-Request-Id is replaced by the edge's.
	resp2, _ := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + nina,
		"X-Request-Id": "chosen-by-client"}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_sites","arguments":{}}}`)
	if resp2.StatusCode != 200 {
		t.Fatalf("list_sites: %d", resp2.StatusCode)
	}
	all := rec.all()
	if id := all[len(all)-1].Get("X-Request-Id"); id == "" || id == "chosen-by-client" {
		t.Fatalf("the adapter saw request id %q", id)
	}
}
