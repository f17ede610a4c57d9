package deployments_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// MCP tasks against a real Temporal server, a real worker and both simulators, through two
// adapter replicas (each its own kit server and Temporal client): a task one replica created
// is read, waited on and canceled through the other. Skips unless GATEHOUSE_TEMPORAL_BIN is
// set.
func TestTasksAgainstTemporal(t *testing.T) {
	srv := devserver.Start(t, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	const queue = "deployments-tasks"
	sim.StartWorker(t, srv.Address, srv.Namespace, queue, zerolog.Nop())
	var replicas []string
	for range 2 {
		dc := deploy.NewClient(srv.Client(t, nil), queue)
		dc.Timeouts = deploy.Timeouts{Heartbeat: 2 * time.Second, Retry: 200 * time.Millisecond}
		replicas = append(replicas, serveTasks(t, dc, deployments.TaskOptions{}))
	}
	for i, version := range revisions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			tasksAtWork(t, sim, replicas, version, i)
		})
	}
}

// taskWork is one revision's run: its people, requests and clients.
type taskWork struct {
	t        *testing.T
	sim      *deploytest.Env
	replicas []string
	version  string
	n        int
	window   map[string]any
}

func (w *taskWork) person(name string, roles ...string) person {
	sub := fmt.Sprintf("%s-t%d", name, w.n)
	return person{subject: sub, email: sub + "@gatehouse.example", roles: roles}
}

// ntp is the NTP server of deployment k of this run (to find it in the simulator).
func (w *taskWork) ntp(k int) string { return fmt.Sprintf("10.%d.%d.1", 120+w.n, k) }

func (w *taskWork) request(k int, hosts ...string) map[string]any {
	var ids []string
	for _, h := range hosts {
		ids = append(ids, w.sim.Devices[h])
	}
	return map[string]any{
		"template_id": w.sim.Templates["NTP-Servers"], "template_version": 2,
		"parameters": map[string]any{"ntp_primary": w.ntp(k), "ntp_secondary": "10.0.0.2"},
		"device_ids": ids, "change_window": w.window, "summary": "NTP servers " + w.ntp(k),
	}
}

// raw is p's JSON-RPC client of replica i, with the headers the edge sets (and the policy's
// approval requirement, when appr is not empty).
func (w *taskWork) raw(p person, i int, appr string) rawClient {
	h := identity(p.subject, p.roles...)
	if appr != "" {
		h = withApproval(h, appr)
	}
	return rawClient{url: w.replicas[i], version: w.version, headers: h, ext: true}
}

// start starts a deployment as a task through replica 0.
func (w *taskWork) start(p person, args map[string]any, appr deployments.ApprovalHeader) taskJSON {
	w.t.Helper()
	b, _ := json.Marshal(appr)
	tk := w.raw(p, 0, string(b)).call(w.t, "tools/call", map[string]any{"name": "start_deployment", "arguments": args,
		"task": map[string]any{"ttl": 60000}}).created(w.t, w.version)
	if err := deploy.CheckID(tk.TaskID); err != nil {
		w.t.Fatalf("the task id is not a workflow id: %v", err)
	}
	if _, err := time.Parse(time.RFC3339, tk.CreatedAt); err != nil || tk.Status != "working" {
		w.t.Fatalf("created: %+v (%v)", tk, err)
	}
	return tk
}

// waitTask polls tasks/get (2026-07-28, raw) until the task has status want.
func (w *taskWork) waitTask(c rawClient, id, want string) taskJSON {
	w.t.Helper()
	var tk taskJSON
	waitFor(w.t, 40*time.Second, fmt.Sprintf("task %s to be %s", id, want), func() bool {
		tk = c.call(w.t, "tasks/get", map[string]any{"taskId": id}).task(w.t)
		if terminal := tk.Status == "completed" || tk.Status == "failed" || tk.Status == "cancelled"; terminal && tk.Status != want {
			w.t.Fatalf("task %s ended %s, want %s: %s", id, tk.Status, want, tk.StatusMessage)
		}
		if want == awaiting {
			return tk.Status == "working" && strings.Contains(tk.StatusMessage, "Waiting for")
		}
		return tk.Status == want
	})
	return tk
}

// awaiting is the wait helpers' name for a task that is working and waiting for approval.
const awaiting = "awaiting approval"

// getTask is mcp-go's tasks/get (2025-11-25).
func getTask(a *agent, id string) (*mcp.GetTaskResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return a.c.GetTask(ctx, mcp.GetTaskRequest{Params: mcp.GetTaskParams{TaskId: id}})
}

func (w *taskWork) waitGet(a *agent, id string, want mcp.TaskStatus) *mcp.GetTaskResult { // want may be awaiting
	w.t.Helper()
	var got *mcp.GetTaskResult
	waitFor(w.t, 40*time.Second, fmt.Sprintf("task %s to be %s", id, want), func() bool {
		var err error
		if got, err = getTask(a, id); err != nil {
			w.t.Fatalf("tasks/get %s by %s: %v", id, a.subject, err)
		}
		if got.Status.IsTerminal() && got.Status != want {
			w.t.Fatalf("task %s ended %s, want %s: %s", id, got.Status, want, got.StatusMessage)
		}
		if want == awaiting {
			return got.Status == mcp.TaskStatusWorking && strings.Contains(got.StatusMessage, "Waiting for")
		}
		return got.Status == want
	})
	return got
}

func notFoundErr(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), "Task not found") {
		t.Errorf("%s: %v, want -32602 Task not found", what, err)
	}
}

func tasksAtWork(t *testing.T, sim *deploytest.Env, replicas []string, version string, n int) {
	now := time.Now().UTC().Truncate(time.Second)
	w := &taskWork{t: t, sim: sim, replicas: replicas, version: version, n: n,
		window: map[string]any{"start": now.Add(-time.Hour).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)}}
	switch version {
	case "2025-06-18":
		w.legacyUnchanged()
	case "2025-11-25":
		w.tasks20251125()
	case "2026-07-28":
		w.tasks20260728()
	}
}

// 2025-06-18 is as before: no tasks; params.task is ignored and the call answers as always.
func (w *taskWork) legacyUnchanged() {
	t := w.t
	nina := w.person("nina", "network-engineers")
	c := w.raw(nina, 0, `{"required":false}`)
	var res finalResult
	r := c.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": w.request(1, "lon-b1-acc-01"),
		"task": map[string]any{"ttl": 60000}})
	r.decode(t, &res)
	if res.IsError || deploy.CheckID(res.StructuredContent.WorkflowID) != nil || strings.Contains(string(r.Result), `"task"`) {
		t.Fatalf("2025-06-18 start: %s", r.Result)
	}
	c.call(t, "tasks/get", map[string]any{"taskId": res.StructuredContent.WorkflowID}).refused(t, http.StatusOK, mcp.METHOD_NOT_FOUND, "tasks")
	connect(t, w.replicas[0], w.version, nina).waitState(t, res.StructuredContent.WorkflowID, deploy.StateCompleted)
}

func (w *taskWork) tasks20251125() {
	t := w.t
	ninaP, samP, daveP := w.person("nina", "network-engineers"), w.person("sam", "network-engineers"), w.person("dave", "change-approvers")
	ninaA, ninaB := connect(t, w.replicas[0], w.version, ninaP), connect(t, w.replicas[1], w.version, ninaP)
	sam, dave := connect(t, w.replicas[0], w.version, samP), connect(t, w.replicas[1], w.version, daveP)
	oneApprover := deployments.ApprovalHeader{Required: true, Approvers: 1, Role: "change-approvers", TimeoutSeconds: 3600,
		Reasons: []string{"it changes core devices (lon-b1-core-01)"}}

	// Approval needed: working while it waits, then completed once an approver approves.
	tk := w.start(ninaP, w.request(1, "lon-b1-core-01"), oneApprover)
	if tk.TTL != nil || tk.PollInterval == nil || !strings.Contains(fmt.Sprint(tk.Meta[mcp.ModelImmediateResponseMetaKey]), "core devices") {
		t.Errorf("created: %+v", tk)
	}
	id := tk.TaskID
	if st := ninaA.get(t, id); st.WorkflowID != id { // the task id is the workflow id
		t.Fatalf("get_deployment %s: %+v", id, st)
	}
	onA := w.waitGet(ninaA, id, awaiting)
	if !strings.Contains(onA.StatusMessage, "Waiting for 1 approval from the role change-approvers") || onA.CreatedAt != tk.CreatedAt {
		t.Errorf("tasks/get: %+v", onA)
	}
	// Any replica answers.
	if onB, err := getTask(ninaB, id); err != nil || onB.Status != mcp.TaskStatusWorking || onB.CreatedAt != tk.CreatedAt {
		t.Errorf("tasks/get on the other replica: %+v %v", onB, err)
	}
	// Someone else's task does not exist for them; an approver sees it but does not cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := getTask(sam, id)
	notFoundErr(t, err, "tasks/get by another engineer")
	_, unknown := getTask(sam, deploy.WorkflowID(strings.Repeat("cd", 32), "0123456789ab"))
	if err == nil || unknown == nil || err.Error() != unknown.Error() {
		t.Errorf("another person's task and an unknown one read differently: %v / %v", err, unknown)
	}
	_, err = sam.c.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: id}})
	notFoundErr(t, err, "tasks/cancel by another engineer")
	_, err = sam.c.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: id}})
	notFoundErr(t, err, "tasks/result by another engineer")
	if got, err := getTask(dave, id); err != nil || got.Status != mcp.TaskStatusWorking || !strings.Contains(got.StatusMessage, "approve_deployment") {
		t.Errorf("tasks/get by the approver: %+v %v", got, err)
	}
	if _, err := dave.c.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: id}}); !errors.Is(err, mcp.ErrInvalidParams) ||
		!strings.Contains(err.Error(), "only the requester") {
		t.Errorf("tasks/cancel by the approver: %v", err)
	}
	// tasks/result waits on one replica while the approver approves on the other.
	type outcome struct {
		res *mcp.TaskResultResult
		err error
	}
	waited := make(chan outcome, 1)
	go func() {
		res, err := ninaB.c.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: id}})
		waited <- outcome{res, err}
	}()
	time.Sleep(200 * time.Millisecond)
	dave.call(t, "approve_deployment", map[string]any{"workflow_id": id, "request_hash": ninaA.get(t, id).RequestHash,
		"comment": "approved as a task"}, nil)
	o := <-waited
	if o.err != nil {
		t.Fatalf("tasks/result: %v", o.err)
	}
	var final struct {
		WorkflowID string       `json:"workflow_id"`
		State      deploy.State `json:"state"`
	}
	b, _ := json.Marshal(o.res.StructuredContent)
	_ = json.Unmarshal(b, &final)
	related, _ := json.Marshal(o.res.Meta.AdditionalFields[mcp.RelatedTaskMetaKey])
	if o.res.IsError || final.WorkflowID != id || final.State != deploy.StateCompleted || string(related) != `{"taskId":"`+id+`"}` {
		t.Errorf("tasks/result: %+v %s", o.res, b)
	}
	if got := w.waitGet(ninaA, id, mcp.TaskStatusCompleted); got.TTL == nil || *got.TTL < (24*time.Hour).Milliseconds() || got.PollInterval != nil {
		t.Errorf("completed: %+v", got)
	}
	if deps := w.sim.DeploymentsOf("ntp_primary", w.ntp(1)); len(deps) != 1 {
		t.Errorf("%d deployments", len(deps))
	}

	// The requester cancels: cancelled at once; nothing is deployed.
	tk2 := w.start(ninaP, w.request(2, "nyc-hq-dist-01"), oneApprover)
	w.waitGet(ninaB, tk2.TaskID, awaiting)
	canceled, err := ninaB.c.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: tk2.TaskID}})
	if err != nil || canceled.Status != mcp.TaskStatusCancelled || !strings.Contains(canceled.StatusMessage, "Canceled by "+ninaP.subject) {
		t.Fatalf("tasks/cancel: %+v %v", canceled, err)
	}
	if got, err := getTask(ninaA, tk2.TaskID); err != nil || got.Status != mcp.TaskStatusCancelled {
		t.Errorf("after tasks/cancel: %+v %v", got, err)
	}
	// The task is terminal at once, so tasks/result answers at once (while the workflow still
	// cancels the change request), not when the workflow ends.
	res, err := ninaA.c.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: tk2.TaskID}})
	b, _ = json.Marshal(res.StructuredContent)
	if err != nil || !res.IsError || !strings.Contains(string(b), "Canceled by "+ninaP.subject) {
		t.Errorf("tasks/result of the canceled task: %+v %s %v", res, b, err)
	}
	if _, err := ninaA.c.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: tk2.TaskID}}); !errors.Is(err, mcp.ErrInvalidParams) ||
		!strings.Contains(err.Error(), "terminal status 'cancelled'") {
		t.Errorf("tasks/cancel again: %v", err)
	}
	// The workflow goes on to cancel the change request after the task is cancelled.
	var changes []map[string]string
	waitFor(t, 40*time.Second, "the canceled deployment's change to be canceled", func() bool {
		changes = w.sim.Changes(t, tk2.TaskID)
		return len(changes) == 1 && changes[0]["state"] == "4"
	})
	if len(w.sim.DeploymentsOf("ntp_primary", w.ntp(2))) != 0 {
		t.Errorf("canceled: changes %v, and something was deployed", changes)
	}

	// A deployment that fails (no such template version): failed, and an isError result.
	args := w.request(3, "lon-b1-acc-01")
	args["template_version"] = 99
	tk3 := w.start(ninaP, args, deployments.ApprovalHeader{})
	res, err = ninaB.c.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: tk3.TaskID}})
	b, _ = json.Marshal(res.StructuredContent)
	if err != nil || !res.IsError || !strings.Contains(string(b), `"state":"failed"`) {
		t.Errorf("tasks/result of the failed task: %+v %s %v", res, b, err)
	}
	if got, err := getTask(ninaA, tk3.TaskID); err != nil || got.Status != mcp.TaskStatusFailed || !strings.HasPrefix(got.StatusMessage, "Failed: ") {
		t.Errorf("failed: %+v %v", got, err)
	}
}

func (w *taskWork) tasks20260728() {
	t := w.t
	ninaP, samP, daveP := w.person("nina", "network-engineers"), w.person("sam", "network-engineers"), w.person("dave", "change-approvers")
	ninaA, ninaB, sam := w.raw(ninaP, 0, ""), w.raw(ninaP, 1, ""), w.raw(samP, 0, "")
	oneApprover := deployments.ApprovalHeader{Required: true, Approvers: 1, Role: "change-approvers", TimeoutSeconds: 3600,
		Reasons: []string{"its change window is not inside a standard change window"}}

	var disc struct {
		Capabilities struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"capabilities"`
	}
	ninaA.call(t, "server/discover", nil).decode(t, &disc)
	if _, ok := disc.Capabilities.Extensions[deployments.TasksExtension]; !ok {
		t.Errorf("server/discover: %+v", disc)
	}

	tk := w.start(ninaP, w.request(1, "lon-b1-acc-01"), oneApprover)
	id := tk.TaskID
	if _, ok := tk.raw["ttlMs"]; !ok || tk.TTLMs != nil || tk.PollIntervalMs == nil {
		t.Errorf("created: %s", tk.raw)
	}
	got := w.waitTask(ninaA, id, awaiting)
	if got.InputRequests != nil || !strings.Contains(got.StatusMessage, "Waiting for 1 approval") {
		t.Errorf("awaiting approval: %+v", got)
	}
	if onB := ninaB.call(t, "tasks/get", map[string]any{"taskId": id}).task(t); onB.Status != "working" || onB.CreatedAt != got.CreatedAt {
		t.Errorf("tasks/get on the other replica: %+v", onB)
	}
	sam.call(t, "tasks/get", map[string]any{"taskId": id}).refused(t, http.StatusBadRequest, mcp.INVALID_PARAMS, "Task not found")
	sam.call(t, "tasks/cancel", map[string]any{"taskId": id}).refused(t, http.StatusBadRequest, mcp.INVALID_PARAMS, "Task not found")
	noExt := ninaA
	noExt.ext = false
	noExt.call(t, "tasks/get", map[string]any{"taskId": id}).refused(t, http.StatusBadRequest, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, "tasks")
	ninaA.call(t, "tasks/result", map[string]any{"taskId": id}).refused(t, http.StatusNotFound, mcp.METHOD_NOT_FOUND, "tasks/get returns the result")

	dave := connect(t, w.replicas[1], w.version, daveP)
	dave.call(t, "approve_deployment", map[string]any{"workflow_id": id, "request_hash": dave.get(t, id).RequestHash}, nil)
	got = w.waitTask(ninaB, id, "completed")
	var res finalResult
	if got.Result == nil || json.Unmarshal(*got.Result, &res) != nil || res.IsError || res.StructuredContent.State != deploy.StateCompleted ||
		got.TTLMs == nil || got.PollIntervalMs != nil {
		t.Errorf("completed: %s", got.raw)
	}

	// Without the extension the call answers as always; with it, the requester cancels.
	var plain finalResult
	noExtStart := noExt
	noExtStart.headers = withApproval(identity(ninaP.subject, ninaP.roles...), `{"required":false}`)
	noExtStart.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": w.request(2, "lon-b1-acc-01")}).decode(t, &plain)
	if plain.IsError || deploy.CheckID(plain.StructuredContent.WorkflowID) != nil {
		t.Errorf("a start without the extension: %+v", plain)
	}
	tk2 := w.start(ninaP, w.request(3, "nyc-hq-dist-01"), oneApprover)
	w.waitTask(ninaA, tk2.TaskID, awaiting)
	if ack := ninaB.call(t, "tasks/cancel", map[string]any{"taskId": tk2.TaskID}); string(ack.Result) != `{"resultType":"complete"}` {
		t.Errorf("tasks/cancel: %s %+v", ack.Result, ack.Error)
	}
	if got := ninaA.call(t, "tasks/get", map[string]any{"taskId": tk2.TaskID}).task(t); got.Status != "cancelled" || got.Result != nil {
		t.Errorf("after tasks/cancel: %s", got.raw)
	}
	if len(w.sim.DeploymentsOf("ntp_primary", w.ntp(3))) != 0 {
		t.Error("the canceled deployment deployed")
	}
}
