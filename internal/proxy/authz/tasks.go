package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
)

// Task ids are bound to their caller as session ids are: every task id in an answer is
// replaced by a wrapped id only the caller it was issued to can present again (bindStage
// checks it and refuses any other as an unknown task). Where MCP puts task ids:
//
//   - tools/call made as a task: result.task.taskId (2025-11-25), result.taskId (2026-07-28,
//     resultType "task");
//   - tasks/get, tasks/cancel: result.taskId; tasks/list: result.tasks[].taskId;
//   - tasks/result and a finished task's inline result: result._meta[related-task].taskId;
//   - notifications/tasks/status on a stream: params.taskId, and params._meta[related-task].

const (
	// tasksExtension is the 2026-07-28 tasks extension a client declares to get tasks.
	tasksExtension = "io.modelcontextprotocol/tasks"
	// relatedTask is the _meta key that ties a message to its task.
	relatedTask = "io.modelcontextprotocol/related-task"
)

// tasksExpected reports whether the answer to m can carry task ids: the tasks methods, and a
// tools/call the client made as a task (params.task, 2025-11-25) or for which it declared the
// tasks extension (2026-07-28, where the server decides per call).
func tasksExpected(m *mcpmsg.Message) bool {
	switch m.Method {
	case "tasks/get", "tasks/result", "tasks/cancel", "tasks/list":
		return true
	case "tools/call":
		if _, ok := m.Params["task"]; ok {
			return true
		}
		meta, _ := m.Params["_meta"].(map[string]any)
		caps, _ := meta["io.modelcontextprotocol/clientCapabilities"].(map[string]any)
		ext, _ := caps["extensions"].(map[string]any)
		_, ok := ext[tasksExtension]
		return ok
	}
	return false
}

// bindTasks wraps every task id of one message of the answer (a JSON response or one SSE
// event). A message that is not a JSON-RPC object is refused (the answer is not delivered).
func (x *exchange) bindTasks(msg []byte) ([]byte, error) {
	var top map[string]any
	d := json.NewDecoder(bytes.NewReader(msg))
	d.UseNumber()
	if err := d.Decode(&top); err != nil || top == nil {
		return nil, fmt.Errorf("the server's response is not a JSON-RPC message: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("the server's response has data after its JSON-RPC message")
	}
	wrap := func(obj map[string]any, key string) {
		if id, ok := obj[key].(string); ok && id != "" {
			obj[key] = x.s.keys.Wrap(binding.Task, x.caller, id)
		}
	}
	related := func(obj map[string]any) {
		meta, _ := obj["_meta"].(map[string]any)
		if rt, ok := meta[relatedTask].(map[string]any); ok {
			wrap(rt, "taskId")
		}
	}
	if result, ok := top["result"].(map[string]any); ok {
		wrap(result, "taskId")
		if task, ok := result["task"].(map[string]any); ok {
			wrap(task, "taskId")
		}
		if tasks, ok := result["tasks"].([]any); ok {
			for _, t := range tasks {
				if task, ok := t.(map[string]any); ok {
					wrap(task, "taskId")
				}
			}
		}
		related(result)
	}
	if params, ok := top["params"].(map[string]any); ok {
		if top["method"] == "notifications/tasks/status" {
			wrap(params, "taskId")
		}
		related(params)
	}
	// Always re-encoded, changed or not: the client reads exactly the message examined here
	// (one value per key), whatever repeated keys the original had.
	return json.Marshal(top)
}
