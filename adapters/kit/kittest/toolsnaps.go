package kittest

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/golden"
)

// snapName is what a tool name may be to become a snapshot file name: MCP's recommended
// tool-name characters, not starting with a dot.
var snapName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`)

// ToolSnaps keeps one snapshot file per tool, dir/<tool name>.json: the tool exactly as
// tools/list served it (name, title, description, inputSchema, outputSchema, annotations
// and whatever else the server sent that mcp-go knows). Names, annotations and schemas are
// a contract agents and the policy catalog rely on, so a change to any of them fails the
// test with a diff of that tool's file. A snapshot for a tool the server no longer lists
// fails as stale.
//
// Pass the tools of a tools/list call made through an MCP client (Connect), so the
// snapshot is what clients see:
//
//	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
//	...
//	kittest.ToolSnaps(t, res.Tools, "testdata/toolsnaps")
//
// After a deliberate change, `go test ./<pkg> -run <Test> -update` rewrites the files and
// removes stale ones; review them with git diff. The -update flag comes with this package
// (from internal/golden): a test package importing kittest must not declare its own.
func ToolSnaps(tb testing.TB, tools []mcp.Tool, dir string) {
	tb.Helper()
	// An empty list would make every snapshot stale, and -update would delete them all.
	if len(tools) == 0 {
		tb.Fatal("kittest.ToolSnaps: no tools; a server with tools lists at least one")
		return
	}
	files := make(map[string][]byte, len(tools))
	for _, tool := range tools {
		if !snapName.MatchString(tool.Name) {
			tb.Fatalf("kittest.ToolSnaps: tool name %q cannot name a snapshot file (want %s)", tool.Name, snapName)
			return
		}
		file := tool.Name + ".json"
		if _, dup := files[file]; dup {
			tb.Fatalf("kittest.ToolSnaps: tool %q is listed twice", tool.Name)
			return
		}
		b, err := json.MarshalIndent(tool, "", "  ")
		if err != nil {
			tb.Fatalf("kittest.ToolSnaps: %s: %v", tool.Name, err)
			return
		}
		files[file] = append(b, '\n')
	}
	golden.Dir(tb, dir, "*.json", files)
}
