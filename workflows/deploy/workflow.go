package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// WorkflowName is the workflow's registered type name.
const WorkflowName = "DeployTemplate"

// Names of the workflow's query, updates and signals.
const (
	// QueryStatus answers the Status.
	QueryStatus = "status"
	// UpdateApprove, UpdateReject and UpdateCancel take a Decision (a Cancellation for
	// cancel) and answer the Status, or an error saying why the workflow refused it.
	UpdateApprove = "approve"
	UpdateReject  = "reject"
	UpdateCancel  = "cancel"
	// SignalApprove, SignalReject and SignalCancel carry the same payloads as the updates,
	// for senders that cannot wait for an answer; a refused signal is recorded in the
	// Status's refusals.
	SignalApprove = "approve"
	SignalReject  = "reject"
	SignalCancel  = "cancel"
)

// ErrTypeDecisionRefused is the error type of a refused approval, rejection or cancellation.
const ErrTypeDecisionRefused = "DecisionRefused"

// Input starts a deployment workflow.
type Input struct {
	Request  Request  `json:"request"`
	Approval Approval `json:"approval"`
	// Timeouts tune the workflow; zero fields take the defaults.
	Timeouts Timeouts `json:"timeouts,omitzero"`
}

// Timeouts tune how long the workflow waits for things. Zero means the default.
type Timeouts struct {
	// Deploy is how long a Catalyst Center deployment task may run (default 1h); after
	// that its outcome counts as unknown.
	Deploy time.Duration `json:"deploy,omitempty"`
	// Heartbeat is how soon a worker that died while polling the deployment task is noticed
	// and another takes over (default 30s).
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
	// Settle is how long to wait after the deployment before checking the devices' health
	// (default 0; Catalyst Center refreshes assurance health every few minutes).
	Settle time.Duration `json:"settle,omitempty"`
	// Retry is the first retry interval of every activity (default 1s; it doubles up to 30s
	// for upstream reads and 1 min for ServiceNow writes).
	Retry time.Duration `json:"retry,omitempty"`
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Deploy <= 0 {
		t.Deploy = time.Hour
	}
	if t.Heartbeat <= 0 {
		t.Heartbeat = 30 * time.Second
	}
	if t.Retry <= 0 {
		t.Retry = time.Second
	}
	return t
}

// maxRefusals bounds the refusals kept in the status (each is also in the history and log).
const maxRefusals = 50

// run is one workflow execution's state. Every field is rebuilt by replaying the history,
// so nothing lives only in a worker's memory.
type run struct {
	in       Input
	approval Approval
	t        Timeouts
	st       Status
	// deploying is set once the deploy request may have been sent: no more cancellation.
	deploying bool
}

// Workflow deploys a template version: validate → change request → approval (when the
// policy asked for it) → wait for the change window → change to Implement → deploy → poll
// the task → verify → close the change. A failed deployment or verification deploys the
// rollback (when named) and closes the change unsuccessful; a rejection, an expired approval
// or a cancellation cancels the change. It returns the final Status; business failures are
// states, not errors.
func Workflow(ctx workflow.Context, in Input) (Status, error) {
	info := workflow.GetInfo(ctx)
	r := &run{in: in, approval: in.Approval.normalized(), t: in.Timeouts.withDefaults()}
	now := workflow.Now(ctx)
	r.st = Status{WorkflowID: info.WorkflowExecution.ID, State: StateValidating, Request: in.Request,
		RequestHash: in.Request.Hash(), Approval: r.approval, Started: now, Updated: now, Steps: []Step{}}
	if err := r.handlers(ctx); err != nil {
		return r.st, err
	}
	err := r.execute(ctx)
	return r.st, err
}

func (r *run) handlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return r.st, nil }); err != nil {
		return err
	}
	for _, kind := range []string{UpdateApprove, UpdateReject} {
		if err := workflow.SetUpdateHandler(ctx, kind, func(ctx workflow.Context, d Decision) (Status, error) {
			return r.st, r.decide(ctx, kind, d)
		}); err != nil {
			return err
		}
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateCancel, func(ctx workflow.Context, c Cancellation) (Status, error) {
		return r.st, r.cancel(ctx, c)
	}); err != nil {
		return err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		sel := workflow.NewSelector(ctx)
		for _, kind := range []string{SignalApprove, SignalReject} {
			sel.AddReceive(workflow.GetSignalChannel(ctx, kind), func(c workflow.ReceiveChannel, _ bool) {
				var d Decision
				c.Receive(ctx, &d)
				_ = r.decide(ctx, kind, d)
			})
		}
		sel.AddReceive(workflow.GetSignalChannel(ctx, SignalCancel), func(ch workflow.ReceiveChannel, _ bool) {
			var c Cancellation
			ch.Receive(ctx, &c)
			_ = r.cancel(ctx, c)
		})
		for {
			sel.Select(ctx)
		}
	})
	return nil
}

// refusal says why a decision cannot be accepted, or "" when it can.
func (r *run) refusal(kind string, d Decision) string {
	req := r.in.Request.Requester
	switch {
	case r.st.State != StateAwaitingApproval:
		return fmt.Sprintf("the deployment is not waiting for approval (it is %s)", r.st.State)
	case strings.TrimSpace(d.Approver) == "":
		return "the decision does not say who made it"
	case d.DecisionID == "":
		return "the decision carries no decision id of the call that made it"
	case d.RequestHash != r.st.RequestHash:
		return "the decision is for another request: its request hash does not match this deployment's"
	case d.Approver == req.Subject || (d.Email != "" && strings.EqualFold(d.Email, req.Email)):
		return "the requester cannot approve or reject their own deployment"
	case r.approval.Role != "" && !slices.Contains(d.Roles, r.approval.Role):
		return fmt.Sprintf("%s does not have the role %s this approval requires", d.Approver, r.approval.Role)
	case r.st.Rejection != nil:
		return "the deployment was already rejected"
	case kind == UpdateApprove && len(r.st.Approvals) >= r.approval.Approvers:
		return "the deployment already has all the approvals it needs"
	case kind == UpdateApprove && slices.ContainsFunc(r.st.Approvals, func(a ApprovalRecord) bool { return a.Approver == d.Approver }):
		return d.Approver + " has already approved this deployment; another person must approve"
	}
	return ""
}

// decide applies an approval or a rejection, or records why it was refused.
func (r *run) decide(ctx workflow.Context, kind string, d Decision) error {
	now := workflow.Now(ctx)
	if reason := r.refusal(kind, d); reason != "" {
		if len(r.st.Refusals) < maxRefusals {
			r.st.Refusals = append(r.st.Refusals, Refusal{Kind: kind, Decision: d, Reason: reason, At: now})
		}
		r.decisionStep(ctx, kind+"_refused", "failure", reason, d.Approver, d.DecisionID)
		return temporal.NewApplicationError(kind+" refused: "+reason, ErrTypeDecisionRefused)
	}
	rec := ApprovalRecord{Decision: d, At: now}
	if kind == UpdateApprove {
		r.st.Approvals = append(r.st.Approvals, rec)
		r.decisionStep(ctx, "approved", "success", fmt.Sprintf("approval %d of %d", len(r.st.Approvals), r.approval.Approvers),
			d.Approver, d.DecisionID)
		return nil
	}
	r.st.Rejection = &rec
	r.decisionStep(ctx, "rejected", "success", d.Comment, d.Approver, d.DecisionID)
	return nil
}

// cancel accepts a cancellation before the deploy request may have been sent.
func (r *run) cancel(ctx workflow.Context, c Cancellation) error {
	refuse := func(reason string) error {
		if len(r.st.Refusals) < maxRefusals {
			r.st.Refusals = append(r.st.Refusals, Refusal{Kind: UpdateCancel,
				Decision: Decision{Approver: c.By.Subject, Email: c.By.Email, DecisionID: c.DecisionID, Comment: c.Reason},
				Reason:   reason, At: workflow.Now(ctx)})
		}
		r.decisionStep(ctx, "cancel_refused", "failure", reason, c.By.Subject, c.DecisionID)
		return temporal.NewApplicationError("cancel refused: "+reason, ErrTypeDecisionRefused)
	}
	switch {
	case r.st.State.Terminal():
		return refuse(fmt.Sprintf("the deployment has already ended (%s)", r.st.State))
	case r.deploying:
		return refuse("the deployment has already started on the devices; it can no longer be canceled")
	case strings.TrimSpace(c.By.Subject) == "":
		return refuse("the cancellation does not say who asked for it")
	case r.st.Cancellation != nil:
		return nil // already canceled: asking again changes nothing
	}
	r.st.Cancellation = &CancelRecord{Cancellation: c, At: workflow.Now(ctx)}
	r.decisionStep(ctx, "cancel_requested", "success", c.Reason, c.By.Subject, c.DecisionID)
	return nil
}

// execute runs the steps. It returns an error only when the workflow itself was canceled
// through Temporal (after cleaning up) or the workflow could not proceed at all.
func (r *run) execute(ctx workflow.Context) error {
	req := r.in.Request
	r.step(ctx, "requested", "success", fmt.Sprintf("template %s version %d to %s", req.TemplateID, req.TemplateVersion,
		plural(len(req.DeviceIDs), "device")))
	if err := errors.Join(req.Validate(), r.in.Approval.Validate()); err != nil {
		r.finish(ctx, StateFailed, "validated", err.Error())
		return nil
	}
	if now := workflow.Now(ctx); !now.Before(req.Window.End) {
		r.finish(ctx, StateFailed, "validated", fmt.Sprintf("the change window ended at %s", req.Window.End.UTC().Format(time.RFC3339)))
		return nil
	}

	var v Validation
	if err := workflow.ExecuteActivity(r.readOptions(ctx), ActivityValidate, req).Get(ctx, &v); err != nil {
		return r.failBeforeChange(ctx, "validated", err)
	}
	r.st.Template, r.st.Preview = v.Template.String(), v.Preview
	r.step(ctx, "validated", "success", fmt.Sprintf("%s renders; %s reachable", v.Template, plural(len(v.Devices), "device")))
	if r.st.Cancellation != nil {
		r.finish(ctx, StateCanceled, "canceled", "canceled before the change request was opened")
		return nil
	}

	var ch ChangeRef
	if err := workflow.ExecuteActivity(r.writeOptions(ctx, time.Hour), ActivityCreateChange, CreateChangeInput{
		WorkflowID: r.st.WorkflowID, Request: req, RequestHash: r.st.RequestHash, Approval: r.approval, Validation: v,
	}).Get(ctx, &ch); err != nil {
		return r.failBeforeChange(ctx, "change_created", err)
	}
	r.st.Change = &ch
	r.upsert(ctx, SearchAttrChange.ValueSet(ch.Number))
	r.step(ctx, "change_created", "success", ch.URL)

	if r.approval.Required {
		if done, err := r.awaitApproval(ctx); done || err != nil {
			return err
		}
	} else {
		r.step(ctx, "approval_not_required", "success", "the policy requires no approval")
	}
	if r.st.Cancellation != nil {
		return r.cancelChange(ctx, StateCanceled, "canceled", r.cancelNotes())
	}
	if err := r.advance(ctx, "scheduled"); err != nil {
		return r.cancelChangeAfter(ctx, "change_scheduled", err)
	}

	if start := req.Window.Start; workflow.Now(ctx).Before(start) {
		r.setState(ctx, StateScheduled)
		r.step(ctx, "waiting_for_window", "success", "the change window opens at "+start.UTC().Format(time.RFC3339))
		if _, err := workflow.AwaitWithTimeout(ctx, start.Sub(workflow.Now(ctx)), func() bool { return r.st.Cancellation != nil }); err != nil {
			return r.canceledByTemporal(ctx, err)
		}
		if r.st.Cancellation != nil {
			return r.cancelChange(ctx, StateCanceled, "canceled", r.cancelNotes())
		}
	}
	if now := workflow.Now(ctx); !now.Before(req.Window.End) {
		return r.cancelChange(ctx, StateFailed, "window_closed",
			fmt.Sprintf("The change window ended at %s before the deployment could start; nothing was deployed.", req.Window.End.UTC().Format(time.RFC3339)))
	}

	r.setState(ctx, StateImplementing)
	if err := r.advance(ctx, "implement"); err != nil {
		return r.cancelChangeAfter(ctx, "change_implementing", err)
	}
	r.step(ctx, "change_implementing", "success", "change "+ch.Number+" is in Implement")
	if r.st.Cancellation != nil { // accepted while the change moved; nothing was sent yet
		return r.cancelChange(ctx, StateCanceled, "canceled", r.cancelNotes())
	}

	// From here on the deploy request may be sent: cancellations are refused. No yield
	// happens between the check above and this flag, so no cancellation slips in.
	r.setState(ctx, StateDeploying)
	r.deploying = true
	r.st.Deployment = &DeploymentRecord{Outcome: OutcomeRunning, Started: workflow.Now(ctx)}
	if err := r.deploy(ctx, "deploy", r.st.Deployment, v.Template, DeployInput{VersionID: v.Template.VersionID, DeviceIDs: req.DeviceIDs,
		Parameters: req.Parameters, Key: r.st.WorkflowID + "/deploy"}); err != nil {
		return r.canceledByTemporal(ctx, err)
	}
	d := r.st.Deployment
	switch d.Outcome {
	case OutcomeSucceeded:
	case OutcomeFailed:
		return r.rollbackAndClose(ctx, v, "the deployment failed: "+d.FailureReason)
	case OutcomeRefused:
		return r.closeChange(ctx, false, StateFailed,
			"Catalyst Center did not deploy the template (nothing was deployed): "+d.FailureReason)
	default:
		return r.closeChange(ctx, false, StateFailed,
			"The outcome of the deployment is unknown: "+d.FailureReason+
				". Gatehouse did not send the deploy request again and did not roll back: check Catalyst Center's tasks and the devices.")
	}

	if r.t.Settle > 0 {
		if err := workflow.Sleep(ctx, r.t.Settle); err != nil {
			return r.canceledByTemporal(ctx, err)
		}
	}
	r.setState(ctx, StateVerifying)
	var ver Verification
	if err := workflow.ExecuteActivity(r.readOptions(ctx), ActivityVerify, VerifyInput{Before: v.Devices}).Get(ctx, &ver); err != nil {
		if ctx.Err() != nil {
			return r.canceledByTemporal(ctx, err)
		}
		ver = Verification{Problems: []string{"the health check could not run: " + errText(err)}}
	}
	r.st.Verification = &ver
	if !ver.OK {
		r.step(ctx, "verified", "failure", strings.Join(ver.Problems, "; "))
		return r.rollbackAndClose(ctx, v, "the health check after the deployment failed: "+strings.Join(ver.Problems, "; "))
	}
	r.step(ctx, "verified", "success", plural(len(ver.Devices), "device")+" reachable and healthy")
	return r.closeChange(ctx, true, StateCompleted, fmt.Sprintf("Deployed %s to %s (Catalyst Center deployment %s, task %s); every device is reachable and healthy.",
		v.Template, strings.Join(v.Hostnames(), ", "), d.DeploymentID, d.TaskID))
}

// awaitApproval waits for the approvals, a rejection, a cancellation or the deadline. It
// reports done when the deployment ended (the change was canceled).
func (r *run) awaitApproval(ctx workflow.Context) (bool, error) {
	deadline := workflow.Now(ctx).Add(r.approval.Timeout)
	if end := r.in.Request.Window.End; end.Before(deadline) {
		deadline = end
	}
	r.st.ApprovalDeadline = deadline
	r.setState(ctx, StateAwaitingApproval)
	need := plural(r.approval.Approvers, "approval")
	if r.approval.Role != "" {
		need += " from the role " + r.approval.Role
	}
	r.step(ctx, "approval_requested", "success", need+" until "+deadline.UTC().Format(time.RFC3339))
	_ = r.note(ctx, "approval-requested", fmt.Sprintf("Gatehouse is waiting for %s until %s (the requester cannot approve). Request hash %s.",
		need, deadline.UTC().Format(time.RFC3339), r.st.RequestHash))
	ok, err := workflow.AwaitWithTimeout(ctx, deadline.Sub(workflow.Now(ctx)), func() bool {
		return r.st.Rejection != nil || r.st.Cancellation != nil || len(r.st.Approvals) >= r.approval.Approvers
	})
	if err != nil {
		return true, r.canceledByTemporal(ctx, err)
	}
	switch {
	case r.st.Rejection != nil:
		rj := r.st.Rejection
		return true, r.cancelChange(ctx, StateRejected, "rejected", fmt.Sprintf("Rejected through Gatehouse by %s at %s (decision id %s): %s",
			who(rj.Approver, rj.Email), rj.At.UTC().Format(time.RFC3339), rj.DecisionID, orNone(rj.Comment)))
	case r.st.Cancellation != nil:
		return true, r.cancelChange(ctx, StateCanceled, "canceled", r.cancelNotes())
	case !ok:
		return true, r.cancelChange(ctx, StateExpired, "approval_expired", fmt.Sprintf("Approval expired at %s with %d of %s.",
			deadline.UTC().Format(time.RFC3339), len(r.st.Approvals), need))
	}
	r.step(ctx, "approval_granted", "success", strings.Join(r.approvers(), ", "))
	if err := r.note(ctx, "approved", "Approved through Gatehouse:\n"+r.approvalLines()+"\nRequest hash "+r.st.RequestHash+"."); err != nil && ctx.Err() != nil {
		return true, r.canceledByTemporal(ctx, err)
	}
	return false, nil
}

// deploy sends one deploy request and follows its task, filling rec. The request is sent
// again only when the previous attempt certainly did not send it. It returns an error only
// when the workflow was canceled.
func (r *run) deploy(ctx workflow.Context, what string, rec *DeploymentRecord, tmpl TemplateInfo, in DeployInput) error {
	var task string
	// A deploy task of ours starts after this (less the clocks' skew): reconcile looks no
	// further back.
	sending := workflow.Now(ctx).Add(-reconcileSkew)
send:
	for attempt := 1; ; attempt++ {
		err := workflow.ExecuteActivity(r.startOptions(ctx), ActivityStartDeployment, in).Get(ctx, &task)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			rec.Outcome, rec.FailureReason, rec.Ended = OutcomeUnknown, "the workflow was canceled while sending the deploy request", workflow.Now(ctx)
			return err
		}
		switch sendOutcome(err) {
		case ErrTypeDeployNotSent:
			if attempt < 5 {
				r.step(ctx, what+"_retry", "failure", errText(err))
				if err := workflow.Sleep(ctx, r.t.Retry<<attempt); err != nil {
					return err
				}
				continue
			}
			rec.Outcome = OutcomeRefused
		case ErrTypeDeployRefused:
			rec.Outcome = OutcomeRefused
		default:
			found := r.reconcile(ctx, what, FindInput{Template: tmpl, DeviceIDs: in.DeviceIDs, Since: sending,
				Until: workflow.Now(ctx).Add(reconcileSkew)}, err)
			if ctx.Err() != nil { // canceled while searching: the caller closes the change
				rec.Outcome, rec.FailureReason, rec.Ended = OutcomeUnknown, errText(err), workflow.Now(ctx)
				return ctx.Err()
			}
			if found != "" {
				task = found
				break send
			}
			rec.Outcome = OutcomeUnknown
		}
		rec.FailureReason, rec.Ended = errText(err), workflow.Now(ctx)
		r.step(ctx, what+"_started", "failure", rec.FailureReason)
		return nil
	}
	rec.TaskID = task
	r.step(ctx, what+"_started", "success", "Catalyst Center task "+task)
	var ts TaskStatus
	err := workflow.ExecuteActivity(r.awaitOptions(ctx), ActivityAwaitDeployment, task).Get(ctx, &ts)
	rec.Ended = workflow.Now(ctx)
	switch {
	case ctx.Err() != nil:
		rec.Outcome, rec.FailureReason = OutcomeUnknown, "the workflow was canceled while the deployment task was running"
		return err
	case err != nil:
		rec.Outcome, rec.FailureReason = OutcomeUnknown, "the deployment task could not be followed to its end: "+errText(err)
	case ts.Failed:
		rec.Outcome, rec.DeploymentID, rec.FailureReason = OutcomeFailed, ts.DeploymentID, orNone(ts.FailureReason)
	default:
		rec.Outcome, rec.DeploymentID = OutcomeSucceeded, ts.DeploymentID
	}
	outcome := "success"
	if rec.Outcome != OutcomeSucceeded {
		outcome = "failure"
	}
	r.step(ctx, what+"_finished", outcome, strings.TrimSpace(rec.Outcome+" "+rec.DeploymentID+" "+rec.FailureReason))
	return nil
}

// reconcileSkew is how far before sending a deploy request reconcile looks for its task:
// the controller's clock may be behind the workflow's.
const reconcileSkew = 2 * time.Minute

// reconcile asks the controller whether a deploy request whose answer was lost started a
// deployment (FindDeployment): the task when exactly one deploy task since the request
// matches its template version and devices, else "" and the outcome stays unknown. Workflows
// that began before this existed skip it (workflow versioning keeps their replay intact).
func (r *run) reconcile(ctx workflow.Context, what string, in FindInput, cause error) string {
	if workflow.GetVersion(ctx, "reconcile-unknown-deploy", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return ""
	}
	r.step(ctx, what+"_unknown", "failure", errText(cause)+"; looking for its task in Catalyst Center")
	var task string
	err := workflow.ExecuteActivity(r.reconcileOptions(ctx), ActivityFindDeployment, in).Get(ctx, &task)
	switch {
	case err != nil:
		r.step(ctx, what+"_reconciled", "failure", "Catalyst Center's tasks could not be searched: "+errText(err))
	case task == "":
		r.step(ctx, what+"_reconciled", "failure", "no single Catalyst Center deploy task of "+in.Template.String()+" to these devices")
	default:
		r.step(ctx, what+"_reconciled", "success", "the lost answer's deployment is Catalyst Center task "+task)
	}
	return task
}

// sendOutcome classifies a failed StartDeployment: not sent (a timeout without the send
// marker counts), refused, or unknown.
func sendOutcome(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		switch ae.Type() {
		case ErrTypeDeployNotSent, ErrTypeDeployRefused:
			return ae.Type()
		}
		return ErrTypeDeployUnknown
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) && !te.HasLastHeartbeatDetails() {
		return ErrTypeDeployNotSent
	}
	return ErrTypeDeployUnknown
}

// rollbackAndClose deploys the rollback (when the request names one) and closes the change
// unsuccessful.
func (r *run) rollbackAndClose(ctx workflow.Context, v Validation, why string) error {
	notes := why
	if rb := r.in.Request.Rollback; rb != nil && v.Rollback != nil {
		r.setState(ctx, StateRollingBack)
		r.st.Rollback = &DeploymentRecord{Outcome: OutcomeRunning, Started: workflow.Now(ctx)}
		if err := r.deploy(ctx, "rollback", r.st.Rollback, *v.Rollback, DeployInput{VersionID: v.Rollback.VersionID, DeviceIDs: r.in.Request.DeviceIDs,
			Parameters: rb.Parameters, Key: r.st.WorkflowID + "/rollback"}); err != nil {
			return r.canceledByTemporal(ctx, err)
		}
		rec := r.st.Rollback
		notes += fmt.Sprintf(". Rollback %s: %s", v.Rollback, rec.Outcome)
		if rec.DeploymentID != "" {
			notes += " (deployment " + rec.DeploymentID + ")"
		}
		if rec.FailureReason != "" {
			notes += ": " + rec.FailureReason
		}
	} else {
		notes += ". No rollback template was named."
	}
	return r.closeChange(ctx, false, StateFailed, notes)
}

// closeChange closes the change with the outcome and ends the workflow in state.
func (r *run) closeChange(ctx workflow.Context, successful bool, state State, notes string) error {
	full := notes + r.auditLines()
	err := workflow.ExecuteActivity(r.writeOptions(ctx, 24*time.Hour), ActivityCloseChange,
		CloseInput{Number: r.st.Change.Number, Successful: successful, Notes: full}).Get(ctx, nil)
	if err != nil {
		r.st.LastError = "closing the change failed: " + errText(err)
		r.step(ctx, "change_closed", "failure", r.st.LastError)
	} else {
		r.step(ctx, "change_closed", map[bool]string{true: "success", false: "failure"}[successful], notes)
	}
	if state == StateFailed && r.st.LastError == "" {
		r.st.LastError = notes
	}
	r.finish(ctx, state, "finished", notes)
	return nil
}

// cancelChange cancels the change with notes and ends the workflow in state.
func (r *run) cancelChange(ctx workflow.Context, state State, action, notes string) error {
	full := notes + r.auditLines()
	if err := workflow.ExecuteActivity(r.writeOptions(ctx, 24*time.Hour), ActivityCancelChange,
		CloseInput{Number: r.st.Change.Number, Notes: full}).Get(ctx, nil); err != nil {
		r.st.LastError = "canceling the change failed: " + errText(err)
		r.step(ctx, "change_canceled", "failure", r.st.LastError)
	} else {
		r.step(ctx, "change_canceled", "success", notes)
	}
	if state == StateFailed && r.st.LastError == "" {
		r.st.LastError = notes
	}
	r.finish(ctx, state, action, notes)
	return nil
}

// cancelChangeAfter ends a deployment whose change could not move on.
func (r *run) cancelChangeAfter(ctx workflow.Context, action string, err error) error {
	if ctx.Err() != nil {
		return r.canceledByTemporal(ctx, err)
	}
	r.step(ctx, action, "failure", errText(err))
	return r.cancelChange(ctx, StateFailed, "failed", "Gatehouse stopped before deploying: "+errText(err))
}

// failBeforeChange ends a deployment that failed before a change was opened.
func (r *run) failBeforeChange(ctx workflow.Context, action string, err error) error {
	if ctx.Err() != nil {
		return r.canceledByTemporal(ctx, err)
	}
	r.finish(ctx, StateFailed, action, errText(err))
	return nil
}

// canceledByTemporal cleans up after the workflow was canceled through Temporal (not
// through the cancel update): the change is canceled, or closed unsuccessful when the
// deploy request may have been sent. It returns the cancellation, so Temporal records the
// workflow as canceled.
func (r *run) canceledByTemporal(ctx workflow.Context, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if r.st.Cancellation == nil {
		r.st.Cancellation = &CancelRecord{Cancellation: Cancellation{By: Identity{Subject: "temporal"},
			Reason: "the workflow was canceled through Temporal"}, At: workflow.Now(ctx)}
	}
	switch {
	case r.st.Change == nil:
		r.finish(dctx, StateCanceled, "canceled", "the workflow was canceled through Temporal")
	case r.deploying:
		_ = r.closeChange(dctx, false, StateFailed, "The workflow was canceled through Temporal while deploying; the deployment's outcome was not checked.")
	default:
		_ = r.cancelChange(dctx, StateCanceled, "canceled", r.cancelNotes())
	}
	if cause == nil || !temporal.IsCanceledError(cause) {
		cause = temporal.NewCanceledError()
	}
	return cause
}

// advance moves the change forward.
func (r *run) advance(ctx workflow.Context, to string) error {
	return workflow.ExecuteActivity(r.writeOptions(ctx, time.Hour), ActivityAdvanceChange, r.st.Change.Number, to).Get(ctx, nil)
}

// note adds a work note to the change, once per key.
func (r *run) note(ctx workflow.Context, key, text string) error {
	err := workflow.ExecuteActivity(r.writeOptions(ctx, time.Hour), ActivityNoteChange,
		Note{Number: r.st.Change.Number, Key: r.st.WorkflowID + "/" + key, Text: text}).Get(ctx, nil)
	if err != nil && ctx.Err() == nil {
		r.step(ctx, "change_noted", "failure", errText(err))
	}
	return err
}

func (r *run) cancelNotes() string {
	c := r.st.Cancellation
	return fmt.Sprintf("Canceled through Gatehouse by %s at %s (decision id %s): %s", who(c.By.Subject, c.By.Email),
		c.At.UTC().Format(time.RFC3339), orNone(c.DecisionID), orNone(c.Reason))
}

// auditLines are who asked and who approved, for the change's notes.
func (r *run) auditLines() string {
	req := r.in.Request
	s := fmt.Sprintf("\n\nRequested by %s (decision id %s).", who(req.Requester.Subject, req.Requester.Email), orNone(req.DecisionID))
	if len(r.st.Approvals) > 0 {
		s += "\nApproved by:\n" + r.approvalLines()
	}
	return s + "\nGatehouse workflow " + r.st.WorkflowID + ", request hash " + r.st.RequestHash + "."
}

func (r *run) approvalLines() string {
	var b strings.Builder
	for _, a := range r.st.Approvals {
		fmt.Fprintf(&b, "- %s at %s (decision id %s)", who(a.Approver, a.Email), a.At.UTC().Format(time.RFC3339), a.DecisionID)
		if a.Comment != "" {
			b.WriteString(": " + a.Comment)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *run) approvers() []string {
	out := make([]string, 0, len(r.st.Approvals))
	for _, a := range r.st.Approvals {
		out = append(out, a.Approver)
	}
	return out
}

// finish ends the workflow in a terminal state.
func (r *run) finish(ctx workflow.Context, state State, action, detail string) {
	if state == StateFailed && r.st.LastError == "" {
		r.st.LastError = detail
	}
	r.setState(ctx, state)
	outcome := "success"
	if state != StateCompleted {
		outcome = "failure"
	}
	r.step(ctx, action, outcome, detail)
}

func (r *run) setState(ctx workflow.Context, s State) {
	r.st.State = s
	r.st.Updated = workflow.Now(ctx)
	r.upsert(ctx, SearchAttrState.ValueSet(string(s)))
}

// upsert sets search attributes. An attribute the namespace does not know fails the
// workflow task on the server, which retries it until the attribute is registered
// (EnsureSearchAttributes at worker start); Client.Start already refuses to start then.
func (r *run) upsert(ctx workflow.Context, u ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
		workflow.GetLogger(ctx).Warn("setting search attributes failed", "Error", err)
	}
}

// step records a step in the status and logs it as one ECS line.
func (r *run) step(ctx workflow.Context, action, outcome, detail string) {
	r.logStep(ctx, action, outcome, detail, nil)
}

// decisionStep is a step made by someone's decision: the line also names them.
func (r *run) decisionStep(ctx workflow.Context, action, outcome, detail, actor, decisionID string) {
	r.logStep(ctx, action, outcome, detail, []any{"gatehouse.actor", actor, "gatehouse.actor_decision_id", decisionID})
}

func (r *run) logStep(ctx workflow.Context, action, outcome, detail string, extra []any) {
	now := workflow.Now(ctx)
	r.st.Steps = append(r.st.Steps, Step{Action: action, Outcome: outcome, Detail: detail, At: now})
	r.st.Updated = now
	req := r.in.Request
	ids := make([]string, 0, len(r.st.Approvals)+1)
	for _, a := range r.st.Approvals {
		ids = append(ids, a.DecisionID)
	}
	if rj := r.st.Rejection; rj != nil {
		ids = append(ids, rj.DecisionID)
	}
	change := ""
	if r.st.Change != nil {
		change = r.st.Change.Number
	}
	kv := []any{
		"event.kind", "event", "event.category", []string{"configuration"}, "event.action", "deploy." + action,
		"event.outcome", outcome, "gatehouse.workflow_id", r.st.WorkflowID, "gatehouse.state", string(r.st.State), "gatehouse.change_number", change,
		"user.id", req.Requester.Subject, "user.email", req.Requester.Email, "gatehouse.decision_id", req.DecisionID,
		"gatehouse.approver", r.approvers(), "gatehouse.approval_decision_ids", ids, "gatehouse.request_hash", r.st.RequestHash,
	}
	kv = append(kv, extra...)
	msg := "deployment " + strings.ReplaceAll(action, "_", " ")
	if detail != "" {
		msg += ": " + detail
	}
	if outcome == "failure" {
		workflow.GetLogger(ctx).Warn(msg, kv...)
	} else {
		workflow.GetLogger(ctx).Info(msg, kv...)
	}
}

// Activity options. Reads and ServiceNow writes are retried (writes are idempotent by
// correlation id, state or note key); the deploy request is sent once per attempt the
// workflow decides on; the task poll heartbeats so a dead worker is noticed quickly.

func (r *run) readOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: r.t.Retry, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{ErrTypeValidation, ErrTypeRefused}},
	})
}

func (r *run) writeOptions(ctx workflow.Context, total time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: total,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: r.t.Retry, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeRefused}},
	})
}

func (r *run) startOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
}

// reconcileOptions: the search waits while a candidate task runs, for as long as a deploy
// may take, heartbeating like the task poll.
func (r *run) reconcileOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: r.t.Deploy, ScheduleToCloseTimeout: r.t.Deploy, HeartbeatTimeout: r.t.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: r.t.Retry, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
}

func (r *run) awaitOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: r.t.Deploy, ScheduleToCloseTimeout: r.t.Deploy, HeartbeatTimeout: r.t.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: r.t.Retry, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: []string{ErrTypeTaskLost}},
	})
}

// errText is an activity error's message without the SDK's wrapping.
func errText(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timed out (" + te.TimeoutType().String() + ")"
	}
	return err.Error()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
