# GitHub rules beyond the reference RBAC, in the same package as authz.rego (examples to copy).
#
# Writes go only to repositories the security team lists in data.gatehouse.github.writable_repos
# ("owner/name", or "owner/*" for every repository of an owner; GitHub names are compared without
# case): a token that may write on github still cannot commit to, branch in, or merge into a
# repository nobody listed. Reads are not limited here; the adapter confines code search to its
# configured organisations.
#
# Merging (merge_pull_request) and deleting a branch are destructive in the catalog, so they
# already need multi-factor authentication (authz.rego, mfa_for_destructive).
package gatehouse.authz

import rego.v1

github_writing if {
	server == "github"
	method_class == "tool"
	input.tool.action in {"write", "execute"}
}

github_repo := lower(sprintf("%s/%s", [input.mcp.arguments.owner, input.mcp.arguments.repo])) if {
	is_string(input.mcp.arguments.owner)
	is_string(input.mcp.arguments.repo)
}

github_repo_writable if {
	some p in data.gatehouse.github.writable_repos
	lower(p) == github_repo
}

github_repo_writable if {
	some p in data.gatehouse.github.writable_repos
	endswith(p, "/*")
	lower(trim_suffix(p, "*")) == concat("", [split(github_repo, "/")[0], "/"])
}

# A call that names no repository is left to the adapter, whose schema check refuses it (owner
# and repo are required): refusing it here would also hide every write tool from lists, which
# are decided with empty arguments.
refusals contains msg if {
	github_writing
	github_repo
	not github_repo_writable
	msg := sprintf("%s writes to GitHub repository %s, which is not in gatehouse.github.writable_repos %v; ask your security team to add it", [input.mcp.name, github_repo, data.gatehouse.github.writable_repos])
}
