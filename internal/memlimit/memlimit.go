// Package memlimit sets the Go runtime's soft memory limit (GOMEMLIMIT) from the container's
// memory limit, so that the garbage collector works harder as the process nears the limit
// instead of the kernel's OOM killer ending it. An explicit GOMEMLIMIT always wins.
package memlimit

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the container's limit given to the Go heap: the rest is for what the runtime
// does not count (goroutine stacks beyond the heap, cgo, the binary's own pages).
const Fraction = 0.9

// unlimited is where cgroup v1 reports "no limit" (the largest page-aligned int64).
const unlimited = 1 << 62

// FromCgroup reads the memory limit of the cgroup mounted at root (normally /sys/fs/cgroup,
// the container's own with a cgroup namespace): cgroup v2's memory.max, else cgroup v1's
// memory/memory.limit_in_bytes. ok is false when there is no limit or it cannot be read.
func FromCgroup(root string) (limit int64, ok bool) {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= unlimited {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// Apply sets the soft memory limit to Fraction of the cgroup limit at root, unless the
// GOMEMLIMIT environment variable is set (the runtime has applied it already) or there is no
// limit. It says what it did, for the start-up log.
func Apply(root string) string {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return "GOMEMLIMIT=" + v + " (set explicitly)"
	}
	limit, ok := FromCgroup(root)
	if !ok {
		return "no container memory limit: the Go runtime's default (none)"
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("%d bytes, %.0f%% of the container's %d", soft, Fraction*100, limit)
}

// GCPercent sets the garbage collector's target (GOGC) to percent unless GOGC is set, and says
// what it did. The authz service uses 50: at thousands of Checks a second most of its memory is
// garbage between collections, and collecting twice as often keeps its footprint below stock
// OPA's for a fifth to a quarter more CPU per Check than Go's default of 100 (BENCHMARKS.md);
// GOGC overrides it.
func GCPercent(percent int) string {
	if v := os.Getenv("GOGC"); v != "" {
		return "GOGC=" + v + " (from the environment)"
	}
	debug.SetGCPercent(percent)
	return fmt.Sprintf("GOGC=%d (set GOGC to change it)", percent)
}
