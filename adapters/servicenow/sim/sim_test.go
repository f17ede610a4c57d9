package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	table   = "/api/now/table/"
	chgAPI  = "/api/sn_chg_rest/change"
	testUsr = "gatehouse.integration"
	testPwd = "s3cret"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	t    *testing.T
	sim  *Sim
	srv  *httptest.Server
	clk  *clock
	auth string // Authorization header value for API calls
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{now: time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)}
	s := New(Options{Password: testPwd, Username: testUsr, Now: clk.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv, clk: clk}
	e.auth = basic(testUsr, testPwd)
	return e
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// with rebinds the env to a subtest so helper failures stop the right test.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// call issues an API request; auth overrides the env's Authorization header.
func (e *env) call(method, path string, body any, auth ...string) (int, http.Header, any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", e.auth)
	if len(auth) > 0 {
		req.Header.Set("Authorization", auth[0])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		e.t.Fatalf("%s %s: content-type %q", method, path, ct)
	}
	return resp.StatusCode, resp.Header, decode(e.t, b)
}

// must expects status want and returns the decoded body.
func (e *env) must(want int, method, path string, body any) any {
	e.t.Helper()
	code, _, v := e.call(method, path, body)
	if code != want {
		e.t.Fatalf("%s %s: got %d, want %d: %v", method, path, code, want, v)
	}
	return v
}

func (e *env) get(path string) any {
	e.t.Helper()
	return e.must(http.StatusOK, http.MethodGet, path, nil)
}

// token posts a form to /oauth_token.do.
func (e *env) token(form url.Values) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.srv.Client().PostForm(e.srv.URL+"/oauth_token.do", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, decode(e.t, b).(map[string]any)
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return v
}

func result(v any) map[string]any { return v.(map[string]any)["result"].(map[string]any) }

func results(v any) []map[string]any {
	var out []map[string]any
	for _, x := range v.(map[string]any)["result"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func column(items []map[string]any, key string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, fmt.Sprint(it[key]))
	}
	return out
}

// apiErr returns the message and detail of a ServiceNow error body, failing
// the test when the body is not that shape.
func apiErr(t *testing.T, v any) (string, string) {
	t.Helper()
	m, _ := v.(map[string]any)
	e, _ := m["error"].(map[string]any)
	msg, ok1 := e["message"].(string)
	detail, ok2 := e["detail"].(string)
	if !ok1 || !ok2 || m["status"] != "failure" {
		t.Fatalf("not a ServiceNow error body: %v", v)
	}
	return msg, detail
}

func qs(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func (e *env) id(tbl, value string) string {
	e.t.Helper()
	id, ok := e.sim.Lookup(tbl, value)
	if !ok {
		e.t.Fatalf("Lookup(%s, %s) found nothing", tbl, value)
	}
	return id
}

// ---- authentication ----------------------------------------------------------

func TestOAuthClientCredentials(t *testing.T) {
	e := newEnv(t)
	code, tok := e.token(url.Values{"grant_type": {"client_credentials"},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	if code != http.StatusOK || tok["token_type"] != "Bearer" || tok["scope"] != "useraccount" ||
		tok["expires_in"] != float64(1799) || tok["access_token"] == "" {
		t.Fatalf("token: %d %v", code, tok)
	}
	if _, ok := tok["refresh_token"]; ok {
		t.Errorf("client_credentials must not return a refresh token: %v", tok)
	}
	bearer := "Bearer " + tok["access_token"].(string)
	path := table + "incident" + qs("sysparm_limit", "1")
	for _, st := range []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"fresh", 0, http.StatusOK},
		{"29m59s later", 29*time.Minute + 59*time.Second, http.StatusOK},
		{"30 minutes after issue", time.Second, http.StatusUnauthorized},
	} {
		e.clk.Advance(st.advance)
		code, h, v := e.call(http.MethodGet, path, nil, bearer)
		if code != st.want {
			t.Fatalf("%s: got %d, want %d (%v)", st.name, code, st.want, v)
		}
		if code == http.StatusUnauthorized {
			msg, detail := apiErr(t, v)
			if msg != "User Not Authenticated" || detail != "Required to provide Auth information" ||
				h.Get("WWW-Authenticate") == "" {
				t.Errorf("401 shape: %q %q %q", msg, detail, h.Get("WWW-Authenticate"))
			}
		}
	}
	// The token acts as the integration user.
	_, tok = e.token(url.Values{"grant_type": {"client_credentials"},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	code, _, v := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "x"},
		"Bearer "+tok["access_token"].(string))
	if code != http.StatusCreated || result(v)["sys_created_by"] != testUsr {
		t.Fatalf("create with token: %d %v", code, v)
	}
	if n := e.sim.Logins(); n != 2 {
		t.Errorf("Logins = %d, want 2", n)
	}
}

func TestOAuthPasswordAndRefresh(t *testing.T) {
	e := newEnv(t)
	client := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	form := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range client {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		code  int
		error string
	}{
		{"wrong password", form("grant_type", "password", "username", testUsr, "password", "nope"), 401, "access_denied"},
		{"unknown user", form("grant_type", "password", "username", "bob", "password", testPwd), 401, "access_denied"},
		{"wrong client secret", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
			"client_secret": {"x"}, "username": {testUsr}, "password": {testPwd}}, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"}},
			401, "invalid_client"},
		{"unsupported grant", form("grant_type", "authorization_code"), 400, "unsupported_grant_type"},
		{"missing grant", form(), 400, "invalid_request"},
		{"bogus refresh token", form("grant_type", "refresh_token", "refresh_token", "nope"), 401, "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.with(t).token(tc.form)
			if code != tc.code || body["error"] != tc.error || body["error_description"] == "" {
				t.Fatalf("got %d %v, want %d %s", code, body, tc.code, tc.error)
			}
		})
	}

	code, tok := e.token(form("grant_type", "password", "username", testUsr, "password", testPwd))
	refresh, _ := tok["refresh_token"].(string)
	if code != http.StatusOK || refresh == "" || tok["access_token"] == "" {
		t.Fatalf("password grant: %d %v", code, tok)
	}
	bearer := "Bearer " + tok["access_token"].(string)
	path := table + "sys_user" + qs("sysparm_limit", "1")
	if code, _, _ := e.call(http.MethodGet, path, nil, bearer); code != http.StatusOK {
		t.Fatalf("bearer: %d", code)
	}
	e.clk.Advance(31 * time.Minute)
	if code, _, _ := e.call(http.MethodGet, path, nil, bearer); code != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", code)
	}
	// A refresh token is not an access token.
	if code, _, _ := e.call(http.MethodGet, path, nil, "Bearer "+refresh); code != http.StatusUnauthorized {
		t.Fatalf("refresh token used as bearer: %d", code)
	}
	code, tok = e.token(form("grant_type", "refresh_token", "refresh_token", refresh))
	if code != http.StatusOK || tok["refresh_token"] != refresh {
		t.Fatalf("refresh grant: %d %v", code, tok)
	}
	bearer = "Bearer " + tok["access_token"].(string)
	if code, _, _ := e.call(http.MethodGet, path, nil, bearer); code != http.StatusOK {
		t.Fatalf("refreshed token: %d", code)
	}

	// ExpireAccessTokens keeps refresh tokens; ExpireTokens revokes them too.
	e.sim.ExpireAccessTokens()
	if code, _, _ := e.call(http.MethodGet, path, nil, bearer); code != http.StatusUnauthorized {
		t.Fatalf("after ExpireAccessTokens: %d", code)
	}
	if code, _ := e.token(form("grant_type", "refresh_token", "refresh_token", refresh)); code != http.StatusOK {
		t.Fatalf("refresh after ExpireAccessTokens: %d", code)
	}
	e.sim.ExpireTokens()
	if code, body := e.token(form("grant_type", "refresh_token", "refresh_token", refresh)); code != http.StatusUnauthorized {
		t.Fatalf("refresh after ExpireTokens: %d %v", code, body)
	}
	// Client credentials may also arrive as HTTP Basic.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth_token.do",
		strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("basic client auth: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	// Refresh tokens expire too.
	_, tok = e.token(form("grant_type", "password", "username", testUsr, "password", testPwd))
	e.clk.Advance(100 * 24 * time.Hour)
	if code, _ := e.token(form("grant_type", "refresh_token", "refresh_token", tok["refresh_token"].(string))); code != http.StatusUnauthorized {
		t.Fatalf("refresh after 100 days: %d", code)
	}
}

func TestBasicAuthAndUsers(t *testing.T) {
	e := newEnv(t)
	path := table + "incident" + qs("sysparm_limit", "1")
	for _, tc := range []struct{ name, auth string }{
		{"missing", ""},
		{"wrong password", basic(testUsr, "nope")},
		{"unknown user", basic("bob", testPwd)},
		{"bogus bearer", "Bearer nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, v := e.with(t).call(http.MethodGet, path, nil, tc.auth)
			if msg, _ := apiErr(t, v); code != http.StatusUnauthorized || msg != "User Not Authenticated" {
				t.Fatalf("got %d %v", code, v)
			}
		})
	}
	e.get(path)
	// Another user signs in once it has a password; writes are attributed to it.
	if err := e.sim.SetPassword("nina.neteng", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetPassword("nobody", "pw"); err == nil {
		t.Fatal("SetPassword accepted an unknown user")
	}
	code, _, v := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "x"}, basic("nina.neteng", "pw"))
	if code != http.StatusCreated || result(v)["sys_created_by"] != "nina.neteng" {
		t.Fatalf("create as nina: %d %v", code, v)
	}
	// Default credentials.
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	d := &env{t: t, srv: srv, auth: basic(DefaultUsername, DefaultPassword)}
	d.get(table + "sys_user" + qs("sysparm_limit", "1"))
}

// ---- Table API reads -----------------------------------------------------------

func TestTableQueries(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		tbl, query string
		want       []string // number or name, in order
	}{
		{"incident", "", []string{"INC0000001", "INC0000002", "INC0000003", "INC0000004", "INC0000005", "INC0000006"}},
		{"incident", "active=true", []string{"INC0000001", "INC0000002", "INC0000003", "INC0000004"}},
		{"incident", "priority<=2", []string{"INC0000001"}},
		{"incident", "impact>2", []string{"INC0000002", "INC0000003", "INC0000006"}},
		{"incident", "short_descriptionLIKEwi-fi", []string{"INC0000003"}},
		{"incident", "short_descriptionNOT LIKElon-b1", []string{"INC0000002", "INC0000004", "INC0000005"}},
		{"incident", "numberSTARTSWITHinc000000^numberENDSWITH1", []string{"INC0000001"}},
		{"incident", "stateIN6,7", []string{"INC0000004", "INC0000005"}},
		{"incident", "stateNOT IN1,2,3,6", []string{"INC0000005", "INC0000006"}},
		{"incident", "assigned_toISEMPTY", []string{"INC0000002", "INC0000006"}},
		{"incident", "assigned_toISNOTEMPTY^state!=7", []string{"INC0000001", "INC0000003", "INC0000004"}},
		{"incident", "state=1^ORstate=3", []string{"INC0000002", "INC0000003"}},
		{"incident", "active=true^state=1^ORstate=2", []string{"INC0000001", "INC0000002"}},
		{"incident", "state=1^NQstate=8", []string{"INC0000002", "INC0000006"}},
		{"incident", "caller_id.user_name=olga.oncall", []string{"INC0000002", "INC0000004"}},
		{"incident", "cmdb_ci.name=lon-b1-acc-02", []string{"INC0000001", "INC0000006"}},
		{"incident", "opened_at>=2025-03-03 03:00:00", []string{"INC0000001", "INC0000002", "INC0000006"}},
		{"incident", "opened_at<2025-03-02 06:00:00", []string{"INC0000004", "INC0000005"}},
		{"incident", "active=true^ORDERBYDESCpriority", []string{"INC0000003", "INC0000002", "INC0000004", "INC0000001"}},
		{"incident", "ORDERBYpriority^ORDERBYDESCnumber", []string{"INC0000001", "INC0000004", "INC0000005", "INC0000002", "INC0000006", "INC0000003"}},
		{"incident", "ORDERBYno_such_field^state=8", []string{"INC0000006"}},
		{"incident", "no_such_field=1", nil},
		{"incident", "active=true^ORno_such_field=1", nil},
		{"incident", "stateBETWEEN1@2", nil},
		{"cmdb_ci_netgear", "ip_address=10.20.0.2", []string{"nyc-hq-dist-01"}},
		{"cmdb_ci_netgear", "device_type=Router^ORDERBYname", []string{"nyc-hq-rtr-01", "sjc-b-rtr-01"}},
		{"cmdb_ci", "nameSTARTSWITHwan-", []string{"wan-lon-nyc-01", "wan-nyc-sjc-01"}},
		{"cmdb_ci", "sys_class_name=cmdb_ci_netgear^nameSTARTSWITHlon-b1-core", []string{"lon-b1-core-01"}},
		{"cmdb_ci", "device_type=Router", nil}, // a netgear field is not a cmdb_ci field
		{"sys_user", "active=false", []string{"Ian Former"}},
		{"sys_user_group", "manager.user_name=maria.manager", []string{"Service Desk", "Network Operations"}},
		{"change_request", "type=standard", []string{"CHG0000002"}},
		{"task", "numberSTARTSWITHCTASK^ORnumber=CHG0000001", []string{"CHG0000001", "CTASK0000001"}},
		{"std_change_producer_version", "active=true^ORDERBYname", []string{"Deploy approved configuration template", "Update interface description"}},
	} {
		t.Run(tc.tbl+" "+tc.query, func(t *testing.T) {
			e := e.with(t)
			key := "number"
			if _, ok := tables[tc.tbl].byName[key]; !ok {
				key = "name"
			}
			code, h, v := e.call(http.MethodGet, table+tc.tbl+qs("sysparm_query", tc.query), nil)
			if code != http.StatusOK {
				t.Fatalf("%d %v", code, v)
			}
			got := column(results(v), key)
			if !slices.Equal(got, append([]string{}, tc.want...)) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if h.Get("X-Total-Count") != fmt.Sprint(len(tc.want)) {
				t.Fatalf("X-Total-Count %q", h.Get("X-Total-Count"))
			}
		})
	}
	// A base-table query returns the child class's records with sys_class_name
	// and only the base table's fields.
	cis := results(e.get(table + "cmdb_ci"))
	if len(cis) != 11 {
		t.Fatalf("cmdb_ci has %d records, want 11 (8 netgear + 3)", len(cis))
	}
	core := results(e.get(table + "cmdb_ci" + qs("sysparm_query", "name=lon-b1-core-01")))[0]
	if core["sys_class_name"] != "cmdb_ci_netgear" || core["ip_address"] != "10.10.0.1" {
		t.Fatalf("core via cmdb_ci: %v", core)
	}
	if _, ok := core["firmware_version"]; ok {
		t.Errorf("cmdb_ci view should not carry netgear fields: %v", core)
	}
	if n := len(results(e.get(table + "cmdb_ci_netgear"))); n != 8 {
		t.Fatalf("cmdb_ci_netgear has %d records", n)
	}
}

func TestQueryCaretEscape(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{"short_description": "A^B"})
	got := column(results(e.get(table+"incident"+qs("sysparm_query", "short_description=a^^b^ORnumber=INC0000002"))), "number")
	if !slices.Equal(got, []string{"INC0000002", "INC0010001"}) {
		t.Fatalf("got %v", got)
	}
}

func TestFieldsAndDisplayValues(t *testing.T) {
	e := newEnv(t)
	inc := e.id("incident", "INC0000001")
	sam := e.id("sys_user", "sam.servicedesk")
	link := e.srv.URL + "/api/now/table/sys_user/" + sam
	fields := "number,caller_id,state,priority,assigned_to,caller_id.user_name,no_such_field"
	get := func(extra ...string) map[string]any {
		return result(e.get(table + "incident/" + inc + qs(append([]string{"sysparm_fields", fields}, extra...)...)))
	}
	for _, tc := range []struct {
		name  string
		extra []string
		want  map[string]any
	}{
		{"values", nil, map[string]any{
			"number": "INC0000001", "state": "2", "priority": "2", "caller_id.user_name": "sam.servicedesk",
			"caller_id":   map[string]any{"link": link, "value": sam},
			"assigned_to": map[string]any{"link": e.srv.URL + "/api/now/table/sys_user/" + e.id("sys_user", "nina.neteng"), "value": e.id("sys_user", "nina.neteng")},
		}},
		{"display values", []string{"sysparm_display_value", "true"}, map[string]any{
			"number": "INC0000001", "state": "In Progress", "priority": "2 - High", "caller_id.user_name": "sam.servicedesk",
			"caller_id":   map[string]any{"display_value": "Sam Okafor", "link": link},
			"assigned_to": map[string]any{"display_value": "Nina Petrova", "link": e.srv.URL + "/api/now/table/sys_user/" + e.id("sys_user", "nina.neteng")},
		}},
		{"all", []string{"sysparm_display_value", "all"}, map[string]any{
			"number":              map[string]any{"display_value": "INC0000001", "value": "INC0000001"},
			"state":               map[string]any{"display_value": "In Progress", "value": "2"},
			"priority":            map[string]any{"display_value": "2 - High", "value": "2"},
			"caller_id.user_name": map[string]any{"display_value": "sam.servicedesk", "value": "sam.servicedesk"},
			"caller_id":           map[string]any{"display_value": "Sam Okafor", "value": sam, "link": link},
			"assigned_to": map[string]any{"display_value": "Nina Petrova", "value": e.id("sys_user", "nina.neteng"),
				"link": e.srv.URL + "/api/now/table/sys_user/" + e.id("sys_user", "nina.neteng")},
		}},
		{"values without links", []string{"sysparm_exclude_reference_link", "true"}, map[string]any{
			"number": "INC0000001", "state": "2", "priority": "2", "caller_id.user_name": "sam.servicedesk",
			"caller_id": sam, "assigned_to": e.id("sys_user", "nina.neteng"),
		}},
		{"display values without links", []string{"sysparm_display_value", "true", "sysparm_exclude_reference_link", "true"},
			map[string]any{"number": "INC0000001", "state": "In Progress", "priority": "2 - High",
				"caller_id.user_name": "sam.servicedesk", "caller_id": "Sam Okafor", "assigned_to": "Nina Petrova"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.extra...)
			wantJSON, _ := json.Marshal(tc.want)
			gotJSON, _ := json.Marshal(got)
			if string(wantJSON) != string(gotJSON) {
				t.Fatalf("got  %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
	// An empty reference is "" (or an empty pair with all).
	inc2 := e.id("incident", "INC0000002")
	if v := result(e.get(table + "incident/" + inc2))["assigned_to"]; v != "" {
		t.Errorf("empty reference: %v", v)
	}
	v := result(e.get(table + "incident/" + inc2 + qs("sysparm_display_value", "all")))["assigned_to"]
	if m, _ := v.(map[string]any); m["value"] != "" || m["display_value"] != "" || len(m) != 2 {
		t.Errorf("empty reference with all: %v", v)
	}
	// Every value is a string; a full record carries system fields.
	full := result(e.get(table + "incident/" + inc))
	for _, f := range []string{"sys_id", "sys_created_on", "sys_updated_on", "sys_mod_count", "sys_class_name",
		"opened_at", "active", "impact", "urgency", "correlation_id", "close_code", "work_notes"} {
		if _, ok := full[f]; !ok {
			t.Errorf("record lacks %s", f)
		}
	}
	if full["active"] != "true" || full["sys_class_name"] != "incident" || full["work_notes"] != "" {
		t.Errorf("full record: %v", full)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(full["sys_id"].(string)) {
		t.Errorf("sys_id %v", full["sys_id"])
	}
	// The reference link resolves.
	if u := result(e.get(strings.TrimPrefix(link, e.srv.URL))); u["user_name"] != "sam.servicedesk" {
		t.Errorf("link target %v", u)
	}
	// A CI's manufacturer is a reference to core_company.
	core := result(e.get(table + "cmdb_ci_netgear/" + e.id("cmdb_ci", "lon-b1-core-01") + qs("sysparm_display_value", "true")))
	if m, _ := core["manufacturer"].(map[string]any); m["display_value"] != "Cisco" || core["model_number"] != "C9500-24Y4C" {
		t.Errorf("core CI %v", core)
	}
	// Relationships name their type.
	rels := results(e.get(table + "cmdb_rel_ci" + qs("sysparm_query", "parent.name=nyc-hq-rtr-01",
		"sysparm_display_value", "true", "sysparm_exclude_reference_link", "true", "sysparm_fields", "parent,type,child")))
	if got := column(rels, "child"); !slices.Equal(got, []string{"wan-lon-nyc-01", "wan-nyc-sjc-01"}) ||
		rels[0]["type"] != "Depends on::Used by" {
		t.Errorf("relationships %v", rels)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	q := "active=true^ORactive=false"
	linkRe := regexp.MustCompile(`<([^>]+)>;rel="(\w+)"`)
	links := func(h http.Header) map[string]string {
		out := map[string]string{}
		for _, m := range linkRe.FindAllStringSubmatch(h.Get("Link"), -1) {
			out[m[2]] = m[1]
		}
		return out
	}
	offsetOf := func(u string) string {
		p, err := url.Parse(u)
		if err != nil || p.Scheme+"://"+p.Host != e.srv.URL || p.Query().Get("sysparm_query") != q ||
			p.Query().Get("sysparm_limit") != "4" {
			t.Fatalf("link %q is not an absolute URL on the request host keeping the query", u)
		}
		return p.Query().Get("sysparm_offset")
	}
	for _, tc := range []struct {
		offset                string
		want                  []string
		first, prev, next, la string
	}{
		{"0", []string{"INC0000001", "INC0000002", "INC0000003", "INC0000004"}, "0", "", "4", "4"},
		{"2", []string{"INC0000003", "INC0000004", "INC0000005", "INC0000006"}, "0", "0", "", "4"},
		{"4", []string{"INC0000005", "INC0000006"}, "0", "0", "", "4"},
		{"9", []string{}, "0", "5", "", "4"},
	} {
		t.Run("offset "+tc.offset, func(t *testing.T) {
			code, h, v := e.with(t).call(http.MethodGet, table+"incident"+qs("sysparm_query", q, "sysparm_limit", "4",
				"sysparm_offset", tc.offset), nil)
			if code != http.StatusOK || h.Get("X-Total-Count") != "6" {
				t.Fatalf("%d total=%q", code, h.Get("X-Total-Count"))
			}
			if got := column(results(v), "number"); !slices.Equal(got, tc.want) {
				t.Fatalf("page %v, want %v", got, tc.want)
			}
			l := links(h)
			for rel, want := range map[string]string{"first": tc.first, "prev": tc.prev, "next": tc.next, "last": tc.la} {
				got, ok := l[rel]
				if want == "" {
					if ok {
						t.Errorf("unexpected rel=%s %s", rel, got)
					}
					continue
				}
				if !ok || offsetOf(got) != want {
					t.Errorf("rel=%s: %q, want offset %s", rel, got, want)
				}
			}
		})
	}
	// Following rel="next" from the first page visits every record once.
	var seen []string
	next := table + "incident" + qs("sysparm_limit", "4", "sysparm_query", q)
	for next != "" {
		_, h, v := e.call(http.MethodGet, next, nil)
		seen = append(seen, column(results(v), "number")...)
		next = strings.TrimPrefix(links(h)["next"], e.srv.URL)
	}
	if len(seen) != 6 || seen[5] != "INC0000006" {
		t.Fatalf("walked %v", seen)
	}
	code, _, v := e.call(http.MethodGet, table+"incident"+qs("sysparm_limit", "x"), nil)
	if msg, _ := apiErr(t, v); code != http.StatusBadRequest || !strings.Contains(msg, "sysparm_limit") {
		t.Fatalf("bad limit: %d %v", code, v)
	}
}

// ---- Table API writes ----------------------------------------------------------

func TestCreateIncident(t *testing.T) {
	e := newEnv(t)
	code, h, v := e.call(http.MethodPost, table+"incident", map[string]any{
		"short_description": "Printer VLAN unreachable", "caller_id": "sam.servicedesk", "cmdb_ci": "lon-b1-acc-01",
		"assignment_group": "Network Operations", "impact": 2, "urgency": "2", "priority": "1", "u_unknown": "x",
		"number": "INC9999999", "sys_created_by": "mallory", "work_notes": "Opened by Gatehouse",
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, v)
	}
	inc := result(v)
	id := inc["sys_id"].(string)
	if h.Get("Location") != e.srv.URL+"/api/now/table/incident/"+id {
		t.Errorf("Location %q", h.Get("Location"))
	}
	for k, want := range map[string]string{
		"number": "INC0010001", "state": "1", "priority": "3", "impact": "2", "active": "true",
		"sys_created_by": testUsr, "sys_created_on": "2025-06-02 12:00:00", "opened_at": "2025-06-02 12:00:00",
		"sys_mod_count": "0", "work_notes": "",
	} {
		if inc[k] != want {
			t.Errorf("%s = %v, want %s", k, inc[k], want)
		}
	}
	if _, ok := inc["u_unknown"]; ok {
		t.Error("unknown field stored")
	}
	for field, want := range map[string]string{
		"caller_id": e.id("sys_user", "sam.servicedesk"), "cmdb_ci": e.id("cmdb_ci", "lon-b1-acc-01"),
		"assignment_group": e.id("sys_user_group", "Network Operations"), "opened_by": e.id("sys_user", testUsr),
	} {
		if ref, _ := inc[field].(map[string]any); ref["value"] != want {
			t.Errorf("%s = %v, want %s", field, inc[field], want)
		}
	}
	stored, ok := e.sim.Incident("INC0010001")
	if !ok || stored["short_description"] != "Printer VLAN unreachable" {
		t.Fatalf("Incident(): %v %v", stored, ok)
	}
	if j := e.sim.Journal("INC0010001"); len(j) != 1 || j[0].Element != "work_notes" || j[0].CreatedBy != testUsr {
		t.Errorf("journal %v", j)
	}
	// Numbers keep counting; the display value shapes the POST response too.
	v = e.must(http.StatusCreated, http.MethodPost, table+"incident"+qs("sysparm_display_value", "true",
		"sysparm_fields", "number,priority"), map[string]any{"short_description": "second"})
	if got := result(v); got["number"] != "INC0010002" || got["priority"] != "5 - Planning" || len(got) != 2 {
		t.Errorf("second incident %v", got)
	}
	// An unmatched reference display value is kept as written, as on an instance.
	inc3 := result(e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{"caller_id": "Nobody Known"}))
	if ref, _ := inc3["caller_id"].(map[string]any); ref["value"] != "Nobody Known" {
		t.Errorf("broken reference %v", inc3["caller_id"])
	}
	// Other numbered tables start at their own counters.
	ct := result(e.must(http.StatusCreated, http.MethodPost, table+"change_task", map[string]any{
		"change_request": "CHG0000001", "short_description": "Post checks"}))
	if ct["number"] != "CTASK0010001" || ct["state"] != "1" {
		t.Errorf("change task %v", ct)
	}
}

func TestPriorityDerivation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ impact, urgency, want string }{
		{"1", "1", "1"}, {"1", "2", "2"}, {"2", "1", "2"}, {"1", "3", "3"}, {"2", "2", "3"}, {"3", "1", "3"},
		{"2", "3", "4"}, {"3", "2", "4"}, {"3", "3", "5"}, {"", "", "5"},
	} {
		v := e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{
			"impact": tc.impact, "urgency": tc.urgency, "priority": "1"})
		if got := result(v)["priority"]; got != tc.want {
			t.Errorf("impact %q urgency %q: priority %v, want %s", tc.impact, tc.urgency, got, tc.want)
		}
	}
	id := e.id("incident", "INC0000002") // 3/2 → 4
	v := e.must(http.StatusOK, http.MethodPatch, table+"incident/"+id, map[string]any{"impact": "1", "priority": "5"})
	if result(v)["priority"] != "2" {
		t.Errorf("after impact 1: %v", result(v)["priority"])
	}
}

func TestWorkNotesJournal(t *testing.T) {
	e := newEnv(t)
	id := e.id("incident", "INC0000002")
	e.must(http.StatusOK, http.MethodPatch, table+"incident/"+id, map[string]any{"work_notes": "First note"})
	e.clk.Advance(time.Minute)
	v := e.must(http.StatusOK, http.MethodPut, table+"incident/"+id, map[string]any{
		"work_notes": "Second note", "comments": "Visible to the caller"})
	if inc := result(v); inc["work_notes"] != "" || inc["sys_mod_count"] != "2" || inc["sys_updated_on"] != "2025-06-02 12:01:00" {
		t.Fatalf("after notes: %v", inc)
	}
	inc := result(e.get(table + "incident/" + id + qs("sysparm_display_value", "true", "sysparm_fields", "work_notes,comments")))
	wantNotes := "2025-06-02 12:01:00 - Gatehouse Integration (Work notes)\nSecond note\n\n" +
		"2025-06-02 12:00:00 - Gatehouse Integration (Work notes)\nFirst note\n\n"
	if inc["work_notes"] != wantNotes {
		t.Errorf("work_notes display:\n%q\nwant\n%q", inc["work_notes"], wantNotes)
	}
	if !strings.Contains(inc["comments"].(string), "(Additional comments)\nVisible to the caller") {
		t.Errorf("comments display %q", inc["comments"])
	}
	rows := results(e.get(table + "sys_journal_field" + qs("sysparm_query", "element_id="+id+"^ORDERBYDESCsys_created_on")))
	// Entries of one write share a timestamp and keep their insertion order (field names sorted).
	if got := column(rows, "value"); !slices.Equal(got, []string{"Visible to the caller", "Second note", "First note"}) {
		t.Errorf("journal rows %v", got)
	}
	if rows[1]["name"] != "incident" || rows[1]["element"] != "work_notes" || rows[1]["sys_created_by"] != testUsr {
		t.Errorf("journal row %v", rows[1])
	}
	// The journal is read only.
	code, _, body := e.call(http.MethodPost, table+"sys_journal_field", map[string]any{"value": "x"})
	if _, detail := apiErr(t, body); code != http.StatusForbidden || !strings.Contains(detail, "Insert Failed") {
		t.Errorf("journal insert: %d %v", code, body)
	}
	code, _, body = e.call(http.MethodPatch, table+"sys_journal_field/"+rows[1]["sys_id"].(string), map[string]any{"value": "x"})
	if _, detail := apiErr(t, body); code != http.StatusForbidden || !strings.Contains(detail, "Update Failed") {
		t.Errorf("journal update: %d %v", code, body)
	}
	if j := e.sim.Journal("INC0000002"); len(j) != 3 || j[0].Value != "First note" {
		t.Errorf("Journal() %v", j)
	}
	// A write that changes nothing does not count as an update.
	e.must(http.StatusOK, http.MethodPatch, table+"incident/"+id, map[string]any{"short_description": "High CPU on nyc-hq-dist-01"})
	if got, _ := e.sim.Incident("INC0000002"); got["sys_mod_count"] != "2" {
		t.Errorf("no-op write bumped sys_mod_count to %s", got["sys_mod_count"])
	}
}

func TestIncidentStateRules(t *testing.T) {
	e := newEnv(t)
	id := e.id("incident", "INC0000001")
	path := table + "incident/" + id
	code, _, v := e.call(http.MethodPatch, path, map[string]any{"state": "6"})
	msg, detail := apiErr(t, v)
	if code != http.StatusBadRequest || msg != "Data Policy Exception" ||
		detail != "The following fields are mandatory: close_code, close_notes" {
		t.Fatalf("resolve without close fields: %d %q %q", code, msg, detail)
	}
	code, _, v = e.call(http.MethodPatch, path, map[string]any{"state": "6", "close_code": "Solved (Permanently)"})
	if _, detail := apiErr(t, v); code != http.StatusBadRequest || !strings.HasSuffix(detail, ": close_notes") {
		t.Fatalf("resolve with close_code only: %d %q", code, detail)
	}
	if got, _ := e.sim.Incident("INC0000001"); got["state"] != "2" || got["close_code"] != "" {
		t.Fatalf("a refused write changed the record: %v", got)
	}
	code, _, v = e.call(http.MethodPatch, path, map[string]any{"state": "7", "close_code": "x", "close_notes": "y"})
	msg, detail = apiErr(t, v)
	if code != http.StatusBadRequest || msg != "Invalid state transition" || detail !=
		"INC0000001 cannot move from In Progress to Closed: an incident can be closed only once it is Resolved; "+
			"allowed next states are New, On Hold, Resolved, Canceled" {
		t.Fatalf("close from In Progress: %d %q %q", code, msg, detail)
	}
	inc := result(e.must(http.StatusOK, http.MethodPatch, path+qs("sysparm_display_value", "true"), map[string]any{
		"state": "6", "close_code": "Solved Remotely (Permanently)", "close_notes": "Uplink optic replaced"}))
	if inc["state"] != "Resolved" || inc["resolved_at"] != "2025-06-02 12:00:00" || inc["active"] != "true" {
		t.Fatalf("resolved: %v", inc)
	}
	e.clk.Advance(time.Hour)
	inc = result(e.must(http.StatusOK, http.MethodPatch, path, map[string]any{"state": "7"}))
	if inc["state"] != "7" || inc["closed_at"] != "2025-06-02 13:00:00" || inc["active"] != "false" {
		t.Fatalf("closed: %v", inc)
	}
	for _, num := range []string{"INC0000001", "INC0000005", "INC0000006"} { // closed, seeded closed, canceled
		code, _, v := e.call(http.MethodPatch, table+"incident/"+e.id("incident", num), map[string]any{"work_notes": "late note"})
		msg, detail := apiErr(t, v)
		if code != http.StatusForbidden || msg != "Operation Failed" ||
			detail != "ACL Exception Update Failed due to security constraints" {
			t.Errorf("%s write: %d %q %q", num, code, msg, detail)
		}
	}
	// Reopening a resolved incident clears the resolution time.
	inc4 := e.id("incident", "INC0000004")
	if got := result(e.must(http.StatusOK, http.MethodPatch, table+"incident/"+inc4, map[string]any{"state": "2"})); got["resolved_at"] != "" {
		t.Errorf("reopened: %v", got["resolved_at"])
	}
	// An incident cannot be created Closed.
	code, _, _ = e.call(http.MethodPost, table+"incident", map[string]any{"state": "7"})
	if code != http.StatusBadRequest {
		t.Errorf("create closed: %d", code)
	}
}

// ---- changes -------------------------------------------------------------------

func (e *env) nextState(id string) map[string]any {
	e.t.Helper()
	return result(e.get(chgAPI + "/" + id + "/nextstate"))
}

// transition returns the nextstate entry towards to.
func transition(t *testing.T, ns map[string]any, to string) map[string]any {
	t.Helper()
	for _, x := range ns["state_transitions"].([]any) {
		if tr := x.(map[string]any); tr["to_state"] == to {
			return tr
		}
	}
	t.Fatalf("no transition to %s in %v", to, ns)
	return nil
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func val(rec map[string]any, field string) string {
	return rec[field].(map[string]any)["value"].(string)
}
func disp(rec map[string]any, field string) string {
	return rec[field].(map[string]any)["display_value"].(string)
}

func (e *env) patchChange(id, state string, want int, extra ...string) any {
	e.t.Helper()
	body := map[string]any{"state": state}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return e.must(want, http.MethodPatch, chgAPI+"/"+id, body)
}

func approvalSummary(as []Approval) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Stage+":"+a.Approver+":"+a.State)
	}
	return out
}

func TestNormalChangeLifecycle(t *testing.T) {
	e := newEnv(t)
	v := e.must(http.StatusOK, http.MethodPost, chgAPI+"/normal", map[string]any{
		"short_description": "Enable BFD on nyc-hq-rtr-01", "assignment_group": "Network Operations",
		"cmdb_ci": "nyc-hq-rtr-01", "risk": "3", "state": "-1", "u_bogus": 1,
		"start_date": "2025-06-10 22:00:00", "end_date": "2025-06-10 23:00:00",
	})
	chg := result(v)
	id := val(chg, "sys_id")
	if val(chg, "number") != "CHG0030001" || val(chg, "state") != "-5" || disp(chg, "state") != "New" ||
		val(chg, "type") != "normal" || disp(chg, "risk") != "Moderate" || disp(chg, "cmdb_ci") != "nyc-hq-rtr-01" ||
		val(chg, "approval") != "not requested" || disp(chg, "requested_by") != "Gatehouse Integration" {
		t.Fatalf("created change %v", chg)
	}
	if meta := chg["__meta"].(map[string]any); !slices.Equal(strs(meta["ignoredAttributes"]), []string{"u_bogus"}) {
		t.Errorf("__meta %v", meta)
	}

	ns := e.nextState(id)
	if got := strs(ns["available_states"]); !slices.Equal(got, []string{"-5", "-4", "4"}) {
		t.Fatalf("available_states %v", got)
	}
	if tr := transition(t, ns, "-4"); tr["transition_available"] != true || tr["display_value"] != "Assess" ||
		tr["from_state"] != "-5" || tr["automatic"] != false {
		t.Errorf("to Assess %v", tr)
	}

	// Skipping Assess is refused with the allowed states.
	_, detail := apiErr(t, e.patchChange(id, "-3", http.StatusBadRequest))
	if detail != "CHG0030001 cannot move from New to Authorize: the normal change model does not allow it; "+
		"allowed next states are Assess, Canceled" {
		t.Fatalf("skip Assess: %q", detail)
	}

	// Assess: the assignment group's manager is asked.
	chg = result(e.patchChange(id, "-4", http.StatusOK))
	if val(chg, "state") != "-4" || val(chg, "approval") != "requested" {
		t.Fatalf("in Assess %v", chg)
	}
	if got := approvalSummary(e.sim.Approvals("CHG0030001")); !slices.Equal(got, []string{"assess:maria.manager:requested"}) {
		t.Fatalf("approvals %v", got)
	}
	ns = e.nextState(id)
	tr := transition(t, ns, "-3")
	cond := tr["conditions"].([]any)[1].(map[string]any)
	if tr["transition_available"] != false || cond["passed"] != false ||
		cond["condition"].(map[string]any)["name"] != "All Assess approvals approved" ||
		cond["condition"].(map[string]any)["description"] != "approvals pending: 0 of 1 approved" {
		t.Fatalf("to Authorize %v", tr)
	}
	if got := strs(ns["available_states"]); !slices.Equal(got, []string{"-4", "4"}) {
		t.Fatalf("available_states in Assess %v", got)
	}
	_, detail = apiErr(t, e.patchChange(id, "-3", http.StatusBadRequest))
	if detail != "CHG0030001 cannot move from Assess to Authorize: All Assess approvals approved "+
		"(approvals pending: 0 of 1 approved); allowed next states are Canceled" {
		t.Fatalf("early Authorize: %q", detail)
	}

	// The manager approves through the Table API.
	appr := results(e.get(table + "sysapproval_approver" + qs("sysparm_query", "sysapproval="+id+"^state=requested")))
	if len(appr) != 1 {
		t.Fatalf("pending approvals %v", appr)
	}
	e.must(http.StatusOK, http.MethodPatch, table+"sysapproval_approver/"+appr[0]["sys_id"].(string),
		map[string]any{"state": "approved", "comments": "Plan looks good"})
	if c, _ := e.sim.Change("CHG0030001"); c["approval"] != "approved" || c["state"] != "-4" {
		t.Fatalf("after Assess approval %v", c)
	}

	// Authorize (through the Table API this time): the CAB is asked.
	e.must(http.StatusOK, http.MethodPatch, table+"change_request/"+id, map[string]any{"state": "-3"})
	if got := approvalSummary(e.sim.Approvals("CHG0030001")); !slices.Equal(got, []string{
		"assess:maria.manager:approved", "authorize:carl.cab:requested", "authorize:maria.manager:requested"}) {
		t.Fatalf("approvals %v", got)
	}
	if err := e.sim.Approve("CHG0030001", "carl.cab", true, "CAB ok"); err != nil {
		t.Fatal(err)
	}
	tr = transition(t, e.nextState(id), "-2")
	cond = tr["conditions"].([]any)[1].(map[string]any)
	if tr["transition_available"] != false || cond["condition"].(map[string]any)["description"] != "approvals pending: 1 of 2 approved" {
		t.Fatalf("to Scheduled %v", tr)
	}
	e.patchChange(id, "-2", http.StatusBadRequest)
	if err := e.sim.Approve("CHG0030001", "maria.manager", true, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Approve("CHG0030001", "maria.manager", true, ""); err == nil {
		t.Fatal("a second approval by the same user was accepted")
	}
	if tr = transition(t, e.nextState(id), "-2"); tr["transition_available"] != true {
		t.Fatalf("to Scheduled after approvals %v", tr)
	}

	e.patchChange(id, "-2", http.StatusOK)
	e.clk.Advance(time.Hour)
	if chg = result(e.patchChange(id, "-1", http.StatusOK)); val(chg, "work_start") != "2025-06-02 13:00:00" {
		t.Errorf("work_start %v", chg["work_start"])
	}
	e.patchChange(id, "0", http.StatusOK)
	msg, detail := apiErr(t, e.patchChange(id, "3", http.StatusBadRequest, "close_code", "successful"))
	if msg != "Data Policy Exception" || detail != "The following fields are mandatory: close_notes" {
		t.Fatalf("close without notes: %q %q", msg, detail)
	}
	chg = result(e.patchChange(id, "3", http.StatusOK, "close_code", "successful", "close_notes", "BFD up on all peers"))
	if disp(chg, "state") != "Closed" || val(chg, "active") != "false" || disp(chg, "close_code") != "Successful" {
		t.Fatalf("closed %v", chg)
	}
	code, _, body := e.call(http.MethodPatch, chgAPI+"/"+id, map[string]any{"description": "late"})
	if _, detail := apiErr(t, body); code != http.StatusForbidden || !strings.Contains(detail, "Update Failed") {
		t.Fatalf("closed change write: %d %v", code, body)
	}
	if ns := e.nextState(id); !slices.Equal(strs(ns["available_states"]), []string{"3"}) ||
		len(ns["state_transitions"].([]any)) != 0 {
		t.Errorf("nextstate of a closed change %v", ns)
	}

	// The approvals endpoint shows who decided what.
	list := results(e.get(chgAPI + "/" + id + "/approvals"))
	if len(list) != 3 {
		t.Fatalf("approvals %v", list)
	}
	if disp(list[0], "approver") != "Maria Lopez" || val(list[0], "state") != "approved" ||
		!strings.Contains(disp(list[0], "comments"), "Plan looks good") || disp(list[1], "approver") != "Carl Berg" ||
		val(list[1], "sys_updated_on") == "" {
		t.Errorf("approvals %v", list)
	}
	if as := e.sim.Approvals("CHG0030001"); !slices.Equal(as[1].Comments, []string{"CAB ok"}) {
		t.Errorf("Approvals() comments %v", as[1].Comments)
	}
}

func TestChangeRejectionAndRules(t *testing.T) {
	e := newEnv(t)
	// Without an assignment group Assess has nobody to ask.
	chg := result(e.must(http.StatusOK, http.MethodPost, chgAPI+"/normal", map[string]any{"short_description": "x"}))
	id := val(chg, "sys_id")
	_, detail := apiErr(t, e.patchChange(id, "-4", http.StatusBadRequest))
	if !strings.Contains(detail, "Assignment group with a manager (set assignment_group to a group that has a manager)") {
		t.Fatalf("Assess without group: %q", detail)
	}
	e.patchChange(id, "-4", http.StatusOK, "assignment_group", e.id("sys_user_group", "Network Operations"))
	if err := e.sim.Approve("CHG0030001", "maria.manager", false, "Backout plan missing"); err != nil {
		t.Fatal(err)
	}
	c, _ := e.sim.Change("CHG0030001")
	if c["state"] != "-5" || c["approval"] != "rejected" {
		t.Fatalf("after rejection %v", c)
	}
	as := e.sim.Approvals("CHG0030001")
	if len(as) != 1 || as[0].State != "rejected" || !slices.Equal(as[0].Comments, []string{"Backout plan missing"}) {
		t.Fatalf("rejected approval %+v", as)
	}
	// A decided approval cannot be decided again.
	code, _, body := e.call(http.MethodPatch, table+"sysapproval_approver/"+as[0].SysID, map[string]any{"state": "approved"})
	if msg, _ := apiErr(t, body); code != http.StatusBadRequest || msg != "Invalid state transition" {
		t.Fatalf("re-deciding: %d %v", code, body)
	}
	// Assess again starts a new round.
	e.patchChange(id, "-4", http.StatusOK, "backout_plan", "Revert the configuration")
	cond := transition(t, e.nextState(id), "-3")["conditions"].([]any)[1].(map[string]any)
	if cond["condition"].(map[string]any)["description"] != "approvals pending: 0 of 1 approved" {
		t.Fatalf("new round %v", cond)
	}
	if err := e.sim.Approve("CHG0030001", "maria.manager", true, ""); err != nil {
		t.Fatal(err)
	}
	e.patchChange(id, "-3", http.StatusOK)
	// A CAB rejection retires the other CAB approval.
	if err := e.sim.Approve("CHG0030001", "carl.cab", false, "Not during quarter close"); err != nil {
		t.Fatal(err)
	}
	if got := approvalSummary(e.sim.Approvals("CHG0030001")); !slices.Equal(got, []string{"assess:maria.manager:rejected",
		"assess:maria.manager:approved", "authorize:carl.cab:rejected", "authorize:maria.manager:not_required"}) {
		t.Fatalf("approvals %v", got)
	}
	if c, _ := e.sim.Change("CHG0030001"); c["state"] != "-5" || c["approval"] != "rejected" {
		t.Fatalf("after CAB rejection %v", c)
	}
	// On hold blocks progress but not cancellation.
	e.must(http.StatusOK, http.MethodPatch, table+"change_request/"+id, map[string]any{"on_hold": true, "on_hold_reason": "Waiting for vendor"})
	_, detail = apiErr(t, e.patchChange(id, "-4", http.StatusBadRequest))
	if !strings.Contains(detail, "Change is not on hold (the change is on hold: Waiting for vendor)") {
		t.Fatalf("on hold: %q", detail)
	}
	chg = result(e.patchChange(id, "4", http.StatusOK))
	if disp(chg, "state") != "Canceled" || val(chg, "active") != "false" {
		t.Fatalf("canceled %v", chg)
	}
	// Emergency changes go straight to Authorize.
	em := result(e.must(http.StatusOK, http.MethodPost, chgAPI+"/emergency", map[string]any{"short_description": "Stop the loop"}))
	if got := strs(e.nextState(val(em, "sys_id"))["available_states"]); !slices.Equal(got, []string{"-5", "-3", "4"}) {
		t.Fatalf("emergency next states %v", got)
	}
	e.patchChange(val(em, "sys_id"), "-3", http.StatusOK)
	if got := approvalSummary(e.sim.Approvals(val(em, "number"))); len(got) != 2 {
		t.Fatalf("emergency approvals %v", got)
	}
	// The Approve helper reports what it cannot do.
	for _, tc := range [][2]string{{"CHG9", "carl.cab"}, {val(em, "number"), "nobody"}, {val(em, "number"), "sam.servicedesk"}} {
		if err := e.sim.Approve(tc[0], tc[1], true, ""); err == nil {
			t.Errorf("Approve(%s, %s) succeeded", tc[0], tc[1])
		}
	}
	// The type of an existing change is not writable; a bad type is refused on create.
	e.must(http.StatusOK, http.MethodPatch, table+"change_request/"+val(em, "sys_id"), map[string]any{"type": "standard"})
	if c, _ := e.sim.Change(val(em, "number")); c["type"] != "emergency" {
		t.Errorf("type changed to %s", c["type"])
	}
	code, _, body = e.call(http.MethodPost, table+"change_request", map[string]any{"type": "urgent"})
	if msg, _ := apiErr(t, body); code != http.StatusBadRequest || msg != "Invalid change type" {
		t.Errorf("bad type %d %v", code, body)
	}
	// Creation always starts in New.
	tbl := result(e.must(http.StatusCreated, http.MethodPost, table+"change_request", map[string]any{"state": "-1"}))
	if tbl["state"] != "-5" || tbl["type"] != "normal" {
		t.Errorf("table create %v", tbl)
	}
}

func TestStandardChange(t *testing.T) {
	e := newEnv(t)
	tmpls := results(e.get(chgAPI + "/standard/template"))
	if got := column(tmpls, "name"); len(got) != 3 {
		t.Fatalf("templates %v", got)
	}
	tmpl := e.id("std_change_producer_version", "Update interface description")
	chg := result(e.must(http.StatusOK, http.MethodPost, chgAPI+"/standard/"+tmpl, map[string]any{
		"short_description": "Describe Gi1/0/12 on lon-b1-acc-01", "cmdb_ci": "lon-b1-acc-01", "type": "normal"}))
	id := val(chg, "sys_id")
	if val(chg, "type") != "standard" || val(chg, "approval") != "approved" || disp(chg, "risk") != "Low" ||
		val(chg, "short_description") != "Describe Gi1/0/12 on lon-b1-acc-01" ||
		!strings.HasPrefix(val(chg, "implementation_plan"), "1. Render the Interface-Description template") ||
		val(chg, "std_change_producer_version") != tmpl ||
		disp(chg, "std_change_producer_version") != "Update interface description" {
		t.Fatalf("standard change %v", chg)
	}
	if got := strs(e.nextState(id)["available_states"]); !slices.Equal(got, []string{"-5", "-2", "4"}) {
		t.Fatalf("standard next states %v", got)
	}
	_, detail := apiErr(t, e.patchChange(id, "-4", http.StatusBadRequest))
	if !strings.Contains(detail, "the standard change model does not allow it; allowed next states are Scheduled, Canceled") {
		t.Fatalf("standard to Assess: %q", detail)
	}
	for _, st := range []string{"-2", "-1", "0"} {
		e.patchChange(id, st, http.StatusOK)
	}
	e.patchChange(id, "3", http.StatusOK, "close_code", "successful", "close_notes", "Done")
	if len(e.sim.Approvals(val(chg, "number"))) != 0 {
		t.Error("a standard change asked for approvals")
	}
	// Lists by type and by field.
	if got := column(results(e.get(chgAPI+"/standard")), "number"); len(got) != 2 {
		t.Errorf("standard changes %v", got)
	}
	rows := results(e.get(chgAPI + qs("state", "-2")))
	if len(rows) != 1 || val(rows[0], "number") != "CHG0000001" || disp(rows[0], "assignment_group") != "Network Operations" {
		t.Errorf("Scheduled changes %v", rows)
	}
	rows = results(e.get(chgAPI + qs("sysparm_query", "numberSTARTSWITHCHG003^ORDERBYDESCnumber")))
	if len(rows) != 1 || val(rows[0], "number") != val(chg, "number") {
		t.Errorf("query %v", rows)
	}
	if got := result(e.get(chgAPI + "/normal/" + e.id("change_request", "CHG0000001"))); val(got, "number") != "CHG0000001" {
		t.Errorf("typed get %v", got)
	}
	if code, _, _ := e.call(http.MethodGet, chgAPI+"/standard/"+e.id("change_request", "CHG0000001"), nil); code != http.StatusNotFound {
		t.Errorf("a normal change through /standard: %d", code)
	}
	// Unknown and inactive templates.
	code, _, body := e.call(http.MethodPost, chgAPI+"/standard/"+strings.Repeat("0", 32), map[string]any{})
	if msg, _ := apiErr(t, body); code != http.StatusNotFound || msg != "No Record found" {
		t.Errorf("unknown template %d %v", code, body)
	}
	code, _, _ = e.call(http.MethodPost, chgAPI+"/standard/"+e.id("std_change_producer_version", "Reload access point"), map[string]any{})
	if code != http.StatusBadRequest {
		t.Errorf("inactive template %d", code)
	}
}

func TestCIAssociation(t *testing.T) {
	e := newEnv(t)
	chg := e.id("change_request", "CHG0000001")
	core, dist, wan := e.id("cmdb_ci", "lon-b1-core-01"), e.id("cmdb_ci", "nyc-hq-dist-01"), e.id("cmdb_ci", "wan-lon-nyc-01")
	v := e.must(http.StatusCreated, http.MethodPost, chgAPI+"/"+chg+"/ci", map[string]any{
		"cmdb_ci_sys_ids": core + "," + dist, "association_type": "affected"})
	if got := results(v); len(got) != 2 || disp(got[0], "ci_item") != "lon-b1-core-01" || disp(got[0], "task") != "CHG0000001" {
		t.Fatalf("created %v", got)
	}
	// Already associated CIs are skipped; an array is accepted too.
	v = e.must(http.StatusCreated, http.MethodPost, chgAPI+"/"+chg+"/ci", map[string]any{
		"cmdb_ci_sys_ids": []string{core, wan}, "association_type": "affected"})
	if got := results(v); len(got) != 1 || val(got[0], "ci_item") != wan {
		t.Fatalf("second association %v", got)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"unknown CI", map[string]any{"cmdb_ci_sys_ids": e.id("cmdb_ci", "sjc-b-rtr-01") + "," + strings.Repeat("a", 32)}},
		{"impacted", map[string]any{"cmdb_ci_sys_ids": core, "association_type": "impacted"}},
		{"no ids", map[string]any{"association_type": "affected"}},
	} {
		code, _, body := e.call(http.MethodPost, chgAPI+"/"+chg+"/ci", tc.body)
		apiErr(t, body)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %v", tc.name, code, body)
		}
	}
	list := results(e.get(chgAPI + "/" + chg + "/ci"))
	var names []string
	for _, r := range list {
		names = append(names, disp(r, "ci_item"))
	}
	if !slices.Equal(names, []string{"lon-b1-acc-02", "lon-b1-core-01", "nyc-hq-dist-01", "wan-lon-nyc-01"}) {
		t.Fatalf("associated CIs %v", names)
	}
	rows := results(e.get(table + "task_ci" + qs("sysparm_query", "task.number=CHG0000001^ci_item.name=nyc-hq-dist-01")))
	if len(rows) != 1 {
		t.Errorf("task_ci query %v", rows)
	}
	if code, _, _ := e.call(http.MethodGet, chgAPI+"/"+strings.Repeat("b", 32)+"/ci", nil); code != http.StatusNotFound {
		t.Errorf("unknown change: %d", code)
	}
}

// ---- faults and controls ---------------------------------------------------------

func TestFaults(t *testing.T) {
	e := newEnv(t)
	path := table + "incident" + qs("sysparm_limit", "1")

	e.sim.FailNext(http.StatusServiceUnavailable, 2)
	for i := range 2 {
		code, _, v := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "during outage"})
		if msg, _ := apiErr(t, v); code != http.StatusServiceUnavailable || msg != "Service Unavailable" {
			t.Fatalf("failure %d: %d %v", i, code, v)
		}
	}
	e.get(path)
	if _, ok := e.sim.Incident("INC0010001"); ok {
		t.Fatal("a failed request created a record")
	}

	// FailNextWrites lets reads through and fails the next write.
	e.sim.FailNextWrites(http.StatusInternalServerError, 1)
	e.get(path)
	if code, _, _ := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "x"}); code != http.StatusInternalServerError {
		t.Fatalf("write after FailNextWrites: %d", code)
	}
	if code, _, _ := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "x"}); code != http.StatusCreated {
		t.Fatalf("second write: %d", code)
	}

	e.sim.Throttle(2, 1500*time.Millisecond)
	for i := range 2 {
		code, h, v := e.call(http.MethodGet, path, nil)
		msg, _ := apiErr(t, v)
		if code != http.StatusTooManyRequests || msg != "Rate limit exceeded" || h.Get("Retry-After") != "2" ||
			h.Get("X-RateLimit-Limit") == "" || h.Get("X-RateLimit-Remaining") != "0" ||
			h.Get("X-RateLimit-Reset") != fmt.Sprint(e.clk.Now().Unix()+2) {
			t.Fatalf("throttled %d: %d %v %v", i, code, h, v)
		}
	}
	// The token endpoint is never throttled.
	e.sim.Throttle(1, time.Second)
	if code, _ := e.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}}); code != http.StatusOK {
		t.Fatalf("token while throttled: %d", code)
	}
	if code, _, _ := e.call(http.MethodGet, path, nil); code != http.StatusTooManyRequests {
		t.Fatalf("throttle should apply to the next API request, got %d", code)
	}
	e.get(path)

	e.sim.DenyWrites("incident")
	code, _, v := e.call(http.MethodPost, table+"incident", map[string]any{"short_description": "x"})
	if msg, detail := apiErr(t, v); code != http.StatusForbidden || msg != "Operation Failed" ||
		detail != "ACL Exception Insert Failed due to security constraints" {
		t.Fatalf("denied insert: %d %v", code, v)
	}
	code, _, v = e.call(http.MethodPatch, table+"incident/"+e.id("incident", "INC0000002"), map[string]any{"urgency": "1"})
	if _, detail := apiErr(t, v); code != http.StatusForbidden || detail != "ACL Exception Update Failed due to security constraints" {
		t.Fatalf("denied update: %d %v", code, v)
	}
	e.get(path) // reads still work
	e.sim.AllowWrites("incident")
	e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{"short_description": "x"})

	e.sim.DenyWrites("change_request")
	if code, _, _ := e.call(http.MethodPost, chgAPI+"/normal", map[string]any{"short_description": "x"}); code != http.StatusForbidden {
		t.Fatalf("denied change create: %d", code)
	}
	e.sim.DenyWrites("task_ci")
	if code, _, _ := e.call(http.MethodPost, chgAPI+"/"+e.id("change_request", "CHG0000001")+"/ci",
		map[string]any{"cmdb_ci_sys_ids": e.id("cmdb_ci", "lon-b1-core-01")}); code != http.StatusForbidden {
		t.Fatalf("denied CI association: %d", code)
	}
}

func TestRoutingAndErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		body         any
		code         int
		msg          string
	}{
		{http.MethodGet, table + "no_such_table", nil, 400, "Invalid table no_such_table"},
		{http.MethodGet, table + "incident/" + strings.Repeat("0", 32), nil, 404, "No Record found"},
		{http.MethodGet, table + "incident/" + e.id("change_request", "CHG0000001"), nil, 404, "No Record found"},
		{http.MethodPatch, table + "incident/" + strings.Repeat("0", 32), map[string]any{}, 404, "No Record found"},
		{http.MethodDelete, table + "incident/" + e.id("incident", "INC0000001"), nil, 405, "Method not Supported"},
		{http.MethodPut, table + "incident", nil, 405, "Method not Supported"},
		{http.MethodGet, "/api/now/stats/incident", nil, 400, "Requested URI does not represent any resource"},
		{http.MethodGet, chgAPI + "/" + strings.Repeat("0", 32) + "/nextstate", nil, 404, "No Record found"},
		{http.MethodPost, chgAPI, map[string]any{}, 405, "Method not Supported"},
		{http.MethodGet, chgAPI + "/a/b/c", nil, 400, "Requested URI does not represent any resource"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, _, v := e.with(t).call(tc.method, tc.path, tc.body)
			if msg, _ := apiErr(t, v); code != tc.code || msg != tc.msg {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}
	// Invalid JSON.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+table+"incident", strings.NewReader("{nope"))
	req.Header.Set("Authorization", e.auth)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if msg, _ := apiErr(t, decode(t, b)); resp.StatusCode != http.StatusBadRequest || msg != "Exception while reading request" {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, b)
	}
	// Versioned URLs and trailing slashes.
	e.get("/api/now/v2/table/incident/")
	e.get("/api/sn_chg_rest/v1/change")
	if code, _, _ := e.call(http.MethodGet, "/oauth_token.do", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", code)
	}
}

func TestRequestCountingAndAccessors(t *testing.T) {
	e := newEnv(t)
	e.get(table + "incident")
	e.get(table + "incident/" + e.id("incident", "INC0000001"))
	e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{})
	e.get(chgAPI)
	e.token(url.Values{"grant_type": {"client_credentials"}})
	for _, tc := range []struct {
		method, prefix string
		want           int
	}{
		{"GET", table + "incident", 2},
		{"POST", table + "incident", 1},
		{"", table + "incident", 3},
		{"", "/api/", 4},
		{"GET", chgAPI, 1},
		{"", "/oauth_token.do", 1},
		{"DELETE", "/", 0},
	} {
		if got := e.sim.Requests(tc.method, tc.prefix); got != tc.want {
			t.Errorf("Requests(%q, %q) = %d, want %d", tc.method, tc.prefix, got, tc.want)
		}
	}
	if _, ok := e.sim.Incident("INC0000099"); ok {
		t.Error("Incident of an unknown number")
	}
	if c, ok := e.sim.Change("CHG0000001"); !ok || c["state"] != "-2" || c["approval"] != "approved" {
		t.Errorf("seeded change %v", c)
	}
	r, ok := e.sim.Record("cmdb_ci", e.id("cmdb_ci", "sjc-b-rtr-01"))
	if !ok || r["serial_number"] != "FDO2540M0PQ" || r["sys_class_name"] != "cmdb_ci_netgear" {
		t.Errorf("Record %v", r)
	}
	if _, ok := e.sim.Record("nope", "x"); ok {
		t.Error("Record of an unknown table")
	}
	if _, ok := e.sim.Lookup("nope", "x"); ok {
		t.Error("Lookup of an unknown table")
	}
	// Seeded ids are stable across simulators.
	if other := New(Options{}); func() string { id, _ := other.Lookup("sys_user", "carl.cab"); return id }() != e.id("sys_user", "carl.cab") {
		t.Error("seeded sys_ids differ between simulators")
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
					e.must(http.StatusCreated, http.MethodPost, table+"incident", map[string]any{"short_description": "load"})
				case 1:
					e.get(table + "cmdb_ci" + qs("sysparm_query", "nameSTARTSWITHlon"))
				case 2:
					e.get(chgAPI + "/" + e.id("change_request", "CHG0000001") + "/nextstate")
					_ = e.sim.Requests("", "/api")
				case 3:
					e.clk.Advance(time.Second)
					_, _ = e.sim.Incident("INC0000001")
				}
			}
		}()
	}
	wg.Wait()
	got := results(e.get(table + "incident" + qs("sysparm_query", "numberSTARTSWITHINC001")))
	numbers := column(got, "number")
	slices.Sort(numbers)
	if len(numbers) != 10 || numbers[0] != "INC0010001" || numbers[9] != "INC0010010" {
		t.Fatalf("numbers %v", numbers)
	}
}

func TestChangeWritesAndDates(t *testing.T) {
	e := newEnv(t)
	chg := result(e.must(http.StatusOK, http.MethodPost, chgAPI+"/normal", map[string]any{
		"start_date": "2025-06-10", "end_date": "2025-06-10T23:00:00Z", "approval": "approved", "on_hold": false}))
	id := val(chg, "sys_id")
	if val(chg, "start_date") != "2025-06-10 00:00:00" || val(chg, "end_date") != "" || val(chg, "approval") != "not requested" {
		t.Errorf("dates/approval %v %v %v", chg["start_date"], chg["end_date"], chg["approval"])
	}
	if got := strs(chg["__meta"].(map[string]any)["ignoredAttributes"]); !slices.Equal(got, []string{"approval", "end_date"}) {
		t.Errorf("ignored %v", got)
	}
	chg = result(e.must(http.StatusOK, http.MethodPatch, chgAPI+"/normal/"+id, map[string]any{
		"end_date": "2025-06-10 23:30:00", "work_notes": "Window agreed with the site"}))
	if val(chg, "end_date") != "2025-06-10 23:30:00" || !strings.Contains(disp(chg, "work_notes"), "Window agreed") ||
		val(chg, "work_notes") != "" {
		t.Errorf("patched %v %v", chg["end_date"], chg["work_notes"])
	}
	if got := result(e.get(chgAPI + "/" + id)); val(got, "number") != val(chg, "number") {
		t.Errorf("get %v", got)
	}
	if code, _, _ := e.call(http.MethodPatch, chgAPI+"/"+strings.Repeat("c", 32), map[string]any{}); code != http.StatusNotFound {
		t.Errorf("patch of an unknown change: %d", code)
	}
	if code, _, _ := e.call(http.MethodPatch, chgAPI+"/standard/"+id, map[string]any{}); code != http.StatusNotFound {
		t.Errorf("patch of a normal change through /standard: %d", code)
	}
}
