package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// A template deployment through the dev edge with real tokens, on a real Temporal: nina (a
// network engineer) starts one on a core device; the policy requires a change approver
// (carl); nina cannot approve her own; carl approves with MFA; the workflow opens the
// ServiceNow change, deploys through Catalyst Center and completes. The copy of the policy
// asks one approver for core devices instead of two (there is one demo approver).
//
// Then the same as an MCP task (2025-11-25): a task-augmented start_deployment whose task id
// is the workflow id; tasks/get by nina (working, waiting for approval), by carl (he approves it) and by sam
// (no role on deployments: refused by the policy); tasks/cancel by carl, refused by the
// reference policy (only those who may call cancel_deployment may send tasks/cancel; approvers
// reject); carl approves; tasks/result returns the final result.
//
// And over REST: start_deployment answers 202 with the task's path; nina and carl may poll it,
// sam may not (policy), carl may not cancel it (policy); once carl approves, the poll carries
// the result; an admin's or nina's cancel of the ended task is a conflict.
func TestDeploymentThroughTheEdge(t *testing.T) {
	bin := devserver.Bin(t)
	// The copy of the policy asks one approver for core devices (there is one demo approver).
	s := deploymentStack(t, bin, map[string]string{`"core_device": {"approvers": 2`: `"core_device": {"approvers": 1`})
	cc := connectTo(t, s, "catalyst-center", "nina", "2025-11-25")
	core, template := deviceID(t, cc, "lon-b1-core-01"), ntpTemplate(t, cc)

	nina := connectTo(t, s, "deployments", "nina", "2025-11-25")
	now := time.Now().UTC()
	var started struct {
		WorkflowID  string `json:"workflow_id"`
		RequestHash string `json:"request_hash"`
		Approval    struct {
			Required bool     `json:"required"`
			Role     string   `json:"role"`
			Reasons  []string `json:"reasons"`
		} `json:"approval"`
	}
	structured(t, nina, "start_deployment", map[string]any{
		"template_id": template, "template_version": 2, "device_ids": []string{core},
		"parameters":    map[string]any{"ntp_primary": "10.0.0.1", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
		"change_window": map[string]any{"start": now.Add(-time.Minute).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)},
		"summary":       "NTP servers for the core",
	}, &started)
	if !started.Approval.Required || started.Approval.Role != "change-approvers" || !strings.Contains(strings.Join(started.Approval.Reasons, ";"), "core devices") {
		t.Fatalf("start: %+v", started)
	}
	get := func(user string) string {
		t.Helper()
		var st struct {
			State deploy.State `json:"state"`
		}
		structured(t, connectTo(t, s, "deployments", user, "2025-11-25"), "get_deployment", map[string]any{"workflow_id": started.WorkflowID}, &st)
		return string(st.State)
	}
	wait := func(want deploy.State) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for got := get("nina"); got != string(want); got = get("nina") {
			if time.Now().After(deadline) || deploy.State(got).Terminal() {
				t.Fatalf("deployment is %s, want %s", got, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait(deploy.StateAwaitingApproval)

	// nina may not approve (no change-approvers grant: the edge refuses it).
	denied(t, nina, "approve_deployment", map[string]any{"workflow_id": started.WorkflowID, "request_hash": started.RequestHash},
		"approve_deployment")
	carl := connectTo(t, s, "deployments", "carl", "2025-11-25")
	var pending struct {
		Deployments []struct {
			WorkflowID string `json:"workflow_id"`
		} `json:"deployments"`
	}
	structured(t, carl, "list_pending_my_approval", map[string]any{}, &pending)
	if b, _ := json.Marshal(pending); !strings.Contains(string(b), started.WorkflowID) {
		t.Fatalf("carl's pending list: %s", b)
	}
	structured(t, carl, "approve_deployment", map[string]any{"workflow_id": started.WorkflowID, "request_hash": started.RequestHash,
		"comment": "core NTP, approved"}, nil)
	wait(deploy.StateCompleted)

	// As a task.
	ninaTok, err := s.Token("nina")
	if err != nil {
		t.Fatal(err)
	}
	call, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "task-1", "method": "tools/call", "params": map[string]any{
		"name": "start_deployment", "task": map[string]any{"ttl": 60000}, "arguments": map[string]any{
			"template_id": template, "template_version": 2, "device_ids": []string{core},
			"parameters":    map[string]any{"ntp_primary": "10.0.0.3", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
			"change_window": map[string]any{"start": now.Add(-time.Minute).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)},
			"summary":       "NTP servers for the core, as a task"}}})
	resp, body := post(t, s.ServerURL("deployments"), map[string]string{"Authorization": "Bearer " + ninaTok,
		"MCP-Protocol-Version": "2025-11-25"}, string(call))
	var created struct {
		Result struct {
			Task mcp.Task `json:"task"`
		} `json:"result"`
	}
	// The edge hands out the task id bound to nina; inside it is the workflow's id.
	if err := json.Unmarshal(body, &created); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(created.Result.Task.TaskId, "gh1.") ||
		deploy.CheckID(kit.EdgeTaskID(created.Result.Task.TaskId)) != nil {
		t.Fatalf("task-augmented start: %d %s", resp.StatusCode, body)
	}
	taskID := created.Result.Task.TaskId
	workflowID := kit.EdgeTaskID(taskID)
	ninaTasks := connectTo(t, s, "deployments", "nina", "2025-11-25")
	getTask := func(c *client.Client) (*mcp.GetTaskResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return c.GetTask(ctx, mcp.GetTaskRequest{Params: mcp.GetTaskParams{TaskId: taskID}})
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := getTask(ninaTasks)
		if err != nil {
			t.Fatalf("tasks/get by nina: %v", err)
		}
		if got.Status == mcp.TaskStatusWorking && strings.Contains(got.StatusMessage, "Waiting for") {
			break
		}
		if time.Now().After(deadline) || got.Status.IsTerminal() {
			t.Fatalf("task %s is %s, want working and waiting for approval: %s", taskID, got.Status, got.StatusMessage)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The task id is nina's alone: the approver, another user and the workflow's own id are
	// answered "Task not found" by the edge, before the adapter (approvers follow the
	// deployment with get_deployment instead).
	carlTasks := connectTo(t, s, "deployments", "carl", "2025-11-25")
	if got, err := getTask(carlTasks); err == nil || !strings.Contains(err.Error(), "Task not found") {
		t.Fatalf("tasks/get of nina's task by carl: %+v %v", got, err)
	}
	samTok, _ := s.Token("sam")
	for who, c := range map[string]struct{ tok, id string }{"sam": {samTok, taskID}, "nina with the raw workflow id": {ninaTok, workflowID}} {
		resp, body = post(t, s.ServerURL("deployments"), map[string]string{"Authorization": "Bearer " + c.tok, "MCP-Protocol-Version": "2025-11-25"},
			`{"jsonrpc":"2.0","id":"x-1","method":"tasks/get","params":{"taskId":"`+c.id+`"}}`)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"code":-32602`) || !strings.Contains(string(body), "Task not found") ||
			!strings.Contains(string(body), `"decision_id"`) {
			t.Fatalf("tasks/get by %s: %d %s", who, resp.StatusCode, body)
		}
	}
	ctx, cancelCalls := context.WithTimeout(context.Background(), time.Minute)
	defer cancelCalls()
	if _, err := carlTasks.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: taskID}}); err == nil ||
		!strings.Contains(err.Error(), "Task not found") {
		t.Fatalf("tasks/cancel of nina's task by carl: %v", err)
	}
	var view struct {
		RequestHash string `json:"request_hash"`
	}
	structured(t, nina, "get_deployment", map[string]any{"workflow_id": workflowID}, &view)
	structured(t, carl, "approve_deployment", map[string]any{"workflow_id": workflowID, "request_hash": view.RequestHash,
		"comment": "core NTP as a task, approved"}, nil)
	res, err := ninaTasks.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: taskID}})
	if b, _ := json.Marshal(res); err != nil || res.IsError || !strings.Contains(string(b), `"state":"completed"`) {
		t.Fatalf("tasks/result: %s %v", b, err)
	}
	if got, err := getTask(ninaTasks); err != nil || got.Status != mcp.TaskStatusCompleted {
		t.Fatalf("tasks/get after the end: %+v %v", got, err)
	}

	// MCP 2026-07-28 with the tasks extension: the server answers with a flat task, whose id
	// the edge binds too.
	modern := func(tok, method, name string, params map[string]any) map[string]any {
		t.Helper()
		params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28",
			"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{"io.modelcontextprotocol/tasks": map[string]any{}}}}
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "m-1", "method": method, "params": params})
		h := map[string]string{"Authorization": "Bearer " + tok, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method, "Accept": "application/json"}
		if name != "" {
			h["Mcp-Name"] = name
		}
		resp, body := post(t, s.ServerURL("deployments"), h, string(b))
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s (2026-07-28): %d %s", method, resp.StatusCode, body)
		}
		return out
	}
	started2 := modern(ninaTok, "tools/call", "start_deployment", map[string]any{"name": "start_deployment", "arguments": map[string]any{
		"template_id": template, "template_version": 2, "device_ids": []string{core},
		"parameters":    map[string]any{"ntp_primary": "10.0.0.5", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
		"change_window": map[string]any{"start": now.Add(-time.Minute).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)},
		"summary":       "NTP servers for the core, a 2026-07-28 task"}})
	result2, _ := started2["result"].(map[string]any)
	modernID, _ := result2["taskId"].(string)
	if result2["resultType"] != "task" || !strings.HasPrefix(modernID, "gh1.") || deploy.CheckID(kit.EdgeTaskID(modernID)) != nil {
		t.Fatalf("2026-07-28 task-augmented start: %v", started2)
	}
	got2 := modern(ninaTok, "tasks/get", "", map[string]any{"taskId": modernID})
	if r, _ := got2["result"].(map[string]any); r == nil || r["taskId"] != modernID {
		t.Fatalf("2026-07-28 tasks/get by nina: %v", got2)
	}
	if e, _ := modern(samTok, "tasks/get", "", map[string]any{"taskId": modernID})["error"].(map[string]any); e == nil ||
		!strings.Contains(fmt.Sprint(e["message"]), "Task not found") {
		t.Fatalf("2026-07-28 tasks/get of nina's task by sam: %v", e)
	}

	// Over REST: 202 with the task's path to poll; the same people may poll it as over MCP.
	carlTok, _ := s.Token("carl")
	adminTok, _ := s.Token("admin")
	args := map[string]any{
		"template_id": template, "template_version": 2, "device_ids": []string{core},
		"parameters":    map[string]any{"ntp_primary": "10.0.0.4", "ntp_secondary": "10.0.0.2", "timezone": "UTC"},
		"change_window": map[string]any{"start": now.Add(-time.Minute).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)},
		"summary":       "NTP servers for the core, over REST"}
	a := callREST(t, s, ninaTok, "deployments", "start_deployment", args)
	loc := a.header.Get("Location")
	if a.status != 202 || a.body["status"] != "accepted" || !strings.HasPrefix(loc, "/api/v1/mcp/deployments/tasks/deploy-") ||
		a.header.Get("Retry-After") == "" {
		t.Fatalf("REST start: %d %v %s", a.status, a.header, a.raw)
	}
	poll := func(token string) restAnswer { return rest(t, "GET", s.EdgeURL+loc, token, nil, "", "") }
	if p := poll(ninaTok); p.status != 200 || p.header.Get("Retry-After") == "" || p.body["status"] != "working" {
		t.Fatalf("nina polls: %d %v %s", p.status, p.header, p.raw)
	}
	if p := poll(samTok); p.status != 403 || !strings.Contains(p.raw, "tasks/get") {
		t.Fatalf("sam polls: %d %s", p.status, p.raw)
	}
	if p := rest(t, "DELETE", s.EdgeURL+loc, carlTok, nil, "", ""); p.status != 403 || !strings.Contains(p.raw, "tasks/cancel") {
		t.Fatalf("carl cancels over REST (approvers reject instead): %d %s", p.status, p.raw)
	}
	if p := rest(t, "GET", s.EdgeURL+"/api/v1/mcp/deployments/tasks/deploy-0123456789abcdef-0123456789ab", ninaTok, nil, "", ""); p.status != 404 {
		t.Fatalf("an unknown task: %d %s", p.status, p.raw)
	}
	var restView struct {
		WorkflowID  string `json:"workflow_id"`
		RequestHash string `json:"request_hash"`
		State       string `json:"state"`
	}
	for deadline := time.Now().Add(60 * time.Second); restView.State != string(deploy.StateAwaitingApproval); time.Sleep(200 * time.Millisecond) {
		structured(t, nina, "get_deployment", map[string]any{"workflow_id": strings.TrimPrefix(loc, "/api/v1/mcp/deployments/tasks/")}, &restView)
		if time.Now().After(deadline) {
			t.Fatalf("REST deployment is %s", restView.State)
		}
	}
	if p := poll(carlTok); p.status != 200 || p.body["status"] != "working" || !strings.Contains(p.raw, "approve_deployment") {
		t.Fatalf("carl polls the deployment awaiting his approval: %d %s", p.status, p.raw)
	}
	if a := callREST(t, s, carlTok, "deployments", "approve_deployment", map[string]any{"workflow_id": restView.WorkflowID,
		"request_hash": restView.RequestHash, "comment": "over REST, approved"}); a.status != 200 {
		t.Fatalf("carl approves over REST: %d %s", a.status, a.raw)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		p := poll(ninaTok)
		if p.body["status"] == "completed" {
			result, _ := p.body["result"].(map[string]any)
			if p.status != 200 || result["state"] != "completed" || p.header.Get("Retry-After") != "" {
				t.Fatalf("the ended task over REST: %d %v %s", p.status, p.header, p.raw)
			}
			break
		}
		if time.Now().After(deadline) || p.status != 200 {
			t.Fatalf("polling over REST: %d %s", p.status, p.raw)
		}
	}
	// An admin (the policy's "all" scope, write on every server) may poll and cancel any task;
	// this one has ended, so cancelling it is a conflict.
	if p := poll(adminTok); p.status != 200 {
		t.Fatalf("admin polls: %d %s", p.status, p.raw)
	}
	if p := rest(t, "DELETE", s.EdgeURL+loc, adminTok, nil, "", ""); p.status != 409 || !strings.Contains(p.raw, "terminal") {
		t.Fatalf("admin cancels an ended task: %d %s", p.status, p.raw)
	}
	// nina may cancel her own task (the edge lets her, as for cancel_deployment); it has ended.
	if p := rest(t, "DELETE", s.EdgeURL+loc, ninaTok, nil, "", ""); p.status != 409 || !strings.Contains(p.raw, "terminal") {
		t.Fatalf("nina cancels her ended task: %d %s", p.status, p.raw)
	}
}
