package deploy

import "time"

// State is where a deployment is. Terminal states never change again.
type State string

// The states, in the order a deployment passes them.
const (
	StateValidating       State = "validating"        // checking template, devices, preview, window
	StateAwaitingApproval State = "awaiting_approval" // change open, waiting for approvers
	StateScheduled        State = "scheduled"         // approved, waiting for the change window to open
	StateImplementing     State = "implementing"      // moving the change to Implement
	StateDeploying        State = "deploying"         // Catalyst Center deploy task running
	StateVerifying        State = "verifying"         // checking device health after the change
	StateRollingBack      State = "rolling_back"      // deploying the rollback template
	StateCompleted        State = "completed"         // deployed, verified, change closed successful
	StateFailed           State = "failed"            // validation, deploy or verification failed
	StateRejected         State = "rejected"          // an approver rejected it; change canceled
	StateExpired          State = "expired"           // approval did not come in time; change canceled
	StateCanceled         State = "canceled"          // canceled before deploying; change canceled
)

// Terminal reports whether the deployment has ended.
func (s State) Terminal() bool {
	switch s {
	case StateCompleted, StateFailed, StateRejected, StateExpired, StateCanceled:
		return true
	}
	return false
}

// TaskStatus maps the state onto an MCP task status: working (also while waiting for
// approval: input_required would ask the requestor for input through tasks/result, but the
// approvers are other people), completed, failed (failed, rejected, expired) or cancelled.
func (s State) TaskStatus() string {
	switch s {
	case StateCompleted:
		return "completed"
	case StateFailed, StateRejected, StateExpired:
		return "failed"
	case StateCanceled:
		return "cancelled"
	}
	return "working"
}

// Status is everything known about one deployment: the answer of the "status" query, of
// Client.Get and, once the deployment has ended, the workflow's result.
type Status struct {
	WorkflowID  string   `json:"workflow_id"`
	State       State    `json:"state"`
	Request     Request  `json:"request"`
	RequestHash string   `json:"request_hash"`
	Approval    Approval `json:"approval"`
	// ApprovalDeadline is when waiting for approval ends (set while and after waiting).
	ApprovalDeadline time.Time `json:"approval_deadline,omitzero"`
	// Approvals are the accepted approvals, in the order they came.
	Approvals []ApprovalRecord `json:"approvals,omitempty"`
	// Rejection is the rejection that ended the deployment.
	Rejection *ApprovalRecord `json:"rejection,omitempty"`
	// Refusals are decisions the workflow did not accept, with the reason (wrong hash,
	// requester approving, duplicate approver, missing role, wrong state).
	Refusals     []Refusal     `json:"refusals,omitempty"`
	Cancellation *CancelRecord `json:"cancellation,omitempty"`
	// Template is the template's name and version as Catalyst Center reported them.
	Template string `json:"template,omitempty"`
	// Preview is the configuration Catalyst Center rendered from the template and
	// parameters (also in the change's implementation plan).
	Preview      string            `json:"preview,omitempty"`
	Change       *ChangeRef        `json:"change,omitempty"`
	Deployment   *DeploymentRecord `json:"deployment,omitempty"`
	Rollback     *DeploymentRecord `json:"rollback,omitempty"`
	Verification *Verification     `json:"verification,omitempty"`
	// LastError is the most recent failure, in words.
	LastError string    `json:"last_error,omitempty"`
	Steps     []Step    `json:"steps"`
	Started   time.Time `json:"started"`
	Updated   time.Time `json:"updated"`
}

// ApprovalRecord is an accepted approval or rejection, with the workflow time it was taken.
type ApprovalRecord struct {
	Decision
	At time.Time `json:"at"`
}

// Refusal is a decision the workflow did not accept.
type Refusal struct {
	Kind     string    `json:"kind"` // approve, reject or cancel
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// CancelRecord is an accepted cancellation.
type CancelRecord struct {
	Cancellation
	At time.Time `json:"at"`
}

// ChangeRef identifies the change request.
type ChangeRef struct {
	Number string `json:"number"`
	URL    string `json:"url,omitempty"`
}

// DeploymentRecord is one Catalyst Center deployment (the template's or the rollback's).
type DeploymentRecord struct {
	TaskID       string `json:"task_id,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	// Outcome is running, succeeded, failed, refused (the controller refused the request:
	// nothing was deployed) or unknown (the request may or may not have reached it).
	Outcome       string    `json:"outcome"`
	FailureReason string    `json:"failure_reason,omitempty"`
	Started       time.Time `json:"started,omitzero"`
	Ended         time.Time `json:"ended,omitzero"`
}

// Deployment outcomes.
const (
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeRefused   = "refused"
	OutcomeUnknown   = "unknown"
)

// Verification is the health check after the deployment.
type Verification struct {
	OK       bool           `json:"ok"`
	Problems []string       `json:"problems,omitempty"`
	Devices  []DeviceHealth `json:"devices,omitempty"`
}

// Step is one step of the deployment, as it was logged.
type Step struct {
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"` // success, failure or unknown (ECS event.outcome)
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}
