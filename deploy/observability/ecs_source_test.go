package observability

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// logField finds a zerolog field written with a literal dotted key: .Str("event.action", …).
var logField = regexp.MustCompile(`\b(Str|Strs|Int|Int64|Int32|Uint64|Dur|Time|Bool|Float64|Stringer|Ints)\("([a-z@][\w@]*\.[\w.@]*)"`)

// methodTypes are the ECS types each zerolog method writes correctly.
var methodTypes = map[string][]string{
	"Str": {"keyword", "wildcard", "match_only_text", "text", "ip", "date"}, "Stringer": {"keyword", "wildcard", "match_only_text", "text"},
	"Strs": {"keyword"}, "Int": {"long"}, "Int64": {"long"}, "Int32": {"long"}, "Uint64": {"long"}, "Dur": {"long"},
	"Time": {"date"}, "Ints": {"long"},
}

// Every component's log fields, including those no end-to-end test reaches: each dotted key
// written in Go source outside gatehouse.* is an ECS field, written with a method of its type.
func TestEveryLoggedFieldInSourceIsECS(t *testing.T) {
	schema := loadECS(t)
	root := testkit.Root()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), `"github.com/rs/zerolog"`) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range logField.FindAllStringSubmatch(string(b), -1) {
			method, key := m[1], m[2]
			if strings.HasPrefix(key, "gatehouse.") {
				continue
			}
			checked++
			f, ok := schema.Fields[key]
			if !ok {
				t.Errorf("%s: %s(%q) is not an ECS %s field; put Gatehouse's own under gatehouse.*", rel, method, key, schema.Version)
				continue
			}
			okType := false
			for _, typ := range methodTypes[method] {
				okType = okType || typ == f.Type
			}
			if method == "Strs" && !f.Array {
				okType = false
			}
			if !okType {
				t.Errorf("%s: %s(%q) writes the wrong JSON type for ECS %s", rel, method, key, f.Type)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d logged ECS fields found in the source: is the pattern still right?", checked)
	}
}
