package deployments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// The reference policy (policies/) and the adapter agree: what the policy decides for a call
// reaches the workflow through the adapter. A small edge evaluates data.gatehouse.authz as
// the authz service does (input.tool from this adapter's catalog entries) and forwards an
// allowed call with the policy's headers.

const policyDir = "../../policies"

// recorder is a Client that records what the adapter hands to Temporal.
type recorder struct {
	mu       sync.Mutex
	approval *deploy.Approval
	decision *deploy.Decision
	status   deploy.Status
}

func (r *recorder) StartWithKey(_ context.Context, req deploy.Request, a deploy.Approval, _ string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.approval = &a
	return deploy.WorkflowID(req.Hash(), "0123456789ab"), nil
}

func (r *recorder) Get(context.Context, string) (deploy.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, nil
}

func (r *recorder) List(context.Context, deploy.Filter) (deploy.Page, error) {
	return deploy.Page{}, nil
}

func (r *recorder) Approve(_ context.Context, _ string, d deploy.Decision) (deploy.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decision = &d
	return r.status, nil
}

func (r *recorder) Reject(context.Context, string, deploy.Decision) (deploy.Status, error) {
	return deploy.Status{}, fmt.Errorf("not in this test")
}

func (r *recorder) Cancel(context.Context, string, deploy.Cancellation) (deploy.Status, error) {
	return deploy.Status{}, fmt.Errorf("not in this test")
}

func (r *recorder) Result(context.Context, string) (deploy.Status, error) {
	return deploy.Status{}, fmt.Errorf("not in this test")
}

// miniEdge decides calls to the deployments server with the reference policy.
type miniEdge struct {
	query   rego.PreparedEvalQuery
	catalog *catalog.Catalog
	adapter string
	n       int
}

func newMiniEdge(t *testing.T, adapter string) *miniEdge {
	t.Helper()
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Logger: zerolog.Nop()})
	deployments.Register(s, nil)
	raw, err := kit.Catalog(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := rego.New(rego.Query("data.gatehouse.authz"),
		rego.Load([]string{policyDir}, func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && (info.Name() == catalog.File || strings.HasSuffix(info.Name(), "_test.rego"))
		})).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &miniEdge{query: q, catalog: cat, adapter: adapter}
}

type subject struct {
	sub    string
	groups []string
	mfa    bool
}

// call decides a tools/call; when allowed, it forwards it with the edge's headers and
// returns the tool's text and whether it was an error result. denied lists the reasons.
func (e *miniEdge) call(t *testing.T, who subject, tool string, args map[string]any, out any, wantError bool) (text string, denied []string) {
	t.Helper()
	amr := []any{"pwd"}
	if who.mfa {
		amr = append(amr, "mfa")
	}
	groups := []any{}
	for _, g := range who.groups {
		groups = append(groups, g)
	}
	entry, ok := e.catalog.Lookup(deployments.ServerName, tool)
	if !ok {
		t.Fatalf("%s is not declared", tool)
	}
	input := map[string]any{
		"subject": map[string]any{"sub": who.sub, "email": who.sub + "@gatehouse.example", "groups": groups, "amr": amr},
		"mcp": map[string]any{"server": deployments.ServerName, "protocol_version": "2025-11-25", "kind": "request",
			"method": "tools/call", "id": 1, "name": tool, "arguments": args, "via": "mcp"},
		"tool": entry.Input(),
		"now":  time.Now().UTC().Format(time.RFC3339),
	}
	rs, err := e.query.Eval(context.Background(), rego.EvalInput(input))
	if err != nil || len(rs) != 1 {
		t.Fatalf("policy: %v %v", rs, err)
	}
	d := rs[0].Expressions[0].Value.(map[string]any)
	if d["allow"] != true {
		for _, r := range d["reasons"].([]any) {
			denied = append(denied, r.(string))
		}
		return "", denied
	}
	e.n++
	h := map[string]string{"X-Gatehouse-Subject": who.sub, "X-Gatehouse-Email": who.sub + "@gatehouse.example",
		"X-Gatehouse-Decision-Id": fmt.Sprintf("dec-policy-%d", e.n)}
	if hs, ok := d["headers"].(map[string]any); ok {
		for k, v := range hs {
			h[k] = v.(string)
		}
	}
	c := kittest.Connect(t, e.adapter, "2025-11-25", h)
	return kittest.Call(t, c, tool, args, out, wantError), nil
}

type approvalData struct {
	Role         string `json:"role"`
	Requirements map[string]struct {
		Approvers      int `json:"approvers"`
		TimeoutMinutes int `json:"timeout_minutes"`
	} `json:"requirements"`
	CoreDevices map[string]string `json:"core_devices"`
}

func readApprovalData(t *testing.T) approvalData {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(policyDir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Gatehouse struct {
			Approval approvalData `json:"approval"`
		} `json:"gatehouse"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Gatehouse.Approval
}

func TestReferencePolicyDrivesTheAdapter(t *testing.T) {
	rec := &recorder{}
	edge := newMiniEdge(t, serve(t, rec, false))
	data := readApprovalData(t)
	var coreID string
	for id := range data.CoreDevices {
		coreID = id
	}
	nina := subject{sub: "nina", groups: []string{"network-engineers"}, mfa: true}
	start := func(devices []string, from, to string) map[string]any {
		return map[string]any{"template_id": "t-1", "template_version": 2, "device_ids": devices,
			"change_window": map[string]any{"start": from, "end": to}}
	}

	// A core device: the approval the policy requires is the one the workflow gets.
	var res struct {
		Approval struct {
			Reasons []string `json:"reasons"`
		} `json:"approval"`
	}
	if _, denied := edge.call(t, nina, "start_deployment", start([]string{coreID, "d-2"}, "2026-11-23T22:00:00Z", "2026-11-23T23:00:00Z"), &res, false); denied != nil {
		t.Fatalf("denied: %v", denied)
	}
	req := data.Requirements["core_device"]
	want := deploy.Approval{Required: true, Approvers: req.Approvers, Role: data.Role, Timeout: time.Duration(req.TimeoutMinutes) * time.Minute}
	if rec.approval == nil || *rec.approval != want {
		t.Errorf("the workflow would get %+v, want %+v", rec.approval, want)
	}
	if len(res.Approval.Reasons) != 1 || !strings.Contains(res.Approval.Reasons[0], data.CoreDevices[coreID]) {
		t.Errorf("the agent is not told why: %v", res.Approval.Reasons)
	}

	// A small change in a standard window (Saturday) needs none.
	rec.approval = nil
	if _, denied := edge.call(t, nina, "start_deployment", start([]string{"d-2"}, "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"), nil, false); denied != nil {
		t.Fatalf("denied: %v", denied)
	}
	if rec.approval == nil || *rec.approval != (deploy.Approval{}) {
		t.Errorf("the workflow would get %+v, want no approval", rec.approval)
	}

	// Starting needs MFA (it can push configuration); so does approving.
	if _, denied := edge.call(t, subject{sub: "nina", groups: []string{"network-engineers"}}, "start_deployment",
		start([]string{"d-2"}, "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"), nil, false); !mentions(denied, "multi-factor") {
		t.Errorf("start without MFA: %v", denied)
	}
	id := deploy.WorkflowID(strings.Repeat("ab", 32), "0123456789ab")
	rec.status = deploy.Status{WorkflowID: id, State: deploy.StateAwaitingApproval, RequestHash: "h",
		Request: deploy.Request{Requester: deploy.Identity{Subject: "nina"}}, Approval: want}
	approve := map[string]any{"workflow_id": id, "request_hash": "h"}
	if _, denied := edge.call(t, nina, "approve_deployment", approve, nil, false); len(denied) == 0 {
		t.Error("a network engineer may approve")
	}
	carl := subject{sub: "carl", groups: []string{"change-approvers"}}
	if _, denied := edge.call(t, carl, "approve_deployment", approve, nil, false); !mentions(denied, "multi-factor") {
		t.Errorf("approve without MFA: %v", denied)
	}
	carl.mfa = true
	if _, denied := edge.call(t, carl, "approve_deployment", approve, nil, false); denied != nil {
		t.Fatalf("denied: %v", denied)
	}
	if d := rec.decision; d == nil || d.Approver != "carl" || !slices.Contains(d.Roles, data.Role) || d.DecisionID == "" || d.RequestHash != "h" {
		t.Errorf("the workflow would get the decision %+v", d)
	}

	// Admins see every deployment (the policy's scope header); other engineers do not.
	if _, denied := edge.call(t, subject{sub: "root", groups: []string{"admin"}}, "get_deployment", map[string]any{"workflow_id": id}, nil, false); denied != nil {
		t.Fatalf("denied: %v", denied)
	}
	edge.call(t, subject{sub: "nick", groups: []string{"network-engineers"}}, "get_deployment", map[string]any{"workflow_id": id}, nil, true)
}

func mentions(reasons []string, s string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, s) })
}
