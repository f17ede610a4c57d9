package radkit_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
)

// The adapter's bridge backend against the reference bridge (tools/radkit-bridge/bridge.py)
// running on a fake radkit_client: every tool that reaches the bridge, a job, a timeout, an
// unreachable device and a refused token. Needs python3 (standard library only).
func TestReferenceBridge(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH, so the reference RADKit bridge (tools/radkit-bridge) was not run against the adapter")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "radkit-bridge"))
	if err != nil {
		t.Fatal(err)
	}
	const token = "reference-bridge-test-token"
	cmd := exec.Command(py, filepath.Join(dir, "bridge.py"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(dir, "fake"), "RADKIT_BRIDGE_LISTEN=127.0.0.1:0",
		"RADKIT_BRIDGE_TOKEN="+token, "RADKIT_IDENTITY=tester@example.com", "RADKIT_SERVICE_SERIAL=abcd-1234-efgh",
		"RADKIT_BRIDGE_SYNC_WAIT=0.3", "FAKE_RADKIT_SLOW_SECONDS=0.6")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var base string
	select {
	case l := <-lines:
		_, base, _ = strings.Cut(l, "listening on ")
	case <-time.After(20 * time.Second):
		t.Fatal("the reference bridge did not start")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("bridge said %q", base)
	}

	sec := &secrets{m: map[string]kit.Secret{radkit.ServerName: {radkit.BridgeSecretField: token}}}
	br, err := radkit.NewBridge(base, sec, 0, kit.NewServer(kit.Options{Name: "x", Logger: zerolog.Nop()}).Metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	br.PollInterval = 50 * time.Millisecond
	br.API().Backoff = time.Millisecond
	if err := br.Ready(t.Context()); err != nil {
		t.Fatalf("ready: %v", err)
	}
	e := &env{backend: "reference-bridge", secrets: sec, access: br}
	serve(t, e, radkit.Options{}, false)
	c := e.connect(t, "2026-07-28")

	var list struct {
		Devices []radkit.Device `json:"devices"`
		Count   int             `json:"count"`
	}
	call(t, c, "list_devices", nil, &list, false)
	if list.Count != 6 || list.Devices[0].Site != "lon-b1" || list.Devices[0].Type != "IOS_XE" {
		t.Fatalf("list_devices: %+v", list)
	}
	call(t, c, "list_devices", map[string]any{"site": "lab", "device_type": "IOS_XR"}, &list, false)
	if list.Count != 1 || list.Devices[0].Name != "dead-rtr-01" {
		t.Fatalf("filtered: %+v", list)
	}
	var dev radkit.Device
	call(t, c, "get_device", map[string]any{"device": "nyc-hq-dc-01"}, &dev, false)
	if dev.Type != "NXOS" || dev.Attributes["serial"] == "" {
		t.Fatalf("get_device: %+v", dev)
	}

	r := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01", "slow-sw-01", "dead-rtr-01", "stuck-sw-01"},
		"commands": []string{"sh ver", "show ip int br"}, "timeout_seconds": 1, "parse": true})
	core := r.device(t, "lon-b1-core-01")
	var ver radkit.Version
	if core.Status != "ok" || json.Unmarshal(core.Commands[0].Parsed, &ver) != nil || ver.Hostname != "lon-b1-core-01" || ver.Version != "17.9.4a" {
		t.Fatalf("core: %+v", core)
	}
	var brief radkit.IPInterfaceBrief
	if json.Unmarshal(core.Commands[1].Parsed, &brief) != nil || len(brief.Interfaces) != 3 || brief.Interfaces[2].Protocol != "down" {
		t.Fatalf("brief: %+v", core.Commands[1])
	}
	if slow := r.device(t, "slow-sw-01"); slow.Status != "ok" {
		t.Fatalf("slow device (a job): %+v", slow)
	}
	if dead := r.device(t, "dead-rtr-01"); dead.Status != "failed" || !strings.Contains(dead.Error, "device_unreachable") {
		t.Fatalf("unreachable: %+v", dead)
	}
	if stuck := r.device(t, "stuck-sw-01"); stuck.Status != "partial" || stuck.Commands[0].Status != "timeout" {
		t.Fatalf("timeout: %+v", stuck)
	}
	var ping struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	call(t, c, "ping_from_device", map[string]any{"device": "lon-b1-core-01", "target": "10.20.0.1"}, &ping, false)
	if ping.Status != "device_error" { // the fake knows no ping: the device's refusal is reported as such
		t.Fatalf("ping: %+v", ping)
	}
	var diag deviceResult
	call(t, c, "collect_diagnostics", map[string]any{"device": "lon-b1-acc-01", "max_lines": 10}, &diag, false)
	if len(diag.Commands) != len(radkit.DiagnosticCommands) || !diag.Commands[6].Truncated {
		t.Fatalf("diagnostics: %+v", diag)
	}

	sec.set(radkit.ServerName, kit.Secret{radkit.BridgeSecretField: "wrong"})
	if text := call(t, c, "list_devices", nil, nil, true); !strings.Contains(text, "401") || !strings.Contains(text, "unauthorized") {
		t.Fatalf("wrong token: %s", text)
	}
}
