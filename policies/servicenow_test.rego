# Tests of servicenow.rego and of the ServiceNow part of the reference RBAC: per role, and for
# each argument-level rule.
package gatehouse.authz_test

import rego.v1

import data.gatehouse.authz

sn_call(subj, name, tool, args) := {
	"subject": subj,
	"mcp": {"server": "servicenow", "kind": "request", "method": "tools/call", "name": name, "arguments": args, "via": "mcp"},
	"tool": tool,
}

# service desk: everything on servicenow

test_sn_service_desk_reads_and_writes if {
	authz.allow with input as sn_call(subject(["service-desk"]), "search_incidents", read_tool, {})
	authz.allow with input as sn_call(subject(["service-desk"]), "create_incident", write_tool, {"short_description": "x", "priority": 3})
	authz.allow with input as sn_call(subject(["service-desk"]), "move_change", write_tool, {"number": "CHG0030001", "to": "assess"})
}

test_sn_service_desk_normal_change_without_mfa if {
	authz.allow with input as sn_call(subject(["service-desk"]), "create_change", write_tool, {"type": "normal"})
}

# priority 1 needs MFA, for every role

test_sn_priority_1_needs_mfa if {
	inp := sn_call(subject(["service-desk"]), "create_incident", write_tool, {"short_description": "core down", "priority": 1})
	not authz.allow with input as inp
	authz.reasons == {`create_incident with priority 1 (critical) pages the on-call teams and needs multi-factor authentication; sign in again with MFA, or use priority 2`} with input as inp
	authz.allow with input as sn_call(mfa_subject(["service-desk"]), "create_incident", write_tool, {"short_description": "core down", "priority": 1})
}

test_sn_priority_1_update_needs_mfa if {
	not authz.allow with input as sn_call(subject(["service-desk"]), "update_incident", write_tool, {"number": "INC0010001", "priority": 1})
	not authz.allow with input as sn_call(subject(["admin"]), "update_incident", write_tool, {"number": "INC0010001", "priority": 1})
	authz.allow with input as sn_call(subject(["service-desk"]), "update_incident", write_tool, {"number": "INC0010001", "priority": 2})
	authz.allow with input as sn_call(mfa_subject(["admin"]), "update_incident", write_tool, {"number": "INC0010001", "priority": 1})
}

# network engineers: read, and open changes (standard ones without MFA)

test_sn_network_engineer_reads if {
	authz.allow with input as sn_call(subject(["network-engineers"]), "find_configuration_items", read_tool, {"name": "lon-"})
}

test_sn_network_engineer_standard_change if {
	authz.allow with input as sn_call(subject(["network-engineers"]), "create_change", write_tool, {"type": "standard", "template": "x"})
}

test_sn_network_engineer_normal_change_needs_mfa if {
	inp := sn_call(subject(["network-engineers"]), "create_change", write_tool, {"type": "normal"})
	not authz.allow with input as inp
	authz.reasons == {"without multi-factor authentication you may open standard changes only (type standard, from list_standard_change_templates); sign in again with MFA to open a normal change"} with input as inp
	authz.allow with input as sn_call(mfa_subject(["network-engineers"]), "create_change", write_tool, {"type": "normal"})
}

test_sn_network_engineer_no_other_writes if {
	inp := sn_call(mfa_subject(["network-engineers"]), "create_incident", write_tool, {"short_description": "x"})
	not authz.allow with input as inp
	authz.reasons == {`tool "create_incident" on server "servicenow" needs "write" access; your roles ["network-engineers"] grant ["read"] there`} with input as inp
	not authz.allow with input as sn_call(mfa_subject(["network-engineers"]), "move_change", write_tool, {"number": "CHG0030001", "to": "implement"})
}

test_sn_tool_grant_needs_catalog_entry if {
	not authz.allow with input as {
		"subject": subject(["network-engineers"]),
		"mcp": {"server": "servicenow", "kind": "request", "method": "tools/call", "name": "create_change", "arguments": {"type": "standard"}, "via": "mcp"},
	}
}

# developers: nothing on servicenow

test_sn_developers_none if {
	inp := sn_call(subject(["developers"]), "search_incidents", read_tool, {})
	not authz.allow with input as inp
	authz.reasons == {`tool "search_incidents" on server "servicenow" needs "read" access; your roles ["developers"] grant [] there`} with input as inp
	not authz.allow with input as msg(subject(["developers"]), "servicenow", "request", "tools/list")
}
