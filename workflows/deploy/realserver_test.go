package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

// Tests against a real Temporal server (the CLI's dev server). They skip unless
// GATEHOUSE_TEMPORAL_BIN names the temporal binary.

// fast are timeouts short enough for tests: a dead worker's task poll is taken over 2 s
// after its last heartbeat.
var fast = deploy.Timeouts{Heartbeat: 2 * time.Second, Retry: 200 * time.Millisecond}

func startServer(t testing.TB) *devserver.Server {
	t.Helper()
	return devserver.Start(t, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
}

// waitFor polls cond every 50 ms until it holds or the time is up.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitState(t testing.TB, c *deploy.Client, id string, want deploy.State) deploy.Status {
	t.Helper()
	var st deploy.Status
	waitFor(t, time.Minute, "state "+string(want), func() bool {
		var err error
		st, err = c.Get(context.Background(), id)
		return err == nil && st.State == want
	})
	return st
}

func approve(approver string, hash string) deploy.Decision {
	return deploy.Decision{Approver: approver, Email: approver + "@gatehouse.example", Roles: []string{"network-approvers"},
		DecisionID: "dec-" + approver, RequestHash: hash, Comment: "approved in test"}
}

func TestRealServerHappyPathWithApproval(t *testing.T) {
	srv := startServer(t)
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	logs := &ecslogtest.Buffer{}
	log := zerolog.New(logs)
	sim.StartWorker(t, srv.Address, srv.Namespace, "happy", log)
	c := deploy.NewClient(srv.Client(t, temporalx.NewLogger(log)), "happy")
	c.Timeouts = fast
	ctx := context.Background()

	req := sim.Request(t, "lon-b1-core-01", "nyc-hq-dist-01")
	appr := deploy.Approval{Required: true, Approvers: 1, Role: "network-approvers", Timeout: time.Hour}
	id, err := c.Start(ctx, req, appr)
	if err != nil {
		t.Fatal(err)
	}
	if err := deploy.CheckID(id); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, c, id, deploy.StateAwaitingApproval)
	if st.Change == nil || st.Preview == "" || st.RequestHash != req.Hash() {
		t.Fatalf("status %+v", st)
	}
	// Visibility lists it for approvers with the role, and for its requester.
	waitFor(t, 15*time.Second, "the deployment in the approvers' list", func() bool {
		p, err := c.List(ctx, deploy.Filter{AwaitingRole: "network-approvers"})
		return err == nil && len(p.Deployments) == 1 && p.Deployments[0].WorkflowID == id &&
			p.Deployments[0].ChangeNumber == st.Change.Number && p.Deployments[0].Devices == 2
	})
	if p, err := c.List(ctx, deploy.Filter{AwaitingRole: "developers"}); err != nil || len(p.Deployments) != 0 {
		t.Errorf("listed for another role: %+v %v", p, err)
	}

	// The requester cannot approve; a decision for another request is refused.
	_, err = c.Approve(ctx, id, approve("alice", req.Hash()))
	var refused *deploy.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "requester cannot approve") {
		t.Fatalf("requester's approval: %v", err)
	}
	other := req
	other.Parameters = map[string]string{"ntp_primary": "6.6.6.6", "ntp_secondary": "10.0.0.2"}
	wrong := approve("bob", other.Hash())
	wrong.DecisionID = "dec-bob-replayed"
	if _, err := c.Approve(ctx, id, wrong); !errors.As(err, &refused) {
		t.Fatalf("approval of another request: %v", err)
	}
	after, err := c.Approve(ctx, id, approve("bob", req.Hash()))
	if err != nil || len(after.Approvals) != 1 || len(after.Refusals) != 2 {
		t.Fatalf("approval: %v %+v", err, after)
	}
	// The same MCP call delivered twice counts once.
	if again, err := c.Approve(ctx, id, approve("bob", req.Hash())); err != nil || len(again.Approvals) != 1 {
		t.Fatalf("repeated approval: %v %+v", err, again)
	}

	final, err := c.Result(ctx, id)
	if err != nil || final.State != deploy.StateCompleted {
		t.Fatalf("result %v: %s %s", err, final.State, final.LastError)
	}
	if n := len(sim.Changes(t, id)); n != 1 {
		t.Errorf("%d changes", n)
	}
	if deps := sim.Catalyst.Deployments(); len(deps) != 1 || deps[0].DeploymentID != final.Deployment.DeploymentID {
		t.Errorf("deployments %+v", deps)
	}
	if _, err := c.Cancel(ctx, id, deploy.Cancellation{By: deploy.Identity{Subject: "alice"}}); !errors.Is(err, deploy.ErrEnded) && !errors.As(err, &refused) {
		t.Errorf("cancel after the end: %v", err)
	}
	if _, err := c.Get(ctx, "deploy-0000000000000000-000000000000"); !errors.Is(err, deploy.ErrUnknownDeployment) {
		t.Errorf("unknown id: %v", err)
	}
	waitFor(t, 15*time.Second, "the completed deployment in the requester's list", func() bool {
		p, err := c.List(ctx, deploy.Filter{Requester: "alice", State: deploy.StateCompleted})
		return err == nil && len(p.Deployments) == 1 && !p.Deployments[0].Closed.IsZero()
	})
	// The worker logged every step once, in ECS, with the approver and decision ids.
	out := logs.String()
	if n := strings.Count(out, `"event.action":"deploy.approved"`); n != 1 {
		t.Errorf("%d approved lines", n)
	}
	for _, want := range []string{`"gatehouse.workflow_id":"` + id + `"`, `"gatehouse.approver":["bob"]`,
		`"gatehouse.approval_decision_ids":["dec-bob"]`, `"event.action":"deploy.change_closed"`, `"gatehouse.change_number":"` + final.Change.Number + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestRealServerKeyedStartIsIdempotent(t *testing.T) {
	srv := startServer(t)
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	sim.StartWorker(t, srv.Address, srv.Namespace, "keyed", zerolog.Nop())
	c := deploy.NewClient(srv.Client(t, nil), "keyed")
	c.Timeouts = fast
	ctx := context.Background()
	req := sim.Request(t, "lon-b1-core-01")
	a, err := c.StartWithKey(ctx, req, deploy.Approval{}, "mcp-request-7")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.StartWithKey(ctx, req, deploy.Approval{}, "mcp-request-7")
	if err != nil || a != b {
		t.Fatalf("%s %s %v", a, b, err)
	}
	if _, err := c.Result(ctx, a); err != nil {
		t.Fatal(err)
	}
	if again, err := c.StartWithKey(ctx, req, deploy.Approval{}, "mcp-request-7"); err != nil || again != a {
		t.Fatalf("after the end: %s %v", again, err)
	}
	if n := len(sim.Catalyst.Deployments()); n != 1 {
		t.Errorf("%d deployments", n)
	}
}

// TestRealServerWorkerKilled kills the worker process (SIGKILL) between "change created"
// and "deploy", and again in the middle of the deployment task poll; new worker processes
// finish the deployment with exactly one change and one deployment.
func TestRealServerWorkerKilled(t *testing.T) {
	srv := startServer(t)
	sim := deploytest.New(t)
	bin := deploytest.BuildWorker(t)
	const queue = "durability"
	c := deploy.NewClient(srv.Client(t, nil), queue)
	c.Timeouts = fast
	ctx := context.Background()
	// The deploy task stays in progress until the clock moves.
	sim.Clock.Freeze()

	w1 := sim.StartWorkerProcess(t, bin, srv.Address, queue)
	req := sim.Request(t, "lon-b1-core-01", "lon-b1-acc-01")
	id, err := c.Start(ctx, req, deploy.Approval{Required: true, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st := waitState(t, c, id, deploy.StateAwaitingApproval)
	if st.Change == nil {
		t.Fatal("no change")
	}
	if !strings.Contains(w1.Output(), `"event.action":"deploy.change_created"`) {
		t.Errorf("worker 1 did not log the change:\n%s", w1.Output())
	}
	w1.Kill() // between "change created" and "deploy"
	killed1 := time.Now()

	w2 := sim.StartWorkerProcess(t, bin, srv.Address, queue)
	if _, err := c.Approve(ctx, id, approve("bob", req.Hash())); err != nil {
		t.Fatal(err)
	}
	t.Logf("a new worker took the workflow over %s after the kill", time.Since(killed1).Round(time.Millisecond))
	waitFor(t, time.Minute, "the deployment task being polled", func() bool {
		return len(sim.Catalyst.Deployments()) == 1 && sim.Catalyst.Requests("/dna/intent/api/v1/task/"+sim.Catalyst.Deployments()[0].TaskID) >= 2
	})
	w2.Kill() // in the middle of the task poll
	killed2 := time.Now()
	polls := sim.Catalyst.Requests("/dna/intent/api/v1/task/")

	sim.StartWorkerProcess(t, bin, srv.Address, queue)
	waitFor(t, time.Minute, "the new worker polling the same task", func() bool {
		return sim.Catalyst.Requests("/dna/intent/api/v1/task/") > polls
	})
	t.Logf("a new worker resumed the task poll %s after the kill", time.Since(killed2).Round(time.Millisecond))
	sim.Clock.Advance(deploytest.DeployDuration) // the task ends

	final, err := c.Result(ctx, id)
	if err != nil || final.State != deploy.StateCompleted {
		t.Fatalf("result %v: %s %s (steps %s)", err, final.State, final.LastError, steps(final))
	}
	if changes := sim.AllGatehouseChanges(t); len(changes) != 1 || changes[0]["state"] != "3" {
		t.Errorf("changes %v", changes)
	}
	deps := sim.Catalyst.Deployments()
	if len(deps) != 1 || deps[0].Status != "SUCCESS" || final.Deployment.TaskID != deps[0].TaskID {
		t.Errorf("deployments %+v, status %+v", deps, final.Deployment)
	}
	if n := strings.Count(steps(final), "deploy_started"); n != 1 {
		t.Errorf("deploy started %d times: %s", n, steps(final))
	}
}

// TestRealServerRestart restarts the Temporal dev server on its database file while a
// deployment waits for approval and again while its task runs; the deployment completes.
func TestRealServerRestart(t *testing.T) {
	srv := startServer(t)
	sim := deploytest.New(t)
	sim.StartWorker(t, srv.Address, srv.Namespace, "restart", zerolog.Nop())
	c := deploy.NewClient(srv.Client(t, nil), "restart")
	c.Timeouts = fast
	ctx := context.Background()
	sim.Clock.Freeze()
	req := sim.Request(t, "sjc-b-rtr-01")
	id, err := c.Start(ctx, req, deploy.Approval{Required: true, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, deploy.StateAwaitingApproval)
	start := time.Now()
	srv.Restart()
	t.Logf("dev server restarted in %s", time.Since(start).Round(time.Millisecond))
	st := waitState(t, c, id, deploy.StateAwaitingApproval)
	if st.Change == nil || len(st.Steps) == 0 {
		t.Fatalf("state lost: %+v", st)
	}
	if _, err := c.Approve(ctx, id, approve("bob", req.Hash())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the deployment task", func() bool { return len(sim.Catalyst.Deployments()) == 1 })
	t.Logf("approved and deploying %s after the first restart", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	srv.Restart()
	sim.Clock.Advance(deploytest.DeployDuration)
	final, err := c.Result(ctx, id)
	t.Logf("completed %s after the second restart began", time.Since(start).Round(time.Millisecond))
	if err != nil || final.State != deploy.StateCompleted {
		t.Fatalf("result %v: %s %s", err, final.State, final.LastError)
	}
	if len(sim.AllGatehouseChanges(t)) != 1 || len(sim.Catalyst.Deployments()) != 1 {
		t.Errorf("%d changes, %d deployments", len(sim.AllGatehouseChanges(t)), len(sim.Catalyst.Deployments()))
	}
}

// startMany starts n deployments at once (each with its own NTP server address) and waits
// for all; it checks there is exactly one change and one deployment per workflow.
func startMany(t testing.TB, c *deploy.Client, sim *deploytest.Env, n int) (time.Duration, []time.Duration) {
	t.Helper()
	ctx := context.Background()
	hosts := []string{"lon-b1-core-01", "lon-b1-acc-01", "nyc-hq-dist-01", "sjc-b-rtr-01"}
	ids := make([]string, n)
	took := make([]time.Duration, n)
	errs := make(chan error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := sim.Request(t, hosts[i%len(hosts)])
			req.Parameters = map[string]string{"ntp_primary": fmt.Sprintf("10.77.%d.%d", i/250, i%250), "ntp_secondary": "10.0.0.2"}
			id, err := c.Start(ctx, req, deploy.Approval{})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = id
			st, err := c.Result(ctx, id)
			if err != nil || st.State != deploy.StateCompleted {
				errs <- fmt.Errorf("%s: %v %s %s", id, err, st.State, st.LastError)
			}
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	total := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if all := sim.AllGatehouseChanges(t); len(all) != n {
		t.Errorf("%d changes for %d deployments", len(all), n)
	}
	if all := sim.Catalyst.Deployments(); len(all) != n {
		t.Errorf("%d Catalyst Center deployments for %d workflows", len(all), n)
	}
	for i, id := range ids {
		if id == "" {
			continue
		}
		if ch := sim.Changes(t, id); len(ch) != 1 {
			t.Errorf("%s: %d changes", id, len(ch))
		}
		if d := sim.DeploymentsOf("ntp_primary", fmt.Sprintf("10.77.%d.%d", i/250, i%250)); len(d) != 1 {
			t.Errorf("%s: %d deployments", id, len(d))
		}
	}
	return total, took
}

func TestRealServerConcurrentDeployments(t *testing.T) {
	srv := startServer(t)
	sim := deploytest.New(t)
	sim.RunClockFast(t)
	sim.StartWorker(t, srv.Address, srv.Namespace, "many", zerolog.Nop())
	c := deploy.NewClient(srv.Client(t, nil), "many")
	c.Timeouts = fast
	total, _ := startMany(t, c, sim, 20)
	t.Logf("20 concurrent deployments completed in %s", total.Round(time.Millisecond))
}

// BenchmarkHundredDeployments starts 100 deployments at once against a real Temporal dev
// server, one in-process worker and the simulators (deploy tasks take 5 s of simulator
// time, which runs 50 times faster), waits for all, and checks that each opened exactly
// one change and made exactly one deployment. It reports the wall time of the batch.
func BenchmarkHundredDeployments(b *testing.B) {
	srv := startServer(b)
	for i := 0; i < b.N; i++ {
		sim := deploytest.New(b)
		sim.RunClockFast(b)
		queue := fmt.Sprintf("bench-%d", i)
		sim.StartWorker(b, srv.Address, srv.Namespace, queue, zerolog.Nop())
		c := deploy.NewClient(srv.Client(b, nil), queue)
		c.Timeouts = fast
		total, took := startMany(b, c, sim, 100)
		b.ReportMetric(total.Seconds(), "s/100-deployments")
		var sum time.Duration
		for _, d := range took {
			sum += d
		}
		b.ReportMetric((sum / time.Duration(len(took))).Seconds(), "s/deployment-mean-latency")
	}
}
