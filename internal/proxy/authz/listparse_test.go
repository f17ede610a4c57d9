package authz_test

import (
	"encoding/json"
	"testing"
)

// TestListResponseMustParse: a list response the splitter passes with a malformed result is
// refused by the filter, never forwarded as it came.
func TestListResponseMustParse(t *testing.T) {
	h := newHarness(t, withQuietLogs())
	tok := h.token(cc, "sam", []string{"service-desk"})
	resp := h.check(mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	meta := resp.GetDynamicMetadata()
	if resp.GetOkResponse() == nil || meta == nil {
		t.Fatalf("tools/list not allowed: %v", resp)
	}
	for _, body := range []string{`{"jsonrpc":"2.0","id":1,"result":{[]}}`, `{"jsonrpc":"2.0","id":1,"result":0""}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}x`, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[]}}`} {
		if out, err := h.svc.Authz.Begin(meta).Message([]byte(body)); err == nil {
			t.Errorf("%s: forwarded as %s", body, out)
		}
	}
	out, err := h.svc.Authz.Begin(meta).Message([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`))
	if err != nil || !json.Valid(out) {
		t.Fatalf("an empty list: %s, %v", out, err)
	}
}

// TestListKeepsCursor: filtering a page of a list keeps its pagination cursor (and any other
// result member), so a client can still ask for the next page.
func TestListKeepsCursor(t *testing.T) {
	h := newHarness(t, withQuietLogs())
	tok := h.token(cc, "sam", []string{"service-desk"})
	resp := h.check(mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"p1"}}`))
	meta := resp.GetDynamicMetadata()
	if resp.GetOkResponse() == nil || meta == nil {
		t.Fatalf("tools/list not allowed: %v", resp)
	}
	body := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"not_in_the_catalog","inputSchema":{"type":"object"}}],"nextCursor":"p2","_meta":{"x":1}}}`
	out, err := h.svc.Authz.Begin(meta).Message([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Result struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
			Meta       map[string]any    `json:"_meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Result.Tools) != 0 || got.Result.NextCursor != "p2" || got.Result.Meta["x"] != 1.0 {
		t.Fatalf("filtered page: %s (%v)", out, err)
	}
}
