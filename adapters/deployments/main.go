package deployments

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/memlimit"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Main runs the adapter process with command-line flags (each with an environment default)
// until SIGINT or SIGTERM, and returns its exit code: 0, 1 for a failure, 2 for bad flags.
// It reads no secrets: its only upstream is Temporal (plain gRPC, or TLS/mTLS from files).
func Main(version string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatehouse-adapter-deployments", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", env("GATEHOUSE_LISTEN", "0.0.0.0:8080"), "address to serve MCP on (GATEHOUSE_LISTEN)")
	address := fs.String("temporal-address", env("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	namespace := fs.String("namespace", env("GATEHOUSE_TEMPORAL_NAMESPACE", "default"), "Temporal namespace (GATEHOUSE_TEMPORAL_NAMESPACE)")
	queue := fs.String("task-queue", env("GATEHOUSE_TEMPORAL_TASK_QUEUE", deploy.DefaultTaskQueue), "task queue of the deployment workers (GATEHOUSE_TEMPORAL_TASK_QUEUE)")
	tlsCA := fs.String("temporal-tls-ca", os.Getenv("TEMPORAL_TLS_CA"), "PEM CA of Temporal's certificate, for TLS (TEMPORAL_TLS_CA)")
	tlsCert := fs.String("temporal-tls-cert", os.Getenv("TEMPORAL_TLS_CERT"), "PEM client certificate for mTLS (TEMPORAL_TLS_CERT)")
	tlsKey := fs.String("temporal-tls-key", os.Getenv("TEMPORAL_TLS_KEY"), "PEM client key for mTLS (TEMPORAL_TLS_KEY)")
	tlsName := fs.String("temporal-tls-server-name", os.Getenv("TEMPORAL_TLS_SERVER_NAME"), "server name in Temporal's certificate (TEMPORAL_TLS_SERVER_NAME)")
	retentionDefault := DefaultTaskRetention
	if v := os.Getenv("GATEHOUSE_TASK_RETENTION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse-adapter-deployments: GATEHOUSE_TASK_RETENTION:", err)
			return 2
		}
		retentionDefault = d
	}
	retention := fs.Duration("task-retention", retentionDefault,
		"how long the Temporal namespace keeps an ended deployment (its retention): an ended MCP task's ttl is its run time plus this (GATEHOUSE_TASK_RETENTION)")
	level := fs.String("log-level", env("GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn, error")
	format := fs.String("log-format", env("GATEHOUSE_LOG_FORMAT", "json"), "json (ECS) or console")
	tf := kit.RegisterTLSFlags(fs) // the edge's mTLS, as every adapter (adapters/README.md)
	health := kit.RegisterHealthFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *retention <= 0 {
		fmt.Fprintln(stderr, "gatehouse-adapter-deployments: --task-retention must be positive")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gatehouse-adapter-deployments:", err)
		return 1
	}
	log, err := ecslog.New(stdout, "gatehouse-adapter-"+ServerName, *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-adapter-deployments:", err)
		return 2
	}
	// The container's memory limit, as GOMEMLIMIT: the GC works harder before the OOM killer acts.
	log.Info().Str("event.action", "memory-limit").Msg("Go memory limit: " + memlimit.Apply("/sys/fs/cgroup"))
	endTracing, err := tracing.Setup(context.Background(), "gatehouse-adapter-deployments", version, log)
	if err != nil {
		return fail(err)
	}
	defer tracing.Stop(endTracing, log)
	tlsCfg, err := temporalx.TLSFiles(*tlsCA, *tlsCert, *tlsKey, *tlsName)
	if err != nil {
		return fail(err)
	}
	if err := tf.Check(); err != nil {
		return fail(err)
	}
	// A lazy client: the adapter serves (and /readyz says "not ready") while Temporal is
	// unreachable, and connects on the first call that needs it.
	icpts, err := temporalx.Interceptors()
	if err != nil {
		return fail(err)
	}
	tc, err := client.NewLazyClient(client.Options{HostPort: *address, Namespace: *namespace,
		Logger: temporalx.NewLogger(log), ConnectionOptions: client.ConnectionOptions{TLS: tlsCfg}, Interceptors: icpts})
	if err != nil {
		return fail(fmt.Errorf("temporal client: %w", err))
	}
	defer tc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := kit.NewServer(kit.Options{Name: ServerName, Version: version, Logger: log,
		Instructions: "Template deployments through change requests, with approval when the policy requires it. " +
			"start_deployment returns a workflow id at once; follow it with get_deployment."})
	Register(s, deploy.NewClient(tc, *queue))
	s.SetReady(func(ctx context.Context) error {
		_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
	if err := s.Err(); err != nil {
		return fail(err)
	}
	serverTLS, _, err := tf.Configs(ctx, log)
	if err != nil {
		return fail(err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(err)
	}
	scheme := "http"
	if serverTLS != nil {
		scheme = "https"
	}
	log.Info().Str("event.action", "start").Str("url.full", scheme+"://"+l.Addr().String()+kit.Path).
		Str("gatehouse.temporal.address", *address).Str("gatehouse.temporal.namespace", *namespace).
		Str("gatehouse.temporal.task_queue", *queue).Msg("deployments adapter listening")
	// Waiting tasks/result calls end at shutdown (the client asks again, another replica
	// answers): draining must not wait for deployments.
	stopTasks := make(chan struct{})
	h := HandlerWith(s, TaskOptions{Log: log.With().Str("gatehouse.server", ServerName).Logger(), Retention: *retention, Stop: stopTasks})
	if err := kit.ServeHealth(ctx, *health, h, log); err != nil {
		return fail(err)
	}
	if err := serve(ctx, l, h, serverTLS, 20*time.Second, func() { close(stopTasks) }, log); err != nil {
		return fail(err)
	}
	return 0
}

// serve serves h on l until ctx ends, then drains in-flight calls for up to grace; onShutdown
// runs when draining starts.
func serve(ctx context.Context, l net.Listener, h http.Handler, tlsCfg *tls.Config, grace time.Duration, onShutdown func(), log zerolog.Logger) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg, ErrorLog: ecslog.HTTPErrorLog(log, 10)}
	hs.RegisterOnShutdown(onShutdown)
	errc := make(chan error, 1)
	if tlsCfg != nil {
		go func() { errc <- hs.ServeTLS(l, "", "") }()
	} else {
		go func() { errc <- hs.Serve(l) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
