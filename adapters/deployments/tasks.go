package deployments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// MCP tasks over the deployments' workflows.
//
// A deployment is a task whose id is its workflow id: every answer comes from Temporal, so
// any replica answers for any task and nothing is kept in the adapter. mcp-go keeps tasks in
// process memory, so its task support cannot be used; the requests below are answered here,
// at the HTTP layer, before mcp-go sees them (it never handles them as well):
//
//   - MCP 2025-11-25 (MCP-Protocol-Version: 2025-11-25): initialize advertises
//     capabilities.tasks {cancel, requests.tools.call}; tools/list marks start_deployment
//     execution.taskSupport "optional"; a tools/call of start_deployment with params.task
//     starts the deployment and answers a CreateTaskResult; tasks/get, tasks/result (blocks
//     until the workflow ends; over SSE with keep-alive comments when the client accepts it)
//     and tasks/cancel are answered from Temporal; tasks/list is not offered (-32601).
//   - MCP 2026-07-28, the tasks extension (io.modelcontextprotocol/tasks, SEP-2663):
//     server/discover advertises the extension; a start_deployment call whose per-request
//     client capabilities declare it is answered with a CreateTaskResult (resultType "task");
//     tasks/get inlines the final CallToolResult; tasks/cancel answers an empty
//     acknowledgement; tasks/result and tasks/list do not exist (-32601); a request that does
//     not declare the extension gets -32021.
//   - Every other revision (2025-06-18) and every other request reach mcp-go unchanged.
//
// Who may read a task is who may read the deployment (mayRead); who may cancel it, who may
// cancel the deployment (mayCancel). Anyone else is told the task does not exist, in the same
// words as for an id that names nothing: task ids are not bearer capabilities.

const (
	startTool = "start_deployment"
	// TasksExtension is the 2026-07-28 tasks extension's identifier.
	TasksExtension = "io.modelcontextprotocol/tasks"

	rev20251125 = mcp.ProtocolVersion20251125
	rev20260728 = mcp.ProtocolVersion20260728

	// DefaultTaskRetention is TaskOptions.Retention's default: Temporal's smallest
	// namespace retention, so an ended task's ttl never promises more than Temporal keeps.
	DefaultTaskRetention = 24 * time.Hour
	// maxInterceptedBody is the largest request tasks.go reads itself (the edge's own limit,
	// authz.max_body_bytes, is 1 MiB by default).
	maxInterceptedBody = 1 << 20
	// createdWithin bounds the read of a just-started deployment for its CreateTaskResult.
	createdWithin = 10 * time.Second
)

// TaskTools are the tools that can be called as MCP tasks: the listing marks them on the
// revisions that have tasks, and the REST bridge's document is generated from this.
func TaskTools() []string { return []string{startTool} }

// keepAliveEvery spaces the SSE comments a waiting tasks/result sends, well inside the
// edge's stream idle timeout (5 minutes in gatehouse.yaml). A variable for tests.
var keepAliveEvery = 30 * time.Second

// TaskOptions tune the MCP tasks HandlerWith serves.
type TaskOptions struct {
	// Log receives one ECS line per task request (tasks/get, tasks/result, tasks/cancel, a
	// task-augmented start). The zero Logger logs nothing.
	Log zerolog.Logger
	// Retention is how long Temporal keeps a deployment after it ended (the namespace's
	// retention): an ended task's ttl is its run time plus this. A running task has no ttl
	// (null): Temporal never deletes a running workflow. Zero: DefaultTaskRetention.
	Retention time.Duration
	// Stop, when closed, ends the tasks/result calls still waiting, with an error that asks
	// the client to call again (the deployment goes on; another replica answers). Close it
	// when the adapter shuts down, so that draining does not wait for them.
	Stop <-chan struct{}
}

// taskClients are the Temporal clients Register was given, for Handler: the kit server
// holds no state of ours.
var taskClients sync.Map // *kit.Server → Client

// HandlerWith is Handler with options for MCP tasks.
func HandlerWith(s *kit.Server, o TaskOptions) http.Handler {
	h := s.Handler()
	if c, ok := taskClients.Load(s); ok {
		if o.Retention <= 0 {
			o.Retention = DefaultTaskRetention
		}
		t := &tasks{next: h, c: c.(Client), o: o, tools: map[string]bool{}}
		for _, d := range s.Declared() {
			t.tools[d.Name] = true
		}
		h = t
	}
	return WithEdgeHeaders(h)
}

// tasks answers the task requests and passes everything else to next (the kit server).
type tasks struct {
	next  http.Handler
	c     Client
	o     TaskOptions
	tools map[string]bool
}

// rpc is the part of a JSON-RPC request the interception reads.
type rpc struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// request is one intercepted request: the revision it speaks and what it asks.
type request struct {
	r      *http.Request
	body   []byte
	msg    rpc
	params map[string]json.RawMessage
	rev    string // rev20251125 or rev20260728
	ext    bool   // 2026-07-28: the request's client capabilities declare TasksExtension
}

func (q *request) modern() bool { return q.rev == rev20260728 }

func (t *tasks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != kit.Path || !isJSON(r.Header.Get("Content-Type")) || r.Body == nil {
		t.next.ServeHTTP(w, r)
		return
	}
	// Read no more than a task request can need; a larger body goes to mcp-go as it came.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInterceptedBody+1))
	if int64(len(body)) > maxInterceptedBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		t.next.ServeHTTP(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		t.next.ServeHTTP(w, r) // mcp-go answers the unreadable body
		return
	}
	q := &request{r: r, body: body}
	if json.Unmarshal(body, &q.msg) != nil || q.msg.Method == "" || len(q.msg.ID) == 0 || string(q.msg.ID) == "null" {
		t.next.ServeHTTP(w, r) // not a request this file answers (or not JSON-RPC at all)
		return
	}
	if len(q.msg.Params) > 0 && string(q.msg.Params) != "null" && json.Unmarshal(q.msg.Params, &q.params) != nil {
		t.next.ServeHTTP(w, r)
		return
	}
	if q.params == nil {
		q.params = map[string]json.RawMessage{}
	}
	q.rev, q.ext = revision(r.Header, q.msg.Method, q.params)
	switch q.msg.Method {
	case "initialize":
		// 2025 revisions negotiate here: the version is the answer's, not a header.
		t.rewrite(w, q, func(res map[string]json.RawMessage) bool {
			var v string
			if json.Unmarshal(res["protocolVersion"], &v) != nil || v != rev20251125 {
				return false
			}
			return addCapability(res, "tasks", map[string]any{"cancel": struct{}{},
				"requests": map[string]any{"tools": map[string]any{"call": struct{}{}}}})
		})
		return
	case "server/discover":
		if q.modern() {
			t.rewrite(w, q, func(res map[string]json.RawMessage) bool {
				return addCapability(res, "extensions", map[string]any{TasksExtension: struct{}{}})
			})
			return
		}
	case "tools/list":
		if q.rev == rev20251125 {
			t.rewrite(w, q, markTaskSupport)
			return
		}
	case "tools/call":
		var name string
		_ = json.Unmarshal(q.params["name"], &name)
		task, augmented := q.params["task"]
		switch {
		case q.rev == rev20251125 && augmented && name == startTool:
			if !isObject(task) {
				t.fail(w, q, mcp.INVALID_PARAMS, "params.task must be an object ({} or {\"ttl\": milliseconds})", nil)
				return
			}
			t.start(w, q)
			return
		case q.rev == rev20251125 && augmented && t.tools[name]:
			// 2025-11-25, tool-level negotiation: a tool without execution.taskSupport
			// cannot be called as a task.
			t.fail(w, q, mcp.METHOD_NOT_FOUND, fmt.Sprintf("tool %s cannot be called as a task (its execution.taskSupport "+
				"is forbidden); only %s can", name, startTool), nil)
			return
		case q.modern() && q.ext && name == startTool:
			t.start(w, q)
			return
		}
	case "tasks/get", "tasks/result", "tasks/cancel", "tasks/list":
		if q.rev != "" {
			t.task(w, q)
			return
		}
	}
	t.next.ServeHTTP(w, r)
}

// revision says which tasks revision a request speaks: rev20251125, rev20260728, or "" (any
// other revision, or a request mcp-go must refuse: it then reaches mcp-go, which answers as
// it always did). For 2026-07-28 it also reports whether the request declares the tasks
// extension. The checks are mcp-go's own for a 2026-07-28 request (its version in the
// header and in _meta, Mcp-Method, the client capabilities), so that nothing it would
// refuse is answered here.
func revision(h http.Header, method string, params map[string]json.RawMessage) (string, bool) {
	var meta struct {
		Version      string          `json:"io.modelcontextprotocol/protocolVersion"`
		Capabilities json.RawMessage `json:"io.modelcontextprotocol/clientCapabilities"`
	}
	if raw, ok := params["_meta"]; ok && json.Unmarshal(raw, &meta) != nil {
		return "", false
	}
	hv := h.Get(mcp.HeaderProtocolVersion)
	switch {
	case hv == rev20260728 || meta.Version == rev20260728:
		if hv != meta.Version || h.Get(mcp.HeaderMethod) != method || h.Get(mcp.HeaderLastEventID) != "" || !isObject(meta.Capabilities) {
			return "", false
		}
		var caps struct {
			Extensions map[string]json.RawMessage `json:"extensions"`
		}
		_ = json.Unmarshal(meta.Capabilities, &caps)
		_, ext := caps.Extensions[TasksExtension]
		return rev20260728, ext
	case hv == rev20251125 && meta.Version == "":
		return rev20251125, false
	}
	return "", false
}

// start answers a task-augmented start_deployment: the kit runs the tool as for any call
// (arguments, the policy's approval requirement, logging), and a started deployment is
// answered as a task. A call that started nothing (an isError result, a JSON-RPC error) is
// answered as it is: there is no task. Both revisions allow it (2025-11-25 clients handle
// a plain result to a task-augmented request; 2026-07-28 servers decide per request).
func (t *tasks) start(w http.ResponseWriter, q *request) {
	if q.rev == rev20251125 {
		delete(q.params, "task") // the tool itself runs as a plain call
	}
	top := map[string]json.RawMessage{}
	_ = json.Unmarshal(q.body, &top)
	top["params"] = marshal(q.params)
	res := t.capture(q.r, marshal(top))
	var out struct {
		Result *struct {
			Meta              map[string]json.RawMessage `json:"_meta"`
			Content           []mcp.TextContent          `json:"content"`
			StructuredContent *startResult               `json:"structuredContent"`
			IsError           bool                       `json:"isError"`
		} `json:"result"`
	}
	if res.status != http.StatusOK || json.Unmarshal(res.body.Bytes(), &out) != nil || out.Result == nil ||
		out.Result.IsError || out.Result.StructuredContent == nil || deploy.CheckID(out.Result.StructuredContent.WorkflowID) != nil {
		res.send(w, res.body.Bytes())
		return
	}
	started := out.Result.StructuredContent
	who := t.caller(q.r)
	// The task exists once tasks/get can read it (2026-07-28 asks for that before the
	// answer); its createdAt is the workflow's.
	ctx, cancel := context.WithTimeout(q.r.Context(), createdWithin)
	st, err := t.c.Get(ctx, started.WorkflowID)
	cancel()
	var task map[string]any
	if err != nil {
		// Started (Temporal said so), but not readable yet: the start's own answer.
		now := stamp(time.Now())
		task = map[string]any{"taskId": started.WorkflowID, "status": started.TaskStatus, "statusMessage": started.Next,
			"createdAt": now, "lastUpdatedAt": now}
		t.ttl(task, q, nil)
		t.poll(task, q, 2*time.Second)
	} else {
		task = t.taskOf(st, who, q)
	}
	meta := out.Result.Meta
	if meta == nil {
		meta = map[string]json.RawMessage{}
	}
	// What the model would have read from a plain call (the approval required and why,
	// what happens next), for hosts that hand the model something while the task runs.
	if len(out.Result.Content) > 0 {
		meta[mcp.ModelImmediateResponseMetaKey] = marshal(out.Result.Content[0].Text)
	}
	var result map[string]any
	if q.modern() {
		result = task
		result["resultType"] = "task"
	} else {
		result = map[string]any{"task": task}
	}
	result["_meta"] = meta
	t.log(q, who, "task-create", started.WorkflowID, nil)
	t.reply(w, q, result)
}

// task answers tasks/get, tasks/result, tasks/cancel and tasks/list.
func (t *tasks) task(w http.ResponseWriter, q *request) {
	if q.msg.Method == "tasks/list" || (q.modern() && q.msg.Method == "tasks/result") {
		msg := "tasks/list is not offered by the deployments server: list_my_deployments lists your deployments, " +
			"list_pending_my_approval those awaiting your approval"
		if q.modern() {
			msg = fmt.Sprintf("%s does not exist in the tasks extension of MCP %s: tasks/get returns the result once the task ended",
				q.msg.Method, rev20260728)
		}
		t.fail(w, q, mcp.METHOD_NOT_FOUND, msg, nil)
		return
	}
	if q.modern() && !q.ext {
		t.fail(w, q, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, fmt.Sprintf("%s needs the tasks extension (%s) in the request's "+
			"client capabilities (params._meta[%q].extensions)", q.msg.Method, TasksExtension, mcp.MetaKeyClientCapabilities),
			map[string]any{"requiredCapabilities": map[string]any{"extensions": map[string]any{TasksExtension: struct{}{}}}})
		return
	}
	var sent string
	if json.Unmarshal(q.params["taskId"], &sent) != nil || sent == "" {
		t.fail(w, q, mcp.INVALID_PARAMS, q.msg.Method+" requires params.taskId, a string", nil)
		return
	}
	// Through the edge the id is the caller-bound form the edge issued (and checked).
	id := kit.EdgeTaskID(sent)
	// 2026-07-28 routes task requests by Mcp-Name, which must then name the task.
	if n := q.r.Header.Get(mcp.HeaderName); q.modern() && n != "" && n != sent {
		t.fail(w, q, mcp.HEADER_MISMATCH, fmt.Sprintf("Mcp-Name header %q does not match params.taskId %q", n, sent), nil)
		return
	}
	who, st, e := t.readable(q, id)
	if e != nil {
		t.log(q, who, q.msg.Method, id, e)
		t.fail(w, q, e.code, e.message, nil)
		return
	}
	switch q.msg.Method {
	case "tasks/get":
		task := t.taskOf(st, who, q)
		if q.modern() {
			t.inline(task, st, who)
			task["resultType"] = "complete"
		}
		t.log(q, who, q.msg.Method, id, nil)
		t.reply(w, q, task)
	case "tasks/result":
		t.result(w, q, who, st)
	case "tasks/cancel":
		t.cancel(w, q, who, st)
	}
}

// result answers tasks/result (2025-11-25): once the deployment ended, the CallToolResult
// start_deployment gives for its final status, isError unless it completed. It blocks until
// then, for as long as the request lasts.
func (t *tasks) result(w http.ResponseWriter, q *request, who caller, st deploy.Status) {
	id := st.WorkflowID
	var sse *sseWriter
	// A task already reported terminal (an accepted cancellation, while the workflow still
	// cancels the change) answers at once: tasks/result blocks only while the task runs.
	if !st.State.Terminal() && !terminal(taskStatus(st, false)) {
		if acceptsSSE(q.r.Header.Get("Accept")) {
			sse = startSSE(w)
		}
		final, e := t.wait(q, id, sse)
		if e != nil {
			t.log(q, who, q.msg.Method, id, e)
			if sse != nil {
				sse.message(errorMessage(q.msg.ID, e.code, e.message, nil))
				return
			}
			t.fail(w, q, e.code, e.message, nil)
			return
		}
		st = final
	}
	res := toolResult(st, who)
	res.Meta = mcp.WithRelatedTask(id)
	t.log(q, who, q.msg.Method, id, nil)
	if sse != nil {
		sse.message(resultMessage(q.msg.ID, res))
		return
	}
	t.reply(w, q, res)
}

// wait blocks until the deployment ends, writing SSE keep-alive comments meanwhile.
func (t *tasks) wait(q *request, id string, sse *sseWriter) (deploy.Status, *rpcError) {
	ctx, cancel := context.WithCancel(q.r.Context())
	defer cancel()
	type outcome struct {
		st  deploy.Status
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		st, err := t.c.Result(ctx, id)
		done <- outcome{st, err}
	}()
	tick := time.NewTicker(keepAliveEvery)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			switch {
			case o.err == nil:
				return o.st, nil
			case errors.Is(o.err, deploy.ErrUnknownDeployment):
				return deploy.Status{}, taskNotFound()
			case q.r.Context().Err() != nil:
				return deploy.Status{}, &rpcError{mcp.REQUEST_INTERRUPTED, "the request ended before the deployment did; " +
					"call tasks/result again or poll tasks/get"}
			}
			return deploy.Status{}, &rpcError{mcp.INTERNAL_ERROR, fmt.Sprintf("waiting for deployment %s failed: %v; "+
				"call tasks/result again or poll tasks/get", id, o.err)}
		case <-t.o.Stop:
			return deploy.Status{}, &rpcError{mcp.INTERNAL_ERROR, "this deployments server is shutting down; the deployment " +
				"goes on: call tasks/result again (another replica answers) or poll tasks/get"}
		case <-tick.C:
			if sse != nil {
				sse.comment("waiting for deployment " + id)
			}
		}
	}
}

// cancel answers tasks/cancel: the requester (or the "all" scope) cancels the deployment,
// as cancel_deployment does, with the caller's identity and decision id.
func (t *tasks) cancel(w http.ResponseWriter, q *request, who caller, st deploy.Status) {
	id := st.WorkflowID
	refuse := func(reason string) {
		e := &rpcError{mcp.INVALID_PARAMS, "Cannot cancel task: " + reason}
		t.log(q, who, q.msg.Method, id, e)
		t.fail(w, q, e.code, e.message, nil)
	}
	if !who.mayCancel(st) {
		refuse(fmt.Sprintf("only the requester (%s) may cancel deployment %s; approvers reject it with reject_deployment",
			st.Request.Requester.Subject, id))
		return
	}
	if s := taskStatus(st, false); terminal(s) {
		refuse(fmt.Sprintf("already in terminal status '%s' (the deployment is %s)", s, st.State))
		return
	}
	after, err := t.c.Cancel(q.r.Context(), id, deploy.Cancellation{By: who.identity(), DecisionID: who.decisionID,
		Reason: "canceled with MCP tasks/cancel"})
	var refused *deploy.RefusedError
	switch {
	case errors.As(err, &refused):
		refuse(refused.Reason)
		return
	case errors.Is(err, deploy.ErrEnded):
		refuse("the deployment has already ended")
		return
	case errors.Is(err, deploy.ErrUnknownDeployment):
		e := taskNotFound()
		t.log(q, who, q.msg.Method, id, e)
		t.fail(w, q, e.code, e.message, nil)
		return
	case err != nil:
		e := &rpcError{mcp.INTERNAL_ERROR, fmt.Sprintf("could not cancel deployment %s: %v", id, err)}
		t.log(q, who, q.msg.Method, id, e)
		t.fail(w, q, e.code, e.message, nil)
		return
	}
	t.log(q, who, q.msg.Method, id, nil)
	if q.modern() {
		t.reply(w, q, map[string]any{"resultType": "complete"}) // an acknowledgement
		return
	}
	t.reply(w, q, t.taskOf(after, who, q)) // cancelled: the cancellation was accepted
}

// readable reads a task the caller may see. Anything else is "not found", in the same words
// whether the id names nothing, names another workflow, or names a deployment the caller may
// not see.
func (t *tasks) readable(q *request, id string) (caller, deploy.Status, *rpcError) {
	who := t.caller(q.r)
	if strings.TrimSpace(who.subject) == "" {
		return who, deploy.Status{}, &rpcError{mcp.INVALID_REQUEST, "this request carries no caller identity " +
			"(x-gatehouse-subject): the deployments server only answers requests that come through the Gatehouse edge"}
	}
	if deploy.CheckID(id) != nil {
		return who, deploy.Status{}, taskNotFound()
	}
	st, err := t.c.Get(q.r.Context(), id)
	switch {
	case errors.Is(err, deploy.ErrUnknownDeployment):
		return who, deploy.Status{}, taskNotFound()
	case err != nil:
		return who, deploy.Status{}, &rpcError{mcp.INTERNAL_ERROR, fmt.Sprintf("could not read task %s: %v", id, err)}
	case !who.mayRead(st):
		return who, deploy.Status{}, taskNotFound()
	}
	return who, st, nil
}

func taskNotFound() *rpcError {
	return &rpcError{mcp.INVALID_PARAMS, "Failed to retrieve task: Task not found (you see the tasks of the deployments " +
		"you requested and of those whose approval needs one of your roles)"}
}

// caller is the edge's identity of the request (the kit reads the same headers for tools).
func (t *tasks) caller(r *http.Request) caller {
	e, _ := r.Context().Value(edgeKey{}).(edge)
	return caller{subject: r.Header.Get(contract.HeaderSubject), email: r.Header.Get(contract.HeaderEmail),
		decisionID: r.Header.Get(contract.HeaderDecisionID), edge: e}
}

// taskStatus is the deployment's MCP task status. An accepted cancellation is cancelled at
// once (2025-11-25: before tasks/cancel answers, and for good), although the workflow still
// cancels the change request. The tasks extension of 2026-07-28 keeps failed for JSON-RPC
// errors: there a deployment that failed, was rejected or expired is completed, with a
// result whose isError is true.
func taskStatus(st deploy.Status, modern bool) string {
	if st.Cancellation != nil {
		return string(mcp.TaskStatusCancelled)
	}
	s := st.State.TaskStatus()
	if modern && s == string(mcp.TaskStatusFailed) {
		return string(mcp.TaskStatusCompleted)
	}
	return s
}

func terminal(status string) bool { return mcp.TaskStatus(status).IsTerminal() }

// taskOf is the Task for a deployment, in the revision's field names.
func (t *tasks) taskOf(st deploy.Status, who caller, q *request) map[string]any {
	status := taskStatus(st, q.modern())
	updated := st.Updated
	if updated.IsZero() {
		updated = st.Started
	}
	task := map[string]any{"taskId": st.WorkflowID, "status": status, "statusMessage": statusMessage(st, who),
		"createdAt": stamp(st.Started), "lastUpdatedAt": stamp(updated)}
	var ttl *int64
	if st.State.Terminal() {
		ms := (updated.Sub(st.Started) + t.o.Retention).Milliseconds()
		ttl = &ms
	}
	t.ttl(task, q, ttl)
	if !terminal(status) {
		t.poll(task, q, pollInterval(st.State))
	}
	return task
}

func (t *tasks) ttl(task map[string]any, q *request, ms *int64) {
	if q.modern() {
		task["ttlMs"] = ms
	} else {
		task["ttl"] = ms
	}
}

func (t *tasks) poll(task map[string]any, q *request, d time.Duration) {
	if q.modern() {
		task["pollIntervalMs"] = d.Milliseconds()
	} else {
		task["pollInterval"] = d.Milliseconds()
	}
}

// inline adds what a 2026-07-28 tasks/get carries once the task ended: the result. (A
// deployment waiting for approval is working, not input_required: the approvers are other
// people, so there are never input requests for this client.)
func (t *tasks) inline(task map[string]any, st deploy.Status, who caller) {
	if task["status"] == string(mcp.TaskStatusCompleted) {
		task["result"] = toolResult(st, who)
	}
}

// pollInterval suggests how often to poll a running deployment: people approve in minutes
// or hours, a change window may open hours later, the worker follows a deploy every 5 s.
func pollInterval(s deploy.State) time.Duration {
	switch s {
	case deploy.StateValidating:
		return 2 * time.Second
	case deploy.StateAwaitingApproval:
		return 30 * time.Second
	case deploy.StateScheduled:
		return time.Minute
	}
	return 5 * time.Second
}

// statusMessage says what the task waits for, or how it ended.
func statusMessage(st deploy.Status, who caller) string {
	if c := st.Cancellation; c != nil {
		s := fmt.Sprintf("Canceled by %s (%s)", c.By.Subject, c.Reason)
		if !st.State.Terminal() {
			return s + ": the change request is being canceled; nothing is deployed."
		}
		return s + ". " + next(st, who)
	}
	switch {
	case st.State == deploy.StateFailed && st.LastError != "":
		return "Failed: " + st.LastError
	case st.State == deploy.StateRejected && st.Rejection != nil:
		return fmt.Sprintf("Rejected by %s (%s). %s", st.Rejection.Approver, st.Rejection.Comment, next(st, who))
	}
	return next(st, who)
}

// toolResult is the CallToolResult start_deployment gives for a deployment's status: its
// structured content matches the tool's output schema; isError unless it completed.
func toolResult(st deploy.Status, who caller) *mcp.CallToolResult {
	res := startResult{WorkflowID: st.WorkflowID, State: st.State, TaskStatus: st.State.TaskStatus(), RequestHash: st.RequestHash,
		Approval: approvalOf(st.Approval, st.ApprovalDeadline, nil), Next: statusMessage(st, who)}
	out := mcp.NewToolResultStructured(res, string(marshal(res)))
	out.IsError = st.State != deploy.StateCompleted
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// rewrite passes a request to the kit and edits its result with edit (false: unchanged).
func (t *tasks) rewrite(w http.ResponseWriter, q *request, edit func(map[string]json.RawMessage) bool) {
	res := t.capture(q.r, q.body)
	var top map[string]json.RawMessage
	var result map[string]json.RawMessage
	if res.status != http.StatusOK || !isJSON(res.header.Get("Content-Type")) || json.Unmarshal(res.body.Bytes(), &top) != nil ||
		json.Unmarshal(top["result"], &result) != nil || result == nil || !edit(result) {
		res.send(w, res.body.Bytes())
		return
	}
	top["result"] = marshal(result)
	res.send(w, append(marshal(top), '\n'))
}

// addCapability sets result.capabilities[name] (merged into an object already there).
func addCapability(result map[string]json.RawMessage, name string, value map[string]any) bool {
	var caps map[string]json.RawMessage
	if json.Unmarshal(result["capabilities"], &caps) != nil || caps == nil {
		caps = map[string]json.RawMessage{}
	}
	var have map[string]json.RawMessage
	if json.Unmarshal(caps[name], &have) == nil && have != nil {
		for k, v := range value {
			have[k] = marshal(v)
		}
		caps[name] = marshal(have)
	} else {
		caps[name] = marshal(value)
	}
	result["capabilities"] = marshal(caps)
	return true
}

// markTaskSupport marks start_deployment as callable as a task in a 2025-11-25 tools/list.
// Its pin in the catalog does not cover execution, so the edge still recognises the tool.
func markTaskSupport(result map[string]json.RawMessage) bool {
	var tools []json.RawMessage
	if json.Unmarshal(result["tools"], &tools) != nil {
		return false
	}
	changed := false
	for i, raw := range tools {
		var tool map[string]json.RawMessage
		var name string
		if json.Unmarshal(raw, &tool) != nil || json.Unmarshal(tool["name"], &name) != nil || name != startTool {
			continue
		}
		tool["execution"] = marshal(mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional})
		tools[i] = marshal(tool)
		changed = true
	}
	if changed {
		result["tools"] = marshal(tools)
	}
	return changed
}

// captured is a response of the kit held back to be edited. It cannot flush, so mcp-go
// answers it with one JSON message, never an SSE stream.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captured) Write(p []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(p)
}

func (t *tasks) capture(r *http.Request, body []byte) *captured {
	c := &captured{header: http.Header{}}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.Header.Del("Content-Length")
	t.next.ServeHTTP(c, r2)
	c.WriteHeader(http.StatusOK)
	return c
}

func (c *captured) send(w http.ResponseWriter, body []byte) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(c.status)
	_, _ = w.Write(body)
}

type rpcError struct {
	code    int
	message string
}

func errorMessage(id json.RawMessage, code int, msg string, data any) []byte {
	e := map[string]any{"code": code, "message": msg}
	if data != nil {
		e["data"] = data
	}
	return marshal(map[string]any{"jsonrpc": mcp.JSONRPC_VERSION, "id": id, "error": e})
}

func resultMessage(id json.RawMessage, result any) []byte {
	return marshal(map[string]any{"jsonrpc": mcp.JSONRPC_VERSION, "id": id, "result": result})
}

// reply answers a request with a result, as mcp-go would.
func (t *tasks) reply(w http.ResponseWriter, q *request, result any) {
	if !t.allowedHost(w, q.r) {
		return
	}
	writeJSON(w, http.StatusOK, resultMessage(q.msg.ID, result))
}

// fail answers a request with a JSON-RPC error, with the HTTP status mcp-go gives it: 200
// before 2026-07-28, which maps error codes onto HTTP statuses.
func (t *tasks) fail(w http.ResponseWriter, q *request, code int, msg string, data any) {
	if !t.allowedHost(w, q.r) {
		return
	}
	status := http.StatusOK
	if q.modern() {
		switch code {
		case mcp.METHOD_NOT_FOUND:
			status = http.StatusNotFound
		case mcp.HEADER_MISMATCH, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, mcp.UNSUPPORTED_PROTOCOL_VERSION,
			mcp.INVALID_REQUEST, mcp.INVALID_PARAMS, mcp.PARSE_ERROR:
			status = http.StatusBadRequest
		}
	}
	writeJSON(w, status, errorMessage(q.msg.ID, code, msg, data))
}

// allowedHost is mcp-go's DNS rebinding protection, for the answers given here: a request on
// a loopback connection must name a loopback host.
func (t *tasks) allowedHost(w http.ResponseWriter, r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if ok && local != nil && loopback(local.String()) && !loopback(r.Host) {
		http.Error(w, fmt.Sprintf("Forbidden: invalid Host header %q", r.Host), http.StatusForbidden)
		return false
	}
	return true
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// sseWriter answers a waiting tasks/result as an SSE stream: comments keep the edge and
// load balancers from closing an idle stream, and the response is its one event.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

func (s *sseWriter) comment(text string) {
	_, _ = fmt.Fprintf(s.w, ": %s\n\n", text)
	_ = s.rc.Flush()
}

func (s *sseWriter) message(msg []byte) {
	_, _ = fmt.Fprintf(s.w, "event: message\ndata: %s\n\n", msg)
	_ = s.rc.Flush()
}

func (t *tasks) log(q *request, who caller, action, id string, e *rpcError) {
	ev, outcome := t.o.Log.Info(), "success"
	if e != nil {
		ev, outcome = t.o.Log.Warn(), "failure"
		ev = ev.Str("error.code", strconv.Itoa(e.code)).Str("error.message", e.message) // ECS: keyword
	}
	ev.Str("event.kind", "event").Str("event.action", strings.ReplaceAll(action, "/", "-")).Str("event.outcome", outcome).
		Str("gatehouse.task_id", id).Str("gatehouse.protocol_version", q.rev).Str("user.id", who.subject).
		Str("gatehouse.decision_id", who.decisionID).Str("trace.id", q.r.Header.Get("X-Request-Id")).Msg("task request")
}

// marshal encodes v as JSON without escaping HTML characters (what is passed through stays
// as the kit wrote it).
func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func acceptsSSE(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}
