package policy

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/rs/zerolog"
)

// BenchmarkEval is one evaluation of the default policy for an allowed tools/call, through
// envoyauth.Eval, with the input already an OPA value.
// Run: go test ./proxy/policy -run '^$' -bench BenchmarkEval -benchmem
func BenchmarkEval(b *testing.B) {
	eng := NewEngine(repoPolicies(b), 0, zerolog.Nop(), nil)
	if _, err := eng.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	rev := eng.Current()
	input := ast.MustInterfaceToValue(map[string]any{
		"subject": map[string]any{"sub": "alice", "groups": []string{"network-engineers"}, "amr": []string{"pwd"}},
		"mcp":     map[string]any{"server": "catalyst-center", "kind": "request", "method": "tools/call", "name": "list_devices", "arguments": map[string]any{}, "via": "mcp"},
		"tool":    map[string]any{"action": "read", "annotations": map[string]any{"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}},
	})
	b.ReportAllocs()
	for b.Loop() {
		d, err := rev.Eval(context.Background(), input, "bench")
		if err != nil || !d.Allow {
			b.Fatal(err)
		}
	}
}
