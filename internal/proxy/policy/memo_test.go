package policy

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/logging"
)

var testKeyRefs = []ast.Ref{
	ast.MustParseRef("input.mcp.server"),
	ast.MustParseRef("input.mcp.method"),
	ast.MustParseRef("input.mcp.name"),
	ast.MustParseRef("input.subject.groups"),
	ast.MustParseRef("input.tool"),
}

func revisionOf(t *testing.T, rego string) *Revision {
	t.Helper()
	rev, err := build(context.Background(), fstest.MapFS{
		"authz.rego":   {Data: []byte("package gatehouse.authz\nimport rego.v1\n" + rego)},
		"catalog.json": {Data: []byte(`{"servers":{}}`)},
	}, "test", logging.NewNoOpLogger())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// memoInput is a request by sub with groups calling tool with args.
func memoInput(sub, tool string, args map[string]any) ast.Value {
	v, err := ast.InterfaceToValue(map[string]any{
		"subject": map[string]any{"sub": sub, "groups": []any{"noc"}, "amr": []any{}},
		"mcp": map[string]any{"server": "radkit", "method": "tools/call", "name": tool, "arguments": args,
			"kind": "request"},
		"tool": map[string]any{"action": "read"},
		"now":  "2026-12-01T00:00:00Z",
	})
	if err != nil {
		panic(err)
	}
	return v
}

func decide(t *testing.T, rev *Revision, key string, in ast.Value) (*Decision, MemoOutcome) {
	t.Helper()
	if d, ok := rev.Remembered(key); ok {
		return d, MemoHit
	}
	d, o, err := rev.EvalAndRemember(context.Background(), key, testKeyRefs, in, "id")
	if err != nil {
		t.Fatal(err)
	}
	return d, o
}

// A decision is remembered only when its evaluation read nothing but the key: the second
// caller with the same question gets it without evaluation, and any policy that looks at
// who asks, what they send or when is evaluated for every Check (and decides correctly).
func TestMemoRemembersOnlyWhatTheKeyDecides(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		memoized   bool
	}{
		{"roles and tool only", `allow if { "noc" in input.subject.groups; input.mcp.name == "show"; input.tool.action == "read" }`, true},
		{"a rule's value", `server := input.mcp.server
allow if server == "radkit"`, true},
		// The indexer would skip this rule by reading input.subject.sub unseen; with indexing
		// off in the traced evaluation the read shows.
		{"indexed subject rule", `default allow := false
blocked if input.subject.sub == "mallory"
allow if { input.mcp.name == "show"; not blocked }`, false},
		{"whole subject through a builtin", `allow if { not "mfa" in object.get(input.subject, "amr", []); input.mcp.name == "show"; not input.subject.sub == "mallory" }`, false},
		{"arguments", `allow if { input.mcp.name == "show"; input.mcp.arguments.device != "core-1"; input.subject.sub != "mallory" }`, false},
		{"a computed key", `allow if { k := "server"; input.mcp[k] == "radkit"; input.subject.sub != "mallory" }`, false},
		{"the input time", `allow if { input.now < "2027"; input.subject.sub != "mallory" }`, false},
		{"the clock", `allow if { time.now_ns() > 0; input.subject.sub != "mallory" }`, false},
		// Certificate verification reads the clock (validity) unless given a time.
		{"the certificate clock", `allow if { [ok, _] := crypto.x509.parse_and_verify_certificates("no"); not ok; input.mcp.name == "show" }`, false},
		{"the whole input", `allow if { x := input; x.subject.sub != "mallory" }`, false},
		{"a with", `p if input.subject.sub != "mallory"
allow if p with input.mcp.name as "x"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := revisionOf(t, tc.rego)
			const key = "radkit/show/noc"
			first, o := decide(t, rev, key, memoInput("alice", "show", map[string]any{"device": "edge-1"}))
			if !first.Allow {
				t.Fatalf("alice was denied: %v", first.Reasons)
			}
			wantFirst := MemoUncached
			if tc.memoized {
				wantFirst = MemoStored
			}
			if o != wantFirst {
				t.Fatalf("first evaluation: %s, want %s", o, wantFirst)
			}
			// Same question, another caller who must be refused wherever the policy reads more.
			second, o := decide(t, rev, key, memoInput("mallory", "show", map[string]any{"device": "core-1"}))
			if tc.memoized {
				if o != MemoHit || !second.Allow {
					t.Fatalf("second: %s allow=%v, want a hit", o, second.Allow)
				}
				return
			}
			if o != MemoUncached {
				t.Fatalf("second: %s, want uncacheable (evaluated)", o)
			}
			if tc.name != "the input time" && tc.name != "the clock" && tc.name != "the certificate clock" && second.Allow {
				t.Fatalf("mallory was allowed from alice's decision")
			}
		})
	}
}

// The memo of one key does not answer another, and a new revision starts empty.
func TestMemoIsPerKeyAndPerRevision(t *testing.T) {
	src := `allow if input.mcp.name == "show"`
	rev := revisionOf(t, src)
	if _, o := decide(t, rev, "show", memoInput("a", "show", nil)); o != MemoStored {
		t.Fatalf("first: %s", o)
	}
	d, o := decide(t, rev, "reload", memoInput("a", "reload", nil))
	if o != MemoStored || d.Allow {
		t.Fatalf("another key: %s allow=%v", o, d.Allow)
	}
	if _, ok := revisionOf(t, src).Remembered("show"); ok {
		t.Fatal("a new revision remembered the old one's decision")
	}
}

// A proof that fails is not tried again for its key: later Checks are evaluated plainly (and
// fail the same way here), not traced again at a cost every time.
func TestMemoFailedProofIsNotRetried(t *testing.T) {
	rev := revisionOf(t, `x := 1 if input.mcp.name == "show"
x := 2 if input.mcp.name == "show"
allow if x == 1`)
	for i, want := range []MemoOutcome{MemoEvaluated, MemoUncached} {
		_, o, err := rev.EvalAndRemember(context.Background(), "k", testKeyRefs, memoInput("a", "show", nil), "id")
		if err == nil || o != want {
			t.Fatalf("evaluation %d: %s, %v; want %s and the conflict error", i+1, o, err, want)
		}
	}
}
