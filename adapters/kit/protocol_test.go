package kit_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

// postModern sends one 2026-07-28 request to an adapter with the standard headers.
func postModern(t *testing.T, url, method, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: body is not JSON: %v", method, err)
	}
	return resp.StatusCode, out
}

// What mcp-go's server (so every adapter) answers 2026-07-28 clients that skip what that
// revision requires; the edge's parser (internal/proxy/mcpmsg) gives the same answers, and
// docs/protocol.md relies on both. A change here after an mcp-go upgrade means the edge and
// the adapters no longer agree.
func TestAdapterAnswersModernClients(t *testing.T) {
	url := startServer(t, sampleServer(&ecslogtest.Buffer{})) + kit.Path
	// No initialize in 2026-07-28: 404 with -32601.
	status, body := postModern(t, url, "initialize", `{"jsonrpc":"2.0","id":"i1","method":"initialize","params":{"protocolVersion":"2026-07-28",`+
		`"capabilities":{},"clientInfo":{"name":"c","version":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",`+
		`"io.modelcontextprotocol/clientCapabilities":{}}}}`)
	e, _ := body["error"].(map[string]any)
	if status != http.StatusNotFound || e["code"] != float64(-32601) || body["id"] != "i1" ||
		!strings.HasPrefix(str(e["message"]), `"initialize" was removed in protocol version 2026-07-28`) {
		t.Fatalf("initialize: %d %v", status, body)
	}
	// Client capabilities are required in _meta on every request: 400 with -32602.
	status, body = postModern(t, url, "tools/list", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	e, _ = body["error"].(map[string]any)
	if status != http.StatusBadRequest || e["code"] != float64(-32602) || !strings.Contains(str(e["message"]), "io.modelcontextprotocol/clientCapabilities") {
		t.Fatalf("no capabilities: %d %v", status, body)
	}
	// With both, server/discover answers with the supported versions.
	status, body = postModern(t, url, "server/discover", `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	res, _ := body["result"].(map[string]any)
	if status != http.StatusOK || res["supportedVersions"] == nil {
		t.Fatalf("server/discover: %d %v", status, body)
	}
}
