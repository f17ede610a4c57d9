package authz_test

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

// The response side's metadata carries the caller, whether it was decoded from the wire (as
// Envoy hands it to ext_proc) or handed over in process; its subject entry is encoded once
// per token and must read back as the claims of that token.
func TestDynamicMetadataCarriesTheSubject(t *testing.T) {
	h := newHarness(t, withQuietLogs())
	tok := h.token(cc, "sam", []string{"service-desk"})
	req := mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	wire := h.check(req).GetDynamicMetadata()
	local, err := h.svc.Authz.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for name, meta := range map[string]*structpb.Struct{"over gRPC": wire, "in process": local.GetDynamicMetadata()} {
		sub := meta.GetFields()["subject"].GetStructValue().GetFields()
		if name == "over gRPC" && (sub["sub"].GetStringValue() != "sam" || sub["groups"].GetListValue().GetValues()[0].GetStringValue() != "service-desk") {
			t.Errorf("%s: subject %v", name, sub)
		}
		if meta.GetFields()["method"].GetStringValue() != "tools/list" {
			t.Errorf("%s: method %v", name, meta.GetFields()["method"])
		}
		// A list answer is filtered for sam (not passed through, not refused).
		x := h.svc.Authz.Begin(meta)
		if x == nil {
			t.Fatalf("%s: no response-side exchange for an allowed tools/list", name)
		}
		out, err := x.Message([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"not_in_the_catalog","inputSchema":{"type":"object"}}]}}`))
		var got struct {
			Result struct{ Tools []any } `json:"result"`
		}
		if err != nil || json.Unmarshal(out, &got) != nil || got.Result.Tools == nil || len(got.Result.Tools) != 0 {
			t.Errorf("%s: the list filtered to %s (%v)", name, out, err)
		}
	}
}
