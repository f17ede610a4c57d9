package kittest_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
)

// recorder is a testing.TB that records failures instead of failing this test.
type recorder struct {
	testing.TB
	errs, fatals []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Name() string        { return "TestToolSnaps" }
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatal(a ...any) { r.fatals = append(r.fatals, fmt.Sprint(a...)) }
func (r *recorder) Fatalf(format string, a ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, a...))
}

func tools() []mcp.Tool {
	return []mcp.Tool{
		mcp.NewTool("list_things", mcp.WithDescription("List things."),
			mcp.WithString("site", mcp.Description("Site name")),
			mcp.WithReadOnlyHintAnnotation(true)),
		mcp.NewTool("delete_thing", mcp.WithDescription("Delete a thing."),
			mcp.WithString("id", mcp.Required()),
			mcp.WithDestructiveHintAnnotation(true)),
	}
}

// snapshot writes the snapshot files ToolSnaps expects for ts.
func snapshot(t *testing.T, dir string, ts []mcp.Tool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range ts {
		b, err := json.MarshalIndent(tool, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, tool.Name+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// One file per tool; a changed tool fails with a diff of its own file; a tool that is gone
// leaves a stale snapshot, which fails; misuse that would hide a tool is refused.
func TestToolSnaps(t *testing.T) {
	// These cases must fail, not rewrite, even under go test ./... -update.
	old := flag.Lookup("update").Value.String()
	if err := flag.Set("update", "false"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("update", old) })
	dir := filepath.Join(t.TempDir(), "toolsnaps")
	snapshot(t, dir, tools())

	r := &recorder{TB: t}
	kittest.ToolSnaps(r, tools(), dir)
	if len(r.errs)+len(r.fatals) != 0 {
		t.Fatalf("matching snapshots failed: %q %q", r.errs, r.fatals)
	}
	// The file holds the tool as tools/list serves it.
	b, err := os.ReadFile(filepath.Join(dir, "list_things.json"))
	if err != nil {
		t.Fatal(err)
	}
	var served map[string]any
	if err := json.Unmarshal(b, &served); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"name", "description", "inputSchema", "annotations"} {
		if served[key] == nil {
			t.Fatalf("snapshot lacks %s: %s", key, b)
		}
	}

	changed := tools()
	changed[1].Description = "Delete a thing for good."
	r = &recorder{TB: t}
	kittest.ToolSnaps(r, changed, dir)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "delete_thing.json differs") ||
		!strings.Contains(r.errs[0], `+  "description": "Delete a thing for good.",`) ||
		strings.Contains(r.errs[0], "list_things.json") {
		t.Fatalf("changed tool: %q", r.errs)
	}

	r = &recorder{TB: t}
	kittest.ToolSnaps(r, tools()[:1], dir)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "stale golden file "+filepath.Join(dir, "delete_thing.json")) {
		t.Fatalf("removed tool: %q", r.errs)
	}

	for name, ts := range map[string][]mcp.Tool{
		"no tools":       nil,
		"duplicate":      append(tools(), tools()[0]),
		"path separator": {mcp.NewTool("../escape")},
		"dot file":       {mcp.NewTool(".hidden")},
	} {
		r = &recorder{TB: t}
		kittest.ToolSnaps(r, ts, dir)
		if len(r.fatals) != 1 || len(r.errs) != 0 {
			t.Fatalf("%s: fatals %q errors %q", name, r.fatals, r.errs)
		}
	}
}
