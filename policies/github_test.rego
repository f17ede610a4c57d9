# Tests of github.rego and of the reference RBAC on github.
package gatehouse.github_test

import rego.v1

import data.gatehouse.authz

write_tool := {"action": "write", "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}}

read_tool := {"action": "read", "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}}

merge_tool := {"action": "execute", "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}}

gh(groups, amr, name, tool, args) := {
	"subject": {"sub": "u1", "groups": groups, "amr": amr},
	"mcp": {"server": "github", "kind": "request", "method": "tools/call", "name": name, "arguments": args, "via": "mcp"},
	"tool": tool,
}

templates := {"owner": "gatehouse-net", "repo": "network-templates", "path": "x.vtl"}

elsewhere := {"owner": "acme-corp", "repo": "firewall-rules", "path": "x"}

test_developer_writes_to_a_listed_repo if {
	authz.allow with input as gh(["developers"], ["pwd"], "create_or_update_file", write_tool, templates)
}

test_listed_repo_matches_without_case if {
	authz.allow with input as gh(["developers"], ["pwd"], "create_branch", write_tool, {"owner": "Gatehouse-Net", "repo": "Network-Templates"})
}

test_developer_cannot_write_elsewhere if {
	not authz.allow with input as gh(["developers"], ["pwd"], "create_or_update_file", write_tool, elsewhere)
	some r in authz.reasons with input as gh(["developers"], ["pwd"], "create_or_update_file", write_tool, elsewhere)
	contains(r, "acme-corp/firewall-rules, which is not in gatehouse.github.writable_repos")
}

test_admin_cannot_write_elsewhere_either if {
	not authz.allow with input as gh(["admin"], ["pwd", "mfa"], "create_issue", write_tool, elsewhere)
}

# Lists are decided with empty arguments: write tools stay listed.
test_write_tools_listed if {
	authz.allow with input as gh(["developers"], ["pwd"], "create_issue", write_tool, {})
}

test_owner_wildcard if {
	authz.allow with input as gh(["developers"], ["pwd"], "create_issue", write_tool, elsewhere) with data.gatehouse.github.writable_repos as ["acme-corp/*"]
	not authz.allow with input as gh(["developers"], ["pwd"], "create_issue", write_tool, templates) with data.gatehouse.github.writable_repos as ["acme-corp/*"]
}

test_reads_not_limited_to_listed_repos if {
	authz.allow with input as gh(["developers"], ["pwd"], "get_file_contents", read_tool, elsewhere)
}

test_merge_needs_mfa if {
	not authz.allow with input as gh(["developers"], ["pwd"], "merge_pull_request", merge_tool, templates)
	authz.allow with input as gh(["developers"], ["pwd", "mfa"], "merge_pull_request", merge_tool, templates)
}

test_network_engineers_have_no_github if {
	not authz.allow with input as gh(["network-engineers"], ["pwd", "mfa"], "get_file_contents", read_tool, templates)
}

test_service_desk_has_no_github if {
	not authz.allow with input as gh(["service-desk"], ["pwd"], "list_issues", read_tool, templates)
}
