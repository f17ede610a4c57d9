package servicenow_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
)

// clock is the simulator's and the client's time, moved by tests (tokens expire on it).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// secrets is a SecretSource a test can change.
type secrets struct {
	mu          sync.Mutex
	secret      kit.Secret
	invalidated int
}

func (s *secrets) Get(context.Context, string) (kit.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secret, nil
}

func (s *secrets) Invalidate(string) { s.mu.Lock(); s.invalidated++; s.mu.Unlock() }

var oauthSecret = kit.Secret{"client_id": sim.DefaultClientID, "client_secret": sim.DefaultClientSecret}

type env struct {
	sim     *sim.Sim
	clock   *clock
	secrets *secrets
	base    string
}

func start(t *testing.T, secret kit.Secret) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	simulator := sim.New(sim.Options{Now: clk.Now})
	up := httptest.NewServer(simulator)
	t.Cleanup(up.Close)
	sec := &secrets{secret: secret}
	s := kit.NewServer(kit.Options{Name: servicenow.ServerName, Version: "test", Logger: zerolog.Nop()})
	c, err := servicenow.NewClient(up.URL, sec, s.Metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c.SetClock(clk.Now)
	c.API().Backoff = time.Millisecond
	servicenow.Register(s, c)
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
	return &env{sim: simulator, clock: clk, secrets: sec, base: "http://" + l.Addr().String()}
}

// connect opens a client as the edge would forward it: with the caller's email.
func (e *env) connect(t *testing.T, version, email string) *client.Client {
	return kittest.Connect(t, e.base+kit.Path, version, map[string]string{"X-Gatehouse-Email": email})
}

// call is kittest.Call: a tool call that must (or must not) be an error result.
var call = kittest.Call

type incidents struct {
	Incidents []servicenow.Incident `json:"incidents"`
	Total     int                   `json:"total"`
	Next      int                   `json:"next_offset"`
}

// Every tool, called through an mcp-go client against the simulator, on every revision.
func TestEveryTool(t *testing.T) {
	e := start(t, oauthSecret)
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			c := e.connect(t, v, "sam@example.com")
			tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(tools.Tools) != 16 {
				t.Fatalf("tools/list: %v, %d tools", err, len(tools.Tools))
			}

			var open incidents
			call(t, c, "search_incidents", map[string]any{"state": "open", "limit": 2}, &open, false)
			if len(open.Incidents) != 2 || open.Total < 3 || open.Next != 2 {
				t.Fatalf("open incidents page: %+v", open)
			}
			var inc servicenow.Incident
			call(t, c, "get_incident", map[string]any{"number": "inc0000001"}, &inc, false)
			if inc.Number != "INC0000001" || inc.State != "In Progress" || inc.ConfigItem != "lon-b1-acc-02" ||
				len(inc.Notes) == 0 || !strings.Contains(inc.URL, "sys_id%3D") {
				t.Fatalf("get_incident: %+v", inc)
			}

			var created servicenow.Incident
			call(t, c, "create_incident", map[string]any{"short_description": "Access switch port flapping",
				"priority": 3, "configuration_item": "lon-b1-acc-01", "assignment_group": "Network Operations"}, &created, false)
			if !strings.HasPrefix(created.Number, "INC001") || created.Priority != "3 - Moderate" ||
				created.Caller != "Sam Okafor" || created.AssignmentGroup != "Network Operations" {
				t.Fatalf("create_incident: %+v", created)
			}
			var mine incidents
			call(t, c, "list_my_incidents", nil, &mine, false)
			if !containsIncident(mine.Incidents, created.Number) {
				t.Fatalf("list_my_incidents lacks %s: %+v", created.Number, mine)
			}
			call(t, c, "add_incident_note", map[string]any{"number": created.Number, "text": "Port Gi1/0/7 errdisabled"}, nil, false)
			e.clock.Advance(time.Second) // journal entries are ordered by their time
			call(t, c, "add_incident_note", map[string]any{"number": created.Number, "text": "We are on it", "kind": "comment"}, nil, false)
			var updated servicenow.Incident
			call(t, c, "update_incident", map[string]any{"number": created.Number, "priority": 2, "assigned_to": "nina.neteng",
				"state": "in_progress"}, &updated, false)
			if updated.Priority != "2 - High" || updated.AssignedTo != "Nina Petrova" || updated.State != "In Progress" {
				t.Fatalf("update_incident: %+v", updated)
			}
			call(t, c, "get_incident", map[string]any{"number": created.Number}, &inc, false)
			if len(inc.Notes) != 2 || inc.Notes[0].Kind != "comment" || inc.Notes[1].Text != "Port Gi1/0/7 errdisabled" {
				t.Fatalf("notes: %+v", inc.Notes)
			}
			var resolved servicenow.Incident
			call(t, c, "resolve_incident", map[string]any{"number": created.Number, "close_code": "Solution provided",
				"close_notes": "Replaced the patch cable"}, &resolved, false)
			if resolved.State != "Resolved" || resolved.CloseNotes != "Replaced the patch cable" {
				t.Fatalf("resolve_incident: %+v", resolved)
			}
			var closed servicenow.Incident
			call(t, c, "close_incident", map[string]any{"number": created.Number}, &closed, false)
			if closed.State != "Closed" {
				t.Fatalf("close_incident: %+v", closed)
			}

			var changes struct {
				Changes []servicenow.Change `json:"changes"`
			}
			call(t, c, "search_changes", map[string]any{"configuration_item": "lon-b1-acc-02"}, &changes, false)
			if len(changes.Changes) == 0 || changes.Changes[0].Number != "CHG0000001" {
				t.Fatalf("search_changes: %+v", changes)
			}
			var ch servicenow.Change
			call(t, c, "get_change", map[string]any{"number": "CHG0000001"}, &ch, false)
			if ch.State != "Scheduled" || len(ch.Approvals) == 0 || len(ch.AffectedCIs) == 0 || len(ch.NextStates) == 0 {
				t.Fatalf("get_change: %+v", ch)
			}
			var approvals struct {
				Approvals []servicenow.Approval `json:"approvals"`
			}
			call(t, c, "list_change_approvals", map[string]any{"number": "CHG0000001"}, &approvals, false)
			if len(approvals.Approvals) != len(ch.Approvals) || approvals.Approvals[0].State == "" {
				t.Fatalf("list_change_approvals: %+v", approvals)
			}
			var templates struct {
				Templates []servicenow.Template `json:"templates"`
			}
			call(t, c, "list_standard_change_templates", nil, &templates, false)
			if len(templates.Templates) < 2 {
				t.Fatalf("templates: %+v", templates)
			}
			var std servicenow.Change
			call(t, c, "create_change", map[string]any{"type": "standard", "template": "Update interface description",
				"short_description": "Describe uplinks on lon-b1-acc-01", "configuration_items": []string{"lon-b1-acc-01"},
				"planned_start": "2026-12-01T22:00:00Z", "planned_end": "2026-12-01T23:00:00Z"}, &std, false)
			if std.Type != "Standard" || std.State != "New" || std.ConfigItem != "lon-b1-acc-01" || len(std.AffectedCIs) != 1 {
				t.Fatalf("create_change: %+v", std)
			}
			var moved servicenow.Change
			call(t, c, "move_change", map[string]any{"number": std.Number, "to": "scheduled"}, &moved, false)
			if moved.State != "Scheduled" || !contains(moved.NextStates, "implement") {
				t.Fatalf("move_change: %+v", moved)
			}

			var cis struct {
				ConfigItems []servicenow.ConfigItem `json:"configuration_items"`
			}
			call(t, c, "find_configuration_items", map[string]any{"serial_number": "FCW2231G0AB"}, &cis, false)
			if len(cis.ConfigItems) != 1 || cis.ConfigItems[0].Name != "lon-b1-core-01" || cis.ConfigItems[0].IPAddress != "10.10.0.1" {
				t.Fatalf("by serial: %+v", cis)
			}
			call(t, c, "find_configuration_items", map[string]any{"ip_address": "10.20.0.1"}, &cis, false)
			if len(cis.ConfigItems) != 1 || cis.ConfigItems[0].Name != "nyc-hq-rtr-01" {
				t.Fatalf("by IP: %+v", cis)
			}
			call(t, c, "find_configuration_items", map[string]any{"name": "lon-b1-acc"}, &cis, false)
			if len(cis.ConfigItems) != 2 {
				t.Fatalf("by name: %+v", cis)
			}
			var rels servicenow.CIRelationships
			call(t, c, "get_ci_relationships", map[string]any{"name": "lon-b1-core-01"}, &rels, false)
			if rels.CI.Name != "lon-b1-core-01" || !hasRelationship(rels.Relationships, "Connected by", "lon-b1-acc-01") ||
				!hasRelationship(rels.Relationships, "Depends on", "wan-lon-nyc-01") {
				t.Fatalf("relationships: %+v", rels)
			}
		})
	}
}

func containsIncident(is []servicenow.Incident, number string) bool {
	for _, i := range is {
		if i.Number == number {
			return true
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func hasRelationship(rs []servicenow.Relationship, typ, ci string) bool {
	for _, r := range rs {
		if r.Type == typ && r.CI == ci {
			return true
		}
	}
	return false
}

// A normal change from creation to closure, with approvals in ServiceNow, a refused
// transition that says which ones are allowed, one that waits for approvals and says so, and
// a rejected approval that sends a second change back to New.
func TestChangeLifecycle(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "nina@example.com")
	normal := map[string]any{"type": "normal", "short_description": "Upgrade IOS-XE on lon-b1-core-01",
		"configuration_items": []string{"lon-b1-core-01", "lon-b1-acc-01"}, "risk": "moderate",
		"planned_start": "2026-12-05T22:00:00Z", "planned_end": "2026-12-06T01:00:00Z",
		"implementation_plan": "install add file flash:cat9k.bin activate commit", "backout_plan": "install rollback",
		"assignment_group": "Network Operations"}
	var ch servicenow.Change
	call(t, c, "create_change", normal, &ch, false)
	if ch.State != "New" || ch.Type != "Normal" || ch.Risk != "Moderate" || ch.RequestedBy != "Nina Petrova" || len(ch.AffectedCIs) != 2 {
		t.Fatalf("created: %+v", ch)
	}
	text := call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "implement"}, nil, true)
	if !strings.Contains(text, "cannot move from New to Implement") || !strings.Contains(text, "assess") {
		t.Fatalf("refused transition: %s", text)
	}
	call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "assess"}, &ch, false)
	if ch.State != "Assess" || ch.Approval != "Requested" {
		t.Fatalf("assess: %+v", ch)
	}
	text = call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "authorize"}, nil, true)
	if !strings.Contains(text, "cannot move from Assess to Authorize yet") || !strings.Contains(text, "approv") {
		t.Fatalf("waiting for approvals: %s", text)
	}
	approveAll(t, e, ch.Number)
	call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "authorize"}, &ch, false)
	approveAll(t, e, ch.Number)
	for _, st := range []string{"scheduled", "implement", "review"} {
		call(t, c, "move_change", map[string]any{"number": ch.Number, "to": st}, &ch, false)
		if !strings.EqualFold(ch.State, st) {
			t.Fatalf("to %s: %+v", st, ch)
		}
	}
	text = call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "closed"}, nil, true)
	if !strings.Contains(text, "close_code") {
		t.Fatalf("closing without a code: %s", text)
	}
	var closed servicenow.Change
	call(t, c, "move_change", map[string]any{"number": ch.Number, "to": "closed", "close_code": "successful",
		"close_notes": "Upgraded to 17.12.4"}, &closed, false)
	if closed.State != "Closed" || closed.CloseCode != "Successful" || len(closed.NextStates) != 0 {
		t.Fatalf("closed: %+v", closed)
	}
	var approvals struct {
		Approvals []servicenow.Approval `json:"approvals"`
	}
	call(t, c, "list_change_approvals", map[string]any{"number": ch.Number}, &approvals, false)
	if len(approvals.Approvals) < 2 || approvals.Approvals[0].State != "Approved" {
		t.Fatalf("approvals: %+v", approvals)
	}

	// Rejection: the change goes back to New with its approval rejected.
	var second servicenow.Change
	call(t, c, "create_change", normal, &second, false)
	call(t, c, "move_change", map[string]any{"number": second.Number, "to": "assess"}, nil, false)
	as := e.sim.Approvals(second.Number)
	if len(as) == 0 {
		t.Fatal("no approvals requested")
	}
	if err := e.sim.Approve(second.Number, as[0].Approver, false, "Not during the freeze"); err != nil {
		t.Fatal(err)
	}
	call(t, c, "get_change", map[string]any{"number": second.Number}, &second, false)
	if second.State != "New" || second.Approval != "Rejected" || !hasComment(second.Approvals, "Not during the freeze") {
		t.Fatalf("rejected: %+v", second)
	}
}

func hasComment(as []servicenow.Approval, text string) bool {
	for _, a := range as {
		if strings.Contains(a.Comments, text) {
			return true
		}
	}
	return false
}

// approveAll approves every pending approval of a change in the simulator, as its approvers.
func approveAll(t *testing.T, e *env, number string) {
	t.Helper()
	for _, a := range e.sim.Approvals(number) {
		if a.State == "requested" {
			if err := e.sim.Approve(number, a.Approver, true, "ok"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// OAuth tokens are renewed before they expire and after the instance forgets them, without
// the caller noticing; Basic credentials work too, and a rotated password is read again.
func TestTokensRenewedTransparently(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "sam@example.com")
	call(t, c, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
	if n := e.sim.Logins(); n != 1 {
		t.Fatalf("%d logins after the first call", n)
	}
	// Within a minute of expiry the token is renewed before use: no 401 is seen.
	e.clock.Advance(29*time.Minute + 30*time.Second)
	call(t, c, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
	if n := e.sim.Logins(); n != 2 {
		t.Fatalf("%d logins after nearing expiry, want 2", n)
	}
	// The instance drops every token: the 401 leads to one new login and the call succeeds.
	e.sim.ExpireTokens()
	call(t, c, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
	if n := e.sim.Logins(); n != 3 {
		t.Fatalf("%d logins after the tokens were dropped, want 3", n)
	}

	b := start(t, kit.Secret{"username": sim.DefaultUsername, "password": "old"})
	bc := b.connect(t, "2025-11-25", "")
	text := call(t, bc, "get_incident", map[string]any{"number": "INC0000001"}, nil, true)
	if !strings.Contains(text, "401") || !strings.Contains(text, "credentials were refused") {
		t.Fatalf("wrong Basic password: %s", text)
	}
	b.secrets.mu.Lock()
	b.secrets.secret = kit.Secret{"username": sim.DefaultUsername, "password": sim.DefaultPassword}
	b.secrets.mu.Unlock()
	call(t, bc, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
}

// A 429 is retried after Retry-After for reads, and surfaced when it persists.
func TestRateLimit(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "sam@example.com")
	call(t, c, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
	e.sim.Throttle(1, time.Second)
	call(t, c, "get_incident", map[string]any{"number": "INC0000001"}, nil, false)
	e.sim.Throttle(10, time.Second)
	text := call(t, c, "search_incidents", nil, nil, true)
	if !strings.Contains(text, "429") || !strings.Contains(text, "rate limited") || !strings.Contains(text, "3 attempts") {
		t.Fatalf("persistent 429: %s", text)
	}
}

// Writes: a failed update is sent once; a create whose outcome is unknown is looked up by its
// correlation id before it is sent again, so it never makes two records; a request_id makes
// a repeated call return the first record.
func TestWritesAreNotRepeated(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "sam@example.com")
	call(t, c, "get_incident", map[string]any{"number": "INC0000002"}, nil, false)
	patches := e.sim.Requests("PATCH", "/api/now/table/incident")
	e.sim.FailNextWrites(500, 1)
	text := call(t, c, "update_incident", map[string]any{"number": "INC0000002", "priority": 3}, nil, true)
	if !strings.Contains(text, "500") || e.sim.Requests("PATCH", "/api/now/table/incident") != patches+1 {
		t.Fatalf("failed update: %s (%d PATCHes)", text, e.sim.Requests("PATCH", "/api/now/table/incident")-patches)
	}

	posts := e.sim.Requests("POST", "/api/now/table/incident")
	e.sim.FailNextWrites(503, 1)
	var inc servicenow.Incident
	call(t, c, "create_incident", map[string]any{"short_description": "VPN down for remote staff", "request_id": "req-42"}, &inc, false)
	if e.sim.Requests("POST", "/api/now/table/incident") != posts+2 {
		t.Fatalf("%d POSTs for one create after a 503, want 2", e.sim.Requests("POST", "/api/now/table/incident")-posts)
	}
	var again servicenow.Incident
	call(t, c, "create_incident", map[string]any{"short_description": "VPN down for remote staff", "request_id": "req-42"}, &again, false)
	if again.Number != inc.Number || e.sim.Requests("POST", "/api/now/table/incident") != posts+2 {
		t.Fatalf("a repeated request_id created %s after %s", again.Number, inc.Number)
	}
	var list incidents
	call(t, c, "search_incidents", map[string]any{"text": "VPN down for remote staff"}, &list, false)
	if list.Total != 1 {
		t.Fatalf("%d incidents for one request", list.Total)
	}
}

// An ACL refusal is a clear tool error naming the record and the reason; so is a closed
// incident, which ServiceNow keeps read-only.
func TestRefusedWritesSaySo(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "sam@example.com")
	text := call(t, c, "add_incident_note", map[string]any{"number": "INC0000005", "text": "reopen?"}, nil, true)
	if !strings.Contains(text, "refused to change incident INC0000005") || !strings.Contains(text, "Closed") ||
		!strings.Contains(text, "ACL") {
		t.Fatalf("closed incident: %s", text)
	}
	e.sim.DenyWrites("incident")
	text = call(t, c, "update_incident", map[string]any{"number": "INC0000002", "assignment_group": "Service Desk"}, nil, true)
	if !strings.Contains(text, "not allowed") || !strings.Contains(text, "security constraints") {
		t.Fatalf("ACL 403: %s", text)
	}
	text = call(t, c, "close_incident", map[string]any{"number": "INC0000002"}, nil, true)
	if !strings.Contains(text, "only a resolved incident can be closed") {
		t.Fatalf("closing an open incident: %s", text)
	}
	text = call(t, c, "get_incident", map[string]any{"number": "INC9999999"}, nil, true)
	if !strings.Contains(text, "no incident has the number INC9999999") {
		t.Fatalf("unknown incident: %s", text)
	}
	c2 := e.connect(t, "2025-11-25", "")
	text = call(t, c2, "list_my_incidents", nil, nil, true)
	if !strings.Contains(text, "no email") {
		t.Fatalf("my incidents without an email: %s", text)
	}
}

// One snapshot per tool of what tools/list serves.
func TestToolSnaps(t *testing.T) {
	e := start(t, oauthSecret)
	c := e.connect(t, "2025-11-25", "")
	tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kittest.ToolSnaps(t, tools.Tools, "testdata/toolsnaps")
}
