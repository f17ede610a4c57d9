package deployments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// Tests against a real Temporal server (the CLI's dev server) with a real worker and both
// simulators. They skip unless GATEHOUSE_TEMPORAL_BIN names the temporal binary.

// person is someone the edge identified: what it forwards for them on every call.
type person struct {
	subject, email string
	roles          []string
	scope          string // x-gatehouse-deployments-scope
}

var decisions atomic.Int64

// agent is one person's MCP client at one protocol revision. Each HTTP request carries the
// headers the edge would set on an allowed call: the person's identity and roles, a fresh
// decision id, and on start_deployment the policy's approval requirement.
type agent struct {
	person
	c        *client.Client
	mu       sync.Mutex
	approval string
}

func (a *agent) headers(context.Context) map[string]string {
	h := map[string]string{
		"X-Gatehouse-Subject":     a.subject,
		"X-Gatehouse-Email":       a.email,
		"X-Gatehouse-Roles":       strings.Join(a.roles, ","),
		"X-Gatehouse-Decision-Id": fmt.Sprintf("dec-%s-%d", a.subject, decisions.Add(1)),
	}
	if a.scope != "" {
		h["X-Gatehouse-Deployments-Scope"] = a.scope
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.approval != "" {
		h["X-Gatehouse-Approval"] = a.approval
	}
	return h
}

// connect is kittest.Connect with headers made per request (a fresh decision id each).
func connect(t *testing.T, url, version string, p person) *agent {
	t.Helper()
	a := &agent{person: p}
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaderFunc(a.headers))
	if err != nil {
		t.Fatal(err)
	}
	a.c = client.NewClient(tr, client.WithProtocolVersion(version))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = version
	init.Params.ClientInfo = mcp.Implementation{Name: "gatehouse-test", Version: "1"}
	res, err := a.c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize %s: %v", version, err)
	}
	if res.ProtocolVersion != version {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, version)
	}
	t.Cleanup(func() { a.c.Close() })
	return a
}

func (a *agent) call(t *testing.T, tool string, args map[string]any, out any) {
	t.Helper()
	kittest.Call(t, a.c, tool, args, out, false)
}

// refused makes a call that must be an error result naming want.
func (a *agent) refused(t *testing.T, tool string, args map[string]any, want string) {
	t.Helper()
	if text := kittest.Call(t, a.c, tool, args, nil, true); !strings.Contains(text, want) {
		t.Errorf("%s by %s: %q does not say %q", tool, a.subject, text, want)
	}
}

type started struct {
	WorkflowID  string       `json:"workflow_id"`
	State       deploy.State `json:"state"`
	RequestHash string       `json:"request_hash"`
	Approval    struct {
		Required  bool     `json:"required"`
		Approvers int      `json:"approvers"`
		Role      string   `json:"role"`
		Reasons   []string `json:"reasons"`
	} `json:"approval"`
}

// start starts a deployment with the approval requirement the policy would have sent.
func (a *agent) start(t *testing.T, args map[string]any, appr deployments.ApprovalHeader) started {
	t.Helper()
	b, _ := json.Marshal(appr)
	a.mu.Lock()
	a.approval = string(b)
	a.mu.Unlock()
	defer func() { a.mu.Lock(); a.approval = ""; a.mu.Unlock() }()
	var out started
	a.call(t, "start_deployment", args, &out)
	if err := deploy.CheckID(out.WorkflowID); err != nil || out.Approval.Required != appr.Required {
		t.Fatalf("start: %+v %v", out, err)
	}
	return out
}

type status struct {
	WorkflowID  string       `json:"workflow_id"`
	State       deploy.State `json:"state"`
	TaskStatus  string       `json:"task_status"`
	Next        string       `json:"next"`
	RequestHash string       `json:"request_hash"`
	Preview     string       `json:"preview"`
	Approvals   []struct {
		Approver string `json:"approver"`
	} `json:"approvals"`
	Change *struct {
		Number string `json:"number"`
	} `json:"change"`
	Deployment *struct {
		DeploymentID string `json:"deployment_id"`
	} `json:"deployment"`
}

func (a *agent) get(t *testing.T, id string) status {
	t.Helper()
	var st status
	a.call(t, "get_deployment", map[string]any{"workflow_id": id}, &st)
	return st
}

// waitState polls get_deployment until the deployment is in state want.
func (a *agent) waitState(t *testing.T, id string, want deploy.State) status {
	t.Helper()
	var st status
	waitFor(t, 40*time.Second, fmt.Sprintf("%s to be %s", id, want), func() bool {
		st = a.get(t, id)
		if st.State.Terminal() && st.State != want {
			t.Fatalf("%s ended %s, want %s", id, st.State, want)
		}
		return st.State == want
	})
	return st
}

func (a *agent) list(t *testing.T, tool string, args map[string]any) []string {
	t.Helper()
	var out struct {
		Deployments []deploy.Summary `json:"deployments"`
	}
	a.call(t, tool, args, &out)
	ids := []string{}
	for _, d := range out.Deployments {
		ids = append(ids, d.WorkflowID)
	}
	return ids
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The behaviour an agent sees, on each protocol revision, against a real Temporal server, a
// real worker and the Catalyst Center and ServiceNow simulators.
func TestDeploymentsAgainstTemporal(t *testing.T) {
	srv := devserver.Start(t, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	const queue = "deployments-adapter"
	sim.StartWorker(t, srv.Address, srv.Namespace, queue, zerolog.Nop())
	dc := deploy.NewClient(srv.Client(t, nil), queue)
	dc.Timeouts = deploy.Timeouts{Heartbeat: 2 * time.Second, Retry: 200 * time.Millisecond}
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Version: "test", Logger: zerolog.Nop()})
	deployments.Register(s, dc)
	ts := httptest.NewServer(deployments.Handler(s))
	t.Cleanup(ts.Close)
	url := ts.URL + kit.Path

	for i, version := range revisions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			agentsAtWork(t, sim, url, version, i)
		})
	}
}

func agentsAtWork(t *testing.T, sim *deploytest.Env, url, version string, n int) {
	// People of this revision's run (subjects are distinct per revision, so each run's
	// "mine" lists are its own; the approver role is shared, as in production).
	p := func(name string, roles ...string) person {
		sub := fmt.Sprintf("%s-%d", name, n)
		return person{subject: sub, email: sub + "@gatehouse.example", roles: roles}
	}
	nina := connect(t, url, version, p("nina", "network-engineers"))
	carol := connect(t, url, version, p("carol", "network-engineers", "change-approvers"))
	dave := connect(t, url, version, p("dave", "change-approvers"))
	erin := connect(t, url, version, p("erin", "change-approvers"))
	adminP := p("admin", "admin")
	adminP.scope = deployments.ScopeAll
	admin := connect(t, url, version, adminP)

	now := time.Now().UTC().Truncate(time.Second)
	window := map[string]any{"start": now.Add(-time.Hour).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)}
	// Each deployment gets its own NTP server address, to find it in the simulator.
	ntp := func(k int) string { return fmt.Sprintf("10.%d.%d.1", 100+n, k) }
	request := func(k int, hosts ...string) map[string]any {
		var ids []string
		for _, h := range hosts {
			ids = append(ids, sim.Devices[h])
		}
		return map[string]any{
			"template_id": sim.Templates["NTP-Servers"], "template_version": 2,
			"parameters": map[string]any{"ntp_primary": ntp(k), "ntp_secondary": "10.0.0.2"},
			"device_ids": ids, "change_window": window, "summary": "NTP servers " + ntp(k),
		}
	}
	none := deployments.ApprovalHeader{Required: false}
	twoApprovers := deployments.ApprovalHeader{Required: true, Approvers: 2, Role: "change-approvers", TimeoutSeconds: 3600,
		Reasons: []string{"it changes core devices (lon-b1-core-01)"}}
	oneApprover := deployments.ApprovalHeader{Required: true, Approvers: 1, Role: "change-approvers", TimeoutSeconds: 3600,
		Reasons: []string{"its change window is not inside a standard change window"}}

	// Without the policy's approval requirement nothing starts.
	nina.refused(t, "start_deployment", request(0, "lon-b1-acc-01"), "x-gatehouse-approval")

	began := time.Now()
	plain := nina.start(t, request(1, "lon-b1-acc-01"), none)
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("start_deployment took %s; it should return at once", d)
	}
	core := carol.start(t, request(2, "lon-b1-core-01", "nyc-hq-dist-01"), twoApprovers)
	if !slices.Equal(core.Approval.Reasons, twoApprovers.Reasons) || core.Approval.Approvers != 2 {
		t.Errorf("the start result does not say what approval is needed and why: %+v", core.Approval)
	}
	rejected := nina.start(t, request(3, "sjc-b-rtr-01"), oneApprover)
	canceled := nina.start(t, request(4, "nyc-hq-dist-01"), oneApprover)

	// Deployments that need approval wait for it.
	coreSt := carol.waitState(t, core.WorkflowID, deploy.StateAwaitingApproval)
	if coreSt.TaskStatus != "working" || coreSt.Preview == "" || coreSt.Change == nil || coreSt.RequestHash != core.RequestHash {
		t.Fatalf("awaiting approval: %+v", coreSt)
	}
	nina.waitState(t, rejected.WorkflowID, deploy.StateAwaitingApproval)
	nina.waitState(t, canceled.WorkflowID, deploy.StateAwaitingApproval)

	// Lists (Temporal visibility follows within about a second).
	mine := []string{plain.WorkflowID, rejected.WorkflowID, canceled.WorkflowID}
	waitFor(t, 15*time.Second, "nina's deployments in her list", func() bool {
		got := nina.list(t, "list_my_deployments", map[string]any{})
		return sameSet(got, mine)
	})
	waitFor(t, 15*time.Second, "nina's deployments awaiting approval in her list", func() bool {
		got := nina.list(t, "list_my_deployments", map[string]any{"state": "awaiting_approval"})
		return sameSet(got, []string{rejected.WorkflowID, canceled.WorkflowID})
	})
	pending := []string{core.WorkflowID, rejected.WorkflowID, canceled.WorkflowID}
	waitFor(t, 15*time.Second, "the deployments awaiting approval in an approver's list", func() bool {
		got := dave.list(t, "list_pending_my_approval", map[string]any{})
		return containsAll(got, pending) && !slices.Contains(got, plain.WorkflowID)
	})
	if got := carol.list(t, "list_pending_my_approval", map[string]any{}); slices.Contains(got, core.WorkflowID) ||
		!containsAll(got, []string{rejected.WorkflowID, canceled.WorkflowID}) {
		t.Errorf("carol's pending list %v: her own request is listed, or others' are missing", got)
	}
	if got := nina.list(t, "list_pending_my_approval", map[string]any{}); len(got) != 0 {
		t.Errorf("nina has no approver role, yet her pending list has %v", got)
	}

	// Who sees what: the requester, the approvers of the role, the admin scope; not others.
	nina.refused(t, "get_deployment", map[string]any{"workflow_id": core.WorkflowID}, "no deployment")
	if st := admin.get(t, core.WorkflowID); st.WorkflowID != core.WorkflowID {
		t.Errorf("admin: %+v", st)
	}
	dave.get(t, core.WorkflowID)

	// Approvals: the requester is refused (she holds the role), so is a hash she was not
	// shown; two approvers let it go ahead.
	approve := func(a *agent, id, hash string) map[string]any {
		return map[string]any{"workflow_id": id, "request_hash": hash, "comment": "approved by " + a.subject}
	}
	carol.refused(t, "approve_deployment", approve(carol, core.WorkflowID, core.RequestHash), "requester cannot approve")
	dave.refused(t, "approve_deployment", approve(dave, core.WorkflowID, rejected.RequestHash), "request hash does not match")
	nina.refused(t, "approve_deployment", approve(nina, core.WorkflowID, core.RequestHash), "no deployment")
	var after status
	dave.call(t, "approve_deployment", approve(dave, core.WorkflowID, core.RequestHash), &after)
	if after.State != deploy.StateAwaitingApproval || len(after.Approvals) != 1 || !strings.Contains(after.Next, "1 approval") {
		t.Fatalf("after the first of two approvals: %+v", after)
	}
	dave.refused(t, "approve_deployment", approve(dave, core.WorkflowID, core.RequestHash), "already approved")
	erin.call(t, "approve_deployment", approve(erin, core.WorkflowID, core.RequestHash), nil)

	// A rejection ends the deployment and cancels its change; only the requester cancels.
	dave.refused(t, "reject_deployment", map[string]any{"workflow_id": rejected.WorkflowID, "request_hash": rejected.RequestHash,
		"reason": " "}, "reason")
	dave.call(t, "reject_deployment", map[string]any{"workflow_id": rejected.WorkflowID, "request_hash": rejected.RequestHash,
		"reason": "not during the freeze"}, nil)
	erin.refused(t, "cancel_deployment", map[string]any{"workflow_id": canceled.WorkflowID, "reason": "mine now"}, "only the requester")
	nina.call(t, "cancel_deployment", map[string]any{"workflow_id": canceled.WorkflowID, "reason": "wrong servers"}, nil)

	// Outcomes, as the simulators record them: exactly one change per deployment, one
	// Catalyst Center deployment for each that went ahead, none for the others.
	plainSt := nina.waitState(t, plain.WorkflowID, deploy.StateCompleted)
	coreSt = carol.waitState(t, core.WorkflowID, deploy.StateCompleted)
	nina.waitState(t, rejected.WorkflowID, deploy.StateRejected)
	nina.waitState(t, canceled.WorkflowID, deploy.StateCanceled)
	for k, c := range []struct {
		id, closeCode string
		st            status
		deployed      bool
	}{
		{plain.WorkflowID, "successful", plainSt, true},
		{core.WorkflowID, "successful", coreSt, true},
		{rejected.WorkflowID, "", status{}, false},
		{canceled.WorkflowID, "", status{}, false},
	} {
		changes := sim.Changes(t, c.id)
		deps := sim.DeploymentsOf("ntp_primary", ntp(k+1))
		if len(changes) != 1 {
			t.Errorf("%s: %d change requests", c.id, len(changes))
			continue
		}
		ch := changes[0]
		switch {
		case c.deployed && (len(deps) != 1 || deps[0].DeploymentID != c.st.Deployment.DeploymentID ||
			ch["state"] != "3" || ch["close_code"] != c.closeCode || ch["number"] != c.st.Change.Number):
			t.Errorf("%s: change %v, deployments %+v", c.id, ch, deps)
		case !c.deployed && (len(deps) != 0 || ch["state"] != "4"): // ServiceNow's change state 4 is Canceled
			t.Errorf("%s: change %v, %d deployments", c.id, ch, len(deps))
		}
	}
	if deps := sim.DeploymentsOf("ntp_primary", ntp(0)); len(deps) != 0 {
		t.Errorf("the start without an approval requirement deployed: %+v", deps)
	}
	// Ended deployments take no more decisions.
	nina.refused(t, "cancel_deployment", map[string]any{"workflow_id": plain.WorkflowID, "reason": "late"}, "already ended")
	waitFor(t, 15*time.Second, "nothing awaiting an approver's decision from this run", func() bool {
		got := dave.list(t, "list_pending_my_approval", map[string]any{})
		return !slices.ContainsFunc(pending, func(id string) bool { return slices.Contains(got, id) })
	})
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && containsAll(a, b)
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
