// Package mcpmsg parses one MCP message, as it arrives at the edge over streamable HTTP, strictly
// enough that the authz service and the adapter behind it can never read it two ways.
//
// It knows protocol revisions 2025-06-18, 2025-11-25 and 2026-07-28. For 2026-07-28 (stateless,
// version in params._meta) it also enforces that the Mcp-Method and Mcp-Name headers agree with
// the body, and refuses initialize, which that revision does not have. For earlier revisions the
// body alone is authoritative: those headers are not part of the protocol there and are never
// used for a decision. docs/protocol.md says what callers of each revision must send.
package mcpmsg

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Protocol revisions.
const (
	Version20250618 = "2025-06-18"
	Version20251125 = "2025-11-25"
	Version20260728 = "2026-07-28"
)

// supportedVersions are the revisions the edge accepts, newest first. Only copies leave the
// package (SupportedVersions), so no caller can change what the edge accepts.
var supportedVersions = [...]string{Version20260728, Version20251125, Version20250618}

// SupportedVersions returns the revisions the edge accepts in MCP-Protocol-Version, newest
// first, as a fresh slice the caller may keep or change.
func SupportedVersions() []string { return slices.Clone(supportedVersions[:]) }

// Supported reports whether the edge accepts revision v.
func Supported(v string) bool { return slices.Contains(supportedVersions[:], v) }

// JSON-RPC and MCP error codes used in answers to bad messages.
const (
	CodeParseError                 = -32700
	CodeInvalidRequest             = -32600
	CodeMethodNotFound             = -32601 // a method the revision does not have (2026-07-28: HTTP 404)
	CodeInvalidParams              = -32602
	CodeHeaderMismatch             = -32020 // MCP 2026-07-28 (SEP-2243)
	CodeUnsupportedProtocolVersion = -32022 // MCP 2026-07-28
)

// HTTP header names (lower case, as Envoy sends them).
const (
	HeaderProtocolVersion = "mcp-protocol-version"
	HeaderMethod          = "mcp-method"
	HeaderName            = "mcp-name"
	HeaderSessionID       = "mcp-session-id"
	HeaderLastEventID     = "last-event-id"
	HeaderContentType     = "content-type"
)

// params._meta keys of 2026-07-28 (SEP-2575), as mcp-go names them (mcp.MetaKeyProtocolVersion,
// mcp.MetaKeyClientCapabilities). Every request carries both; the edge reads the version.
const (
	MetaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	MetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
)

// Kind says what an HTTP request to an MCP endpoint carries.
type Kind string

// Kinds of message.
const (
	KindRequest      Kind = "request"
	KindNotification Kind = "notification"
	KindResponse     Kind = "response"    // a client's answer to a server request
	KindStream       Kind = "stream"      // GET: open the server-to-client SSE stream (2025 revisions)
	KindSessionEnd   Kind = "session_end" // DELETE: end a session (2025 revisions)
)

// HTTPRequest is what the parser needs of an HTTP request.
type HTTPRequest struct {
	Method string
	// Header returns the value of a header given its lower-case name, or "".
	Header func(lowerName string) string
	Body   []byte
}

// Message is one parsed MCP message and the facts a policy decides on.
type Message struct {
	Kind            Kind
	ProtocolVersion string // "" when a 2025 client sent no version header and this is not initialize
	Modern          bool   // 2026-07-28 or later: stateless, _meta, standard headers
	ID              any    // string or json.Number (integer); nil for notifications
	Method          string
	Params          map[string]any
	Name            string         // tools/call, prompts/get: params.name
	URI             string         // resources/read, resources/subscribe, resources/unsubscribe: params.uri
	Arguments       map[string]any // tools/call, prompts/get: params.arguments
	TaskID          string         // tasks/get, tasks/result, tasks/cancel: params.taskId
	Ref             map[string]any // completion/complete: params.ref
	SessionID       string         // Mcp-Session-Id (2025 revisions only)
	// Body is the whole JSON-RPC object as parsed (nil for GET and DELETE).
	Body map[string]any
}

// Error is a message that must not be forwarded, with the answer it gets.
type Error struct {
	Status  int    // HTTP status
	Code    int    // JSON-RPC error code
	Message string // says what is wrong, for a person or a model
	ID      any    // the request id to echo, when it could be read
	Data    any    // optional error data
	Allow   string // for 405: the Allow header
}

func (e *Error) Error() string { return e.Message }

func fail(status, code int, id any, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, ID: id, Message: fmt.Sprintf(format, args...)}
}

// Parse reads one HTTP request to an MCP endpoint. Every rejection is an *Error.
func Parse(r HTTPRequest) (*Message, error) {
	hv := r.Header(HeaderProtocolVersion)
	if hv != "" && !Supported(hv) {
		e := fail(http.StatusBadRequest, CodeUnsupportedProtocolVersion, nil,
			"unsupported MCP-Protocol-Version %q; supported: %s", hv, strings.Join(supportedVersions[:], ", "))
		e.Data = map[string]any{"supported": SupportedVersions(), "requested": hv}
		return nil, e
	}
	modernHeader := hv != "" && isModern(hv)

	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodDelete:
		if modernHeader {
			e := fail(http.StatusMethodNotAllowed, CodeInvalidRequest, nil,
				"%s is not part of MCP %s: there are no sessions or standalone streams; use POST", r.Method, hv)
			e.Allow = http.MethodPost
			return nil, e
		}
		kind := KindStream
		if r.Method == http.MethodDelete {
			kind = KindSessionEnd
		}
		return &Message{Kind: kind, ProtocolVersion: hv, SessionID: r.Header(HeaderSessionID)}, nil
	default:
		e := fail(http.StatusMethodNotAllowed, CodeInvalidRequest, nil, "HTTP method %s is not used by MCP", r.Method)
		e.Allow = "GET, POST, DELETE"
		return nil, e
	}

	if err := checkContentType(r.Header(HeaderContentType)); err != nil {
		return nil, err
	}
	if len(r.Body) == 0 {
		return nil, fail(http.StatusBadRequest, CodeParseError, nil, "empty body: a POST carries one JSON-RPC message")
	}
	v, err := decodeStrict(r.Body)
	if err != nil {
		return nil, fail(http.StatusBadRequest, CodeParseError, nil, "%v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		if _, isArray := v.([]any); isArray {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil,
				"JSON-RPC batches are not accepted: MCP 2025-06-18 and later send one message per POST")
		}
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, "a JSON-RPC message must be a JSON object")
	}
	m, err := envelope(obj)
	if err != nil {
		return nil, err
	}
	m.Body = obj
	if err := m.readParams(); err != nil {
		return nil, err
	}
	if err := m.settleVersion(r, hv); err != nil {
		return nil, err
	}
	if !m.Modern {
		m.SessionID = r.Header(HeaderSessionID)
	}
	return m, nil
}

func checkContentType(ct string) *Error {
	if ct == "" {
		return fail(http.StatusUnsupportedMediaType, CodeInvalidRequest, nil, "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, CodeInvalidRequest, nil, "Content-Type must be application/json, got %q", ct)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return fail(http.StatusUnsupportedMediaType, CodeInvalidRequest, nil, "Content-Type parameter %s=%s is not accepted (only charset=utf-8)", k, v)
		}
	}
	return nil
}

func isModern(version string) bool { return version >= Version20260728 }

// envelope checks the JSON-RPC 2.0 envelope and classifies the message.
func envelope(obj map[string]any) (*Message, error) {
	m := &Message{}
	// Read the id first so that every later error can echo it.
	idRaw, hasID := obj["id"]
	if hasID {
		id, err := readID(idRaw)
		if err != nil {
			return nil, err
		}
		m.ID = id
	}
	for k := range obj {
		switch k {
		case "jsonrpc", "id", "method", "params", "result", "error":
		default:
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, "unknown member %q in JSON-RPC message", k)
		}
	}
	if v, ok := obj["jsonrpc"].(string); !ok || v != "2.0" {
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `"jsonrpc" must be the string "2.0"`)
	}
	methodRaw, hasMethod := obj["method"]
	_, hasResult := obj["result"]
	_, hasError := obj["error"]
	switch {
	case hasMethod:
		method, ok := methodRaw.(string)
		if !ok {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `"method" must be a string`)
		}
		if method == "" {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `"method" must not be empty`)
		}
		if hasResult || hasError {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, "a message cannot be both a request and a response")
		}
		m.Method = method
		m.Kind = KindNotification
		if hasID {
			m.Kind = KindRequest
		}
		if p, ok := obj["params"]; ok {
			params, isObj := p.(map[string]any)
			if !isObj {
				return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `"params" must be an object in MCP`)
			}
			m.Params = params
		}
	case hasResult || hasError:
		if !hasID {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, "a response must carry the id of the request it answers")
		}
		if hasResult && hasError {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `a response carries "result" or "error", not both`)
		}
		if _, ok := obj["params"]; ok {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `a response has no "params"`)
		}
		if hasError {
			if _, ok := obj["error"].(map[string]any); !ok {
				return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `"error" must be an object`)
			}
		}
		m.Kind = KindResponse
	default:
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, m.ID, `a JSON-RPC message needs "method" (request, notification) or "result"/"error" (response)`)
	}
	return m, nil
}

// readID accepts what MCP allows as an id: a string or an integer. null, fractions,
// exponents and non-scalars are refused.
func readID(v any) (any, error) {
	switch id := v.(type) {
	case string:
		return id, nil
	case json.Number:
		if strings.ContainsAny(string(id), ".eE") {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, `"id" must be a string or an integer, got %s`, id)
		}
		return id, nil
	case nil:
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, `"id" must not be null`)
	default:
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, `"id" must be a string or an integer`)
	}
}

// paramNames are the parameter names of MCP messages (and of the objects nested in them that
// the policy reads). The adapter's SDK decodes params into structs with Go's encoding/json,
// which matches names case-insensitively, so "Arguments" would reach the tool as its arguments
// while the policy saw none: a key equal to one of these up to case, but not exactly, is refused.
var paramNames = foldSet("name", "arguments", "uri", "taskId", "ref", "_meta", "task", "cursor", "argument",
	"context", "protocolVersion", "capabilities", "clientInfo", "level", "progressToken", "progress", "total",
	"message", "requestId", "reason", "type", "value", "ttl", "roots", "subscriptionId", "filter")

func foldSet(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[foldKey(n)] = n
	}
	return m
}

// checkNames refuses keys of obj that differ from a known parameter name only in case.
func (m *Message) checkNames(where string, obj map[string]any) error {
	for k := range obj {
		if want, ok := paramNames[foldKey(k)]; ok && want != k {
			return fail(http.StatusBadRequest, CodeInvalidParams, m.ID, "%s.%s: MCP names this %q (names are case-sensitive)", where, k, want)
		}
	}
	return nil
}

// readParams extracts the method-specific facts a policy decides on, and checks their types.
func (m *Message) readParams() error {
	bad := func(format string, args ...any) error {
		return fail(http.StatusBadRequest, CodeInvalidParams, m.ID, format, args...)
	}
	if err := m.checkNames("params", m.Params); err != nil {
		return err
	}
	for _, nested := range []string{"_meta", "ref", "argument"} {
		if obj, ok := m.Params[nested].(map[string]any); ok {
			if err := m.checkNames("params."+nested, obj); err != nil {
				return err
			}
		}
	}
	str := func(key string, required bool) (string, error) {
		v, ok := m.Params[key]
		if !ok {
			if required {
				return "", bad("%s requires params.%s", m.Method, key)
			}
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", bad("params.%s of %s must be a string", key, m.Method)
		}
		if required && s == "" {
			return "", bad("params.%s of %s must not be empty", key, m.Method)
		}
		return s, nil
	}
	var err error
	switch m.Method {
	case "tools/call", "prompts/get":
		if m.Name, err = str("name", true); err != nil {
			return err
		}
		if a, ok := m.Params["arguments"]; ok && a != nil {
			args, isObj := a.(map[string]any)
			if !isObj {
				return bad("params.arguments of %s must be an object", m.Method)
			}
			m.Arguments = args
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if m.URI, err = str("uri", true); err != nil {
			return err
		}
	case "tasks/get", "tasks/result", "tasks/cancel":
		if m.TaskID, err = str("taskId", true); err != nil {
			return err
		}
	case "completion/complete":
		ref, ok := m.Params["ref"].(map[string]any)
		if !ok {
			return bad("completion/complete requires params.ref as an object")
		}
		switch ref["type"] {
		case "ref/prompt":
			name, ok := ref["name"].(string)
			if !ok || name == "" {
				return bad("params.ref.name must be a non-empty string for ref/prompt")
			}
			m.Name = name
		case "ref/resource":
			uri, ok := ref["uri"].(string)
			if !ok || uri == "" {
				return bad("params.ref.uri must be a non-empty string for ref/resource")
			}
			m.URI = uri
		default:
			return bad(`params.ref.type must be "ref/prompt" or "ref/resource"`)
		}
		m.Ref = ref
	}
	return nil
}

// metaVersion returns params._meta's protocol version, if any.
func (m *Message) metaVersion() (string, error) {
	meta, ok := m.Params["_meta"]
	if !ok || meta == nil {
		return "", nil
	}
	mo, ok := meta.(map[string]any)
	if !ok {
		return "", fail(http.StatusBadRequest, CodeInvalidParams, m.ID, "params._meta must be an object")
	}
	v, ok := mo[MetaProtocolVersion]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fail(http.StatusBadRequest, CodeInvalidParams, m.ID, "params._meta[%q] must be a non-empty string", MetaProtocolVersion)
	}
	return s, nil
}

// settleVersion decides the message's revision and, for 2026-07-28, checks that the
// standard headers agree with the body.
func (m *Message) settleVersion(r HTTPRequest, hv string) error {
	mv, err := m.metaVersion()
	if err != nil {
		return err
	}
	mismatch := func(format string, args ...any) error {
		return fail(http.StatusBadRequest, CodeHeaderMismatch, m.ID, format, args...)
	}
	m.Modern = isModern(hv) || (mv != "" && isModern(mv))
	if !m.Modern {
		// 2025 revisions: the body is authoritative and Mcp-Method/Mcp-Name are not part of
		// the protocol, so they are neither checked nor used.
		m.ProtocolVersion = hv
		if hv == "" && m.Method == "initialize" {
			if pv, ok := m.Params["protocolVersion"].(string); ok {
				m.ProtocolVersion = pv
			}
		}
		return nil
	}
	switch {
	case hv == "":
		return mismatch("MCP-Protocol-Version header is required: the body declares %s in params._meta", mv)
	case mv == "" && m.Kind == KindRequest:
		return fail(http.StatusBadRequest, CodeInvalidParams, m.ID,
			"MCP %s requires params._meta[%q] on every request", hv, MetaProtocolVersion)
	case mv != "" && mv != hv:
		return mismatch("MCP-Protocol-Version header %q does not match params._meta version %q", hv, mv)
	case !Supported(mv):
		e := fail(http.StatusBadRequest, CodeUnsupportedProtocolVersion, m.ID, "unsupported protocol version %q", mv)
		e.Data = map[string]any{"supported": SupportedVersions(), "requested": mv}
		return e
	}
	m.ProtocolVersion = hv
	if r.Header(HeaderLastEventID) != "" {
		return mismatch("Last-Event-ID is not part of MCP %s: streams are not resumable; re-issue the request", hv)
	}
	hm := r.Header(HeaderMethod)
	if m.Kind == KindResponse {
		if hm != "" {
			return mismatch("Mcp-Method header %q sent with a response, which has no method", hm)
		}
	} else {
		if hm == "" {
			return mismatch("Mcp-Method header is required in MCP %s", hv)
		}
		if hm != m.Method {
			return mismatch("Mcp-Method header %q does not match the body's method %q", hm, m.Method)
		}
	}
	bodyName, named := m.headerName()
	hn, present := r.Header(HeaderName), r.Header(HeaderName) != ""
	switch {
	case named && !present && requiresName(m.Method):
		return mismatch("Mcp-Name header is required for %s in MCP %s", m.Method, hv)
	case !named && present:
		return mismatch("Mcp-Name header sent for %s, which names nothing", orResponse(m.Method))
	case present:
		decoded, ok := decodeHeaderValue(hn)
		if !ok {
			return mismatch("Mcp-Name header has invalid base64 encoding")
		}
		if decoded != bodyName {
			return mismatch("Mcp-Name header %q does not match the body's %q", decoded, bodyName)
		}
	}
	if removedLifecycle(m.Method) {
		return m.removed()
	}
	return nil
}

// removedLifecycle reports the handshake methods 2026-07-28 does not have (SEP-2575): a
// client declares its version and capabilities in every request's _meta instead.
func removedLifecycle(method string) bool {
	return method == "initialize" || method == "notifications/initialized"
}

// removed answers a 2026-07-28 initialize (or notifications/initialized) as mcp-go's server
// does and the 2026-07-28 Streamable HTTP transport prescribes for a method the server does
// not implement: HTTP 404 with JSON-RPC -32601 (Method not found), echoing the request's id.
// It names the supported revisions, in the message and in data.supported, which 2026-07-28
// asks of a server that refuses an initialize (basic/versioning).
func (m *Message) removed() error {
	var legacy []string
	for _, v := range supportedVersions {
		if !isModern(v) {
			legacy = append(legacy, v)
		}
	}
	e := fail(http.StatusNotFound, CodeMethodNotFound, m.ID,
		"%q was removed in protocol version %s: send params._meta[%q] and params._meta[%q] with every request, "+
			"and call server/discover to learn the server's capabilities; to use %s, initialize without the %s header and _meta",
		m.Method, Version20260728, MetaProtocolVersion, MetaClientCapabilities, strings.Join(legacy, " or "), Version20260728)
	e.Data = map[string]any{"supported": SupportedVersions()}
	return e
}

func orResponse(method string) string {
	if method == "" {
		return "a response"
	}
	return method
}

// headerName is the body value that Mcp-Name mirrors.
func (m *Message) headerName() (string, bool) {
	switch m.Method {
	case "tools/call", "prompts/get":
		return m.Name, true
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return m.URI, true
	}
	return "", false
}

func requiresName(method string) bool {
	switch method {
	case "tools/call", "prompts/get", "resources/read":
		return true
	}
	return false
}

// decodeHeaderValue undoes SEP-2243's "=?base64?...?=" wrapping of non-ASCII header values.
func decodeHeaderValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v, true
	}
	b, err := base64.StdEncoding.DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// ParseREST reads a REST bridge request as the MCP message it stands for, so that policy
// decides it exactly as the same request over MCP: POST /api/v1/mcp/<server>/tools/<tool>
// with {"arguments": {...}} is that tool's tools/call; GET /api/v1/mcp/<server>/tools (tool
// empty) is tools/list. The body is held to the same strict JSON rules.
func ParseREST(method, contentType, tool string, body []byte) (*Message, error) {
	if tool == "" {
		if method != http.MethodGet {
			e := fail(http.StatusMethodNotAllowed, CodeInvalidRequest, nil, "the tool list takes GET")
			e.Allow = http.MethodGet
			return nil, e
		}
		if len(body) > 0 {
			return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, "a GET carries no body")
		}
		return &Message{Kind: KindRequest, Method: "tools/list", Params: map[string]any{}}, nil
	}
	if method != http.MethodPost {
		e := fail(http.StatusMethodNotAllowed, CodeInvalidRequest, nil, "a tool call takes POST")
		e.Allow = http.MethodPost
		return nil, e
	}
	if err := checkContentType(contentType); err != nil {
		return nil, err
	}
	args := map[string]any{}
	if len(body) > 0 {
		v, err := decodeStrict(body)
		if err != nil {
			return nil, fail(http.StatusBadRequest, CodeParseError, nil, "%v", err)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fail(http.StatusBadRequest, CodeInvalidParams, nil, `the body must be a JSON object: {"arguments": {...}}`)
		}
		for k := range obj {
			if k != "arguments" {
				return nil, fail(http.StatusBadRequest, CodeInvalidParams, nil, `unknown member %q: the body is {"arguments": {...}}`, k)
			}
		}
		if a, present := obj["arguments"]; present {
			if args, ok = a.(map[string]any); !ok {
				return nil, fail(http.StatusBadRequest, CodeInvalidParams, nil, "arguments must be a JSON object of the tool's arguments")
			}
		}
	}
	params := map[string]any{"name": tool, "arguments": args}
	return &Message{Kind: KindRequest, Method: "tools/call", Name: tool, Arguments: args, Params: params,
		Body: map[string]any{"arguments": args}}, nil
}

// ParseRESTTask reads a request for a REST bridge task path (/api/v1/mcp/<server>/tasks/<id>)
// as the MCP message it stands for: GET is tasks/get, DELETE is tasks/cancel. Neither takes a
// body.
func ParseRESTTask(method, taskID string, body []byte) (*Message, error) {
	var m string
	switch method {
	case http.MethodGet:
		m = "tasks/get"
	case http.MethodDelete:
		m = "tasks/cancel"
	default:
		e := fail(http.StatusMethodNotAllowed, CodeInvalidRequest, nil, "a task takes GET (its status and result) or DELETE (cancel it)")
		e.Allow = "GET, DELETE"
		return nil, e
	}
	if len(body) > 0 {
		return nil, fail(http.StatusBadRequest, CodeInvalidRequest, nil, "a %s of a task carries no body", method)
	}
	return &Message{Kind: KindRequest, Method: m, TaskID: taskID, Params: map[string]any{"taskId": taskID}}, nil
}

// knownMethods are the client-to-server methods of the revisions Gatehouse supports. The
// policy decides which are allowed; this list only bounds metric label values.
var knownMethods = map[string]bool{
	"initialize": true, "ping": true, "server/discover": true, "logging/setLevel": true,
	"subscriptions/listen": true, "tools/list": true, "tools/call": true,
	"resources/list": true, "resources/templates/list": true, "resources/read": true,
	"resources/subscribe": true, "resources/unsubscribe": true, "prompts/list": true,
	"prompts/get": true, "completion/complete": true, "tasks/get": true, "tasks/result": true,
	"tasks/list": true, "tasks/cancel": true, "notifications/initialized": true,
	"notifications/cancelled": true, "notifications/progress": true,
	"notifications/roots/list_changed": true, "notifications/tasks/status": true,
}

// MetricMethod returns a bounded label for a message's method: the method if it is a known
// MCP method, "other" if not, or the kind for messages without a method.
func (m *Message) MetricMethod() string {
	switch {
	case m == nil:
		return "none"
	case m.Method == "":
		return string(m.Kind)
	case knownMethods[m.Method]:
		return m.Method
	default:
		return "other"
	}
}

// PeekLimit bounds the bodies PeekID reads: answers given before authentication must not let
// an anonymous client buy a full parse of a large body.
const PeekLimit = 16 << 10

// PeekID returns the id of a body that is a strict JSON object with a valid id, or nil. It
// lets answers that come before parsing (401, 403, 413) still echo the id. Bodies larger than
// PeekLimit are not read (the answer then carries a null id).
func PeekID(body []byte) any {
	if len(body) == 0 || len(body) > PeekLimit {
		return nil
	}
	v, err := decodeStrict(body)
	if err != nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	id, err := readID(obj["id"])
	if err != nil {
		return nil
	}
	return id
}
