package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	catsim "github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
)

var now = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// Every device of the Catalyst Center simulator but its access point is here with the same
// hostname, management address, platform, serial, MAC and software version.
func TestSeedMatchesCatalystCenter(t *testing.T) {
	cat := httptest.NewServer(catsim.New(catsim.Options{}))
	defer cat.Close()
	req, _ := http.NewRequest(http.MethodPost, cat.URL+"/dna/system/api/v1/auth/token", nil)
	req.SetBasicAuth("admin", "C1sco12345")
	resp, err := cat.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalyst login: %v %v", err, resp)
	}
	var login struct{ Token string }
	decode(t, resp, &login)
	req, _ = http.NewRequest(http.MethodGet, cat.URL+"/dna/intent/api/v1/network-device?limit=500", nil)
	req.Header.Set("X-Auth-Token", login.Token)
	resp, err = cat.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalyst devices: %v %v", err, resp)
	}
	var devices struct {
		Response []struct {
			Hostname, ManagementIPAddress, SerialNumber, PlatformID, SoftwareVersion, MacAddress, Family, ReachabilityStatus string
		} `json:"response"`
	}
	decode(t, resp, &devices)
	seed := newNetwork(Seed())
	matched := 0
	for _, c := range devices.Response {
		d := seed.byName(c.Hostname)
		if c.Family == "Unified AP" {
			if d != nil {
				t.Errorf("%s: access points have no RADKit CLI", c.Hostname)
			}
			continue
		}
		if d == nil {
			t.Errorf("%s is missing", c.Hostname)
			continue
		}
		matched++
		if d.Host != c.ManagementIPAddress || d.Serial != c.SerialNumber || d.Platform != c.PlatformID || d.Version != c.SoftwareVersion ||
			d.MAC != c.MacAddress || d.Unreachable != (c.ReachabilityStatus == "Unreachable") {
			t.Errorf("%s: %+v does not match %+v", c.Hostname, d, c)
		}
	}
	if matched != 7 {
		t.Errorf("%d devices matched", matched)
	}
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestFilters(t *testing.T) {
	out := "interface Gi1\n description up\n ip address 1.1.1.1\ninterface Gi2\n shutdown\nline vty 0 4\n"
	for f, want := range map[string]string{
		"include ^interface":   "interface Gi1\ninterface Gi2\n",
		"exclude ^ ":           "interface Gi1\ninterface Gi2\nline vty 0 4\n",
		"begin ^line":          "line vty 0 4\n",
		"section Gi2":          "interface Gi2\n shutdown\n",
		"count interface":      "Number of lines which match regexp = 2\n",
		"include nothing-here": "",
		"include (":            "% Invalid regular expression\n",
	} {
		if got := filter(out, f); got != want {
			t.Errorf("| %s: %q, want %q", f, got, want)
		}
	}
}

func TestCLI(t *testing.T) {
	n := newNetwork(Seed())
	core := n.byName("lon-b1-core-01")
	for cmd, want := range map[string]string{
		"show interfaces Twe1/0/3":            "TwentyFiveGigE1/0/3 is up, line protocol is up",
		"show interfaces nosuch1/0/1":         "% Invalid input detected",
		"ping nyc-hq-rtr-01":                  "Translating \"nyc-hq-rtr-01\"",
		"ping 10.10.0.12":                     "Success rate is 0 percent (0/5)",
		"show running-config | include ^host": "hostname lon-b1-core-01",
		"show bogus":                          "% Invalid input detected",
		"terminal length 0":                   "",
	} {
		got := n.run(core, cmd, now)
		if (want == "" && got != "") || !strings.Contains(got, want) {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	xr := n.run(n.byName("sjc-b-pe-01"), "show clock", now)
	if !strings.HasPrefix(xr, "Mon Mar  3 09:00:00.000 UTC\n") {
		t.Errorf("IOS-XR output starts with its timestamp: %q", xr)
	}
	if p := padded("17.12.2"); p != "17.12.02" {
		t.Errorf("padded: %s", p)
	}
	if u := uptime(59, ", "); u != "0 minutes" {
		t.Errorf("uptime: %s", u)
	}
}

// dial logs in to a simulated device with x/crypto/ssh and opens a shell.
func dial(t *testing.T, s *SSHServer, name, user, pw string) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", s.Addr(name), &gossh.ClientConfig{User: user, Auth: []gossh.AuthMethod{gossh.Password(pw)},
		HostKeyCallback: gossh.FixedHostKey(s.HostKey(name)), Timeout: 5 * time.Second})
}

// readUntil reads r until the text read contains want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var b bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, b.String())
		}
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v after %q", err, b.String())
		}
	}
	return b.String()
}

func TestSSHEmulator(t *testing.T) {
	s, err := NewSSHServer(Seed(), SSHOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := dial(t, s, "lon-b1-core-01", DefaultUsername, "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := dial(t, s, "nyc-hq-rtr-01", DefaultUsername, DefaultPassword); err == nil {
		t.Fatal("campus credentials accepted by a wan device")
	}
	if _, err := dial(t, s, "lon-b1-acc-02", DefaultUsername, DefaultPassword); err == nil {
		t.Fatal("the unreachable device answered")
	}
	c, err := dial(t, s, "sjc-b-pe-01", WANUsername, WANPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, _ := c.NewSession()
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	readUntil(t, out, "RP/0/RSP0/CPU0:sjc-b-pe-01#")
	// Without terminal length 0, long output stops at --More--.
	io.WriteString(in, "show interfaces\n")
	readUntil(t, out, " --More-- ")
	io.WriteString(in, "q")
	readUntil(t, out, "RP/0/RSP0/CPU0:sjc-b-pe-01#")
	io.WriteString(in, "terminal length 0\r\n")
	readUntil(t, out, "RP/0/RSP0/CPU0:sjc-b-pe-01#")
	io.WriteString(in, "show interfaces\r")
	got := readUntil(t, out, "RP/0/RSP0/CPU0:sjc-b-pe-01#")
	if strings.Contains(got, "--More--") || !strings.Contains(got, "Loopback0 is up") {
		t.Fatalf("paging off: %q", got)
	}
	if cmds := s.Commands("sjc-b-pe-01"); strings.Join(cmds, "|") != "show interfaces|terminal length 0|show interfaces" {
		t.Fatalf("commands: %q", cmds)
	}

	// An exec channel runs one command.
	c2, err := dial(t, s, "lon-b1-core-01", DefaultUsername, DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ex, _ := c2.NewSession()
	b, err := ex.Output("show clock")
	if err != nil || string(b) != "*09:00:00.000 UTC Mon Mar 3 2025\r\n" {
		t.Fatalf("exec: %q %v", b, err)
	}
	if total, most := s.Connections("lon-b1-core-01"); total != 2 || most < 1 {
		t.Fatalf("connections: %d, at most %d at once", total, most) // the refused login and the exec
	}
	if !strings.Contains(string(s.InventoryJSON()), `"credentials": "wan"`) {
		t.Fatalf("inventory: %s", s.InventoryJSON())
	}
}

func TestBridgeSimulator(t *testing.T) {
	b := NewBridge(Seed(), BridgeOptions{SyncWait: 50 * time.Millisecond, Now: func() time.Time { return now }})
	srv := httptest.NewServer(b)
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		decode(t, resp, &out)
		return resp.StatusCode, out
	}
	tok := DefaultBridgeToken
	if code, _ := do("GET", "/v1/devices", "wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	for path, want := range map[string]int{"/v1/devices?name=lon": 4, "/v1/devices?device_type=nxos": 1, "/v1/devices?label=WAN": 3} {
		if _, out := do("GET", path, tok, ""); len(out["devices"].([]any)) != want {
			t.Errorf("%s: %v", path, out)
		}
	}
	for body, want := range map[string]int{
		`{"commands": ["show clock"]}`:                      http.StatusOK,
		`{"commands": []}`:                                  http.StatusBadRequest,
		`{"commands": ["show clock"], "extra": true}`:       http.StatusBadRequest,
		`{"commands": ["show clock"], "timeout_s": 301}`:    http.StatusBadRequest,
		`{"commands": ["conf t"]}`:                          http.StatusUnprocessableEntity,
		`{"commands": ["show clock ; reload"]}`:             http.StatusUnprocessableEntity,
		`{"commands": ["show clock"], "max_lines": 100000}`: http.StatusBadRequest,
	} {
		if code, out := do("POST", "/v1/devices/lon-b1-core-01/exec", tok, body); code != want {
			t.Errorf("%s: %d %v", body, code, out)
		}
	}
	if code, out := do("POST", "/v1/devices/lon-b1-acc-02/exec", tok, `{"commands": ["show clock"]}`); code != http.StatusBadGateway ||
		out["error"].(map[string]any)["code"] != "device_unreachable" {
		t.Fatalf("unreachable: %d %v", code, out)
	}
	if code, _ := do("GET", "/v1/devices/nope", tok, ""); code != http.StatusNotFound {
		t.Fatalf("unknown device: %d", code)
	}
	b.SetDelay("lon-b1-core-01", 200*time.Millisecond)
	code, out := do("POST", "/v1/devices/lon-b1-core-01/exec", tok, `{"commands": ["show clock"], "timeout_s": 5}`)
	if code != http.StatusAccepted {
		t.Fatalf("slow exec: %d %v", code, out)
	}
	id := out["job_id"].(string)
	if _, j := do("GET", "/v1/jobs/"+id, tok, ""); j["status"] != "running" {
		t.Fatalf("job: %v", j)
	}
	time.Sleep(300 * time.Millisecond)
	if _, j := do("GET", "/v1/jobs/"+id, tok, ""); j["status"] != "done" {
		t.Fatalf("job: %v", j)
	}
	b.FailNext("GET /v1/health", 500, 1)
	if code, _ := do("GET", "/v1/health", tok, ""); code != 500 {
		t.Fatalf("fault: %d", code)
	}
	if code, _ := do("GET", "/v1/health", tok, ""); code != 200 {
		t.Fatalf("after the fault: %d", code)
	}
}
