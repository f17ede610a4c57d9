package kit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The adapter in adapters/README.md is a real program: extract it and build it, so the
// "under 100 lines" example cannot rot.
func TestReadmeAdapterBuilds(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	code, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("no Go example in adapters/README.md")
	}
	if n := strings.Count(code, "\n"); n >= 100 {
		t.Fatalf("the example adapter is %d lines; the README promises under 100", n)
	}
	dir := filepath.Join("testdata", "readme-adapter")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // only if empty
	})
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-o", os.DevNull, "./"+filepath.ToSlash(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("the README adapter does not build: %v\n%s", err, out)
	}
	out, err = exec.Command("go", "vet", "./"+filepath.ToSlash(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("go vet on the README adapter: %v\n%s", err, out)
	}
}
