package observability

import (
	"os"
	"os/exec"
	"testing"
)

// promBin finds a Prometheus tool (prometheus, promtool) from Debian's prometheus package:
// GATEHOUSE_PROMETHEUS_DIR (the Makefile sets it), else PATH. Without it the test skips and
// says why, unless GATEHOUSE_REQUIRE_PROMETHEUS or CI is set (.ci/run installs the package):
// then it fails, so CI never passes by skipping.
func promBin(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv("GATEHOUSE_PROMETHEUS_DIR"); dir != "" {
		if p, err := exec.LookPath(dir + "/" + name); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("GATEHOUSE_REQUIRE_PROMETHEUS") != "" || os.Getenv("CI") != "" {
		t.Fatalf("%s not found and GATEHOUSE_REQUIRE_PROMETHEUS or CI is set: apt-get install prometheus", name)
	}
	t.Skipf("%s not found: apt-get install prometheus (Debian's package ships prometheus and promtool)", name)
	return ""
}
