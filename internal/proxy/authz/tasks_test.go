package authz_test

import (
	"encoding/json"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
)

// Task ids are bound to the caller they were issued to: the answers that carry them leave
// the edge with ids only that caller (for that server) can present again, and every other id
// — another caller's, another server's, the upstream's raw one, an altered one — is answered
// as an unknown task, in the same words, before it reaches the adapter.
func TestTaskIDsBoundToCaller(t *testing.T) {
	h := newHarness(t)
	nina := h.token(cc, "nina", []string{"network-engineers"})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_devices","arguments":{},"task":{"ttl":60000}}}`
	resp := h.check(mcpPost(cc, nina, call, "mcp-protocol-version", "2025-11-25"))
	meta := resp.GetDynamicMetadata()
	if resp.GetOkResponse() == nil || meta == nil {
		t.Fatalf("task-augmented call not allowed: %v", resp)
	}
	x := h.svc.Authz.Begin(meta)
	if _, _, mode := x.ResponseHeaders(map[string]string{"content-type": "application/json"}); mode == 0 {
		t.Fatal("the answer to a task-augmented call is not examined")
	}
	out, err := x.Message([]byte(`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"wf-1","status":"working"},` +
		`"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"wf-1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Result struct {
			Task struct{ TaskID string } `json:"task"`
			Meta map[string]struct {
				TaskID string `json:"taskId"`
			} `json:"_meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatal(err)
	}
	id := created.Result.Task.TaskID
	if inner, ok := binding.Inner(id); !ok || inner != "wf-1" || created.Result.Meta["io.modelcontextprotocol/related-task"].TaskID != id {
		t.Fatalf("the task id left the edge as %s", out)
	}

	get := func(tok, taskID string) string {
		return string(h.check(mcpPost(cc, tok, `{"jsonrpc":"2.0","id":"g","method":"tasks/get","params":{"taskId":"`+taskID+`"}}`,
			"mcp-protocol-version", "2025-11-25")).GetDeniedResponse().GetBody())
	}
	if body := get(nina, id); body != "" {
		t.Fatalf("the owner's tasks/get was refused: %s", body)
	}
	nina2 := h.token(cc, "nina", []string{"network-engineers", "admin"}) // the same caller, another token
	if body := get(nina2, id); body != "" {
		t.Fatalf("the owner's tasks/get with a new token was refused: %s", body)
	}
	admin := h.token(cc, "root", []string{"admin"})
	tampered := id[:len(id)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(id, "AA")]
	for name, c := range map[string]struct{ tok, id string }{
		"another caller":         {admin, id},
		"the upstream's raw id":  {nina, "wf-1"},
		"an altered id":          {nina, tampered},
		"another server's id":    {nina, h.task("servicenow", "nina", "wf-1")},
		"a session id as a task": {nina, h.session(cc, "nina", "wf-1")},
	} {
		body := get(c.tok, c.id)
		if !strings.Contains(body, `"code":-32602`) || !strings.Contains(body, "Task not found") || !strings.Contains(body, `"id":"g"`) {
			t.Errorf("%s: %s", name, body)
		}
	}

	// A bound id in a REST task path is checked the same way, so the policy and the adapter
	// never see different ids; the adapter's own ids stay valid there.
	rest := func(tok, taskID string) *authv3.CheckResponse {
		return h.check(envoyCheck("GET", contract.RESTTaskPath(cc, taskID), "", map[string]string{"authorization": "Bearer " + tok}, ""))
	}
	if resp := rest(nina, id); resp.GetOkResponse() == nil {
		t.Fatalf("the owner's bound id in a REST path was refused: %s", resp.GetDeniedResponse().GetBody())
	}
	if resp := rest(admin, id); resp.GetDeniedResponse().GetStatus().GetCode() != 404 {
		t.Fatalf("another caller's bound id in a REST path: %v", resp)
	}
	if resp := rest(nina, "deploy-0123456789abcdef-0123456789ab"); resp.GetOkResponse() == nil {
		t.Fatalf("an adapter's own id in a REST path was refused: %s", resp.GetDeniedResponse().GetBody())
	}

	// tasks/list and a status notification on a stream carry ids too.
	resp = h.check(mcpPost(cc, nina, `{"jsonrpc":"2.0","id":2,"method":"tasks/list"}`, "mcp-protocol-version", "2025-11-25"))
	x = h.svc.Authz.Begin(resp.GetDynamicMetadata())
	out, err = x.Message([]byte(`{"jsonrpc":"2.0","id":2,"result":{"tasks":[{"taskId":"wf-1"},{"taskId":"wf-2"}]}}`))
	if err != nil || strings.Contains(string(out), `"wf-`) {
		t.Fatalf("tasks/list left as %s (%v)", out, err)
	}
	out, err = x.Message([]byte(`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"wf-2","status":"completed"}}`))
	if err != nil || strings.Contains(string(out), `"wf-2"`) {
		t.Fatalf("a status notification left as %s (%v)", out, err)
	}
	if _, err := x.Message([]byte(`{"jsonrpc":"2.0","id":2,"result":{}} trailing`)); err == nil {
		t.Error("an answer with data after its message was delivered")
	}

	// A plain call's answer is not examined (no cost where no task can be).
	resp = h.check(mcpPost(cc, nina, callBody(3, "list_devices", nil), "mcp-protocol-version", "2025-11-25"))
	if _, _, mode := h.svc.Authz.Begin(resp.GetDynamicMetadata()).ResponseHeaders(map[string]string{"content-type": "application/json"}); mode != 0 {
		t.Error("a plain tools/call's answer is buffered")
	}
}
