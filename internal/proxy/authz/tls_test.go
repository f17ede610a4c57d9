package authz_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc/oidctest"
)

const envoySAN = "spiffe://cluster.local/ns/gatehouse/sa/envoy"

// With authz.tls the gRPC port speaks TLS and answers only the edge's client certificate:
// no certificate, another workload's, and plain text are all refused before any RPC.
func TestAuthzGRPCRequiresTheEdgeCertificate(t *testing.T) {
	ca, err := devca.New("mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	server, err := ca.Issue(time.Hour, "authz.gatehouse.svc")
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.WriteFiles(dir, "authz", server)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(oidctest.NewIssuer(t).URL, copyPolicies(t))
	cfg.Authz.TLS.CertFile, cfg.Authz.TLS.KeyFile, cfg.Authz.TLS.ClientCAFile = files.Cert, files.Key, files.CA
	cfg.Authz.TLS.ClientSANs = []string{envoySAN}
	logs := &ecslogtest.Buffer{}
	log, _ := ecslog.New(logs, "gatehouse-authz", "info", "json")
	svc := authz.NewService(cfg, log, oidc.Options{})
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, gl, hl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	check := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer ccancel()
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(false))
		return err
	}
	withCert := func(names ...string) credentials.TransportCredentials {
		cfg := &tls.Config{RootCAs: roots, ServerName: "authz.gatehouse.svc", MinVersion: tls.VersionTLS12}
		if len(names) > 0 {
			p, err := ca.Issue(time.Hour, names...)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := p.TLS()
			cfg.Certificates = []tls.Certificate{c}
		}
		return credentials.NewTLS(cfg)
	}
	if err := check(withCert(envoySAN)); err != nil {
		t.Fatalf("the edge's certificate: %v", err)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate": withCert(),
		"another workload":      withCert("spiffe://cluster.local/ns/default/sa/attacker"),
		"plain text":            insecure.NewCredentials(),
	} {
		if err := check(creds); err == nil {
			t.Errorf("%s: the authz service answered", name)
		}
	}
	// Each refusal is an ECS line with the caller's address and the reason; a TCP connection
	// closed before any byte (a probe) is not a handshake and leaves none.
	probe, err := net.Dial("tcp", gl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	var reasons []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		reasons = reasons[:0]
		for _, raw := range strings.Split(logs.String(), "\n") {
			var line map[string]any
			if json.Unmarshal([]byte(raw), &line) != nil || line["event.action"] != "tls-handshake" {
				continue
			}
			if line["client.address"] != "127.0.0.1" || line["event.outcome"] != "failure" || line["log.level"] != "warn" {
				t.Errorf("handshake line %v", line)
			}
			reasons = append(reasons, fmt.Sprint(line["error.message"]))
		}
		if len(reasons) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := strings.Join(reasons, " | ")
	for _, want := range []string{"didn't provide a certificate", "names none of", "does not look like a TLS handshake"} {
		if !strings.Contains(all, want) {
			t.Errorf("no refused handshake logged with %q: %s", want, all)
		}
	}
	if strings.Contains(all, "EOF") {
		t.Errorf("the probe was logged as a handshake: %s", all)
	}
}

// A missing certificate file stops the start with its name, instead of serving plain text.
func TestAuthzTLSBadFileIsAStartError(t *testing.T) {
	cfg := baseConfig(oidctest.NewIssuer(t).URL, copyPolicies(t))
	missing := filepath.Join(t.TempDir(), "nope.crt")
	cfg.Authz.TLS.CertFile, cfg.Authz.TLS.KeyFile = missing, missing
	log, _ := ecslog.New(&ecslogtest.Buffer{}, "gatehouse-authz", "info", "json")
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	err := authz.NewService(cfg, log, oidc.Options{}).Run(context.Background(), gl, hl)
	if err == nil || !strings.Contains(err.Error(), "authz.tls") || !strings.Contains(err.Error(), "nope.crt") {
		t.Fatalf("want a start error naming authz.tls and the file, got %v", err)
	}
}
