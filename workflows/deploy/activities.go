package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Controller is what a deployment needs from Catalyst Center. CatalystCenter implements it
// over adapters/catalystcenter; tests may use fakes.
type Controller interface {
	// Template resolves a template id and a committed version number. A template or
	// version that does not exist is an error wrapping ErrNotFound.
	Template(ctx context.Context, templateID string, version int) (TemplateInfo, error)
	// Devices reports the devices, in the order asked, with reachability and health. An
	// unknown id is an error wrapping ErrNotFound.
	Devices(ctx context.Context, ids []string) ([]DeviceHealth, error)
	// Preview renders a committed template version with params.
	Preview(ctx context.Context, versionID string, params map[string]string) (Preview, error)
	// Deploy starts deploying a committed template version to devices and returns the
	// controller's task id. It sends the request at most once. Its error wraps ErrNotSent
	// when the controller certainly did not act on the request (sending again is safe),
	// ErrRefused when the controller refused it (nothing was deployed; sending again would
	// be refused again); any other error means the outcome is unknown.
	Deploy(ctx context.Context, versionID string, deviceIDs []string, params map[string]string) (string, error)
	// Task reports a task; an unknown task is an error wrapping ErrNotFound.
	Task(ctx context.Context, taskID string) (TaskStatus, error)
	// FindDeploy looks for the deployment a deploy request whose answer was lost may have
	// started: a deploy task by Gatehouse's own account, started between since and until,
	// deploying that template version to exactly those devices. It returns the task's id;
	// an error wrapping ErrNotFound when there is none, ErrPending while a task that could
	// be it is still running (the controller names a task's deployment only at its end),
	// ErrAmbiguous when more than one matches or a candidate cannot be checked.
	FindDeploy(ctx context.Context, t TemplateInfo, deviceIDs []string, since, until time.Time) (string, error)
}

// ChangeSystem is what a deployment needs from the change management system. ServiceNow
// implements it over adapters/servicenow.
type ChangeSystem interface {
	// MissingCIs returns the names that have no configuration item.
	MissingCIs(ctx context.Context, names []string) ([]string, error)
	// Create opens a change request. It is idempotent by CorrelationID: a second call with
	// the same id returns the change the first one created.
	Create(ctx context.Context, c NewChange) (ChangeRef, error)
	// Advance moves the change forward to "scheduled" or "implement"; a change already
	// there (or further) is left as it is.
	Advance(ctx context.Context, number, to string) error
	// Note adds a work note, once per key: a note whose key is already on the change is
	// not added again.
	Note(ctx context.Context, number, key, text string) error
	// Close closes the change as successful or unsuccessful with the notes; a closed
	// change is left as it is.
	Close(ctx context.Context, number string, successful bool, notes string) error
	// Cancel cancels the change with the notes; a canceled change is left as it is.
	Cancel(ctx context.Context, number, notes string) error
}

// TemplateInfo is a resolved template version.
type TemplateInfo struct {
	TemplateID string `json:"template_id"`
	Name       string `json:"name"`
	Project    string `json:"project,omitempty"`
	Version    int    `json:"version"`
	// VersionID is the id of the committed version: what is previewed and deployed.
	VersionID string `json:"version_id"`
}

func (t TemplateInfo) String() string { return fmt.Sprintf("%s v%d", t.Name, t.Version) }

// DeviceHealth is a device's reachability and assurance health (1-10; 0 when unknown).
type DeviceHealth struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	ManagementIP string `json:"management_ip,omitempty"`
	Reachable    bool   `json:"reachable"`
	Health       int    `json:"health,omitempty"`
}

// Preview is a rendered template.
type Preview struct {
	CLI    string   `json:"cli"`
	Errors []string `json:"errors,omitempty"`
}

// TaskStatus is a controller task's state.
type TaskStatus struct {
	TaskID        string `json:"task_id"`
	Done          bool   `json:"done"`
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason,omitempty"`
	DeploymentID  string `json:"deployment_id,omitempty"`
	Progress      string `json:"progress,omitempty"`
}

// NewChange is a change request to open.
type NewChange struct {
	// CorrelationID makes Create idempotent (the workflow id).
	CorrelationID      string
	ShortDescription   string
	Description        string
	ImplementationPlan string
	BackoutPlan        string
	TestPlan           string
	// ConfigItems are CI names (the devices' host names), the affected CIs.
	ConfigItems []string
	Start, End  time.Time
	// RequestedBy is the requester's email, when known.
	RequestedBy string
}

// Errors the Controller and ChangeSystem contracts use.
var (
	ErrNotFound = errors.New("not found")
	ErrNotSent  = errors.New("the request was not sent")
	ErrRefused  = errors.New("the request was refused")
	// ErrPending and ErrAmbiguous are FindDeploy's: not known yet; more than one match.
	ErrPending   = errors.New("not known yet")
	ErrAmbiguous = errors.New("more than one match")
)

// permanent marks an error a retry cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix (an upstream's 4xx answer, a record
// in a state that forbids the write). Implementations of Controller and ChangeSystem use it;
// errors wrapping ErrNotFound or ErrRefused are permanent too. Any other error is retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrRefused)
}

// Activity error types (temporal.ApplicationError.Type) the workflow acts on.
const (
	// ErrTypeValidation: the request cannot be deployed as asked.
	ErrTypeValidation = "ValidationFailed"
	// ErrTypeUpstream: an upstream failed in a way a retry may fix.
	ErrTypeUpstream = "UpstreamUnavailable"
	// ErrTypeRefused: an upstream refused the request; retrying will not help.
	ErrTypeRefused = "UpstreamRefused"
	// ErrTypeDeployNotSent: the deploy request certainly did not reach the controller.
	ErrTypeDeployNotSent = "DeployNotSent"
	// ErrTypeDeployRefused: the controller refused the deploy request; nothing deployed.
	ErrTypeDeployRefused = "DeployRefused"
	// ErrTypeDeployUnknown: the deploy request may or may not have been acted on.
	ErrTypeDeployUnknown = "DeployOutcomeUnknown"
	// ErrTypeTaskLost: the controller no longer knows the deployment task.
	ErrTypeTaskLost = "TaskLost"
)

// upstreamError turns an upstream error into a Temporal application error: permanent ones
// are not retried.
func upstreamError(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	if isPermanent(err) {
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeRefused, nil)
	}
	return temporal.NewApplicationError(msg, ErrTypeUpstream)
}

// Activity names, as registered by Register and scheduled by the workflow.
const (
	ActivityValidate        = "deploy.Validate"
	ActivityCreateChange    = "deploy.CreateChange"
	ActivityAdvanceChange   = "deploy.AdvanceChange"
	ActivityNoteChange      = "deploy.NoteChange"
	ActivityStartDeployment = "deploy.StartDeployment"
	ActivityAwaitDeployment = "deploy.AwaitDeployment"
	ActivityFindDeployment  = "deploy.FindDeployment"
	ActivityVerify          = "deploy.Verify"
	ActivityCloseChange     = "deploy.CloseChange"
	ActivityCancelChange    = "deploy.CancelChange"
)

// Activities are the deployment's activities. Every method is safe to run again after a
// worker died in the middle of it, except StartDeployment, which sends the deploy request
// at most once (see its comment).
type Activities struct {
	Controller Controller
	Changes    ChangeSystem
	// PollInterval is how often AwaitDeployment asks for the task's state (default 5s).
	PollInterval time.Duration
	// HealthTolerance is how far a device's health (1-10) may fall below its value before
	// the deployment before verification fails (default 2).
	HealthTolerance int
	// RecordMarker records StartDeployment's send marker as a heartbeat and reports whether
	// the server stored it. Nil records it through the worker's client (the SDK's test
	// environment has no server: tests use activity.RecordHeartbeat).
	RecordMarker func(ctx context.Context, details any) error
}

// Register registers the workflow and the activities on a worker.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	for name, fn := range map[string]any{
		ActivityValidate:        a.Validate,
		ActivityCreateChange:    a.CreateChange,
		ActivityAdvanceChange:   a.AdvanceChange,
		ActivityNoteChange:      a.NoteChange,
		ActivityStartDeployment: a.StartDeployment,
		ActivityAwaitDeployment: a.AwaitDeployment,
		ActivityFindDeployment:  a.FindDeployment,
		ActivityVerify:          a.Verify,
		ActivityCloseChange:     a.CloseChange,
		ActivityCancelChange:    a.CancelChange,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// Validation is what the validation step learned.
type Validation struct {
	Template TemplateInfo   `json:"template"`
	Preview  string         `json:"preview"`
	Devices  []DeviceHealth `json:"devices"`
	// Rollback and RollbackPreview are set when the request names a rollback.
	Rollback        *TemplateInfo `json:"rollback,omitempty"`
	RollbackPreview string        `json:"rollback_preview,omitempty"`
}

// Hostnames are the devices' host names (their CI names).
func (v Validation) Hostnames() []string {
	out := make([]string, 0, len(v.Devices))
	for _, d := range v.Devices {
		out = append(out, d.Hostname)
	}
	return out
}

// Validate checks that the template version exists, that every device exists and is
// reachable and has a CI in the CMDB, and that the template (and the rollback, if any)
// renders with the parameters. Every problem is reported in one non-retryable
// ValidationFailed error; upstream outages are retried.
func (a *Activities) Validate(ctx context.Context, r Request) (Validation, error) {
	var v Validation
	var problems []string
	// check records a problem, or returns the error an outage should be retried with.
	check := func(what string, err error) error {
		if err == nil {
			return nil
		}
		if isPermanent(err) {
			problems = append(problems, fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		return upstreamError(what, err)
	}
	t, err := a.Controller.Template(ctx, r.TemplateID, r.TemplateVersion)
	if err := check("template", err); err != nil {
		return v, err
	}
	if t.VersionID != "" {
		v.Template = t
		p, err := a.Controller.Preview(ctx, t.VersionID, r.Parameters)
		if err := check("preview of "+t.String(), err); err != nil {
			return v, err
		}
		if len(p.Errors) > 0 {
			problems = append(problems, fmt.Sprintf("%s does not render with these parameters: %s", t, strings.Join(p.Errors, "; ")))
		}
		v.Preview = p.CLI
	}
	if rb := r.Rollback; rb != nil {
		rt, err := a.Controller.Template(ctx, rb.TemplateID, rb.TemplateVersion)
		if err := check("rollback template", err); err != nil {
			return v, err
		}
		if rt.VersionID != "" {
			v.Rollback = &rt
			p, err := a.Controller.Preview(ctx, rt.VersionID, rb.Parameters)
			if err := check("preview of rollback "+rt.String(), err); err != nil {
				return v, err
			}
			if len(p.Errors) > 0 {
				problems = append(problems, fmt.Sprintf("the rollback %s does not render with its parameters: %s", rt, strings.Join(p.Errors, "; ")))
			}
			v.RollbackPreview = p.CLI
		}
	}
	devices, err := a.Controller.Devices(ctx, r.DeviceIDs)
	if err := check("devices", err); err != nil {
		return v, err
	}
	v.Devices = devices
	for _, d := range devices {
		if !d.Reachable {
			problems = append(problems, fmt.Sprintf("device %s (%s) is not reachable", d.Hostname, d.ID))
		}
	}
	if len(devices) > 0 {
		missing, err := a.Changes.MissingCIs(ctx, v.Hostnames())
		if err := check("CMDB", err); err != nil {
			return v, err
		}
		if len(missing) > 0 {
			problems = append(problems, "no configuration item in the CMDB for "+strings.Join(missing, ", "))
		}
	}
	if len(problems) > 0 {
		return v, temporal.NewNonRetryableApplicationError("validation failed: "+strings.Join(problems, "; "), ErrTypeValidation, nil)
	}
	return v, nil
}

// CreateChangeInput is what CreateChange needs.
type CreateChangeInput struct {
	WorkflowID  string     `json:"workflow_id"`
	Request     Request    `json:"request"`
	RequestHash string     `json:"request_hash"`
	Approval    Approval   `json:"approval"`
	Validation  Validation `json:"validation"`
}

// CreateChange opens the change request, with the devices as affected CIs and the rendered
// preview in the implementation plan. The workflow id is its correlation id, so a retry
// returns the change the first attempt created.
func (a *Activities) CreateChange(ctx context.Context, in CreateChangeInput) (ChangeRef, error) {
	r, v := in.Request, in.Validation
	short := fmt.Sprintf("Deploy %s to %s", v.Template, plural(len(r.DeviceIDs), "device"))
	if r.Summary != "" {
		short += ": " + r.Summary
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "Template deployment requested through Gatehouse.\n\n")
	fmt.Fprintf(&desc, "Template: %s (template %s, version id %s)\n", v.Template, v.Template.TemplateID, v.Template.VersionID)
	fmt.Fprintf(&desc, "Devices: %s\n", strings.Join(v.Hostnames(), ", "))
	fmt.Fprintf(&desc, "Parameters: %s\n", formatParams(r.Parameters))
	fmt.Fprintf(&desc, "Change window: %s to %s\n", r.Window.Start.UTC().Format(time.RFC3339), r.Window.End.UTC().Format(time.RFC3339))
	fmt.Fprintf(&desc, "Requester: %s\n", who(r.Requester.Subject, r.Requester.Email))
	if r.DecisionID != "" {
		fmt.Fprintf(&desc, "Start decision id: %s\n", r.DecisionID)
	}
	if in.Approval.Required {
		fmt.Fprintf(&desc, "Approval: %s", plural(in.Approval.Approvers, "approver"))
		if in.Approval.Role != "" {
			fmt.Fprintf(&desc, " with the role %s", in.Approval.Role)
		}
		desc.WriteString(", recorded in the work notes\n")
	} else {
		desc.WriteString("Approval: not required by policy\n")
	}
	fmt.Fprintf(&desc, "Workflow: %s\nRequest hash: %s\n", in.WorkflowID, in.RequestHash)
	plan := fmt.Sprintf("Gatehouse deploys %s with Catalyst Center to %s, polls the deployment task, then checks the devices' health.\n\n"+
		"Rendered configuration (Catalyst Center preview):\n\n%s", v.Template, strings.Join(v.Hostnames(), ", "), v.Preview)
	backout := "No rollback template was named: restore the previous configuration by hand."
	if v.Rollback != nil {
		backout = fmt.Sprintf("Gatehouse deploys %s if the deployment or the health check fails.\n\nRendered rollback configuration:\n\n%s",
			v.Rollback, v.RollbackPreview)
	}
	ref, err := a.Changes.Create(ctx, NewChange{
		CorrelationID: in.WorkflowID, ShortDescription: short, Description: desc.String(),
		ImplementationPlan: plan, BackoutPlan: backout,
		TestPlan:    "Every device is reachable and its assurance health has not dropped after the deployment.",
		ConfigItems: v.Hostnames(), Start: r.Window.Start, End: r.Window.End, RequestedBy: r.Requester.Email,
	})
	return ref, upstreamError("creating the change request", err)
}

// AdvanceChange moves the change to "scheduled" or "implement".
func (a *Activities) AdvanceChange(ctx context.Context, number, to string) error {
	return upstreamError(fmt.Sprintf("moving change %s to %s", number, to), a.Changes.Advance(ctx, number, to))
}

// Note is a work note for the change, added once per key.
type Note struct {
	Number string `json:"number"`
	Key    string `json:"key"`
	Text   string `json:"text"`
}

// NoteChange adds a work note to the change (once per key).
func (a *Activities) NoteChange(ctx context.Context, n Note) error {
	return upstreamError("adding a work note to change "+n.Number, a.Changes.Note(ctx, n.Number, n.Key, n.Text))
}

// CloseInput says how the change ends.
type CloseInput struct {
	Number     string `json:"number"`
	Successful bool   `json:"successful"`
	Notes      string `json:"notes"`
}

// CloseChange closes the change with the outcome in its close notes.
func (a *Activities) CloseChange(ctx context.Context, in CloseInput) error {
	return upstreamError("closing change "+in.Number, a.Changes.Close(ctx, in.Number, in.Successful, in.Notes))
}

// CancelChange cancels the change with the reason in its notes.
func (a *Activities) CancelChange(ctx context.Context, in CloseInput) error {
	return upstreamError("canceling change "+in.Number, a.Changes.Cancel(ctx, in.Number, in.Notes))
}

// DeployInput is one deploy request.
type DeployInput struct {
	VersionID  string            `json:"version_id"`
	DeviceIDs  []string          `json:"device_ids"`
	Parameters map[string]string `json:"parameters,omitempty"`
	// Key names the deployment (workflow id and "deploy" or "rollback") in logs and markers.
	Key string `json:"key"`
}

// FindInput is what FindDeployment looks for: the deployment an unknown deploy request of
// this template version to these devices may have started, since a little before it was sent.
type FindInput struct {
	Template  TemplateInfo `json:"template"`
	DeviceIDs []string     `json:"device_ids"`
	Since     time.Time    `json:"since"`
	Until     time.Time    `json:"until"`
}

// FindDeployment reconciles a deploy request whose outcome is unknown with the controller's
// own record. It returns the task the request started, or an empty id when the controller
// has no such task or several (the workflow then leaves the outcome unknown). While a task
// that could be it is still running it asks again every PollInterval, heartbeating, as
// AwaitDeployment does; it only reads, so a retry on another worker is harmless.
func (a *Activities) FindDeployment(ctx context.Context, in FindInput) (string, error) {
	interval := a.PollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	failures := 0
	for {
		task, err := a.Controller.FindDeploy(ctx, in.Template, in.DeviceIDs, in.Since, in.Until)
		switch {
		case err == nil:
			return task, nil
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrAmbiguous):
			activity.GetLogger(ctx).Warn("the deploy request's outcome stays unknown", "Error", err)
			return "", nil
		case errors.Is(err, ErrPending):
			failures = 0
		default:
			if failures++; failures >= 5 || ctx.Err() != nil {
				return "", upstreamError("looking for the deploy task", err)
			}
		}
		activity.RecordHeartbeat(ctx, err.Error())
		select {
		case <-ctx.Done():
			return "", upstreamError("looking for the deploy task", ctx.Err())
		case <-time.After(interval):
		}
	}
}

// sendMarker is the heartbeat StartDeployment records, synchronously, before it sends the
// deploy request: a timed-out attempt that carries it may have sent the request.
type sendMarker struct {
	Key     string    `json:"key"`
	Sending time.Time `json:"sending"`
}

// StartDeployment sends the deploy request and returns the controller's task id. It runs
// with a single attempt (the workflow decides about another): before sending, it records
// a heartbeat marker with the server and waits for the answer, so an attempt that timed out
// without the marker certainly sent nothing. Its errors say whether the request was not
// sent (DeployNotSent: sending again is safe), refused (DeployRefused) or may have been
// acted on (DeployOutcomeUnknown: the workflow never sends it again).
func (a *Activities) StartDeployment(ctx context.Context, in DeployInput) (string, error) {
	record := a.RecordMarker
	if record == nil {
		record = recordMarker
	}
	if err := record(ctx, sendMarker{Key: in.Key, Sending: time.Now().UTC()}); err != nil {
		return "", temporal.NewNonRetryableApplicationError("recording the deploy marker with Temporal failed, so the deploy request was not sent: "+err.Error(),
			ErrTypeDeployNotSent, nil)
	}
	task, err := a.Controller.Deploy(ctx, in.VersionID, in.DeviceIDs, in.Parameters)
	switch {
	case err == nil:
		return task, nil
	case errors.Is(err, ErrNotSent):
		return "", temporal.NewNonRetryableApplicationError("the deploy request was not sent: "+err.Error(), ErrTypeDeployNotSent, nil)
	case errors.Is(err, ErrRefused):
		return "", temporal.NewNonRetryableApplicationError("Catalyst Center refused the deploy request: "+err.Error(), ErrTypeDeployRefused, nil)
	}
	return "", temporal.NewNonRetryableApplicationError("the deploy request's outcome is unknown: "+err.Error(), ErrTypeDeployUnknown, nil)
}

// recordMarker records a heartbeat through the worker's client, which reports whether the
// server stored it (activity.RecordHeartbeat does not).
func recordMarker(ctx context.Context, details any) error {
	return activity.GetClient(ctx).RecordActivityHeartbeat(ctx, activity.GetInfo(ctx).TaskToken, details)
}

// pollProgress is AwaitDeployment's heartbeat.
type pollProgress struct {
	TaskID   string `json:"task_id"`
	Polls    int    `json:"polls"`
	Progress string `json:"progress,omitempty"`
}

// AwaitDeployment polls the deployment task until it ends, heartbeating after every poll:
// a worker that dies mid-poll is noticed within the heartbeat timeout and the next attempt,
// on any worker, polls the same task again (nothing is sent to the controller but reads).
func (a *Activities) AwaitDeployment(ctx context.Context, taskID string) (TaskStatus, error) {
	interval := a.PollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	prog := pollProgress{TaskID: taskID}
	if activity.HasHeartbeatDetails(ctx) {
		var last pollProgress
		if activity.GetHeartbeatDetails(ctx, &last) == nil && last.TaskID == taskID {
			prog = last
		}
	}
	log := activity.GetLogger(ctx)
	failures := 0
	for {
		st, err := a.Controller.Task(ctx, taskID)
		switch {
		case errors.Is(err, ErrNotFound):
			return st, temporal.NewNonRetryableApplicationError("Catalyst Center no longer knows deployment task "+taskID, ErrTypeTaskLost, nil)
		case err != nil:
			failures++
			log.Warn("polling the deployment task failed", "gatehouse.task_id", taskID, "Error", err)
			if failures >= 5 || ctx.Err() != nil {
				return st, upstreamError("polling deployment task "+taskID, err)
			}
		default:
			failures = 0
			prog.Polls++
			prog.Progress = st.Progress
			st.TaskID = taskID
			if st.Done {
				return st, nil
			}
		}
		activity.RecordHeartbeat(ctx, prog)
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return TaskStatus{TaskID: taskID}, ctx.Err()
		case <-t.C:
		}
	}
}

// VerifyInput is the devices' state before the deployment.
type VerifyInput struct {
	Before []DeviceHealth `json:"before"`
}

// Verify checks the devices after the deployment: each must be reachable and its health
// must not have fallen by more than HealthTolerance. A failed check is a result, not an
// error; only an upstream outage is an error (retried).
func (a *Activities) Verify(ctx context.Context, in VerifyInput) (Verification, error) {
	ids := make([]string, 0, len(in.Before))
	for _, d := range in.Before {
		ids = append(ids, d.ID)
	}
	after, err := a.Controller.Devices(ctx, ids)
	if err != nil {
		return Verification{}, upstreamError("device health after the deployment", err)
	}
	tol := a.HealthTolerance
	if tol <= 0 {
		tol = 2
	}
	v := Verification{OK: true, Devices: after}
	for _, d := range after {
		i := slices.IndexFunc(in.Before, func(b DeviceHealth) bool { return b.ID == d.ID })
		switch {
		case !d.Reachable:
			v.Problems = append(v.Problems, fmt.Sprintf("%s is not reachable", d.Hostname))
		case i >= 0 && in.Before[i].Health > 0 && d.Health > 0 && d.Health < in.Before[i].Health-tol:
			v.Problems = append(v.Problems, fmt.Sprintf("%s health fell from %d to %d", d.Hostname, in.Before[i].Health, d.Health))
		}
	}
	v.OK = len(v.Problems) == 0
	return v, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func formatParams(p map[string]string) string {
	if len(p) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, ", ")
}

func who(subject, email string) string {
	if email != "" && email != subject {
		return subject + " <" + email + ">"
	}
	return subject
}
