package authz

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Metrics are the authz service's Prometheus metrics (names fixed in DESIGN.md).
type Metrics struct {
	decisions     *prometheus.CounterVec
	duration      prometheus.Histogram
	queue         prometheus.Histogram
	authnFailures *prometheus.CounterVec
	policyErrors  prometheus.Counter
	queueTimeouts prometheus.Counter
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
		policyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_authz_policy_errors_total",
			Help: "Policy evaluations that failed (error or timeout) and so denied.",
		}),
		queueTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_authz_queue_timeouts_total",
			Help: "Checks whose deadline passed while waiting for an evaluation slot (Envoy denies them).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.decisions, m.duration, m.queue, m.authnFailures, m.policyErrors, m.queueTimeouts)
	}
	return m
}

func (r *request) outcome() string {
	switch {
	case r.dryRunDeny:
		return "dry_run_deny"
	case r.allowed && r.stage == stagePolicy:
		return "allow"
	case r.allowed && r.stage == stageRoute:
		return "exempt"
	case r.stage == stageAuthn && r.status == 401:
		return "unauthenticated"
	case r.stage == stageRoute || r.stage == stageParse:
		return "invalid"
	case r.status == 503 || r.failedClosed:
		return "error"
	default:
		return "deny"
	}
}

// record logs the decision once (ECS fields, never a token, secret or body) and counts it.
func (s *Server) record(r *request) {
	elapsed := s.now().Sub(r.start)
	outcome := r.outcome()
	server := r.server
	if _, ok := s.cfg.Server(server); !ok {
		server = "unknown"
	}
	s.metrics.decisions.WithLabelValues(server, r.msg.MetricMethod(), outcome).Inc()
	s.metrics.duration.Observe(elapsed.Seconds())
	if r.authnFail != "" {
		s.metrics.authnFailures.WithLabelValues(string(r.authnFail)).Inc()
	}

	level := zerolog.InfoLevel
	if outcome == "exempt" {
		level = zerolog.DebugLevel // metadata and health fetches would drown the audit trail
	}
	ev := s.log.WithLevel(level)
	if !ev.Enabled() {
		return
	}
	evOutcome, evType := "success", "allowed"
	if !r.allowed || r.dryRunDeny {
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
		Int("http.response.status_code", r.status).
		Str("gatehouse.decision_id", r.decisionID).
		Str("gatehouse.stage", r.stage).
		Str("gatehouse.outcome", outcome).
		Str("gatehouse.via", r.via)
	if r.server != "" {
		ev = ev.Str("gatehouse.server", r.server)
	}
	if addr := r.clientAddress; addr != "" {
		ev = ev.Str("client.address", addr)
	}
	if t := r.traceID(); t != "" {
		ev = ev.Str("trace.id", t)
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
	if r.revision != "" {
		ev = ev.Str("gatehouse.policy_revision", r.revision)
	}
	if len(r.reasons) > 0 {
		ev = ev.Strs("gatehouse.reasons", r.reasons)
	}
	if r.dryRunDeny {
		ev = ev.Bool("gatehouse.dry_run", true)
	}
	if r.authnFail != "" {
		ev = ev.Str("gatehouse.authn_failure", string(r.authnFail))
	}
	msg := "authorization " + evType
	if r.dryRunDeny {
		msg = "authorization would be denied (dry run): allowed"
	}
	ev.Msg(msg)
}

// traceID prefers the W3C traceparent trace id, then Envoy's x-request-id.
func (r *request) traceID() string {
	if tp := r.headers["traceparent"]; len(tp) >= 55 && tp[2] == '-' {
		return tp[3:35]
	}
	return r.headers["x-request-id"]
}
