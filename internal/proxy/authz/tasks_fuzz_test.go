package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
)

// FuzzBindTasks: binding the task ids of an answer never panics; what it passes on is one
// valid JSON object in which no task id it knows where to find is left unbound.
func FuzzBindTasks(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"wf-1"}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"taskId":"wf-1","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"wf-1"}}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"a"},1,null]}}`,
		`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"b"}}`,
		`{"result":1}`, `[]`, `{}`, `{"a":1} {"b":2}`, `{"result":{"taskId":7}}`,
	} {
		f.Add([]byte(s))
	}
	x := &exchange{s: &Server{keys: binding.RandomKeys()}, tasks: true,
		caller: binding.Caller{Issuer: "https://idp", Subject: "nina", Server: "deployments"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := x.bindTasks(b)
		if err != nil {
			return
		}
		var top map[string]any
		if err := json.Unmarshal(out, &top); err != nil {
			t.Fatalf("%q passed on as %q, not one JSON object: %v", b, out, err)
		}
		if r, ok := top["result"].(map[string]any); ok {
			if id, ok := r["taskId"].(string); ok && id != "" && !strings.HasPrefix(id, "gh1.") {
				t.Fatalf("%q: result.taskId %q left unbound", b, id)
			}
		}
	})
}
