// Package policy loads the Rego policy directory, refuses revisions that do not compile or fail
// their own tests, reloads on change without a restart, and evaluates decisions through
// opa-envoy-plugin's envoyauth package. Each revision's query is prepared once.
package policy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Engine holds the revision in service and replaces it when the directory changes.
type Engine struct {
	dir      string
	interval time.Duration
	log      zerolog.Logger
	opaLog   *opaLogger

	current atomic.Pointer[Revision]

	mu        sync.Mutex // serializes reloads
	lastSeen  string     // content hash of the last attempted directory state
	lastError error

	reloads  *prometheus.CounterVec
	revision *prometheus.GaugeVec
}

// NewEngine returns an engine for dir; call Reload (or Run) to load it.
func NewEngine(dir string, interval time.Duration, log zerolog.Logger, reg prometheus.Registerer) *Engine {
	e := &Engine{
		dir: dir, interval: interval, log: log,
		opaLog: &opaLogger{log: log},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_policy_reloads_total",
			Help: "Policy directory loads, by outcome (success, compile_error, test_failure, error).",
		}, []string{"outcome"}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_policy_revision_info",
			Help: "The policy revision in service (value 1), with its content hash.",
		}, []string{"revision"}),
	}
	if reg != nil {
		reg.MustRegister(e.reloads, e.revision)
	}
	return e
}

// Current returns the revision in service, or nil if none ever loaded.
func (e *Engine) Current() *Revision { return e.current.Load() }

// Ready reports whether a policy is in service.
func (e *Engine) Ready() bool { return e.current.Load() != nil }

// LastError returns why the most recent load attempt failed, or nil.
func (e *Engine) LastError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastError
}

// Reload loads the directory if its content changed since the last attempt. A revision that
// fails to load, compile or pass its tests is refused, and the revision in service stays.
// It reports whether a new revision went into service.
func (e *Engine) Reload(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	files, id, err := readDir(e.dir)
	if err != nil {
		// Log an unreadable directory once, not on every poll.
		if e.lastError == nil || e.lastError.Error() != err.Error() {
			e.refused(id, "error", err)
		}
		e.lastSeen = ""
		return false, err
	}
	if id == e.lastSeen {
		return false, e.lastError
	}
	e.lastSeen = id
	start := time.Now()
	rev, err := build(ctx, files, id, e.opaLog)
	if err != nil {
		outcome := "compile_error"
		var tf *TestFailure
		if errors.As(err, &tf) {
			outcome = "test_failure"
		}
		e.refused(id, outcome, err)
		return false, err
	}
	e.lastError = nil
	old := e.current.Swap(rev)
	if old != nil {
		e.revision.DeleteLabelValues(old.ID)
	}
	e.revision.WithLabelValues(rev.ID).Set(1)
	e.reloads.WithLabelValues("success").Inc()
	ev := e.log.Info().Str("event.action", "policy-load").Str("event.outcome", "success").
		Str("gatehouse.policy_revision", rev.ID).Int("gatehouse.policy_tests_passed", rev.Tests).
		Int64("event.duration", time.Since(start).Nanoseconds())
	if old != nil {
		ev = ev.Str("gatehouse.previous_revision", old.ID)
	}
	ev.Msg("policy revision in service")
	return true, nil
}

func (e *Engine) refused(id, outcome string, err error) {
	e.lastError = err
	e.reloads.WithLabelValues(outcome).Inc()
	ev := e.log.Error().Err(err).Str("event.action", "policy-load").Str("event.outcome", "failure").
		Str("gatehouse.reload_outcome", outcome).Str("gatehouse.refused_revision", id)
	if cur := e.current.Load(); cur != nil {
		ev.Str("gatehouse.policy_revision", cur.ID).Msg("policy refused; the previous revision stays in service")
	} else {
		ev.Msg("policy refused and none is in service: every request is denied")
	}
}

// Run reloads on every tick until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = e.Reload(ctx) // outcome is logged and counted
		}
	}
}

// ErrNoPolicy is returned when no revision is in service.
var ErrNoPolicy = errNoRevision
