package authz

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// Metrics are the authz service's Prometheus metrics (names fixed in docs/architecture.md, Logs and metrics).
type Metrics struct {
	decisions     *prometheus.CounterVec
	duration      prometheus.Histogram
	queue         prometheus.Histogram
	authnFailures *prometheus.CounterVec
	authn         *prometheus.HistogramVec
	policyErrors  prometheus.Counter
	queueTimeouts prometheus.Counter
	evalTimeouts  prometheus.Counter
	headerChecks  prometheus.Histogram
	listed        *prometheus.CounterVec
	drift         *prometheus.CounterVec
	memo          map[policy.MemoOutcome]prometheus.Counter
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_decisions_total",
			Help: "Authorization decisions by server, MCP method and outcome (allow, deny, dry_run_deny, unauthenticated, invalid, error, exempt).",
		}, []string{"server", "method", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_authz_duration_seconds",
			Help: "Time to answer one Check, from receipt to response.",
			// Fine below a millisecond, where a healthy service answers.
			Buckets: []float64{.000025, .00005, .000075, .0001, .00015, .0002, .0003, .0005, .00075,
				.001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		queue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_authz_queue_seconds",
			Help:    "Time a Check waited for an evaluation slot (grows when the service is saturated).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
		authnFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authn_failures_total",
			Help: "Requests refused at authentication, by reason.",
		}, []string{"reason"}),
		authn: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_authn_duration_seconds",
			Help: "Bearer token verifications by outcome (success, failure, unavailable): rates and response times of authentication.",
			// A cached token verifies in microseconds; a key fetch from the IdP takes milliseconds.
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .005, .025, .1, .5, 2},
		}, []string{"outcome"}),
		policyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_authz_policy_errors_total",
			Help: "Policy evaluations that failed (error or timeout) and so denied.",
		}),
		headerChecks: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_authz_header_check_duration_seconds",
			Help:    "Time to answer the edge's headers-only check that passed (route, token, scope; before the body is read).",
			Buckets: []float64{.000025, .00005, .0001, .0002, .0005, .001, .0025, .01, .1},
		}),
		listed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_list_items_total",
			Help: "Items of list responses (tools, prompts, resources) shown to or hidden from their caller by the listing decision.",
		}, []string{"server", "method", "result"}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tool_definition_mismatches_total",
			Help: "Tool definitions served that differ from their pin in the catalog (counted once per new definition).",
		}, []string{"server", "tool"}),
		evalTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_authz_eval_timeouts_total",
			Help: "Checks whose policy evaluation outlasted policy.eval_timeout, answered 503 (retryable) instead of a decision.",
		}),
		queueTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_authz_queue_timeouts_total",
			Help: "Checks refused unstarted (gRPC UNAVAILABLE; Envoy answers a retryable 503) because they could not be decided before their deadline.",
		}),
	}
	memo := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_authz_decision_memo_total",
		Help: "Policy decisions by how they were reached: hit (remembered, not evaluated), stored (evaluated and proven to depend only on the question), uncacheable (reads arguments, identity or time), full, evaluated (outside the memo: a question it does not keep, or a proof that failed).",
	}, []string{"result"})
	m.memo = map[policy.MemoOutcome]prometheus.Counter{}
	for _, o := range []policy.MemoOutcome{policy.MemoHit, policy.MemoStored, policy.MemoUncached, policy.MemoFull, policy.MemoEvaluated} {
		m.memo[o] = memo.WithLabelValues(string(o))
	}
	if reg != nil {
		reg.MustRegister(m.decisions, m.duration, m.queue, m.authnFailures, m.authn, m.policyErrors, m.queueTimeouts, m.evalTimeouts, m.headerChecks, m.listed, m.drift, memo)
	}
	return m
}

// record logs the decision once (ECS fields, never a token, secret or body) and counts it,
// from the verdict and what the request said.
func (s *Server) record(r *request, v *Verdict) {
	elapsed := s.now().Sub(r.start)
	if v.Outcome == OutcomeAuthenticated {
		// Half of a request's decision: the body check that follows is the one logged and
		// counted. Only its time is observed.
		s.metrics.headerChecks.Observe(elapsed.Seconds())
		return
	}
	server := "unknown"
	if r.srv != nil {
		server = r.server
	}
	s.metrics.decisions.WithLabelValues(server, r.msg.MetricMethod(), string(v.Outcome)).Inc()
	s.metrics.duration.Observe(elapsed.Seconds())
	if v.AuthnFailure != "" {
		s.metrics.authnFailures.WithLabelValues(string(v.AuthnFailure)).Inc()
	}

	level := zerolog.InfoLevel
	if v.Outcome == OutcomeExempt {
		level = zerolog.DebugLevel // metadata and health fetches would drown the audit trail
	}
	ev := s.log.WithLevel(level)
	if !ev.Enabled() {
		return
	}
	evOutcome, evType := "success", "allowed"
	if !v.Allowed() || v.Outcome == OutcomeDryRunDeny {
		evOutcome, evType = "failure", "denied"
	}
	ev = ev.Str("event.kind", "event").
		Strs("event.category", []string{"web", "iam"}).
		Strs("event.type", []string{"access", evType}).
		Str("event.action", "mcp-authorize").
		Str("event.outcome", evOutcome).
		Int64("event.duration", elapsed.Nanoseconds()).
		Str("url.path", r.path).
		Str("http.request.method", r.method).
		Int("http.response.status_code", v.Status).
		Str("gatehouse.decision_id", v.DecisionID).
		Str("gatehouse.stage", string(v.Stage)).
		Str("gatehouse.outcome", string(v.Outcome)).
		Str("gatehouse.via", r.via)
	if r.server != "" {
		ev = ev.Str("gatehouse.server", r.server)
	}
	if addr := r.clientAddress; addr != "" {
		ev = ev.Str("client.address", addr)
	}
	// trace.id is the edge's request id (Envoy makes it for external requests); a client's
	// traceparent is the parent only: a client must not choose the id its calls are logged under.
	if t := r.headers["x-request-id"]; t != "" {
		ev = ev.Str("trace.id", t)
	}
	// The edge moved the client's traceparent to x-gatehouse-client-traceparent before
	// anything read it (its own trace starts fresh); a request that did not pass an edge
	// that does so still has it in traceparent.
	tp := r.headers[contract.HeaderClientTraceparent]
	if tp == "" {
		tp = r.headers["traceparent"]
	}
	if p, ok := contract.TraceID(tp); ok {
		ev = ev.Str("gatehouse.parent_trace_id", p)
	}
	if id := r.identity; id != nil {
		ev = ev.Str("user.id", id.Subject).Strs("user.roles", nonNil(id.Groups))
		if id.Email != "" {
			ev = ev.Str("user.email", id.Email)
		}
		if id.ClientID != "" {
			ev = ev.Str("gatehouse.client_id", id.ClientID)
		}
	}
	if m := r.msg; m != nil {
		ev = ev.Str("gatehouse.kind", string(m.Kind))
		if m.Method != "" {
			ev = ev.Str("gatehouse.method", m.Method)
		}
		if m.ProtocolVersion != "" {
			ev = ev.Str("gatehouse.protocol_version", m.ProtocolVersion)
		}
	}
	if r.tool != "" {
		ev = ev.Str("gatehouse.tool", r.tool)
	}
	if v.Revision != "" {
		ev = ev.Str("gatehouse.policy_revision", v.Revision)
	}
	if len(v.Reasons) > 0 {
		ev = ev.Strs("gatehouse.reasons", v.Reasons)
	}
	if v.Outcome == OutcomeDryRunDeny {
		ev = ev.Bool("gatehouse.dry_run", true)
	}
	if v.AuthnFailure != "" {
		ev = ev.Str("gatehouse.authn_failure", string(v.AuthnFailure))
	}
	msg := "authorization " + evType
	if v.Outcome == OutcomeDryRunDeny {
		msg = "authorization would be denied (dry run): allowed"
	}
	ev.Msg(msg)
}
