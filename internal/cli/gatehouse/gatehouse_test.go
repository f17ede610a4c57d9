package gatehouse

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/cli/clitest"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

const testVersion = "v1.2.3-test"

func execute(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return Execute(ctx, testVersion, args, stdout, stderr)
}

func run(args ...string) clitest.Result { return clitest.Run(execute, args...) }

// oneLine fails unless r is a runtime error: exit 1, nothing on stdout, and exactly one line
// on stderr that starts with the program name and contains every want.
func oneLine(t *testing.T, r clitest.Result, want ...string) {
	t.Helper()
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "gatehouse: ") ||
		strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") {
		t.Fatalf("want exit 1 and one line on stderr; got exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.Stderr, w)
		}
	}
}

// Every command and subcommand: --help and -h print usage with an example to stdout and exit
// 0; an unknown flag or argument prints that command's usage and one error line, exit 2.
func TestConventions(t *testing.T) {
	clitest.Conventions(t, func() *cobra.Command { return newRoot(testVersion) }, execute)
}

// The production binary has exactly the production commands.
func TestCommands(t *testing.T) {
	var got []string
	for _, p := range clitest.Paths(newRoot(testVersion)) {
		got = append(got, strings.Join(p, " "))
	}
	want := []string{"", "authz", "catalog", "control-plane", "policy", "policy test", "version", "help"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("commands %q, want %q", got, want)
	}
}

func TestUnknownCommand(t *testing.T) {
	r := run("frobnicate")
	if r.Code != 2 || clitest.LastLine(r.Stderr) != `gatehouse: unknown command "frobnicate" for "gatehouse"` {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	r = run("autz")
	if r.Code != 2 || !strings.HasSuffix(r.Stderr, `gatehouse: unknown command "autz" for "gatehouse"; did you mean "authz"?`+"\n") {
		t.Fatalf("no suggestion: exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	// The development commands are not in this binary.
	for _, dev := range []string{"dev", "token", "simulate"} {
		if r := run(dev); r.Code != 2 {
			t.Errorf("gatehouse %s: exit %d", dev, r.Code)
		}
	}
	oneLine(t, run("authz", "--config", "/does/not/exist.yaml"), "/does/not/exist.yaml", "--config")
	oneLine(t, run("control-plane", "--config", "/does/not/exist.yaml", "--print"), "/does/not/exist.yaml", "--config")
}

func TestVersion(t *testing.T) {
	if r := run("version"); r.Code != 0 || r.Stdout != "gatehouse "+testVersion+"\n" || r.Stderr != "" {
		t.Fatalf("%+v", r)
	}
}

func TestPolicyTestCommand(t *testing.T) {
	r := run("policy", "test", "--dir", testkit.Root("policies"))
	if r.Code != 0 || !strings.Contains(r.Stdout, "accepted") || !strings.Contains(r.Stdout, "Rego tests passed") {
		t.Fatalf("%+v", r)
	}
	empty := t.TempDir()
	oneLine(t, run("policy", "test", "--dir", empty), empty+" refused")
	oneLine(t, run("policy", "test", "--dir", filepath.Join(empty, "missing")), "missing refused")
}

// A refused policy is reported after the program name; a multi-line report keeps its lines,
// each after the first indented.
func TestPolicyRefusal(t *testing.T) {
	dir := testkit.CopyPolicies(t)
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package gatehouse.authz\n\nallow if {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run("policy", "test", "--dir", dir)
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "gatehouse: "+dir+" refused: ") {
		t.Fatalf("%+v", r)
	}
	for _, line := range strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")[1:] {
		if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			t.Errorf("continuation line not indented: %q", line)
		}
	}
}

// Config validation reports every problem at once: one message, first line after the program
// name, the others indented.
func TestConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("public_url: ftp://example.com\nservers:\n  - name: Bad Name\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run("authz", "--config", path)
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(lines[0], "gatehouse: "+path+": ") || len(lines) < 2 {
		t.Fatalf("%+v", r)
	}
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, "  ") {
			t.Errorf("continuation line not indented: %q", line)
		}
	}
}

// The production binary does not carry the adapters: it checks live ones against the
// catalog, and says where generating it went.
func TestCatalogOnlyChecks(t *testing.T) {
	oneLine(t, run("catalog", "--file", testkit.Root("policies", "catalog.json")), "--check", "gatehouse-dev catalog --write")
}

func TestControlPlanePrint(t *testing.T) {
	r := run("control-plane", "--config", testkit.Root("gatehouse.yaml"), "--print")
	if r.Code != 0 || r.Stderr != "" || !strings.HasPrefix(r.Stdout, "# Envoy resources generated from gatehouse.yaml") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%.300s", r.Code, r.Stderr, r.Stdout)
	}
}

// authzConfig writes the example config with free ports, the given policy directory and
// reload interval.
func authzConfig(t *testing.T, policies, reload string) string {
	t.Helper()
	cfg, err := os.ReadFile(testkit.Root("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("127.0.0.1:9191", "127.0.0.1:0", "127.0.0.1:9192", "127.0.0.1:0",
		"dir: policies", "dir: "+policies, "reload_interval: 2s", "reload_interval: "+reload).Replace(string(cfg))
	if !strings.Contains(text, "reload_interval: "+reload) {
		t.Fatal("gatehouse.yaml no longer has reload_interval: 2s")
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAuthz runs `gatehouse authz` until the test ends; it returns the log and a function
// that stops the command and reports its exit code.
func startAuthz(t *testing.T, path string) (*ecslogtest.Buffer, func() int) {
	t.Helper()
	var out ecslogtest.Buffer
	var errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Execute(ctx, testVersion, []string{"authz", "--config", path}, &out, &errb) }()
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("stderr: %s", errb.String())
			}
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("did not stop")
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	waitFor(t, &out, "authz service listening")
	return &out, stop
}

func waitFor(t *testing.T, out *ecslogtest.Buffer, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", text, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The authz command starts from the example config and stops cleanly when asked to.
func TestAuthzCommandStartsAndStops(t *testing.T) {
	out, stop := startAuthz(t, authzConfig(t, testkit.Root("policies"), "2s"))
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", out.String())
	}
}

// SIGHUP reloads the policy directory at once, not at the next poll.
func TestAuthzReloadsPolicyOnSIGHUP(t *testing.T) {
	dir := testkit.CopyPolicies(t)
	out, stop := startAuthz(t, authzConfig(t, dir, "1h"))
	defer stop()
	waitFor(t, out, "policy revision in service")
	before := strings.Count(out.String(), "policy revision in service")
	f, err := os.OpenFile(filepath.Join(dir, "authz.rego"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n# edited by TestAuthzReloadsPolicyOnSIGHUP\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "policy revision in service") == before {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "gatehouse.previous_revision") {
		t.Fatalf("the reload did not replace a revision:\n%s", out.String())
	}
}

// catalog --check asks each configured server for its tools and compares their definitions
// with the pins: a running adapter that serves its pinned tools passes; a pin that no longer
// matches names the tool and exits 1.
func TestCatalogCheck(t *testing.T) {
	srv := kit.NewServer(kit.Options{Name: catalystcenter.ServerName, Logger: zerolog.Nop()})
	catalystcenter.Register(srv, nil) // listing tools calls no handler
	up := httptest.NewServer(srv.Handler())
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfg, []byte("public_url: https://mcp.example.com\noidc: {issuer: https://idp.example.com}\n"+
		"servers: [{name: catalyst-center, upstream: \""+up.URL+"\"}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pins := testkit.Root("policies", catalog.File)
	r := run("catalog", "--check", "--config", cfg, "--file", pins)
	if r.Code != 0 || !strings.Contains(r.Stdout, "catalyst-center: 12 tools match their pins") {
		t.Fatalf("check against the repository's pins: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	data, err := os.ReadFile(pins)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tools := c.Servers["catalyst-center"].Tools
	tool := tools["get_site_health"]
	tool.Digest = "sha256:" + strings.Repeat("0", 64)
	tools["get_site_health"] = tool
	stale, _ := c.Marshal()
	stalePath := filepath.Join(dir, catalog.File)
	if err := os.WriteFile(stalePath, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	r = run("catalog", "--check", "--config", cfg, "--file", stalePath)
	if r.Code != 1 || !strings.Contains(r.Stdout, "catalyst-center/get_site_health differs from its pin") ||
		!strings.Contains(r.Stderr, "1 tool definitions differ") {
		t.Fatalf("check against a stale pin: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// `gatehouse authz --config gatehouse.yaml` says in one plain line what it is waiting for
// while its issuer does not answer, and says so again when it is ready.
func TestAuthzSaysWhatItIsWaitingFor(t *testing.T) {
	var idp atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := idp.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "the IdP is down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	path := authzConfig(t, testkit.Root("policies"), "2s")
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const rootIssuer = "issuer: http://localhost:5556/dex"
	if !strings.Contains(string(cfg), rootIssuer) {
		t.Fatalf("gatehouse.yaml no longer has %q", rootIssuer)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), rootIssuer, "issuer: "+srv.URL, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stop := startAuthz(t, path)
	defer stop()
	waitFor(t, out, "not ready, waiting for the OIDC issuer "+srv.URL)
	if strings.Contains(out.String(), "ready: the policy is in service") {
		t.Fatalf("ready without the issuer's keys:\n%s", out.String())
	}
	iss, err := issuer.New(issuer.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := iss.Handler()
	idp.Store(&h)
	waitFor(t, out, "ready: the policy is in service and the issuer's keys are fetched")
}
