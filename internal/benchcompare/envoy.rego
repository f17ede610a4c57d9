# The side-by-side benchmark's policy for stock OPA + opa-envoy-plugin: everything Gatehouse
# does before and around policy, written in Rego, in front of Gatehouse's own policy files.
# The token is verified with io.jwt.decode_verify against the issuer's JWKS (issuer and the
# server's audience checked), the MCP message is read from input.parsed_body (or the REST
# bridge path), input.subject, input.mcp and input.tool are built as Gatehouse builds them,
# and data.gatehouse.authz decides. Answers: 401 without a valid token, 403 on a denial.
package envoy.authz

import rego.v1

http_req := input.attributes.request.http

path := split(http_req.path, "?")[0]

rest_prefix := "/api/v1/mcp/"

rest := split(trim_prefix(path, rest_prefix), "/") if startswith(path, rest_prefix)

server := rest[0] if rest

server := input.attributes.contextExtensions.server if not rest

bearer := t if {
	a := http_req.headers.authorization
	startswith(a, "Bearer ")
	t := substring(a, 7, -1)
}

verified := io.jwt.decode_verify(bearer, {
	"cert": data.bench.jwks,
	"iss": data.bench.issuer,
	"aud": concat("", [data.bench.public_url, "/mcp/", server]),
})

claims := verified[2] if verified[0]

default scopes := []

scopes := split(claims.scope, " ") if claims.scope

subject := {
	"sub": claims.sub,
	"iss": claims.iss,
	"email": object.get(claims, "email", ""),
	"groups": object.get(claims, "groups", []),
	"scopes": scopes,
	"amr": object.get(claims, "amr", []),
	"client_id": object.get(claims, "client_id", ""),
	"claims": claims,
}

body := object.get(input, "parsed_body", {})

params := object.get(body, "params", {})

kind := "request" if {
	body.method
	"id" in object.keys(body)
}

kind := "notification" if {
	body.method
	not "id" in object.keys(body)
}

kind := "response" if {
	not body.method
	"id" in object.keys(body)
}

mcp["server"] := server

mcp["protocol_version"] := object.get(http_req.headers, "mcp-protocol-version", "")

mcp["via"] := "mcp" if not rest

mcp["kind"] := kind if not rest

mcp["method"] := body.method if not rest

mcp["id"] := body.id if not rest

mcp["name"] := params.name if not rest

mcp["uri"] := params.uri if not rest

mcp["params"] := body.params if not rest

mcp["arguments"] := object.get(params, "arguments", {}) if {
	not rest
	body.method in {"tools/call", "prompts/get"}
}

mcp["via"] := "rest" if rest

mcp["kind"] := "request" if rest

mcp["method"] := "tools/call" if count(rest) == 3

mcp["name"] := rest[2] if count(rest) == 3

mcp["arguments"] := object.get(body, "arguments", {}) if count(rest) == 3

mcp["method"] := "tools/list" if count(rest) == 2

tool := data.bench.catalog[server][mcp.name] if mcp.method == "tools/call"

now := time.format([time.now_ns(), "UTC", "2006-01-02T15:04:05Z07:00"])

decision := d if {
	tool
	d := data.envoy.gatehouse.decision with input.subject as subject
		with input.mcp as mcp
		with input.tool as tool
		with input.now as now
}

decision := d if {
	not tool
	d := data.envoy.gatehouse.decision with input.subject as subject
		with input.mcp as mcp
		with input.now as now
}

default result := {"allowed": false, "http_status": 401, "body": "a valid bearer token for this server is required"}

result := {"allowed": true, "headers": object.union(decision.headers, {"x-gatehouse-subject": claims.sub})} if {
	claims
	decision.allow == true
}

result := {"allowed": false, "http_status": 403, "body": concat("; ", decision.reasons)} if {
	claims
	not decision.allow == true
}
