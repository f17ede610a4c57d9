// Package testkit is what Gatehouse's own tests share: the repository root, a fake clock, a
// private copy of the policy directory, and Envoy-shaped CheckRequests (built by the same
// code the dev edge uses, internal/envoycheck). It is imported only from _test.go files.
package testkit

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Root returns the repository root joined with parts. It is found from this file's own
// location, so it works whatever directory `go test` runs a package in.
func Root(parts ...string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: cannot locate the repository")
	}
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

// Clock is a fake clock for code that takes a `func() time.Time`. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// CopyPolicies copies the repository's policy files (Rego, data and catalog; not its docs or Go tests)
// into a fresh temporary directory, so a test can edit policies without touching the tree.
func CopyPolicies(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	CopyPoliciesInto(t, dst)
	return dst
}

// CopyPoliciesInto writes the repository's policy files into dir.
func CopyPoliciesInto(t testing.TB, dir string) {
	t.Helper()
	src := Root("policies")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".rego") || strings.HasSuffix(e.Name(), ".json") ||
			strings.HasSuffix(e.Name(), ".yaml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
