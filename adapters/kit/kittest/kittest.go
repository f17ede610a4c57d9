// Package kittest helps tests talk to adapters the way MCP clients do (Connect) and keep a
// snapshot of every tool they serve (ToolSnaps). It is for _test.go files only: importing it
// gives the test binary the -update flag.
package kittest

import (
	"context"
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
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(headers))
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
