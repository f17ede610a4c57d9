package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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

// Main runs the worker process with command-line flags (each with an environment default)
// until SIGINT or SIGTERM. It returns the process's exit code: 0, 1 for a failure, 2 for
// bad flags.
func Main(version string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatehouse-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	address := fs.String("temporal-address", env("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	namespace := fs.String("namespace", env("GATEHOUSE_TEMPORAL_NAMESPACE", "default"), "Temporal namespace (GATEHOUSE_TEMPORAL_NAMESPACE)")
	queue := fs.String("task-queue", env("GATEHOUSE_TEMPORAL_TASK_QUEUE", deploy.DefaultTaskQueue), "task queue (GATEHOUSE_TEMPORAL_TASK_QUEUE)")
	tlsCA := fs.String("temporal-tls-ca", os.Getenv("TEMPORAL_TLS_CA"), "PEM CA of Temporal's certificate, for TLS (TEMPORAL_TLS_CA)")
	tlsCert := fs.String("temporal-tls-cert", os.Getenv("TEMPORAL_TLS_CERT"), "PEM client certificate for mTLS (TEMPORAL_TLS_CERT)")
	tlsKey := fs.String("temporal-tls-key", os.Getenv("TEMPORAL_TLS_KEY"), "PEM client key for mTLS (TEMPORAL_TLS_KEY)")
	tlsName := fs.String("temporal-tls-server-name", os.Getenv("TEMPORAL_TLS_SERVER_NAME"), "server name in Temporal's certificate (TEMPORAL_TLS_SERVER_NAME)")
	catalyst := fs.String("catalyst-center-url", os.Getenv("CATALYST_CENTER_URL"), "Catalyst Center base URL (CATALYST_CENTER_URL)")
	snow := fs.String("servicenow-url", os.Getenv("SERVICENOW_URL"), "ServiceNow instance URL (SERVICENOW_URL)")
	upstreamCA := fs.String("upstream-ca", os.Getenv("GATEHOUSE_UPSTREAM_CA"), "PEM CA of the upstreams' certificates (GATEHOUSE_UPSTREAM_CA)")
	changeTemplate := fs.String("change-template", env("GATEHOUSE_CHANGE_TEMPLATE", deploy.DefaultChangeTemplate), "ServiceNow standard change template (GATEHOUSE_CHANGE_TEMPLATE)")
	group := fs.String("assignment-group", os.Getenv("GATEHOUSE_CHANGE_ASSIGNMENT_GROUP"), "ServiceNow assignment group of the changes (GATEHOUSE_CHANGE_ASSIGNMENT_GROUP)")
	poll := fs.Duration("poll-interval", 5*time.Second, "how often a deployment task is polled")
	maxActs := fs.Int("max-concurrent-activities", 200, "activities this worker runs at once")
	register := fs.Bool("register-search-attributes", true, "register the deployment search attributes in the namespace at start")
	listen := fs.String("listen", env("GATEHOUSE_LISTEN", "0.0.0.0:8080"), "address of /healthz, /readyz and /metrics; empty for none (GATEHOUSE_LISTEN)")
	source := fs.String("secrets", env("GATEHOUSE_SECRETS", "vault"), "secret source: vault or env (GATEHOUSE_SECRETS)")
	vaultAuth := fs.String("vault-auth", env("GATEHOUSE_VAULT_AUTH", "token"), "token, approle or kubernetes (GATEHOUSE_VAULT_AUTH); VAULT_ADDR and VAULT_TOKEN as usual")
	vaultMount := fs.String("vault-mount", env("GATEHOUSE_VAULT_MOUNT", "secret"), "KV v2 mount (GATEHOUSE_VAULT_MOUNT)")
	roleID := fs.String("vault-role-id-file", os.Getenv("GATEHOUSE_VAULT_ROLE_ID_FILE"), "AppRole role_id file")
	secretID := fs.String("vault-secret-id-file", os.Getenv("GATEHOUSE_VAULT_SECRET_ID_FILE"), "AppRole secret_id file")
	k8sRole := fs.String("vault-kubernetes-role", os.Getenv("GATEHOUSE_VAULT_KUBERNETES_ROLE"), "Vault role for Kubernetes auth")
	level := fs.String("log-level", env("GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn, error")
	format := fs.String("log-format", env("GATEHOUSE_LOG_FORMAT", "json"), "json (ECS) or console")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := ecslog.New(stdout, "gatehouse-worker", *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-worker:", err)
		return 2
	}
	// The container's memory limit, as GOMEMLIMIT: the GC works harder before the OOM killer acts.
	log.Info().Str("event.action", "memory-limit").Msg("Go memory limit: " + memlimit.Apply("/sys/fs/cgroup"))
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gatehouse-worker:", err)
		return 1
	}
	if *catalyst == "" || *snow == "" {
		fmt.Fprintln(stderr, "gatehouse-worker: --catalyst-center-url (CATALYST_CENTER_URL) and --servicenow-url (SERVICENOW_URL) are required")
		return 2
	}
	// Before Temporal is dialled: the client's tracing interceptor is chosen then.
	endTracing, err := tracing.Setup(context.Background(), "gatehouse-worker", version, log)
	if err != nil {
		return fail(err)
	}
	defer tracing.Stop(endTracing, log)
	ttls, err := temporalx.TLSFiles(*tlsCA, *tlsCert, *tlsKey, *tlsName)
	if err != nil {
		return fail(err)
	}
	var upTLS *tls.Config
	if *upstreamCA != "" {
		pem, err := os.ReadFile(*upstreamCA)
		if err != nil {
			return fail(fmt.Errorf("--upstream-ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fail(errors.New("--upstream-ca: no PEM certificates in the file"))
		}
		upTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := KitMetrics(reg, log)
	var secrets kit.SecretSource
	switch *source {
	case "env":
		secrets = kit.EnvSource{}
	case "vault":
		v, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: os.Getenv("VAULT_ADDR"), Auth: *vaultAuth, Mount: *vaultMount,
			RoleIDFile: *roleID, SecretIDFile: *secretID, KubernetesRole: *k8sRole}, m, log)
		if err != nil {
			return fail(err)
		}
		go v.Run(ctx)
		secrets = v
	default:
		fmt.Fprintf(stderr, "gatehouse-worker: --secrets must be vault or env, got %q\n", *source)
		return 2
	}
	err = Run(ctx, Config{
		Temporal:  temporalx.Options{Address: *address, Namespace: *namespace, TLS: ttls, Log: log},
		TaskQueue: *queue,
		Upstreams: Upstreams{CatalystCenterURL: *catalyst, ServiceNowURL: *snow, Secrets: secrets, TLS: upTLS,
			ChangeTemplate: *changeTemplate, AssignmentGroup: *group, PollInterval: *poll},
		RegisterSearchAttributes: *register, Listen: *listen, MaxConcurrentActivities: *maxActs, Log: log, Registry: reg, Metrics: m,
	})
	if err != nil && ctx.Err() == nil {
		return fail(err)
	}
	return 0
}
