// Package contract holds the names the edge (Envoy's configuration and the dev edge), the
// authz service and the adapter kit must agree on: where servers and the REST bridge live,
// the identity headers the edge sets, the route metadata the authz service routes on, tool
// action classes, and how a W3C traceparent is read. Each of them is defined here once, so
// the three cannot drift apart; everything here is a constant or a pure function.
package contract

import "strings"

// Paths.
const (
	// AdapterPath is where every adapter serves MCP; the edge rewrites /mcp/<server> to it.
	AdapterPath = "/mcp"
	// MCPPrefix is the edge path prefix of MCP servers: /mcp/<server>.
	MCPPrefix = "/mcp/"
	// RESTPrefix is the REST bridge's path prefix: /api/v1/mcp/<server>/tools/<tool>.
	RESTPrefix = "/api/v1/mcp/"
	// WellKnownPRM is the root protected resource metadata document (RFC 9728); a server's
	// own document is at WellKnownPRM + MCPPath(server).
	WellKnownPRM = "/.well-known/oauth-protected-resource"
	// Health paths the edge serves without authorization.
	HealthPath    = "/healthz"
	ReadinessPath = "/readyz"
)

// MCPPath is the edge path of a server's MCP endpoint.
func MCPPath(server string) string { return MCPPrefix + server }

// RESTPath is the REST bridge path of one tool.
func RESTPath(server, tool string) string { return RESTPrefix + server + "/tools/" + tool }

// RESTToolsPath is the REST bridge path listing a server's tools.
func RESTToolsPath(server string) string { return RESTPrefix + server + "/tools" }

// RESTTaskPath is the REST bridge path of one MCP task of a server: GET polls it (tasks/get,
// with the result once it ended), DELETE cancels it (tasks/cancel). A call of a tool that runs
// as a task answers 202 with this path as its Location.
func RESTTaskPath(server, taskID string) string { return RESTPrefix + server + "/tasks/" + taskID }

// ParseRESTTaskPath reads /api/v1/mcp/<server>/tasks/<task id>. ok is false for any other
// shape and for a task id that is empty, over 256 characters, or holds anything but ASCII
// letters, digits and "-_.:" (no escaping, so edge and bridge read the same id).
func ParseRESTTaskPath(path string) (server, taskID string, ok bool) {
	rest, found := strings.CutPrefix(path, RESTPrefix)
	if !found {
		return "", "", false
	}
	server, taskID, found = strings.Cut(rest, "/tasks/")
	if !found || server == "" || strings.ContainsAny(server, "/%") || !taskIDChars(taskID) {
		return "", "", false
	}
	return server, taskID, true
}

func taskIDChars(id string) bool {
	if id == "" || len(id) > 256 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// RESTOpenAPIPath is where the REST bridge serves its OpenAPI document.
const RESTOpenAPIPath = "/api/v1/openapi.json"

// ParseRESTPath reads /api/v1/mcp/<server>/tools/<tool>, or /api/v1/mcp/<server>/tools (the
// list: tool is empty). ok is false for any other shape, for empty names, for a tool name with
// a slash, and for percent-encoded names: segments are matched as written, and an encoded
// name could decode differently at the bridge (MCP server and tool names never need escaping).
func ParseRESTPath(path string) (server, tool string, ok bool) {
	rest, found := strings.CutPrefix(path, RESTPrefix)
	if !found {
		return "", "", false
	}
	if s, isList := strings.CutSuffix(rest, "/tools"); isList {
		if s == "" || strings.Contains(s, "/") || strings.Contains(s, "%") {
			return "", "", false
		}
		return s, "", true
	}
	server, tool, found = strings.Cut(rest, "/tools/")
	if !found || server == "" || tool == "" || strings.Contains(server, "/") || strings.Contains(tool, "/") ||
		strings.Contains(server+tool, "%") {
		return "", "", false
	}
	return server, tool, true
}

// Identity headers. The edge removes every client-sent header with HeaderPrefix and sets
// these on an allowed request; adapters read them for audit fields, never for decisions.
const (
	// HeaderTools is set on an allowed REST tool listing: the comma-separated names of the
	// server's pinned tools the policy lets this caller call (the REST bridge lists those).
	HeaderTools      = "x-gatehouse-tools"
	HeaderPrefix     = "x-gatehouse-"
	HeaderSubject    = "x-gatehouse-subject"
	HeaderEmail      = "x-gatehouse-email" // when the verified token carries one
	HeaderDecisionID = "x-gatehouse-decision-id"
	// HeaderClientTraceparent is the client's W3C traceparent, moved here by the edge before
	// anything else reads the request: the edge starts its own trace (the client's is its
	// recorded parent) and the decision log names the client's trace as the parent.
	HeaderClientTraceparent = "x-gatehouse-client-traceparent"
)

// MCP and Envoy headers the edge sets itself.
const (
	HeaderSessionID = "mcp-session-id"
	// HeaderUpstreamTimeout is Envoy's router header for a request's overall timeout, which
	// the authz service sets to the token's remaining lifetime.
	HeaderUpstreamTimeout = "x-envoy-upstream-rq-timeout-ms"
)

// Route metadata: the ext_authz context_extensions keys the control plane (and the dev
// edge) put on every route, which the authz service routes on.
const (
	ExtensionServer = "server" // the MCP server a route serves
	ExtensionRoute  = "route"  // the route's name
)

// The edge asks the authz service twice per request. First with the headers only (stage
// "headers": route, token and scopes), before any body is read or buffered, so a stranger's
// upload costs nothing; then with the body, for the full decision.
const (
	ExtensionStage = "stage"
	StageHeaders   = "headers"
)

// HeaderStageExtensions are the context_extensions of the headers-only check of a route.
func HeaderStageExtensions(route, server string) map[string]string {
	ce := RouteExtensions(route, server)
	ce[ExtensionStage] = StageHeaders
	return ce
}

// RouteExtensions are the context_extensions of a route with ext_authz on.
func RouteExtensions(route, server string) map[string]string {
	ce := map[string]string{ExtensionRoute: route}
	if server != "" {
		ce[ExtensionServer] = server
	}
	return ce
}

// Action is a tool's action class, which policies decide on (policies/catalog.json).
type Action string

// Action classes.
const (
	ActionRead    Action = "read"    // observes, changes nothing
	ActionWrite   Action = "write"   // changes records (tickets, issues, files)
	ActionExecute Action = "execute" // acts on infrastructure (runs commands, deploys)
)

// Valid reports whether a is one of the action classes.
func (a Action) Valid() bool { return a == ActionRead || a == ActionWrite || a == ActionExecute }

// TraceID returns the trace id of a W3C traceparent header
// (version "-" trace-id "-" parent-id "-" flags, https://www.w3.org/TR/trace-context/):
// 32 lower-case hex digits, not all zero. ok is false for anything else, including
// version ff, which the specification makes invalid. Future versions may append fields
// after the flags, separated by "-".
func TraceID(traceparent string) (id string, ok bool) {
	const minLen = 55 // 2 + 1 + 32 + 1 + 16 + 1 + 2
	tp := traceparent
	if len(tp) < minLen || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || (len(tp) > minLen && tp[55] != '-') {
		return "", false
	}
	version, trace, parent, flags := tp[0:2], tp[3:35], tp[36:52], tp[53:55]
	if !lowerHex(version) || version == "ff" || (version == "00" && len(tp) != minLen) ||
		!lowerHex(trace) || !lowerHex(parent) || !lowerHex(flags) ||
		allZero(trace) || allZero(parent) {
		return "", false
	}
	return trace, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }
