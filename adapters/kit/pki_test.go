package kit_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/vaulttest"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// The kit issues its certificate from Vault's PKI engine (here the contract double; the real
// Vault test is TestVaultPKIAgainstRealVault), writes it where tlsfiles reads it, and renews it
// at two thirds of its lifetime, before it expires.
func TestCertificateFromVaultPKIRenewsBeforeExpiry(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	double.AddPKIRole("adapter")
	srv := httptest.NewServer(double)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: srv.URL, Auth: "token", Token: double.RootToken()}, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &kit.CertRenewer{
		Source: src.PKI(kit.VaultPKIConfig{Role: "adapter", CommonName: "catalyst-center.gatehouse.svc",
			URISANs: []string{"spiffe://cluster.local/ns/gatehouse/sa/catalyst-center"}, TTL: 1500 * time.Millisecond}),
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Log: zerolog.Nop(),
	}
	first, err := r.IssueNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := tlsfiles.Load(tlsfiles.Files{CertFile: r.CertFile, KeyFile: r.KeyFile})
	if err != nil {
		t.Fatalf("the issued files do not load: %v", err)
	}
	leaf := files.Certificate().Leaf
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(double.PKICA())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "catalyst-center.gatehouse.svc"}); err != nil {
		t.Fatalf("issued certificate does not chain to the PKI CA for its name: %v", err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://cluster.local/ns/gatehouse/sa/catalyst-center" {
		t.Fatalf("URI SANs %v", leaf.URIs)
	}
	if d := time.Until(first.NotAfter); d <= 0 || d > 2*time.Second {
		t.Fatalf("not after %s", first.NotAfter)
	}

	go r.Run(ctx, first)
	deadline := first.NotAfter
	for {
		if _, err := files.Reload(); err != nil {
			t.Fatal(err)
		}
		if files.Certificate().Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed before it expired")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A role the engine does not have is an error naming it.
	bad := src.PKI(kit.VaultPKIConfig{Role: "nope", CommonName: "x"})
	if _, err := bad.Issue(ctx); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Fatalf("unknown role: %v", err)
	}
}

// Against a real Vault with a PKI mount: VAULT_ADDR, VAULT_TOKEN and GATEHOUSE_TEST_VAULT_PKI_ROLE
// (a role of the "pki" mount allowing example.com subdomains) must be set.
func TestVaultPKIAgainstRealVault(t *testing.T) {
	addr, token, role := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN"), os.Getenv("GATEHOUSE_TEST_VAULT_PKI_ROLE")
	if addr == "" || token == "" || role == "" {
		t.Skip("SKIPPED: VAULT_ADDR, VAULT_TOKEN and GATEHOUSE_TEST_VAULT_PKI_ROLE are not all set; Vault PKI has not been tested against a real Vault here")
	}
	ctx := context.Background()
	src, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: addr, Auth: "token", Token: token}, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c, err := src.PKI(kit.VaultPKIConfig{Role: role, CommonName: "adapter.example.com", TTL: time.Hour}).Issue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(c.CAPEM); b == nil || time.Until(c.NotAfter) < 50*time.Minute {
		t.Fatalf("CA %q, not after %s", c.CAPEM, c.NotAfter)
	}
}
