// Package worker runs the Temporal worker of Gatehouse's workflows: it connects to Temporal
// (waiting for it), registers the deployment workflow and its activities on the task queue,
// serves /healthz, /readyz and /metrics, and runs until its context ends. Upstream URLs and
// credentials are read as the adapters read theirs (Vault or the environment).
package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

// Config configures a worker.
type Config struct {
	// Temporal says how to reach Temporal (address, namespace, TLS).
	Temporal temporalx.Options
	// TaskQueue defaults to deploy.DefaultTaskQueue.
	TaskQueue string
	// Upstreams the activities call.
	Upstreams Upstreams
	// RegisterSearchAttributes registers the deployment search attributes at start
	// (deploy.EnsureSearchAttributes); a failure is logged and the worker runs on.
	RegisterSearchAttributes bool
	// Listen serves /healthz, /readyz and /metrics ("" serves nothing).
	Listen string
	// MaxConcurrentActivities bounds the activities this worker runs at once (default 200).
	MaxConcurrentActivities int
	// Pollers is how many long polls the worker keeps open for workflow tasks and for
	// activity tasks each (default 8; the SDK's 2 limits a worker to a few tasks per
	// round trip).
	Pollers int
	Log     zerolog.Logger
	// Registry receives the upstream and Go metrics (nil: a fresh one).
	Registry *prometheus.Registry
	// Metrics are the kit's upstream and secret metrics, registered in Registry (nil: made
	// by KitMetrics).
	Metrics *kit.Metrics
}

// Upstreams are the systems the deployment activities call.
type Upstreams struct {
	CatalystCenterURL string
	ServiceNowURL     string
	// Secrets hold the "catalyst-center" and "servicenow" credentials, as the adapters'.
	Secrets kit.SecretSource
	// TLS, when set, trusts a private CA for both upstreams.
	TLS *tls.Config
	// ChangeTemplate is the ServiceNow standard change template (deploy.DefaultChangeTemplate).
	ChangeTemplate string
	// AssignmentGroup, when set, is the changes' assignment group.
	AssignmentGroup string
	// PollInterval is how often a deployment task is polled (default 5s).
	PollInterval time.Duration
}

// KitMetrics registers the kit's metrics (gatehouse_upstream_requests_total,
// gatehouse_secret_reads_total, …) in reg. They come with a kit.Server; the worker serves
// no MCP, it only counts its upstream requests and secret reads the way adapters do.
func KitMetrics(reg *prometheus.Registry, log zerolog.Logger) *kit.Metrics {
	return kit.NewServer(kit.Options{Name: "deployments-worker", Logger: log, Registry: reg}).Metrics
}

// NewActivities builds the deployment activities over the real Catalyst Center and
// ServiceNow clients, which count their requests in m (KitMetrics).
func NewActivities(u Upstreams, m *kit.Metrics, log zerolog.Logger) (*deploy.Activities, error) {
	if u.CatalystCenterURL == "" || u.ServiceNowURL == "" {
		return nil, errors.New("the Catalyst Center and ServiceNow URLs are both required")
	}
	if u.Secrets == nil {
		return nil, errors.New("no secret source for the upstream credentials")
	}
	if m == nil {
		m = KitMetrics(prometheus.NewRegistry(), log)
	}
	cc, err := catalystcenter.NewClient(u.CatalystCenterURL, u.Secrets, m, log)
	if err != nil {
		return nil, fmt.Errorf("the Catalyst Center client: %w", err)
	}
	cc.API().UseTLS(u.TLS)
	sn, err := servicenow.NewClient(u.ServiceNowURL, u.Secrets, m, log)
	if err != nil {
		return nil, fmt.Errorf("the ServiceNow client: %w", err)
	}
	sn.API().UseTLS(u.TLS)
	return &deploy.Activities{
		Controller:   deploy.CatalystCenter{C: cc},
		Changes:      deploy.ServiceNow{C: sn, Template: u.ChangeTemplate, AssignmentGroup: u.AssignmentGroup},
		PollInterval: u.PollInterval,
	}, nil
}

// Run runs a worker until ctx ends, then stops it gracefully (activities get 10 s to
// finish; a deployment task poll simply resumes on another worker).
func Run(ctx context.Context, cfg Config) error {
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := cfg.Metrics
	if m == nil {
		m = KitMetrics(reg, cfg.Log)
	}
	acts, err := NewActivities(cfg.Upstreams, m, cfg.Log)
	if err != nil {
		return err
	}
	queue := cfg.TaskQueue
	if queue == "" {
		queue = deploy.DefaultTaskQueue
	}
	var ready atomic.Bool
	if cfg.Listen != "" {
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: healthMux(reg, &ready), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	c, err := temporalx.Dial(ctx, cfg.Temporal)
	if err != nil {
		return err
	}
	defer c.Close()
	ns := cfg.Temporal.Namespace
	if ns == "" {
		ns = "default"
	}
	if cfg.RegisterSearchAttributes {
		if err := deploy.EnsureSearchAttributes(ctx, c, ns); err != nil {
			cfg.Log.Warn().Err(err).Msg("the deployment search attributes are not registered: listing deployments will fail until they are")
		}
	}
	maxActs := cfg.MaxConcurrentActivities
	if maxActs <= 0 {
		maxActs = 200
	}
	pollers := cfg.Pollers
	if pollers <= 0 {
		pollers = 8
	}
	w := sdkworker.New(c, queue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: maxActs,
		MaxConcurrentWorkflowTaskPollers:   pollers,
		MaxConcurrentActivityTaskPollers:   pollers,
		WorkerStopTimeout:                  10 * time.Second,
	})
	deploy.Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the Temporal worker: %w", err)
	}
	ready.Store(true)
	cfg.Log.Info().Str("gatehouse.temporal.address", cfg.Temporal.Address).Str("gatehouse.temporal.namespace", ns).
		Str("gatehouse.temporal.task_queue", queue).Msg("deployment worker running")
	<-ctx.Done()
	ready.Store(false)
	w.Stop()
	cfg.Log.Info().Msg("deployment worker stopped")
	return nil
}

func healthMux(reg *prometheus.Registry, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not connected to Temporal yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
