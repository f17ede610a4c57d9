package restbridge

import (
	"bytes"
	_ "embed" // the committed OpenAPI document
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// OpenAPIFile is the committed document, next to this file: `go generate ./adapters/restbridge`
// regenerates it (internal/gen) and TestOpenAPIIsCurrent fails while it is stale.
const OpenAPIFile = "openapi.json"

//go:generate go run ./internal/gen --catalog ../../policies/catalog.json --write openapi.json

// document is the committed OpenAPI document the bridge serves (for the servers it is
// configured with) and reads each tool's action class and pin from.
//
//go:embed openapi.json
var document []byte

// Extension members of every tool operation in the document.
const (
	extServer = "x-gatehouse-server"
	extTool   = "x-gatehouse-tool"
	extAction = "x-gatehouse-action"
	extDigest = "x-gatehouse-digest"
	extTask   = "x-gatehouse-task"
)

// GenerateOpenAPI renders the REST bridge's OpenAPI 3.1 document from the pinned catalog
// (policies/catalog.json: which tools exist, their action classes, annotations and pins) and
// the adapters' declarations (tools: server → its tools as tools/list serves them, from
// kit.Server.Definitions): one operation per pinned tool, plus each server's tool listing and
// the document itself. A pinned tool without a declaration gets an open arguments schema. The
// output is stable (sorted keys, two-space indent, trailing newline) so the committed copy only
// changes with the catalog or a declaration. `go generate ./adapters/restbridge` runs it.
func GenerateOpenAPI(catalogJSON []byte, tools map[string][]mcp.Tool) ([]byte, error) {
	cat, err := catalog.Parse(catalogJSON)
	if err != nil {
		return nil, err
	}
	defs := map[string]map[string]toolDef{}
	for server, ts := range tools {
		defs[server] = map[string]toolDef{}
		for _, t := range ts {
			raw, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", server, t.Name, err)
			}
			d, err := parseToolDef(raw)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", server, t.Name, err)
			}
			defs[server][t.Name] = d
		}
	}
	paths := map[string]any{
		contract.RESTOpenAPIPath: map[string]any{"get": map[string]any{
			"operationId": "openapi",
			"summary":     "This document",
			"description": "The OpenAPI document of the REST bridge: every pinned tool of every server behind it. Served without a token (it describes the pinned catalog, as public as the protected resource metadata).",
			"tags":        []string{"meta"},
			"security":    []any{},
			"responses": map[string]any{"200": map[string]any{
				"description": "The document",
				"content":     map[string]any{contentJSON: map[string]any{"schema": map[string]any{"type": "object"}}},
			}},
		}},
	}
	var tags []any
	names := make([]string, 0, len(cat.Servers))
	for name := range cat.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, server := range names {
		tools := cat.Servers[server].Tools
		if len(tools) == 0 {
			continue
		}
		tags = append(tags, map[string]any{"name": server, "description": "The tools of the MCP server " + server})
		paths[contract.RESTToolsPath(server)] = map[string]any{"get": listOperation(server)}
		tasks := false
		for name, entry := range tools {
			d, ok := defs[server][name]
			if !ok {
				d = toolDef{Name: name}
			}
			paths[contract.RESTPath(server, name)] = map[string]any{"post": callOperation(server, name, entry, d)}
			tasks = tasks || d.task()
		}
		if tasks {
			paths[contract.RESTTaskPath(server, "{taskId}")] = taskOperations(server)
		}
	}
	tags = append(tags, map[string]any{"name": "meta", "description": "About this API"})
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Gatehouse REST bridge",
			"version": "1.0.0",
			"description": "Gatehouse's MCP tools for clients that do not speak MCP. `POST /api/v1/mcp/{server}/tools/{tool}` " +
				"with `{\"arguments\": {...}}` is authorized by the edge exactly as the same `tools/call` over MCP with the same " +
				"token (the same policy, logged with `via: rest`), then called on the server's adapter. A token is an OIDC access " +
				"token whose audience is the server's resource URI (`<edge>/mcp/{server}`). Every error is an RFC 9457 problem " +
				"(`application/problem+json`) carrying the edge's decision id. Write and execute tools honour an `Idempotency-Key` " +
				"header. Generated from the pinned tool catalog (policies/catalog.json) and the adapters' declarations.",
		},
		"servers":    []any{map[string]any{"url": "/", "description": "the Gatehouse edge"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"tags":       tags,
		"paths":      paths,
		"components": components(),
	}
	return encodeDocument(doc)
}

// topLevel is the order the document's members are written in (the rest is sorted).
var topLevel = []string{"openapi", "info", "servers", "security", "tags", "paths", "components"}

// encodeDocument writes doc with its top-level members in the usual order and everything
// below with sorted keys, two-space indent and a trailing newline.
func encodeDocument(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{")
	written := 0
	for _, k := range topLevel {
		v, ok := doc[k]
		if !ok {
			continue
		}
		var member bytes.Buffer
		enc := json.NewEncoder(&member)
		enc.SetEscapeHTML(false)
		enc.SetIndent("  ", "  ")
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		if written > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "\n  %q: %s", k, bytes.TrimRight(member.Bytes(), "\n"))
		written++
	}
	if written != len(doc) {
		return nil, fmt.Errorf("OpenAPI document: unexpected top-level members (want only %v)", topLevel)
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

// toolDef is one tool definition as an adapter's tools/list serves it.
type toolDef struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
	Execution    *struct {
		TaskSupport string `json:"taskSupport"`
	} `json:"execution,omitempty"`
	// raw is the whole definition, for its pin (catalog.Digest).
	raw json.RawMessage
}

func parseToolDef(raw []byte) (toolDef, error) {
	var d toolDef
	if err := json.Unmarshal(raw, &d); err != nil {
		return toolDef{}, err
	}
	d.raw = append(json.RawMessage(nil), raw...)
	if d.Title == "" && len(d.Annotations) > 0 {
		var a struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(d.Annotations, &a)
		d.Title = a.Title
	}
	return d, nil
}

// task reports a tool that can run as an MCP task: the bridge calls it as one.
func (d toolDef) task() bool {
	return d.Execution != nil && (d.Execution.TaskSupport == string(mcp.TaskSupportOptional) ||
		d.Execution.TaskSupport == string(mcp.TaskSupportRequired))
}

func (d toolDef) requiredArguments() bool {
	var s struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(d.InputSchema, &s)
	return len(s.Required) > 0
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/responses/" + name} }

func callOperation(server, tool string, entry catalog.Tool, d toolDef) map[string]any {
	args := json.RawMessage(`{"type": "object"}`)
	if len(d.InputSchema) > 0 {
		args = d.InputSchema
	}
	result := json.RawMessage(`{}`)
	if len(d.OutputSchema) > 0 {
		result = d.OutputSchema
	}
	body := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           map[string]any{"arguments": args},
	}
	required := d.requiredArguments()
	if required {
		body["required"] = []string{"arguments"}
	}
	summary := entry.Title
	if summary == "" {
		summary = d.Title
	}
	if summary == "" {
		summary = tool
	}
	desc := d.Description
	if desc != "" {
		desc += "\n\n"
	}
	desc += fmt.Sprintf("Action class `%s` (policies/catalog.json).", entry.Action)
	if entry.Action != catalog.ActionRead {
		desc += " Send an `Idempotency-Key` to make a retry safe: a repeat with the same key, from the same caller, with the same arguments, within 24 hours returns the first answer."
	}
	op := map[string]any{
		"operationId": server + "." + tool,
		"summary":     summary,
		"description": desc,
		"tags":        []string{server},
		extServer:     server,
		extTool:       tool,
		extAction:     entry.Action,
		"x-gatehouse-annotations": map[string]any{
			"readOnlyHint": *entry.Annotations.ReadOnlyHint, "destructiveHint": *entry.Annotations.DestructiveHint,
			"idempotentHint": *entry.Annotations.IdempotentHint, "openWorldHint": *entry.Annotations.OpenWorldHint,
		},
		"requestBody": map[string]any{
			"required":    required,
			"description": "The tool's arguments. An empty body calls the tool without arguments.",
			"content":     map[string]any{contentJSON: map[string]any{"schema": body}},
		},
		"responses": map[string]any{
			"200": map[string]any{
				"description": "The tool ran: its structured result (or its text when it has none)",
				"headers":     successHeaders(entry.Action != catalog.ActionRead),
				"content": map[string]any{contentJSON: map[string]any{"schema": map[string]any{
					"type":                 "object",
					"additionalProperties": false,
					"required":             []string{"status", "result", "server", "tool"},
					"properties": map[string]any{
						"status": map[string]any{"const": "success"},
						"result": result,
						"server": map[string]any{"const": server},
						"tool":   map[string]any{"const": tool},
					},
				}}},
			},
			"400": ref("BadRequest"), "401": ref("Unauthorized"), "403": ref("Forbidden"), "404": ref("NotFound"),
			"405": ref("MethodNotAllowed"), "413": ref("PayloadTooLarge"), "415": ref("UnsupportedMediaType"),
			"422": ref("ToolError"), "502": ref("BadGateway"), "503": ref("ServiceUnavailable"),
		},
	}
	if entry.Digest != "" {
		op[extDigest] = entry.Digest
	}
	if d.task() {
		op[extTask] = true
		op["description"] = desc + " Long-running: it runs as a task. The answer is `202 Accepted` with `Location`, the task's " +
			"path: GET it for the task's status (and, once it ended, the tool's result), DELETE it to cancel."
		h := successHeaders(entry.Action != catalog.ActionRead)
		h["Location"] = map[string]any{"description": "The task's path, " + contract.RESTTaskPath(server, "{taskId}"),
			"schema": map[string]any{"type": "string"}}
		h["Retry-After"] = map[string]any{"description": "Seconds to wait before the first poll",
			"schema": map[string]any{"type": "integer", "minimum": 1}}
		op["responses"].(map[string]any)["202"] = map[string]any{
			"description": "The tool started as a task",
			"headers":     h,
			"content": map[string]any{contentJSON: map[string]any{"schema": map[string]any{
				"type":                 "object",
				"additionalProperties": false,
				"required":             []string{"status", "task", "server", "tool"},
				"properties": map[string]any{
					"status": map[string]any{"const": "accepted"},
					"task":   map[string]any{"$ref": "#/components/schemas/Task"},
					"server": map[string]any{"const": server},
					"tool":   map[string]any{"const": tool},
				},
			}}},
		}
	}
	if entry.Action != catalog.ActionRead {
		op["parameters"] = []any{map[string]any{"$ref": "#/components/parameters/IdempotencyKey"}}
		op["responses"].(map[string]any)["409"] = ref("Conflict")
	}
	return op
}

func successHeaders(idempotent bool) map[string]any {
	h := map[string]any{contract.HeaderDecisionID: map[string]any{"$ref": "#/components/headers/DecisionID"}}
	if idempotent {
		h[ReplayedHeader] = map[string]any{
			"description": "`true` when this is the first answer to an earlier call with the same Idempotency-Key, replayed",
			"schema":      map[string]any{"type": "string", "enum": []string{"true"}},
		}
	}
	return h
}

// taskOperations are GET and DELETE of a server's task path.
func taskOperations(server string) map[string]any {
	view := func(desc string, result bool) map[string]any {
		props := map[string]any{
			"status": map[string]any{"$ref": "#/components/schemas/TaskStatus"},
			"task":   map[string]any{"$ref": "#/components/schemas/Task"},
			"server": map[string]any{"const": server},
		}
		if result {
			props["result"] = map[string]any{"description": "Once the task ended: the tool's structured result (or its text)"}
		}
		h := successHeaders(false)
		h["Retry-After"] = map[string]any{"description": "While the task runs: seconds to wait before polling again",
			"schema": map[string]any{"type": "integer", "minimum": 1}}
		return map[string]any{
			"description": desc,
			"headers":     h,
			"content": map[string]any{contentJSON: map[string]any{"schema": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"status", "task", "server"}, "properties": props,
			}}},
		}
	}
	common := func() map[string]any {
		return map[string]any{"401": ref("Unauthorized"), "403": ref("Forbidden"), "404": ref("NotFound"),
			"405": ref("MethodNotAllowed"), "502": ref("BadGateway"), "503": ref("ServiceUnavailable")}
	}
	get := common()
	get["200"] = view("The task's status; once it ended, also the tool's result", true)
	get["400"] = ref("BadRequest")
	del := common()
	del["200"] = view("The cancellation was accepted: the task is cancelled", false)
	del["409"] = ref("Conflict")
	return map[string]any{
		"parameters": []any{map[string]any{"name": "taskId", "in": "path", "required": true,
			"description": "The task id (from the Location of the call that started it)",
			"schema":      map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,256}$"}}},
		"get": map[string]any{
			"operationId": server + ".tasks.get",
			"summary":     "A task's status and result",
			"description": "Decided by the edge as the MCP `tasks/get` with the same token (read access to " + server + "). " +
				"Only the caller's own tasks (and, for deployments, those awaiting their approval) are found.",
			"tags":      []string{server},
			extServer:   server,
			"responses": get,
		},
		"delete": map[string]any{
			"operationId": server + ".tasks.cancel",
			"summary":     "Cancel a task",
			"description": "Decided by the edge as the MCP `tasks/cancel` with the same token (write access to " + server + "). " +
				"A task that already ended, or one the caller may read but not cancel, is refused with 409.",
			"tags":      []string{server},
			extServer:   server,
			"responses": del,
		},
	}
}

func listOperation(server string) map[string]any {
	return map[string]any{
		"operationId": server + ".tools",
		"summary":     "The tools of " + server + " this caller may call",
		"description": "Each tool of " + server + " the policy lets the caller call — decided by the edge with the same " +
			"listing query that filters `tools/list` over MCP — with its schemas, as the adapter serves them.",
		"tags":    []string{server},
		extServer: server,
		"responses": map[string]any{
			"200": map[string]any{
				"description": "The tools this caller may call, sorted by name",
				"headers":     successHeaders(false),
				"content":     map[string]any{contentJSON: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ToolList"}}},
			},
			"400": ref("BadRequest"), "401": ref("Unauthorized"), "403": ref("Forbidden"), "404": ref("NotFound"),
			"405": ref("MethodNotAllowed"), "502": ref("BadGateway"), "503": ref("ServiceUnavailable"),
		},
	}
}

func components() map[string]any {
	problemContent := map[string]any{contentProblem: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}
	problemResp := func(desc string, extra map[string]any) map[string]any {
		h := map[string]any{contract.HeaderDecisionID: map[string]any{"$ref": "#/components/headers/DecisionID"}}
		for k, v := range extra {
			h[k] = v
		}
		return map[string]any{"description": desc, "headers": h, "content": problemContent}
	}
	retryAfter := map[string]any{"Retry-After": map[string]any{
		"description": "Seconds to wait before trying again",
		"schema":      map[string]any{"type": "integer", "minimum": 1},
	}}
	return map[string]any{
		"securitySchemes": map[string]any{"bearer": map[string]any{
			"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "An OIDC access token whose audience is the server's resource URI, `<edge>/mcp/{server}`",
		}},
		"parameters": map[string]any{"IdempotencyKey": map[string]any{
			"name": IdempotencyHeader, "in": "header", "required": false,
			"description": "Makes a write or execute call safe to retry: a repeat with the same key, from the same caller, " +
				"with the same arguments, within 24 hours returns the first answer (with `Idempotent-Replayed: true`) " +
				"instead of running the tool again. The same key with other arguments is refused with 422; a repeat " +
				"while the first call still runs, with 409. Kept in Redis for every bridge replica when configured, else in memory by each.",
			"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKeyLen},
		}},
		"headers": map[string]any{"DecisionID": map[string]any{
			"description": "The edge's decision id for this request, as in its decision log",
			"schema":      map[string]any{"type": "string"},
		}},
		"responses": map[string]any{
			"BadRequest": problemResp("The body is not `{\"arguments\": {...}}` under the edge's strict JSON rules, "+
				"or the arguments fail the tool's input schema (`invalid_params` names each field)", nil),
			"Unauthorized": problemResp("No token, or the token was refused", map[string]any{"WWW-Authenticate": map[string]any{
				"description": "`Bearer resource_metadata=…` (RFC 9728), with `error` when a token was refused",
				"schema":      map[string]any{"type": "string"},
			}}),
			"Forbidden":            problemResp("The policy denied the call (`reasons` says why), or the token lacks a required scope", nil),
			"NotFound":             problemResp("No such server or tool behind the bridge", nil),
			"MethodNotAllowed":     problemResp("Tools are called with POST and listed with GET; tasks take GET and DELETE", map[string]any{"Allow": map[string]any{"schema": map[string]any{"type": "string"}}}),
			"Conflict":             problemResp("The first call with this Idempotency-Key has not finished yet, or a task cannot be cancelled (it ended, or it is not the caller's to cancel)", retryAfter),
			"PayloadTooLarge":      problemResp("The body is over the edge's limit", nil),
			"UnsupportedMediaType": problemResp("The body is not `application/json`", nil),
			"ToolError": problemResp("The tool ran and reported an error (its message is the `detail`), "+
				"or the Idempotency-Key was already used with other arguments", nil),
			"BadGateway":         problemResp("The adapter failed or gave an answer the bridge could not read", retryAfter),
			"ServiceUnavailable": problemResp("The adapter (or the identity provider's keys) cannot be reached", retryAfter),
		},
		"schemas": map[string]any{
			"Problem": map[string]any{
				"type":        "object",
				"description": "An RFC 9457 problem detail",
				"required":    []string{"type", "title", "status", "detail"},
				"properties": map[string]any{
					"type":        map[string]any{"type": "string"},
					"title":       map[string]any{"type": "string"},
					"status":      map[string]any{"type": "integer"},
					"detail":      map[string]any{"type": "string"},
					"decision_id": map[string]any{"type": "string", "description": "The edge's decision id"},
					"reasons":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "Why the policy denied the call"},
					"server":      map[string]any{"type": "string"},
					"tool":        map[string]any{"type": "string"},
					"invalid_params": map[string]any{
						"type": "array",
						"items": map[string]any{
							"type":     "object",
							"required": []string{"name", "reason"},
							"properties": map[string]any{
								"name":   map[string]any{"type": "string", "description": "The argument, as a dotted path (filter.site, items[2].name)"},
								"reason": map[string]any{"type": "string"},
							},
						},
					},
				},
			},
			"TaskStatus": map[string]any{"enum": []string{"working", "input_required", "completed", "failed", "cancelled"}},
			"Task": map[string]any{
				"type":        "object",
				"description": "An MCP task (2025-11-25), as the server answers it",
				"required":    []string{"taskId", "status"},
				"properties": map[string]any{
					"taskId":        map[string]any{"type": "string"},
					"status":        map[string]any{"$ref": "#/components/schemas/TaskStatus"},
					"statusMessage": map[string]any{"type": "string"},
					"createdAt":     map[string]any{"type": "string", "format": "date-time"},
					"lastUpdatedAt": map[string]any{"type": "string", "format": "date-time"},
					"ttl":           map[string]any{"type": []string{"integer", "null"}, "description": "Milliseconds the task is kept after it was created"},
					"pollInterval":  map[string]any{"type": "integer", "description": "Suggested milliseconds between polls"},
				},
			},
			"ToolList": map[string]any{
				"type":     "object",
				"required": []string{"server", "tools"},
				"properties": map[string]any{
					"server": map[string]any{"type": "string"},
					"tools":  map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Tool"}},
				},
			},
			"Tool": map[string]any{
				"type":     "object",
				"required": []string{"name", "path", "inputSchema"},
				"properties": map[string]any{
					"name":         map[string]any{"type": "string"},
					"path":         map[string]any{"type": "string", "description": "Where to POST a call"},
					"action":       map[string]any{"enum": []string{"read", "write", "execute"}, "description": "The tool's action class in the pinned catalog"},
					"title":        map[string]any{"type": "string"},
					"description":  map[string]any{"type": "string"},
					"annotations":  map[string]any{"type": "object"},
					"inputSchema":  map[string]any{"type": "object"},
					"outputSchema": map[string]any{"type": "object"},
				},
			},
		},
	}
}

// published is what the bridge reads from the embedded document at start.
type published struct {
	doc map[string]any
	// tools: server → tool → what the document says about it.
	tools map[string]map[string]publishedTool
}

type publishedTool struct {
	action string
	digest string
	task   bool // called as an MCP task: 202 and a task path to poll
}

func loadDocument(raw []byte) (*published, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("OpenAPI document: %w", err)
	}
	p := &published{doc: doc, tools: map[string]map[string]publishedTool{}}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		methods, _ := item.(map[string]any)
		op, _ := methods["post"].(map[string]any)
		server, _ := op[extServer].(string)
		tool, _ := op[extTool].(string)
		if server == "" || tool == "" {
			continue
		}
		action, _ := op[extAction].(string)
		digest, _ := op[extDigest].(string)
		task, _ := op[extTask].(bool)
		if p.tools[server] == nil {
			p.tools[server] = map[string]publishedTool{}
		}
		p.tools[server][tool] = publishedTool{action: action, digest: digest, task: task}
	}
	return p, nil
}

// forServers renders the document with only the paths and tags of the given servers (and the
// document's own path): what this bridge can actually call.
func (p *published) forServers(servers map[string]bool) ([]byte, error) {
	doc := map[string]any{}
	for k, v := range p.doc {
		doc[k] = v
	}
	paths := map[string]any{}
	all, _ := p.doc["paths"].(map[string]any)
	for path, item := range all {
		if server, ok := pathServer(path); ok && !servers[server] {
			continue
		}
		paths[path] = item
	}
	doc["paths"] = paths
	var tags []any
	allTags, _ := p.doc["tags"].([]any)
	for _, t := range allTags {
		tag, _ := t.(map[string]any)
		name, _ := tag["name"].(string)
		if name == "meta" || servers[name] {
			tags = append(tags, t)
		}
	}
	doc["tags"] = tags
	return encodeDocument(doc)
}

// pathServer is the server of a document path under the REST prefix (a tool, the tool list,
// or the task path template).
func pathServer(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, contract.RESTPrefix)
	if !ok {
		return "", false
	}
	server, _, _ := strings.Cut(rest, "/")
	return server, server != ""
}

// serveDocument answers GET and HEAD of the OpenAPI document.
func serveDocument(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			problemResponse(&problem{status: http.StatusMethodNotAllowed, detail: "the OpenAPI document takes GET", allow: "GET, HEAD"},
				r.Header.Get(contract.HeaderDecisionID), "", "").write(w)
			return
		}
		w.Header().Set("Content-Type", contentJSON)
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", fmt.Sprint(len(doc)))
			return
		}
		_, _ = w.Write(doc)
	}
}

// isRead reports whether the document calls the tool a read tool (its Idempotency-Key is then
// ignored: a read is safe to repeat). A tool the document does not know is treated as a write.
func (p *published) isRead(server, tool string) bool {
	return strings.EqualFold(p.tools[server][tool].action, catalog.ActionRead)
}
