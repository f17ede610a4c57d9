package kit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/vaulttest"
)

// An adapter started with --tls-vault-pki-role serves a certificate issued by Vault's PKI
// engine (the contract double here), and accepts a client certificate from the same CA.
func TestMainServesACertificateFromVaultPKI(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	double.AddPKIRole("adapter")
	vs := httptest.NewServer(double)
	defer vs.Close()
	t.Setenv("VAULT_ADDR", vs.URL)
	t.Setenv("VAULT_TOKEN", double.RootToken())
	t.Setenv("GATEHOUSE_INSECURE_NO_MTLS", "")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, double.PKICA(), 0o600); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := Adapter{Name: "test", UpstreamEnv: "TEST_UPSTREAM", Setup: func(context.Context, *Server, Upstream) error { return nil }}
	go func() {
		done <- run(ctx, a, []string{"--upstream", "http://127.0.0.1:1", "--secrets", "vault", "--listen", addr, "--log-level", "error",
			"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"), "--tls-client-ca", ca,
			"--tls-vault-pki-role", "adapter", "--tls-vault-pki-common-name", "127.0.0.1"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("adapter stopped with %v", err)
		}
	}()

	// The edge's client certificate, from the same PKI.
	vsrc, err := NewVaultSource(context.Background(), VaultConfig{Address: vs.URL, Auth: "token", Token: double.RootToken()},
		newMetrics(prometheus.NewRegistry()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	edge, err := vsrc.PKI(VaultPKIConfig{Role: "adapter", CommonName: "envoy.gatehouse.svc", TTL: time.Hour}).Issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(edge.CertPEM, edge.KeyPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(double.PKICA())
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err == nil {
			if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "127.0.0.1" {
				t.Errorf("served certificate for %q", cn)
			}
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS with the Vault-issued certificate: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
