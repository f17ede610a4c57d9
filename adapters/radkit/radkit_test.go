package radkit_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
	gossh "golang.org/x/crypto/ssh"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

var revisions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

// secrets is a SecretSource a test can change.
type secrets struct {
	mu          sync.Mutex
	m           map[string]kit.Secret
	invalidated []string
}

func (s *secrets) Get(_ context.Context, name string) (kit.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return nil, kit.ErrSecretNotFound
	}
	return v, nil
}

func (s *secrets) Invalidate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, name)
}

func (s *secrets) set(name string, v kit.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = v
}

var clockNow = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clockNow }

// env is the adapter serving MCP over one backend, with that backend's simulator.
type env struct {
	backend string
	base    string
	headers map[string]string // for connect: the edge's Authorization when viaEdge
	secrets *secrets
	bridge  *sim.Bridge
	ssh     *sim.SSHServer
	access  radkit.DeviceAccess
}

type setup struct {
	devices  []sim.Device
	syncWait time.Duration
	opts     radkit.Options
	// viaEdge puts the adapter behind the development platform (dev edge, authz service,
	// the repository's policies) and connects as nina, a network engineer, with a real token.
	viaEdge bool
}

func serve(t testing.TB, e *env, o radkit.Options, viaEdge bool) {
	s := kit.NewServer(kit.Options{Name: radkit.ServerName, Version: "test", Logger: zerolog.Nop()})
	radkit.RegisterWith(s, e.access, o)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if viaEdge {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stack.Start(ctx, stack.Options{PolicyDir: testkit.Root("policies"), Log: zerolog.Nop(),
			Extra: map[string]http.Handler{radkit.ServerName: s.Handler()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Stop)
		tok, err := st.Token("nina")
		if err != nil {
			t.Fatal(err)
		}
		e.base, e.headers = st.ServerURL(radkit.ServerName), map[string]string{"Authorization": "Bearer " + tok}
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	e.base = "http://" + l.Addr().String() + kit.Path
}

func startBridge(t testing.TB, st setup) *env {
	t.Helper()
	if st.devices == nil {
		st.devices = sim.Seed()
	}
	b := sim.NewBridge(st.devices, sim.BridgeOptions{Now: fixedNow, SyncWait: st.syncWait})
	up := httptest.NewServer(b)
	t.Cleanup(up.Close)
	sec := &secrets{m: map[string]kit.Secret{radkit.ServerName: {radkit.BridgeSecretField: sim.DefaultBridgeToken}}}
	s := kit.NewServer(kit.Options{Name: "unused", Logger: zerolog.Nop()})
	br, err := radkit.NewBridge(up.URL, sec, 0, s.Metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	br.API().Backoff = time.Millisecond
	br.PollInterval = 20 * time.Millisecond
	e := &env{backend: "bridge", secrets: sec, bridge: b, access: br}
	serve(t, e, st.opts, st.viaEdge)
	return e
}

func sshSecrets(srv *sim.SSHServer) *secrets {
	m := map[string]kit.Secret{radkit.ServerName: {radkit.KnownHostsField: srv.KnownHosts()}}
	for group, c := range sim.DefaultCredentials() {
		m[radkit.CredentialsSecretPrefix+group] = kit.Secret{"username": c.Username, "password": c.Password}
	}
	return &secrets{m: m}
}

func startSSH(t testing.TB, st setup) *env {
	t.Helper()
	if st.devices == nil {
		st.devices = sim.Seed()
	}
	srv, err := sim.NewSSHServer(st.devices, sim.SSHOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	devs, err := radkit.ParseSSHInventory(srv.InventoryJSON())
	if err != nil {
		t.Fatal(err)
	}
	sec := sshSecrets(srv)
	access, err := radkit.NewSSH(radkit.SSHOptions{Devices: devs, Secrets: sec, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { access.Close() })
	e := &env{backend: "ssh", secrets: sec, ssh: srv, access: access}
	serve(t, e, st.opts, st.viaEdge)
	return e
}

var backends = map[string]func(testing.TB, setup) *env{"bridge": startBridge, "ssh": startSSH}

func eachBackend(t *testing.T, st setup, f func(t *testing.T, e *env)) {
	for _, name := range []string{"bridge", "ssh"} {
		t.Run(name, func(t *testing.T) { f(t, backends[name](t, st)) })
	}
}

func (e *env) connect(t testing.TB, version string) *client.Client {
	return kittest.Connect(t, e.base, version, e.headers)
}

// call is kittest.Call: a tool call that must (or must not) be an error result.
var call = kittest.Call

type commandOutcome struct {
	Command   string          `json:"command"`
	Status    string          `json:"status"`
	Output    string          `json:"output"`
	Parsed    json.RawMessage `json:"parsed"`
	Lines     int             `json:"lines"`
	Truncated bool            `json:"truncated"`
	Note      string          `json:"note"`
	Error     string          `json:"error"`
}

type deviceResult struct {
	Device   string           `json:"device"`
	Status   string           `json:"status"`
	Error    string           `json:"error"`
	Commands []commandOutcome `json:"commands"`
}

type runResult struct {
	Summary string         `json:"summary"`
	Devices []deviceResult `json:"devices"`
}

func (r runResult) device(t testing.TB, name string) deviceResult {
	t.Helper()
	for _, d := range r.Devices {
		if d.Device == name {
			return d
		}
	}
	t.Fatalf("no result for %s: %+v", name, r)
	return deviceResult{}
}

func run(t testing.TB, c *client.Client, args map[string]any) runResult {
	t.Helper()
	var r runResult
	call(t, c, "run_commands", args, &r, false)
	return r
}

// TestEveryTool runs every tool on both backends, straight to the adapter and through the
// dev edge with a real token (where the policy's command allowlists apply too), through an
// mcp-go client on all three revisions.
func TestEveryTool(t *testing.T) {
	for _, edge := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "edge"}[edge], func(t *testing.T) { everyTool(t, edge) })
	}
}

func everyTool(t *testing.T, viaEdge bool) {
	eachBackend(t, setup{viaEdge: viaEdge}, func(t *testing.T, e *env) {
		for _, v := range revisions {
			t.Run(v, func(t *testing.T) {
				c := e.connect(t, v)
				tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
				if err != nil || len(tools.Tools) != 6 {
					t.Fatalf("tools/list: %v, %d tools", err, len(tools.Tools))
				}

				var list struct {
					Devices []radkit.Device `json:"devices"`
					Count   int             `json:"count"`
				}
				call(t, c, "list_devices", nil, &list, false)
				if list.Count != 9 || list.Devices[0].Name != "lon-b1-core-01" || list.Devices[0].Type != "IOS_XE" {
					t.Fatalf("list_devices: %+v", list)
				}
				for args, want := range map[string]int{`{"name":"LON-B1"}`: 4, `{"device_type":"iosxr"}`: 0, `{"device_type":"IOS_XR"}`: 1,
					`{"site":"nyc-hq"}`: 3, `{"label":"wan"}`: 3, `{"site":"lon-b1","label":"access"}`: 2} {
					var a map[string]any
					_ = json.Unmarshal([]byte(args), &a)
					call(t, c, "list_devices", a, &list, false)
					if list.Count != want {
						t.Errorf("list_devices %s: %d devices, want %d", args, list.Count, want)
					}
				}

				var dev radkit.Device
				call(t, c, "get_device", map[string]any{"device": "nyc-hq-rtr-01"}, &dev, false)
				if dev.Host != "10.20.0.1" || dev.Platform != "ISR4451-X/K9" || len(dev.Attributes) == 0 {
					t.Fatalf("get_device: %+v", dev)
				}
				text := call(t, c, "get_device", map[string]any{"device": "no-such-device"}, nil, true)
				if !strings.Contains(text, "no device") || !strings.Contains(text, "no-such-device") {
					t.Fatalf("unknown device: %s", text)
				}

				r := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01", "nyc-hq-dc-01", "sjc-b-pe-01"},
					"commands": []string{"sh ver", "show ip int br", "show run | include hostname"}})
				if len(r.Devices) != 3 || !strings.HasPrefix(r.Summary, "3 devices × 3 commands: 3 ok") {
					t.Fatalf("run_commands: %+v", r)
				}
				core := r.device(t, "lon-b1-core-01")
				if core.Status != "ok" || core.Commands[0].Command != "show version" || !strings.Contains(core.Commands[0].Output, "Version 17.9.4a") ||
					!strings.Contains(core.Commands[1].Output, "HundredGigE1/0/25      172.16.0.1") ||
					strings.TrimSpace(core.Commands[2].Output) != "hostname lon-b1-core-01" {
					t.Fatalf("core: %+v", core)
				}
				if nx := r.device(t, "nyc-hq-dc-01"); !strings.Contains(nx.Commands[0].Output, "NXOS: version 10.3(4a)") {
					t.Fatalf("NX-OS: %+v", nx)
				}
				if xr := r.device(t, "sjc-b-pe-01"); !strings.Contains(xr.Commands[0].Output, "Cisco IOS XR Software, Version 7.9.2") {
					t.Fatalf("IOS-XR: %+v", xr)
				}

				parsed := run(t, c, map[string]any{"devices": []string{"nyc-hq-rtr-01", "sjc-b-pe-01"}, "parse": true,
					"commands": []string{"show version", "show interfaces", "show ip interface brief", "show inventory", "show clock"}})
				rtr := parsed.device(t, "nyc-hq-rtr-01")
				var ver radkit.Version
				var ifs radkit.Interfaces
				var brief radkit.IPInterfaceBrief
				var inv radkit.Inventory
				for i, into := range []any{&ver, &ifs, &brief, &inv} {
					if rtr.Commands[i].Output != "" || json.Unmarshal(rtr.Commands[i].Parsed, into) != nil {
						t.Fatalf("parsed %s: %+v", rtr.Commands[i].Command, rtr.Commands[i])
					}
				}
				if ver.Hostname != "nyc-hq-rtr-01" || ver.Version != "17.6.5" || ver.ProcessorBoardID != "FGL2149923D" ||
					len(ifs.Interfaces) != 6 || ifs.Interfaces[1].IPAddress != "10.20.1.1/30" || len(brief.Interfaces) != 6 ||
					brief.Interfaces[3].Status != "administratively down" || inv.Items[0].Serial != "FGL2149923D" {
					t.Fatalf("parsed: %+v %+v %+v %+v", ver, ifs, brief, inv)
				}
				if clk := rtr.Commands[4]; clk.Parsed != nil || !strings.Contains(clk.Output, "09:00:00.000 UTC Mon Mar 3 2025") {
					t.Fatalf("show clock stays raw: %+v", clk)
				}
				if xr := parsed.device(t, "sjc-b-pe-01"); xr.Commands[0].Parsed != nil || !strings.Contains(xr.Commands[0].Note, "IOS-XE") {
					t.Fatalf("IOS-XR is not parsed, and says so: %+v", xr.Commands[0])
				}

				var ping struct {
					Command string            `json:"command"`
					Status  string            `json:"status"`
					Result  radkit.PingResult `json:"result"`
				}
				call(t, c, "ping_from_device", map[string]any{"device": "lon-b1-core-01", "target": "10.30.0.1", "source": "Loopback0", "count": 3}, &ping, false)
				if ping.Command != "ping 10.30.0.1 source Loopback0 repeat 3" || ping.Result.Sent != 3 || ping.Result.SuccessPercent != 100 {
					t.Fatalf("ping: %+v", ping)
				}
				call(t, c, "ping_from_device", map[string]any{"device": "nyc-hq-dc-01", "target": "198.51.100.7", "vrf": "management"}, &ping, false)
				if ping.Command != "ping 198.51.100.7 vrf management" || ping.Result.Sent != 5 || ping.Result.Received != 0 {
					t.Fatalf("NX-OS ping to nowhere: %+v", ping)
				}
				var trace struct {
					Command string       `json:"command"`
					Result  radkit.Trace `json:"result"`
				}
				call(t, c, "traceroute_from_device", map[string]any{"device": "lon-b1-core-01", "target": "10.30.255.5"}, &trace, false)
				if trace.Command != "traceroute 10.30.255.5" || !trace.Result.Reached || len(trace.Result.Hops) != 3 ||
					trace.Result.Hops[0].Address != "172.16.0.2" {
					t.Fatalf("traceroute: %+v", trace)
				}
				call(t, c, "traceroute_from_device", map[string]any{"device": "sjc-b-pe-01", "target": "10.10.0.11", "vrf": "INTERNET"}, &trace, false)
				if trace.Command != "traceroute vrf INTERNET 10.10.0.11" || !trace.Result.Reached {
					t.Fatalf("IOS-XR traceroute: %+v", trace)
				}
				injection := map[string]any{"device": "lon-b1-core-01", "target": "10.0.0.1; reload"}
				if e.headers != nil {
					// Through the edge the policy refuses it first; the adapter never sees it.
					req := mcp.CallToolRequest{}
					req.Params.Name, req.Params.Arguments = "ping_from_device", injection
					if _, err := c.CallTool(context.Background(), req); err == nil || !strings.Contains(err.Error(), `"ping 10.0.0.1; reload" is refused`) {
						t.Fatalf("target injection at the edge: %v", err)
					}
				} else if text = call(t, c, "ping_from_device", injection, nil, true); !strings.Contains(text, "is not an IP address or host name") {
					t.Fatalf("target injection: %s", text)
				}

				var diag deviceResult
				call(t, c, "collect_diagnostics", map[string]any{"device": "lon-b1-wlc-01"}, &diag, false)
				if diag.Status != "ok" || len(diag.Commands) != len(radkit.DiagnosticCommands) || diag.Commands[0].Parsed == nil ||
					!strings.Contains(diag.Commands[7].Output, "lon-b1-core-01") {
					t.Fatalf("collect_diagnostics: %+v", diag)
				}
			})
		}
	})
}

// The floor refuses configuration, reloads, writes and chained commands before any device is
// contacted, whatever the policy allowed.
func TestFloorRefusesBeforeAnyDevice(t *testing.T) {
	eachBackend(t, setup{}, func(t *testing.T, e *env) {
		c := e.connect(t, "2025-11-25")
		for _, cmd := range []string{"conf t", "reload", "wr mem", "copy run start", "delete flash:x", "erase startup-config",
			"format flash:", "clear counters", "debug ip packet", "undebug all", "request platform software system shell",
			"install remove inactive", "show version ; reload", "show version\nreload", "show clock && reload",
			"show run | redirect flash:x", "terminal monitor", "ping"} {
			text := call(t, c, "run_commands", map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock", cmd}}, nil, true)
			if !strings.Contains(text, "nothing was run") || !strings.Contains(text, "refused") {
				t.Errorf("%q: %s", cmd, text)
			}
		}
		switch e.backend {
		case "ssh":
			if total, _ := e.ssh.Connections("lon-b1-core-01"); total != 0 {
				t.Fatalf("%d connections to the device", total)
			}
		case "bridge":
			if n := e.bridge.Requests("POST "); n != 0 {
				t.Fatalf("%d exec requests reached the bridge", n)
			}
		}
	})
}

// Faults: one device's failure is its own; the others' results are whole.
func TestFaults(t *testing.T) {
	eachBackend(t, setup{}, func(t *testing.T, e *env) {
		c := e.connect(t, "2025-11-25")

		// Device unreachable.
		r := run(t, c, map[string]any{"devices": []string{"lon-b1-acc-01", "lon-b1-acc-02"}, "commands": []string{"show clock"}})
		if acc2 := r.device(t, "lon-b1-acc-02"); acc2.Status != "failed" || !strings.Contains(acc2.Error, "lon-b1-acc-02") ||
			!(strings.Contains(acc2.Error, "unreachable") || strings.Contains(acc2.Error, "device_unreachable")) {
			t.Fatalf("unreachable: %+v", acc2)
		}
		if acc1 := r.device(t, "lon-b1-acc-01"); acc1.Status != "ok" {
			t.Fatalf("reachable neighbour: %+v", acc1)
		}
		if !strings.Contains(r.Summary, "1 ok, 1 failed") {
			t.Fatalf("summary: %s", r.Summary)
		}

		// Unknown device: refused without contact, others run.
		r = run(t, c, map[string]any{"devices": []string{"lon-b1-core-01", "no-such"}, "commands": []string{"show clock"}})
		if d := r.device(t, "no-such"); d.Status != "failed" || !strings.Contains(d.Error, "no device \"no-such\"") {
			t.Fatalf("unknown device: %+v", d)
		}

		// Command timeout on a slow device.
		e.setDelay("nyc-hq-dist-01", 2500*time.Millisecond)
		start := time.Now()
		r = run(t, c, map[string]any{"devices": []string{"nyc-hq-dist-01", "nyc-hq-rtr-01"}, "commands": []string{"show clock"}, "timeout_seconds": 1})
		slow := r.device(t, "nyc-hq-dist-01")
		if slow.Status != "partial" || slow.Commands[0].Status != "timeout" || slow.Commands[0].Error == "" {
			t.Fatalf("slow device: %+v", slow)
		}
		if fast := r.device(t, "nyc-hq-rtr-01"); fast.Status != "ok" || time.Since(start) > 2400*time.Millisecond {
			t.Fatalf("fast neighbour waited for the slow one (%s): %+v", time.Since(start), fast)
		}
		e.setDelay("nyc-hq-dist-01", 0)

		// Output over the line limit.
		r = run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show version", "show interfaces"}, "max_lines": 5, "parse": true})
		v := r.device(t, "lon-b1-core-01").Commands[0]
		if !v.Truncated || v.Lines < 60 || strings.Count(v.Output, "\n") != 5 || !strings.Contains(v.Note, "first 5 of") ||
			!strings.Contains(v.Note, "not parsed because the output was cut") || v.Parsed != nil {
			t.Fatalf("truncated: %+v", v)
		}

		// The device's CLI refusing a command is that command's status.
		r = run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show flux-capacitor", "show clock"}})
		d := r.device(t, "lon-b1-core-01")
		if d.Status != "partial" || d.Commands[0].Status != "device_error" || !strings.Contains(d.Commands[0].Error, "% Invalid input") ||
			d.Commands[1].Status != "ok" {
			t.Fatalf("device error: %+v", d)
		}
	})
}

func (e *env) setDelay(device string, d time.Duration) {
	if e.ssh != nil {
		e.ssh.SetDelay(device, d)
	} else {
		e.bridge.SetDelay(device, d)
	}
}

// SSH: a changed host key and an unpinned one are refused, naming the device and the
// fingerprints; the right key is accepted again once restored.
func TestSSHHostKeys(t *testing.T) {
	e := startSSH(t, setup{})
	c := e.connect(t, "2025-11-25")
	e.ssh.WrongHostKey("lon-b1-core-01", true)
	r := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01", "lon-b1-acc-01"}, "commands": []string{"show clock"}})
	d := r.device(t, "lon-b1-core-01")
	pinned := "ssh-ed25519 " + fingerprint(e.ssh.HostKey("lon-b1-core-01"))
	if d.Status != "failed" || !strings.Contains(d.Error, "host key of lon-b1-core-01") || !strings.Contains(d.Error, "CHANGED") ||
		!strings.Contains(d.Error, pinned) || !strings.Contains(d.Error, "the device offered ssh-ed25519 SHA256:") {
		t.Fatalf("changed key: %+v", d)
	}
	if r.device(t, "lon-b1-acc-01").Status != "ok" {
		t.Fatal("the other device failed too")
	}
	e.ssh.WrongHostKey("lon-b1-core-01", false)
	if d := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock"}}).Devices[0]; d.Status != "ok" {
		t.Fatalf("restored key: %+v", d)
	}

	// Unpinned: known_hosts without the device (read from the secret on each new connection).
	var kept []string
	for _, l := range strings.Split(e.ssh.KnownHosts(), "\n") {
		if !strings.HasPrefix(l, "nyc-hq-rtr-01,") {
			kept = append(kept, l)
		}
	}
	e.secrets.set(radkit.ServerName, kit.Secret{radkit.KnownHostsField: strings.Join(kept, "\n")})
	d = run(t, c, map[string]any{"devices": []string{"nyc-hq-rtr-01"}, "commands": []string{"show clock"}}).Devices[0]
	if d.Status != "failed" || !strings.Contains(d.Error, "host key of nyc-hq-rtr-01") || !strings.Contains(d.Error, "is not pinned") {
		t.Fatalf("unpinned: %+v", d)
	}
}

func fingerprint(k gossh.PublicKey) string { return gossh.FingerprintSHA256(k) }

// SSH: sessions are reused, paging is turned off first, a session the device drops is
// replaced once, a device that always drops fails on its own, and every prompt style works.
func TestSSHSessions(t *testing.T) {
	e := startSSH(t, setup{})
	if err := e.access.(*radkit.SSH).Ready(t.Context()); err != nil {
		t.Fatalf("ready: %v", err)
	}
	c := e.connect(t, "2025-11-25")
	for range 3 {
		run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock", "show version"}})
	}
	if total, _ := e.ssh.Connections("lon-b1-core-01"); total != 1 {
		t.Fatalf("%d connections for three calls, want 1 (reused)", total)
	}
	if cmds := e.ssh.Commands("lon-b1-core-01"); len(cmds) != 7 || cmds[0] != "terminal length 0" || cmds[1] != "show clock" {
		t.Fatalf("commands sent: %q", cmds)
	}

	e.ssh.DropNext("lon-b1-core-01", 1)
	d := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock"}}).Devices[0]
	if d.Status != "ok" {
		t.Fatalf("after one dropped session: %+v", d)
	}
	if total, _ := e.ssh.Connections("lon-b1-core-01"); total != 2 {
		t.Fatalf("%d connections after a drop, want 2", total)
	}

	e.ssh.DropAlways("lon-b1-acc-01", true)
	r := run(t, c, map[string]any{"devices": []string{"lon-b1-acc-01", "nyc-hq-dc-01", "sjc-b-pe-01"}, "commands": []string{"show version", "show clock"}})
	acc := r.device(t, "lon-b1-acc-01")
	if acc.Status != "partial" || acc.Commands[0].Status != "failed" || !strings.Contains(acc.Commands[0].Error, "closed the SSH session") {
		t.Fatalf("always dropping: %+v", acc)
	}
	for _, name := range []string{"nyc-hq-dc-01", "sjc-b-pe-01"} {
		if d := r.device(t, name); d.Status != "ok" {
			t.Fatalf("%s: %+v", name, d)
		}
	}

	// Wrong credentials name the secret, never the password.
	e.secrets.set(radkit.CredentialsSecretPrefix+"wan", kit.Secret{"username": sim.WANUsername, "password": "wrong-password"})
	d = run(t, c, map[string]any{"devices": []string{"sjc-b-rtr-01"}, "commands": []string{"show clock"}}).Devices[0]
	if d.Status != "failed" || !strings.Contains(d.Error, "radkit-ssh/wan") || strings.Contains(d.Error, "wrong-password") {
		t.Fatalf("refused login: %+v", d)
	}
}

// Concurrent calls never open more than the configured sessions per device.
func TestPerDeviceLimit(t *testing.T) {
	eachBackend(t, setup{}, func(t *testing.T, e *env) {
		e.setDelay("lon-b1-core-01", 150*time.Millisecond)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := e.connect(t, "2025-11-25")
				run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock"}})
			}()
		}
		wg.Wait()
		var most int
		if e.ssh != nil {
			_, most = e.ssh.Connections("lon-b1-core-01")
		} else {
			most = e.bridge.MaxConcurrent("lon-b1-core-01")
		}
		if most < 1 || most > radkit.DefaultPerDevice {
			t.Fatalf("%d concurrent sessions on one device, limit %d", most, radkit.DefaultPerDevice)
		}
	})
}

// Bridge: a 5xx answer fails that device's run with the bridge's words, a 503 is retried, a
// run longer than the bridge waits becomes a job that is polled, a refused token is read again.
func TestBridgeFaults(t *testing.T) {
	e := startBridge(t, setup{syncWait: 100 * time.Millisecond})
	c := e.connect(t, "2025-11-25")

	e.bridge.FailNext("POST /v1/devices/lon-b1-core-01/exec", 500, 1)
	r := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01", "lon-b1-acc-01"}, "commands": []string{"show clock"}})
	if d := r.device(t, "lon-b1-core-01"); d.Status != "failed" || !strings.Contains(d.Error, "RADKit bridge: POST /v1/devices/lon-b1-core-01/exec answered 500") ||
		!strings.Contains(d.Error, "simulated failure") {
		t.Fatalf("5xx: %+v", d)
	}
	if r.device(t, "lon-b1-acc-01").Status != "ok" {
		t.Fatal("a 5xx for one device failed another")
	}

	before := e.bridge.Requests("POST /v1/devices/lon-b1-core-01/exec")
	e.bridge.FailNext("POST /v1/devices/lon-b1-core-01/exec", 503, 1)
	if d := run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock"}}).Devices[0]; d.Status != "ok" ||
		e.bridge.Requests("POST /v1/devices/lon-b1-core-01/exec") != before+2 {
		t.Fatalf("503 not retried: %+v", d)
	}

	e.bridge.FailNext("GET /v1/devices", 502, 1)
	text := call(t, c, "list_devices", nil, nil, true)
	if !strings.Contains(text, "502") {
		t.Fatalf("inventory 502: %s", text)
	}

	e.bridge.SetDelay("nyc-hq-dist-01", 300*time.Millisecond)
	d := run(t, c, map[string]any{"devices": []string{"nyc-hq-dist-01"}, "commands": []string{"show clock", "show version"}}).Devices[0]
	if d.Status != "ok" || e.bridge.Requests("GET /v1/jobs/") == 0 {
		t.Fatalf("job: %+v (%d polls)", d, e.bridge.Requests("GET /v1/jobs/"))
	}

	e.secrets.set(radkit.ServerName, kit.Secret{radkit.BridgeSecretField: "stale"})
	text = call(t, c, "list_devices", nil, nil, true)
	if !strings.Contains(text, "401") || !slices.Contains(e.secrets.invalidated, radkit.ServerName) {
		t.Fatalf("stale token: %s", text)
	}
	e.secrets.set(radkit.ServerName, kit.Secret{radkit.BridgeSecretField: sim.DefaultBridgeToken})
	call(t, c, "list_devices", nil, nil, false)

	e.bridge.SetServiceConnected(false)
	d = run(t, c, map[string]any{"devices": []string{"lon-b1-core-01"}, "commands": []string{"show clock"}}).Devices[0]
	if d.Status != "failed" || !strings.Contains(d.Error, "the RADKit service is not connected") {
		t.Fatalf("service down: %+v", d)
	}
}

// The diagnostic bundle is the list the policy checks (policies/data.json).
func TestDiagnosticsMatchPolicy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "policies", "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Gatehouse struct {
			Commands struct {
				Tools       map[string]map[string]string   `json:"tools"`
				Diagnostics map[string]map[string][]string `json:"diagnostics"`
			} `json:"commands"`
		} `json:"gatehouse"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	cmds := data.Gatehouse.Commands
	if got := cmds.Diagnostics[radkit.ServerName]["collect_diagnostics"]; !slices.Equal(got, radkit.DiagnosticCommands) {
		t.Fatalf("policy bundle %q, adapter %q", got, radkit.DiagnosticCommands)
	}
	want := map[string]string{"run_commands": "commands", "ping_from_device": "ping", "traceroute_from_device": "traceroute",
		"collect_diagnostics": "diagnostics"}
	for tool, kind := range want {
		if cmds.Tools[radkit.ServerName][tool] != kind {
			t.Errorf("policy does not check %s as %s: %v", tool, kind, cmds.Tools[radkit.ServerName])
		}
	}
}

// One snapshot per tool of what tools/list serves.
func TestToolSnaps(t *testing.T) {
	e := startBridge(t, setup{})
	c := e.connect(t, "2025-11-25")
	tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kittest.ToolSnaps(t, tools.Tools, "testdata/toolsnaps")
}

// Register(s, nil) declares the tools for the catalog without a backend.
func TestDeclarations(t *testing.T) {
	s := kit.NewServer(kit.Options{Name: radkit.ServerName, Logger: zerolog.Nop()})
	radkit.Register(s, nil)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range s.Declared() {
		got[d.Name] = string(d.Action)
	}
	want := map[string]string{"list_devices": "read", "get_device": "read", "run_commands": "execute", "ping_from_device": "execute",
		"traceroute_from_device": "execute", "collect_diagnostics": "execute"}
	if len(got) != len(want) {
		t.Fatalf("declared %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}
