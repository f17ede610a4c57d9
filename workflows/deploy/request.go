package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Request is one template deployment as the requester asked for it. The deployments adapter
// builds it from the start call's arguments and the edge's identity headers.
type Request struct {
	// TemplateID is the Catalyst Center template's id (not the id of a committed version).
	TemplateID string `json:"template_id"`
	// TemplateVersion is the committed version to deploy (1, 2, …).
	TemplateVersion int `json:"template_version"`
	// Parameters are the template's variables, the same for every device.
	Parameters map[string]string `json:"parameters,omitempty"`
	// DeviceIDs are Catalyst Center network device ids (no duplicates).
	DeviceIDs []string `json:"device_ids"`
	// Window is the change window: the deployment starts inside it or not at all.
	Window Window `json:"change_window"`
	// Rollback, when set, is deployed after a failed deployment or a failed verification.
	Rollback *Rollback `json:"rollback,omitempty"`
	// Summary is an optional one-line reason, used in the change's short description.
	Summary string `json:"summary,omitempty"`
	// Requester is who asked (x-gatehouse-subject and x-gatehouse-email of the start call).
	Requester Identity `json:"requester"`
	// DecisionID is the edge's decision id of the MCP call that started the deployment.
	DecisionID string `json:"decision_id,omitempty"`
}

// Window is a change window. The deployment is only started between Start and End.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Rollback names the template version that undoes the deployment, with its parameters.
type Rollback struct {
	TemplateID      string            `json:"template_id"`
	TemplateVersion int               `json:"template_version"`
	Parameters      map[string]string `json:"parameters,omitempty"`
}

// Identity is a person as the edge identified them.
type Identity struct {
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
}

// MaxDevices bounds the devices of one request.
const MaxDevices = 200

// Validate checks a request's shape (not whether the template or devices exist: the
// workflow's validation step asks Catalyst Center). All problems are reported at once.
func (r Request) Validate() error {
	var errs []string
	if strings.TrimSpace(r.TemplateID) == "" {
		errs = append(errs, "template_id is required")
	}
	if r.TemplateVersion < 1 {
		errs = append(errs, "template_version must be a committed version number (1 or more)")
	}
	errs = append(errs, checkParams("parameters", r.Parameters)...)
	switch {
	case len(r.DeviceIDs) == 0:
		errs = append(errs, "device_ids must name at least one device")
	case len(r.DeviceIDs) > MaxDevices:
		errs = append(errs, fmt.Sprintf("device_ids names %d devices; at most %d per deployment", len(r.DeviceIDs), MaxDevices))
	}
	seen := map[string]bool{}
	for _, id := range r.DeviceIDs {
		switch {
		case strings.TrimSpace(id) == "":
			errs = append(errs, "device_ids has an empty id")
		case seen[id]:
			errs = append(errs, fmt.Sprintf("device_ids names %s twice", id))
		}
		seen[id] = true
	}
	switch {
	case r.Window.Start.IsZero() || r.Window.End.IsZero():
		errs = append(errs, "change_window needs a start and an end")
	case !r.Window.End.After(r.Window.Start):
		errs = append(errs, fmt.Sprintf("change_window ends (%s) before it starts (%s)",
			r.Window.End.UTC().Format(time.RFC3339), r.Window.Start.UTC().Format(time.RFC3339)))
	}
	if rb := r.Rollback; rb != nil {
		if strings.TrimSpace(rb.TemplateID) == "" {
			errs = append(errs, "rollback.template_id is required when a rollback is given")
		}
		if rb.TemplateVersion < 1 {
			errs = append(errs, "rollback.template_version must be a committed version number (1 or more)")
		}
		errs = append(errs, checkParams("rollback.parameters", rb.Parameters)...)
	}
	if strings.TrimSpace(r.Requester.Subject) == "" {
		errs = append(errs, "requester.subject is required")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid deployment request: %s", strings.Join(errs, "; "))
	}
	return nil
}

func checkParams(field string, p map[string]string) []string {
	var errs []string
	for k := range p {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, field+" has an empty name")
		}
	}
	return errs
}

// hashVersion is part of every hashed document, so that a future change of what is hashed
// can never produce a hash equal to an old one.
const hashVersion = "gatehouse.deploy/v1"

// Hash is the request's identity for approvals: the hex SHA-256 of a canonical JSON
// document of what would be done — template id and version, parameters, device ids
// (sorted), the change window (UTC, RFC 3339 with nanoseconds) and the rollback — with
// object keys sorted and no insignificant space. Who asked (requester, decision id) and the
// summary are not part of it: they do not change what the deployment does. For example
//
//	{"change_window":{"end":"2026-11-24T00:00:00Z","start":"2026-11-23T22:00:00Z"},"device_ids":["d-1","d-2"],
//	 "parameters":{"a":"1","b":"2"},"rollback":null,"template_id":"t-1","template_version":3,"v":"gatehouse.deploy/v1"}
//
// (on one line) hashes to 671e9a26e04c93eadb1a41ba8bba780f5e1b208f47ea25d74c8e5bb61e48876f. An approval
// carries the hash its approver saw; the workflow refuses one whose hash differs from its
// own request's, so an approval cannot be replayed onto another deployment.
func (r Request) Hash() string {
	sum := sha256.Sum256(r.canonical())
	return hex.EncodeToString(sum[:])
}

// canonical is the hashed document (see Hash).
func (r Request) canonical() []byte {
	doc := map[string]any{
		"v":                hashVersion,
		"template_id":      r.TemplateID,
		"template_version": r.TemplateVersion,
		"parameters":       orEmpty(r.Parameters),
		"device_ids":       sortedCopy(r.DeviceIDs),
		"change_window": map[string]string{
			"start": r.Window.Start.UTC().Format(time.RFC3339Nano),
			"end":   r.Window.End.UTC().Format(time.RFC3339Nano),
		},
		"rollback": nil,
	}
	if rb := r.Rollback; rb != nil {
		doc["rollback"] = map[string]any{"template_id": rb.TemplateID, "template_version": rb.TemplateVersion,
			"parameters": orEmpty(rb.Parameters)}
	}
	// encoding/json writes map keys sorted, no insignificant space, UTF-8 strings; with HTML
	// escaping off, the document equals RFC 8785 (JCS) for ASCII keys, so any client can
	// recompute the hash.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		panic("deploy: canonical request: " + err.Error()) // strings and ints always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// Approval is what the policy decided about approving a deployment, handed to the workflow
// at start by the caller (the deployments adapter reads it from the edge's decision on the
// start call). The workflow never decides whether approval is needed: it enforces this.
type Approval struct {
	// Required is whether anyone must approve before the deployment.
	Required bool `json:"required"`
	// Approvers is how many distinct people must approve (at least 1 when Required).
	Approvers int `json:"approvers,omitempty"`
	// Role, when set, must be one of the roles each approver's decision carries.
	Role string `json:"role,omitempty"`
	// Timeout is how long approval may take; the wait also ends with the change window.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// DefaultApprovalTimeout applies when Approval.Timeout is zero.
const DefaultApprovalTimeout = 24 * time.Hour

// MaxApprovalTimeout bounds Approval.Timeout.
const MaxApprovalTimeout = 30 * 24 * time.Hour

// normalized fills the defaults.
func (a Approval) normalized() Approval {
	if !a.Required {
		return Approval{}
	}
	if a.Approvers < 1 {
		a.Approvers = 1
	}
	if a.Timeout <= 0 {
		a.Timeout = DefaultApprovalTimeout
	}
	return a
}

// Validate checks an approval requirement.
func (a Approval) Validate() error {
	if !a.Required {
		return nil
	}
	var errs []string
	if a.Approvers < 0 || a.Approvers > 10 {
		errs = append(errs, fmt.Sprintf("approvers must be between 1 and 10 (0 means 1), got %d", a.Approvers))
	}
	if a.Timeout < 0 || a.Timeout > MaxApprovalTimeout {
		errs = append(errs, fmt.Sprintf("approval timeout must be between 0 (default %s) and %s, got %s",
			DefaultApprovalTimeout, MaxApprovalTimeout, a.Timeout))
	}
	if len(errs) > 0 {
		return errors.New("invalid approval requirement: " + strings.Join(errs, "; "))
	}
	return nil
}

// Decision is one person's approval or rejection of a deployment, or their request to
// cancel it: the deployments adapter fills it from the approving MCP call (the edge's
// identity headers and decision id, the hash the approver was shown, the comment).
type Decision struct {
	// Approver is the deciding person's subject (x-gatehouse-subject).
	Approver string `json:"approver"`
	Email    string `json:"email,omitempty"`
	// Roles are the person's roles as the edge passed them (x-gatehouse-roles); checked
	// against Approval.Role.
	Roles []string `json:"roles,omitempty"`
	// DecisionID is the edge's decision id of the MCP call that carried this decision.
	DecisionID string `json:"decision_id"`
	// RequestHash is the Request.Hash the person approved or rejected.
	RequestHash string `json:"request_hash"`
	Comment     string `json:"comment,omitempty"`
}

// Cancellation asks to cancel a deployment that has not started deploying yet.
type Cancellation struct {
	By         Identity `json:"by"`
	DecisionID string   `json:"decision_id,omitempty"`
	Reason     string   `json:"reason,omitempty"`
}
