// Package golden compares test output with golden files, the one way every golden test in
// Gatehouse does it. A mismatch fails with a short unified line diff and the command that
// rewrites the files; `go test ./<pkg> -run <Test> -update` rewrites them (review the
// result with git diff before committing).
//
// This package declares the -update flag, for every test binary that imports it (directly
// or through adapters/kit/kittest). A test package must not declare its own flag of that
// name: the flag package panics on a duplicate.
package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the tests' output (and remove stale ones)")

// Assert compares got with the golden file at path. With -update it writes got to path
// instead (creating its directory) and the test passes.
func Assert(tb testing.TB, path string, got []byte) {
	tb.Helper()
	res, err := assertFile(path, got, *update)
	report(tb, res, err)
}

// Dir compares a directory of golden files with what the test produced: files maps a file
// name (no directory) to its expected content, and every name must match pattern (a
// filepath.Match pattern such as "*.json"). A file in dir that matches pattern but is not
// in files is stale: without -update the test fails naming it; with -update it is removed
// and the others are written. Files in dir that do not match pattern are left alone.
func Dir(tb testing.TB, dir, pattern string, files map[string][]byte) {
	tb.Helper()
	res, err := assertDir(dir, pattern, files, *update)
	report(tb, res, err)
}

// result is what one comparison found and did.
type result struct {
	problems []string // one message per mismatching, missing or stale file
	changes  []string // what -update wrote or removed
}

func report(tb testing.TB, res result, err error) {
	tb.Helper()
	for _, c := range res.changes {
		tb.Logf("golden: %s", c)
	}
	if err != nil {
		tb.Fatalf("golden: %v", err)
		return
	}
	if len(res.problems) == 0 {
		return
	}
	tb.Errorf("%s\nIf the new output is right, rewrite the golden files and review the change with git diff:\n\t%s",
		strings.Join(res.problems, "\n"), updateCommand(tb.Name()))
}

// assertFile is Assert without the testing.TB; err is for I/O failures only.
func assertFile(path string, got []byte, update bool) (result, error) {
	var res result
	want, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	if exists && bytes.Equal(want, got) {
		return res, nil
	}
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return res, err
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			return res, err
		}
		verb := "updated"
		if !exists {
			verb = "created"
		}
		res.changes = append(res.changes, verb+" "+path)
		return res, nil
	}
	if !exists {
		res.problems = append(res.problems, fmt.Sprintf("golden file %s does not exist (the test produced %d bytes for it)", path, len(got)))
		return res, nil
	}
	res.problems = append(res.problems, fmt.Sprintf("golden file %s differs from the test's output:\n%s",
		path, strings.TrimSuffix(unifiedDiff(path+" (golden)", path+" (test output)", string(want), string(got)), "\n")))
	return res, nil
}

// assertDir is Dir without the testing.TB; err is for I/O failures and misuse.
func assertDir(dir, pattern string, files map[string][]byte, update bool) (result, error) {
	var res result
	if _, err := filepath.Match(pattern, ""); err != nil {
		return res, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return res, fmt.Errorf("%q is not a plain file name", name)
		}
		if ok, _ := filepath.Match(pattern, name); !ok {
			// It could never be found stale; refuse it rather than let it linger one day.
			return res, fmt.Errorf("file name %q does not match the directory's pattern %q", name, pattern)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r, err := assertFile(filepath.Join(dir, name), files[name], update)
		res.problems = append(res.problems, r.problems...)
		res.changes = append(res.changes, r.changes...)
		if err != nil {
			return res, err
		}
	}
	existing, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return res, err
	}
	slices.Sort(existing)
	for _, path := range existing {
		if _, ok := files[filepath.Base(path)]; ok {
			continue
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			continue
		}
		if !update {
			res.problems = append(res.problems, fmt.Sprintf("stale golden file %s: the test no longer produces it", path))
			continue
		}
		if err := os.Remove(path); err != nil {
			return res, err
		}
		res.changes = append(res.changes, "removed stale "+path)
	}
	return res, nil
}

// updateCommand is the go test command line that reruns test with -update, from the module
// root: go test ./internal/x -run '^TestX$/^sub$' -update.
func updateCommand(test string) string {
	parts := strings.Split(test, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	run := strings.ReplaceAll(strings.Join(parts, "/"), "'", `'\''`)
	return fmt.Sprintf("go test %s -run '%s' -update", packagePath(), run)
}

// packagePath is the current directory (where go test runs a package's tests) relative to
// the enclosing module's root, as go test takes it: "./internal/x", or "." at the root.
func packagePath() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for root := wd; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "."
		}
		root = parent
	}
}
