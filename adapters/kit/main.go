package kit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/memlimit"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Adapter is what an adapter's main hands to Main.
type Adapter struct {
	// Name is the server name in gatehouse.yaml (catalyst-center).
	Name    string
	Version string
	// UpstreamEnv names the environment variable with the upstream's base URL.
	UpstreamEnv string
	// Setup registers the tools on s, given the upstream URL, its HTTP transport settings and
	// the secret source.
	Setup func(ctx context.Context, s *Server, up Upstream) error
}

// Upstream is what Setup gets to build its client.
type Upstream struct {
	URL     string
	Secrets SecretSource
	// TLS carries a private CA when --upstream-ca is set (controllers often have their own).
	TLS *tls.Config
	Log zerolog.Logger
}

// Main runs an adapter process: flags (each with an environment default), ECS logging, the
// secret source, the MCP server, and a clean stop on SIGTERM. It exits the process.
func Main(a Adapter) {
	if err := run(context.Background(), a, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, a.Name+":", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, a Adapter, args []string) error {
	fs := flag.NewFlagSet(a.Name, flag.ContinueOnError)
	listen := fs.String("listen", env("GATEHOUSE_LISTEN", "0.0.0.0:8080"), "address to serve MCP on (GATEHOUSE_LISTEN)")
	upstream := fs.String("upstream", os.Getenv(a.UpstreamEnv), "upstream API base URL ("+a.UpstreamEnv+")")
	upstreamCA := fs.String("upstream-ca", os.Getenv("GATEHOUSE_UPSTREAM_CA"), "PEM file of the CA that signed the upstream's certificate (GATEHOUSE_UPSTREAM_CA)")
	source := fs.String("secrets", env("GATEHOUSE_SECRETS", "vault"), "secret source: vault or env (GATEHOUSE_SECRETS)")
	vaultAuth := fs.String("vault-auth", env("GATEHOUSE_VAULT_AUTH", "token"), "token, approle or kubernetes (GATEHOUSE_VAULT_AUTH); VAULT_ADDR and VAULT_TOKEN as usual")
	vaultMount := fs.String("vault-mount", env("GATEHOUSE_VAULT_MOUNT", "secret"), "KV v2 mount (GATEHOUSE_VAULT_MOUNT)")
	roleID := fs.String("vault-role-id-file", os.Getenv("GATEHOUSE_VAULT_ROLE_ID_FILE"), "AppRole role_id file")
	secretID := fs.String("vault-secret-id-file", os.Getenv("GATEHOUSE_VAULT_SECRET_ID_FILE"), "AppRole secret_id file")
	k8sRole := fs.String("vault-kubernetes-role", os.Getenv("GATEHOUSE_VAULT_KUBERNETES_ROLE"), "Vault role for Kubernetes auth")
	pkiRole := fs.String("tls-vault-pki-role", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_ROLE"),
		"issue --tls-cert/--tls-key from this role of Vault's PKI engine and renew them at 2/3 of their lifetime (GATEHOUSE_TLS_VAULT_PKI_ROLE; needs --secrets vault)")
	pkiMount := fs.String("tls-vault-pki-mount", env("GATEHOUSE_TLS_VAULT_PKI_MOUNT", "pki"), "PKI engine mount (GATEHOUSE_TLS_VAULT_PKI_MOUNT)")
	pkiCN := fs.String("tls-vault-pki-common-name", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_COMMON_NAME"), "the certificate's common name, also a DNS SAN: the host in the server's upstream URL (GATEHOUSE_TLS_VAULT_PKI_COMMON_NAME)")
	pkiURIs := fs.String("tls-vault-pki-uri-sans", os.Getenv("GATEHOUSE_TLS_VAULT_PKI_URI_SANS"), "comma-separated URI SANs, e.g. a SPIFFE id (GATEHOUSE_TLS_VAULT_PKI_URI_SANS)")
	pkiTTL := fs.Duration("tls-vault-pki-ttl", 24*time.Hour, "lifetime asked for (GATEHOUSE_TLS_VAULT_PKI_TTL)")
	if d, err := time.ParseDuration(os.Getenv("GATEHOUSE_TLS_VAULT_PKI_TTL")); err == nil && d > 0 {
		*pkiTTL = d
	}
	health := RegisterHealthFlag(fs)
	level := fs.String("log-level", env("GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn, error")
	format := fs.String("log-format", env("GATEHOUSE_LOG_FORMAT", "json"), "json (ECS) or console")
	var tf TLSFlags
	tf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Checked before anything else starts: an adapter that would believe anyone's identity
	// headers must not come up by accident.
	if err := tf.check(); err != nil {
		return err
	}
	log, err := ecslog.New(os.Stdout, "gatehouse-adapter-"+a.Name, *level, *format)
	if err != nil {
		return err
	}
	// The container's memory limit, as GOMEMLIMIT: the GC works harder before the OOM killer acts.
	log.Info().Str("event.action", "memory-limit").Msg("Go memory limit: " + memlimit.Apply("/sys/fs/cgroup"))
	endTracing, err := tracing.Setup(ctx, "gatehouse-adapter-"+a.Name, a.Version, log)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer tracing.Stop(endTracing, log)
	if *upstream == "" {
		return fmt.Errorf("the upstream URL is required (--upstream or %s)", a.UpstreamEnv)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := NewServer(Options{Name: a.Name, Version: a.Version, Logger: log})
	if *pkiRole != "" && (*source != "vault" || tf.CertFile == "" || *pkiCN == "") {
		return errors.New("--tls-vault-pki-role needs --secrets vault, --tls-cert and --tls-key (where to write) and --tls-vault-pki-common-name")
	}
	var secrets SecretSource
	switch *source {
	case "env":
		secrets = EnvSource{}
	case "vault":
		v, err := NewVaultSource(ctx, VaultConfig{Address: os.Getenv("VAULT_ADDR"), Auth: *vaultAuth, Mount: *vaultMount,
			RoleIDFile: *roleID, SecretIDFile: *secretID, KubernetesRole: *k8sRole}, s.Metrics, log)
		if err != nil {
			return err
		}
		go v.Run(ctx)
		secrets = v
		if *pkiRole != "" {
			r := &CertRenewer{Source: v.PKI(VaultPKIConfig{Mount: *pkiMount, Role: *pkiRole, CommonName: *pkiCN,
				URISANs: CommaList(*pkiURIs), TTL: *pkiTTL}), CertFile: tf.CertFile, KeyFile: tf.KeyFile, Log: log}
			c, err := r.IssueNow(ctx)
			if err != nil {
				return fmt.Errorf("--tls-vault-pki-role: %w", err)
			}
			go r.Run(ctx, c)
		}
	default:
		return fmt.Errorf("--secrets must be vault or env, got %q", *source)
	}
	up := Upstream{URL: *upstream, Secrets: secrets, Log: log}
	if *upstreamCA != "" {
		pem, err := os.ReadFile(*upstreamCA)
		if err != nil {
			return fmt.Errorf("--upstream-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("--upstream-ca: no PEM certificates in the file")
		}
		up.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if err := a.Setup(ctx, s, up); err != nil {
		return err
	}
	tlsCfg, err := tf.serverConfig(ctx, log)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if err := ServeHealth(ctx, *health, s.Handler(), log); err != nil {
		l.Close()
		return err
	}
	return s.Serve(ctx, l, 20*time.Second, tlsCfg)
}

// UseTLS applies an Upstream's TLS settings to a client.
func (c *Client) UseTLS(cfg *tls.Config) {
	if cfg == nil {
		return
	}
	if c.transport != nil {
		c.transport.TLSClientConfig = cfg
	}
}
