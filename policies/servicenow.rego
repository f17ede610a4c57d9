# ServiceNow rules beyond the reference RBAC: examples of argument-level rules a security team
# can copy. Each adds to refusals (authz.rego), which deny a call whatever the role grants.
package gatehouse.authz

import rego.v1

servicenow_call(names) if {
	server == "servicenow"
	method_class == "tool"
	input.mcp.name in names
}

# Priority 1 (critical) pages on-call teams: setting it needs a second factor, for anyone.
refusals contains msg if {
	servicenow_call({"create_incident", "update_incident"})
	input.mcp.arguments.priority == 1
	not mfa
	msg := sprintf("%s with priority 1 (critical) pages the on-call teams and needs multi-factor authentication; sign in again with MFA, or use priority 2", [input.mcp.name])
}

# Network engineers may open change requests through rbac.tool_grants although they only read
# ServiceNow otherwise. A standard change is pre-approved; a normal one goes to the change
# board, so opening one that way needs a second factor. Callers whose role grants write on
# ServiceNow (the service desk) are not limited by this rule.
refusals contains msg if {
	servicenow_call({"create_change"})
	not "write" in granted
	input.mcp.arguments.type != "standard"
	not mfa
	msg := "without multi-factor authentication you may open standard changes only (type standard, from list_standard_change_templates); sign in again with MFA to open a normal change"
}
