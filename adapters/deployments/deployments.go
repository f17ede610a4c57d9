// Package deployments is the deployments MCP server: tools that start, read, list, approve,
// reject and cancel template deployments, which run as durable Temporal workflows
// (workflows/deploy). The adapter is a Temporal client and nothing else: it keeps no state,
// so any replica answers any call, and a restarted adapter loses nothing.
//
// Who the caller is and what the policy decided reach the adapter as headers the edge sets
// on an allowed call (client-sent copies are removed by the edge):
//
//   - x-gatehouse-subject, x-gatehouse-email, x-gatehouse-decision-id (read through the kit):
//     the requester of a deployment, the approver of a decision, and the decision ids written
//     to the workflow's history and the change;
//   - x-gatehouse-roles: the caller's roles, checked by the workflow against the role an
//     approval requires;
//   - x-gatehouse-approval, on start_deployment only: the policy's approval requirement
//     (policies/deployments.rego). Without it a deployment is not started (fail closed);
//   - x-gatehouse-deployments-scope: "all" when the policy lets the caller read and cancel
//     every deployment (admins in the reference policy).
//
// The kit reads the first three; the others are read by Handler, which wraps the kit
// server's handler. Serve Handler(s), not s.Handler(): without it every tool call fails.
//
// Handler also answers MCP tasks (tasks.go): on the revisions that have them, a deployment
// is a task whose id is its workflow id, read and canceled from Temporal by any replica.
package deployments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// ServerName is the server's name in gatehouse.yaml and the catalog.
const ServerName = "deployments"

// Headers the edge sets from the policy's decision (policies/authz.rego, deployments.rego).
const (
	HeaderRoles    = "x-gatehouse-roles"
	HeaderApproval = "x-gatehouse-approval"
	HeaderScope    = "x-gatehouse-deployments-scope"
	// ScopeAll is the HeaderScope value that lets a caller read and cancel every deployment.
	ScopeAll = "all"
)

// edge is what Handler read from the edge's headers for one request.
type edge struct {
	roles    []string
	approval string // raw x-gatehouse-approval; "" when absent
	all      bool
}

type edgeKey struct{}

// Handler is the adapter's HTTP surface (the kit server's /mcp, /healthz, /readyz, /metrics)
// with the policy's headers read into each request's context for the tools, and MCP tasks
// answered with the Client given to Register (none when it was nil). HandlerWith takes
// options for the tasks.
func Handler(s *kit.Server) http.Handler { return HandlerWith(s, TaskOptions{}) }

// WithEdgeHeaders reads x-gatehouse-roles, x-gatehouse-approval and
// x-gatehouse-deployments-scope into the request's context, where the tools find them.
func WithEdgeHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := edge{approval: r.Header.Get(HeaderApproval), all: r.Header.Get(HeaderScope) == ScopeAll}
		for _, role := range strings.Split(r.Header.Get(HeaderRoles), ",") {
			if role = strings.TrimSpace(role); role != "" {
				e.roles = append(e.roles, role)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), edgeKey{}, e)))
	})
}

// caller is the person making a call, as the edge asserted it.
type caller struct {
	subject, email, decisionID string
	edge
}

// errNoEdge: the adapter was served without WithEdgeHeaders, so roles and the approval
// requirement cannot be known. Nothing is done rather than something wrong.
var errNoEdge = errors.New("the deployments adapter is misconfigured: it is not served through deployments.Handler, " +
	"so it cannot read the roles and approval requirement the edge forwards; nothing was done")

// callerOf returns the caller of a tool call, or an error when the edge's identity is
// missing: the adapter is only reachable through the edge, which always sets it.
func callerOf(ctx context.Context) (caller, error) {
	e, ok := ctx.Value(edgeKey{}).(edge)
	if !ok {
		return caller{}, errNoEdge
	}
	c := caller{subject: kit.Subject(ctx), email: kit.Email(ctx), decisionID: kit.DecisionID(ctx), edge: e}
	if strings.TrimSpace(c.subject) == "" {
		return caller{}, errors.New("this call carries no caller identity (x-gatehouse-subject): the deployments server " +
			"only answers calls that come through the Gatehouse edge; nothing was done")
	}
	return c, nil
}

func (c caller) hasRole(role string) bool {
	for _, r := range c.roles {
		if r == role {
			return true
		}
	}
	return false
}

func (c caller) identity() deploy.Identity {
	return deploy.Identity{Subject: c.subject, Email: c.email}
}

// isRequester reports whether the caller asked for the deployment.
func (c caller) isRequester(st deploy.Status) bool {
	return st.Request.Requester.Subject == c.subject
}

// mayRead reports whether the caller may see a deployment: its requester, anyone the policy
// gave the "all" scope, and the holders of the role its approval requires (anyone, when the
// policy required approval without naming a role: whoever the edge lets approve may).
func (c caller) mayRead(st deploy.Status) bool {
	return c.all || c.isRequester(st) || (st.Approval.Required && (st.Approval.Role == "" || c.hasRole(st.Approval.Role)))
}

// mayCancel reports whether the caller may cancel a deployment: its requester, and anyone
// the policy gave the "all" scope. Approvers reject instead.
func (c caller) mayCancel(st deploy.Status) bool { return c.all || c.isRequester(st) }

// ApprovalHeader is the JSON the policy puts in x-gatehouse-approval.
type ApprovalHeader struct {
	Required       bool     `json:"required"`
	Approvers      int      `json:"approvers,omitempty"`
	Role           string   `json:"role,omitempty"`
	TimeoutSeconds int64    `json:"timeout_seconds,omitempty"`
	Reasons        []string `json:"reasons,omitempty"`
}

// ParseApproval reads the x-gatehouse-approval header into the requirement the workflow
// enforces. A missing, malformed or unknown-field header is an error: the start call then
// fails, because starting without the policy's answer could skip a required approval.
func ParseApproval(raw string) (deploy.Approval, []string, error) {
	if strings.TrimSpace(raw) == "" {
		return deploy.Approval{}, nil, errors.New("the policy did not say whether this deployment needs approval " +
			"(no " + HeaderApproval + " header from the edge), so it was not started; the policy must compute it for " +
			"start_deployment (policies/deployments.rego)")
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var h ApprovalHeader
	if err := dec.Decode(&h); err != nil {
		return deploy.Approval{}, nil, fmt.Errorf("the policy's approval requirement (%s) cannot be read, so the deployment "+
			"was not started: %v", HeaderApproval, err)
	}
	if dec.More() {
		return deploy.Approval{}, nil, fmt.Errorf("the policy's approval requirement (%s) has trailing data, so the "+
			"deployment was not started", HeaderApproval)
	}
	if !h.Required {
		if h.Approvers != 0 || h.Role != "" || h.TimeoutSeconds != 0 {
			return deploy.Approval{}, nil, fmt.Errorf("the policy's approval requirement (%s) says no approval is required "+
				"but names approvers, a role or a timeout; the deployment was not started", HeaderApproval)
		}
		return deploy.Approval{}, h.Reasons, nil
	}
	if h.Approvers < 1 || h.TimeoutSeconds < 0 || h.TimeoutSeconds > int64(deploy.MaxApprovalTimeout/time.Second) {
		return deploy.Approval{}, nil, fmt.Errorf("the policy's approval requirement (%s) needs 1 to 10 approvers and a "+
			"timeout of at most %s, got %d approvers and %d s; the deployment was not started", HeaderApproval,
			deploy.MaxApprovalTimeout, h.Approvers, h.TimeoutSeconds)
	}
	a := deploy.Approval{Required: true, Approvers: h.Approvers, Role: h.Role, Timeout: time.Duration(h.TimeoutSeconds) * time.Second}
	if err := a.Validate(); err != nil {
		return deploy.Approval{}, nil, fmt.Errorf("the policy's approval requirement (%s): %w; the deployment was not started", HeaderApproval, err)
	}
	return a, h.Reasons, nil
}
