// Package certagent is the small agent that keeps one workload's certificate from Vault's PKI
// secrets engine in files: it logs in to Vault (token, AppRole or Kubernetes auth), issues a
// certificate for a role, writes the certificate, its key and the issuing CA (each file
// replaced in one rename) and issues again at two thirds of the lifetime. It runs next to the
// processes that read those files and re-read them while serving: the control plane, which
// sends Envoy's certificates over SDS (edge.tls, edge.mtls), and the authz service
// (authz.tls). Adapters issue their own (GATEHOUSE_TLS_VAULT_PKI_ROLE, adapters/kit).
package certagent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/memlimit"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Run runs the agent until ctx ends. The first certificate must be issued before it reports
// ready (and a failure to issue it is an error, so the pod restarts); after that a failed
// renewal is retried while the current certificate is still valid.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	// Whatever Run returns with, the token renewal and the health port stop with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fs := flag.NewFlagSet("gatehouse-cert-agent", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	vaultAddr := fs.String("vault-addr", os.Getenv("VAULT_ADDR"), "Vault's address (VAULT_ADDR)")
	auth := fs.String("vault-auth", env("GATEHOUSE_VAULT_AUTH", "kubernetes"), "token (VAULT_TOKEN), approle or kubernetes (GATEHOUSE_VAULT_AUTH)")
	roleID := fs.String("vault-role-id-file", os.Getenv("GATEHOUSE_VAULT_ROLE_ID_FILE"), "AppRole role_id file")
	secretID := fs.String("vault-secret-id-file", os.Getenv("GATEHOUSE_VAULT_SECRET_ID_FILE"), "AppRole secret_id file")
	k8sRole := fs.String("vault-kubernetes-role", os.Getenv("GATEHOUSE_VAULT_KUBERNETES_ROLE"), "Vault role for Kubernetes auth")
	mount := fs.String("pki-mount", env("GATEHOUSE_TLS_VAULT_PKI_MOUNT", "pki"), "PKI engine mount (GATEHOUSE_TLS_VAULT_PKI_MOUNT)")
	role := fs.String("pki-role", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_ROLE"), "PKI role to issue from (GATEHOUSE_TLS_VAULT_PKI_ROLE)")
	cn := fs.String("common-name", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_COMMON_NAME"), "the certificate's common name (GATEHOUSE_TLS_VAULT_PKI_COMMON_NAME)")
	alt := fs.String("alt-names", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_ALT_NAMES"), "comma-separated DNS SANs besides the common name")
	uris := fs.String("uri-sans", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_URI_SANS"), "comma-separated URI SANs, e.g. Envoy's SPIFFE id (GATEHOUSE_TLS_VAULT_PKI_URI_SANS)")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime asked for; renewed at two thirds of it (GATEHOUSE_TLS_VAULT_PKI_TTL)")
	certFile := fs.String("cert-file", os.Getenv("GATEHOUSE_TLS_CERT_FILE"), "where to write the certificate chain (GATEHOUSE_TLS_CERT_FILE)")
	keyFile := fs.String("key-file", os.Getenv("GATEHOUSE_TLS_KEY_FILE"), "where to write its key (GATEHOUSE_TLS_KEY_FILE)")
	caFile := fs.String("ca-file", os.Getenv("GATEHOUSE_TLS_CA_FILE"), "where to write the issuing CA, the peers' trust bundle (GATEHOUSE_TLS_CA_FILE; optional)")
	health := fs.String("health-listen", os.Getenv("GATEHOUSE_HEALTH_LISTEN"), "plain-HTTP address for /healthz, /readyz and /metrics (optional)")
	level := fs.String("log-level", env("GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn, error")
	format := fs.String("log-format", env("GATEHOUSE_LOG_FORMAT", "json"), "json (ECS) or console")
	if d, err := time.ParseDuration(os.Getenv("GATEHOUSE_TLS_VAULT_PKI_TTL")); err == nil && d > 0 {
		*ttl = d
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--pki-role": *role, "--common-name": *cn, "--cert-file": *certFile, "--key-file": *keyFile, "--vault-addr": *vaultAddr} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required: %s", strings.Join(missing, ", "))
	}
	log, err := ecslog.New(stdout, "gatehouse-cert-agent", *level, *format)
	if err != nil {
		return err
	}
	log.Info().Str("event.action", "memory-limit").Msg("Go memory limit: " + memlimit.Apply("/sys/fs/cgroup"))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	v, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: *vaultAddr, Auth: *auth, Token: os.Getenv("VAULT_TOKEN"),
		RoleIDFile: *roleID, SecretIDFile: *secretID, KubernetesRole: *k8sRole}, kit.NewMetrics(reg), log)
	if err != nil {
		return err
	}
	go v.Run(ctx) // keeps the Vault token renewed
	r := &kit.CertRenewer{
		Source:   v.PKI(kit.VaultPKIConfig{Mount: *mount, Role: *role, CommonName: *cn, AltNames: kit.CommaList(*alt), URISANs: kit.CommaList(*uris), TTL: *ttl}),
		CertFile: *certFile, KeyFile: *keyFile, CAFile: *caFile, Log: log,
	}
	var notAfter atomic.Int64
	if *health != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			if time.Now().Unix() >= notAfter.Load() {
				http.Error(w, "not ready: no valid certificate written yet", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ready\n")
		})
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if err := kit.ServeHealth(ctx, *health, mux, log); err != nil {
			return err
		}
	}
	first, err := r.IssueNow(ctx)
	if err != nil {
		return fmt.Errorf("first certificate: %w", err)
	}
	notAfter.Store(first.NotAfter.Unix())
	log.Info().Str("event.action", "start").Str("file.path", *certFile).Msg("certificate agent running; renewing at two thirds of each lifetime")
	r.OnIssued = func(c kit.IssuedCert) { notAfter.Store(c.NotAfter.Unix()) }
	r.Run(ctx, first)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
