package deployments_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
)

// MCP tasks without Temporal: the protocol's shapes and refusals, over a fake Temporal.
// realtasks_test.go runs the same against a real one.

// fakeTemporal keeps deployments in memory; a test moves them along with set.
type fakeTemporal struct {
	mu      sync.Mutex
	n       int
	st      map[string]deploy.Status
	changed chan struct{} // closed and replaced on every change
	cancels []deploy.Cancellation
	waiting atomic.Int32 // Result calls blocked
}

func (f *fakeTemporal) init() {
	if f.st == nil {
		f.st = map[string]deploy.Status{}
		f.changed = make(chan struct{})
	}
}

func (f *fakeTemporal) StartWithKey(_ context.Context, req deploy.Request, appr deploy.Approval, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.n++
	id := deploy.WorkflowID(req.Hash(), fmt.Sprintf("%012x", f.n))
	now := time.Now().UTC()
	st := deploy.Status{WorkflowID: id, State: deploy.StateValidating, Request: req, RequestHash: req.Hash(),
		Approval: appr, Started: now, Updated: now}
	if appr.Required {
		st.State, st.ApprovalDeadline = deploy.StateAwaitingApproval, now.Add(time.Hour)
	}
	f.st[id] = st
	return id, nil
}

func (f *fakeTemporal) Get(_ context.Context, id string) (deploy.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	st, ok := f.st[id]
	if !ok {
		return deploy.Status{}, fmt.Errorf("%w: %s", deploy.ErrUnknownDeployment, id)
	}
	return st, nil
}

func (f *fakeTemporal) Result(ctx context.Context, id string) (deploy.Status, error) {
	f.waiting.Add(1)
	defer f.waiting.Add(-1)
	for {
		f.mu.Lock()
		f.init()
		st, ok := f.st[id]
		changed := f.changed
		f.mu.Unlock()
		switch {
		case !ok:
			return deploy.Status{}, deploy.ErrUnknownDeployment
		case st.State.Terminal():
			return st, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return deploy.Status{}, ctx.Err()
		}
	}
}

func (f *fakeTemporal) Cancel(_ context.Context, id string, cn deploy.Cancellation) (deploy.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.st[id]
	switch {
	case !ok:
		return deploy.Status{}, deploy.ErrUnknownDeployment
	case st.State == deploy.StateDeploying:
		return deploy.Status{}, &deploy.RefusedError{Reason: "the deployment has already started on the devices; it can no longer be canceled"}
	case st.State.Terminal():
		return deploy.Status{}, deploy.ErrEnded
	}
	f.cancels = append(f.cancels, cn)
	st.Cancellation = &deploy.CancelRecord{Cancellation: cn, At: time.Now()}
	f.st[id] = st
	return st, nil
}

func (f *fakeTemporal) List(context.Context, deploy.Filter) (deploy.Page, error) {
	return deploy.Page{}, nil
}

func (f *fakeTemporal) Approve(context.Context, string, deploy.Decision) (deploy.Status, error) {
	return deploy.Status{}, errors.New("not in these tests")
}

func (f *fakeTemporal) Reject(context.Context, string, deploy.Decision) (deploy.Status, error) {
	return deploy.Status{}, errors.New("not in these tests")
}

// set changes a deployment and wakes Result.
func (f *fakeTemporal) set(id string, change func(*deploy.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st[id]
	change(&st)
	st.Updated = time.Now().UTC()
	f.st[id] = st
	close(f.changed)
	f.changed = make(chan struct{})
}

// rawClient speaks JSON-RPC over HTTP as an MCP client of one revision does, with the headers
// the edge sets on an allowed call.
type rawClient struct {
	url, version string
	headers      func() map[string]string
	ext          bool // 2026-07-28: declare the tasks extension in every request
	noHeader     bool // send no MCP-Protocol-Version (a 2025 initialize)
}

var rawIDs atomic.Int64

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type rpcReply struct {
	status      int
	contentType string
	events      []string        // SSE: every event's data, comments as ": text"
	Result      json.RawMessage `json:"result"`
	Error       *rpcError       `json:"error"`
}

func (c rawClient) call(t testing.TB, method string, params map[string]any) rpcReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := c.callCtx(ctx, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return r
}

func (c rawClient) callCtx(ctx context.Context, method string, params map[string]any) (rpcReply, error) {
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	if !c.noHeader {
		h.Set("MCP-Protocol-Version", c.version)
	}
	if c.version == "2026-07-28" {
		caps := map[string]any{}
		if c.ext {
			caps["extensions"] = map[string]any{deployments.TasksExtension: map[string]any{}}
		}
		p["_meta"] = map[string]any{mcp.MetaKeyProtocolVersion: c.version, mcp.MetaKeyClientCapabilities: caps}
		h.Set("Mcp-Method", method)
		if name, ok := p["name"].(string); ok && method == "tools/call" {
			h.Set("Mcp-Name", name)
		}
	}
	if c.headers != nil {
		for k, v := range c.headers() {
			h.Set(k, v)
		}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": rawIDs.Add(1), "method": method, "params": p})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return rpcReply{}, err
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rpcReply{}, err
	}
	defer resp.Body.Close()
	out := rpcReply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, err
	}
	if strings.HasPrefix(out.contentType, "text/event-stream") {
		var data []string
		sc := bufio.NewScanner(bytes.NewReader(msg))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				out.events = append(out.events, line)
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimSpace(strings.TrimPrefix(line, "data:")))
			case line == "" && len(data) > 0:
				out.events = append(out.events, strings.Join(data, "\n"))
				data = nil
			}
		}
		if len(out.events) == 0 {
			return out, fmt.Errorf("empty event stream")
		}
		msg = []byte(out.events[len(out.events)-1])
	}
	if err := json.Unmarshal(msg, &out); err != nil {
		return out, fmt.Errorf("HTTP %d %s: %w", resp.StatusCode, msg, err)
	}
	return out, nil
}

// decode decodes a reply's result into out, failing on an error reply.
func (r rpcReply) decode(t testing.TB, out any) {
	t.Helper()
	if r.Error != nil || r.Result == nil {
		t.Fatalf("HTTP %d, error %+v", r.status, r.Error)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		t.Fatalf("%s: %v", r.Result, err)
	}
}

// refused checks a reply is the JSON-RPC error code (and HTTP status) whose message has want.
func (r rpcReply) refused(t testing.TB, status, code int, want string) {
	t.Helper()
	if r.status != status || r.Error == nil || r.Error.Code != code || !strings.Contains(r.Error.Message, want) {
		t.Fatalf("want HTTP %d, error %d %q; got HTTP %d, %s, error %+v", status, code, want, r.status, r.Result, r.Error)
	}
}

// taskJSON is a Task in either revision's names.
type taskJSON struct {
	ResultType     string           `json:"resultType"`
	TaskID         string           `json:"taskId"`
	Status         string           `json:"status"`
	StatusMessage  string           `json:"statusMessage"`
	CreatedAt      string           `json:"createdAt"`
	LastUpdatedAt  string           `json:"lastUpdatedAt"`
	TTL            *int64           `json:"ttl"`
	PollInterval   *int64           `json:"pollInterval"`
	TTLMs          *int64           `json:"ttlMs"`
	PollIntervalMs *int64           `json:"pollIntervalMs"`
	InputRequests  *map[string]any  `json:"inputRequests"`
	Result         *json.RawMessage `json:"result"`
	Meta           map[string]any   `json:"_meta"`
	raw            map[string]json.RawMessage
}

func (r rpcReply) task(t testing.TB) taskJSON {
	t.Helper()
	var tk taskJSON
	r.decode(t, &tk)
	_ = json.Unmarshal(r.Result, &tk.raw)
	return tk
}

// created reads a 2025-11-25 CreateTaskResult ({"task": …}) or a 2026-07-28 one (flat).
func (r rpcReply) created(t testing.TB, version string) taskJSON {
	t.Helper()
	if version == "2026-07-28" {
		tk := r.task(t)
		if tk.ResultType != "task" {
			t.Fatalf("resultType %q, want task: %s", tk.ResultType, r.Result)
		}
		return tk
	}
	var out struct {
		Task json.RawMessage `json:"task"`
		Meta map[string]any  `json:"_meta"`
	}
	r.decode(t, &out)
	if out.Task == nil {
		t.Fatalf("no task in %s", r.Result)
	}
	tk := rpcReply{Result: out.Task}.task(t)
	tk.Meta = out.Meta
	return tk
}

// toolResultOf reads a CallToolResult's structured start result.
type finalResult struct {
	IsError           bool `json:"isError"`
	StructuredContent struct {
		WorkflowID string       `json:"workflow_id"`
		State      deploy.State `json:"state"`
		TaskStatus string       `json:"task_status"`
		Next       string       `json:"next"`
	} `json:"structuredContent"`
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
	Meta map[string]json.RawMessage `json:"_meta"`
}

func identity(sub string, roles ...string) func() map[string]string {
	var n atomic.Int64
	return func() map[string]string {
		return map[string]string{"X-Gatehouse-Subject": sub, "X-Gatehouse-Email": sub + "@gatehouse.example",
			"X-Gatehouse-Roles": strings.Join(roles, ","), "X-Gatehouse-Decision-Id": fmt.Sprintf("dec-%s-%d", sub, n.Add(1))}
	}
}

func withApproval(h func() map[string]string, appr string) func() map[string]string {
	return func() map[string]string {
		m := h()
		m["X-Gatehouse-Approval"] = appr
		return m
	}
}

const oneApproval = `{"required":true,"approvers":1,"role":"change-approvers","timeout_seconds":3600,"reasons":["a core device"]}`

func serveTasks(t *testing.T, c deployments.Client, o deployments.TaskOptions) string {
	t.Helper()
	s := kit.NewServer(kit.Options{Name: deployments.ServerName, Version: "test", Logger: zerolog.Nop()})
	deployments.Register(s, c)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(deployments.HandlerWith(s, o))
	t.Cleanup(ts.Close)
	return ts.URL + kit.Path
}

// What each revision advertises, and 2025-06-18 exactly as before: no tasks at all.
func TestTaskCapabilities(t *testing.T) {
	url := serve(t, untouchable{t}, false)
	caps := func(r rpcReply) map[string]json.RawMessage {
		t.Helper()
		var res struct {
			Capabilities map[string]json.RawMessage `json:"capabilities"`
		}
		r.decode(t, &res)
		return res.Capabilities
	}
	init := func(v string) rpcReply {
		return rawClient{url: url, version: v, noHeader: true}.call(t, "initialize", map[string]any{"protocolVersion": v,
			"capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "test", "version": "1"}})
	}
	if got := string(caps(init("2025-11-25"))["tasks"]); got != `{"cancel":{},"requests":{"tools":{"call":{}}}}` {
		t.Errorf("2025-11-25 initialize: tasks capability %s", got)
	}
	for _, v := range []string{"2025-06-18", "2025-03-26"} {
		if c := caps(init(v)); c["tasks"] != nil || c["tools"] == nil {
			t.Errorf("%s initialize: capabilities %v", v, c)
		}
	}
	discover := rawClient{url: url, version: "2026-07-28"}.call(t, "server/discover", nil)
	if c := caps(discover); string(c["extensions"]) != `{"io.modelcontextprotocol/tasks":{}}` || c["tasks"] != nil {
		t.Errorf("2026-07-28 server/discover: capabilities %v", c)
	}

	// 2025-06-18: tasks/* and a task-augmented call are mcp-go's, as before.
	old := rawClient{url: url, version: "2025-06-18", headers: identity("nina", "network-engineers")}
	old.call(t, "tasks/get", map[string]any{"taskId": deploy.WorkflowID(strings.Repeat("ab", 32), "0123456789ab")}).
		refused(t, http.StatusOK, mcp.METHOD_NOT_FOUND, "tasks")
	withoutApproval := old.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": validStart,
		"task": map[string]any{"ttl": 60000}})
	var res finalResult
	withoutApproval.decode(t, &res)
	if !res.IsError || !strings.Contains(res.Content[0].Text, "x-gatehouse-approval") {
		t.Errorf("2025-06-18 task-augmented start: %s", withoutApproval.Result)
	}
}

// The refusals that never reach Temporal.
func TestTaskRefusals(t *testing.T) {
	url := serve(t, untouchable{t}, false)
	nina := identity("nina", "network-engineers")
	v1 := rawClient{url: url, version: "2025-11-25", headers: nina}
	v2 := rawClient{url: url, version: "2026-07-28", headers: nina, ext: true}
	someID := deploy.WorkflowID(strings.Repeat("ab", 32), "0123456789ab")

	v1.call(t, "tasks/list", nil).refused(t, http.StatusOK, mcp.METHOD_NOT_FOUND, "list_my_deployments")
	v2.call(t, "tasks/list", nil).refused(t, http.StatusNotFound, mcp.METHOD_NOT_FOUND, "does not exist in the tasks extension")
	v2.call(t, "tasks/result", map[string]any{"taskId": someID}).refused(t, http.StatusNotFound, mcp.METHOD_NOT_FOUND,
		"tasks/get returns the result")
	noExt := v2
	noExt.ext = false
	r := noExt.call(t, "tasks/get", map[string]any{"taskId": someID})
	r.refused(t, http.StatusBadRequest, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, deployments.TasksExtension)
	if string(r.Error.Data) != `{"requiredCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}` {
		t.Errorf("-32021 data: %s", r.Error.Data)
	}
	noExt.call(t, "tasks/cancel", map[string]any{"taskId": someID}).refused(t, http.StatusBadRequest,
		mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, "tasks extension")

	// Ids that are not deployment ids, a missing id, no identity.
	for _, c := range []rawClient{v1, v2} {
		status := map[string]int{"2025-11-25": http.StatusOK, "2026-07-28": http.StatusBadRequest}[c.version]
		for _, m := range []string{"tasks/get", "tasks/cancel"} {
			for _, id := range []string{"gatehouse-worker-cron", "deploy-0123", someID + "/../x"} {
				c.call(t, m, map[string]any{"taskId": id}).refused(t, status, mcp.INVALID_PARAMS, "Task not found")
			}
			c.call(t, m, map[string]any{}).refused(t, status, mcp.INVALID_PARAMS, "requires params.taskId")
			anon := c
			anon.headers = nil
			anon.call(t, m, map[string]any{"taskId": someID}).refused(t, status, mcp.INVALID_REQUEST, "no caller identity")
		}
	}
	v1.call(t, "tasks/result", map[string]any{"taskId": "nope"}).refused(t, http.StatusOK, mcp.INVALID_PARAMS, "Task not found")
	// 2026-07-28 routes by Mcp-Name: when sent, it names the task.
	named := v2
	named.headers = func() map[string]string { h := nina(); h["Mcp-Name"] = "deploy-other"; return h }
	named.call(t, "tasks/get", map[string]any{"taskId": someID}).refused(t, http.StatusBadRequest, mcp.HEADER_MISMATCH, "Mcp-Name")

	// Only start_deployment is a task; a start that starts nothing answers as the tool does.
	v1.call(t, "tools/call", map[string]any{"name": "get_deployment", "arguments": map[string]any{"workflow_id": someID},
		"task": map[string]any{}}).refused(t, http.StatusOK, mcp.METHOD_NOT_FOUND, "cannot be called as a task")
	v1.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": validStart, "task": true}).
		refused(t, http.StatusOK, mcp.INVALID_PARAMS, "params.task must be an object")
	for _, c := range []rawClient{v1, v2} {
		var res finalResult
		c.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": validStart, "task": map[string]any{}}).decode(t, &res)
		if !res.IsError || !strings.Contains(res.Content[0].Text, "x-gatehouse-approval") {
			t.Errorf("%s: a start without the policy's approval requirement: %+v", c.version, res)
		}
	}
}

// A task's life over the fake Temporal, on both revisions: shapes, statuses, ownership.
func TestTaskLifecycle(t *testing.T) {
	restore := deployments.SetKeepAlive(20 * time.Millisecond)
	defer restore()
	f := &fakeTemporal{}
	stop := make(chan struct{})
	url := serveTasks(t, f, deployments.TaskOptions{Retention: time.Hour, Stop: stop})
	nina := identity("nina", "network-engineers")
	start := map[string]any{"name": "start_deployment", "arguments": validStart, "task": map[string]any{"ttl": 1000}}

	for _, v := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			modern := v == "2026-07-28"
			ninaC := rawClient{url: url, version: v, headers: withApproval(nina, oneApproval), ext: true}
			sam := rawClient{url: url, version: v, headers: identity("sam", "network-engineers"), ext: true}
			dave := rawClient{url: url, version: v, headers: identity("dave", "change-approvers"), ext: true}
			admin := rawClient{url: url, version: v, headers: func() map[string]string {
				h := identity("root", "admin")()
				h["X-Gatehouse-Deployments-Scope"] = "all"
				return h
			}, ext: true}
			notFound := map[bool]int{false: http.StatusOK, true: http.StatusBadRequest}[modern]

			created := ninaC.call(t, "tools/call", start).created(t, v)
			st, err := f.Get(context.Background(), created.TaskID)
			if err != nil || created.Status != "working" || created.CreatedAt != st.Started.Format("2006-01-02T15:04:05.000Z07:00") {
				t.Fatalf("created %+v (%v)", created, err)
			}
			ttl, poll := created.TTL, created.PollInterval
			if modern {
				ttl, poll = created.TTLMs, created.PollIntervalMs
				if _, ok := created.raw["ttlMs"]; !ok {
					t.Error("ttlMs is missing (null while running)")
				}
			} else if _, ok := created.raw["ttl"]; !ok {
				t.Error("ttl is missing (null while running)")
			}
			if ttl != nil || poll == nil || *poll != 30000 {
				t.Errorf("running: ttl %v, poll interval %v", ttl, poll)
			}
			if !strings.Contains(fmt.Sprint(created.Meta[mcp.ModelImmediateResponseMetaKey]), "a core device") {
				t.Errorf("the model is not told why approval is needed: %v", created.Meta)
			}
			id := created.TaskID
			get := func(c rawClient) rpcReply { return c.call(t, "tasks/get", map[string]any{"taskId": id}) }

			tk := get(ninaC).task(t)
			// Waiting for approval is working: the approvers are other people, so nothing is
			// asked of this client (input_required would send it to tasks/result for input).
			if tk.Status != "working" || !strings.Contains(tk.StatusMessage, "Waiting for 1 approval from the role change-approvers") {
				t.Errorf("tasks/get: %+v", tk)
			}
			if modern && (tk.ResultType != "complete" || tk.InputRequests != nil) {
				t.Errorf("2026-07-28 while waiting for approval: %+v", tk)
			}
			// Others: not found, in the words an unknown id gets.
			unknown := ninaC.call(t, "tasks/get", map[string]any{"taskId": deploy.WorkflowID(strings.Repeat("cd", 32), "0123456789ab")})
			for _, m := range []string{"tasks/get", "tasks/cancel", "tasks/result"} {
				if modern && m == "tasks/result" {
					continue
				}
				r := sam.call(t, m, map[string]any{"taskId": id})
				r.refused(t, notFound, mcp.INVALID_PARAMS, "Task not found")
				if r.Error.Message != unknown.Error.Message {
					t.Errorf("%s by a stranger says %q, an unknown id %q", m, r.Error.Message, unknown.Error.Message)
				}
			}
			if tk := get(dave).task(t); tk.Status != "working" || !strings.Contains(tk.StatusMessage, "approve_deployment") {
				t.Errorf("the approver's tasks/get: %+v", tk)
			}
			dave.call(t, "tasks/cancel", map[string]any{"taskId": id}).refused(t, notFound, mcp.INVALID_PARAMS, "only the requester")
			if tk := get(admin).task(t); tk.TaskID != id {
				t.Errorf("admin: %+v", tk)
			}

			// Completion: tasks/get inlines the result (2026-07-28); tasks/result waits for it
			// (2025-11-25), over SSE with keep-alive comments.
			var waited rpcReply
			var wg sync.WaitGroup
			if !modern {
				wg.Add(1)
				go func() {
					defer wg.Done()
					waited, err = ninaC.callCtx(context.Background(), "tasks/result", map[string]any{"taskId": id})
				}()
				waitFor(t, 5*time.Second, "tasks/result to wait", func() bool { return f.waiting.Load() > 0 })
				time.Sleep(100 * time.Millisecond) // a few keep-alive comments
			}
			f.set(id, func(st *deploy.Status) { st.State = deploy.StateCompleted })
			var res finalResult
			tk = get(ninaC).task(t)
			if modern {
				if tk.Status != "completed" || tk.Result == nil {
					t.Fatalf("completed: %+v", tk)
				}
				_ = json.Unmarshal(*tk.Result, &res)
			} else {
				wg.Wait()
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(waited.contentType, "text/event-stream") || len(waited.events) < 2 || !strings.HasPrefix(waited.events[0], ":") {
					t.Errorf("tasks/result: %s, events %q", waited.contentType, waited.events)
				}
				waited.decode(t, &res)
				if string(res.Meta[mcp.RelatedTaskMetaKey]) != `{"taskId":"`+id+`"}` {
					t.Errorf("tasks/result _meta: %v", res.Meta)
				}
			}
			if res.IsError || res.StructuredContent.WorkflowID != id || res.StructuredContent.State != deploy.StateCompleted {
				t.Errorf("result: %+v", res)
			}
			ttl, poll = tk.TTL, tk.PollInterval
			if modern {
				ttl, poll = tk.TTLMs, tk.PollIntervalMs
			}
			if tk.Status != "completed" || ttl == nil || *ttl < time.Hour.Milliseconds() || poll != nil {
				t.Errorf("ended: %+v ttl %v poll %v", tk, ttl, poll)
			}
			ninaC.call(t, "tasks/cancel", map[string]any{"taskId": id}).refused(t, notFound, mcp.INVALID_PARAMS, "terminal status 'completed'")

			// A failure: failed on 2025-11-25; on 2026-07-28 completed, with isError.
			failing := ninaC.call(t, "tools/call", start).created(t, v)
			f.set(failing.TaskID, func(st *deploy.Status) {
				st.State, st.LastError = deploy.StateFailed, "device lon-b1-core-01 is unreachable"
			})
			tk = ninaC.call(t, "tasks/get", map[string]any{"taskId": failing.TaskID}).task(t)
			if want := map[bool]string{false: "failed", true: "completed"}[modern]; tk.Status != want || tk.StatusMessage != "Failed: device lon-b1-core-01 is unreachable" {
				t.Errorf("failed: %+v", tk)
			}
			if !modern {
				ninaC.call(t, "tasks/result", map[string]any{"taskId": failing.TaskID}).decode(t, &res)
			} else {
				_ = json.Unmarshal(*tk.Result, &res)
			}
			if !res.IsError || res.StructuredContent.State != deploy.StateFailed {
				t.Errorf("failed result: %+v", res)
			}

			// Cancellation: by the requester, with her identity; cancelled at once.
			canceled := ninaC.call(t, "tools/call", start).created(t, v)
			c := ninaC.call(t, "tasks/cancel", map[string]any{"taskId": canceled.TaskID})
			if modern {
				if string(c.Result) != `{"resultType":"complete"}` {
					t.Errorf("2026-07-28 tasks/cancel: %s", c.Result)
				}
			} else if tk := c.task(t); tk.Status != "cancelled" || !strings.Contains(tk.StatusMessage, "Canceled by nina") {
				t.Errorf("tasks/cancel: %+v", tk)
			}
			if cn := f.cancels[len(f.cancels)-1]; cn.By.Subject != "nina" || cn.DecisionID == "" || cn.Reason == "" {
				t.Errorf("the cancellation sent: %+v", cn)
			}
			if tk := ninaC.call(t, "tasks/get", map[string]any{"taskId": canceled.TaskID}).task(t); tk.Status != "cancelled" || tk.Result != nil {
				t.Errorf("after tasks/cancel: %+v", tk)
			}
			ninaC.call(t, "tasks/cancel", map[string]any{"taskId": canceled.TaskID}).refused(t, notFound, mcp.INVALID_PARAMS, "terminal status 'cancelled'")

			// Once deploying, the workflow refuses; the refusal is the answer.
			deploying := ninaC.call(t, "tools/call", start).created(t, v)
			f.set(deploying.TaskID, func(st *deploy.Status) { st.State = deploy.StateDeploying })
			ninaC.call(t, "tasks/cancel", map[string]any{"taskId": deploying.TaskID}).refused(t, notFound, mcp.INVALID_PARAMS,
				"can no longer be canceled")
		})
	}

	// A waiting tasks/result ends when the adapter stops.
	nc := rawClient{url: url, version: "2025-11-25", headers: withApproval(nina, oneApproval)}
	waiting := nc.call(t, "tools/call", start).created(t, "2025-11-25")
	done := make(chan rpcReply, 1)
	go func() {
		r, _ := nc.callCtx(context.Background(), "tasks/result", map[string]any{"taskId": waiting.TaskID})
		done <- r
	}()
	waitFor(t, 5*time.Second, "tasks/result to wait", func() bool { return f.waiting.Load() > 0 })
	close(stop)
	select {
	case r := <-done:
		r.refused(t, http.StatusOK, mcp.INTERNAL_ERROR, "shutting down")
	case <-time.After(5 * time.Second):
		t.Fatal("tasks/result went on waiting after Stop")
	}
}

// mcp-go's client reads what tasks/get, tasks/result and tasks/cancel answer (2025-11-25).
func TestTasksWithMCPGoClient(t *testing.T) {
	f := &fakeTemporal{}
	url := serveTasks(t, f, deployments.TaskOptions{})
	nina := identity("nina", "network-engineers")
	raw := rawClient{url: url, version: "2025-11-25", headers: withApproval(nina, oneApproval)}
	id := raw.call(t, "tools/call", map[string]any{"name": "start_deployment", "arguments": validStart, "task": map[string]any{}}).
		created(t, "2025-11-25").TaskID
	c := kittest.Connect(t, url, "2025-11-25", nina())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := c.GetTask(ctx, mcp.GetTaskRequest{Params: mcp.GetTaskParams{TaskId: id}})
	if err != nil || got.Status != mcp.TaskStatusWorking || got.TaskId != id || got.PollInterval == nil {
		t.Fatalf("GetTask: %+v %v", got, err)
	}
	f.set(id, func(st *deploy.Status) { st.State = deploy.StateCompleted })
	res, err := c.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: id}})
	if err != nil || res.IsError || len(res.Content) != 1 || res.StructuredContent == nil {
		t.Fatalf("TaskResult: %+v %v", res, err)
	}
	if _, err := c.CancelTask(ctx, mcp.CancelTaskRequest{Params: mcp.CancelTaskParams{TaskId: id}}); !errors.Is(err, mcp.ErrInvalidParams) {
		t.Errorf("CancelTask of an ended task: %v", err)
	}
	other := kittest.Connect(t, url, "2025-11-25", identity("sam", "network-engineers")())
	if _, err := other.GetTask(ctx, mcp.GetTaskRequest{Params: mcp.GetTaskParams{TaskId: id}}); !errors.Is(err, mcp.ErrInvalidParams) ||
		!strings.Contains(err.Error(), "Task not found") {
		t.Errorf("GetTask by a stranger: %v", err)
	}
}
