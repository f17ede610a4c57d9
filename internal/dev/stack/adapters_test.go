package stack_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// RADKit through the dev edge: a network engineer's commands run in their normal form; a
// command outside the engineer's patterns, or one that chains another, is refused by the
// policy with its reason and never reaches the adapter.
func TestRADKitThroughTheEdge(t *testing.T) {
	s, rec := start(t)
	nina := connectTo(t, s, "radkit", "nina", "2025-11-25")
	var out struct {
		Devices []struct {
			Device   string `json:"device"`
			Status   string `json:"status"`
			Commands []struct {
				Command, Status, Output string
			} `json:"commands"`
		} `json:"devices"`
	}
	structured(t, nina, "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"sh ver"}}, &out)
	if b, _ := json.Marshal(out); len(out.Devices) != 1 || len(out.Devices[0].Commands) != 1 ||
		out.Devices[0].Commands[0].Command != "show version" || out.Devices[0].Commands[0].Status != "ok" ||
		!strings.Contains(out.Devices[0].Commands[0].Output, "Cisco IOS") {
		t.Fatalf("sh ver: %s", b)
	}
	before := len(rec.all())
	denied(t, nina, "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"reload"}},
		`command "reload" (normal form "reload") is not allowed`)
	denied(t, nina, "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"show version; reload"}},
		`is refused`)
	denied(t, nina, "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"show run\nreload"}},
		`is refused`)
	if n := len(rec.all()); n != before {
		t.Fatalf("%d refused calls reached an adapter", n-before)
	}
	// Catalyst Center's command runner is held to the same patterns.
	cc := connectTo(t, s, "catalyst-center", "nina", "2025-11-25")
	before = len(rec.all())
	denied(t, cc, "run_show_commands", map[string]any{"device_ids": []string{"x"}, "commands": []string{"configure terminal"}},
		"is not allowed for your roles")
	if n := len(rec.all()); n != before {
		t.Fatalf("a refused command reached Catalyst Center's adapter")
	}
}

// GitHub through the dev edge: a developer reads issues; writes go only to listed
// repositories; merging needs MFA, which dana's sign-in lacks; a network engineer has no grant
// on github.
func TestGitHubThroughTheEdge(t *testing.T) {
	s, _ := start(t)
	dana := connectTo(t, s, "github", "dana", "2025-11-25")
	var issues struct {
		Issues []struct {
			Number int    `json:"number"`
			Title  string `json:"title"`
		} `json:"issues"`
	}
	structured(t, dana, "list_issues", map[string]any{"owner": "gatehouse-net", "repo": "network-templates"}, &issues)
	found := false
	for _, i := range issues.Issues {
		found = found || strings.Contains(i.Title, "Login banner")
	}
	if !found {
		t.Fatalf("open issues: %+v", issues)
	}
	denied(t, dana, "create_issue", map[string]any{"owner": "acme-corp", "repo": "firewall-rules", "title": "x"},
		"acme-corp/firewall-rules, which is not in gatehouse.github.writable_repos")
	denied(t, dana, "merge_pull_request", map[string]any{"owner": "gatehouse-net", "repo": "network-templates", "number": 3},
		"multi-factor")
	tok, err := s.Token("nina")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, s.ServerURL("github"), map[string]string{"Authorization": "Bearer " + tok},
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	// deny_mode jsonrpc: the refusal is a JSON-RPC error echoing the id.
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"code":-32003`) ||
		!strings.Contains(string(body), `grants access to server \"github\"`) {
		t.Fatalf("nina on github: %s %s", resp.Status, body)
	}
}
