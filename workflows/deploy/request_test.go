package deploy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

func baseRequest() deploy.Request {
	at := time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)
	return deploy.Request{
		TemplateID: "t-1", TemplateVersion: 3,
		Parameters: map[string]string{"b": "2", "a": "1"},
		DeviceIDs:  []string{"d-2", "d-1"},
		Window:     deploy.Window{Start: at, End: at.Add(2 * time.Hour)},
		Requester:  deploy.Identity{Subject: "alice", Email: "alice@example.com"},
		DecisionID: "dec-1",
	}
}

func TestHashIsCanonical(t *testing.T) {
	r := baseRequest()
	h := r.Hash()
	if len(h) != 64 {
		t.Fatalf("hash %q", h)
	}
	// A pinned value: the hash is a contract between the workflow and every approver's
	// client; changing what is hashed must be deliberate (and bump hashVersion).
	// The same value as Python's json.dumps(doc, sort_keys=True, separators=(",", ":")).
	if want := "671e9a26e04c93eadb1a41ba8bba780f5e1b208f47ea25d74c8e5bb61e48876f"; h != want {
		t.Errorf("hash %s, want %s", h, want)
	}
	html := baseRequest()
	html.Parameters = map[string]string{"banner": "<a & b>"}
	if !strings.Contains(string(deploy.CanonicalForTest(html)), `"banner":"<a & b>"`) {
		t.Errorf("canonical form escapes HTML: %s", deploy.CanonicalForTest(html))
	}
	same := r
	same.DeviceIDs = []string{"d-1", "d-2"}
	same.Parameters = map[string]string{"a": "1", "b": "2"}
	same.Requester = deploy.Identity{Subject: "bob"}
	same.DecisionID = "other"
	same.Summary = "words"
	loc := time.FixedZone("CET", 3600)
	same.Window = deploy.Window{Start: r.Window.Start.In(loc), End: r.Window.End.In(loc)}
	if same.Hash() != h {
		t.Error("device order, parameter order, time zone, requester, decision id or summary changed the hash")
	}
	for name, change := range map[string]func(*deploy.Request){
		"template":   func(r *deploy.Request) { r.TemplateID = "t-2" },
		"version":    func(r *deploy.Request) { r.TemplateVersion = 4 },
		"parameter":  func(r *deploy.Request) { r.Parameters = map[string]string{"a": "1", "b": "3"} },
		"new param":  func(r *deploy.Request) { r.Parameters = map[string]string{"a": "1", "b": "2", "c": ""} },
		"device":     func(r *deploy.Request) { r.DeviceIDs = []string{"d-1", "d-3"} },
		"fewer":      func(r *deploy.Request) { r.DeviceIDs = []string{"d-1"} },
		"window":     func(r *deploy.Request) { r.Window.End = r.Window.End.Add(time.Second) },
		"rollback":   func(r *deploy.Request) { r.Rollback = &deploy.Rollback{TemplateID: "t-1", TemplateVersion: 2} },
		"rb version": func(r *deploy.Request) { r.Rollback = &deploy.Rollback{TemplateID: "t-1", TemplateVersion: 1} },
	} {
		c := baseRequest()
		c.Rollback = &deploy.Rollback{TemplateID: "t-1", TemplateVersion: 2}
		if name == "rollback" {
			c.Rollback = nil
		}
		before := c.Hash()
		change(&c)
		if c.Hash() == before {
			t.Errorf("changing the %s kept the hash", name)
		}
	}
	// Parameter values cannot be shifted between names.
	a, b := baseRequest(), baseRequest()
	a.Parameters = map[string]string{"x": "1,y=2"}
	b.Parameters = map[string]string{"x": "1", "y": "2"}
	if a.Hash() == b.Hash() {
		t.Error("ambiguous parameter encoding")
	}
}

func TestRequestValidate(t *testing.T) {
	if err := baseRequest().Validate(); err != nil {
		t.Fatal(err)
	}
	r := deploy.Request{DeviceIDs: []string{"a", "a", ""}, Window: deploy.Window{Start: time.Now(), End: time.Now().Add(-time.Hour)},
		Rollback: &deploy.Rollback{}, Parameters: map[string]string{"": "x"}}
	err := r.Validate()
	for _, want := range []string{"template_id is required", "template_version must be", "names a twice", "empty id",
		"change_window ends", "rollback.template_id", "requester.subject", "parameters has an empty name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if err := (deploy.Approval{Required: true, Approvers: 11}).Validate(); err == nil {
		t.Error("11 approvers accepted")
	}
	if err := (deploy.Approval{Required: true, Timeout: 365 * 24 * time.Hour}).Validate(); err == nil {
		t.Error("a year of approval accepted")
	}
}

func TestWorkflowIDs(t *testing.T) {
	h := baseRequest().Hash()
	id := deploy.WorkflowID(h, "0123456789ab")
	if id != "deploy-"+h[:16]+"-0123456789ab" || deploy.CheckID(id) != nil {
		t.Fatalf("%s: %v", id, deploy.CheckID(id))
	}
	for _, bad := range []string{"", "deploy-", "other-" + h[:16] + "-0123456789ab", "deploy-" + h[:16] + "-0123",
		"deploy-" + h[:15] + "x-0123456789ab", "deploy-" + h[:16] + "-0123456789ab-x"} {
		if deploy.CheckID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestListQuery(t *testing.T) {
	q, err := deploy.Filter{Requester: "alice", AwaitingRole: "network-approvers"}.Query()
	want := "WorkflowType = 'DeployTemplate' AND GatehouseRequester = 'alice' AND GatehouseDeployState = 'awaiting_approval' AND GatehouseApproverRole IN ('network-approvers', '*')"
	if err != nil || q != want {
		t.Fatalf("%q %v", q, err)
	}
	if _, err := (deploy.Filter{Requester: "a' OR 1=1"}).Query(); err == nil {
		t.Error("quote accepted")
	}
	if _, err := (deploy.Filter{State: deploy.StateCompleted, AwaitingRole: "x"}).Query(); err == nil {
		t.Error("contradiction accepted")
	}
}

func TestStates(t *testing.T) {
	for s, want := range map[deploy.State]string{deploy.StateValidating: "working", deploy.StateAwaitingApproval: "working",
		deploy.StateDeploying: "working", deploy.StateCompleted: "completed", deploy.StateRejected: "failed",
		deploy.StateExpired: "failed", deploy.StateCanceled: "cancelled", deploy.StateFailed: "failed"} {
		if s.TaskStatus() != want {
			t.Errorf("%s → %s, want %s", s, s.TaskStatus(), want)
		}
	}
}
