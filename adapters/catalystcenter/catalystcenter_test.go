package catalystcenter_test

import (
	"context"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
)

// secrets is a SecretSource whose value a test can rotate.
type secrets struct {
	mu          sync.Mutex
	password    string
	invalidated int
	served      string // the password last handed out
	cached      bool
}

func (s *secrets) Get(context.Context, string) (kit.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cached {
		s.served, s.cached = s.password, true
	}
	return kit.Secret{"username": "admin", "password": s.served}, nil
}

func (s *secrets) Invalidate(string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated++
	s.cached = false
}

type env struct {
	sim     *sim.Sim
	secrets *secrets
	base    string
}

// start runs the simulator (on a clock 20x faster than real time, so tasks finish in
// fractions of a second) and the adapter on loopback.
func start(t *testing.T) *env {
	t.Helper()
	t0 := time.Now()
	simulator := sim.New(sim.Options{Username: "admin", Password: "C1sco12345",
		Now: func() time.Time { return t0.Add(20 * time.Since(t0)) }})
	up := httptest.NewServer(simulator)
	t.Cleanup(up.Close)
	sec := &secrets{password: "C1sco12345"}
	s := kit.NewServer(kit.Options{Name: catalystcenter.ServerName, Version: "test", Logger: zerolog.Nop()})
	c, err := catalystcenter.NewClient(up.URL, sec, s.Metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c.PollInterval = 20 * time.Millisecond
	c.API().Backoff = 5 * time.Millisecond
	catalystcenter.Register(s, c)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{sim: simulator, secrets: sec, base: "http://" + l.Addr().String()}
}

func (e *env) connect(t *testing.T, version string) *client.Client {
	return kittest.Connect(t, e.base+kit.Path, version, nil)
}

// call is kittest.Call: a tool call that must (or must not) be an error result.
var call = kittest.Call

// Every tool, listed and called through an mcp-go client against the simulator, on every
// protocol revision.
func TestEveryTool(t *testing.T) {
	e := start(t)
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			c := e.connect(t, v)
			tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(tools.Tools) != 12 {
				t.Fatalf("%v: %d tools", err, len(tools.Tools))
			}
			var devs struct {
				Devices []catalystcenter.Device `json:"devices"`
				Offset  int                     `json:"offset"`
				Next    int                     `json:"next_offset"`
			}
			call(t, c, "list_devices", map[string]any{"limit": 3}, &devs, false)
			if len(devs.Devices) != 3 || devs.Offset != 1 || devs.Next != 4 {
				t.Fatalf("page 1: %+v", devs)
			}
			devs.Next = 0 // omitted when there is no next page
			call(t, c, "list_devices", map[string]any{"offset": 4, "limit": 500}, &devs, false)
			if len(devs.Devices) != 5 || devs.Next != 0 {
				t.Fatalf("last page: %d devices, next %d", len(devs.Devices), devs.Next)
			}
			call(t, c, "list_devices", map[string]any{"limit": 501}, nil, true)
			call(t, c, "list_devices", map[string]any{"reachability": "Unreachable"}, &devs, false)
			if len(devs.Devices) != 1 || devs.Devices[0].Hostname != "lon-b1-acc-02" {
				t.Fatalf("filter: %+v", devs.Devices)
			}
			id := devs.Devices[0].ID
			var dev catalystcenter.Device
			call(t, c, "get_device", map[string]any{"device_id": id}, &dev, false)
			if dev.Hostname != "lon-b1-acc-02" {
				t.Fatalf("get_device: %+v", dev)
			}
			if txt := call(t, c, "get_device", map[string]any{"device_id": "00000000-0000-0000-0000-000000000000"}, nil, true); !strings.Contains(txt, "404") {
				t.Fatalf("unknown device: %s", txt)
			}
			var health struct {
				Devices []catalystcenter.DeviceHealth `json:"devices"`
			}
			call(t, c, "get_device_health", map[string]any{"role": "ACCESS"}, &health, false)
			if len(health.Devices) == 0 || health.Devices[0].OverallHealth == 0 {
				t.Fatalf("device health: %+v", health)
			}
			var sites struct {
				Sites []catalystcenter.SiteHealth `json:"sites"`
			}
			call(t, c, "get_site_health", map[string]any{}, &sites, false)
			if len(sites.Sites) == 0 {
				t.Fatal("no site health")
			}
			var list struct {
				Sites []catalystcenter.Site `json:"sites"`
			}
			call(t, c, "list_sites", map[string]any{"name": "Global/EMEA/London/Building-1"}, &list, false)
			if len(list.Sites) != 1 {
				t.Fatalf("sites: %+v", list)
			}
			var topo catalystcenter.Topology
			call(t, c, "get_topology", map[string]any{}, &topo, false)
			if len(topo.Nodes) != 8 || len(topo.Links) == 0 {
				t.Fatalf("topology: %d nodes %d links", len(topo.Nodes), len(topo.Links))
			}
			var issues struct {
				Issues []catalystcenter.Issue `json:"issues"`
			}
			call(t, c, "list_issues", map[string]any{"status": "active"}, &issues, false)
			if len(issues.Issues) != 4 {
				t.Fatalf("active issues: %d", len(issues.Issues))
			}
			var tmpls struct {
				Templates []catalystcenter.TemplateSummary `json:"templates"`
			}
			call(t, c, "list_templates", map[string]any{}, &tmpls, false)
			ntp := ""
			for _, tm := range tmpls.Templates {
				if tm.Name == "NTP-Servers" {
					ntp = tm.TemplateID
				}
			}
			if ntp == "" {
				t.Fatalf("templates: %+v", tmpls)
			}
			var prev struct {
				CLI      string   `json:"cli"`
				Problems []string `json:"problems"`
			}
			call(t, c, "preview_template", map[string]any{"template_id": ntp, "params": map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"}}, &prev, false)
			if !strings.Contains(prev.CLI, "10.0.0.1") {
				t.Fatalf("preview: %+v", prev)
			}
			var show struct {
				Results []struct {
					DeviceID string            `json:"device_id"`
					Output   map[string]string `json:"output"`
				} `json:"results"`
			}
			call(t, c, "list_devices", map[string]any{"hostname": "lon-b1-acc-01"}, &devs, false)
			call(t, c, "run_show_commands", map[string]any{"device_ids": []string{devs.Devices[0].ID}, "commands": []string{"sh ver", "show clock"}}, &show, false) // sent and answered in full form
			if len(show.Results) != 1 || !strings.Contains(show.Results[0].Output["show version"], "Cisco IOS") {
				t.Fatalf("show: %+v", show)
			}
			txt := call(t, c, "run_show_commands", map[string]any{"device_ids": []string{devs.Devices[0].ID}, "commands": []string{"configure terminal"}}, nil, true)
			if !strings.Contains(txt, "nothing was run") || !strings.Contains(txt, "never runs configure") {
				t.Fatalf("config command: %s", txt)
			}
		})
	}
}

func findTemplate(t *testing.T, c *client.Client, name string) string {
	var tmpls struct {
		Templates []catalystcenter.TemplateSummary `json:"templates"`
	}
	call(t, c, "list_templates", map[string]any{}, &tmpls, false)
	for _, tm := range tmpls.Templates {
		if tm.Name == name {
			return tm.TemplateID
		}
	}
	t.Fatalf("no template %s", name)
	return ""
}

type taskStatus struct {
	TaskID        string `json:"task_id"`
	Done          bool   `json:"done"`
	IsError       bool   `json:"is_error"`
	FailureReason string `json:"failure_reason"`
	DeploymentID  string `json:"deployment_id"`
}

func waitTask(t *testing.T, c *client.Client, id string) taskStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st taskStatus
		call(t, c, "get_task_status", map[string]any{"task_id": id}, &st, false)
		if st.Done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never finished: %+v", id, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A deploy goes from task creation to success, and to failure.
func TestDeploy(t *testing.T) {
	e := start(t)
	c := e.connect(t, "2025-11-25")
	ntp := findTemplate(t, c, "NTP-Servers")
	var devs struct {
		Devices []catalystcenter.Device `json:"devices"`
	}
	call(t, c, "list_devices", map[string]any{"hostname": "lon-b1-acc-01"}, &devs, false)
	args := map[string]any{"template_id": ntp, "device_ids": []string{devs.Devices[0].ID},
		"params": map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"}}
	var started struct {
		TaskID string `json:"task_id"`
	}
	call(t, c, "deploy_template", args, &started, false)
	var st taskStatus
	call(t, c, "get_task_status", map[string]any{"task_id": started.TaskID}, &st, false)
	if st.Done {
		t.Fatal("a deploy finished instantly; the task never showed progress")
	}
	st = waitTask(t, c, started.TaskID)
	if st.IsError || st.DeploymentID == "" {
		t.Fatalf("deploy: %+v", st)
	}
	d := e.sim.Deployments()
	if len(d) != 1 || d[0].Status != "SUCCESS" || d[0].Targets[0].Params["ntp_primary"] != "10.0.0.1" {
		t.Fatalf("simulator saw %+v", d)
	}

	e.sim.FailNextDeploy("NCTP10028: device unreachable during provisioning")
	call(t, c, "deploy_template", args, &started, false)
	st = waitTask(t, c, started.TaskID)
	if !st.IsError || !strings.Contains(st.FailureReason, "NCTP10028") {
		t.Fatalf("failed deploy: %+v", st)
	}
	// A deploy is never retried: a 503 is surfaced after one attempt.
	e.sim.Throttle(1, time.Second)
	before := e.sim.Requests("/dna/intent/api/v2/template-programmer/template/deploy")
	call(t, c, "deploy_template", args, nil, true)
	if n := e.sim.Requests("/dna/intent/api/v2/template-programmer/template/deploy") - before; n != 1 {
		t.Fatalf("deploy sent %d times", n)
	}
}

// An expired upstream token is renewed transparently; a rotated password is re-read.
func TestTokenRenewalAndPasswordRotation(t *testing.T) {
	e := start(t)
	c := e.connect(t, "2026-07-28")
	call(t, c, "list_sites", map[string]any{}, nil, false)
	e.sim.ExpireTokens()
	call(t, c, "list_sites", map[string]any{}, nil, false)
	if e.sim.Logins() != 2 {
		t.Fatalf("%d logins", e.sim.Logins())
	}
	// The adapter's cached password is stale (rotated in the secret store): the login is
	// refused, the secret is read again, and the call still succeeds.
	e.secrets.mu.Lock()
	e.secrets.served = "old-password"
	e.secrets.mu.Unlock()
	e.sim.ExpireTokens()
	call(t, c, "list_sites", map[string]any{}, nil, false)
	if e.secrets.invalidated != 1 {
		t.Fatalf("secret invalidated %d times", e.secrets.invalidated)
	}
}

// A 429 is retried (honouring Retry-After) and then surfaced.
func TestRateLimit(t *testing.T) {
	e := start(t)
	c := e.connect(t, "2025-06-18")
	call(t, c, "get_topology", map[string]any{}, nil, false) // log in first
	e.sim.Throttle(2, time.Second)
	before := e.sim.Requests("/dna/intent/api/v1/topology")
	call(t, c, "get_topology", map[string]any{}, nil, false)
	if n := e.sim.Requests("/dna/intent/api/v1/topology") - before; n != 3 {
		t.Fatalf("%d attempts for two 429s", n)
	}
	e.sim.Throttle(10, time.Second)
	txt := call(t, c, "get_topology", map[string]any{}, nil, true)
	if !strings.Contains(txt, "answered 429 Too Many Requests after 3 attempts (rate limited; retry in 1s)") {
		t.Fatalf("surfaced as %q", txt)
	}
}

// One snapshot per tool (testdata/toolsnaps/<tool>.json) of what tools/list serves: names,
// annotations and schemas are part of the contract agents and the catalog rely on. A
// removed tool's snapshot fails as stale. After a deliberate change,
// `go test ./adapters/catalystcenter -run TestToolSnaps -update` rewrites them.
func TestToolSnaps(t *testing.T) {
	e := start(t)
	c := e.connect(t, "2025-11-25")
	tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if tools.NextCursor != "" {
		t.Fatal("tools/list paginated; the snapshot needs every page")
	}
	kittest.ToolSnaps(t, tools.Tools, filepath.Join("testdata", "toolsnaps"))
}
