package mcpmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func post(body string, headers ...string) HTTPRequest {
	h := map[string]string{"content-type": "application/json"}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	return HTTPRequest{Method: http.MethodPost, Header: func(n string) string { return h[n] }, Body: []byte(body)}
}

func wantError(t *testing.T, r HTTPRequest, status, code int) *Error {
	t.Helper()
	m, err := Parse(r)
	if err == nil {
		t.Fatalf("accepted %q as %+v; want HTTP %d / JSON-RPC %d", r.Body, m, status, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("body %q: got HTTP %d / JSON-RPC %d (%s); want %d / %d", r.Body, e.Status, e.Code, e.Message, status, code)
	}
	return e
}

func mustParse(t *testing.T, r HTTPRequest) *Message {
	t.Helper()
	m, err := Parse(r)
	if err != nil {
		t.Fatalf("Parse(%q): %v", r.Body, err)
	}
	return m
}

const call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_devices","arguments":{"limit":5}}}`

func modernCall(name string) string {
	return `{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"` + name + `","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
}

func TestParseToolsCall(t *testing.T) {
	m := mustParse(t, post(call, HeaderProtocolVersion, Version20250618))
	if m.Kind != KindRequest || m.Method != "tools/call" || m.Name != "list_devices" || m.ID != json.Number("7") {
		t.Fatalf("got %+v", m)
	}
	if m.Arguments["limit"] != json.Number("5") || m.ProtocolVersion != Version20250618 || m.Modern {
		t.Fatalf("got %+v", m)
	}
}

// security 1
func TestBatchRejected(t *testing.T) {
	for _, v := range []string{"", Version20250618, Version20251125} {
		wantError(t, post(`[`+call+`]`, HeaderProtocolVersion, v), 400, CodeInvalidRequest)
	}
}

// security 2
func TestContentType(t *testing.T) {
	for _, ct := range []string{"", "text/plain", "application/jsonx", "application/json; charset=latin1", "multipart/form-data; boundary=x"} {
		wantError(t, post(call, "content-type", ct), 415, CodeInvalidRequest)
	}
	mustParse(t, post(call, "content-type", "application/json; charset=UTF-8"))
}

// security 3
func TestDuplicateAndCaseKeys(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","NAME":"deploy_template"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":1,"x":2}}}`,
		// U+212A KELVIN SIGN folds to k: Go's encoding/json would match it to "kind".
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"kind":1,"\u212aind":2}}}`,
	} {
		wantError(t, post(body), 400, CodeParseError)
	}
	// A large object takes the map path of the duplicate check.
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{`)
	for i := range 40 {
		b.WriteString(`"k` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `":1,`)
	}
	b.WriteString(`"KA":2}}}`)
	wantError(t, post(b.String()), 400, CodeParseError)
}

// security 4
func TestTruncatedAndInvalid(t *testing.T) {
	for _, body := range []string{
		call[:len(call)-1], call[:40], `{"jsonrpc":"2.0"`, ``, `{}x`, "\xef\xbb\xbf" + call,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\xff"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800"}}`,
		`{"jsonrpc":"2.0","id":01,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping",}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		wantError(t, post(body), 400, CodeParseError)
	}
}

// security 6
func TestEnvelope(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"1.0","id":1,"method":"ping"}`,
		`{"jsonrpc":2.0,"id":1,"method":"ping"}`,
		`{"id":1,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":null,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`,
		`{"jsonrpc":"2.0","id":[1],"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":true,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1,"method":7}`,
		`{"jsonrpc":"2.0","id":1,"method":""}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping","extra":1}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`,
		`{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}}`,
		`{"jsonrpc":"2.0","result":{}}`,
		`{"jsonrpc":"2.0","id":1}`,
		`"just a string"`,
	} {
		wantError(t, post(body), 400, CodeInvalidRequest)
	}
	e := wantError(t, post(`{"jsonrpc":"1.0","id":"abc","method":"ping"}`), 400, CodeInvalidRequest)
	if e.ID != "abc" {
		t.Fatalf("error does not echo the id: %#v", e.ID)
	}
}

func TestParamsChecked(t *testing.T) {
	for _, body := range []string{
		// encoding/json in the adapter would take these as arguments / name / _meta.
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy_template","Arguments":{"template_id":"evil"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"deploy_template"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_META":{}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"Cursor":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","Name":"p"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/other"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":3}}`,
	} {
		e := wantError(t, post(body), 400, CodeInvalidParams)
		if e.ID != json.Number("1") {
			t.Fatalf("id not echoed: %#v", e.ID)
		}
	}
	m := mustParse(t, post(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"cc://devices/1"}}`))
	if m.URI != "cc://devices/1" {
		t.Fatal(m.URI)
	}
	m = mustParse(t, post(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"b"}}}`))
	if m.Name != "p" || m.Ref["type"] != "ref/prompt" {
		t.Fatalf("%+v", m)
	}
}

// security 7
func TestUnsupportedVersion(t *testing.T) {
	for _, v := range []string{"2024-11-05", "2025-03-26", "banana"} {
		wantError(t, post(call, HeaderProtocolVersion, v), 400, CodeUnsupportedProtocolVersion)
	}
	mustParse(t, post(modernCall("x"), HeaderProtocolVersion, Version20260728, HeaderMethod, "tools/call", HeaderName, "x"))
}

// security 8
func TestModernHeadersMustAgree(t *testing.T) {
	pv := Version20260728
	ok := mustParse(t, post(modernCall("list_devices"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "list_devices"))
	if !ok.Modern || ok.ProtocolVersion != pv || ok.Name != "list_devices" {
		t.Fatalf("%+v", ok)
	}
	// Base64-wrapped Mcp-Name (SEP-2243) for a non-ASCII name.
	mustParse(t, post(modernCall("gerät"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "=?base64?Z2Vyw6R0?="))

	cases := []struct {
		name string
		r    HTTPRequest
	}{
		{"method header disagrees", post(modernCall("list_devices"), HeaderProtocolVersion, pv, HeaderMethod, "tools/list", HeaderName, "list_devices")},
		{"name header disagrees", post(modernCall("deploy_template"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "list_devices")},
		{"method header missing", post(modernCall("x"), HeaderProtocolVersion, pv, HeaderName, "x")},
		{"name header missing", post(modernCall("x"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call")},
		{"version header missing", post(modernCall("x"), HeaderMethod, "tools/call", HeaderName, "x")},
		{"version header disagrees with _meta", post(strings.Replace(modernCall("x"), Version20260728, "2026-09-09", 1), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "x")},
		{"bad base64", post(modernCall("x"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "=?base64?***?=")},
		{"orphan name header", post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, HeaderProtocolVersion, pv, HeaderMethod, "tools/list", HeaderName, "deploy_template")},
		{"last-event-id", post(modernCall("x"), HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "x", HeaderLastEventID, "5")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := wantError(t, c.r, 400, CodeHeaderMismatch)
			if e.ID != "a1" && e.ID != json.Number("1") {
				t.Fatalf("id not echoed: %#v", e.ID)
			}
		})
	}
	// A modern request without _meta version is invalid params, per mcp-go and the spec.
	wantError(t, post(call, HeaderProtocolVersion, pv, HeaderMethod, "tools/call", HeaderName, "list_devices"), 400, CodeInvalidParams)
}

// security 9
func TestLegacyBodyIsAuthoritative(t *testing.T) {
	// Mcp-Method / Mcp-Name mean nothing before 2026-07-28: a lying header changes nothing.
	for _, v := range []string{"", Version20250618, Version20251125} {
		m := mustParse(t, post(call, HeaderProtocolVersion, v, HeaderMethod, "tools/list", HeaderName, "harmless"))
		if m.Method != "tools/call" || m.Name != "list_devices" || m.Modern || m.ProtocolVersion != v {
			t.Fatalf("version %q: %+v", v, m)
		}
	}
	m := mustParse(t, post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`))
	if m.ProtocolVersion != Version20251125 {
		t.Fatalf("initialize version: %q", m.ProtocolVersion)
	}
}

func TestNotificationsAndResponses(t *testing.T) {
	m := mustParse(t, post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, HeaderProtocolVersion, Version20250618))
	if m.Kind != KindNotification || m.ID != nil {
		t.Fatalf("%+v", m)
	}
	m = mustParse(t, post(`{"jsonrpc":"2.0","id":"s-1","result":{"action":"accept"}}`, HeaderProtocolVersion, Version20251125))
	if m.Kind != KindResponse || m.ID != "s-1" {
		t.Fatalf("%+v", m)
	}
}

func TestGetDelete(t *testing.T) {
	h := map[string]string{HeaderSessionID: "s1", HeaderProtocolVersion: Version20251125}
	r := HTTPRequest{Method: http.MethodGet, Header: func(n string) string { return h[n] }}
	if m := mustParse(t, r); m.Kind != KindStream || m.SessionID != "s1" {
		t.Fatalf("%+v", m)
	}
	r.Method = http.MethodDelete
	if m := mustParse(t, r); m.Kind != KindSessionEnd {
		t.Fatalf("%+v", m)
	}
	// security 34: no GET/DELETE in 2026-07-28.
	h[HeaderProtocolVersion] = Version20260728
	e := wantError(t, r, 405, CodeInvalidRequest)
	if e.Allow != "POST" {
		t.Fatal(e.Allow)
	}
	r.Method = http.MethodPut
	wantError(t, r, 405, CodeInvalidRequest)
}

// The strict decoder must agree with encoding/json on everything it accepts.
func TestDecodeAgreesWithStdlib(t *testing.T) {
	for _, s := range []string{
		`{"a":"\u00e9\ud83d\ude00\n\"","b":[1,-2.5e3,0,true,false,null],"c":{}}`,
		` [ ] `, `"x"`, `-0`, `1E+2`,
	} {
		assertSameAsStdlib(t, []byte(s))
	}
}

func assertSameAsStdlib(t *testing.T, data []byte) {
	t.Helper()
	ours, err := decodeStrict(data)
	if err != nil {
		return
	}
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	var std any
	if err := d.Decode(&std); err != nil {
		t.Fatalf("strict decoder accepted %q but encoding/json refused it: %v", data, err)
	}
	a, _ := json.Marshal(ours)
	b, _ := json.Marshal(std)
	if string(a) != string(b) {
		t.Fatalf("decoders disagree on %q:\n ours %s\n std  %s", data, a, b)
	}
}

// The supported revisions cannot be changed from outside the package: every caller gets its
// own copy, and so does every error that lists them.
func TestSupportedVersionsAreCopies(t *testing.T) {
	want := []string{Version20260728, Version20251125, Version20250618}
	got := SupportedVersions()
	if !slices.Equal(got, want) {
		t.Fatalf("SupportedVersions() = %v", got)
	}
	got[0] = "2099-01-01"
	if !slices.Equal(SupportedVersions(), want) || Supported("2099-01-01") {
		t.Fatal("changing the returned slice changed what the edge accepts")
	}
	for _, v := range want {
		if !Supported(v) {
			t.Errorf("Supported(%q) = false", v)
		}
	}
	for _, v := range []string{"", "2025-03-26", "2024-11-05", "2026-07-29"} {
		if Supported(v) {
			t.Errorf("Supported(%q) = true", v)
		}
	}
	e := wantError(t, post(call, HeaderProtocolVersion, "2024-11-05"), 400, CodeUnsupportedProtocolVersion)
	if e.Data.(map[string]any)["requested"] != "2024-11-05" {
		t.Fatalf("data %v", e.Data)
	}
	e.Data.(map[string]any)["supported"].([]string)[0] = "2099-01-01"
	e = wantError(t, post(call, HeaderProtocolVersion, "2024-11-05"), 400, CodeUnsupportedProtocolVersion)
	if !slices.Equal(e.Data.(map[string]any)["supported"].([]string), want) {
		t.Fatal("an error's data shares the supported list")
	}
}

func modernInitialize(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"initialize","params":{"protocolVersion":"2026-07-28","capabilities":{},` +
		`"clientInfo":{"name":"c","version":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
		`"io.modelcontextprotocol/clientCapabilities":{}}}}`
}

// MCP 2026-07-28 has no initialize handshake (SEP-2575). The edge answers a 2026-07-28
// initialize as mcp-go's server does (HTTP 404, JSON-RPC -32601 Method not found, "\"initialize\"
// was removed in protocol version 2026-07-28"), echoing the request's id and naming the
// supported revisions in data.supported; 2025 initialize requests are untouched.
func TestModernInitializeRefused(t *testing.T) {
	pv := Version20260728
	for _, c := range []struct {
		id     string
		wantID any
	}{{`"i1"`, "i1"}, {`0`, json.Number("0")}} {
		e := wantError(t, post(modernInitialize(c.id), HeaderProtocolVersion, pv, HeaderMethod, "initialize"), 404, CodeMethodNotFound)
		if e.ID != c.wantID {
			t.Fatalf("id %#v not echoed: %#v", c.wantID, e.ID)
		}
		const want = `"initialize" was removed in protocol version 2026-07-28: ` +
			`send params._meta["io.modelcontextprotocol/protocolVersion"] and params._meta["io.modelcontextprotocol/clientCapabilities"] with every request, ` +
			`and call server/discover to learn the server's capabilities; to use 2025-11-25 or 2025-06-18, initialize without the 2026-07-28 header and _meta`
		if e.Message != want {
			t.Fatalf("message\n got %s\nwant %s", e.Message, want)
		}
		data, _ := json.Marshal(e.Data)
		if string(data) != `{"supported":["2026-07-28","2025-11-25","2025-06-18"]}` {
			t.Fatalf("data %s", data)
		}
	}
	// notifications/initialized is gone too; a notification has no id to echo.
	e := wantError(t, post(`{"jsonrpc":"2.0","method":"notifications/initialized","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
		HeaderProtocolVersion, pv, HeaderMethod, "notifications/initialized"), 404, CodeMethodNotFound)
	if e.ID != nil || !strings.HasPrefix(e.Message, `"notifications/initialized" was removed`) {
		t.Fatalf("%+v", e)
	}
	// The standard headers are checked first, as mcp-go does: a disagreement is still -32020,
	// a missing _meta version still -32602.
	wantError(t, post(modernInitialize("1"), HeaderProtocolVersion, pv, HeaderMethod, "tools/list"), 400, CodeHeaderMismatch)
	wantError(t, post(modernInitialize("1"), HeaderProtocolVersion, pv), 400, CodeHeaderMismatch)
	wantError(t, post(modernInitialize("1"), HeaderMethod, "initialize"), 400, CodeHeaderMismatch)
	wantError(t, post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2026-07-28"}}`,
		HeaderProtocolVersion, pv, HeaderMethod, "initialize"), 400, CodeInvalidParams)
	// 2025 revisions keep their handshake.
	legacy := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`
	for _, v := range []string{"", Version20250618, Version20251125} {
		if m := mustParse(t, post(legacy, HeaderProtocolVersion, v)); m.Method != "initialize" || m.Modern {
			t.Fatalf("version %q: %+v", v, m)
		}
	}
	mustParse(t, post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, HeaderProtocolVersion, Version20251125))
	// server/discover is how a 2026-07-28 client learns the server's capabilities.
	m := mustParse(t, post(`{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		HeaderProtocolVersion, pv, HeaderMethod, "server/discover"))
	if !m.Modern || m.Method != "server/discover" || m.MetricMethod() != "server/discover" {
		t.Fatalf("%+v", m)
	}
}

// Mcp-Session-Id is read only in the 2025 revisions: 2026-07-28 has no sessions.
func TestSessionIDOnlyBefore2026(t *testing.T) {
	m := mustParse(t, post(call, HeaderProtocolVersion, Version20251125, HeaderSessionID, "s-1"))
	if m.SessionID != "s-1" {
		t.Fatalf("2025-11-25 session id %q", m.SessionID)
	}
	m = mustParse(t, post(modernCall("x"), HeaderProtocolVersion, Version20260728, HeaderMethod, "tools/call", HeaderName, "x", HeaderSessionID, "s-1"))
	if m.SessionID != "" {
		t.Fatalf("2026-07-28 session id read: %q", m.SessionID)
	}
}

// The ASCII fast path of key folding gives what the Unicode orbit walk gives, including for
// the letters whose fold partners are outside ASCII (K and the Kelvin sign, S and the long s).
func TestFoldASCIIAgreesWithFoldRune(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		s := string(rune(c))
		fast, ok := foldASCII(s)
		if !ok || fast != string(foldRune(rune(c))) {
			t.Fatalf("%q: fast %q, orbit %q", s, fast, string(foldRune(rune(c))))
		}
	}
	if foldKey("\u212aind") != foldKey("kind") || foldKey("\u017fize") != foldKey("size") {
		t.Fatal("a non-ASCII fold partner of an ASCII letter is not caught")
	}
}

// The fold index finds twins by hash and, when different keys' hashes collide, still tells
// twins from strangers by their folded forms.
func TestFoldIndex(t *testing.T) {
	for name, hash := range map[string]func(string) uint64{
		"fnv":           foldHash,
		"all collide":   func(string) uint64 { return 7 },
		"two per value": func(s string) uint64 { return uint64(len(s) % 2) },
	} {
		x := foldIndex{hash: hash}
		for _, k := range []string{"alpha", "beta", "gamma", "delta", "K1"} {
			if prev, dup := x.add(k); dup {
				t.Fatalf("%s: %q reported as a twin of %q", name, k, prev)
			}
		}
		for twin, want := range map[string]string{"ALPHA": "alpha", "Beta": "beta", "\u212a1": "K1", "k1": "K1"} {
			if prev, dup := x.add(twin); !dup || prev != want {
				t.Fatalf("%s: %q: twin %q, %v; want %q", name, twin, prev, dup, want)
			}
		}
	}
	big := `{` + strings.Repeat(`"a":1,`, 0)
	for i := range 40 {
		big += fmt.Sprintf(`"k%d":%d,`, i, i)
	}
	if _, err := decodeStrict([]byte(big + `"K7":1}`)); err == nil || !strings.Contains(err.Error(), "repeats another key up to case") {
		t.Fatalf("case twin in a large object: %v", err)
	}
	if _, err := decodeStrict([]byte(big + `"k7":1}`)); err == nil || !strings.Contains(err.Error(), `duplicate key "k7"`) {
		t.Fatalf("duplicate in a large object: %v", err)
	}
}

// BenchmarkDecodeLargeObject decodes a 1 MiB object of ~90,000 keys.
func BenchmarkDecodeLargeObject(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{`)
	for i := 0; sb.Len() < 1<<20-20; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"k%d":%d`, i, i)
	}
	sb.WriteString(`}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStrict(data); err != nil {
			b.Fatal(err)
		}
	}
}
