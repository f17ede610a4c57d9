package kit

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// IssuedCert is a certificate (with its chain), its key and the issuing CA, in PEM.
type IssuedCert struct {
	CertPEM, KeyPEM, CAPEM []byte
	NotAfter               time.Time
}

// CertSource issues a fresh certificate for this workload.
type CertSource interface {
	Issue(ctx context.Context) (IssuedCert, error)
}

// VaultPKIConfig names a role of Vault's PKI secrets engine and what to ask it for.
type VaultPKIConfig struct {
	Mount      string // default "pki"
	Role       string
	CommonName string
	AltNames   []string // DNS names
	URISANs    []string // e.g. a SPIFFE id
	TTL        time.Duration
}

// VaultPKI issues certificates from Vault's PKI engine with the source's authenticated client.
type VaultPKI struct {
	v   *VaultSource
	cfg VaultPKIConfig
}

// PKI returns a CertSource over the PKI engine, sharing v's login and token renewal.
func (v *VaultSource) PKI(cfg VaultPKIConfig) *VaultPKI {
	if cfg.Mount == "" {
		cfg.Mount = "pki"
	}
	return &VaultPKI{v: v, cfg: cfg}
}

// Issue calls POST <mount>/issue/<role>.
func (p *VaultPKI) Issue(ctx context.Context) (IssuedCert, error) {
	body := map[string]any{"common_name": p.cfg.CommonName}
	if len(p.cfg.AltNames) > 0 {
		body["alt_names"] = strings.Join(p.cfg.AltNames, ",")
	}
	if len(p.cfg.URISANs) > 0 {
		body["uri_sans"] = strings.Join(p.cfg.URISANs, ",")
	}
	if p.cfg.TTL > 0 {
		body["ttl"] = p.cfg.TTL.String()
	}
	path := p.cfg.Mount + "/issue/" + p.cfg.Role
	start := time.Now()
	sec, err := p.v.client.Logical().WriteWithContext(ctx, path, body)
	if isForbidden(err) {
		if rerr := p.v.relogin(ctx); rerr == nil {
			sec, err = p.v.client.Logical().WriteWithContext(ctx, path, body)
		}
	}
	p.v.metrics.vaultOp("issue", start, err)
	if err != nil {
		return IssuedCert{}, fmt.Errorf("vault: issue %s: %w", path, err)
	}
	if sec == nil || sec.Data == nil {
		return IssuedCert{}, fmt.Errorf("vault: issue %s: empty answer", path)
	}
	str := func(k string) string { s, _ := sec.Data[k].(string); return s }
	chain := str("certificate") + "\n"
	if list, ok := sec.Data["ca_chain"].([]any); ok {
		for _, c := range list {
			if s, ok := c.(string); ok && s != str("issuing_ca") {
				chain += s + "\n" // intermediates; the root stays out of the served chain
			}
		}
	}
	out := IssuedCert{CertPEM: []byte(chain), KeyPEM: []byte(str("private_key") + "\n"), CAPEM: []byte(str("issuing_ca") + "\n")}
	pair, err := tls.X509KeyPair(out.CertPEM, out.KeyPEM)
	if err != nil {
		return IssuedCert{}, fmt.Errorf("vault: issue %s: unusable answer: %w", path, err)
	}
	out.NotAfter = pair.Leaf.NotAfter
	if n, ok := sec.Data["expiration"].(json.Number); ok {
		if sec, err := n.Int64(); err == nil && sec > 0 {
			out.NotAfter = time.Unix(sec, 0)
		}
	}
	return out, nil
}

// CertRenewer keeps a certificate in files: it issues one, writes it (each file replaced in
// one rename), and issues again at two thirds of its lifetime, so that the processes reading
// the files (tlsfiles) rotate before expiry. If issuing fails it retries every RetryEvery
// while the current certificate is still valid.
type CertRenewer struct {
	Source            CertSource
	CertFile, KeyFile string
	// CAFile, when set, receives the issuing CA: the trust bundle of the workload's peers
	// (Envoy's upstream CA, an adapter's client CA), renewed with the certificate.
	CAFile     string
	Log        zerolog.Logger
	RetryEvery time.Duration // default 30s
	// OnIssued, when set, is told of each renewal Run makes.
	OnIssued func(IssuedCert)
	// Now is the clock (tests).
	Now func() time.Time
}

// IssueNow issues and writes a certificate.
func (r *CertRenewer) IssueNow(ctx context.Context) (IssuedCert, error) {
	c, err := r.Source.Issue(ctx)
	if err != nil {
		return IssuedCert{}, err
	}
	// The CA first (peers' new certificates chain to it), then the key: a reader that sees
	// the new key with the old certificate refuses the pair and keeps the previous one until
	// the certificate lands too.
	if r.CAFile != "" {
		if err := writeAtomic(r.CAFile, c.CAPEM); err != nil {
			return IssuedCert{}, err
		}
	}
	if err := writeAtomic(r.KeyFile, c.KeyPEM); err != nil {
		return IssuedCert{}, err
	}
	if err := writeAtomic(r.CertFile, c.CertPEM); err != nil {
		return IssuedCert{}, err
	}
	r.Log.Info().Str("event.action", "certificate-issued").Str("tls.server.not_after", c.NotAfter.UTC().Format(time.RFC3339)).
		Str("file.path", r.CertFile).Msg("new certificate from Vault PKI")
	return c, nil
}

// Run renews until ctx ends, starting from the certificate last issued (its NotAfter).
func (r *CertRenewer) Run(ctx context.Context, current IssuedCert) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	retry := r.RetryEvery
	if retry <= 0 {
		retry = 30 * time.Second
	}
	issued := now()
	for {
		wait := time.Until(issued.Add(current.NotAfter.Sub(issued) * 2 / 3))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		for {
			c, err := r.IssueNow(ctx)
			if err == nil {
				current, issued = c, now()
				if r.OnIssued != nil {
					r.OnIssued(c)
				}
				break
			}
			if errors.Is(err, context.Canceled) {
				return
			}
			r.Log.Error().Err(err).Str("event.action", "certificate-issued").Str("event.outcome", "failure").
				Str("tls.server.not_after", current.NotAfter.UTC().Format(time.RFC3339)).
				Msg("cannot renew the certificate from Vault PKI; the current one stays in use until it expires")
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
	}
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
