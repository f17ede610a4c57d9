package deployments

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// Client is what the tools need of Temporal: a *deploy.Client in production.
type Client interface {
	StartWithKey(ctx context.Context, req deploy.Request, appr deploy.Approval, key string) (string, error)
	Get(ctx context.Context, id string) (deploy.Status, error)
	List(ctx context.Context, f deploy.Filter) (deploy.Page, error)
	Approve(ctx context.Context, id string, d deploy.Decision) (deploy.Status, error)
	Reject(ctx context.Context, id string, d deploy.Decision) (deploy.Status, error)
	Cancel(ctx context.Context, id string, cn deploy.Cancellation) (deploy.Status, error)
	// Result waits until the deployment ends (MCP tasks/result).
	Result(ctx context.Context, id string) (deploy.Status, error)
}

var _ Client = (*deploy.Client)(nil)

var (
	// Reading a deployment or a list: nothing changes.
	readOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Starting a deployment opens a change and, when no approval is required, pushes
	// configuration to devices: it overwrites device state. Each call starts another one
	// (unless request_key repeats, which the annotation cannot promise).
	starts = kit.Annotations{ReadOnly: kit.No, Destructive: kit.Yes, Idempotent: kit.No, OpenWorld: kit.Yes}
	// Approving lets configuration be pushed to devices: destructive, so the reference policy
	// asks for MFA. A repeated approval by the same person is refused, so nothing more changes.
	approves = kit.Annotations{ReadOnly: kit.No, Destructive: kit.Yes, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Rejecting or canceling ends a deployment before anything is deployed and cancels its
	// change: a state change, not a destructive one (nothing on the network changes). A
	// repeat is refused and changes nothing.
	decides = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
)

// Register adds the deployments tools to s. c may be nil when only the declarations are
// needed (the catalog); the handlers are then never called. Serve the server with Handler,
// which also answers MCP tasks with c.
func Register(s *kit.Server, c Client) {
	if c != nil {
		taskClients.Store(s, c)
		s.Registry.MustRegister(newQueueCollector(c))
	}
	kit.Add(s, kit.Tool[startArgs, startResult]{
		Name: "start_deployment", Title: "Start a template deployment", Action: kit.Execute, Annotations: starts,
		Description: "Deploy a committed Catalyst Center template version to devices through a change request, as a durable " +
			"workflow. Returns at once with the workflow id; follow it with get_deployment. The workflow validates the " +
			"template, devices and preview, opens a ServiceNow change, waits for approval when the policy requires it " +
			"(the result says so and why), waits for the change window, deploys, verifies device health, and closes the " +
			"change; a failed deployment deploys the rollback template when you name one. You are the requester: you " +
			"cannot approve your own deployment. Give request_key to make a retried call return the deployment the first " +
			"call started instead of starting another. Clients with MCP tasks may call it as a task: the task id is the " +
			"workflow id, and the task's result is this tool's result for the deployment's end.",
		Handle: func(ctx context.Context, a startArgs) (startResult, error) {
			who, err := callerOf(ctx)
			if err != nil {
				return startResult{}, err
			}
			req, err := a.request(who)
			if err != nil {
				return startResult{}, err
			}
			appr, reasons, err := ParseApproval(who.approval)
			if err != nil {
				return startResult{}, err
			}
			key := ""
			if a.RequestKey != "" {
				// Scoped to the requester: another person's identical request with the same key
				// is another deployment.
				key = who.subject + "\x00" + a.RequestKey
			}
			id, err := c.StartWithKey(ctx, req, appr, key)
			if err != nil {
				return startResult{}, err
			}
			res := startResult{WorkflowID: id, State: deploy.StateValidating, TaskStatus: deploy.StateValidating.TaskStatus(),
				RequestHash: req.Hash(), Approval: approvalOf(appr, time.Time{}, reasons)}
			res.Next = "The deployment is being validated; call get_deployment with this workflow_id to follow it."
			if appr.Required {
				res.Next += fmt.Sprintf(" It needs %s before it is deployed; approvers review it with get_deployment and "+
					"approve it with approve_deployment and this request_hash.", need(appr.Approvers, appr.Role))
			}
			return res, nil
		},
	})
	kit.Add(s, kit.Tool[idArgs, deployment]{
		Name: "get_deployment", Title: "Get a deployment", Action: kit.Read, Annotations: readOnly,
		Description: "Everything about one deployment: its state (validating, awaiting_approval, scheduled, implementing, " +
			"deploying, verifying, rolling_back, completed, failed, rejected, expired, canceled), the request and its " +
			"request_hash, the rendered configuration preview, the change request, approvals and refusals, the Catalyst " +
			"Center deployment, the health check, every step so far, and what happens next. You see the deployments you " +
			"requested and those whose approval needs one of your roles.",
		Handle: func(ctx context.Context, a idArgs) (deployment, error) {
			who, st, err := readable(ctx, c, a.WorkflowID)
			if err != nil {
				return deployment{}, err
			}
			return view(st, who), nil
		},
	})
	kit.Add(s, kit.Tool[listMineArgs, listResult]{
		Name: "list_my_deployments", Title: "List my deployments", Action: kit.Read, Annotations: readOnly,
		Description: "The deployments you requested, newest first, optionally in one state. The list follows the " +
			"deployments about a second behind; get_deployment is current. When next_page_token is set, call again with " +
			"it for the next page.",
		Handle: func(ctx context.Context, a listMineArgs) (listResult, error) {
			who, err := callerOf(ctx)
			if err != nil {
				return listResult{}, err
			}
			f := deploy.Filter{Requester: who.subject, State: deploy.State(a.State), PageSize: a.PageSize}
			if f.State != "" && !slices.Contains(states, f.State) {
				return listResult{}, fmt.Errorf("state %q is not a deployment state (%s)", a.State, stateNames())
			}
			if f.PageSize < 0 || f.PageSize > 100 {
				return listResult{}, errors.New("page_size must be between 1 and 100 (default 100)")
			}
			if a.PageToken != "" {
				tok, err := base64.StdEncoding.DecodeString(a.PageToken)
				if err != nil {
					return listResult{}, errors.New("page_token is not a next_page_token of an earlier call")
				}
				f.NextPageToken = tok
			}
			p, err := c.List(ctx, f)
			if err != nil {
				return listResult{}, err
			}
			out := listResult{Deployments: p.Deployments}
			if len(p.NextPageToken) > 0 {
				out.NextPageToken = base64.StdEncoding.EncodeToString(p.NextPageToken)
			}
			return out, nil
		},
	})
	kit.Add(s, kit.Tool[noArgs, listResult]{
		Name: "list_pending_my_approval", Title: "Deployments awaiting my approval", Action: kit.Read, Annotations: readOnly,
		Description: "Deployments waiting for approval by one of your roles (approver_role * means any approver), newest " +
			"first, without those you requested (you cannot approve them). Review one with get_deployment, then " +
			"approve_deployment or reject_deployment with its request_hash. The list follows the deployments about a " +
			"second behind.",
		Handle: func(ctx context.Context, _ noArgs) (listResult, error) {
			who, err := callerOf(ctx)
			if err != nil {
				return listResult{}, err
			}
			out := listResult{Deployments: []deploy.Summary{}}
			seen := map[string]bool{}
			for _, role := range who.roles {
				p, err := c.List(ctx, deploy.Filter{AwaitingRole: role, PageSize: 100})
				if err != nil {
					return listResult{}, err
				}
				for _, d := range p.Deployments {
					if !seen[d.WorkflowID] && d.Requester != who.subject {
						seen[d.WorkflowID] = true
						out.Deployments = append(out.Deployments, d)
					}
				}
			}
			slices.SortStableFunc(out.Deployments, func(a, b deploy.Summary) int { return b.Started.Compare(a.Started) })
			return out, nil
		},
	})
	kit.Add(s, kit.Tool[approveArgs, deployment]{
		Name: "approve_deployment", Title: "Approve a deployment", Action: kit.Write, Annotations: approves,
		Description: "Approve a deployment that awaits approval, after reviewing it with get_deployment: pass the " +
			"request_hash you reviewed, so the approval cannot apply to anything else. You cannot approve a deployment you " +
			"requested, approve twice, or approve without the role the deployment's approval requires; such an approval " +
			"is refused and recorded. When enough people approved, the deployment goes ahead in its change window.",
		Handle: func(ctx context.Context, a approveArgs) (deployment, error) {
			return decide(ctx, c, a.WorkflowID, a.RequestHash, a.Comment, c.Approve)
		},
	})
	kit.Add(s, kit.Tool[rejectArgs, deployment]{
		Name: "reject_deployment", Title: "Reject a deployment", Action: kit.Write, Annotations: decides,
		Description: "Reject a deployment that awaits approval, with the request_hash you reviewed and a reason the " +
			"requester can act on. One rejection ends the deployment: nothing is deployed and its change request is " +
			"canceled with your reason.",
		Handle: func(ctx context.Context, a rejectArgs) (deployment, error) {
			if strings.TrimSpace(a.Reason) == "" {
				return deployment{}, errors.New("reason must say why the deployment is rejected")
			}
			return decide(ctx, c, a.WorkflowID, a.RequestHash, a.Reason, c.Reject)
		},
	})
	kit.Add(s, kit.Tool[cancelArgs, deployment]{
		Name: "cancel_deployment", Title: "Cancel a deployment", Action: kit.Write, Annotations: decides,
		Description: "Cancel a deployment you requested, before it starts deploying to the devices: its change request " +
			"is canceled with your reason. Once the deploy request may have been sent, cancelling is refused.",
		Handle: func(ctx context.Context, a cancelArgs) (deployment, error) {
			who, st, err := readable(ctx, c, a.WorkflowID)
			if err != nil {
				return deployment{}, err
			}
			if !who.mayCancel(st) {
				return deployment{}, fmt.Errorf("only the requester (%s) may cancel deployment %s; approvers reject it with reject_deployment",
					st.Request.Requester.Subject, st.WorkflowID)
			}
			if strings.TrimSpace(a.Reason) == "" {
				return deployment{}, errors.New("reason must say why the deployment is canceled")
			}
			st, err = c.Cancel(ctx, a.WorkflowID, deploy.Cancellation{By: who.identity(), DecisionID: who.decisionID, Reason: a.Reason})
			if err != nil {
				return deployment{}, explain(a.WorkflowID, "cancel", err)
			}
			return view(st, who), nil
		},
	})
}

// readable reads a deployment the caller may see. A deployment they may not see is reported
// as unknown, so ids are not a way to learn about other people's deployments.
func readable(ctx context.Context, c Client, id string) (caller, deploy.Status, error) {
	who, err := callerOf(ctx)
	if err != nil {
		return caller{}, deploy.Status{}, err
	}
	if err := deploy.CheckID(id); err != nil {
		return caller{}, deploy.Status{}, err
	}
	st, err := c.Get(ctx, id)
	if err != nil {
		return caller{}, deploy.Status{}, explain(id, "read", err)
	}
	if !who.mayRead(st) {
		return caller{}, deploy.Status{}, notVisible(id)
	}
	return who, st, nil
}

func notVisible(id string) error {
	return fmt.Errorf("there is no deployment %s that you may see (you see the deployments you requested and those "+
		"whose approval needs one of your roles)", id)
}

// decide sends an approval or a rejection as the caller.
func decide(ctx context.Context, c Client, id, hash, comment string,
	send func(context.Context, string, deploy.Decision) (deploy.Status, error)) (deployment, error) {
	who, _, err := readable(ctx, c, id)
	if err != nil {
		return deployment{}, err
	}
	if who.decisionID == "" {
		return deployment{}, errors.New("this call carries no decision id (x-gatehouse-decision-id) to record with the " +
			"decision; nothing was done")
	}
	st, err := send(ctx, id, deploy.Decision{Approver: who.subject, Email: who.email, Roles: who.roles,
		DecisionID: who.decisionID, RequestHash: strings.TrimSpace(hash), Comment: comment})
	if err != nil {
		return deployment{}, explain(id, "decide on", err)
	}
	return view(st, who), nil
}

// explain turns the client's errors into words an agent can act on.
func explain(id, what string, err error) error {
	var refused *deploy.RefusedError
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("refused: %s (recorded in deployment %s)", refused.Reason, id)
	case errors.Is(err, deploy.ErrEnded):
		return fmt.Errorf("deployment %s has already ended; get_deployment shows how", id)
	case errors.Is(err, deploy.ErrUnknownDeployment):
		return notVisible(id)
	}
	return fmt.Errorf("could not %s deployment %s: %w", what, id, err)
}

var states = []deploy.State{deploy.StateValidating, deploy.StateAwaitingApproval, deploy.StateScheduled,
	deploy.StateImplementing, deploy.StateDeploying, deploy.StateVerifying, deploy.StateRollingBack,
	deploy.StateCompleted, deploy.StateFailed, deploy.StateRejected, deploy.StateExpired, deploy.StateCanceled}

func stateNames() string {
	var s []string
	for _, st := range states {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

func need(approvers int, role string) string {
	s := "1 approval"
	if approvers > 1 {
		s = fmt.Sprintf("%d approvals by different people", approvers)
	}
	if role != "" {
		s += " from the role " + role
	}
	return s
}

type noArgs struct{}

type window struct {
	Start string `json:"start" jsonschema:"When the window opens, RFC 3339 (2026-11-23T22:00:00Z)"`
	End   string `json:"end" jsonschema:"When it closes, RFC 3339; nothing is deployed after it"`
}

type rollbackArgs struct {
	TemplateID      string            `json:"template_id" jsonschema:"Template that undoes the change"`
	TemplateVersion int               `json:"template_version" jsonschema:"Its committed version number"`
	Parameters      map[string]string `json:"parameters,omitempty" jsonschema:"Its variables"`
}

type startArgs struct {
	TemplateID      string            `json:"template_id" jsonschema:"Catalyst Center template id (not the id of a version)"`
	TemplateVersion int               `json:"template_version" jsonschema:"Committed version number to deploy (1, 2, ...)"`
	Parameters      map[string]string `json:"parameters,omitempty" jsonschema:"Template variables and their values, the same for every device"`
	DeviceIDs       []string          `json:"device_ids" jsonschema:"Catalyst Center device ids (UUIDs), 1 to 200"`
	ChangeWindow    window            `json:"change_window" jsonschema:"The change window: the deployment starts inside it or not at all"`
	Rollback        *rollbackArgs     `json:"rollback,omitempty" jsonschema:"Template version deployed if the deployment or its health check fails"`
	Summary         string            `json:"summary,omitempty" jsonschema:"One line saying why, for the change request"`
	RequestKey      string            `json:"request_key,omitempty" jsonschema:"Your idempotency key: a retried call with the same key and request returns the same deployment"`
}

// request builds the workflow's request from the arguments and the edge's identity.
func (a startArgs) request(who caller) (deploy.Request, error) {
	var errs []string
	start, err := time.Parse(time.RFC3339, a.ChangeWindow.Start)
	if err != nil {
		errs = append(errs, fmt.Sprintf("change_window.start %q is not an RFC 3339 time such as 2026-11-23T22:00:00Z", a.ChangeWindow.Start))
	}
	end, err := time.Parse(time.RFC3339, a.ChangeWindow.End)
	if err != nil {
		errs = append(errs, fmt.Sprintf("change_window.end %q is not an RFC 3339 time such as 2026-11-23T23:00:00Z", a.ChangeWindow.End))
	}
	if len(errs) > 0 {
		return deploy.Request{}, errors.New("invalid deployment request: " + strings.Join(errs, "; "))
	}
	req := deploy.Request{TemplateID: a.TemplateID, TemplateVersion: a.TemplateVersion, Parameters: a.Parameters,
		DeviceIDs: a.DeviceIDs, Window: deploy.Window{Start: start, End: end}, Summary: a.Summary,
		Requester: who.identity(), DecisionID: who.decisionID}
	if rb := a.Rollback; rb != nil {
		req.Rollback = &deploy.Rollback{TemplateID: rb.TemplateID, TemplateVersion: rb.TemplateVersion, Parameters: rb.Parameters}
	}
	return req, req.Validate()
}

type startResult struct {
	WorkflowID string       `json:"workflow_id"`
	State      deploy.State `json:"state"`
	// TaskStatus is the state as an MCP task status (working, completed,
	// failed, cancelled); the workflow id is the task id.
	TaskStatus  string   `json:"task_status"`
	RequestHash string   `json:"request_hash"`
	Approval    approval `json:"approval"`
	Next        string   `json:"next"`
}

type approval struct {
	Required       bool      `json:"required"`
	Approvers      int       `json:"approvers,omitempty"`
	Role           string    `json:"role,omitempty"`
	TimeoutSeconds int64     `json:"timeout_seconds,omitempty"`
	Deadline       time.Time `json:"deadline,omitzero"`
	Reasons        []string  `json:"reasons,omitempty"`
}

func approvalOf(a deploy.Approval, deadline time.Time, reasons []string) approval {
	return approval{Required: a.Required, Approvers: a.Approvers, Role: a.Role, TimeoutSeconds: int64(a.Timeout / time.Second),
		Deadline: deadline, Reasons: reasons}
}

type idArgs struct {
	WorkflowID string `json:"workflow_id" jsonschema:"The deployment's workflow id (deploy-<16 hex>-<12 hex>)"`
}

type listMineArgs struct {
	State     string `json:"state,omitempty" jsonschema:"Only deployments in this state"`
	PageSize  int    `json:"page_size,omitempty" jsonschema:"Deployments per page, 1 to 100 (default 100)"`
	PageToken string `json:"page_token,omitempty" jsonschema:"next_page_token of the previous page"`
}

type listResult struct {
	Deployments   []deploy.Summary `json:"deployments"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

type approveArgs struct {
	WorkflowID  string `json:"workflow_id" jsonschema:"The deployment's workflow id"`
	RequestHash string `json:"request_hash" jsonschema:"The request_hash get_deployment showed you"`
	Comment     string `json:"comment,omitempty" jsonschema:"Recorded with the approval in the change request"`
}

type rejectArgs struct {
	WorkflowID  string `json:"workflow_id" jsonschema:"The deployment's workflow id"`
	RequestHash string `json:"request_hash" jsonschema:"The request_hash get_deployment showed you"`
	Reason      string `json:"reason" jsonschema:"Why, for the requester and the change request"`
}

type cancelArgs struct {
	WorkflowID string `json:"workflow_id" jsonschema:"The deployment's workflow id"`
	Reason     string `json:"reason" jsonschema:"Why, for the change request"`
}

// deployment is a deployment's Status as the tools show it.
type deployment struct {
	WorkflowID string       `json:"workflow_id"`
	State      deploy.State `json:"state"`
	TaskStatus string       `json:"task_status"`
	// Next says what happens next and what the caller may do.
	Next         string                   `json:"next"`
	Template     string                   `json:"template,omitempty"`
	Request      deploy.Request           `json:"request"`
	RequestHash  string                   `json:"request_hash"`
	Approval     approval                 `json:"approval"`
	Approvals    []deploy.ApprovalRecord  `json:"approvals,omitempty"`
	Rejection    *deploy.ApprovalRecord   `json:"rejection,omitempty"`
	Refusals     []deploy.Refusal         `json:"refusals,omitempty"`
	Cancellation *deploy.CancelRecord     `json:"cancellation,omitempty"`
	Preview      string                   `json:"preview,omitempty"`
	Change       *deploy.ChangeRef        `json:"change,omitempty"`
	Deployment   *deploy.DeploymentRecord `json:"deployment,omitempty"`
	Rollback     *deploy.DeploymentRecord `json:"rollback_deployment,omitempty"`
	Verification *deploy.Verification     `json:"verification,omitempty"`
	LastError    string                   `json:"last_error,omitempty"`
	Steps        []deploy.Step            `json:"steps"`
	Started      time.Time                `json:"started"`
	Updated      time.Time                `json:"updated"`
}

func view(st deploy.Status, who caller) deployment {
	d := deployment{WorkflowID: st.WorkflowID, State: st.State, TaskStatus: st.State.TaskStatus(), Template: st.Template,
		Request: st.Request, RequestHash: st.RequestHash, Approval: approvalOf(st.Approval, st.ApprovalDeadline, nil),
		Approvals: st.Approvals, Rejection: st.Rejection, Refusals: st.Refusals, Cancellation: st.Cancellation,
		Preview: st.Preview, Change: st.Change, Deployment: st.Deployment, Rollback: st.Rollback,
		Verification: st.Verification, LastError: st.LastError, Steps: st.Steps, Started: st.Started, Updated: st.Updated}
	if d.Steps == nil {
		d.Steps = []deploy.Step{}
	}
	d.Next = next(st, who)
	return d
}

// next says, for the caller, what happens next.
func next(st deploy.Status, who caller) string {
	switch st.State {
	case deploy.StateValidating:
		return "Checking the template, devices, preview and change window, then opening the change request; call get_deployment again in a few seconds."
	case deploy.StateAwaitingApproval:
		left := max(st.Approval.Approvers-len(st.Approvals), 0)
		s := fmt.Sprintf("Waiting for %s until %s.", need(left, st.Approval.Role), st.ApprovalDeadline.UTC().Format(time.RFC3339))
		switch {
		case who.isRequester(st):
			s += " You requested it, so you cannot approve it; you may cancel it with cancel_deployment."
		case st.Approval.Role == "" || who.hasRole(st.Approval.Role):
			s += " Review the preview and devices, then call approve_deployment or reject_deployment with request_hash " + st.RequestHash + "."
		}
		return s
	case deploy.StateScheduled:
		return "Approved; waiting for the change window to open at " + st.Request.Window.Start.UTC().Format(time.RFC3339) + "."
	case deploy.StateImplementing, deploy.StateDeploying, deploy.StateVerifying, deploy.StateRollingBack:
		return "In progress (" + string(st.State) + "); it can no longer be canceled once deploying. Call get_deployment again to follow it."
	case deploy.StateCompleted:
		return "Done: deployed, verified and the change request closed successful."
	case deploy.StateFailed:
		return "Failed: last_error and steps say why, and the change request (if one was opened) says what was done."
	}
	return "Ended (" + string(st.State) + "): nothing was deployed and the change request is canceled."
}
