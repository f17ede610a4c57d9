// Package kittest helps tests talk to adapters the way MCP clients do (Connect) and keep a
// snapshot of every tool they serve (ToolSnaps). It is for _test.go files only: importing it
// gives the test binary the -update flag.
package kittest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// Connect opens an mcp-go client over streamable HTTP to url (an MCP endpoint), negotiates
// protocol version, sends headers on every request, and closes it when the test ends.
func Connect(tb testing.TB, url, version string, headers map[string]string) *client.Client {
	tb.Helper()
	return ConnectWith(tb, nil, url, version, headers)
}

// ConnectWith is Connect over hc (nil: the default client), e.g. one presenting a client
// certificate to an adapter that requires mTLS.
func ConnectWith(tb testing.TB, hc *http.Client, url, version string, headers map[string]string) *client.Client {
	tb.Helper()
	opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(headers)}
	if hc != nil {
		opts = append(opts, transport.WithHTTPBasicClient(hc))
	}
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(version))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = version
	req.Params.ClientInfo = mcp.Implementation{Name: "gatehouse-test", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		tb.Fatalf("initialize %s at %s: %v", version, url, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Call invokes a tool and decodes its structured result into out (when not nil); it fails
// the test on a protocol error, or unless the result's isError is wantError, and returns the
// result's first text content.
func Call(tb testing.TB, c *client.Client, tool string, args map[string]any, out any, wantError bool) string {
	tb.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		tb.Fatalf("%s: %v", tool, err)
	}
	text := ""
	if len(res.Content) > 0 {
		if tc, ok := res.Content[0].(mcp.TextContent); ok {
			text = tc.Text
		}
	}
	if res.IsError != wantError {
		tb.Fatalf("%s: isError=%v, want %v: %s", tool, res.IsError, wantError, text)
	}
	if out != nil && !wantError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s: structured content %s: %v", tool, b, err)
		}
	}
	return text
}
