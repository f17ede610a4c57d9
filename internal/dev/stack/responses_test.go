package stack_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

func toolNames(t *testing.T, c interface {
	ListTools(context.Context, mcp.ListToolsRequest) (*mcp.ListToolsResult, error)
}) []string {
	t.Helper()
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// security 35: a caller's tools/list shows exactly the tools the policy lets it call, on every
// revision: the service desk sees Catalyst Center's read tools and none of its execute tools;
// network engineers see ServiceNow's read tools and create_change (their single-tool grant)
// but no other write. security 36: under 2026-07-28 a filtered list is marked private.
func TestListsShowOnlyWhatTheCallerMayCall(t *testing.T) {
	s, _ := start(t)
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			sam := toolNames(t, connectTo(t, s, "catalyst-center", "sam", v))
			if len(sam) != 10 || slices.Contains(sam, "deploy_template") || slices.Contains(sam, "run_show_commands") ||
				!slices.Contains(sam, "list_devices") {
				t.Fatalf("service desk on catalyst-center sees %v", sam)
			}
			nina := toolNames(t, connectTo(t, s, "servicenow", "nina", v))
			if len(nina) != 10 || !slices.Contains(nina, "create_change") || slices.Contains(nina, "create_incident") ||
				slices.Contains(nina, "move_change") || !slices.Contains(nina, "search_incidents") {
				t.Fatalf("network engineer on servicenow sees %v", nina)
			}
			if all := toolNames(t, connectTo(t, s, "catalyst-center", "admin", v)); len(all) != 12 {
				t.Fatalf("admin on catalyst-center sees %v", all)
			}
		})
	}
	sam, _ := s.Token("sam")
	modern := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	resp, body := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + sam,
		"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list", "Accept": "application/json"}, modern)
	var m struct {
		Result struct {
			CacheScope string            `json:"cacheScope"`
			Tools      []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(sseData(body), &m); err != nil || resp.StatusCode != 200 || m.Result.CacheScope != "private" || len(m.Result.Tools) != 10 {
		t.Fatalf("2026-07-28 tools/list: %d %s", resp.StatusCode, body)
	}
}

// sseData returns the JSON of a response body that may be an SSE stream of one event.
func sseData(body []byte) []byte {
	if !strings.HasPrefix(strings.TrimSpace(string(body)), "event:") && !strings.HasPrefix(strings.TrimSpace(string(body)), "data:") {
		return body
	}
	var data []string
	for _, l := range strings.Split(string(body), "\n") {
		if d, ok := strings.CutPrefix(l, "data:"); ok {
			data = append(data, strings.TrimSpace(d))
		}
	}
	return []byte(strings.Join(data, "\n"))
}

// A tool whose served definition no longer matches its pin in the catalog is hidden from
// every list and its calls are refused, with a reason, until the adapter serves the pinned
// definition again.
func TestDriftedToolHiddenAndRefused(t *testing.T) {
	var drifting atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: policyDir(), Log: zerolog.Nop(),
		AdapterMiddleware: func(server string, h http.Handler) http.Handler {
			if server != "catalyst-center" {
				return h
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !drifting.Load() {
					h.ServeHTTP(w, r)
					return
				}
				// The adapter now describes get_site_health differently from its pin.
				rec := &capture{header: http.Header{}}
				h.ServeHTTP(rec, r)
				body := strings.Replace(rec.body.String(), "Health of every site", "Health of every site, and quietly more", 1)
				for k, v := range rec.header {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				w.WriteHeader(rec.status)
				_, _ = io.WriteString(w, body)
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	nina := connectTo(t, s, "catalyst-center", "nina", "2025-11-25")
	if names := toolNames(t, nina); !slices.Contains(names, "get_site_health") {
		t.Fatalf("before: %v", names)
	}
	drifting.Store(true)
	names := toolNames(t, nina)
	if slices.Contains(names, "get_site_health") || len(names) != 10 { // nina: 11 tools (no deploy_template), less the drifted one
		t.Fatalf("a drifted tool is listed: %v", names)
	}
	_, err = callTool(nina, "get_site_health", map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "differs from its pinned definition") {
		t.Fatalf("call of a drifted tool: %v", err)
	}
	drifting.Store(false)
	if names := toolNames(t, nina); !slices.Contains(names, "get_site_health") {
		t.Fatalf("after the pinned definition is back: %v", names)
	}
	if res, err := callTool(nina, "get_site_health", map[string]any{}); err != nil || res.IsError {
		t.Fatalf("call after the definition is back: %v %+v", err, res)
	}
}

// capture is a ResponseWriter that keeps the response.
type capture struct {
	header http.Header
	status int
	body   strings.Builder
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	return c.body.Write(b)
}
func (c *capture) WriteHeader(code int) { c.status = code }

// sessionPolicies is the repository's policy with network engineers and the service desk
// members of the test server "sessions".
func sessionPolicies(t *testing.T) string {
	dir := testkit.CopyPolicies(t)
	p := filepath.Join(dir, "data.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	roles := data["gatehouse"].(map[string]any)["rbac"].(map[string]any)["roles"].(map[string]any)
	for _, r := range []string{"network-engineers", "service-desk"} {
		roles[r].(map[string]any)["sessions"] = []any{"read"}
	}
	out, _ := json.Marshal(data)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// security 31, 32: a session id issued by a (stateful) server reaches the client bound to
// the caller who initialized it: that caller uses it, GET and DELETE included; another caller
// presenting it, or the server's raw id, gets MCP's 404; a deleted session stays dead.
// security 33: a stream ends when the token that opened it expires.
func TestSessionsBoundToCaller(t *testing.T) {
	mcpSrv := server.NewMCPServer("sessions", "1")
	stateful := server.NewStreamableHTTPServer(mcpSrv, server.WithEndpointPath("/mcp"), server.WithStateful(true))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: sessionPolicies(t), Log: zerolog.Nop(),
		Extra: map[string]http.Handler{"sessions": stateful}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	url := s.ServerURL("sessions")
	nina, _ := s.Token("nina")
	sam, _ := s.Token("sam")
	as := func(tok, session string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + tok, "MCP-Protocol-Version": "2025-11-25"}
		if session != "" {
			h["Mcp-Session-Id"] = session
		}
		return h
	}
	resp, body := post(t, url, map[string]string{"Authorization": "Bearer " + nina},
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || !strings.HasPrefix(session, "gh1.") {
		t.Fatalf("initialize: %d session %q %s", resp.StatusCode, session, body)
	}
	ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
	if resp, body := post(t, url, as(nina, session), ping); resp.StatusCode != 200 || strings.Contains(string(body), `"error"`) {
		t.Fatalf("the owner's ping: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, url, as(sam, session), ping)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "-32007") {
		t.Fatalf("another caller's use of the session: %d %s", resp.StatusCode, body)
	}
	inner := innerSession(t, session)
	if resp, _ := post(t, url, as(nina, inner), ping); resp.StatusCode != 404 {
		t.Fatalf("the server's raw session id was accepted: %d", resp.StatusCode)
	}
	for _, m := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequest(m, url, nil)
		for k, v := range as(sam, session) {
			req.Header.Set(k, v)
		}
		req.Header.Set("Accept", "text/event-stream")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 404 {
			t.Fatalf("%s of nina's session by sam: %d", m, r.StatusCode)
		}
	}
	// A stream opened with a token that expires in two seconds ends with it.
	short, err := s.Issuer.MintWith("nina", nil, map[string]any{"exp": time.Now().Add(2 * time.Second).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range as(short, session) {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "text/event-stream")
	opened := time.Now()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 {
		t.Fatalf("GET stream: %d", r.StatusCode)
	}
	_, _ = io.Copy(io.Discard, bufio.NewReader(r.Body)) // returns when the edge ends the stream
	r.Body.Close()
	if d := time.Since(opened); d > 10*time.Second || d < 500*time.Millisecond {
		t.Fatalf("a stream whose token had about two seconds left lasted %s", d)
	}
	// DELETE by the owner ends the session; it stays dead.
	req, _ = http.NewRequest("DELETE", url, nil)
	for k, v := range as(nina, session) {
		req.Header.Set(k, v)
	}
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("DELETE by the owner: %d", r.StatusCode)
	}
	if resp, _ := post(t, url, as(nina, session), ping); resp.StatusCode != 404 {
		t.Fatalf("a deleted session answered: %d", resp.StatusCode)
	}
}

// innerSession reads the server's own id out of a wrapped one (the format is public: the
// MAC, not secrecy, binds it).
func innerSession(t *testing.T, wrapped string) string {
	t.Helper()
	parts := strings.Split(wrapped, ".")
	if len(parts) != 3 {
		t.Fatalf("wrapped session %q", wrapped)
	}
	b, err := base64URL(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
