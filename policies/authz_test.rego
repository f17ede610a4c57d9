# Tests of the default policy: one or more per rule. Run: opa test policies/ (or go test ./policies/).
package gatehouse.authz_test

import rego.v1

import data.gatehouse.authz

read_tool := {"action": "read", "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}}

write_tool := {"action": "write", "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}}

deploy_tool := {"action": "execute", "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}}

show_tool := {"action": "execute", "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}}

subject(groups) := {"sub": "u1", "groups": groups, "amr": ["pwd"]}

mfa_subject(groups) := {"sub": "u1", "groups": groups, "amr": ["pwd", "mfa"]}

call(subj, srv, name, tool) := {
	"subject": subj,
	"mcp": {"server": srv, "kind": "request", "method": "tools/call", "name": name, "arguments": {}, "via": "mcp"},
	"tool": tool,
}

call_uncatalogued(subj, srv, name) := {
	"subject": subj,
	"mcp": {"server": srv, "kind": "request", "method": "tools/call", "name": name, "arguments": {}, "via": "mcp"},
}

msg(subj, srv, kind, method) := {"subject": subj, "mcp": {"server": srv, "kind": kind, "method": method, "via": "mcp"}}

# roles

test_roles_from_groups if {
	authz.roles == {"network-engineers"} with input as msg(subject(["network-engineers", "unrelated"]), "radkit", "request", "ping")
}

test_no_groups_no_roles if {
	count(authz.roles) == 0 with input as msg({"sub": "u1"}, "radkit", "request", "ping")
}

# admin may do anything, everywhere

test_admin_deploys_with_mfa if {
	authz.allow with input as call(mfa_subject(["admin"]), "catalyst-center", "deploy_template", deploy_tool)
}

test_admin_any_server if {
	authz.allow with input as object.union(
		call(subject(["admin"]), "github", "create_issue", write_tool),
		{"mcp": {"arguments": {"owner": "gatehouse-net", "repo": "network-templates"}}},
	)
}

# network-engineers: read/write/execute on catalyst-center and radkit

test_network_engineer_reads_catalyst if {
	authz.allow with input as call(subject(["network-engineers"]), "catalyst-center", "list_devices", read_tool)
}

test_network_engineer_runs_show_commands if {
	authz.allow with input as call(subject(["network-engineers"]), "catalyst-center", "run_show_commands", show_tool)
}

# Direct deploy_template is break-glass for admins (deployments.rego); engineers use start_deployment.
test_network_engineer_cannot_deploy_directly if {
	inp := call(mfa_subject(["network-engineers"]), "catalyst-center", "deploy_template", deploy_tool)
	not authz.allow with input as inp
	some r in authz.reasons with input as inp
	contains(r, "start_deployment")
}

test_network_engineer_radkit if {
	authz.allow with input as object.union(
		call(subject(["network-engineers"]), "radkit", "run_commands", show_tool),
		{"mcp": {"arguments": {"commands": ["show version", "sh ip int br"]}}},
	)
	not authz.allow with input as object.union(
		call(subject(["network-engineers"]), "radkit", "run_commands", show_tool),
		{"mcp": {"arguments": {"commands": ["show version", "reload"]}}},
	)
}

test_network_engineer_reads_servicenow if {
	authz.allow with input as call(subject(["network-engineers"]), "servicenow", "search_incidents", read_tool)
}

# service-desk: anything on servicenow, read on catalyst-center

test_service_desk_servicenow_write if {
	authz.allow with input as call(subject(["service-desk"]), "servicenow", "create_incident", write_tool)
}

test_service_desk_reads_catalyst if {
	authz.allow with input as call(subject(["service-desk"]), "catalyst-center", "list_devices", read_tool)
}

test_service_desk_cannot_deploy if {
	inp := call(mfa_subject(["service-desk"]), "catalyst-center", "deploy_template", deploy_tool)
	not authz.allow with input as inp
	`tool "deploy_template" on server "catalyst-center" needs "execute" access; your roles ["service-desk"] grant ["read"] there` in authz.reasons with input as inp
}

test_service_desk_cannot_run_commands if {
	not authz.allow with input as call(subject(["service-desk"]), "catalyst-center", "run_show_commands", show_tool)
}

# developers: anything on github and the REST bridge

test_developer_github if {
	authz.allow with input as object.union(
		call(subject(["developers"]), "github", "create_pull_request", write_tool),
		{"mcp": {"arguments": {"owner": "gatehouse-net", "repo": "network-templates"}}},
	)
}

test_developer_rest_bridge_session if {
	authz.allow with input as msg(subject(["developers"]), "rest-bridge", "request", "tools/list")
}

test_developer_not_catalyst if {
	not authz.allow with input as call(subject(["developers"]), "catalyst-center", "list_devices", read_tool)
}

# via: the REST bridge is decided exactly as MCP

test_rest_same_decision_as_mcp if {
	mcp := call(subject(["service-desk"]), "catalyst-center", "list_devices", read_tool)
	rest := json.patch(mcp, [{"op": "replace", "path": "/mcp/via", "value": "rest"}])
	authz.allow with input as mcp
	authz.allow with input as rest
	deny_mcp := call(subject(["service-desk"]), "catalyst-center", "deploy_template", deploy_tool)
	deny_rest := json.patch(deny_mcp, [{"op": "replace", "path": "/mcp/via", "value": "rest"}])
	not authz.allow with input as deny_mcp
	not authz.allow with input as deny_rest
}

# catalog: a tool missing from it is denied, even for admin

test_uncatalogued_tool_denied if {
	inp := call_uncatalogued(subject(["admin"]), "catalyst-center", "format_flash")
	not authz.allow with input as inp
	authz.reasons == {`tool "format_flash" is not in the pinned catalog of server "catalyst-center", so no one may call it`} with input as inp
}

# mfa for destructive tools

test_destructive_needs_mfa if {
	inp := call(subject(["admin"]), "catalyst-center", "deploy_template", deploy_tool)
	not authz.allow with input as inp
	authz.reasons == {`tool "deploy_template" is destructive and requires multi-factor authentication; sign in again with MFA`} with input as inp
}

test_destructive_needs_mfa_even_without_amr if {
	not authz.allow with input as call({"sub": "u1", "groups": ["admin"]}, "catalyst-center", "deploy_template", deploy_tool)
}

test_mfa_setting_off if {
	authz.allow with input as call(subject(["admin"]), "catalyst-center", "deploy_template", deploy_tool)
		with data.gatehouse.settings.mfa_for_destructive as false
}

test_non_destructive_write_without_mfa if {
	authz.allow with input as call(subject(["service-desk"]), "servicenow", "update_incident", write_tool)
}

# methods

test_unknown_method_denied if {
	inp := msg(subject(["admin"]), "github", "request", "admin/shutdown")
	not authz.allow with input as inp
	authz.reasons == {`method "admin/shutdown" is not a known MCP method; unknown methods are denied`} with input as inp
}

test_session_methods_for_members if {
	every m in ["initialize", "ping", "tools/list", "server/discover", "prompts/list"] {
		authz.allow with input as msg(subject(["service-desk"]), "catalyst-center", "request", m)
	}
}

test_session_methods_denied_to_non_members if {
	inp := msg(subject(["developers"]), "radkit", "request", "tools/list")
	not authz.allow with input as inp
	authz.reasons == {`none of your roles ["developers"] grants access to server "radkit"`} with input as inp
}

test_notifications_authorized if {
	authz.allow with input as msg(subject(["developers"]), "github", "notification", "notifications/initialized")
	not authz.allow with input as msg(subject(["developers"]), "radkit", "notification", "notifications/initialized")
	not authz.allow with input as msg(subject(["admin"]), "radkit", "notification", "notifications/made_up")
}

test_client_responses_authorized if {
	authz.allow with input as {"subject": subject(["developers"]), "mcp": {"server": "github", "kind": "response", "via": "mcp"}}
	not authz.allow with input as {"subject": subject(["developers"]), "mcp": {"server": "servicenow", "kind": "response", "via": "mcp"}}
}

test_stream_and_session_end if {
	authz.allow with input as {"subject": subject(["service-desk"]), "mcp": {"server": "servicenow", "kind": "stream", "via": "mcp"}}
	not authz.allow with input as {"subject": subject(["service-desk"]), "mcp": {"server": "github", "kind": "session_end", "via": "mcp"}}
}

test_resources_read_needs_read if {
	inp := {"subject": subject(["service-desk"]), "mcp": {"server": "catalyst-center", "kind": "request", "method": "resources/read", "uri": "catalyst://devices", "via": "mcp"}}
	authz.allow with input as inp
	deny := json.patch(inp, [{"op": "replace", "path": "/subject/groups", "value": ["developers"]}])
	not authz.allow with input as deny
	authz.reasons == {`resources/read "catalyst://devices" on server "catalyst-center" needs "read" access; your roles ["developers"] grant [] there`} with input as deny
}

test_prompts_and_completion_need_read if {
	authz.allow with input as {"subject": subject(["service-desk"]), "mcp": {"server": "catalyst-center", "kind": "request", "method": "prompts/get", "name": "p", "via": "mcp"}}
	not authz.allow with input as {"subject": subject(["developers"]), "mcp": {"server": "catalyst-center", "kind": "request", "method": "completion/complete", "name": "p", "via": "mcp"}}
}

test_tasks_cancel_needs_write if {
	inp := {"subject": subject(["service-desk"]), "mcp": {"server": "catalyst-center", "kind": "request", "method": "tasks/cancel", "task_id": "t1", "via": "mcp"}}
	not authz.allow with input as inp
	authz.allow with input as json.patch(inp, [{"op": "replace", "path": "/subject/groups", "value": ["network-engineers"]}])
	authz.allow with input as json.patch(inp, [{"op": "replace", "path": "/mcp/method", "value": "tasks/get"}])
}

# headers and reasons

test_roles_header if {
	authz.headers == {"x-gatehouse-roles": "developers,service-desk"} with input as call(subject(["service-desk", "developers"]), "servicenow", "search_incidents", read_tool)
}

test_no_reasons_when_allowed if {
	count(authz.reasons) == 0 with input as call(subject(["admin"]), "github", "list_issues", read_tool)
}
