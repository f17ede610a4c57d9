package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

// harness is a workflow test environment with the real activities over the fakes.
type harness struct {
	t    *testing.T
	env  *testsuite.TestWorkflowEnvironment
	ctl  *fakeController
	chg  *fakeChanges
	logs *ecslogtest.Buffer
	req  deploy.Request
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, ctl: newFakeController(), chg: newFakeChanges(), logs: &ecslogtest.Buffer{}}
	log, err := ecslog.New(h.logs, "gatehouse-worker", "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(temporalx.NewLogger(log))
	h.env = s.NewTestWorkflowEnvironment()
	h.env.SetStartTime(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	deploy.Register(h.env, &deploy.Activities{Controller: h.ctl, Changes: h.chg, PollInterval: time.Millisecond,
		RecordMarker: func(ctx context.Context, details any) error { activity.RecordHeartbeat(ctx, details); return nil }})
	h.req = request(h.env.Now())
	return h
}

// run executes the workflow and returns its final status.
func (h *harness) run(appr deploy.Approval) deploy.Status {
	h.t.Helper()
	h.env.ExecuteWorkflow(deploy.WorkflowName, deploy.Input{Request: h.req, Approval: appr,
		Timeouts: deploy.Timeouts{Retry: time.Millisecond, Heartbeat: time.Second}})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the workflow did not complete")
	}
	var st deploy.Status
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	return st
}

// decide sends an update after delay; it records the refusal error, if any.
func (h *harness) decide(delay time.Duration, name string, arg any, result *error) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { *result = err },
			OnComplete: func(_ any, err error) {
				if result != nil {
					*result = err
				}
			},
		}, arg)
	}, delay)
}

func (h *harness) approval(approver, hash string) deploy.Decision {
	return deploy.Decision{Approver: approver, Email: approver + "@example.com", Roles: []string{"network-approvers"},
		DecisionID: "dec-" + approver, RequestHash: hash, Comment: "looks right"}
}

func steps(st deploy.Status) string {
	var s []string
	for _, x := range st.Steps {
		s = append(s, x.Action)
	}
	return strings.Join(s, " ")
}

// stepOutcome is the outcome of the last step named action ("" when there is none).
func stepOutcome(st deploy.Status, action string) string {
	out := ""
	for _, x := range st.Steps {
		if x.Action == action {
			out = x.Outcome
		}
	}
	return out
}

func TestNoApprovalDeploysAndClosesSuccessful(t *testing.T) {
	h := newHarness(t)
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateCompleted {
		t.Fatalf("state %s (%s), steps %s", st.State, st.LastError, steps(st))
	}
	changes := h.chg.all()
	if len(changes) != 1 {
		t.Fatalf("%d changes", len(changes))
	}
	c := changes[0]
	if c.CorrelationID != st.WorkflowID || c.State != "closed" || c.CloseCode != "successful" {
		t.Errorf("change %+v", c)
	}
	if !strings.Contains(c.ImplementationPlan, "ntp server 10.0.0.1 prefer") || !strings.Contains(c.Description, st.RequestHash) ||
		strings.Join(c.ConfigItems, ",") != "lon-b1-core-01,lon-b1-acc-01" || c.RequestedBy != "alice@example.com" {
		t.Errorf("change content %+v", c)
	}
	if !strings.Contains(c.CloseNotes, "Requested by alice <alice@example.com> (decision id dec-start)") {
		t.Errorf("close notes %q", c.CloseNotes)
	}
	d := h.ctl.deployed()
	if len(d) != 1 || d[0].VersionID != "tmpl-ntp-v2" || strings.Join(d[0].Devices, ",") != "dev-1,dev-2" {
		t.Fatalf("deploys %+v", d)
	}
	if st.Deployment == nil || st.Deployment.Outcome != deploy.OutcomeSucceeded || st.Deployment.DeploymentID != "dep-task-1" {
		t.Errorf("deployment %+v", st.Deployment)
	}
	want := "requested validated change_created approval_not_required change_implementing deploy_started deploy_finished verified change_closed finished"
	if got := steps(st); got != want {
		t.Errorf("steps\n got %s\nwant %s", got, want)
	}
	if st.Change == nil || st.Change.Number != c.Number || st.Preview == "" || st.Template != "NTP-Servers v2" {
		t.Errorf("status %+v", st)
	}
	// Every step is one ECS line naming the workflow, change, requester and decision id.
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		action, _ := m["event.action"].(string)
		if !strings.HasPrefix(action, "deploy.") {
			continue
		}
		lines++
		if m["gatehouse.workflow_id"] != st.WorkflowID || m["user.id"] != "alice" || m["gatehouse.decision_id"] != "dec-start" ||
			m["service.name"] != "gatehouse-worker" || m["@timestamp"] == nil {
			t.Errorf("step line lacks fields: %s", line)
		}
		if action == "deploy.change_closed" && m["gatehouse.change_number"] != c.Number {
			t.Errorf("change number missing: %s", line)
		}
	}
	if lines != len(st.Steps) {
		t.Errorf("%d step lines for %d steps:\n%s", lines, len(st.Steps), h.logs.String())
	}
}

func TestApprovalByTwoApprovers(t *testing.T) {
	h := newHarness(t)
	hash := h.req.Hash()
	var e1, e2 error
	h.decide(time.Minute, deploy.UpdateApprove, h.approval("bob", hash), &e1)
	h.decide(2*time.Minute, deploy.UpdateApprove, h.approval("carol", hash), &e2)
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(deploy.QueryStatus)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		var st deploy.Status
		_ = v.Get(&st)
		if st.State != deploy.StateAwaitingApproval || len(st.Approvals) != 1 || st.State.TaskStatus() != "working" {
			t.Errorf("mid-approval status: %s, %d approvals", st.State, len(st.Approvals))
		}
	}, 90*time.Second)
	st := h.run(deploy.Approval{Required: true, Approvers: 2, Role: "network-approvers", Timeout: time.Hour})
	if e1 != nil || e2 != nil {
		t.Fatalf("approvals refused: %v, %v", e1, e2)
	}
	if st.State != deploy.StateCompleted || len(st.Approvals) != 2 || st.Approvals[0].Approver != "bob" || st.Approvals[1].DecisionID != "dec-carol" {
		t.Fatalf("state %s, approvals %+v", st.State, st.Approvals)
	}
	if got := st.Approvals[1].At.Sub(h.env.Now()); got > 0 {
		t.Errorf("approval time in the future: %v", got)
	}
	c := h.chg.all()[0]
	if !hasNote(c.Notes, "bob <bob@example.com> at 2026-11-23T10:01:00Z (decision id dec-bob)") || !hasNote(c.Notes, "carol") {
		t.Errorf("approval not in the change's notes: %q", c.Notes)
	}
	if !strings.Contains(c.CloseNotes, "Approved by:") {
		t.Errorf("close notes %q", c.CloseNotes)
	}
	if len(h.ctl.deployed()) != 1 {
		t.Errorf("deploys %+v", h.ctl.deployed())
	}
	if !strings.Contains(h.logs.String(), `"gatehouse.approver":["bob","carol"]`) ||
		!strings.Contains(h.logs.String(), `"gatehouse.approval_decision_ids":["dec-bob","dec-carol"]`) {
		t.Errorf("log lines lack the approvers:\n%s", h.logs.String())
	}
}

func TestRefusedDecisions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  func(h *harness) deploy.Decision
		reason string
	}{
		{"requester", func(h *harness) deploy.Decision {
			d := h.approval("alice", h.req.Hash())
			d.Email = "alice@example.com"
			return d
		}, "the requester cannot approve"},
		{"requester by email", func(h *harness) deploy.Decision {
			d := h.approval("alice-other-subject", h.req.Hash())
			d.Email = "ALICE@example.com"
			return d
		}, "the requester cannot approve"},
		{"wrong hash", func(h *harness) deploy.Decision {
			other := h.req
			other.DeviceIDs = []string{"dev-3"}
			return h.approval("bob", other.Hash())
		}, "its request hash does not match"},
		{"missing role", func(h *harness) deploy.Decision {
			d := h.approval("bob", h.req.Hash())
			d.Roles = []string{"network-engineers"}
			return d
		}, "does not have the role network-approvers"},
		{"no decision id", func(h *harness) deploy.Decision {
			d := h.approval("bob", h.req.Hash())
			d.DecisionID = ""
			return d
		}, "no decision id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var refused, accepted error
			h.decide(time.Minute, deploy.UpdateApprove, tc.first(h), &refused)
			h.decide(2*time.Minute, deploy.UpdateApprove, h.approval("carol", h.req.Hash()), &accepted)
			st := h.run(deploy.Approval{Required: true, Role: "network-approvers", Timeout: time.Hour})
			if refused == nil || !strings.Contains(refused.Error(), tc.reason) {
				t.Fatalf("first decision: %v, want %q", refused, tc.reason)
			}
			if accepted != nil || st.State != deploy.StateCompleted || len(st.Approvals) != 1 || st.Approvals[0].Approver != "carol" {
				t.Fatalf("state %s, approvals %+v, %v", st.State, st.Approvals, accepted)
			}
			if len(st.Refusals) != 1 || !strings.Contains(st.Refusals[0].Reason, tc.reason) {
				t.Errorf("refusals %+v", st.Refusals)
			}
			if !strings.Contains(h.logs.String(), `"event.action":"deploy.approve_refused"`) {
				t.Errorf("no refusal log line")
			}
		})
	}
}

func TestDuplicateApproverRefused(t *testing.T) {
	h := newHarness(t)
	var e1, e2, e3 error
	h.decide(time.Minute, deploy.UpdateApprove, h.approval("bob", h.req.Hash()), &e1)
	h.decide(2*time.Minute, deploy.UpdateApprove, h.approval("bob", h.req.Hash()), &e2)
	h.decide(3*time.Minute, deploy.SignalApprove, h.approval("carol", h.req.Hash()), &e3)
	st := h.run(deploy.Approval{Required: true, Approvers: 2, Timeout: time.Hour})
	if e1 != nil || e2 == nil || !strings.Contains(e2.Error(), "bob has already approved") || e3 != nil {
		t.Fatalf("%v / %v / %v", e1, e2, e3)
	}
	if st.State != deploy.StateCompleted || len(st.Approvals) != 2 {
		t.Fatalf("%s %+v", st.State, st.Approvals)
	}
}

func TestSignalApproval(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(deploy.SignalApprove, h.approval("alice", h.req.Hash())) // refused: requester
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(deploy.SignalApprove, h.approval("bob", h.req.Hash())) }, 2*time.Minute)
	st := h.run(deploy.Approval{Required: true, Timeout: time.Hour})
	if st.State != deploy.StateCompleted || len(st.Approvals) != 1 || len(st.Refusals) != 1 {
		t.Fatalf("%s approvals %+v refusals %+v", st.State, st.Approvals, st.Refusals)
	}
}

func TestRejectionCancelsTheChange(t *testing.T) {
	h := newHarness(t)
	var err error
	d := h.approval("bob", h.req.Hash())
	d.Comment = "not during the freeze"
	h.decide(time.Minute, deploy.UpdateReject, d, &err)
	st := h.run(deploy.Approval{Required: true, Timeout: time.Hour})
	if err != nil || st.State != deploy.StateRejected || st.Rejection == nil || st.Rejection.Approver != "bob" {
		t.Fatalf("%v %s %+v", err, st.State, st.Rejection)
	}
	c := h.chg.all()[0]
	if c.State != "canceled" || !strings.Contains(c.CloseNotes, "Rejected through Gatehouse by bob <bob@example.com> at 2026-11-23T10:01:00Z (decision id dec-bob): not during the freeze") {
		t.Errorf("change %s: %q", c.State, c.CloseNotes)
	}
	if len(h.ctl.deployed()) != 0 {
		t.Error("deployed after a rejection")
	}
	if st.State.TaskStatus() != "failed" || !st.State.Terminal() {
		t.Error("task status")
	}
}

func TestApprovalExpires(t *testing.T) {
	h := newHarness(t)
	st := h.run(deploy.Approval{Required: true, Approvers: 2, Timeout: 4 * time.Hour})
	if st.State != deploy.StateExpired {
		t.Fatalf("state %s", st.State)
	}
	if want := h.env.Now(); st.ApprovalDeadline.After(want) {
		t.Errorf("deadline %v after the end %v", st.ApprovalDeadline, want)
	}
	c := h.chg.all()[0]
	if c.State != "canceled" || !strings.Contains(c.CloseNotes, "Approval expired at 2026-11-23T14:00:00Z with 0 of 2 approvals") {
		t.Errorf("change %s: %q", c.State, c.CloseNotes)
	}
	if len(h.ctl.deployed()) != 0 {
		t.Error("deployed without approval")
	}
}

func TestApprovalWaitEndsWithTheWindow(t *testing.T) {
	h := newHarness(t)
	h.req.Window.End = h.env.Now().Add(30 * time.Minute)
	st := h.run(deploy.Approval{Required: true, Timeout: 24 * time.Hour})
	if st.State != deploy.StateExpired || !st.ApprovalDeadline.Equal(h.req.Window.End) {
		t.Fatalf("state %s deadline %v", st.State, st.ApprovalDeadline)
	}
}

func TestCancelWhileAwaitingApproval(t *testing.T) {
	h := newHarness(t)
	var err error
	h.decide(time.Minute, deploy.UpdateCancel, deploy.Cancellation{By: deploy.Identity{Subject: "alice"}, DecisionID: "dec-cancel",
		Reason: "wrong servers"}, &err)
	st := h.run(deploy.Approval{Required: true, Timeout: time.Hour})
	if err != nil || st.State != deploy.StateCanceled || st.State.TaskStatus() != "cancelled" {
		t.Fatalf("%v %s", err, st.State)
	}
	c := h.chg.all()[0]
	if c.State != "canceled" || !strings.Contains(c.CloseNotes, "Canceled through Gatehouse by alice") || !strings.Contains(c.CloseNotes, "wrong servers") {
		t.Errorf("change %s %q", c.State, c.CloseNotes)
	}
}

func TestCancelRefusedOnceDeploying(t *testing.T) {
	h := newHarness(t)
	// The deployment task takes an hour of workflow time; cancel in the middle of it.
	h.env.OnActivity(deploy.ActivityAwaitDeployment, mock.Anything, mock.Anything).After(time.Hour).
		Return(deploy.TaskStatus{TaskID: "task-1", Done: true, DeploymentID: "dep-1"}, nil)
	var err error
	h.decide(10*time.Minute, deploy.UpdateCancel, deploy.Cancellation{By: deploy.Identity{Subject: "alice"}, DecisionID: "d"}, &err)
	st := h.run(deploy.Approval{})
	if err == nil || !strings.Contains(err.Error(), "can no longer be canceled") {
		t.Fatalf("cancel answered %v", err)
	}
	if st.State != deploy.StateCompleted {
		t.Fatalf("state %s", st.State)
	}
}

func TestDeployFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.ctl.failTask["tmpl-ntp-v2"] = "lon-b1-acc-01: Device is not reachable"
	h.req.Rollback = &deploy.Rollback{TemplateID: "tmpl-ntp", TemplateVersion: 1, Parameters: map[string]string{"ntp_primary": "10.9.9.9"}}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || st.Deployment.Outcome != deploy.OutcomeFailed || st.Rollback == nil || st.Rollback.Outcome != deploy.OutcomeSucceeded {
		t.Fatalf("state %s deployment %+v rollback %+v", st.State, st.Deployment, st.Rollback)
	}
	d := h.ctl.deployed()
	if len(d) != 2 || d[1].VersionID != "tmpl-ntp-v1" || d[1].Params["ntp_primary"] != "10.9.9.9" {
		t.Fatalf("deploys %+v", d)
	}
	c := h.chg.all()[0]
	if c.State != "closed" || c.CloseCode != "unsuccessful" || !strings.Contains(c.CloseNotes, "the deployment failed: lon-b1-acc-01: Device is not reachable. Rollback NTP-Servers v1: succeeded") {
		t.Errorf("change %s %s %q", c.State, c.CloseCode, c.CloseNotes)
	}
	if !strings.Contains(steps(st), "rollback_started rollback_finished") {
		t.Errorf("steps %s", steps(st))
	}
}

func TestDeployFailureWithoutRollback(t *testing.T) {
	h := newHarness(t)
	h.ctl.failTask["tmpl-ntp-v2"] = "boom"
	st := h.run(deploy.Approval{})
	c := h.chg.all()[0]
	if st.State != deploy.StateFailed || st.Rollback != nil || len(h.ctl.deployed()) != 1 || c.CloseCode != "unsuccessful" ||
		!strings.Contains(c.CloseNotes, "No rollback template was named") {
		t.Fatalf("state %s, change %+v", st.State, c)
	}
}

func TestVerificationFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.ctl.healthAfter["dev-2"] = 3
	h.req.Rollback = &deploy.Rollback{TemplateID: "tmpl-ntp", TemplateVersion: 1, Parameters: map[string]string{"ntp_primary": "10.9.9.9"}}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || st.Verification == nil || st.Verification.OK || st.Rollback == nil {
		t.Fatalf("state %s verification %+v", st.State, st.Verification)
	}
	if !strings.Contains(st.LastError, "lon-b1-acc-01 health fell from 9 to 3") {
		t.Errorf("last error %q", st.LastError)
	}
}

func TestValidationFailureOpensNoChange(t *testing.T) {
	h := newHarness(t)
	h.ctl.unreachable["dev-2"] = true
	h.chg.missing["lon-b1-core-01"] = true
	h.req.Parameters = map[string]string{}
	st := h.run(deploy.Approval{Required: true})
	if st.State != deploy.StateFailed || len(h.chg.all()) != 0 || len(h.ctl.deployed()) != 0 {
		t.Fatalf("state %s", st.State)
	}
	for _, want := range []string{"does not render with these parameters", "lon-b1-acc-01 (dev-2) is not reachable",
		"no configuration item in the CMDB for lon-b1-core-01"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("last error %q lacks %q", st.LastError, want)
		}
	}
}

func TestUnknownTemplateVersion(t *testing.T) {
	h := newHarness(t)
	h.req.TemplateVersion = 7
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || !strings.Contains(st.LastError, "no template tmpl-ntp version 7") {
		t.Fatalf("%s %q", st.State, st.LastError)
	}
}

func TestWindowInThePast(t *testing.T) {
	h := newHarness(t)
	h.req.Window = deploy.Window{Start: h.env.Now().Add(-3 * time.Hour), End: h.env.Now().Add(-time.Hour)}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || !strings.Contains(st.LastError, "the change window ended at 2026-11-23T09:00:00Z") {
		t.Fatalf("%s %q", st.State, st.LastError)
	}
}

func TestWaitsForTheWindow(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now().Add(6 * time.Hour)
	h.req.Window = deploy.Window{Start: start, End: start.Add(2 * time.Hour)}
	var deployedAt time.Time
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == deploy.ActivityStartDeployment {
			deployedAt = h.env.Now()
		}
	})
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateCompleted || !strings.Contains(steps(st), "waiting_for_window") {
		t.Fatalf("%s %s", st.State, steps(st))
	}
	if deployedAt.Before(start) {
		t.Errorf("deployed at %v, before the window opened at %v", deployedAt, start)
	}
}

func TestDeployNotSentIsRetried(t *testing.T) {
	h := newHarness(t)
	h.ctl.deployErrs = []error{errors.Join(deploy.ErrNotSent, errors.New("connection refused"))}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateCompleted || len(h.ctl.deployed()) != 1 || !strings.Contains(steps(st), "deploy_retry") {
		t.Fatalf("%s deploys %d steps %s", st.State, len(h.ctl.deployed()), steps(st))
	}
}

// A deploy request whose answer was lost but which the controller acted on is found among
// the controller's tasks (asked again while a candidate task still runs) and followed to
// its end: the deployment completes, with one deploy.
func TestDeployOutcomeUnknownIsReconciled(t *testing.T) {
	h := newHarness(t)
	h.ctl.deployErrs = []error{errors.New("Catalyst Center: POST /deploy answered 504 Gateway Timeout")}
	h.ctl.findPending = 2
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateCompleted || st.Deployment.Outcome != deploy.OutcomeSucceeded || st.Deployment.TaskID != "task-1" {
		t.Fatalf("%s %+v", st.State, st.Deployment)
	}
	if n := len(h.ctl.deployed()); n != 1 || h.ctl.finds != 3 {
		t.Errorf("%d deploy requests acted on, %d searches", n, h.ctl.finds)
	}
	if stepOutcome(st, "deploy_reconciled") != "success" {
		t.Errorf("steps %s", steps(st))
	}
}

// A deploy request whose outcome is unknown and which no controller task matches is not sent
// again (it could still be acted on) and not rolled back: the deployment ends failed with an
// unknown outcome, and the change says what to check.
func TestDeployOutcomeUnknownIsNotResent(t *testing.T) {
	h := newHarness(t)
	h.ctl.deployErrs = []error{errors.New("Catalyst Center: POST /deploy answered 502 Bad Gateway")}
	h.ctl.lostBeforeActing = true
	h.req.Rollback = &deploy.Rollback{TemplateID: "tmpl-ntp", TemplateVersion: 1, Parameters: map[string]string{"ntp_primary": "10.9.9.9"}}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || st.Deployment.Outcome != deploy.OutcomeUnknown || st.Rollback != nil {
		t.Fatalf("%s %+v %+v", st.State, st.Deployment, st.Rollback)
	}
	if n := len(h.ctl.deployed()); n != 0 || h.ctl.finds != 1 {
		t.Errorf("%d deploy requests acted on, %d searches", n, h.ctl.finds)
	}
	if stepOutcome(st, "deploy_reconciled") != "failure" {
		t.Errorf("steps %s", steps(st))
	}
	c := h.chg.all()[0]
	if c.CloseCode != "unsuccessful" || !strings.Contains(c.CloseNotes, "did not send the deploy request again") {
		t.Errorf("%+v", c)
	}
}

func TestDeployRefused(t *testing.T) {
	h := newHarness(t)
	h.ctl.deployErrs = []error{errors.Join(deploy.ErrRefused, errors.New("400 Bad Request"))}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || st.Deployment.Outcome != deploy.OutcomeRefused || len(h.ctl.deployed()) != 0 {
		t.Fatalf("%s %+v", st.State, st.Deployment)
	}
}

func TestChangeRefusalStopsBeforeDeploying(t *testing.T) {
	h := newHarness(t)
	h.chg.moveErr = deploy.Permanent(errors.New("change is on hold"))
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || len(h.ctl.deployed()) != 0 || h.chg.all()[0].State != "canceled" {
		t.Fatalf("%s %q", st.State, st.LastError)
	}
}

func TestInvalidRequestFailsWithoutActivities(t *testing.T) {
	h := newHarness(t)
	h.req.DeviceIDs = []string{"dev-1", "dev-1"}
	st := h.run(deploy.Approval{})
	if st.State != deploy.StateFailed || !strings.Contains(st.LastError, "names dev-1 twice") {
		t.Fatalf("%s %q", st.State, st.LastError)
	}
}

func TestLoggerFieldNames(t *testing.T) {
	var buf ecslogtest.Buffer
	zl := zerolog.New(&buf)
	l := temporalx.NewLogger(zl).With("WorkflowID", "wf-1", "RunID", "r")
	l.Info("hi", "Error", errors.New("bad"), "user.id", "alice", "SomeThing", 3, "dangling")
	var m map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"gatehouse.workflow_id": "wf-1", "gatehouse.temporal.run_id": "r", "error.message": "bad",
		"user.id": "alice", "gatehouse.temporal.some_thing": float64(3), "gatehouse.temporal.dangling": "(MISSING)"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, buf.String())
		}
	}
}

func TestCancelWhileTheChangeMovesToImplement(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity(deploy.ActivityAdvanceChange, mock.Anything, mock.Anything, "scheduled").Return(nil)
	h.env.OnActivity(deploy.ActivityAdvanceChange, mock.Anything, mock.Anything, "implement").After(10 * time.Minute).Return(nil)
	var err error
	h.decide(5*time.Minute, deploy.UpdateCancel, deploy.Cancellation{By: deploy.Identity{Subject: "alice"}, DecisionID: "d"}, &err)
	st := h.run(deploy.Approval{})
	if err != nil || st.State != deploy.StateCanceled || len(h.ctl.deployed()) != 0 || h.chg.all()[0].State != "canceled" {
		t.Fatalf("%v %s %d", err, st.State, len(h.ctl.deployed()))
	}
}

func TestCanceledThroughTemporal(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Minute)
	h.env.ExecuteWorkflow(deploy.WorkflowName, deploy.Input{Request: h.req, Approval: deploy.Approval{Required: true, Timeout: time.Hour}})
	if err := h.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("workflow error %v", err)
	}
	c := h.chg.all()[0]
	if c.State != "canceled" || !strings.Contains(c.CloseNotes, "canceled through Temporal") {
		t.Errorf("change %s %q", c.State, c.CloseNotes)
	}
}
