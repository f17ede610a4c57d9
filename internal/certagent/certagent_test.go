package certagent_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/vaulttest"
	"github.com/gatehouse-mcp/gatehouse/internal/certagent"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// The agent writes a certificate for its role, with the names asked for, that chains to the
// CA it writes next to it; reports ready once it has; renews it before it expires; and counts
// its Vault calls. Tested against the contract double of Vault's API (docs/vault.md).
func TestAgentIssuesAndRenews(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	double.AddPKIRole("envoy")
	vault := httptest.NewServer(double)
	defer vault.Close()
	t.Setenv("VAULT_TOKEN", double.RootToken())
	dir := t.TempDir()
	health := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out ecslogtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- certagent.Run(ctx, []string{"--vault-addr", vault.URL, "--vault-auth", "token", "--pki-role", "envoy",
			"--common-name", "envoy.gatehouse.svc", "--uri-sans", "spiffe://cluster.local/ns/gatehouse/sa/envoy", "--ttl", "1500ms",
			"--cert-file", filepath.Join(dir, "tls.crt"), "--key-file", filepath.Join(dir, "tls.key"), "--ca-file", filepath.Join(dir, "ca.crt"),
			"--health-listen", health}, &out)
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + health + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/readyz"); code != 200; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready; log:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	files, err := tlsfiles.Load(tlsfiles.Files{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")})
	if err != nil {
		t.Fatal(err)
	}
	leaf := files.Certificate().Leaf
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "envoy.gatehouse.svc"}); err != nil {
		t.Fatalf("the certificate does not chain to the written CA for its name: %v", err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://cluster.local/ns/gatehouse/sa/envoy" {
		t.Fatalf("URI SANs %v", leaf.URIs)
	}
	for deadline = leaf.NotAfter; ; time.Sleep(20 * time.Millisecond) {
		if _, err := files.Reload(); err != nil {
			t.Fatal(err)
		}
		if files.Certificate().Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not renewed before it expired; log:\n%s", out.String())
		}
	}
	if _, body := get("/metrics"); !strings.Contains(body, `gatehouse_vault_operation_duration_seconds_count{operation="issue",outcome="success"}`) {
		t.Errorf("issues not counted:\n%s", body)
	}
	if strings.Contains(out.String(), "PRIVATE KEY") || strings.Contains(out.String(), double.RootToken()) {
		t.Fatal("a key or the Vault token reached the log")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped with %v", err)
	}
}

// What the agent cannot do stops it at once, saying why: a missing setting, or a role Vault
// does not have (the pod then restarts instead of running without a certificate).
func TestAgentRefusesToStartWithoutACertificate(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	vault := httptest.NewServer(double)
	defer vault.Close()
	t.Setenv("VAULT_TOKEN", double.RootToken())
	dir := t.TempDir()
	err := certagent.Run(context.Background(), []string{"--vault-addr", vault.URL, "--vault-auth", "token"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--pki-role") || !strings.Contains(err.Error(), "--cert-file") {
		t.Fatalf("missing settings: %v", err)
	}
	err = certagent.Run(context.Background(), []string{"--vault-addr", vault.URL, "--vault-auth", "token", "--pki-role", "nobody",
		"--common-name", "authz.gatehouse.svc", "--cert-file", filepath.Join(dir, "c"), "--key-file", filepath.Join(dir, "k")}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "first certificate") {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); err == nil {
		t.Fatal("a certificate file was written although none was issued")
	}
}
