package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

const (
	v1      = "/dna/intent/api/v1"
	testUsr = "admin"
	testPwd = "s3cret"
)

type env struct {
	t     *testing.T
	sim   *Sim
	srv   *httptest.Server
	clk   *testkit.Clock
	token string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC))
	s := New(Options{Username: testUsr, Password: testPwd, Now: clk.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv, clk: clk}
	e.token = e.login(testUsr, testPwd, http.StatusOK)
	return e
}

// with rebinds the env to a subtest so helper failures stop the right test.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) login(user, pass string, want int) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+tokenPath, nil)
	req.SetBasicAuth(user, pass)
	code, _, body := e.send(req)
	if code != want {
		e.t.Fatalf("login %s: got %d, want %d (%s)", user, code, want, body)
	}
	if code != http.StatusOK {
		return ""
	}
	tok, _ := decode(e.t, body).(map[string]any)["Token"].(string)
	if tok == "" {
		e.t.Fatalf("no Token in %s", body)
	}
	return tok
}

func (e *env) send(req *http.Request) (int, http.Header, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// call issues an API request with the env's token (tok overrides it when non-nil).
func (e *env) call(method, path string, body any, tok ...string) (int, http.Header, any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", e.token)
	if len(tok) > 0 {
		req.Header.Set("X-Auth-Token", tok[0])
	}
	code, h, b := e.send(req)
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		e.t.Fatalf("%s %s: content-type %q", method, path, h.Get("Content-Type"))
	}
	return code, h, decode(e.t, b)
}

// get expects 200 and returns the decoded body.
func (e *env) get(path string) any {
	e.t.Helper()
	code, _, v := e.call(http.MethodGet, path, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %v", path, code, v)
	}
	return v
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return v
}

func resp(v any) any { return v.(map[string]any)["response"] }

func list(v any) []map[string]any {
	var out []map[string]any
	for _, x := range v.([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func field(items []map[string]any, key string) []string {
	var out []string
	for _, it := range items {
		out = append(out, it[key].(string))
	}
	return out
}

func errorCode(v any) string {
	r, _ := resp(v).(map[string]any)
	s, _ := r["errorCode"].(string)
	return s
}

func devID(host string) string  { return uuidFor("device:" + host) }
func siteID(path string) string { return uuidFor("site:" + path) }
func tmplID(name string) string { return uuidFor("template:" + name) }

func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, user, pass string
		want             int
	}{
		{"good credentials", testUsr, testPwd, http.StatusOK},
		{"wrong password", testUsr, "nope", http.StatusUnauthorized},
		{"unknown user", "bob", testPwd, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) { e.with(t).login(tc.user, tc.pass, tc.want) })
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+tokenPath, nil)
	if code, _, _ := e.send(req); code != http.StatusUnauthorized {
		t.Errorf("no basic auth: got %d", code)
	}
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+tokenPath, nil)
	if code, h, _ := e.send(req); code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" {
		t.Errorf("GET token: got %d allow=%q", code, h.Get("Allow"))
	}
	if got := e.sim.Logins(); got != 2 {
		t.Errorf("Logins = %d, want 2", got)
	}

	count := v1 + "/network-device/count"
	steps := []struct {
		name    string
		advance time.Duration
		expire  bool
		want    int
	}{
		{"fresh token", 0, false, http.StatusOK},
		{"59 minutes later", 59 * time.Minute, false, http.StatusOK},
		{"60 minutes after issue", time.Minute, false, http.StatusUnauthorized},
	}
	for _, st := range steps {
		e.clk.Advance(st.advance)
		code, _, v := e.call(http.MethodGet, count, nil)
		if code != st.want {
			t.Fatalf("%s: got %d want %d (%v)", st.name, code, st.want, v)
		}
		if code == http.StatusUnauthorized && errorCode(v) == "" {
			t.Errorf("%s: 401 without JSON error body: %v", st.name, v)
		}
	}

	// A new token works until ExpireTokens revokes everything.
	e.token = e.login(testUsr, testPwd, http.StatusOK)
	e.get(count)
	e.sim.ExpireTokens()
	if code, _, _ := e.call(http.MethodGet, count, nil); code != http.StatusUnauthorized {
		t.Fatalf("after ExpireTokens: got %d", code)
	}
	e.token = e.login(testUsr, testPwd, http.StatusOK)
	e.get(count)
	if got := e.sim.Logins(); got != 4 {
		t.Errorf("Logins = %d, want 4", got)
	}
}

func TestTokenTTLOption(t *testing.T) {
	clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
	srv := httptest.NewServer(New(Options{Now: clk.Now, TokenTTL: time.Minute}))
	defer srv.Close()
	e := &env{t: t, srv: srv, clk: clk}
	e.token = e.login("admin", "C1sco12345", http.StatusOK) // default credentials
	e.get(v1 + "/site")
	clk.Advance(time.Minute)
	if code, _, _ := e.call(http.MethodGet, v1+"/site", nil); code != http.StatusUnauthorized {
		t.Fatalf("token should expire after TokenTTL, got %d", code)
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, path, tok string }{
		{"missing token", v1 + "/network-device", ""},
		{"bogus token", v1 + "/network-device", "not-a-token"},
		{"bogus token on task", v1 + "/task/x", "nope"},
		{"bogus token on unknown path", v1 + "/nothing-here", "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			code, _, v := e.call(http.MethodGet, tc.path, nil, tc.tok)
			if code != http.StatusUnauthorized || errorCode(v) != "Unauthorized" {
				t.Fatalf("got %d %v", code, v)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, v1 + "/no-such-api", http.StatusNotFound, ""},
		{http.MethodGet, "/dna/intent/api/v3/network-device", http.StatusNotFound, ""},
		{http.MethodDelete, v1 + "/network-device", http.StatusMethodNotAllowed, "GET"},
		{http.MethodPost, v1 + "/network-device/count", http.StatusMethodNotAllowed, "GET"},
		{http.MethodPost, v1 + "/template-programmer/template/preview", http.StatusMethodNotAllowed, "PUT"},
		{http.MethodGet, v1 + "/template-programmer/template/preview", http.StatusMethodNotAllowed, "PUT"},
		{http.MethodGet, "/dna/intent/api/v2/template-programmer/template/deploy", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, v1 + "/network-device/", http.StatusOK, ""}, // trailing slash tolerated
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e := e.with(t)
			code, h, _ := e.call(tc.method, tc.path, nil)
			if code != tc.want || h.Get("Allow") != tc.allow {
				t.Fatalf("got %d allow=%q, want %d allow=%q", code, h.Get("Allow"), tc.want, tc.allow)
			}
		})
	}
}

func TestNetworkDevicePagination(t *testing.T) {
	e := newEnv(t)
	all := field(list(resp(e.get(v1+"/network-device"))), "hostname")
	if len(all) != 8 {
		t.Fatalf("seed has %d devices, want 8: %v", len(all), all)
	}
	for _, tc := range []struct {
		query string
		want  int
		first string
	}{
		{"offset=1&limit=3", 3, all[0]},
		{"offset=4&limit=3", 3, all[3]},
		{"offset=7&limit=3", 2, all[6]}, // last, short page
		{"offset=8&limit=500", 1, all[7]},
		{"offset=9", 0, ""},
		{"limit=500", 8, all[0]},
		{"limit=1", 1, all[0]},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			got := field(list(resp(e.get(v1+"/network-device?"+tc.query))), "hostname")
			if len(got) != tc.want || (tc.want > 0 && got[0] != tc.first) {
				t.Fatalf("got %v, want %d starting at %q", got, tc.want, tc.first)
			}
		})
	}
	for _, q := range []string{"limit=501", "limit=0", "offset=0", "offset=-2", "offset=abc", "limit=ten"} {
		t.Run("reject "+q, func(t *testing.T) {
			e := e.with(t)
			code, _, v := e.call(http.MethodGet, v1+"/network-device?"+q, nil)
			if code != http.StatusBadRequest || errorCode(v) == "" {
				t.Fatalf("got %d %v", code, v)
			}
		})
	}
	// Other paginated endpoints share the same rules.
	for _, p := range []string{"/device-health?limit=501", "/site?limit=501", "/site?offset=0"} {
		if code, _, _ := e.call(http.MethodGet, v1+p, nil); code != http.StatusBadRequest {
			t.Errorf("%s: got %d", p, code)
		}
	}
}

func TestNetworkDeviceFilters(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"hostname=lon-b1-core-01", []string{"lon-b1-core-01"}},
		{"hostname=LON-B1-CORE-01", []string{"lon-b1-core-01"}},
		{"hostname=nyc-.*", []string{"nyc-hq-rtr-01", "nyc-hq-dist-01"}},
		{"hostname=lon-b1-acc-01&hostname=sjc-b-rtr-01", []string{"lon-b1-acc-01", "sjc-b-rtr-01"}},
		{"managementIpAddress=10.20.0.2", []string{"nyc-hq-dist-01"}},
		{"platformId=C9300-48P", []string{"lon-b1-acc-01", "lon-b1-acc-02"}},
		{"family=Routers", []string{"nyc-hq-rtr-01", "sjc-b-rtr-01"}},
		{"family=Unified%20AP", []string{"lon-b1-ap-01"}},
		{"role=CORE", []string{"lon-b1-core-01"}},
		{"reachabilityStatus=Unreachable", []string{"lon-b1-acc-02"}},
		{"family=Switches%20and%20Hubs&role=ACCESS", []string{"lon-b1-acc-01", "lon-b1-acc-02"}},
		{"id=" + devID("lon-b1-wlc-01") + "," + devID("sjc-b-rtr-01"), []string{"lon-b1-wlc-01", "sjc-b-rtr-01"}},
		{"hostname=does-not-exist", nil},
		{"role=ACCESS&offset=2&limit=1", []string{"lon-b1-acc-02"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			got := field(list(resp(e.get(v1+"/network-device?"+tc.query))), "hostname")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if n := resp(e.get(v1 + "/network-device/count")); n != float64(8) {
		t.Errorf("count = %v", n)
	}
	if n := resp(e.get(v1 + "/network-device/count?family=Routers")); n != float64(2) {
		t.Errorf("filtered count = %v", n)
	}
}

func TestNetworkDeviceByID(t *testing.T) {
	e := newEnv(t)
	d := resp(e.get(v1 + "/network-device/" + devID("lon-b1-wlc-01"))).(map[string]any)
	for k, want := range map[string]any{"hostname": "lon-b1-wlc-01", "managementIpAddress": "10.10.0.20",
		"family": "Wireless Controller", "platformId": "C9800-40-K9", "reachabilityStatus": "Reachable",
		"id": devID("lon-b1-wlc-01"), "serialNumber": "TTM2413017K"} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	for _, k := range []string{"softwareVersion", "role", "upTime", "macAddress", "series", "lastUpdated"} {
		if d[k] == nil || d[k] == "" {
			t.Errorf("missing %s", k)
		}
	}
	code, _, v := e.call(http.MethodGet, v1+"/network-device/"+uuidFor("nope"), nil)
	if code != http.StatusNotFound || errorCode(v) == "" {
		t.Fatalf("unknown id: %d %v", code, v)
	}
}

func TestDeviceHealth(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		query string
		want  []string
		total int
	}{
		{"", nil, 8},
		{"deviceRole=ACCESS", []string{"lon-b1-acc-01", "lon-b1-acc-02"}, 2},
		{"deviceRole=ROUTER", []string{"nyc-hq-rtr-01", "sjc-b-rtr-01"}, 2},
		{"deviceRole=AP", []string{"lon-b1-ap-01"}, 1},
		{"health=POOR", []string{"lon-b1-acc-02"}, 1},
		{"health=FAIR", []string{"lon-b1-ap-01", "nyc-hq-dist-01"}, 2},
		{"siteId=" + siteID("Global/Americas"), []string{"nyc-hq-rtr-01", "nyc-hq-dist-01", "sjc-b-rtr-01"}, 3},
		{"siteId=" + siteID("Global/Americas/NYC/HQ") + "&health=GOOD", []string{"nyc-hq-rtr-01"}, 1},
		{"limit=2&offset=7", []string{"nyc-hq-dist-01", "sjc-b-rtr-01"}, 8},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			v := e.get(v1 + "/device-health?" + tc.query).(map[string]any)
			got := field(list(v["response"]), "name")
			if v["totalCount"] != float64(tc.total) || (tc.want != nil && !slices.Equal(got, tc.want)) {
				t.Fatalf("got %v total=%v, want %v total=%d", got, v["totalCount"], tc.want, tc.total)
			}
		})
	}
	h := list(resp(e.get(v1 + "/device-health?health=POOR")))[0]
	if h["overallHealth"] != float64(2) || h["reachabilityHealth"] != "UNREACHABLE" ||
		h["location"] != "Global/EMEA/London/Building-1" || h["issueCount"] != float64(1) {
		t.Errorf("unexpected health entry %v", h)
	}
	if code, _, _ := e.call(http.MethodGet, v1+"/device-health?deviceRole=TOASTER", nil); code != http.StatusBadRequest {
		t.Errorf("bad role: %d", code)
	}
}

func TestSitesAndSiteHealth(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"type=building", []string{"Building-1", "HQ", "SJC-B"}},
		{"name=Global/EMEA/London", []string{"London"}},
		{"siteId=" + siteID("Global/Americas/NYC/HQ"), []string{"HQ"}},
		{"name=Global/Nowhere", nil},
		{"offset=1&limit=2", []string{"Global", "EMEA"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			got := field(list(resp(e.get(v1+"/site?"+tc.query))), "name")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	b := list(resp(e.get(v1 + "/site?name=Global/EMEA/London/Building-1")))[0]
	if b["parentId"] != siteID("Global/EMEA/London") ||
		b["siteHierarchy"] != strings.Join([]string{siteID("Global"), siteID("Global/EMEA"), siteID("Global/EMEA/London"), b["id"].(string)}, "/") {
		t.Errorf("bad building %v", b)
	}

	health := list(resp(e.get(v1 + "/site-health")))
	byName := map[string]map[string]any{}
	for _, h := range health {
		byName[h["siteName"].(string)] = h
	}
	b1 := byName["Building-1"]
	if b1 == nil || b1["numberOfNetworkDevice"] != float64(5) || b1["healthyNetworkDevicePercentage"] != float64(60) ||
		b1["siteType"] != "building" || b1["parentSiteName"] != "London" {
		t.Errorf("Building-1 health %v", b1)
	}
	if am := byName["Americas"]; am == nil || am["numberOfNetworkDevice"] != float64(3) || am["routerTotalCount"] != float64(2) {
		t.Errorf("Americas health %v", am)
	}
	if got := len(list(resp(e.get(v1 + "/site-health?siteType=BUILDING")))); got != 3 {
		t.Errorf("building site-health entries = %d", got)
	}
}

func TestTopologyAndIssues(t *testing.T) {
	e := newEnv(t)
	topo := resp(e.get(v1 + "/topology/physical-topology")).(map[string]any)
	nodes, links := list(topo["nodes"]), list(topo["links"])
	if len(nodes) != 8 || len(links) != 7 {
		t.Fatalf("topology has %d nodes / %d links", len(nodes), len(links))
	}
	ids := field(nodes, "id")
	down := 0
	for _, l := range links {
		if !slices.Contains(ids, l["source"].(string)) || !slices.Contains(ids, l["target"].(string)) {
			t.Errorf("dangling link %v", l)
		}
		if l["linkStatus"] == "down" {
			down++
		}
	}
	if down != 1 {
		t.Errorf("down links = %d, want 1", down)
	}

	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 6},
		{"issueStatus=ACTIVE", 4},
		{"issueStatus=resolved", 2},
		{"priority=P1", 1},
		{"priority=P2&issueStatus=ACTIVE", 1},
		{"deviceId=" + devID("nyc-hq-dist-01"), 2},
		{"siteId=" + siteID("Global/EMEA/London/Building-1"), 3},
		{"siteId=" + siteID("Global/Americas"), 3},
		{"issueStatus=IGNORED", 0},
	} {
		t.Run("issues?"+tc.query, func(t *testing.T) {
			e := e.with(t)
			v := e.get(v1 + "/issues?" + tc.query).(map[string]any)
			if got := len(v["response"].([]any)); got != tc.want || v["totalCount"] != float64(tc.want) {
				t.Fatalf("got %d (total %v), want %d", got, v["totalCount"], tc.want)
			}
		})
	}
	is := list(resp(e.get(v1 + "/issues?priority=P1")))[0]
	if is["status"] != "active" || is["deviceId"] != devID("lon-b1-acc-02") || is["issueId"] == "" {
		t.Errorf("P1 issue %v", is)
	}
	if code, _, _ := e.call(http.MethodGet, v1+"/issues?priority=P9", nil); code != http.StatusBadRequest {
		t.Errorf("bad priority: %d", code)
	}
}

func TestTemplates(t *testing.T) {
	e := newEnv(t)
	projects := list(e.get(v1 + "/template-programmer/project")) // bare array, like the real API
	if got := field(projects, "name"); !slices.Equal(got, []string{"Campus-Access", "Global-Services"}) {
		t.Fatalf("projects %v", got)
	}
	svc := projects[1]["id"].(string)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"Interface-Description", "NTP-Servers", "Login-Banner"}},
		{"projectId=" + svc, []string{"NTP-Servers", "Login-Banner"}},
		{"projectNames=Campus-Access", []string{"Interface-Description"}},
	} {
		t.Run("templates?"+tc.query, func(t *testing.T) {
			e := e.with(t)
			got := field(list(e.get(v1+"/template-programmer/template?"+tc.query)), "name")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
	ntp := list(e.get(v1 + "/template-programmer/template?projectId=" + svc))[0]
	if vs := list(ntp["versionsInfo"]); len(vs) != 3 || vs[2]["version"] != "3" {
		t.Fatalf("NTP versions %v", vs)
	}

	tpl := e.get(v1 + "/template-programmer/template/" + tmplID("Interface-Description")).(map[string]any)
	if tpl["version"] != "2" || !strings.Contains(tpl["templateContent"].(string), "${interface}") ||
		tpl["language"] != "VELOCITY" {
		t.Errorf("template %v", tpl)
	}
	if got := field(list(tpl["templateParams"]), "parameterName"); !slices.Equal(got, []string{"interface", "description"}) {
		t.Errorf("params %v", got)
	}
	v1ID := uuidFor("template:Interface-Description:v1")
	old := e.get(v1 + "/template-programmer/template/" + v1ID).(map[string]any)
	if old["version"] != "1" || old["parentTemplateId"] != tmplID("Interface-Description") || old["id"] != v1ID {
		t.Errorf("versioned template %v", old)
	}
	code, _, v := e.call(http.MethodGet, v1+"/template-programmer/template/"+uuidFor("nope"), nil)
	if code != http.StatusNotFound || errorCode(v) == "" {
		t.Errorf("unknown template: %d %v", code, v)
	}
}

func TestPreview(t *testing.T) {
	e := newEnv(t)
	path := v1 + "/template-programmer/template/preview"
	for _, tc := range []struct {
		name    string
		body    map[string]any
		code    int
		preview string
		missing int
	}{
		{"renders ${var} and $var", map[string]any{"templateId": tmplID("Interface-Description"),
			"params": map[string]any{"interface": "GigabitEthernet1/0/7", "description": "Printer <floor 2>"}},
			http.StatusOK, "interface GigabitEthernet1/0/7\n description Printer <floor 2>\n no shutdown\n", 0},
		{"older version by versioned id", map[string]any{"templateId": uuidFor("template:Interface-Description:v1"),
			"params": map[string]any{"interface": "Gi1/0/1", "description": "x"}},
			http.StatusOK, "interface Gi1/0/1\n description x\n", 0},
		{"default value fills timezone", map[string]any{"templateId": tmplID("NTP-Servers"),
			"params": map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"}},
			http.StatusOK, "clock timezone UTC 0 0\nntp server 10.0.0.1 prefer\nntp server 10.0.0.2\nntp update-calendar\n", 0},
		{"numbers keep their form", map[string]any{"templateId": tmplID("Login-Banner"),
			"params": map[string]any{"company": 42}}, http.StatusOK,
			"banner login ^C\nAuthorized access to 42 systems only.\n^C\n", 0},
		{"missing params", map[string]any{"templateId": tmplID("Interface-Description"),
			"params": map[string]any{"interface": "Gi1/0/1"}}, http.StatusOK, "", 1},
		{"no params at all", map[string]any{"templateId": tmplID("NTP-Servers")}, http.StatusOK, "", 2},
		{"unknown template", map[string]any{"templateId": uuidFor("nope")}, http.StatusNotFound, "", 0},
		{"unknown device", map[string]any{"templateId": tmplID("Login-Banner"), "deviceId": "zzz"},
			http.StatusBadRequest, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			code, _, v := e.call(http.MethodPut, path, tc.body)
			if code != tc.code {
				t.Fatalf("got %d %v", code, v)
			}
			if code != http.StatusOK {
				return
			}
			m := v.(map[string]any)
			errs, _ := m["validationErrors"].([]any)
			if len(errs) != tc.missing {
				t.Fatalf("validationErrors %v, want %d", errs, tc.missing)
			}
			if tc.missing > 0 {
				if m["cliPreview"] != nil || !strings.Contains(errs[0].(map[string]any)["message"].(string), "'") {
					t.Fatalf("bad validation response %v", m)
				}
				return
			}
			if m["cliPreview"] != tc.preview {
				t.Fatalf("cliPreview %q, want %q", m["cliPreview"], tc.preview)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+path, strings.NewReader("{not json"))
	req.Header.Set("X-Auth-Token", e.token)
	if code, _, _ := e.send(req); code != http.StatusBadRequest {
		t.Errorf("malformed body: %d", code)
	}
}

// deploy posts a v2 deploy and returns its task id.
func (e *env) deploy(tmpl string, targets ...map[string]any) string {
	e.t.Helper()
	code, _, v := e.call(http.MethodPost, "/dna/intent/api/v2/template-programmer/template/deploy",
		map[string]any{"templateId": tmpl, "forcePushTemplate": true, "targetInfo": targets})
	if code != http.StatusAccepted {
		e.t.Fatalf("deploy: %d %v", code, v)
	}
	r := resp(v).(map[string]any)
	id := r["taskId"].(string)
	if r["url"] != "/api/v1/task/"+id || v.(map[string]any)["version"] == nil {
		e.t.Fatalf("bad deploy response %v", v)
	}
	return id
}

func (e *env) task(id string) map[string]any {
	e.t.Helper()
	return resp(e.get(v1 + "/task/" + id)).(map[string]any)
}

func uuidTarget(host string, params map[string]any) map[string]any {
	return map[string]any{"id": devID(host), "type": "MANAGED_DEVICE_UUID", "params": params}
}

func TestDeployTaskProgression(t *testing.T) {
	e := newEnv(t)
	params := map[string]any{"interface": "GigabitEthernet1/0/9", "description": "AP uplink"}
	taskID := e.deploy(tmplID("Interface-Description"), uuidTarget("lon-b1-acc-01", params),
		map[string]any{"id": "10.20.0.2", "type": "MANAGED_DEVICE_IP", "params": params})

	steps := []struct {
		advance time.Duration
		done    bool
	}{{0, false}, {2 * time.Second, false}, {2*time.Second + 999*time.Millisecond, false}, {time.Millisecond, true}, {10 * time.Minute, true}}
	for i, st := range steps {
		e.clk.Advance(st.advance)
		tk := e.task(taskID)
		_, hasEnd := tk["endTime"]
		if hasEnd != st.done || tk["isError"] != false {
			t.Fatalf("step %d: endTime present=%v, want %v: %v", i, hasEnd, st.done, tk)
		}
		if !st.done && tk["progress"] != "Template deployment in progress" {
			t.Fatalf("step %d: progress %v", i, tk["progress"])
		}
	}
	tk := e.task(taskID)
	prog := tk["progress"].(string)
	if !strings.HasPrefix(prog, "Template Deployemnt Id: ") {
		t.Fatalf("progress %q", prog)
	}
	depID := strings.TrimPrefix(prog, "Template Deployemnt Id: ")

	st := e.get(v1 + "/template-programmer/template/deploy/status/" + depID).(map[string]any)
	if st["status"] != "SUCCESS" || len(st["devices"].([]any)) != 2 || st["templateVersion"] != "2" {
		t.Fatalf("deploy status %v", st)
	}

	deps := e.sim.Deployments()
	if len(deps) != 1 {
		t.Fatalf("Deployments = %v", deps)
	}
	d := deps[0]
	if d.TaskID != taskID || d.DeploymentID != depID || d.TemplateID != tmplID("Interface-Description") ||
		d.TemplateVersion != 2 || d.Status != "SUCCESS" || !d.ForcePushTemplate ||
		!slices.Equal(d.DeviceIDs, []string{devID("lon-b1-acc-01"), devID("nyc-hq-dist-01")}) {
		t.Fatalf("deployment %+v", d)
	}
	if d.Targets[0].TemplateVersion != 2 || d.Targets[0].Params["description"] != "AP uplink" ||
		d.Targets[0].Rendered != "interface GigabitEthernet1/0/9\n description AP uplink\n no shutdown\n" {
		t.Fatalf("target %+v", d.Targets[0])
	}
}

// GET /task lists tasks by service type and start time, oldest first; a deploy whose answer
// is lost (504) still started its task and deployment, and the list finds it.
func TestTaskListAndLostDeployAnswer(t *testing.T) {
	e := newEnv(t)
	ntp := map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"}
	first := e.deploy(tmplID("NTP-Servers"), uuidTarget("lon-b1-core-01", ntp))
	e.clk.Advance(time.Minute)
	since := e.clk.Now().UnixMilli()
	e.sim.LoseNextDeployAnswer()
	code, _, v := e.call(http.MethodPost, "/dna/intent/api/v2/template-programmer/template/deploy",
		map[string]any{"templateId": tmplID("NTP-Servers"), "targetInfo": []any{uuidTarget("sjc-b-rtr-01", ntp)}})
	if code != http.StatusGatewayTimeout {
		t.Fatalf("lost answer: %d %v", code, v)
	}
	if deps := e.sim.Deployments(); len(deps) != 2 || !slices.Equal(deps[1].DeviceIDs, []string{devID("sjc-b-rtr-01")}) {
		t.Fatalf("the deployment behind the lost answer did not start: %+v", deps)
	}
	list := func(q string) []any {
		t.Helper()
		return resp(e.get(v1 + "/task?" + q)).([]any)
	}
	all := list("serviceType=NCTP")
	if len(all) != 2 || all[0].(map[string]any)["id"] != first {
		t.Fatalf("all NCTP tasks: %v", all)
	}
	recent := list(fmt.Sprintf("serviceType=NCTP&startTime=%d", since))
	if len(recent) != 1 || recent[0].(map[string]any)["id"] == first {
		t.Fatalf("tasks since the lost answer: %v", recent)
	}
	lost := recent[0].(map[string]any)["id"].(string)
	e.clk.Advance(deployDuration)
	prog, _ := e.task(lost)["progress"].(string)
	depID := strings.TrimPrefix(prog, "Template Deployemnt Id: ")
	st := e.get(v1 + "/template-programmer/template/deploy/status/" + depID).(map[string]any)
	if st["templateName"] != "NTP-Servers" || st["status"] != "SUCCESS" {
		t.Fatalf("the lost deployment's status: %v", st)
	}
	if got := list("serviceType=CLI"); len(got) != 0 {
		t.Fatalf("another service type: %v", got)
	}
	if got := list("serviceType=NCTP&offset=2&limit=1"); len(got) != 1 || got[0].(map[string]any)["id"] != lost {
		t.Fatalf("offset 2, limit 1: %v", got)
	}
	if code, _, _ := e.call(http.MethodGet, v1+"/task?startTime=yesterday", nil); code != http.StatusBadRequest {
		t.Fatalf("a bad startTime: %d", code)
	}
}

func TestDeployFailures(t *testing.T) {
	e := newEnv(t)
	ntp := map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2"}
	e.sim.FailNextDeploy("Device lon-b1-core-01 rejected configuration: % Invalid input")
	for _, tc := range []struct {
		name    string
		target  map[string]any
		isError bool
		reason  string
	}{
		{"forced failure", uuidTarget("lon-b1-core-01", ntp), true, "rejected configuration"},
		{"forced failure is one-shot", uuidTarget("lon-b1-core-01", ntp), false, ""},
		{"unreachable device", uuidTarget("lon-b1-acc-02", ntp), true, "not reachable"},
		{"missing parameter", uuidTarget("sjc-b-rtr-01", map[string]any{"ntp_primary": "10.0.0.1"}), true, "ntp_secondary"},
		{"hostname target", map[string]any{"id": "sjc-b-rtr-01", "type": "MANAGED_DEVICE_HOSTNAME", "params": ntp}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			id := e.deploy(tmplID("NTP-Servers"), tc.target)
			if tk := e.task(id); tk["isError"] != false || tk["failureReason"] != nil {
				t.Fatalf("running task already failed: %v", tk)
			}
			e.clk.Advance(deployDuration)
			tk := e.task(id)
			if tk["isError"] != tc.isError {
				t.Fatalf("isError %v: %v", tk["isError"], tk)
			}
			reason, _ := tk["failureReason"].(string)
			if tc.isError && !strings.Contains(reason, tc.reason) {
				t.Fatalf("failureReason %q, want it to mention %q", reason, tc.reason)
			}
			if !strings.Contains(tk["progress"].(string), "Template Deployemnt Id: ") {
				t.Fatalf("progress %v", tk["progress"])
			}
		})
	}
	var statuses []string
	for _, d := range e.sim.Deployments() {
		statuses = append(statuses, d.Status)
	}
	if want := []string{"FAILURE", "SUCCESS", "FAILURE", "FAILURE", "SUCCESS"}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if fr := e.sim.Deployments()[0].FailureReason; !strings.Contains(fr, "rejected") {
		t.Errorf("FailureReason %q", fr)
	}
}

func TestDeployValidation(t *testing.T) {
	e := newEnv(t)
	path := "/dna/intent/api/v2/template-programmer/template/deploy"
	good := uuidTarget("lon-b1-acc-01", map[string]any{"interface": "Gi1/0/1", "description": "x"})
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"unknown template", map[string]any{"templateId": uuidFor("nope"), "targetInfo": []any{good}}, http.StatusNotFound},
		{"missing templateId", map[string]any{"targetInfo": []any{good}}, http.StatusBadRequest},
		{"empty targetInfo", map[string]any{"templateId": tmplID("Interface-Description"), "targetInfo": []any{}}, http.StatusBadRequest},
		{"unknown device", map[string]any{"templateId": tmplID("Interface-Description"),
			"targetInfo": []any{uuidTarget("ghost-01", nil)}}, http.StatusBadRequest},
		{"unsupported target type", map[string]any{"templateId": tmplID("Interface-Description"),
			"targetInfo": []any{map[string]any{"id": "FOC2318X1QZ", "type": "PRE_PROVISIONED_SERIAL"}}}, http.StatusBadRequest},
		{"foreign versionedTemplateId", map[string]any{"templateId": tmplID("Interface-Description"),
			"targetInfo": []any{map[string]any{"id": devID("lon-b1-acc-01"), "type": "MANAGED_DEVICE_UUID",
				"versionedTemplateId": uuidFor("template:NTP-Servers:v1")}}}, http.StatusBadRequest},
		{"not an object", []any{1, 2}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			code, _, v := e.call(http.MethodPost, path, tc.body)
			if code != tc.code || errorCode(v) == "" {
				t.Fatalf("got %d %v, want %d", code, v, tc.code)
			}
		})
	}
	if n := len(e.sim.Deployments()); n != 0 {
		t.Fatalf("rejected deploys were recorded: %d", n)
	}
	// A target may pin an older committed version of the same template.
	e.deploy(tmplID("Interface-Description"), map[string]any{"id": devID("lon-b1-acc-01"),
		"type": "MANAGED_DEVICE_UUID", "versionedTemplateId": uuidFor("template:Interface-Description:v1"),
		"params": map[string]any{"interface": "Gi1/0/3", "description": "old"}})
	if tg := e.sim.Deployments()[0].Targets[0]; tg.TemplateVersion != 1 || tg.Rendered != "interface Gi1/0/3\n description old\n" {
		t.Fatalf("pinned version target %+v", tg)
	}
	code, _, v := e.call(http.MethodGet, v1+"/task/"+uuidFor("nope"), nil)
	if code != http.StatusNotFound || errorCode(v) == "" {
		t.Fatalf("unknown task: %d %v", code, v)
	}
}

func TestCommandRunnerEndToEnd(t *testing.T) {
	e := newEnv(t)
	legit := resp(e.get(v1 + "/network-device-poller/cli/legit-reads")).([]any)
	for _, w := range []string{"show", "ping", "traceroute"} {
		if !slices.Contains(legit, any(w)) {
			t.Errorf("legit-reads lacks %q: %v", w, legit)
		}
	}

	// A successful deploy before the read shows up in the running config.
	e.deploy(tmplID("Login-Banner"), uuidTarget("lon-b1-core-01", nil))
	e.clk.Advance(deployDuration)

	cmds := []string{"show version", "show ip interface brief", "show clock", "show running-config",
		"ping 10.20.0.1", "configure terminal", "show bogus thing"}
	devs := []string{devID("lon-b1-core-01"), devID("lon-b1-acc-02"), devID("lon-b1-ap-01")}
	code, _, v := e.call(http.MethodPost, v1+"/network-device-poller/cli/read-request",
		map[string]any{"commands": cmds, "deviceUuids": devs, "timeout": 0})
	if code != http.StatusAccepted {
		t.Fatalf("read-request: %d %v", code, v)
	}
	taskID := resp(v).(map[string]any)["taskId"].(string)

	tk := e.task(taskID)
	if _, done := tk["endTime"]; done || strings.Contains(tk["progress"].(string), "fileId") {
		t.Fatalf("task finished immediately: %v", tk)
	}
	e.clk.Advance(readDuration - time.Millisecond)
	if _, done := e.task(taskID)["endTime"]; done {
		t.Fatal("task finished early")
	}
	e.clk.Advance(time.Millisecond)
	tk = e.task(taskID)
	var prog struct {
		FileID string `json:"fileId"`
	}
	if err := json.Unmarshal([]byte(tk["progress"].(string)), &prog); err != nil || prog.FileID == "" || tk["isError"] != false {
		t.Fatalf("progress should be a JSON string with fileId: %v (%v)", tk, err)
	}

	file := list(e.get(v1 + "/file/" + prog.FileID))
	if len(file) != 3 {
		t.Fatalf("file has %d entries", len(file))
	}
	type result struct{ ok, fail, black map[string]any }
	res := map[string]result{}
	for _, f := range file {
		cr := f["commandResponses"].(map[string]any)
		res[f["deviceUuid"].(string)] = result{cr["SUCCESS"].(map[string]any), cr["FAILURE"].(map[string]any),
			cr["BLACKLISTED"].(map[string]any)}
	}
	core := res[devs[0]]
	for cmd, want := range map[string]string{
		"show version":            "Processor board ID FCW2231G0AB",
		"show ip interface brief": "HundredGigE1/0/25          172.16.0.1",
		"show clock":              "*12:00:08.000 UTC Mon Jun 2 2025",
		"show running-config":     "Authorized access to Gatehouse Corp systems only.",
		"ping 10.20.0.1":          "Success rate is 100 percent",
	} {
		out, _ := core.ok[cmd].(string)
		if !strings.HasPrefix(out, cmd+"\n") || !strings.Contains(out, want) || !strings.HasSuffix(out, "lon-b1-core-01#") {
			t.Errorf("%s output %q lacks %q", cmd, out, want)
		}
	}
	if _, ok := core.black["configure terminal"]; !ok || len(core.black) != 1 {
		t.Errorf("BLACKLISTED %v", core.black)
	}
	if out, _ := core.fail["show bogus thing"].(string); !strings.Contains(out, "% Invalid input") || len(core.fail) != 1 {
		t.Errorf("FAILURE %v", core.fail)
	}
	for _, id := range devs[1:] { // unreachable switch and AP: everything legit fails
		if r := res[id]; len(r.ok) != 0 || len(r.fail) != 6 || len(r.black) != 1 {
			t.Errorf("device %s: %d ok / %d fail / %d black", id, len(r.ok), len(r.fail), len(r.black))
		}
	}

	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"no commands", map[string]any{"commands": []string{}, "deviceUuids": devs}},
		{"no devices", map[string]any{"commands": cmds}},
		{"unknown device", map[string]any{"commands": cmds, "deviceUuids": []string{"ghost"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			if code, _, _ := e.call(http.MethodPost, v1+"/network-device-poller/cli/read-request", tc.body); code != http.StatusBadRequest {
				t.Fatalf("got %d", code)
			}
		})
	}
}

func TestFileNotReadyOrUnknown(t *testing.T) {
	e := newEnv(t)
	_, _, v := e.call(http.MethodPost, v1+"/network-device-poller/cli/read-request",
		map[string]any{"commands": []string{"show clock"}, "deviceUuids": []string{devID("sjc-b-rtr-01")}})
	taskID := resp(v).(map[string]any)["taskId"].(string)
	// File ids are deterministic: the first runtime id of this simulator is the file's.
	fileID := uuidFor("file:1")
	if code, _, _ := e.call(http.MethodGet, v1+"/file/"+fileID, nil); code != http.StatusNotFound {
		t.Fatalf("file served before the task completed: %d", code)
	}
	e.clk.Advance(readDuration)
	if !strings.Contains(e.task(taskID)["progress"].(string), fileID) {
		t.Fatalf("unexpected file id in %v", e.task(taskID))
	}
	if got := list(e.get(v1 + "/file/" + fileID)); len(got) != 1 {
		t.Fatalf("file %v", got)
	}
	if code, _, _ := e.call(http.MethodGet, v1+"/file/"+uuidFor("nope"), nil); code != http.StatusNotFound {
		t.Fatalf("unknown file: %d", code)
	}
}

func TestThrottleAndRequestCounting(t *testing.T) {
	e := newEnv(t)
	e.sim.Throttle(2, 2500*time.Millisecond)
	path := v1 + "/network-device"
	for i, want := range []int{http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusOK, http.StatusOK} {
		code, h, v := e.call(http.MethodGet, path, nil)
		if code != want {
			t.Fatalf("request %d: got %d want %d", i, code, want)
		}
		if code == http.StatusTooManyRequests && (h.Get("Retry-After") != "3" || errorCode(v) == "") {
			t.Fatalf("429 without Retry-After/JSON: %q %v", h.Get("Retry-After"), v)
		}
	}
	// The token endpoint is never throttled.
	e.sim.Throttle(1, time.Second)
	e.login(testUsr, testPwd, http.StatusOK)
	if code, _, _ := e.call(http.MethodGet, path+"/count", nil); code != http.StatusTooManyRequests {
		t.Fatalf("throttle should apply to the next API request, got %d", code)
	}
	e.get(path + "/count")

	for prefix, want := range map[string]int{
		path:                 6,
		path + "/count":      2,
		tokenPath:            2,
		"/dna/":              8,
		v1 + "/site":         0,
		"/dna/intent/api/v2": 0,
	} {
		if got := e.sim.Requests(prefix); got != want {
			t.Errorf("Requests(%q) = %d, want %d", prefix, got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				switch (i + j) % 4 {
				case 0:
					e.get(v1 + "/device-health")
				case 1:
					e.deploy(tmplID("Login-Banner"), uuidTarget("sjc-b-rtr-01", nil))
				case 2:
					e.sim.Throttle(0, 0)
					_ = e.sim.Requests("/dna")
				case 3:
					e.clk.Advance(time.Second)
					_ = e.sim.Deployments()
				}
			}
		}()
	}
	wg.Wait()
	if n := len(e.sim.Deployments()); n != 10 {
		t.Fatalf("deployments = %d, want 10", n)
	}
}
