package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls against the bridge simulator (targets: binary ≤ 20 MB, idle RSS ≤ 20 MB).
//
//	go test ./cmd/gatehouse-adapter-radkit -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	up := httptest.NewServer(sim.NewBridge(sim.Seed(), sim.BridgeOptions{}))
	defer up.Close()
	kittest.MeasureFootprint(b, kittest.Footprint{
		Package: ".", Upstream: up.URL, Count: 50,
		Env: []string{"GATEHOUSE_SECRET_RADKIT_BRIDGE_TOKEN=" + sim.DefaultBridgeToken},
		Calls: []mcp.CallToolParams{
			{Name: "list_devices", Arguments: map[string]any{"site": "lon-b1"}},
			{Name: "get_device", Arguments: map[string]any{"device": "nyc-hq-rtr-01"}},
			{Name: "run_commands", Arguments: map[string]any{"devices": []string{"lon-b1-core-01", "nyc-hq-rtr-01", "sjc-b-pe-01"},
				"commands": []string{"show version", "show ip interface brief"}, "parse": true}},
			{Name: "ping_from_device", Arguments: map[string]any{"device": "lon-b1-core-01", "target": "10.20.0.1"}},
			{Name: "collect_diagnostics", Arguments: map[string]any{"device": "lon-b1-wlc-01"}},
		},
	})
	for i := 0; i < b.N; i++ {
	}
}

func TestParseFlags(t *testing.T) {
	c, rest, err := parse([]string{"--listen", "127.0.0.1:0", "--backend=ssh", "--known-hosts", "/k", "-per-device", "3",
		"--secrets", "env", "--call-timeout=5s", "--", "--backend", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.backend != "ssh" || c.knownHosts != "/k" || c.perDevice != 3 || c.callTimeout != 5*time.Second {
		t.Fatalf("config: %+v", c)
	}
	if strings.Join(rest, " ") != "--listen 127.0.0.1:0 --secrets env -- --backend x" {
		t.Fatalf("rest for the kit: %q", rest)
	}
	if _, _, err := parse([]string{"--backend", "telnet"}); err == nil {
		t.Fatal("backend telnet accepted")
	}
	t.Setenv("RADKIT_PER_DEVICE", "many")
	if _, _, err := parse(nil); err == nil {
		t.Fatal("RADKIT_PER_DEVICE=many accepted")
	}
}

// The SSH backend starts from an inventory file and a known_hosts file, as in a deployment.
func TestSSHBackendSetup(t *testing.T) {
	srv, err := sim.NewSSHServer(sim.Seed(), sim.SSHOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	inv, kh := filepath.Join(dir, "inventory.json"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(inv, srv.InventoryJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kh, []byte(srv.KnownHosts()), 0o600); err != nil {
		t.Fatal(err)
	}
	s := kit.NewServer(kit.Options{Name: "radkit", Logger: zerolog.Nop()})
	secrets := kit.EnvSource{Environ: func() []string {
		return []string{"GATEHOUSE_SECRET_RADKIT_SSH_CAMPUS_USERNAME=" + sim.DefaultUsername,
			"GATEHOUSE_SECRET_RADKIT_SSH_CAMPUS_PASSWORD=" + sim.DefaultPassword}
	}}
	if err := setup(config{backend: "ssh", knownHosts: kh})(context.Background(), s, kit.Upstream{URL: "file://" + inv, Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil || len(s.Declared()) != 6 {
		t.Fatalf("%v, %d tools", err, len(s.Declared()))
	}
	if err := setup(config{backend: "ssh"})(context.Background(), s, kit.Upstream{URL: filepath.Join(dir, "missing.json")}); err == nil {
		t.Fatal("a missing inventory file was accepted")
	}
}
