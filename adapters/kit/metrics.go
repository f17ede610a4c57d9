package kit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the adapter-side metrics listed in docs/architecture.md (Logs and metrics).
type Metrics struct {
	toolCalls    *prometheus.CounterVec
	toolDuration *prometheus.HistogramVec
	upstream     *prometheus.CounterVec
	secretReads  *prometheus.CounterVec
	vaultOps     *prometheus.HistogramVec
}

// NewMetrics registers the kit's metrics with reg, for a process that uses the kit's Vault
// client without an adapter server (the certificate agent).
func NewMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg) }

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tool_calls_total", Help: "Tool calls by server, tool and outcome (success, error).",
		}, []string{"server", "tool", "outcome"}),
		toolDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_tool_duration_seconds", Help: "Tool call duration, including upstream calls.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"server", "tool"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_upstream_requests_total", Help: "Upstream HTTP requests by server and status (or error).",
		}, []string{"server", "status"}),
		secretReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_secret_reads_total", Help: "Secret reads from the secret source, by outcome (hit, miss, error).",
		}, []string{"outcome"}),
		// Per Vault call, so that a failing renewal or login shows before the token expires.
		vaultOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_vault_operation_duration_seconds", Help: "Vault calls by operation (login, lookup, renew, read, issue) and outcome (success, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "outcome"}),
	}
	reg.MustRegister(m.toolCalls, m.toolDuration, m.upstream, m.secretReads, m.vaultOps)
	return m
}

// vaultOp records one Vault call that started at start.
func (m *Metrics) vaultOp(op string, start time.Time, err error) {
	outcome := "success"
	if err != nil {
		outcome = "error"
	}
	m.vaultOps.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}
