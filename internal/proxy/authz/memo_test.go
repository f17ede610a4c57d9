package authz_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
)

func memoCount(t *testing.T, h *harness, result string) float64 {
	t.Helper()
	mfs, err := h.svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_authz_decision_memo_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "result", result) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// The same question from another caller is answered from the memo, with that caller's own
// identity headers and decision id; a question whose answer reads arguments is evaluated
// every time, and decides each call on its own arguments.
func TestDecisionMemoThroughCheck(t *testing.T) {
	h := newHarness(t)
	alice := h.token(cc, "alice", []string{"network-engineers"})
	bob := h.token(cc, "bob", []string{"network-engineers"})
	a, _ := allowed(t, h.check(mcpPost(cc, alice, callBody(1, "list_devices", map[string]any{"limit": 5}))))
	if memoCount(t, h, "stored") != 1 {
		t.Fatalf("the first list_devices was not remembered: stored=%v uncacheable=%v", memoCount(t, h, "stored"), memoCount(t, h, "uncacheable"))
	}
	b, _ := allowed(t, h.check(mcpPost(cc, bob, callBody(2, "list_devices", map[string]any{"site": "hq"}))))
	if memoCount(t, h, "hit") != 1 {
		t.Fatal("bob's list_devices was evaluated again")
	}
	if b[authz.HeaderSubject] != "bob" || b[authz.HeaderDecisionID] == a[authz.HeaderDecisionID] || b["x-gatehouse-roles"] != "network-engineers" {
		t.Fatalf("bob's remembered allow: %v (alice's: %v)", b, a)
	}

	// Denials are remembered too, with their reasons, and echo each request's own id.
	sam := h.token(cc, "sam", []string{"service-desk"})
	sue := h.token(cc, "sue", []string{"service-desk"})
	first := denied(t, h.check(mcpPost(cc, sam, callBody("s-1", "deploy_template", nil))), 200).rpcError(t, "s-1", -32003)
	second := denied(t, h.check(mcpPost(cc, sue, callBody("s-2", "deploy_template", nil))), 200).rpcError(t, "s-2", -32003)
	if memoCount(t, h, "hit") != 2 || first["message"] != second["message"] {
		t.Fatalf("remembered denial: hits %v, %q against %q", memoCount(t, h, "hit"), second["message"], first["message"])
	}

	// ServiceNow's priority rule reads the arguments: never remembered, decided per call.
	desk := h.token("servicenow", "dana", []string{"service-desk"})
	inc := func(id, priority int) []byte {
		return []byte(callBody(id, "create_incident", map[string]any{"short_description": "link down", "priority": priority}))
	}
	allowed(t, h.check(mcpPost("servicenow", desk, string(inc(3, 3)))))
	denied(t, h.check(mcpPost("servicenow", desk, string(inc(4, 1)))), 200)
	allowed(t, h.check(mcpPost("servicenow", desk, string(inc(5, 2)))))
	if got := memoCount(t, h, "uncacheable"); got != 3 {
		t.Fatalf("create_incident: uncacheable=%v, want 3", got)
	}
}
