package stack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
)

func connectTo(t testing.TB, s *stack.Stack, server, user, version string) *client.Client {
	t.Helper()
	tok, err := s.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return kittest.Connect(t, s.ServerURL(server), version, map[string]string{"Authorization": "Bearer " + tok})
}

// structured calls a tool that must succeed and decodes its result.
func structured(t *testing.T, c *client.Client, tool string, args map[string]any, out any) {
	t.Helper()
	res, err := callTool(c, tool, args)
	if err != nil || res.IsError {
		t.Fatalf("%s: %v %+v", tool, err, res)
	}
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %s: %v", tool, b, err)
		}
	}
}

// denied calls a tool that the policy must refuse, with a reason containing want.
func denied(t *testing.T, c *client.Client, tool string, args map[string]any, want string) {
	t.Helper()
	_, err := callTool(c, tool, args)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: want a denial saying %q, got %v", tool, want, err)
	}
}

// Every ServiceNow tool through the dev edge with real tokens, on every revision: the
// service desk may use all of them (priority 1 only with MFA), network engineers read and
// open changes (nina has MFA, so a normal one too) but write nothing else, developers get
// nothing. The adapter finds the caller's ServiceNow user by the email the edge forwards.
func TestServiceNowThroughTheEdge(t *testing.T) {
	s, rec := start(t)
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			sam := connectTo(t, s, "servicenow", "sam", v)
			tools, err := sam.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(tools.Tools) != 16 {
				t.Fatalf("tools/list: %v (%d tools)", err, len(tools.Tools))
			}
			var inc struct {
				Number, Caller, Priority string
			}
			structured(t, sam, "create_incident", map[string]any{"short_description": "Printer VLAN unreachable on floor 3",
				"priority": 3, "configuration_item": "lon-b1-acc-01"}, &inc)
			if inc.Caller != "Sam Okafor" || !strings.HasPrefix(inc.Priority, "3") {
				t.Fatalf("created: %+v", inc)
			}
			denied(t, sam, "create_incident", map[string]any{"short_description": "Core down", "priority": 1},
				"needs multi-factor authentication")
			var mine struct {
				Incidents []struct{ Number string } `json:"incidents"`
			}
			structured(t, sam, "list_my_incidents", nil, &mine)
			if len(mine.Incidents) == 0 || mine.Incidents[0].Number != inc.Number {
				t.Fatalf("my incidents: %+v, want %s first", mine, inc.Number)
			}
			for _, c := range []struct {
				tool string
				args map[string]any
			}{
				{"search_incidents", map[string]any{"state": "open"}},
				{"get_incident", map[string]any{"number": inc.Number}},
				{"add_incident_note", map[string]any{"number": inc.Number, "text": "Checked the trunk"}},
				{"update_incident", map[string]any{"number": inc.Number, "priority": 2, "assignment_group": "Network Operations"}},
				{"resolve_incident", map[string]any{"number": inc.Number, "close_code": "Solution provided", "close_notes": "VLAN re-added"}},
				{"close_incident", map[string]any{"number": inc.Number}},
				{"search_changes", map[string]any{"state": "open"}},
				{"get_change", map[string]any{"number": "CHG0000001"}},
				{"list_change_approvals", map[string]any{"number": "CHG0000001"}},
				{"list_standard_change_templates", nil},
				{"find_configuration_items", map[string]any{"ip_address": "10.10.0.11"}},
				{"get_ci_relationships", map[string]any{"name": "lon-b1-acc-01"}},
			} {
				structured(t, sam, c.tool, c.args, nil)
			}
			var ch struct{ Number, State string }
			structured(t, sam, "create_change", map[string]any{"type": "standard", "template": "Update interface description",
				"short_description": "Describe printer ports", "configuration_items": []string{"lon-b1-acc-01"},
				"planned_start": "2026-12-02T20:00:00Z", "planned_end": "2026-12-02T21:00:00Z"}, &ch)
			structured(t, sam, "move_change", map[string]any{"number": ch.Number, "to": "scheduled"}, &ch)
			if ch.State != "Scheduled" {
				t.Fatalf("moved: %+v", ch)
			}

			nina := connectTo(t, s, "servicenow", "nina", v)
			structured(t, nina, "search_incidents", map[string]any{"configuration_item": "lon-b1-acc-02"}, nil)
			structured(t, nina, "create_change", map[string]any{"type": "normal", "short_description": "Replace lon-b1-acc-02 PSU",
				"configuration_items": []string{"lon-b1-acc-02"}, "planned_start": "2026-12-03T22:00:00Z",
				"planned_end": "2026-12-03T23:00:00Z", "implementation_plan": "swap PSU B", "backout_plan": "reinsert old PSU"}, nil)
			denied(t, nina, "create_incident", map[string]any{"short_description": "x"}, `needs "write" access`)
			denied(t, nina, "move_change", map[string]any{"number": ch.Number, "to": "implement"}, `needs "write" access`)

			tok, _ := s.Token("dana")
			resp, body := post(t, s.ServerURL("servicenow"), map[string]string{"Authorization": "Bearer " + tok,
				"MCP-Protocol-Version": "2025-06-18"}, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `grants access to server \"servicenow\"`) {
				t.Fatalf("developer tools/list: %d %s", resp.StatusCode, body)
			}
		})
	}
	// The adapter saw the verified email of each caller, never a token.
	var emails []string
	for _, h := range rec.all() {
		if h.Get("Authorization") != "" {
			t.Fatal("an adapter received the Authorization header")
		}
		if e := h.Get("X-Gatehouse-Email"); e != "" && !contains(emails, e) {
			emails = append(emails, e)
		}
	}
	if !contains(emails, "sam@example.com") || !contains(emails, "nina@example.com") {
		t.Fatalf("emails forwarded to adapters: %v", emails)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
