package authz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// A Check that cannot be decided before its caller's deadline is refused at once with
// UNAVAILABLE (Envoy's status_on_error then answers a retryable 503), counted and logged at
// most once a second, instead of queueing until the deadline; once the queue drains, Checks
// are decided again.
func TestOverloadRefusedEarly(t *testing.T) {
	h := newHarness(t, withPolicyDir(slowToolPolicies(t)), withConfig(func(c *config.Config) { c.Policy.EvalTimeout = time.Second }))
	tok := h.token(cc, "root", []string{"admin"})
	fast := mcpPost(cc, tok, callBody(1, "list_devices", nil))
	check := func(timeout time.Duration, body string) (codes.Code, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err := h.client.Check(ctx, mcpPost(cc, tok, body))
		return status.Code(err), time.Since(start)
	}
	// The service learns its service time from a slow Check...
	if c, _ := check(10*time.Second, callBody(2, "slow_tool", nil)); c != codes.OK {
		t.Fatalf("slow Check: %s", c)
	}
	// A Check with a free worker is tried whatever the last one cost: its deadline (400 ms)
	// is shorter than the service time learnt (1 s), but refusing it would also stop the
	// service from ever learning a shorter one.
	if c, took := check(400*time.Millisecond, callBody(5, "list_devices", nil)); c != codes.OK {
		t.Fatalf("a lone Check was refused after a slow one: %s after %s", c, took)
	}
	// ...then every slot is taken by a slow one.
	var wg sync.WaitGroup
	for i := range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() { check(10*time.Second, callBody(10+i, "slow_tool", nil)) })
	}
	time.Sleep(200 * time.Millisecond)
	// A Check with 400 ms left cannot wait 1 s for a slot: refused now, not at its deadline.
	// UNAVAILABLE, not DEADLINE_EXCEEDED, shows the answer came before the deadline.
	if c, took := check(400*time.Millisecond, callBody(3, "list_devices", nil)); c != codes.Unavailable {
		t.Fatalf("a Check that cannot be decided in time got %s after %s, want UNAVAILABLE at once", c, took)
	}
	for range 3 {
		check(400*time.Millisecond, callBody(4, "list_devices", nil))
	}
	wg.Wait()
	// The queue has drained: a Check with time to spare is decided (allowed) again.
	allowed(t, h.check(fast))
	_, metrics := httpGet(t, h.httpURL+"/metrics")
	if !strings.Contains(string(metrics), "gatehouse_authz_queue_timeouts_total 4") {
		t.Errorf("refusals not counted:\n%s", grepLines(string(metrics), "queue_timeouts"))
	}
	if n := strings.Count(h.logs.String(), "could not be decided before its deadline"); n < 1 || n > 2 {
		t.Errorf("the overload warning was logged %d times, want once a second at most", n)
	}
}

// slowToolPolicies is the default policies plus slow_tool, which holds its evaluation slot,
// idle, until policy.eval_timeout cuts it: a service time without burning CPU (the policy
// waits on a server that never answers in time).
func slowToolPolicies(t *testing.T) string {
	sleeper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(sleeper.Close)
	dir := copyPolicies(t)
	writePolicyFile(t, dir, "slow.rego", "package gatehouse.authz\n\nimport rego.v1\n\nallow if {\n\tinput.mcp.name == \"slow_tool\"\n\thttp.send({\"method\": \"GET\", \"url\": \""+sleeper.URL+"\"}).status_code == 200\n}\n")
	return dir
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A Check is counted in the backlog from its headers until its stream ends, however it
// ends: one whose message never comes is forgotten when its caller gives up.
func TestAdmittedUntilStreamEnds(t *testing.T) {
	h := newHarness(t)
	admitted := func() string {
		_, m := httpGet(t, h.httpURL+"/metrics")
		for l := range strings.SplitSeq(string(m), "\n") {
			if strings.HasPrefix(l, "gatehouse_authz_checks_admitted ") {
				return l
			}
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	desc := &grpc.StreamDesc{StreamName: "Check", ClientStreams: true, ServerStreams: true}
	if _, err := h.conn.NewStream(ctx, desc, "/envoy.service.auth.v3.Authorization/Check"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the half-sent Check counted", func() bool { return admitted() == "gatehouse_authz_checks_admitted 1" })
	cancel()
	waitFor(t, "the abandoned Check forgotten", func() bool { return admitted() == "gatehouse_authz_checks_admitted 0" })
}

// While the service is refusing Checks, a Check that would wait longer than
// authz.max_queue_wait (and than one service time, always worth waiting for) is refused even
// if its deadline is far; before any refusal the same Check queues. A caller that cancels
// does not turn the short queue on.
func TestSustainedOverloadShortensTheQueue(t *testing.T) {
	h := newHarness(t, withPolicyDir(slowToolPolicies(t)), withConfig(func(c *config.Config) {
		c.Policy.EvalTimeout = 500 * time.Millisecond
		c.Authz.MaxQueueWait = 50 * time.Millisecond
	}))
	tok := h.token(cc, "root", []string{"admin"})
	check := func(timeout time.Duration, body string) codes.Code {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := h.client.Check(ctx, mcpPost(cc, tok, body))
		return status.Code(err)
	}
	check(10*time.Second, callBody(1, "slow_tool", nil)) // the service time: 500 ms
	workers := 2 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	// Two waves of 500 ms Checks: every worker busy, and as many queued behind them.
	occupy := func() {
		for i := range 2 * workers {
			wg.Go(func() { check(10*time.Second, callBody(10+i, "slow_tool", nil)) })
		}
		time.Sleep(150 * time.Millisecond)
	}
	occupy()
	// A caller that gives up while its Check queues is not overload.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := h.client.Check(ctx, mcpPost(cc, tok, callBody(6, "list_devices", nil))); status.Code(err) != codes.Canceled {
		t.Fatalf("a canceled Check: %v", err)
	}
	// Behind two waves, with 10 s to go: queued and decided.
	if c := check(10*time.Second, callBody(2, "list_devices", nil)); c != codes.OK {
		t.Fatalf("a Check with time to wait was refused (%s) before any overload", c)
	}
	wg.Wait()
	occupy()
	// One that cannot wait a second is refused, and the service is now refusing...
	if c := check(300*time.Millisecond, callBody(3, "list_devices", nil)); c != codes.Unavailable {
		t.Fatalf("a Check that cannot be decided in time got %s", c)
	}
	// ...so one that would wait two waves is refused too, with all the time in the world.
	if c := check(10*time.Second, callBody(4, "list_devices", nil)); c != codes.Unavailable {
		t.Fatalf("in sustained overload a Check expected to wait past max_queue_wait got %s, want UNAVAILABLE", c)
	}
	wg.Wait()
	// With the workers free again, Checks are decided.
	if c := check(10*time.Second, callBody(5, "list_devices", nil)); c != codes.OK {
		t.Fatalf("after the overload: %s", c)
	}
}
