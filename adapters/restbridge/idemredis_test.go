package restbridge_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// redisServer starts a real redis-server on a unix socket in a temporary directory and
// returns its URL and a function that stops it. GATEHOUSE_REDIS_BIN names the binary (the
// Makefile finds Debian's redis-server); without it the test skips, unless
// GATEHOUSE_REQUIRE_REDIS is set (.ci/run installs the server and sets it).
func redisServer(t *testing.T) (url string, stop func()) {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_REDIS_BIN")
	if bin == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") != "" {
			t.Fatal("GATEHOUSE_REQUIRE_REDIS is set but GATEHOUSE_REDIS_BIN is empty: install redis-server")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server): the shared idempotency store is tested against a real one; .ci/run installs it")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("GATEHOUSE_REDIS_BIN=%q: %v (apt-get install redis-server)", bin, err)
	}
	dir, err := os.MkdirTemp("", "redis") // short: a unix socket path has a 108-byte limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("redis-server was not ready within 10 s: %s", log.String())
		}
	}
	return "unix://" + sock, stop
}

// Two bridge replicas sharing a real Redis: a retry that lands on the other replica gets the
// first answer (the tool ran once), the same key with other arguments is refused there too,
// a repeat while the first call runs is told to wait; with Redis gone a keyed write is
// refused (503) rather than risk running twice, and a call without a key still runs.
func TestIdempotencyAcrossReplicas(t *testing.T) {
	url, stopRedis := redisServer(t)
	rc := &recorder{}
	ups := adapters(t, rc)
	a := newBridge(t, restbridge.Options{Upstreams: ups, IdempotencyRedis: url})
	b := newBridge(t, restbridge.Options{Upstreams: ups, IdempotencyRedis: url})
	path := contract.RESTPath("servicenow", "create_incident")
	create := func(srv string, key, body string) answer {
		h := edge("sam", "d-sam")
		if key != "" {
			h[restbridge.IdempotencyHeader] = key
		}
		return do(t, "POST", srv+path, h, body)
	}
	body := `{"arguments": {"short_description": "Core switch fan failure", "priority": 2}}`
	first := create(a.URL, "ticket-1", body)
	if first.status != 200 {
		t.Fatalf("first call: %d %s", first.status, first.raw)
	}
	again := create(b.URL, "ticket-1", body)
	if again.status != 200 || again.raw != first.raw || again.header.Get(restbridge.ReplayedHeader) != "true" {
		t.Fatalf("retry on the other replica: %d %v %s, first %s", again.status, again.header, again.raw, first.raw)
	}
	if n := rc.count("tools/call"); n != 1 {
		t.Fatalf("the tool ran %d times for one key", n)
	}
	problem(t, create(b.URL, "ticket-1", `{"arguments": {"short_description": "Core switch fan failure", "priority": 1}}`), 422, "d-sam", "already used")
	// Another caller's identical key is another key.
	h := edge("nina", "d-nina")
	h[restbridge.IdempotencyHeader] = "ticket-1"
	if n := do(t, "POST", b.URL+path, h, body); n.status != 200 || n.header.Get(restbridge.ReplayedHeader) != "" {
		t.Fatalf("nina's call: %d %v", n.status, n.header)
	}

	// While the first call with a key runs on one replica, the other says 409.
	rc.mu.Lock()
	rc.gate = make(chan struct{})
	gate := rc.gate
	rc.mu.Unlock()
	before := rc.count("tools/call")
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", a.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range edge("sam", "d-sam") {
			req.Header.Set(k, v)
		}
		req.Header.Set(restbridge.IdempotencyHeader, "ticket-2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{}
			return
		}
		resp.Body.Close()
		done <- answer{status: resp.StatusCode}
	}()
	for deadline := time.Now().Add(10 * time.Second); rc.count("tools/call") == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow call did not reach the adapter")
		}
	}
	problem(t, create(b.URL, "ticket-2", body), 409, "d-sam", "has not finished")
	close(gate)
	if got := <-done; got.status != 200 {
		t.Fatalf("the slow first call: %d", got.status)
	}
	if r := create(b.URL, "ticket-2", body); r.status != 200 || r.header.Get(restbridge.ReplayedHeader) != "true" {
		t.Fatalf("after the slow call: %d %v", r.status, r.header)
	}

	// Redis gone: keyed writes are refused before anything runs; others still run.
	stopRedis()
	before = rc.count("tools/call")
	r := problem(t, create(a.URL, "ticket-3", body), 503, "d-sam", "store is unavailable")
	if r.header.Get("Retry-After") == "" || rc.count("tools/call") != before {
		t.Fatalf("with Redis down: Retry-After %q, %d calls ran", r.header.Get("Retry-After"), rc.count("tools/call")-before)
	}
	if r := create(a.URL, "", body); r.status != 200 {
		t.Fatalf("a call without a key, Redis down: %d %s", r.status, r.raw)
	}
}
