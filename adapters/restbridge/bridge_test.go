package restbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	ccsim "github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
	snsim "github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

type staticSecret kit.Secret

func (s staticSecret) Get(context.Context, string) (kit.Secret, error) { return kit.Secret(s), nil }
func (staticSecret) Invalidate(string)                                 {}

// hit is one request that reached an adapter: its JSON-RPC method, tool and headers.
type hit struct {
	server, method, tool string
	header               http.Header
}

// recorder sees every request that reaches an adapter.
type recorder struct {
	mu   sync.Mutex
	hits []hit
	// gate, when set, holds every tools/call until it is closed.
	gate chan struct{}
}

func (rc *recorder) wrap(server string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &msg)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{server: server, method: msg.Method, tool: msg.Params.Name, header: r.Header.Clone()})
		gate := rc.gate
		rc.mu.Unlock()
		if gate != nil && msg.Method == "tools/call" {
			<-gate
		}
		h.ServeHTTP(w, r)
	})
}

func (rc *recorder) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

func (rc *recorder) count(method string) int {
	n := 0
	for _, h := range rc.all() {
		if h.method == method {
			n++
		}
	}
	return n
}

// adapters starts the Catalyst Center and ServiceNow adapters against their simulators and
// returns their base URLs by server name.
func adapters(t *testing.T, rc *recorder) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, setup := range map[string]func(s *kit.Server, upstream string) error{
		catalystcenter.ServerName: func(s *kit.Server, upstream string) error {
			c, err := catalystcenter.NewClient(upstream, staticSecret{"username": "admin", "password": "C1sco12345"}, s.Metrics, zerolog.Nop())
			if err == nil {
				catalystcenter.Register(s, c)
			}
			return err
		},
		servicenow.ServerName: func(s *kit.Server, upstream string) error {
			c, err := servicenow.NewClient(upstream, staticSecret{"client_id": snsim.DefaultClientID, "client_secret": snsim.DefaultClientSecret}, s.Metrics, zerolog.Nop())
			if err == nil {
				servicenow.Register(s, c)
			}
			return err
		},
	} {
		var sim http.Handler = ccsim.New(ccsim.Options{})
		if name == servicenow.ServerName {
			sim = snsim.New(snsim.Options{})
		}
		up := httptest.NewServer(sim)
		t.Cleanup(up.Close)
		s := kit.NewServer(kit.Options{Name: name, Version: "test", Logger: zerolog.Nop()})
		if err := setup(s, up.URL); err != nil {
			t.Fatal(err)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		a := httptest.NewServer(rc.wrap(name, s.Handler()))
		t.Cleanup(a.Close)
		out[name] = a.URL
	}
	return out
}

func newBridge(t *testing.T, opts restbridge.Options) *httptest.Server {
	t.Helper()
	opts.Log = zerolog.New(zerolog.NewTestWriter(t))
	b, err := restbridge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return srv
}

// answer is a bridge response, its body decoded.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func do(t *testing.T, method, url string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// edge is the identity headers the edge sets on an allowed request.
func edge(subject, decisionID string) map[string]string {
	return map[string]string{contract.HeaderSubject: subject, contract.HeaderEmail: subject + "@example.com",
		contract.HeaderDecisionID: decisionID}
}

// problem checks a is an RFC 9457 problem with status and decisionID, whose detail contains
// want, and returns it.
func problem(t *testing.T, a answer, status int, decisionID, want string) answer {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" ||
		a.body["status"] != float64(status) || a.body["title"] != http.StatusText(status) || a.body["type"] != "about:blank" {
		t.Fatalf("want a %d problem, got %d %s: %s", status, a.status, a.header.Get("Content-Type"), a.raw)
	}
	if decisionID != "" && (a.body["decision_id"] != decisionID || a.header.Get(contract.HeaderDecisionID) != decisionID) {
		t.Fatalf("decision id: body %v, header %q, want %s", a.body["decision_id"], a.header.Get(contract.HeaderDecisionID), decisionID)
	}
	if d, _ := a.body["detail"].(string); !strings.Contains(d, want) {
		t.Fatalf("detail %q does not say %q", d, want)
	}
	return a
}

// security 88: the adapter gets the headers the edge set (identity and the policy's headers
// for the adapter) and nothing else of the caller's.
func TestCallTool(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	h := edge("sam", "dec-1")
	h["X-Gatehouse-Roles"] = "service-desk"
	h[contract.HeaderTools] = "list_devices"
	h["X-Other"] = "must not reach the adapter"
	h["Cookie"] = "a=b"
	a := do(t, "POST", srv.URL+contract.RESTPath("catalyst-center", "list_devices"), h, `{"arguments": {"role": "CORE"}}`)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || a.body["status"] != "success" ||
		a.body["server"] != "catalyst-center" || a.body["tool"] != "list_devices" || a.header.Get(contract.HeaderDecisionID) != "dec-1" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	devices, _ := a.body["result"].(map[string]any)["devices"].([]any)
	if len(devices) == 0 {
		t.Fatalf("no devices: %s", a.raw)
	}
	for _, d := range devices {
		if d.(map[string]any)["role"] != "CORE" {
			t.Fatalf("the arguments did not reach the tool: %v", d)
		}
	}
	// The adapter got the call with the edge's headers and nothing else of the caller's.
	var call *hit
	for _, x := range rc.all() {
		if x.method == "tools/call" {
			call = &x
		}
	}
	if call == nil || call.tool != "list_devices" {
		t.Fatalf("no tools/call reached the adapter: %+v", rc.all())
	}
	for k, want := range map[string]string{contract.HeaderSubject: "sam", contract.HeaderEmail: "sam@example.com", contract.HeaderDecisionID: "dec-1",
		"X-Gatehouse-Roles": "service-desk", contract.HeaderTools: "", "X-Other": "", "Cookie": "", "Authorization": ""} {
		if got := call.header.Get(k); got != want {
			t.Errorf("the adapter got %s %q, want %q", k, got, want)
		}
	}

	// An empty body calls the tool without arguments; a tool without structured content
	// answers its text (none here: every kit tool has structured content).
	if a := do(t, "POST", srv.URL+contract.RESTPath("catalyst-center", "list_sites"), edge("sam", "dec-2"), ""); a.status != 415 {
		// An empty body still needs its media type, as at the edge (mcpmsg.ParseREST).
		t.Fatalf("empty body without Content-Type: %d %s", a.status, a.raw)
	}
	req, _ := http.NewRequest("POST", srv.URL+contract.RESTPath("catalyst-center", "list_sites"), nil)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("empty body: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestToolErrorsAndArguments(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	url := srv.URL + contract.RESTPath("catalyst-center", "get_device")
	// The tool ran and failed: 422 with the tool's own message.
	a := problem(t, do(t, "POST", url, edge("sam", "d1"), `{"arguments": {"device_id": "no-such-device"}}`), 422, "d1", "no-such-device")
	if a.body["server"] != "catalyst-center" || a.body["tool"] != "get_device" {
		t.Fatalf("%s", a.raw)
	}
	// Arguments that fail the tool's schema: 400 naming each field, from the adapter kit's words.
	a = problem(t, do(t, "POST", url, edge("sam", "d2"), `{"arguments": {"deviceId": "x"}}`), 400, "d2", `missing required argument "device_id"`)
	want := []any{
		map[string]any{"name": "device_id", "reason": `missing required argument "device_id"`},
		map[string]any{"name": "deviceId", "reason": `unknown argument "deviceId"`},
	}
	if b, w := mustJSON(a.body["invalid_params"]), mustJSON(want); b != w {
		t.Fatalf("invalid_params %s, want %s", b, w)
	}
	a = problem(t, do(t, "POST", srv.URL+contract.RESTPath("catalyst-center", "list_devices"), edge("sam", "d3"), `{"arguments": {"limit": "ten"}}`),
		400, "d3", `argument "limit" must be an integer (got a string)`)
	if a.body["invalid_params"].([]any)[0].(map[string]any)["name"] != "limit" {
		t.Fatalf("%s", a.raw)
	}
	// A tool the adapter does not serve: 404 (the edge refuses tools outside the catalog first).
	problem(t, do(t, "POST", srv.URL+contract.RESTPath("catalyst-center", "format_flash"), edge("sam", "d4"), `{}`), 404, "d4", `no tool "format_flash"`)
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// Requests the bridge refuses itself never reach an adapter, each with its status.
func TestRefusedBeforeTheAdapter(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc), MaxBodyBytes: 1024})
	cc := srv.URL + contract.RESTPrefix + "catalyst-center/tools/"
	for _, c := range []struct {
		name, method, url, contentType, body string
		status                               int
		want                                 string
	}{
		{"unknown server", "POST", srv.URL + contract.RESTPath("nowhere", "x"), "application/json", `{}`, 404, `no server "nowhere"`},
		{"unknown server's list", "GET", srv.URL + contract.RESTToolsPath("nowhere"), "", "", 404, `no server "nowhere"`},
		{"encoded slash in the tool", "POST", cc + "list%2Fdevices", "application/json", `{}`, 404, "not a REST bridge path"},
		{"encoded dots", "POST", cc + "%2e%2e", "application/json", `{}`, 404, "not a REST bridge path"},
		{"dot-dot tool", "POST", cc + "..", "application/json", `{}`, 404, `".." is not a tool name`},
		{"a tool name MCP does not allow", "POST", cc + "list+devices", "application/json", `{}`, 404, "is not a tool name"},
		{"nested path", "POST", cc + "list_devices/x", "application/json", `{}`, 404, "not a REST bridge path"},
		{"wrong content type", "POST", cc + "list_devices", "text/plain", `{"arguments": {}}`, 415, "Content-Type must be application/json"},
		{"charset other than utf-8", "POST", cc + "list_devices", "application/json; charset=latin1", `{"arguments": {}}`, 415, "charset=latin1"},
		{"body over the limit", "POST", cc + "list_devices", "application/json", `{"arguments": {"hostname": "` + strings.Repeat("x", 2000) + `"}}`, 413, "over 1024 bytes"},
		{"arguments not an object", "POST", cc + "list_devices", "application/json", `{"arguments": [1, 2]}`, 400, "arguments must be a JSON object"},
		{"arguments a string", "POST", cc + "list_devices", "application/json", `{"arguments": "role=CORE"}`, 400, "arguments must be a JSON object"},
		{"a body that is not an object", "POST", cc + "list_devices", "application/json", `[{"arguments": {}}]`, 400, "the body must be a JSON object"},
		{"another member", "POST", cc + "list_devices", "application/json", `{"role": "CORE"}`, 400, `unknown member "role"`},
		{"case twins", "POST", cc + "list_devices", "application/json", `{"arguments": {"role": "A", "Role": "B"}}`, 400, "Role"},
		{"not JSON", "POST", cc + "list_devices", "application/json", `{"arguments": `, 400, ""},
		{"GET a tool", "GET", cc + "list_devices", "", "", 405, "a tool call takes POST"},
		{"POST the list", "POST", srv.URL + contract.RESTToolsPath("catalyst-center"), "application/json", `{}`, 405, "the tool list takes GET"},
		{"outside the API", "GET", srv.URL + "/mcp", "", "", 404, "nothing is served at /mcp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.Header.Set(contract.HeaderDecisionID, "d")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
			_ = json.Unmarshal(raw, &a.body)
			problem(t, a, c.status, "d", c.want)
			if c.status == 405 && a.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	if hits := rc.all(); len(hits) != 0 {
		t.Fatalf("%d refused requests reached an adapter: %+v", len(hits), hits)
	}
}

// security 88: only the tools the edge named, none without the header.
func TestToolListing(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	url := srv.URL + contract.RESTToolsPath("catalyst-center")
	list := func(header map[string]string) []map[string]any {
		t.Helper()
		a := do(t, "GET", url, header, "")
		if a.status != 200 || a.body["server"] != "catalyst-center" {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		var out []map[string]any
		for _, x := range a.body["tools"].([]any) {
			out = append(out, x.(map[string]any))
		}
		return out
	}
	// No x-gatehouse-tools (or an empty one): nothing, without asking the adapter.
	if got := list(edge("sam", "d")); len(got) != 0 {
		t.Fatalf("without the header: %v", got)
	}
	h := edge("sam", "d")
	h[contract.HeaderTools] = ""
	if got := list(h); len(got) != 0 || len(rc.all()) != 0 {
		t.Fatalf("with an empty header: %v, %d adapter requests", got, len(rc.all()))
	}
	// Exactly the tools named (and served), sorted, with their schemas and action classes.
	h[contract.HeaderTools] = "list_sites,get_device,no_such_tool"
	got := list(h)
	if len(got) != 2 || got[0]["name"] != "get_device" || got[1]["name"] != "list_sites" {
		t.Fatalf("%v", got)
	}
	in, _ := got[0]["inputSchema"].(map[string]any)
	if req, _ := in["required"].([]any); len(req) != 1 || req[0] != "device_id" || got[0]["outputSchema"] == nil ||
		got[0]["action"] != "read" || got[0]["path"] != contract.RESTPath("catalyst-center", "get_device") || got[0]["title"] == "" {
		t.Fatalf("get_device: %v", got[0])
	}
	// The adapter's list is fetched once and reused.
	list(h)
	if n := rc.count("tools/list"); n != 1 {
		t.Fatalf("tools/list reached the adapter %d times", n)
	}
}

// One initialize per adapter, however many calls run at once; the client is shared.
func TestOneInitializePerAdapter(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			server, tool := "catalyst-center", "list_sites"
			if i%2 == 1 {
				server, tool = "servicenow", "search_incidents"
			}
			req, _ := http.NewRequest("POST", srv.URL+contract.RESTPath(server, tool), strings.NewReader(`{"arguments": {}}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if n := rc.count("initialize"); n != 2 {
		t.Fatalf("%d initializations for 2 adapters", n)
	}
	if n := rc.count("tools/call"); n != 40 {
		t.Fatalf("%d calls reached the adapters", n)
	}
}

// switchable is an adapter that can be made to fail.
type switchable struct {
	mode atomic.Value // "up", "404", "500", "garbage"
	next http.Handler
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.mode.Load() {
	case "404":
		http.NotFound(w, r)
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{not json")
	default:
		s.next.ServeHTTP(w, r)
	}
}

func TestUpstreamFailures(t *testing.T) {
	rc := &recorder{}
	ups := adapters(t, rc)
	real := ups["catalyst-center"]
	sw := &switchable{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Forward to the real adapter.
		req, _ := http.NewRequest(r.Method, real+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	sw.mode.Store("up")
	flaky := httptest.NewServer(sw)
	defer flaky.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more
	srv := newBridge(t, restbridge.Options{Upstreams: map[string]string{"catalyst-center": flaky.URL, "servicenow": closedURL}, CallTimeout: 5 * time.Second})
	call := func(server string) answer {
		return do(t, "POST", srv.URL+contract.RESTPath(server, "list_sites"), edge("sam", "d"), `{"arguments": {}}`)
	}
	retry := func(a answer) {
		t.Helper()
		if a.header.Get("Retry-After") == "" {
			t.Fatalf("no Retry-After: %d %s", a.status, a.raw)
		}
	}
	// Nothing listens: 503, and again at once (the failed initialize is not retried by every call).
	retry(problem(t, call("servicenow"), 503, "d", "the servicenow adapter is unavailable"))
	retry(problem(t, call("servicenow"), 503, "d", "unavailable"))

	if a := call("catalyst-center"); a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	// A 5xx or an answer that is not JSON-RPC: 502; the client to a stateless adapter stays.
	sw.mode.Store("500")
	retry(problem(t, call("catalyst-center"), 502, "d", "did not answer the call"))
	sw.mode.Store("garbage")
	retry(problem(t, call("catalyst-center"), 502, "d", "did not answer the call"))
	sw.mode.Store("up")
	if a := call("catalyst-center"); a.status != 200 || rc.count("initialize") != 1 {
		t.Fatalf("after 5xx answers: %d %s, %d initializations", a.status, a.raw, rc.count("initialize"))
	}
	// A 404 makes mcp-go's transport end its session for good: the bridge starts a new client.
	sw.mode.Store("404")
	retry(problem(t, call("catalyst-center"), 502, "d", "did not answer the call"))
	sw.mode.Store("up")
	if a := call("catalyst-center"); a.status != 200 {
		t.Fatalf("after the adapter came back: %d %s", a.status, a.raw)
	}
	if n := rc.count("initialize"); n != 2 {
		t.Fatalf("%d initializations: the bridge did not start a new client after the 404", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	rc := &recorder{}
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc), Now: clock})
	url := srv.URL + contract.RESTPath("servicenow", "create_incident")
	create := func(subject, key, body string) answer {
		h := edge(subject, "d-"+subject)
		if key != "" {
			h[restbridge.IdempotencyHeader] = key
		}
		return do(t, "POST", url, h, body)
	}
	number := func(a answer) string {
		t.Helper()
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		return a.body["result"].(map[string]any)["number"].(string)
	}
	body := `{"arguments": {"short_description": "Printer on fire", "priority": 3}}`
	first := create("sam", "k-1", body)
	n1 := number(first)
	// The same key, caller and arguments (formatted differently): the first answer, replayed.
	again := create("sam", "k-1", `{"arguments":{"priority":3,"short_description":"Printer on fire"}}`)
	if number(again) != n1 || again.raw != first.raw || again.header.Get(restbridge.ReplayedHeader) != "true" ||
		first.header.Get(restbridge.ReplayedHeader) != "" {
		t.Fatalf("replay: %s %v, first %s", again.raw, again.header, first.raw)
	}
	if n := rc.count("tools/call"); n != 1 {
		t.Fatalf("the tool ran %d times", n)
	}
	// The same key with other arguments: 422.
	problem(t, create("sam", "k-1", `{"arguments": {"short_description": "Printer on fire", "priority": 1}}`), 422, "d-sam", "already used")
	// Another caller's key is another key; no key, a new incident every time.
	if n := number(create("nina", "k-1", body)); n == n1 {
		t.Fatal("nina got sam's answer")
	}
	if a, b := number(create("sam", "", body)), number(create("sam", "", body)); a == b {
		t.Fatal("calls without a key were deduplicated")
	}
	// A bad key is refused before anything runs.
	before := rc.count("tools/call")
	problem(t, create("sam", strings.Repeat("k", 256), body), 400, "d-sam", "1 to 255")
	problem(t, create("sam", "a b", body), 400, "d-sam", "visible ASCII")
	// Read tools ignore the key: a read is safe to repeat.
	for range 2 {
		h := edge("sam", "d")
		h[restbridge.IdempotencyHeader] = "read-key"
		if a := do(t, "POST", srv.URL+contract.RESTPath("servicenow", "search_incidents"), h, `{"arguments": {}}`); a.status != 200 || a.header.Get(restbridge.ReplayedHeader) != "" {
			t.Fatalf("%d %v", a.status, a.header)
		}
	}
	if n := rc.count("tools/call") - before; n != 2 {
		t.Fatalf("%d calls after the refused keys, want the 2 reads", n)
	}
	// After 24 hours the key is forgotten: the call runs again.
	mu.Lock()
	now = now.Add(24*time.Hour + time.Second)
	mu.Unlock()
	if number(create("sam", "k-1", body)) == n1 {
		t.Fatal("the key outlived its 24 hours")
	}
}

// A repeat while the first call with its key still runs is told to retry (409), and then gets
// the first answer; the tool runs once.
func TestIdempotencyKeyWhileRunning(t *testing.T) {
	rc := &recorder{gate: make(chan struct{})}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	url := srv.URL + contract.RESTPath("servicenow", "create_incident")
	h := edge("sam", "d")
	h[restbridge.IdempotencyHeader] = "k"
	body := `{"arguments": {"short_description": "slow"}}`
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	for deadline := time.Now().Add(10 * time.Second); rc.count("tools/call") == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first call did not reach the adapter")
		}
	}
	a := problem(t, do(t, "POST", url, h, body), 409, "d", "has not finished")
	if a.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	close(rc.gate)
	if code := <-first; code != 200 {
		t.Fatalf("the first call: %d", code)
	}
	if a := do(t, "POST", url, h, body); a.status != 200 || a.header.Get(restbridge.ReplayedHeader) != "true" || rc.count("tools/call") != 1 {
		t.Fatalf("after the first call: %d %v, %d calls", a.status, a.header, rc.count("tools/call"))
	}
}

// The bridge serves its OpenAPI document for the servers behind it only.
func TestServedDocument(t *testing.T) {
	srv := newBridge(t, restbridge.Options{Upstreams: map[string]string{"servicenow": "http://127.0.0.1:1"}})
	a := do(t, "GET", srv.URL+contract.RESTOpenAPIPath, nil, "")
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || a.body["openapi"] != "3.1.0" {
		t.Fatalf("%d %.200s", a.status, a.raw)
	}
	paths := a.body["paths"].(map[string]any)
	if paths[contract.RESTPath("servicenow", "create_incident")] == nil || paths[contract.RESTToolsPath("servicenow")] == nil ||
		paths[contract.RESTOpenAPIPath] == nil {
		t.Fatal("servicenow's operations are missing")
	}
	for p := range paths {
		if strings.Contains(p, "catalyst-center") {
			t.Fatalf("%s is served by a bridge without catalyst-center", p)
		}
	}
}

func TestParseUpstreams(t *testing.T) {
	got, err := restbridge.ParseUpstreams(" catalyst-center=http://catalyst-center:8080/ , servicenow=https://sn.example.com")
	if err != nil || len(got) != 2 || got["catalyst-center"] != "http://catalyst-center:8080" || got["servicenow"] != "https://sn.example.com" {
		t.Fatalf("%v %v", got, err)
	}
	if s := restbridge.FormatUpstreams(got); s != "catalyst-center=http://catalyst-center:8080,servicenow=https://sn.example.com" {
		t.Fatal(s)
	}
	for in, want := range map[string]string{
		"":                            "no upstreams",
		"catalyst-center":             "want server=url",
		"CC=http://x:1":               "DNS label",
		"cc=ftp://x":                  "http(s) base URL",
		"cc=http://x:1/mcp":           "without a path",
		"cc=http://x:1,cc=http://y:1": "listed twice",
	} {
		if _, err := restbridge.ParseUpstreams(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
