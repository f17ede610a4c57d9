package deploy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/worker"
)

// simHarness runs the workflow in the SDK's test environment with the real activities
// against the simulators (no Temporal server needed).
type simHarness struct {
	t   *testing.T
	sim *deploytest.Env
	env *testsuite.TestWorkflowEnvironment
}

func newSimHarness(t *testing.T) *simHarness {
	t.Helper()
	h := &simHarness{t: t, sim: deploytest.New(t)}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(nopLogger{})
	h.env = s.NewTestWorkflowEnvironment()
	acts := h.sim.Activities(t)
	acts.PollInterval = 10 * time.Millisecond
	acts.RecordMarker = func(ctx context.Context, details any) error { activity.RecordHeartbeat(ctx, details); return nil }
	deploy.Register(h.env, acts)
	// Deploy tasks take 5 s on the simulator's clock: run it 50 times faster.
	h.sim.RunClockFast(t)
	return h
}

func (h *simHarness) run(req deploy.Request, appr deploy.Approval) deploy.Status {
	h.t.Helper()
	h.env.ExecuteWorkflow(deploy.WorkflowName, deploy.Input{Request: req, Approval: appr, Timeouts: deploy.Timeouts{Retry: time.Millisecond}})
	var st deploy.Status
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("workflow: %v", err)
	}
	return st
}

func TestSimulatorsHappyPath(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "lon-b1-core-01", "lon-b1-acc-01")
	st := h.run(req, deploy.Approval{})
	if st.State != deploy.StateCompleted {
		t.Fatalf("state %s: %s (steps %s)", st.State, st.LastError, steps(st))
	}
	changes := h.sim.AllGatehouseChanges(t)
	if len(changes) != 1 || changes[0]["number"] != st.Change.Number || changes[0]["state"] != "3" || changes[0]["close_code"] != "successful" {
		t.Fatalf("changes %v", changes)
	}
	if !strings.Contains(changes[0]["implementation_plan"], "ntp server 10.0.0.1 prefer") {
		t.Errorf("preview not in the implementation plan: %q", changes[0]["implementation_plan"])
	}
	deps := h.sim.Catalyst.Deployments()
	if len(deps) != 1 || deps[0].TemplateVersion != 2 || deps[0].Status != "SUCCESS" || len(deps[0].DeviceIDs) != 2 {
		t.Fatalf("deployments %+v", deps)
	}
	if st.Deployment.DeploymentID != deps[0].DeploymentID || st.Deployment.TaskID != deps[0].TaskID {
		t.Errorf("status %+v, simulator %+v", st.Deployment, deps[0])
	}
	if !strings.Contains(deps[0].Targets[0].Rendered, "clock timezone UTC 0 0") {
		t.Errorf("rendered %q", deps[0].Targets[0].Rendered)
	}
}

func TestSimulatorsApprovalAndNotes(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "nyc-hq-dist-01")
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(deploy.UpdateApprove, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(error) {},
			OnComplete: func(any, error) {}}, deploy.Decision{Approver: "nina", Email: "nina.neteng@gatehouse.example",
			DecisionID: "dec-nina", RequestHash: req.Hash(), Comment: "ok for tonight"})
	}, time.Minute)
	st := h.run(req, deploy.Approval{Required: true, Timeout: time.Hour})
	if st.State != deploy.StateCompleted {
		t.Fatalf("state %s: %s", st.State, st.LastError)
	}
	notes := strings.Join(h.sim.WorkNotes(st.Change.Number), "\n---\n")
	for _, want := range []string{"waiting for 1 approval", "Approved through Gatehouse:\n- nina <nina.neteng@gatehouse.example> at",
		"(decision id dec-nina): ok for tonight", "[gatehouse:" + st.WorkflowID + "/approved]"} {
		if !strings.Contains(notes, want) {
			t.Errorf("work notes lack %q:\n%s", want, notes)
		}
	}
	ch, _ := h.sim.ServiceNow.Change(st.Change.Number)
	if !strings.Contains(ch["close_notes"], "Approved by:\n- nina") {
		t.Errorf("close notes %q", ch["close_notes"])
	}
}

func TestSimulatorsRejection(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "lon-b1-core-01")
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(deploy.UpdateReject, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(error) {},
			OnComplete: func(any, error) {}}, deploy.Decision{Approver: "bob", DecisionID: "dec-bob", RequestHash: req.Hash(), Comment: "no"})
	}, time.Minute)
	st := h.run(req, deploy.Approval{Required: true, Timeout: time.Hour})
	ch, _ := h.sim.ServiceNow.Change(st.Change.Number)
	if st.State != deploy.StateRejected || ch["state"] != "4" || len(h.sim.Catalyst.Deployments()) != 0 {
		t.Fatalf("state %s, change %s, %d deployments", st.State, ch["state"], len(h.sim.Catalyst.Deployments()))
	}
	if !strings.Contains(strings.Join(h.sim.WorkNotes(st.Change.Number), "\n"), "Rejected through Gatehouse by bob") {
		t.Errorf("notes %q", h.sim.WorkNotes(st.Change.Number))
	}
}

// Catalyst Center starts the deployment but its answer is lost (504): the workflow does not
// send the request again; it finds the task in Catalyst Center's task list, follows it, and
// completes with exactly one deployment.
func TestSimulatorsLostDeployAnswerIsReconciled(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "lon-b1-core-01")
	h.sim.Catalyst.LoseNextDeployAnswer()
	st := h.run(req, deploy.Approval{})
	deps := h.sim.Catalyst.Deployments()
	if st.State != deploy.StateCompleted || len(deps) != 1 || st.Deployment.TaskID != deps[0].TaskID || deps[0].Status != "SUCCESS" {
		t.Fatalf("state %s (%s), deployment %+v, simulator %+v, steps %+v", st.State, st.LastError, st.Deployment, deps, st.Steps)
	}
	if stepOutcome(st, "deploy_reconciled") != "success" {
		t.Errorf("steps %s", steps(st))
	}
}

func TestSimulatorsDeployFailureRollsBack(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "lon-b1-core-01")
	req.Rollback = &deploy.Rollback{TemplateID: req.TemplateID, TemplateVersion: 1, Parameters: req.Parameters}
	h.sim.Catalyst.FailNextDeploy("Configuration push failed: % Invalid input detected")
	st := h.run(req, deploy.Approval{})
	deps := h.sim.Catalyst.Deployments()
	if st.State != deploy.StateFailed || len(deps) != 2 || deps[0].Status != "FAILURE" || deps[1].TemplateVersion != 1 || deps[1].Status != "SUCCESS" {
		t.Fatalf("state %s, deployments %+v", st.State, deps)
	}
	ch, _ := h.sim.ServiceNow.Change(st.Change.Number)
	if ch["state"] != "3" || ch["close_code"] != "unsuccessful" || !strings.Contains(ch["close_notes"], "Rollback NTP-Servers v1: succeeded") {
		t.Errorf("change %s %s %q", ch["state"], ch["close_code"], ch["close_notes"])
	}
}

func TestSimulatorsValidation(t *testing.T) {
	h := newSimHarness(t)
	req := h.sim.Request(t, "lon-b1-acc-02") // unreachable in the simulator
	req.TemplateVersion = 9
	st := h.run(req, deploy.Approval{})
	if st.State != deploy.StateFailed || st.Change != nil || len(h.sim.AllGatehouseChanges(t)) != 0 {
		t.Fatalf("state %s change %+v", st.State, st.Change)
	}
	if !strings.Contains(st.LastError, "template NTP-Servers has no committed version 9 (committed: 1, 2, 3)") ||
		!strings.Contains(st.LastError, "lon-b1-acc-02") {
		t.Errorf("last error %q", st.LastError)
	}
}

// The adapters' idempotency, on their own.
func TestServiceNowAdapterIsIdempotent(t *testing.T) {
	sim := deploytest.New(t)
	// The first change POST reaches ServiceNow, which creates the change, but its answer is
	// lost (502 from a proxy): the client must find the change by its correlation id.
	var lost atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/sn_chg_rest/change/standard/") && lost.CompareAndSwap(false, true) {
			sim.ServiceNow.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "upstream timed out", http.StatusBadGateway)
			return
		}
		sim.ServiceNow.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	snc, err := servicenow.NewClient(proxy.URL, sim.Secrets(), worker.KitMetrics(nil, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	sn := deploy.ServiceNow{C: snc}
	ctx := context.Background()
	now := time.Now()
	nc := deploy.NewChange{CorrelationID: "deploy-test-1", ShortDescription: "x", ConfigItems: []string{"lon-b1-core-01"},
		Start: now, End: now.Add(time.Hour), ImplementationPlan: "p", BackoutPlan: "b"}
	a, err := sn.Create(ctx, nc)
	if err != nil || !lost.Load() {
		t.Fatalf("%v (answer lost: %v)", err, lost.Load())
	}
	// A retry of the activity finds the same change.
	b, err := sn.Create(ctx, nc)
	if err != nil || a.Number != b.Number || len(sim.Changes(t, "deploy-test-1")) != 1 {
		t.Fatalf("%+v %+v %v: %d changes", a, b, err, len(sim.Changes(t, "deploy-test-1")))
	}
	for range 2 {
		if err := sn.Note(ctx, a.Number, "k1", "first note"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sim.WorkNotes(a.Number)); n != 1 {
		t.Errorf("%d notes", n)
	}
	for range 2 {
		if err := sn.Advance(ctx, a.Number, "implement"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sn.Advance(ctx, a.Number, "scheduled"); err != nil {
		t.Errorf("moving back is a no-op: %v", err)
	}
	for range 2 {
		if err := sn.Close(ctx, a.Number, true, "done"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sn.Cancel(ctx, a.Number, "late"); err == nil || !strings.Contains(err.Error(), "already closed") {
		t.Errorf("cancel of a closed change: %v", err)
	}
	ch, _ := sim.ServiceNow.Change(a.Number)
	if ch["state"] != "3" || ch["close_code"] != "successful" {
		t.Errorf("%v", ch)
	}
	missing, err := sn.MissingCIs(ctx, []string{"lon-b1-core-01", "no-such-switch"})
	if err != nil || len(missing) != 1 || missing[0] != "no-such-switch" {
		t.Errorf("%v %v", missing, err)
	}
}

func TestCatalystCenterDeployOutcomes(t *testing.T) {
	sim := deploytest.New(t)
	cc := sim.Activities(t).Controller
	ctx := context.Background()
	tmpl, err := cc.Template(ctx, sim.Templates["Login-Banner"], 1)
	if err != nil {
		t.Fatal(err)
	}
	dev := []string{sim.Devices["lon-b1-core-01"]}
	sim.Catalyst.Throttle(1, time.Second)
	if _, err := cc.Deploy(ctx, tmpl.VersionID, dev, nil); !errors.Is(err, deploy.ErrNotSent) {
		t.Errorf("429: %v", err)
	}
	if _, err := cc.Deploy(ctx, "no-such-template", dev, nil); !errors.Is(err, deploy.ErrRefused) {
		t.Errorf("404: %v", err)
	}
	task, err := cc.Deploy(ctx, tmpl.VersionID, dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := cc.Task(ctx, task); err != nil || st.Done {
		t.Errorf("%+v %v", st, err)
	}
	if _, err := cc.Task(ctx, "no-such-task"); !errors.Is(err, deploy.ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
	// A controller that cannot be reached: nothing was sent.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c, err := catalystcenter.NewClient(dead.URL, sim.Secrets(), worker.KitMetrics(nil, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (deploy.CatalystCenter{C: c}).Deploy(ctx, tmpl.VersionID, dev, nil); !errors.Is(err, deploy.ErrNotSent) {
		t.Errorf("unreachable: %v", err)
	}
	if len(sim.Catalyst.Deployments()) != 1 {
		t.Errorf("%d deployments", len(sim.Catalyst.Deployments()))
	}
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
