# Deployments rules, in the same package as authz.rego. The deployments server (an adapter over
# the durable template deployment on Temporal) takes two answers from the policy, as headers the
# edge adds to an allowed call:
#
#   x-gatehouse-approval, on start_deployment: whether the deployment needs approval and, if it
#   does, how many people of which role must approve it and how long they have, as JSON
#   {"required", "approvers", "role", "timeout_seconds", "reasons"}. It is computed from the very
#   arguments the adapter receives. The adapter refuses to start a deployment without it (fail
#   closed) and hands it to the workflow, which enforces it and never decides it.
#
#   x-gatehouse-deployments-scope: "all" for callers with a role in
#   data.gatehouse.approval.oversight_roles, who may read and cancel every deployment. Everyone
#   else reads and cancels the deployments they requested, and reads those awaiting approval by
#   one of their roles.
#
# Who may call which tool is the reference RBAC (data.json: network-engineers start, read and
# cancel; change-approvers approve and reject through rbac.tool_grants). approve_deployment is
# destructive in the catalog, so approving needs multi-factor authentication (authz.rego,
# mfa_for_destructive); so does start_deployment, which can push configuration without approval.
package gatehouse.authz

import rego.v1

approval_data := data.gatehouse.approval

deployment_start if {
	server == "deployments"
	method_class == "tool"
	input.mcp.name == "start_deployment"
}

deployment_args := object.get(input.mcp, "arguments", {})

deployment_devices := deployment_args.device_ids if is_array(deployment_args.device_ids)

# The change window as nanoseconds since the epoch (RFC 3339, as the adapter reads it).
deployment_window := [start, end] if {
	start := time.parse_rfc3339_ns(deployment_args.change_window.start)
	end := time.parse_rfc3339_ns(deployment_args.change_window.end)
}

deployment_readable if {
	deployment_devices
	deployment_window
}

# Why a deployment needs approval: rule → reason. The requirement of each rule is in
# approval_data.requirements (else its "default"); when several apply, the most approvers and
# the shortest timeout win.

approval_triggers["core_device"] := sprintf("it changes core devices (%s)", [concat(", ", names)]) if {
	names := sort([name | some id in deployment_devices; name := approval_data.core_devices[id]])
	count(names) > 0
}

approval_triggers["many_devices"] := sprintf("it changes %d devices, more than %d", [n, approval_data.max_devices]) if {
	n := count(deployment_devices)
	n > approval_data.max_devices
}

approval_triggers["outside_window"] := msg if {
	deployment_window
	not deployment_in_standard_window
	msg := sprintf("its change window (%s to %s) is not inside a standard change window", [
		deployment_args.change_window.start,
		deployment_args.change_window.end,
	])
}

# A request the rules cannot read (the adapter refuses it anyway) needs approval rather than none.
approval_triggers["unreadable"] := "its device list or change window cannot be read" if not deployment_readable

# A standard window is a time of day on some weekdays (UTC, "HH:MM", "24:00" is the end of the
# day); a change window is inside one when it starts and ends within it on the same day.
deployment_in_standard_window if {
	[start, end] := deployment_window
	[y, m, d] := time.date(start)
	midnight := time.parse_rfc3339_ns(sprintf("%04d-%02d-%02dT00:00:00Z", [y, m, d]))
	some w in approval_data.standard_windows
	time.weekday(start) in w.days
	start >= midnight + (approval_minutes(w.from) * 60000000000)
	end <= midnight + (approval_minutes(w.to) * 60000000000)
}

approval_minutes(hhmm) := (to_number(h) * 60) + to_number(m) if [h, m] := split(hhmm, ":")

approval_rule(name) := object.get(approval_data.requirements, name, approval_data.requirements["default"])

approval_requirement := {"required": false} if count(approval_triggers) == 0

approval_requirement := {
	"required": true,
	"role": approval_data.role,
	"approvers": max([n | some rule, _ in approval_triggers; n := approval_rule(rule).approvers]),
	"timeout_seconds": min([s | some rule, _ in approval_triggers; s := approval_rule(rule).timeout_minutes * 60]),
	"reasons": sort([msg | some msg in approval_triggers]),
} if count(approval_triggers) > 0

headers["x-gatehouse-approval"] := json.marshal(approval_requirement) if deployment_start

headers["x-gatehouse-deployments-scope"] := "all" if {
	server == "deployments"
	some role in roles
	role in approval_data.oversight_roles
}

# A deployment started as an MCP task is canceled with tasks/cancel as well as with
# cancel_deployment: whoever the RBAC lets call cancel_deployment (network engineers, through
# a tool grant) may send tasks/cancel to the deployments server, which needs "write" otherwise.
# The server then checks that the task is the caller's, as it does for the tool.
allow if {
	server == "deployments"
	input.mcp.method == "tasks/cancel"
	some role in roles
	"cancel_deployment" in object.get(rbac, ["tool_grants", role, server], [])
	count(refusals) == 0
}

# Catalyst Center's deploy_template pushes configuration at once, with no change request, no
# approval and nothing that survives a crash. In the reference policy only the roles in
# data.gatehouse.approval.direct_deploy_roles (admin) keep it, as a break-glass tool; everyone
# else deploys through start_deployment.
refusals contains msg if {
	server == "catalyst-center"
	method_class == "tool"
	input.mcp.name == "deploy_template"
	"execute" in granted # others are refused by the RBAC already, with its own reason
	count(roles & {r | some r in approval_data.direct_deploy_roles}) == 0
	msg := "deploy_template pushes configuration with no change request or approval and is kept for break-glass use by the roles in gatehouse.approval.direct_deploy_roles; deploy with the deployments server's start_deployment instead (change request, approval by policy, rollback)"
}
