package deploy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// DefaultTaskQueue is the task queue deployment workflows and activities run on.
const DefaultTaskQueue = "gatehouse-deployments"

// WorkflowIDPrefix starts every deployment's workflow id.
const WorkflowIDPrefix = "deploy-"

// Client starts, reads, lists and decides deployments: the API of the deployments
// adapter. It keeps nothing in memory; every answer comes from Temporal, so any adapter
// replica, restarted or not, can serve any deployment.
type Client struct {
	Temporal  client.Client
	TaskQueue string
	// Timeouts are given to every workflow started (zero fields: the defaults).
	Timeouts Timeouts
}

// NewClient returns a client for deployments on taskQueue (DefaultTaskQueue when empty).
func NewClient(c client.Client, taskQueue string) *Client {
	if taskQueue == "" {
		taskQueue = DefaultTaskQueue
	}
	return &Client{Temporal: c, TaskQueue: taskQueue}
}

// Errors of Client calls.
var (
	// ErrUnknownDeployment: no deployment workflow has that id.
	ErrUnknownDeployment = errors.New("no such deployment")
	// ErrEnded: the deployment has ended, so it takes no more decisions.
	ErrEnded = errors.New("the deployment has already ended")
)

// RefusedError is a decision (approve, reject, cancel) the workflow refused; Reason says
// why in words an agent can show. The refusal is recorded in the workflow's history, in
// Status.Refusals and in the log.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// WorkflowID is a deployment's workflow id: "deploy-", the first 16 hex digits of the
// request hash, "-", and a unique part (12 hex digits). The hash part lets an operator see
// which deployments are the same request; the unique part keeps a later, legitimate
// redeployment of the same request apart. The id is also the MCP task id.
func WorkflowID(requestHash, unique string) string {
	h := requestHash
	if len(h) > 16 {
		h = h[:16]
	}
	return WorkflowIDPrefix + h + "-" + unique
}

// CheckID reports whether id is a deployment's workflow id, so an adapter never signals or
// queries another workflow with an id a caller chose.
func CheckID(id string) error {
	rest, ok := strings.CutPrefix(id, WorkflowIDPrefix)
	hash, unique, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || len(hash) != 16 || len(unique) != 12 || !isHex(hash) || !isHex(unique) {
		return fmt.Errorf("%w: %q is not a deployment id (deploy-<16 hex>-<12 hex>)", ErrUnknownDeployment, id)
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Start checks the request and the approval requirement and starts a deployment. It
// returns the workflow id (the MCP task id). Each call starts a new deployment.
func (c *Client) Start(ctx context.Context, req Request, appr Approval) (string, error) {
	return c.StartWithKey(ctx, req, appr, "")
}

// StartWithKey is Start with an idempotency key: calls with the same key and the same
// request start one deployment and all return its id, even after it ended. An empty key is
// Start.
func (c *Client) StartWithKey(ctx context.Context, req Request, appr Approval, key string) (string, error) {
	if err := errors.Join(req.Validate(), appr.Validate()); err != nil {
		return "", err
	}
	hash := req.Hash()
	var unique string
	if key != "" {
		sum := sha256.Sum256([]byte("gatehouse.deploy.key:" + key))
		unique = hex.EncodeToString(sum[:6])
	} else {
		var b [6]byte
		_, _ = rand.Read(b[:])
		unique = hex.EncodeToString(b[:])
	}
	id := WorkflowID(hash, unique)
	a := appr.normalized()
	role := "-"
	if a.Required {
		role = a.Role
		if role == "" {
			role = "*"
		}
	}
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchAttrState.ValueSet(string(StateValidating)),
			SearchAttrRequester.ValueSet(req.Requester.Subject),
			SearchAttrApproverRole.ValueSet(role),
			SearchAttrRequestHash.ValueSet(hash),
		),
		Memo: map[string]any{"template_id": req.TemplateID, "template_version": req.TemplateVersion,
			"devices": len(req.DeviceIDs)},
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, opts, WorkflowName, Input{Request: req, Approval: appr, Timeouts: c.Timeouts})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if key != "" && errors.As(err, &started) {
		return id, nil // the keyed deployment exists (and has ended)
	}
	if err != nil {
		return "", fmt.Errorf("starting deployment workflow: %w", err)
	}
	return run.GetID(), nil
}

// Get returns a deployment's current Status (running or ended).
func (c *Client) Get(ctx context.Context, id string) (Status, error) {
	if err := CheckID(id); err != nil {
		return Status{}, err
	}
	v, err := c.Temporal.QueryWorkflow(ctx, id, "", QueryStatus)
	if err != nil {
		return Status{}, notFound(id, err)
	}
	var st Status
	if err := v.Get(&st); err != nil {
		return Status{}, fmt.Errorf("reading the status of %s: %w", id, err)
	}
	return st, nil
}

// Result waits until the deployment ends and returns its final Status.
func (c *Client) Result(ctx context.Context, id string) (Status, error) {
	if err := CheckID(id); err != nil {
		return Status{}, err
	}
	var st Status
	err := c.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &st)
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		// Canceled through Temporal: the workflow cleaned up; its query still answers.
		return c.Get(ctx, id)
	}
	if err != nil {
		return Status{}, notFound(id, err)
	}
	return st, nil
}

// Approve records d as an approval of deployment id. It answers the Status after the
// approval, or a *RefusedError saying why the workflow refused it (the approver is the
// requester, approved already, lacks the role, or approved another request: its hash
// differs). Sending the same decision (same DecisionID) twice applies it once.
func (c *Client) Approve(ctx context.Context, id string, d Decision) (Status, error) {
	return c.update(ctx, id, UpdateApprove, d.DecisionID, d)
}

// Reject records d as a rejection of deployment id: the change request is canceled and
// the deployment ends as rejected. Refusals are as for Approve.
func (c *Client) Reject(ctx context.Context, id string, d Decision) (Status, error) {
	return c.update(ctx, id, UpdateReject, d.DecisionID, d)
}

// Cancel cancels a deployment that has not started deploying: its change request is
// canceled. Once the deploy request may have been sent, it is refused.
func (c *Client) Cancel(ctx context.Context, id string, cn Cancellation) (Status, error) {
	return c.update(ctx, id, UpdateCancel, cn.DecisionID, cn)
}

func (c *Client) update(ctx context.Context, id, name, decisionID string, arg any) (Status, error) {
	if err := CheckID(id); err != nil {
		return Status{}, err
	}
	opts := client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted}
	if decisionID != "" {
		opts.UpdateID = name + ":" + decisionID
	}
	h, err := c.Temporal.UpdateWorkflow(ctx, opts)
	if err != nil {
		return Status{}, notFound(id, err)
	}
	var st Status
	err = h.Get(ctx, &st)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == ErrTypeDecisionRefused {
		return Status{}, &RefusedError{Reason: ae.Message()}
	}
	if err != nil {
		return Status{}, notFound(id, err)
	}
	return st, nil
}

// notFound turns Temporal's "no such workflow" and "already completed" into ErrUnknownDeployment and ErrEnded.
func notFound(id string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		if strings.Contains(strings.ToLower(nf.Message), "complete") {
			return fmt.Errorf("%w: %s", ErrEnded, id)
		}
		return fmt.Errorf("%w: %s", ErrUnknownDeployment, id)
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return fmt.Errorf("%w: %s", ErrEnded, id)
	}
	return err
}

// Filter narrows List. Empty fields match everything.
type Filter struct {
	// Requester lists the deployments this subject requested.
	Requester string
	// State lists the deployments in this state.
	State State
	// AwaitingRole lists the deployments waiting for approval that someone with this role
	// may approve (those naming the role and those any approver may approve).
	AwaitingRole string
	// PageSize bounds one page (default 100); NextPageToken continues a listing.
	PageSize      int
	NextPageToken []byte
}

// Summary is one deployment as listed. List reads Temporal's visibility store, which
// follows the workflows within about a second.
type Summary struct {
	WorkflowID      string    `json:"workflow_id"`
	State           State     `json:"state"`
	Requester       string    `json:"requester"`
	ApproverRole    string    `json:"approver_role,omitempty"` // "*": any approver; "-": no approval needed
	ChangeNumber    string    `json:"change_number,omitempty"`
	RequestHash     string    `json:"request_hash"`
	TemplateID      string    `json:"template_id,omitempty"`
	TemplateVersion int       `json:"template_version,omitempty"`
	Devices         int       `json:"devices,omitempty"`
	Started         time.Time `json:"started"`
	Closed          time.Time `json:"closed,omitzero"`
}

// Page is one page of List.
type Page struct {
	Deployments   []Summary `json:"deployments"`
	NextPageToken []byte    `json:"next_page_token,omitempty"`
}

// Query is the visibility query List sends for f.
func (f Filter) Query() (string, error) {
	conds := []string{"WorkflowType = '" + WorkflowName + "'"}
	add := func(field, value string) error {
		if strings.ContainsAny(value, `'"\`) {
			return fmt.Errorf("a filter value may not contain quotes or backslashes: %q", value)
		}
		conds = append(conds, field+" = '"+value+"'")
		return nil
	}
	if f.Requester != "" {
		if err := add(SearchAttrRequester.GetName(), f.Requester); err != nil {
			return "", err
		}
	}
	if f.State != "" {
		if err := add(SearchAttrState.GetName(), string(f.State)); err != nil {
			return "", err
		}
	}
	if f.AwaitingRole != "" {
		if f.State != "" && f.State != StateAwaitingApproval {
			return "", fmt.Errorf("awaiting_role lists deployments awaiting approval; state %s contradicts it", f.State)
		}
		if f.State == "" {
			_ = add(SearchAttrState.GetName(), string(StateAwaitingApproval))
		}
		if strings.ContainsAny(f.AwaitingRole, `'"\`) {
			return "", fmt.Errorf("a filter value may not contain quotes or backslashes: %q", f.AwaitingRole)
		}
		conds = append(conds, SearchAttrApproverRole.GetName()+" IN ('"+f.AwaitingRole+"', '*')")
	}
	return strings.Join(conds, " AND "), nil
}

// List lists deployments, newest first.
func (c *Client) List(ctx context.Context, f Filter) (Page, error) {
	q, err := f.Query()
	if err != nil {
		return Page{}, err
	}
	size := f.PageSize
	if size <= 0 {
		size = 100
	}
	resp, err := c.Temporal.ListWorkflow(ctx, listRequest(q, size, f.NextPageToken))
	if err != nil {
		return Page{}, fmt.Errorf("listing deployments: %w", err)
	}
	p := Page{Deployments: []Summary{}, NextPageToken: resp.GetNextPageToken()}
	for _, e := range resp.GetExecutions() {
		s := Summary{WorkflowID: e.GetExecution().GetWorkflowId(), Started: e.GetStartTime().AsTime()}
		if e.GetCloseTime() != nil {
			s.Closed = e.GetCloseTime().AsTime()
		}
		sa := searchAttrs(e.GetSearchAttributes())
		s.State, s.Requester, s.ApproverRole = State(sa[SearchAttrState.GetName()]), sa[SearchAttrRequester.GetName()], sa[SearchAttrApproverRole.GetName()]
		s.ChangeNumber, s.RequestHash = sa[SearchAttrChange.GetName()], sa[SearchAttrRequestHash.GetName()]
		memo := memoFields(e.GetMemo())
		s.TemplateID, _ = memo["template_id"].(string)
		if v, ok := memo["template_version"].(float64); ok {
			s.TemplateVersion = int(v)
		}
		if v, ok := memo["devices"].(float64); ok {
			s.Devices = int(v)
		}
		p.Deployments = append(p.Deployments, s)
	}
	return p, nil
}
