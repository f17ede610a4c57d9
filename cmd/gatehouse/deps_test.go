package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

const module = "github.com/gatehouse-mcp/gatehouse"

// devOnly says why a package must not be linked into a shipped binary, or "" when it may.
func devOnly(importPath string) string {
	switch {
	case strings.HasPrefix(importPath, module+"/internal/dev/") || importPath == module+"/internal/dev":
		return "development code (internal/dev)"
	case strings.HasSuffix(importPath, "/sim") || strings.Contains(importPath, "/sim/"):
		return "an upstream simulator"
	case strings.HasPrefix(importPath, "k8s.io/") || strings.HasPrefix(importPath, "sigs.k8s.io/") ||
		strings.HasPrefix(importPath, "github.com/compose-spec/"):
		return "a deployment-file checker (deploy/ tests only)"
	}
	return ""
}

// goCommand is the go command of the toolchain running the test (`go test` puts its GOROOT/bin
// first in PATH).
func goCommand(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 only a fallback for test runners that do not put go on PATH
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("no go command on PATH or at %s", p)
	}
	return p
}

// The shipped binaries — this one (the Dockerfile's) and every adapter — link no development
// code: not the dev issuer, stack or edge, and no upstream simulator.
func TestShippedBinariesLinkNoDevelopmentCode(t *testing.T) {
	root := testkit.Root()
	adapters, err := filepath.Glob(filepath.Join(root, "cmd", "gatehouse-adapter-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(adapters) == 0 {
		t.Fatal("no cmd/gatehouse-adapter-* found")
	}
	mains := []string{"./cmd/gatehouse", "./cmd/gatehouse-cert-agent", "./cmd/gatehouse-worker"}
	for _, a := range adapters {
		mains = append(mains, "./cmd/"+filepath.Base(a))
	}
	for _, main := range mains {
		for _, bad := range forbiddenDeps(t, root, main) {
			t.Errorf("%s links %s", main, bad)
		}
	}
}

// forbiddenDeps describes each development package main links (devOnly).
func forbiddenDeps(t *testing.T, root, main string) []string {
	return linkedAgainst(t, root, main, devOnly)
}

// notForAuthz says why a package must not be linked into cmd/gatehouse, or "" when it may.
// Every package linked runs its init and holds its pages and registered protobuf types in
// every authz and control-plane process, whatever subcommand runs: linking the adapters
// (for catalog generation, now in gatehouse-dev) cost 14 MB of binary and about 10 MB of
// resident memory (BENCHMARKS.md).
func notForAuthz(importPath string) string {
	switch {
	case strings.HasPrefix(importPath, module+"/adapters/"):
		return "an adapter (catalog generation is gatehouse-dev catalog)"
	case strings.HasPrefix(importPath, module+"/workflows/") || strings.HasPrefix(importPath, "go.temporal.io/"):
		return "the Temporal workflows and SDK (the worker's and the deployments adapter's)"
	case strings.HasPrefix(importPath, "github.com/hashicorp/vault/"):
		return "Vault's client (adapters' credentials)"
	}
	return ""
}

// The authz service and control plane link neither the adapters nor what only they need.
func TestAuthzBinaryLinksNoAdapters(t *testing.T) {
	for _, bad := range linkedAgainst(t, testkit.Root(), "./cmd/gatehouse", notForAuthz) {
		t.Errorf("./cmd/gatehouse links %s", bad)
	}
}

// linkedAgainst runs `go list -deps` on main and describes each package linked that why
// objects to, with the import chain that reaches it.
func linkedAgainst(t *testing.T, root, main string, why func(string) string) []string {
	t.Helper()
	cmd := exec.Command(goCommand(t), "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, main)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -deps %s: %v\n%s", main, err, stderr.String())
		}
		t.Fatalf("go list -deps %s: %v", main, err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	top := module + "/" + strings.TrimPrefix(main, "./")
	if _, ok := imports[top]; !ok {
		t.Fatalf("go list -deps %s did not list %s", main, top)
	}
	var bad []string
	for pkg := range imports {
		if reason := why(pkg); reason != "" {
			bad = append(bad, pkg+", "+reason+", via "+strings.Join(chain(imports, top, pkg), " → "))
		}
	}
	sort.Strings(bad)
	return bad
}

// chain is a shortest import chain from top to target (breadth-first).
func chain(imports map[string][]string, top, target string) []string {
	prev := map[string]string{top: ""}
	queue := []string{top}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append([]string{strings.TrimPrefix(p, module+"/")}, path...)
			}
			return path
		}
		for _, imp := range imports[p] {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return []string{target}
}

func TestDevOnly(t *testing.T) {
	for path, want := range map[string]bool{
		module + "/internal/dev/stack":               true,
		module + "/internal/dev/edge":                true,
		module + "/internal/dev/issuer":              true,
		module + "/adapters/catalystcenter/sim":      true,
		module + "/adapters/catalystcenter":          false,
		module + "/internal/devices":                 false,
		module + "/adapters/simple":                  false,
		module + "/internal/proxy/authz":             false,
		module + "/internal/cli/gatehouse":           false,
		"github.com/example/thing/sim":               true,
		"github.com/gatehouse-mcp/gatehouse/adapter": false,
	} {
		if got := devOnly(path) != ""; got != want {
			t.Errorf("devOnly(%s) = %v, want %v", path, got, want)
		}
	}
}
