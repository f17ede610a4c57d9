package memlimit_test

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/memlimit"
)

func cgroup(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFromCgroup(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		limit int64
		ok    bool
	}{
		"v2 limit":         {map[string]string{"memory.max": "536870912\n"}, 536870912, true},
		"v2 no limit":      {map[string]string{"memory.max": "max\n"}, 0, false},
		"v1 limit":         {map[string]string{"memory/memory.limit_in_bytes": "268435456\n"}, 268435456, true},
		"v1 no limit":      {map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false},
		"v2 before v1":     {map[string]string{"memory.max": "1048576", "memory/memory.limit_in_bytes": "2097152"}, 1048576, true},
		"garbage":          {map[string]string{"memory.max": "lots"}, 0, false},
		"no cgroup at all": {nil, 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			limit, ok := memlimit.FromCgroup(cgroup(t, c.files))
			if limit != c.limit || ok != c.ok {
				t.Errorf("FromCgroup = %d, %v; want %d, %v", limit, ok, c.limit, c.ok)
			}
		})
	}
}

// The runtime's soft limit becomes 90 % of the container's; an explicit GOMEMLIMIT wins.
func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	t.Setenv("GOMEMLIMIT", "")
	got := memlimit.Apply(cgroup(t, map[string]string{"memory.max": "1073741824"}))
	if limit := debug.SetMemoryLimit(-1); limit != 966367641 || !strings.Contains(got, "90% of the container's 1073741824") {
		t.Fatalf("limit %d, said %q", limit, got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if got := memlimit.Apply(cgroup(t, map[string]string{"memory.max": "max"})); debug.SetMemoryLimit(-1) != math.MaxInt64 ||
		!strings.Contains(got, "no container memory limit") {
		t.Fatalf("without a limit: %q", got)
	}
	t.Setenv("GOMEMLIMIT", "200MiB")
	if got := memlimit.Apply(cgroup(t, map[string]string{"memory.max": "1073741824"})); debug.SetMemoryLimit(-1) != math.MaxInt64 ||
		!strings.Contains(got, "set explicitly") {
		t.Fatalf("with GOMEMLIMIT set: %q", got)
	}
}

// The authz service's GC target is set unless the environment chose one.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	if got := memlimit.GCPercent(50); got != "GOGC=50 (set GOGC to change it)" || debug.SetGCPercent(50) != 50 {
		t.Fatalf("unset: %q", got)
	}
	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200)
	if got := memlimit.GCPercent(50); got != "GOGC=200 (from the environment)" || debug.SetGCPercent(200) != 200 {
		t.Fatalf("from the environment: %q", got)
	}
}
