package restbridge

import "github.com/prometheus/client_golang/prometheus"

// metrics are the bridge's own; the adapters count the tool calls themselves.
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	initializations *prometheus.CounterVec
	replays         prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rest_requests_total",
			Help: "REST bridge requests by server (other: not behind the bridge), kind (call, list) and HTTP status.",
		}, []string{"server", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_rest_request_duration_seconds",
			Help:    "REST bridge request duration, including the adapter's.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
		initializations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rest_upstream_initializations_total",
			Help: "MCP client initializations towards each adapter, by outcome (success, error).",
		}, []string{"server", "outcome"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_rest_idempotent_replays_total",
			Help: "Calls answered from the idempotency store (a repeat of an Idempotency-Key).",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.initializations, m.replays)
	return m
}
