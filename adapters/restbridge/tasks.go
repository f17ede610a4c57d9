package restbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// Long-running tools over REST.
//
// A tool that can run as an MCP task (execution.taskSupport in its definition; the document
// marks its operation x-gatehouse-task, and today that is the deployments server's
// start_deployment) is called as a task: the answer is 202 Accepted with Location, the task's
// path (/api/v1/mcp/<server>/tasks/<task id>), and Retry-After, the adapter's suggested poll
// interval. A GET of that path is the task's tasks/get (with the tool's result once the task
// ended, from tasks/result); a DELETE is its tasks/cancel. The edge decides both exactly as
// those requests over MCP (read and write access to the server); whose task it is, is the
// adapter's check, as over MCP: another caller's task is "not found".

// taskStatus is the part of an MCP Task the bridge reads.
type taskStatus struct {
	TaskID       string `json:"taskId"`
	Status       string `json:"status"`
	PollInterval *int64 `json:"pollInterval"`
}

func (t taskStatus) terminal() bool { return mcp.TaskStatus(t.Status).IsTerminal() }

// retryAfter is the poll interval in whole seconds, at least 1.
func (t taskStatus) retryAfter() string {
	s := int64(1)
	if t.PollInterval != nil && *t.PollInterval > 1000 {
		s = (*t.PollInterval + 999) / 1000
	}
	return fmt.Sprint(s)
}

// callAsTask calls a tool as an MCP task (2025-11-25: params.task). An adapter that answers
// with a plain result instead (it started nothing, or runs the tool at once) is answered as
// any call.
func (b *Bridge) callAsTask(ctx context.Context, up *upstream, tool string, args map[string]any, id identity) (*response, bool) {
	raw, err := up.send(ctx, string(mcp.MethodToolsCall), map[string]any{"name": tool, "arguments": args, "task": map[string]any{}}, id)
	if err != nil {
		return b.failure(up.server, tool, id.decisionID, err)
	}
	var created struct {
		Task json.RawMessage `json:"task"`
	}
	var task taskStatus
	if json.Unmarshal(raw, &created) != nil || len(created.Task) == 0 || string(created.Task) == "null" {
		res, err := mcp.ParseCallToolResult(&raw)
		if err != nil {
			return problemResponse(&problem{status: http.StatusBadGateway, retryAfter: retryAfterSeconds,
				detail: fmt.Sprintf("the %s adapter's answer could not be read: %v", up.server, err)}, id.decisionID, up.server, tool), true
		}
		return b.result(up.server, tool, res, id.decisionID), true
	}
	if json.Unmarshal(created.Task, &task) != nil || !usableTaskID(up.server, task.TaskID) {
		return problemResponse(&problem{status: http.StatusBadGateway,
			detail: fmt.Sprintf("the %s adapter started task %q, which has no REST path (the call may have started work: "+
				"check before repeating it)", up.server, task.TaskID)}, id.decisionID, up.server, tool), true
	}
	resp := jsonResponse(http.StatusAccepted, struct {
		Status string          `json:"status"`
		Task   json.RawMessage `json:"task"`
		Server string          `json:"server"`
		Tool   string          `json:"tool"`
	}{"accepted", created.Task, up.server, tool})
	resp.header.Set("Location", contract.RESTTaskPath(up.server, task.TaskID))
	resp.header.Set("Retry-After", task.retryAfter())
	return resp, true
}

func usableTaskID(server, id string) bool {
	s, got, ok := contract.ParseRESTTaskPath(contract.RESTTaskPath(server, id))
	return ok && s == server && got == id
}

// task answers GET (status, and the result once ended) and DELETE (cancel) of a task path.
func (b *Bridge) task(r *http.Request, up *upstream, taskID string, id identity) *response {
	fail := func(p *problem) *response { return problemResponse(p, id.decisionID, up.server, "") }
	if r.Method != http.MethodGet && r.Method != http.MethodDelete {
		return fail(&problem{status: http.StatusMethodNotAllowed, detail: "a task takes GET (its status and result) or DELETE (cancel it)",
			allow: "GET, DELETE"})
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.opts.CallTimeout)
	defer cancel()
	method := "tasks/get"
	if r.Method == http.MethodDelete {
		method = "tasks/cancel"
	}
	raw, err := up.send(ctx, method, map[string]any{"taskId": taskID}, id)
	if err != nil {
		return b.taskFailure(up.server, method, id.decisionID, err)
	}
	var task taskStatus
	if json.Unmarshal(raw, &task) != nil || task.Status == "" {
		return fail(&problem{status: http.StatusBadGateway, retryAfter: retryAfterSeconds,
			detail: fmt.Sprintf("the %s adapter's answer to %s could not be read", up.server, method)})
	}
	out := struct {
		Status string          `json:"status"`
		Task   json.RawMessage `json:"task"`
		Result any             `json:"result,omitempty"`
		Server string          `json:"server"`
	}{task.Status, raw, nil, up.server}
	if method == "tasks/get" && task.terminal() {
		// The task has ended, so its result is ready: tasks/result answers at once.
		res, err := up.send(ctx, "tasks/result", map[string]any{"taskId": taskID}, id)
		if err != nil {
			return b.taskFailure(up.server, "tasks/result", id.decisionID, err)
		}
		ctr, err := mcp.ParseCallToolResult(&res)
		if err != nil {
			return fail(&problem{status: http.StatusBadGateway, retryAfter: retryAfterSeconds,
				detail: fmt.Sprintf("the %s adapter's task result could not be read: %v", up.server, err)})
		}
		out.Result = resultText(ctr)
		if ctr.StructuredContent != nil {
			out.Result = ctr.StructuredContent
		}
	}
	resp := jsonResponse(http.StatusOK, out)
	if !task.terminal() {
		resp.header.Set("Retry-After", task.retryAfter())
	}
	return resp
}

// taskFailure maps an adapter's refusal of a task request: a task it does not show this caller
// is 404 (as an id that names nothing), a cancellation it refuses is 409, a server without
// tasks 404.
func (b *Bridge) taskFailure(server, method, did string, err error) *response {
	switch {
	case errors.Is(err, mcp.ErrMethodNotFound):
		return problemResponse(&problem{status: http.StatusNotFound, detail: fmt.Sprintf("the %s server has no tasks", server)}, did, server, "")
	case errors.Is(err, mcp.ErrInvalidParams) && strings.Contains(strings.ToLower(err.Error()), "not found"):
		return problemResponse(&problem{status: http.StatusNotFound, detail: "no such task (or not one of yours)"}, did, server, "")
	case errors.Is(err, mcp.ErrInvalidParams) && method == "tasks/cancel":
		return problemResponse(&problem{status: http.StatusConflict, detail: trimRPCError(err)}, did, server, "")
	}
	resp, _ := b.failure(server, "", did, err)
	return resp
}

// trimRPCError is the adapter's message without mcp-go's "invalid params: " wrapping.
func trimRPCError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "Cannot cancel task"); i >= 0 {
		return msg[i:]
	}
	return msg
}
