# Tests of deployments.rego and of the deployments server's reference RBAC (data.json).
package gatehouse.deployments_test

import rego.v1

import data.gatehouse.authz

start_tool := {"action": "execute", "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}}

approve_tool := {"action": "write", "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}}

decide_tool := {"action": "write", "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}}

read_tool := {"action": "read", "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}}

core := "150e19c4-f144-5613-b7ff-d08faf09692f"

access := "b4550c1c-c298-5836-8510-a73024fef540"

# Monday 22:00-23:30 UTC: inside the standard window of Monday to Thursday evenings.
monday_evening := {"start": "2026-11-23T22:00:00Z", "end": "2026-11-23T23:30:00Z"}

who(groups, amr) := {"sub": "u1", "groups": groups, "amr": amr}

call(subj, name, tool, args) := {
	"subject": subj,
	"mcp": {"server": "deployments", "kind": "request", "method": "tools/call", "name": name, "arguments": args, "via": "mcp"},
	"tool": tool,
}

start(devices, window) := call(who(["network-engineers"], ["pwd", "mfa"]), "start_deployment", start_tool, {
	"template_id": "t-1", "template_version": 2, "device_ids": devices, "change_window": window,
})

approval_of(inp) := json.unmarshal(h["x-gatehouse-approval"]) if {
	authz.allow with input as inp
	h := authz.headers with input as inp
}

# approval requirements

test_no_approval_for_a_small_change_in_a_standard_window if {
	approval_of(start([access], monday_evening)) == {"required": false}
}

test_core_device_needs_two_approvers if {
	a := approval_of(start([access, core], monday_evening))
	a.required == true
	a.approvers == data.gatehouse.approval.requirements.core_device.approvers
	a.role == "change-approvers"
	a.timeout_seconds == data.gatehouse.approval.requirements.core_device.timeout_minutes * 60
	a.reasons == ["it changes core devices (lon-b1-core-01)"]
}

test_more_than_ten_devices_need_approval if {
	devices := [sprintf("d-%d", [i]) | some i in numbers.range(1, 11)]
	a := approval_of(start(devices, monday_evening))
	a.approvers == 1
	a.reasons == ["it changes 11 devices, more than 10"]
	approval_of(start(array.slice(devices, 0, 10), monday_evening)) == {"required": false}
}

test_outside_the_standard_windows_needs_approval if {
	# Wednesday morning
	a := approval_of(start([access], {"start": "2026-11-25T10:00:00Z", "end": "2026-11-25T11:00:00Z"}))
	a.timeout_seconds == data.gatehouse.approval.requirements.outside_window.timeout_minutes * 60
	a.reasons == ["its change window (2026-11-25T10:00:00Z to 2026-11-25T11:00:00Z) is not inside a standard change window"]

	# Monday evening, but running past midnight
	approval_of(start([access], {"start": "2026-11-23T23:00:00Z", "end": "2026-11-24T01:00:00Z"})).required

	# Saturday, all day; an offset is read as the same instant in UTC
	approval_of(start([access], {"start": "2026-11-28T08:00:00+01:00", "end": "2026-11-28T18:00:00Z"})) == {"required": false}
	approval_of(start([access], {"start": "2026-11-28T00:00:00Z", "end": "2026-11-29T00:00:00Z"})) == {"required": false}
}

test_strictest_requirement_wins if {
	a := approval_of(start([core, access], {"start": "2026-11-25T10:00:00Z", "end": "2026-11-25T11:00:00Z"}))
	a.approvers == 2
	a.timeout_seconds == min([
		data.gatehouse.approval.requirements.core_device.timeout_minutes,
		data.gatehouse.approval.requirements.outside_window.timeout_minutes,
	]) * 60
	count(a.reasons) == 2
}

test_unreadable_request_needs_approval if {
	a := approval_of(start([access], {"start": "tomorrow evening", "end": "2026-11-23T23:30:00Z"}))
	a.approvers == data.gatehouse.approval.requirements["default"].approvers
	a.reasons == ["its device list or change window cannot be read"]
	approval_of(start("lon-b1-acc-01", monday_evening)).required
}

test_approval_header_only_on_start if {
	h := authz.headers with input as call(who(["network-engineers"], ["pwd"]), "get_deployment", read_tool, {"workflow_id": "x"})
	not h["x-gatehouse-approval"]
	h["x-gatehouse-roles"] == "network-engineers"
}

test_admins_see_every_deployment if {
	h := authz.headers with input as call(who(["admin"], ["pwd"]), "get_deployment", read_tool, {"workflow_id": "x"})
	h["x-gatehouse-deployments-scope"] == "all"
	e := authz.headers with input as call(who(["network-engineers"], ["pwd"]), "get_deployment", read_tool, {"workflow_id": "x"})
	not e["x-gatehouse-deployments-scope"]
}

# reference RBAC on the deployments server

test_network_engineers_start_with_mfa if {
	authz.allow with input as start([access], monday_evening)
	inp := call(who(["network-engineers"], ["pwd"]), "start_deployment", start_tool, {})
	not authz.allow with input as inp
	some r in authz.reasons with input as inp
	contains(r, "multi-factor")
}

test_network_engineers_read_and_cancel_but_do_not_decide if {
	ne := who(["network-engineers"], ["pwd", "mfa"])
	authz.allow with input as call(ne, "list_my_deployments", read_tool, {})
	authz.allow with input as call(ne, "cancel_deployment", decide_tool, {"workflow_id": "x"})
	not authz.allow with input as call(ne, "approve_deployment", approve_tool, {"workflow_id": "x"})
	not authz.allow with input as call(ne, "reject_deployment", decide_tool, {"workflow_id": "x"})
}

task(subj, method) := {"subject": subj, "mcp": {"server": "deployments", "kind": "request", "method": method, "task_id": "deploy-x", "via": "mcp"}}

test_task_requests_follow_the_tools if {
	ne := who(["network-engineers"], ["pwd"])
	authz.allow with input as task(ne, "tasks/get")
	authz.allow with input as task(ne, "tasks/cancel") # as cancel_deployment, through its tool grant
	authz.allow with input as task(who(["change-approvers"], ["pwd"]), "tasks/get")
	not authz.allow with input as task(who(["change-approvers"], ["pwd"]), "tasks/cancel") # approvers reject
	not authz.allow with input as task(who(["service-desk"], ["pwd"]), "tasks/get")
	not authz.allow with input as task(who(["service-desk"], ["pwd"]), "tasks/cancel")
	not authz.allow with input as json.patch(task(ne, "tasks/cancel"), [{"op": "replace", "path": "/mcp/server", "value": "servicenow"}]) # only on deployments
}

test_change_approvers_decide_and_approve_with_mfa if {
	authz.allow with input as call(who(["change-approvers"], ["pwd", "mfa"]), "approve_deployment", approve_tool, {})
	not authz.allow with input as call(who(["change-approvers"], ["pwd"]), "approve_deployment", approve_tool, {})
	authz.allow with input as call(who(["change-approvers"], ["pwd"]), "reject_deployment", decide_tool, {})
	authz.allow with input as call(who(["change-approvers"], ["pwd"]), "list_pending_my_approval", read_tool, {})
	not authz.allow with input as call(who(["change-approvers"], ["pwd", "mfa"]), "start_deployment", start_tool, {})
	not authz.allow with input as call(who(["change-approvers"], ["pwd"]), "cancel_deployment", decide_tool, {})
}

test_other_roles_have_no_deployments if {
	not authz.allow with input as call(who(["service-desk"], ["pwd", "mfa"]), "list_my_deployments", read_tool, {})
	not authz.allow with input as call(who(["developers"], ["pwd", "mfa"]), "get_deployment", read_tool, {})
}
