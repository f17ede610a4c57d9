package authz

import (
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// The memo is sound only if equal keys mean equal values at every one of memoRefs in the
// input buildInput makes. Requests are made from every combination of the parts that matter
// and of parts that must not (who asks, what they send, when); for each pair with the same key
// the values at memoRefs must be equal, and requests that differ at memoRefs must differ in key.
func TestMemoKeyAgreesWithTheInput(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
	tools := map[string]map[string]any{"list_devices": {"action": "read", "annotations": map[string]any{"readOnlyHint": true}}}
	type sample struct {
		key    string
		values string
	}
	var samples []sample
	for _, server := range []string{"catalyst-center", "radkit"} {
		for _, version := range []string{"", "2025-06-18", "2026-07-28"} {
			for _, kind := range []mcpmsg.Kind{mcpmsg.KindRequest, mcpmsg.KindNotification} {
				for _, via := range []string{viaMCP, viaREST} {
					for _, method := range []string{"tools/call", "tools/list", ""} {
						for _, name := range []string{"list_devices", "", "1:x"} {
							for _, groups := range [][]string{nil, {"noc"}, {"noc", "ops"}, {"ops", "noc"}, {"noc\x01ops"}, {"1:x"}} {
								for _, sub := range []string{"alice", "mallory"} {
									msg := &mcpmsg.Message{Kind: kind, ProtocolVersion: version, Method: method, Name: name, ID: 7,
										Arguments: map[string]any{"device": sub}, Body: map[string]any{"id": 7}}
									r := &request{server: server, via: via, msg: msg, headers: map[string]string{"x-request-id": sub},
										identity: &oidc.Identity{Subject: sub, Email: sub + "@example.com", Groups: groups, AMR: []string{sub}}}
									var tool map[string]any
									if method == "tools/call" {
										tool = tools[name]
									}
									in, err := s.buildInput(&authv3.CheckRequest{}, r, tool)
									if err != nil {
										t.Fatal(err)
									}
									samples = append(samples, sample{string(memoKeyText(r)), refValues(t, in)})
								}
							}
						}
					}
				}
			}
		}
	}
	byKey, byValues := map[string]string{}, map[string]string{}
	for _, s := range samples {
		if v, ok := byKey[s.key]; ok && v != s.values {
			t.Fatalf("key %q stands for two inputs:\n%s\n%s", s.key, v, s.values)
		}
		byKey[s.key] = s.values
		if k, ok := byValues[s.values]; ok && k != s.key {
			// Not unsound, but a key that splits equal questions wastes the memo.
			t.Errorf("equal values under two keys %q and %q", k, s.key)
		}
		byValues[s.values] = s.key
	}
	if len(byKey) < 1000 {
		t.Fatalf("only %d distinct keys: the samples do not vary enough", len(byKey))
	}
}

// refValues renders the input's values at memoRefs ("undefined" where absent).
func refValues(t *testing.T, in ast.Value) string {
	out := ""
	for _, ref := range memoRefs {
		v, err := in.Find(ref[1:])
		switch {
		case err != nil:
			out += ref.String() + "=undefined\n"
		default:
			out += fmt.Sprintf("%s=%v\n", ref, v)
		}
	}
	return out
}

// Only questions from a bounded set are remembered: a made-up method, an unsupported revision
// or a name that is not a pinned tool (any length a body allows) is evaluated every time and
// stored nowhere, so no caller can fill the memo or authz's memory. The key itself is a hash.
func TestMemoKeyAdmitsOnlyBoundedQuestions(t *testing.T) {
	id := &oidc.Identity{Subject: "alice", Groups: []string{"noc"}}
	tool := map[string]any{"action": "read"}
	long := strings.Repeat("x", 1<<20)
	for name, c := range map[string]struct {
		msg  *mcpmsg.Message
		tool map[string]any
		want bool
	}{
		"a pinned tool":             {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: "tools/call", Name: "list_devices", ProtocolVersion: "2025-06-18"}, tool, true},
		"tools/list":                {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: "tools/list", ProtocolVersion: "2025-11-25"}, nil, true},
		"a response":                {&mcpmsg.Message{Kind: mcpmsg.KindResponse}, nil, true},
		"a tool not in the catalog": {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: "tools/call", Name: long, ProtocolVersion: "2025-06-18"}, nil, false},
		"a made-up method":          {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: long}, nil, false},
		"a made-up revision":        {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: "initialize", ProtocolVersion: long}, nil, false},
		"a prompt name":             {&mcpmsg.Message{Kind: mcpmsg.KindRequest, Method: "prompts/get", Name: "triage", ProtocolVersion: "2025-06-18"}, nil, false},
	} {
		key, ok := memoKey(&request{server: "catalyst-center", via: viaMCP, msg: c.msg, identity: id}, c.tool)
		if ok != c.want || (ok && len(key) != 32) {
			t.Errorf("%s: memoizable %v (key of %d bytes), want %v", name, ok, len(key), c.want)
		}
	}
}
