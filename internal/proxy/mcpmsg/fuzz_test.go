package mcpmsg

import (
	"errors"
	"net/http"
	"testing"
)

// FuzzDecodeStrict checks the strict decoder never panics and never accepts something
// encoding/json reads differently. Run: go test ./proxy/mcpmsg -fuzz FuzzDecodeStrict
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{call, modernCall("x"), `{"a":[1,{"b":null}]}`, `"\ud83d\ude00"`, `{"k":1,"K":2}`, `1e5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		assertSameAsStdlib(t, data)
	})
}

// FuzzParse checks Parse never panics, always answers with an *Error carrying an HTTP
// error status, and that what it accepts is internally consistent.
// Run: go test ./proxy/mcpmsg -fuzz FuzzParse
func FuzzParse(f *testing.F) {
	f.Add(call, "", "", "")
	f.Add(modernCall("x"), Version20260728, "tools/call", "x")
	f.Add(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, Version20250618, "", "")
	f.Add(`{"jsonrpc":"2.0","id":"1","result":{}}`, Version20251125, "", "")
	f.Add(modernInitialize(`"i"`), Version20260728, "initialize", "")
	f.Fuzz(func(t *testing.T, body, version, method, name string) {
		h := map[string]string{"content-type": "application/json", HeaderProtocolVersion: version, HeaderMethod: method, HeaderName: name}
		m, err := Parse(HTTPRequest{Method: http.MethodPost, Header: func(n string) string { return h[n] }, Body: []byte(body)})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Code == 0 {
				t.Fatalf("bad rejection %#v", err)
			}
			return
		}
		switch m.Kind {
		case KindRequest:
			if m.ID == nil || m.Method == "" {
				t.Fatalf("request without id or method: %+v", m)
			}
		case KindNotification:
			if m.ID != nil || m.Method == "" {
				t.Fatalf("bad notification: %+v", m)
			}
		case KindResponse:
			if m.ID == nil || m.Method != "" {
				t.Fatalf("bad response: %+v", m)
			}
		default:
			t.Fatalf("POST parsed as %q", m.Kind)
		}
		if m.Modern && (m.Method != "" && method != m.Method) {
			t.Fatalf("modern message accepted with Mcp-Method %q for %q", method, m.Method)
		}
		if m.Method == "tools/call" && m.Name == "" {
			t.Fatalf("tools/call without a name accepted")
		}
		if m.Modern && (m.Method == "initialize" || m.Method == "notifications/initialized") {
			t.Fatalf("2026-07-28 has no %s, but it was accepted", m.Method)
		}
		if m.Modern && !Supported(m.ProtocolVersion) {
			t.Fatalf("accepted unsupported revision %q", m.ProtocolVersion)
		}
	})
}
