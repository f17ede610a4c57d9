package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"
)

// VaultConfig says where and how to read secrets from HashiCorp Vault (KV v2).
type VaultConfig struct {
	Address string
	// Mount is the KV v2 mount (default "secret"); secrets live at <Prefix><name>.
	Mount  string
	Prefix string // default "gatehouse/"
	// Auth is "token" (Token, or VAULT_TOKEN), "approle" (RoleIDFile, SecretIDFile) or
	// "kubernetes" (KubernetesRole, KubernetesTokenFile).
	Auth                string
	Token               string
	RoleIDFile          string
	SecretIDFile        string
	KubernetesRole      string
	KubernetesTokenFile string // default /var/run/secrets/kubernetes.io/serviceaccount/token
	// CacheTTL is how long a read secret is reused (default 30s): short, so rotation in
	// Vault reaches adapters quickly without a read per call.
	CacheTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// VaultSource is a SecretSource over Vault KV v2 with token, AppRole or Kubernetes auth. It
// renews its token while it runs and logs in again when it cannot renew. Secret values never
// reach a log line.
type VaultSource struct {
	cfg     VaultConfig
	client  *vault.Client
	log     zerolog.Logger
	metrics *Metrics

	mu    sync.Mutex
	cache map[string]cached
	login sync.Mutex // serializes re-logins
}

type cached struct {
	secret Secret
	at     time.Time
}

// NewVaultSource connects and authenticates.
func NewVaultSource(ctx context.Context, cfg VaultConfig, m *Metrics, log zerolog.Logger) (*VaultSource, error) {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "gatehouse/"
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KubernetesTokenFile == "" {
		cfg.KubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	}
	vc := vault.DefaultConfig()
	if cfg.Address != "" {
		vc.Address = cfg.Address
	}
	vc.MaxRetries = 2
	vc.Timeout = 10 * time.Second
	client, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	client.ClearToken() // never pick up a token from the environment behind the config's back
	v := &VaultSource{cfg: cfg, client: client, log: log, metrics: m, cache: map[string]cached{}}
	if err := v.authenticate(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

func readFileTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// authenticate obtains a token by the configured method.
func (v *VaultSource) authenticate(ctx context.Context) error {
	switch v.cfg.Auth {
	case "", "token":
		tok := v.cfg.Token
		if tok == "" {
			tok = os.Getenv("VAULT_TOKEN")
		}
		if tok == "" {
			return errors.New("vault: token auth needs a token (VAULT_TOKEN)")
		}
		v.client.SetToken(tok)
		start := time.Now()
		_, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
		v.metrics.vaultOp("lookup", start, err)
		if err != nil {
			return fmt.Errorf("vault: token lookup: %w", err)
		}
		return nil
	case "approle":
		roleID, err := readFileTrim(v.cfg.RoleIDFile)
		if err != nil {
			return fmt.Errorf("vault: approle role_id: %w", err)
		}
		secretID, err := readFileTrim(v.cfg.SecretIDFile)
		if err != nil {
			return fmt.Errorf("vault: approle secret_id: %w", err)
		}
		return v.loginWith(ctx, "auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	case "kubernetes":
		jwt, err := readFileTrim(v.cfg.KubernetesTokenFile)
		if err != nil {
			return fmt.Errorf("vault: kubernetes service account token: %w", err)
		}
		return v.loginWith(ctx, "auth/kubernetes/login", map[string]any{"role": v.cfg.KubernetesRole, "jwt": jwt})
	default:
		return fmt.Errorf("vault: unknown auth method %q", v.cfg.Auth)
	}
}

func (v *VaultSource) loginWith(ctx context.Context, path string, body map[string]any) error {
	v.client.ClearToken()
	start := time.Now()
	s, err := v.client.Logical().WriteWithContext(ctx, path, body)
	v.metrics.vaultOp("login", start, err)
	if err != nil {
		return fmt.Errorf("vault: login at %s: %w", path, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("vault: login at %s returned no token", path)
	}
	v.client.SetToken(s.Auth.ClientToken)
	return nil
}

// relogin gets a new token (AppRole, Kubernetes) after the current one stopped working.
func (v *VaultSource) relogin(ctx context.Context) error {
	v.login.Lock()
	defer v.login.Unlock()
	if v.cfg.Auth == "" || v.cfg.Auth == "token" {
		return errors.New("vault: the static token was refused and cannot be renewed by login")
	}
	if err := v.authenticate(ctx); err != nil {
		return err
	}
	v.log.Info().Str("event.action", "vault-login").Str("gatehouse.vault_auth", v.cfg.Auth).Msg("logged in to Vault again")
	return nil
}

// Get implements SecretSource.
func (v *VaultSource) Get(ctx context.Context, name string) (Secret, error) {
	now := v.cfg.Now()
	v.mu.Lock()
	c, ok := v.cache[name]
	v.mu.Unlock()
	if ok && now.Sub(c.at) < v.cfg.CacheTTL {
		v.metrics.secretReads.WithLabelValues("hit").Inc()
		return c.secret, nil
	}
	s, err := v.read(ctx, name)
	if isForbidden(err) {
		// The token expired or was revoked: log in again once and retry.
		if lerr := v.relogin(ctx); lerr == nil {
			s, err = v.read(ctx, name)
		}
	}
	if err != nil {
		v.metrics.secretReads.WithLabelValues("error").Inc()
		return nil, err
	}
	v.metrics.secretReads.WithLabelValues("miss").Inc()
	v.mu.Lock()
	v.cache[name] = cached{secret: s, at: now}
	v.mu.Unlock()
	return s, nil
}

func (v *VaultSource) read(ctx context.Context, name string) (Secret, error) {
	start := time.Now()
	kv, err := v.client.KVv2(v.cfg.Mount).Get(ctx, v.cfg.Prefix+name)
	if errors.Is(err, vault.ErrSecretNotFound) {
		v.metrics.vaultOp("read", start, nil) // Vault answered; the secret is missing
	} else {
		v.metrics.vaultOp("read", start, err)
	}
	if errors.Is(err, vault.ErrSecretNotFound) {
		return nil, fmt.Errorf("%w: %s/%s%s", ErrSecretNotFound, v.cfg.Mount, v.cfg.Prefix, name)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read %s/%s%s: %w", v.cfg.Mount, v.cfg.Prefix, name, err)
	}
	if kv == nil || len(kv.Data) == 0 {
		// The latest version was deleted: Vault answers with metadata and no data.
		return nil, fmt.Errorf("%w: %s/%s%s (deleted)", ErrSecretNotFound, v.cfg.Mount, v.cfg.Prefix, name)
	}
	s := Secret{}
	for k, val := range kv.Data {
		if str, ok := val.(string); ok {
			s[k] = str
		}
	}
	return s, nil
}

func isForbidden(err error) bool {
	var re *vault.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// Invalidate implements SecretSource.
func (v *VaultSource) Invalidate(name string) {
	v.mu.Lock()
	delete(v.cache, name)
	v.mu.Unlock()
}

// Run keeps the token alive until ctx ends: it renews at half the remaining TTL, and logs in
// again (AppRole, Kubernetes) when renewal is refused or the token is not renewable.
func (v *VaultSource) Run(ctx context.Context) {
	for {
		wait := v.renewOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// renewOnce renews (or logs in again) once the token is past half its life, and returns how
// long to wait before the next check.
func (v *VaultSource) renewOnce(ctx context.Context) time.Duration {
	start := time.Now()
	self, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	v.metrics.vaultOp("lookup", start, err)
	if err != nil {
		if isForbidden(err) && v.relogin(ctx) == nil {
			return time.Second
		}
		v.log.Error().Err(err).Str("event.action", "vault-renew").Msg("cannot look up the Vault token; cached secrets stay in use")
		return 30 * time.Second
	}
	ttl, _ := self.TokenTTL()
	var creation time.Duration
	if c, ok := self.Data["creation_ttl"]; ok {
		creation, _ = parseSeconds(c)
	}
	if creation == 0 && ttl == 0 {
		return time.Hour // a token without expiry (a root token)
	}
	// TTLs come in whole seconds: a token in its last second reads ttl 0, and is due now.
	half := ttl / 2
	if creation > 0 {
		half = creation / 2
	}
	if ttl > half {
		return ttl - half
	}
	if renewable, _ := self.TokenIsRenewable(); renewable {
		start := time.Now()
		s, err := v.client.Auth().Token().RenewSelfWithContext(ctx, 0)
		v.metrics.vaultOp("renew", start, err)
		if err == nil && s != nil && s.Auth != nil {
			if lease := time.Duration(s.Auth.LeaseDuration) * time.Second; lease > half {
				v.log.Debug().Str("event.action", "vault-renew").Msg("Vault token renewed")
				return lease - half
			}
		}
	}
	// Not renewable, refused, or at its max TTL: get a new token.
	if err := v.relogin(ctx); err != nil {
		v.log.Error().Err(err).Str("event.action", "vault-renew").Msg("Vault token nearing expiry and cannot be renewed")
		return 10 * time.Second
	}
	return time.Second
}

func parseSeconds(v any) (time.Duration, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return time.Duration(n) * time.Second, err
	case float64:
		return time.Duration(x) * time.Second, nil
	case int64:
		return time.Duration(x) * time.Second, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
