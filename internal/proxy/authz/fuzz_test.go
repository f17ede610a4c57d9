package authz_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
)

// FuzzCheck drives the whole Check pipeline with arbitrary methods, paths, routes, versions
// and bodies and holds it to the promise: nothing is allowed without a valid token except
// the exact metadata and health routes, every allow carries the verified subject and drops
// Authorization, and every denial has a JSON body.
// Run: go test ./proxy/authz -run '^$' -fuzz FuzzCheck
func FuzzCheck(f *testing.F) {
	h := newHarness(f, withQuietLogs())
	tok := h.token(cc, "alice", []string{"network-engineers"})
	f.Add("POST", "/mcp/catalyst-center", cc, "2025-06-18", callBody(1, "list_devices", nil), true)
	f.Add("POST", "/mcp/catalyst-center", cc, "2026-07-28", modernCall(1, "list_devices"), true)
	f.Add("GET", "/.well-known/oauth-protected-resource/mcp/catalyst-center", "", "", "", false)
	f.Add("GET", "/.well-known/../mcp/catalyst-center", "", "", "", false)
	f.Add("POST", "/api/v1/mcp/catalyst-center/tools/list_devices", "", "", `{"a":1}`, true)
	f.Add("DELETE", "/mcp/github", "github", "2025-11-25", "", false)
	exempt := []string{"/.well-known/oauth-protected-resource", "/healthz", "/readyz"}
	for _, s := range h.cfg.Servers {
		exempt = append(exempt, "/.well-known/oauth-protected-resource/mcp/"+s.Name)
	}
	f.Fuzz(func(t *testing.T, method, path, server, version, body string, withToken bool) {
		hs := map[string]string{"mcp-protocol-version": version}
		if withToken {
			hs["authorization"] = "Bearer " + tok
		}
		resp, err := h.svc.Authz.Check(context.Background(), envoyCheck(method, path, server, hs, body))
		if err != nil {
			t.Fatalf("Check returned a gRPC error: %v", err)
		}
		if ok := resp.GetOkResponse(); ok != nil {
			pathOnly, _, _ := strings.Cut(path, "?")
			isExempt := (method == "GET" || method == "HEAD") && slices.Contains(exempt, pathOnly)
			if !withToken && !isExempt {
				t.Fatalf("%s %q allowed without a token", method, path)
			}
			if !slices.Contains(ok.GetHeadersToRemove(), "authorization") {
				t.Fatalf("allowed without removing Authorization")
			}
			if !isExempt {
				subject := ""
				for _, hv := range ok.GetHeaders() {
					if hv.GetHeader().GetKey() == authz.HeaderSubject {
						subject = hv.GetHeader().GetValue()
					}
				}
				if subject != "alice" {
					t.Fatalf("allowed without the verified subject: %q", subject)
				}
			}
			return
		}
		d := resp.GetDeniedResponse()
		if d == nil || resp.GetStatus().GetCode() == 0 {
			t.Fatalf("neither allowed nor denied: %v", resp)
		}
		if !json.Valid([]byte(d.GetBody())) {
			t.Fatalf("denial body is not JSON: %q", d.GetBody())
		}
	})
}
