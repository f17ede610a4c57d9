// Package conformance is a TEST-ONLY MCP server that implements the server
// fixtures of the official MCP conformance suite
// (@modelcontextprotocol/conformance 0.1.16): the test_* tools, the test://
// resources and resource template, the test_* prompts, completions and
// logging that the suite's server scenarios call.
//
// It exists so that the suite can be run against Gatehouse (through the edge)
// and against a bare mcp-go server for comparison. It is never deployed: it
// has no upstream and no credentials, and serves only test setups.
//
// The fixtures follow the suite's scenario descriptions; where the suite
// only checks a shape (for example an image's data) the content is a minimal
// valid value. Sampling and elicitation are written as multi round-trip
// (SEP-2322) handlers, so they work with clients of protocol 2026-07-28, which
// answer an input_required result, and with older clients, to which mcp-go
// sends sampling/createMessage (on the standalone GET stream) and
// elicitation/create (on the tools/call POST's SSE stream) itself.
package conformance

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/mark3labs/mcp-go/server"
)

// Path is the URL path at which Handler serves the MCP endpoint.
const Path = "/mcp"

// Name and Version are the serverInfo the fixture server reports; Version is
// the suite release whose fixtures it implements.
const (
	Name    = "gatehouse-conformance-fixtures"
	Version = "0.1.16"
)

// NewServer returns an MCP server exposing every fixture the conformance
// suite's server scenarios need.
func NewServer() *server.MCPServer {
	s := server.NewMCPServer(Name, Version,
		server.WithToolCapabilities(true),
		server.WithResourceCapabilities(true, true),
		server.WithPromptCapabilities(true),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(completions{}),
		server.WithResourceCompletionProvider(completions{}),
		server.WithLogging(),
		server.WithElicitation(),
		server.WithRecovery(),
	)
	s.EnableSampling()
	addTools(s)
	addResources(s)
	addPrompts(s)
	return s
}

// NewHTTPServer serves NewServer over mcp-go's streamable HTTP transport at
// Path, with mcp-go's defaults followed by opts.
//
// The defaults are what the suite needs: sessions (IDs issued on initialize
// and checked for format only) and the standalone GET SSE stream, which is
// the only way mcp-go sends sampling/createMessage to a pre-2026-07-28
// client (elicitation/create goes on the POST's own SSE stream).
//
// The transport logs warnings and errors to stderr; its per-message info
// logs are dropped.
func NewHTTPServer(opts ...server.StreamableHTTPOption) *server.StreamableHTTPServer {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	all := append([]server.StreamableHTTPOption{
		server.WithEndpointPath(Path),
		server.WithStreamableHTTPLogger(logger),
	}, opts...)
	return server.NewStreamableHTTPServer(NewServer(), all...)
}

// Handler serves the fixture server at Path (see NewHTTPServer) and answers
// 404 elsewhere.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, NewHTTPServer())
	return mux
}
