package authz

import (
	"fmt"
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
									samples = append(samples, sample{memoKey(r), refValues(t, in)})
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
