# Gatehouse default authorization policy: reference RBAC for MCP servers.
#
# Input contract: docs/architecture.md ("OPA input"). Data: data.json (group → role, role →
# server → actions, MCP method classes, settings). Tool action classes and annotations come
# from catalog.json as input.tool, never from the adapter.
#
# Answers: allow (bool), reasons (set of strings a person or a model can act on), headers
# (object of headers added to the upstream request when allowed).
package gatehouse.authz

import rego.v1

default allow := false

server := input.mcp.server

rbac := data.gatehouse.rbac

# Roles of the caller, from the groups their IdP asserts.
roles contains role if {
	some group in input.subject.groups
	some role in rbac.group_roles[group]
}

# Actions the caller's roles grant on this server ("*" grants on every server).
granted contains action if {
	some role in roles
	some target in [server, "*"]
	some action in rbac.roles[role][target]
}

# A member is anyone with at least one grant on the server: enough to connect and list.
member if count(granted) > 0

method_class := data.gatehouse.methods[input.mcp.method]

# What a message requires. Undefined (and so denied) for unknown methods, and for tool calls
# whose tool is not in the catalog.
required := "member" if input.mcp.kind in {"response", "stream", "session_end"}

required := "member" if {
	input.mcp.kind in {"request", "notification"}
	method_class in {"session", "list"}
}

required := input.tool.action if method_class == "tool"

required := method_class if method_class in {"read", "write"}

allow if {
	required == "member"
	member
}

allow if {
	required in {"read", "write", "execute"}
	required in granted
	not mfa_missing
	count(refusals) == 0
}

# A tool a role may call although the role does not grant its action class
# (rbac.tool_grants: role → server → tool names), such as network engineers opening change
# requests in ServiceNow, where they otherwise only read.
tool_granted if {
	method_class == "tool"
	input.tool
	some role in roles
	input.mcp.name in object.get(rbac, ["tool_grants", role, server], [])
}

allow if {
	tool_granted
	not mfa_missing
	count(refusals) == 0
}

# Argument-level rules add to refusals (see servicenow.rego): each is a reason a call is
# refused even though the caller's roles allow the tool. They apply to every role.

mfa if "mfa" in object.get(input.subject, "amr", [])

# The caller's roles permit the call, before MFA and argument rules.
role_permits if required in granted

role_permits if tool_granted

# Destructive tools need a second factor when settings.mfa_for_destructive is on.
mfa_missing if {
	method_class == "tool"
	input.tool.annotations.destructiveHint == true
	data.gatehouse.settings.mfa_for_destructive == true
	not mfa
}

target := sprintf("tool %q", [input.mcp.name]) if method_class == "tool"

target := sprintf("%s %q", [input.mcp.method, object.get(input.mcp, "uri", object.get(input.mcp, "name", ""))]) if {
	method_class in {"read", "write"}
}

# Reasons, only for denials: each says what was refused and what would change the outcome.

reasons contains msg if {
	not allow
	input.mcp.kind in {"request", "notification"}
	not method_class
	msg := sprintf("method %q is not a known MCP method; unknown methods are denied", [input.mcp.method])
}

reasons contains msg if {
	not allow
	method_class == "tool"
	not input.tool
	msg := sprintf("tool %q is not in the pinned catalog of server %q, so no one may call it", [input.mcp.name, server])
}

reasons contains msg if {
	not allow
	required == "member"
	not member
	msg := sprintf("none of your roles %v grants access to server %q", [sort(roles), server])
}

reasons contains msg if {
	not allow
	required in {"read", "write", "execute"}
	not required in granted
	not tool_granted
	msg := sprintf("%s on server %q needs %q access; your roles %v grant %v there", [target, server, required, sort(roles), sort(granted)])
}

reasons contains msg if {
	not allow
	some msg in refusals
}

reasons contains msg if {
	not allow
	role_permits
	mfa_missing
	msg := sprintf("%s is destructive and requires multi-factor authentication; sign in again with MFA", [target])
}

# Headers the edge adds to an allowed request (an object: other files add their own keys, as
# deployments.rego does).
headers["x-gatehouse-roles"] := concat(",", sort(roles)) if count(roles) > 0
