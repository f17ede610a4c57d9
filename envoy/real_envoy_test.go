package envoy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
)

func freePort(t *testing.T) string {
	_, p, _ := net.SplitHostPort(testkit.FreeAddr(t))
	return p
}

// TestRealEnvoy runs a real Envoy against the control plane: it must accept the bootstrap,
// take listener, routes and clusters over ADS, answer /healthz from its route table, and fail
// closed on an MCP route while the authz service is down. No Envoy binary exists on the
// machines Gatehouse is developed on, so this runs only where ENVOY_BIN names one.
func TestRealEnvoy(t *testing.T) {
	bin := os.Getenv("ENVOY_BIN")
	if bin == "" {
		t.Skip("SKIPPED: ENVOY_BIN is not set (no Envoy binary on this machine); this test has not run here")
	}
	dir := t.TempDir()
	edge, admin, authzPort := freePort(t), freePort(t), freePort(t)
	example, err := os.ReadFile(testkit.Root("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("0.0.0.0:8080", "127.0.0.1:"+edge, "127.0.0.1:9191", "127.0.0.1:"+authzPort).Replace(string(example))
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startEnvoy(ctx, t, bin, dir, cfgPath, admin, time.Second)

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(fmt.Sprintf("http://127.0.0.1:%s/healthz", edge))
		if code == 200 && body == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			_, dump := get(fmt.Sprintf("http://127.0.0.1:%s/config_dump", admin))
			t.Fatalf("Envoy never served /healthz from the ADS routes (last %d %q); config dump:\n%s", code, body, dump)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The authz service is not running: ext_authz fails closed.
	code, _ := get(fmt.Sprintf("http://127.0.0.1:%s/mcp/github", edge))
	if code != 503 && code != 403 {
		t.Fatalf("an MCP request with the authz service down got %d, want a denial", code)
	}
}

// startEnvoy runs the control plane on cfgPath (checking it for changes every watch) and a
// real Envoy whose bootstrap (envoy/bootstrap.yaml) points at it, with its admin port on
// admin, until ctx ends; Envoy is stopped when the test ends.
func startEnvoy(ctx context.Context, t *testing.T, bin, dir, cfgPath, admin string, watch time.Duration) {
	t.Helper()
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := ecslog.New(io.Discard, "control-plane", "info", "json")
	go func() { _ = xdsserver.New(cfgPath, log).Run(ctx, gl, hl, watch) }()

	boot, _ := os.ReadFile(here("bootstrap.yaml"))
	_, xdsPort, _ := net.SplitHostPort(gl.Addr().String())
	bs := strings.NewReplacer("address: control-plane, port_value: 18000", "address: 127.0.0.1, port_value: "+xdsPort,
		"port_value: 9901", "port_value: "+admin).Replace(string(boot))
	bootPath := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(bootPath, []byte(bs), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "-c", bootPath, "--log-level", "warn", "--base-id", admin)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}
