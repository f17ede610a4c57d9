// Package authz is the Envoy ext_authz v3 gRPC service: for every HTTP request to an MCP route
// it authenticates the bearer token, parses the MCP message strictly, asks OPA, and answers with
// the header mutations of an allow or a spec-shaped denial. It fails closed: any error on the
// way is a denial, never a pass.
//
// One Check is request → stages → Verdict → response, log line and metrics (pipeline.go).
// Each stage either returns a Verdict, which ends the Check, or lets the next one run:
//
//	route      canonical path, server from context_extensions (or path), exempt routes, Origin, size
//	authn      Bearer token from the Authorization header only, verified for this server's audience
//	scope      the server's required scopes
//	parse      mcpmsg.Parse (or ParseREST for the REST bridge)
//	policy     input.go builds the opa-envoy-plugin input plus subject, mcp, tool and now;
//	           policy.go evaluates data.gatehouse.authz and maps its answer to a Verdict
//
// The Verdict (verdict.go) carries the stage, outcome, HTTP status, JSON-RPC code, reasons
// and decision id; render.go turns it into the CheckResponse and observe.go into the
// decision log line and the metrics, so the three always agree.
package authz

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// TokenVerifier verifies bearer tokens (proxy/oidc in production).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string, audiences []string) (*oidc.Identity, error)
	Ready() bool
}

// PolicySource hands out the policy revision in service (proxy/policy in production).
type PolicySource interface {
	Current() *policy.Revision
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	cfg      *config.Config
	verifier TokenVerifier
	policy   PolicySource
	log      zerolog.Logger
	metrics  *Metrics
	now      func() time.Time
	origins  []string
	// jobs feeds the evaluation workers (evaluate), 2 × GOMAXPROCS of them: the slots in
	// which Checks do CPU work.
	jobs               chan *job
	workers            int
	waiting            atomic.Int64 // Checks waiting for a worker
	admitted           atomic.Int64 // Checks the tap let in whose streams have not ended
	busy               atomic.Int64 // workers deciding a Check
	serviceTime        ewma         // recent time a Check holds its slot
	cost               cost         // CPU time per completed Check
	lastOverloadLog    atomic.Int64
	lastRefusal        atomic.Int64 // when a Check was last refused for lack of time (Unix ns)
	lastEvalTimeoutLog atomic.Int64

	// keys bind session and task ids to their caller (internal/proxy/binding).
	keys *binding.Keys
	// drift remembers tools whose served definition differs from the catalog's pin.
	drift *drift
	// lists remembers parsed list results and listing decisions (responses.go).
	lists *listMemo
}

// New returns an authz server.
func New(cfg *config.Config, verifier TokenVerifier, policies PolicySource, log zerolog.Logger, metrics *Metrics) *Server {
	origins := cfg.Authz.AllowedOrigins
	if len(origins) == 0 {
		origins = []string{cfg.Origin()}
	}
	s := &Server{cfg: cfg, verifier: verifier, policy: policies, log: log, metrics: metrics, now: time.Now, origins: origins,
		jobs: make(chan *job), workers: 2 * runtime.GOMAXPROCS(0), keys: binding.RandomKeys(), drift: newDrift(), lists: newListMemo()}
	for range s.workers {
		go s.evaluate()
	}
	return s
}

// UseBindingKeys sets the keys that bind session and task ids to their callers; all
// replicas must share them.
func (s *Server) UseBindingKeys(k *binding.Keys) { s.keys = k }

// Ready reports whether the server can make decisions: a policy is loaded and the issuer's
// keys were fetched.
func (s *Server) Ready() bool {
	return s.policy.Current() != nil && s.verifier.Ready()
}

// request is one Check in flight: what was read from it. What was decided is the Verdict.
type request struct {
	start         time.Time
	decisionID    string
	method        string // HTTP method
	path          string // without query
	query         string
	headers       map[string]string
	body          []byte
	clientAddress string

	// headerStage marks the edge's headers-only check (no body yet).
	headerStage bool

	// Read by the stages, in order.
	via      string         // viaMCP or viaREST
	server   string         // the server named by the route (or path)
	srv      *config.Server // its config, looked up once; nil when unknown
	tool     string         // tools/call and REST bridge: the tool named
	task     string         // REST bridge task path: the task id named
	identity *oidc.Identity
	msg      *mcpmsg.Message
	session  string // the upstream's session id, unwrapped from the client's
}

// How a request arrived: an MCP message, or a REST bridge call.
const (
	viaMCP  = "mcp"
	viaREST = "rest"
)

// Check implements the ext_authz gRPC API. It never returns a gRPC error for a bad request:
// every outcome is a CheckResponse, so that Envoy relays our answer rather than its own.
//
// The one gRPC error is UNAVAILABLE for a Check that cannot be decided before its caller's
// deadline: refused on arrival (by Admit, and again here) when the backlog ahead of it would
// take too much of its remaining time (canFinish), and dropped unstarted when its deadline
// passed while it queued.
// Envoy then fails closed at once with a retryable 503 (status_on_error), instead of waiting
// out its timeout while the service spends CPU on answers nobody will read.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	j := &job{ctx: ctx, req: req, queued: s.now(), done: make(chan struct{})}
	if tracing.Enabled() {
		j.ctx, j.span = tracing.Tracer("authz").Start(tracing.FromGRPC(ctx), "authz Check", trace.WithSpanKind(trace.SpanKindServer))
		defer j.span.End()
	}
	deadline, hasDeadline := ctx.Deadline()
	waiting := s.waiting.Add(1)
	if hasDeadline && !s.canFinish(j.queued, deadline, waiting) {
		s.waiting.Add(-1)
		return nil, j.refused(s.overloaded())
	}
	select {
	case s.jobs <- j:
		s.waiting.Add(-1)
	case <-ctx.Done():
		// Envoy has given up on this Check (its ext_authz timeout); it fails closed itself.
		s.waiting.Add(-1)
		return nil, j.refused(s.abandoned(ctx))
	}
	<-j.done
	if j.panicked != nil {
		panic(j.panicked) // on the caller's goroutine, where the gRPC interceptor recovers it
	}
	return j.resp, j.err
}

// job is one Check handed to an evaluation worker.
type job struct {
	ctx      context.Context
	req      *authv3.CheckRequest
	queued   time.Time
	resp     *authv3.CheckResponse
	err      error
	panicked any
	done     chan struct{}
	span     trace.Span // nil unless tracing is on
}

// refused marks the Check's span as not decided (overload) and returns err.
func (j *job) refused(err error) error {
	if j.span != nil {
		j.span.SetAttributes(tracing.Outcome.String(string(OutcomeOverloaded)))
		j.span.SetStatus(otelcodes.Error, "refused: cannot be decided before the deadline")
	}
	return err
}

// evaluate runs Checks for as long as the process lives. A fixed set of long-lived workers
// bounds how many Checks do CPU work at once (queued Checks wait in arrival order, each then
// runs at full speed instead of being time-sliced with all the others), and each worker keeps
// the deep stack OPA evaluation grows: on fresh goroutines, growing it by copying was a fifth
// of the CPU of a Check (BENCHMARKS.md).
func (s *Server) evaluate() {
	for j := range s.jobs {
		s.run(j)
	}
}

func (s *Server) run(j *job) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
		}
		close(j.done)
	}()
	// Dropped only when its deadline has actually passed while it queued: a Check that
	// reached a worker is always tried, so the service time keeps being learned (an estimate
	// alone, once too high, would refuse every Check and never learn otherwise).
	if j.ctx.Err() != nil {
		j.err = j.refused(s.abandoned(j.ctx))
		return
	}
	s.busy.Add(1)
	defer s.busy.Add(-1)
	r := s.newRequest(j.req)
	s.metrics.queue.Observe(r.start.Sub(j.queued).Seconds())
	v := s.decide(j.ctx, j.req, r)
	v.DecisionID = r.decisionID
	j.resp = s.render(r, v)
	s.record(r, v)
	if j.span != nil {
		traceVerdict(j.span, r, v)
	}
	done := s.now()
	s.serviceTime.observe(done.Sub(r.start))
	s.cost.completed(done)
}

// checkMethod is the gRPC method Admit guards.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// Admit is the gRPC server's tap (grpc.InTapHandle): it refuses a Check that cannot be
// decided before its deadline as soon as its headers are read, before its message is
// decoded or a goroutine started for it, so that under overload the CPU goes to Checks that
// will be answered in time. Check makes the same test again once the message is read.
func (s *Server) Admit(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != checkMethod {
		return ctx, nil
	}
	if deadline, ok := ctx.Deadline(); ok && !s.canFinish(s.now(), deadline, max(0, s.admitted.Load()-s.busy.Load())+1) {
		return ctx, s.overloaded()
	}
	// Counted from here until its stream ends, however it ends: the Checks admitted but not
	// yet at a worker (their messages still arriving, decoding, or queued) are the backlog
	// the next one waits behind.
	s.admitted.Add(1)
	context.AfterFunc(ctx, func() { s.admitted.Add(-1) })
	return ctx, nil
}

// canFinish estimates whether a Check with waiting Checks ahead of it (itself included) can
// be decided by deadline. The backlog drains at the pace the saturated service completes
// Checks (its CPU time per completed Check over GOMAXPROCS), and at least one wave of as
// many Checks as there are workers per recent service time; then the Check itself takes a
// service time. A Check for which a worker is free, or any Check before a service time is
// known, is admitted.
//
// It may wait at most a quarter of its remaining time (the rest is the margin for the time
// it spent before the service saw it, and for the estimate's error; half let the backlog
// that builds before the first refusal outgrow stock OPA's memory at 1.3x capacity) and,
// while the service is refusing Checks for lack of time (in the last second), at most
// authz.max_queue_wait or one service time: in sustained overload a long queue only delays
// every answer, and the Checks held in it cost goroutines, memory and collection time that
// the Checks being decided then lack (BENCHMARKS.md).
func (s *Server) canFinish(now, deadline time.Time, waiting int64) bool {
	st := s.serviceTime.get()
	if st == 0 {
		return now.Before(deadline)
	}
	if s.busy.Load()+waiting <= int64(s.workers) {
		// A worker is free for it: it starts now. Whether it finishes in time is not
		// guessed (a Check slower than the others must not lock out the ones after it).
		return now.Before(deadline)
	}
	// Every worker is busy: it waits at least for one of them, and a service time for each
	// wave of workers' worth of Checks ahead of it.
	wait := time.Duration((waiting+int64(s.workers)-1)/int64(s.workers)) * st
	if g := s.cost.drainPer(); g > 0 {
		wait = max(wait, time.Duration(waiting)*g)
	}
	// One wave is always worth waiting for: with Checks slower than max_queue_wait (a policy
	// that calls out, a large body) anything else would refuse every Check that finds the
	// workers busy, and each refusal would keep the short queue on.
	if wait > max(s.cfg.Authz.MaxQueueWait, st) && now.UnixNano()-s.lastRefusal.Load() < int64(time.Second) {
		return false
	}
	return now.Add(4*wait + st).Before(deadline)
}

// overloaded counts a Check refused or dropped because it could not be decided before its
// deadline, and logs it at most once a second: under a flood the count is what matters, and
// the log must not become the flood.
func (s *Server) overloaded() error {
	t := s.now()
	s.lastRefusal.Store(t.UnixNano())
	return s.dropped(t)
}

// abandoned is overloaded for a Check whose context ended while it queued: the service is
// overloaded if its deadline passed, but a caller that went away (canceled) says nothing
// about the queue, so it does not turn the short queue on.
func (s *Server) abandoned(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return s.overloaded()
	}
	return s.dropped(s.now())
}

// dropped counts and logs a Check not decided for lack of time.
func (s *Server) dropped(t time.Time) error {
	s.metrics.queueTimeouts.Inc()
	now := t.Unix()
	if last := s.lastOverloadLog.Load(); now > last && s.lastOverloadLog.CompareAndSwap(last, now) {
		s.log.Warn().Str("event.action", "mcp-authorize").Str("event.outcome", "failure").
			Str("gatehouse.outcome", string(OutcomeOverloaded)).
			Msg("a Check could not be decided before its deadline and was refused unstarted (UNAVAILABLE; Envoy answers 503): the service is saturated")
	}
	return errOverloaded
}

// errOverloaded is every refusal's answer, made once: under a flood each refusal is worth
// its few allocations, and grpc-go only reads a status.
var errOverloaded = status.Error(codes.Unavailable, "authz service overloaded: the Check could not be decided before its deadline; retry")

// ewma is a moving average of durations (weight 1/16 unless said), safe for concurrent use; a lost
// update under contention only delays the average by one sample.
type ewma struct{ ns atomic.Int64 }

func (e *ewma) observe(d time.Duration) { e.observeWeighted(d, 16) }

// observeWeighted adds a sample with weight 1/n.
func (e *ewma) observeWeighted(d time.Duration, n int64) {
	old := e.ns.Load()
	if old == 0 {
		e.ns.Store(int64(d))
		return
	}
	e.ns.Store(old + (int64(d)-old)/n)
}

func (e *ewma) get() time.Duration { return time.Duration(e.ns.Load()) }

// cost is the process's CPU time per completed Check: everything it spends (gRPC,
// refusals, garbage collection, logs) divided by the Checks it completes, over windows of
// at least costWindow and costSamples completions. Divided by GOMAXPROCS it is the pace at
// which a backlog drains once the CPU is saturated, whatever load it was measured under. (A
// pace observed between completions follows the load, not the capacity: measured under a
// light load it refused Checks that could be decided, and each refusal slowed the pace it
// then observed.)
type cost struct {
	cpu   func() time.Duration // processCPU unless a test sets it
	mu    sync.Mutex
	start time.Time // the current window's start
	cpu0  time.Duration
	n     int64 // completions in the window
	per   ewma
}

const (
	costWindow  = 20 * time.Millisecond
	costSamples = 32
	// A window longer than this spans idle time and work that is not Checks (starting up,
	// compiling a policy revision): it is not a measure of the saturated service.
	costMaxWindow = 250 * time.Millisecond
)

func (c *cost) completed(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := c.cpu
	if read == nil {
		read = processCPU
	}
	if c.start.IsZero() {
		c.start, c.cpu0, c.n = now, read(), 0
		return
	}
	if c.n++; c.n < costSamples || now.Sub(c.start) < costWindow {
		return
	}
	cpu := read()
	if cpu > c.cpu0 && c.cpu0 > 0 && now.Sub(c.start) <= costMaxWindow {
		c.per.observeWeighted((cpu-c.cpu0)/time.Duration(c.n), 4)
	}
	// A failed reading (0) starts no window: measured from it, the next window would
	// charge the process's whole life to a few Checks.
	c.start, c.cpu0, c.n = now, cpu, 0
	if cpu == 0 {
		c.start = time.Time{}
	}
}

// drainPer is how long the saturated service takes per Check (0 until measured).
func (c *cost) drainPer() time.Duration {
	return c.per.get() / time.Duration(runtime.GOMAXPROCS(0))
}

// evalOverloaded counts a policy evaluation cut short by policy.eval_timeout (or by Envoy
// giving up), answered 503 instead of a decision, and logs it at most once a second.
func (s *Server) evalOverloaded() {
	s.metrics.evalTimeouts.Inc()
	now := s.now().Unix()
	if last := s.lastEvalTimeoutLog.Load(); now > last && s.lastEvalTimeoutLog.CompareAndSwap(last, now) {
		s.log.Warn().Str("event.action", "mcp-authorize").Str("event.outcome", "failure").
			Str("gatehouse.outcome", string(OutcomeOverloaded)).
			Msg("a policy evaluation did not finish within policy.eval_timeout: answered 503 (retryable), not denied; the service is saturated or the policy is slow")
	}
}

func (s *Server) newRequest(req *authv3.CheckRequest) *request {
	h := req.GetAttributes().GetRequest().GetHttp()
	r := &request{
		start:      s.now(),
		decisionID: newDecisionID(),
		method:     h.GetMethod(),
		headers:    h.GetHeaders(),
		via:        viaMCP,

		clientAddress: req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress(),
	}
	if r.headers == nil {
		r.headers = map[string]string{}
	}
	r.path, r.query, _ = strings.Cut(h.GetPath(), "?")
	// Envoy sends raw_body with pack_as_bytes (as the control plane configures it); body is
	// the UTF-8 string form other configurations send.
	r.body = h.GetRawBody()
	if len(r.body) == 0 && h.GetBody() != "" {
		r.body = []byte(h.GetBody())
	}
	return r
}

func newDecisionID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
