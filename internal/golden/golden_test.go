package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAssertFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	write(t, path, "a\nb\nc\n")

	if res, err := assertFile(path, []byte("a\nb\nc\n"), false); err != nil || len(res.problems)+len(res.changes) != 0 {
		t.Fatalf("equal content: %+v %v", res, err)
	}

	res, err := assertFile(path, []byte("a\nB\nc\n"), false)
	if err != nil || len(res.problems) != 1 || len(res.changes) != 0 {
		t.Fatalf("mismatch: %+v %v", res, err)
	}
	for _, want := range []string{"golden file " + path + " differs", "-b\n+B\n", "@@ -1,3 +1,3 @@"} {
		if !strings.Contains(res.problems[0], want) {
			t.Fatalf("report lacks %q:\n%s", want, res.problems[0])
		}
	}
	if read(t, path) != "a\nb\nc\n" {
		t.Fatal("the golden file changed without -update")
	}

	res, _ = assertFile(filepath.Join(dir, "missing.txt"), []byte("x"), false)
	if len(res.problems) != 1 || !strings.Contains(res.problems[0], "does not exist") {
		t.Fatalf("missing file: %+v", res)
	}
}

func TestAssertFileUpdate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.txt") // the directory is created
	res, err := assertFile(path, []byte("one\n"), true)
	if err != nil || len(res.problems) != 0 || !slices.Equal(res.changes, []string{"created " + path}) {
		t.Fatalf("create: %+v %v", res, err)
	}
	res, _ = assertFile(path, []byte("two\n"), true)
	if len(res.problems) != 0 || !slices.Equal(res.changes, []string{"updated " + path}) || read(t, path) != "two\n" {
		t.Fatalf("update: %+v", res)
	}
	// Unchanged content is not rewritten (and not reported).
	if res, _ := assertFile(path, []byte("two\n"), true); len(res.changes) != 0 {
		t.Fatalf("rewrote an up-to-date file: %+v", res)
	}
}

func TestAssertDirStale(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), "A\n")
	write(t, filepath.Join(dir, "b.json"), "B\n")
	write(t, filepath.Join(dir, "gone.json"), "old\n")
	write(t, filepath.Join(dir, "README.md"), "not a golden file\n")

	res, err := assertDir(dir, "*.json", map[string][]byte{"a.json": []byte("A\n"), "b.json": []byte("B\n")}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stale golden file " + filepath.Join(dir, "gone.json") + ": the test no longer produces it"}
	if !slices.Equal(res.problems, want) {
		t.Fatalf("problems %q, want %q", res.problems, want)
	}
	if !slices.Equal(ls(t, dir), []string{"README.md", "a.json", "b.json", "gone.json"}) {
		t.Fatalf("files changed without -update: %v", ls(t, dir))
	}

	// Mismatching, missing and stale files are all reported, in name order.
	res, _ = assertDir(dir, "*.json", map[string][]byte{"b.json": []byte("B2\n"), "c.json": []byte("C\n")}, false)
	if len(res.problems) != 4 ||
		!strings.Contains(res.problems[0], "b.json differs") ||
		!strings.Contains(res.problems[1], "c.json does not exist") ||
		!strings.Contains(res.problems[2], "stale golden file "+filepath.Join(dir, "a.json")) ||
		!strings.Contains(res.problems[3], "stale golden file "+filepath.Join(dir, "gone.json")) {
		t.Fatalf("problems:\n%s", strings.Join(res.problems, "\n"))
	}
}

// -update writes what the test produced, removes stale files matching the pattern and
// leaves every other file alone; a second run finds nothing to do.
func TestAssertDirUpdate(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), "A\n")
	write(t, filepath.Join(dir, "gone.json"), "old\n")
	write(t, filepath.Join(dir, "README.md"), "keep\n")
	files := map[string][]byte{"a.json": []byte("A2\n"), "new.json": []byte("N\n")}

	res, err := assertDir(dir, "*.json", files, true)
	if err != nil || len(res.problems) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	want := []string{
		"updated " + filepath.Join(dir, "a.json"),
		"created " + filepath.Join(dir, "new.json"),
		"removed stale " + filepath.Join(dir, "gone.json"),
	}
	if !slices.Equal(res.changes, want) {
		t.Fatalf("changes %q, want %q", res.changes, want)
	}
	if !slices.Equal(ls(t, dir), []string{"README.md", "a.json", "new.json"}) ||
		read(t, filepath.Join(dir, "a.json")) != "A2\n" || read(t, filepath.Join(dir, "README.md")) != "keep\n" {
		t.Fatalf("directory after update: %v", ls(t, dir))
	}
	if res, err := assertDir(dir, "*.json", files, false); err != nil || len(res.problems)+len(res.changes) != 0 {
		t.Fatalf("not clean after update: %+v %v", res, err)
	}
	// A directory that does not exist yet is created.
	fresh := filepath.Join(dir, "fresh")
	if _, err := assertDir(fresh, "*.json", files, true); err != nil || len(ls(t, fresh)) != 2 {
		t.Fatalf("fresh directory: %v", err)
	}
}

// Names the stale check could never see are refused.
func TestAssertDirRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		pattern, name, err string
	}{
		{"*.json", "x.yaml", `"x.yaml" does not match the directory's pattern "*.json"`},
		{"*.json", "sub/x.json", `"sub/x.json" is not a plain file name`},
		{"*", "..", `".." is not a plain file name`},
		{"[", "x", `pattern "["`},
	} {
		_, err := assertDir(dir, c.pattern, map[string][]byte{c.name: nil}, true)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Fatalf("%s %s: error %v, want %q", c.pattern, c.name, err, c.err)
		}
	}
	if len(ls(t, dir)) != 0 {
		t.Fatal("a refused call wrote files")
	}
}

// fakeTB records what the helpers report instead of failing this test.
type fakeTB struct {
	testing.TB
	name         string
	errs, fatals []string
	logs         []string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Name() string                   { return f.name }
func (f *fakeTB) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }

// A failure names the command that rewrites the files: this package's path from the module
// root and the failing test (and subtest) as an anchored -run pattern.
func TestFailureSaysHowToUpdate(t *testing.T) {
	noUpdate(t)
	path := filepath.Join(t.TempDir(), "x.txt")
	write(t, path, "old\n")
	tb := &fakeTB{name: "TestThing/case_1"}
	Assert(tb, path, []byte("new\n"))
	if len(tb.errs) != 1 || len(tb.fatals) != 0 {
		t.Fatalf("errors %q fatals %q", tb.errs, tb.fatals)
	}
	want := "\n\tgo test ./internal/golden -run '^TestThing$/^case_1$' -update"
	if !strings.HasSuffix(tb.errs[0], want) || !strings.Contains(tb.errs[0], "-old\n+new\n") {
		t.Fatalf("message:\n%s\nwant suffix %q", tb.errs[0], want)
	}

	tb = &fakeTB{name: "TestDir"}
	Dir(tb, filepath.Dir(path), "*.txt", nil)
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "stale golden file "+path) {
		t.Fatalf("errors %q", tb.errs)
	}
	tb = &fakeTB{name: "TestDir"}
	Dir(tb, filepath.Dir(path), "*.txt", map[string][]byte{"x.md": nil})
	if len(tb.fatals) != 1 || len(tb.errs) != 0 {
		t.Fatalf("misuse: errors %q fatals %q", tb.errs, tb.fatals)
	}
}

// The flag is this package's, so a test package importing it has -update without
// declaring it (and must not declare it again).
func TestUpdateFlagDeclaredHere(t *testing.T) {
	noUpdate(t)
	f := flag.Lookup("update")
	if f == nil || f.DefValue != "false" {
		t.Fatalf("-update flag: %+v", f)
	}
	if err := flag.Set("update", "true"); err != nil || !*update {
		t.Fatalf("-update does not set this package's flag: %v", err)
	}
}

// noUpdate runs a test of the public functions as if -update were not given (go test ./...
// -update must not make them rewrite instead of fail), and restores the flag afterwards.
func noUpdate(t *testing.T) {
	old := *update
	*update = false
	t.Cleanup(func() { *update = old })
}
