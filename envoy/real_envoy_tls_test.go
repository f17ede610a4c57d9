package envoy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

const envoySAN = "spiffe://gatehouse.test/ns/gatehouse/sa/envoy"

// TestRealEnvoyTLS runs a real Envoy with edge.tls and edge.mtls from the control plane: the
// public listener must serve the SDS certificate (with HSTS), the http listener must redirect
// to https, Envoy's active health checks must pass against an adapter that accepts only
// Envoy's client certificate (so the mTLS cluster works end to end), and a rotated edge
// certificate must be served without restarting Envoy. Runs only where ENVOY_BIN names one.
func TestRealEnvoyTLS(t *testing.T) {
	dir := t.TempDir()
	edge, redirect, admin, authzPort, adapterPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	ca, err := devca.New("mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, names ...string) devca.Files {
		p, err := ca.Issue(time.Hour, names...)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ca.WriteFiles(dir, name, p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	edgeFiles := issue("edge", "localhost", "127.0.0.1")
	envoyFiles := issue("envoy", envoySAN)
	adapterFiles := issue("adapter", "127.0.0.1")
	authzFiles := issue("authz", "127.0.0.1")

	example, err := os.ReadFile(testkit.Root("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("0.0.0.0:8080", "127.0.0.1:"+edge, "127.0.0.1:9191", "127.0.0.1:"+authzPort,
		"http://127.0.0.1:8101", "https://127.0.0.1:"+adapterPort).Replace(string(example))
	cfg = regexp.MustCompile(`upstream: http://`).ReplaceAllString(cfg, "upstream: https://")
	cfg = strings.Replace(cfg, "\nedge:\n", "\nedge:\n"+
		fmt.Sprintf("  tls: {cert_file: %s, key_file: %s, redirect_listen: \"127.0.0.1:%s\"}\n", edgeFiles.Cert, edgeFiles.Key, redirect)+
		fmt.Sprintf("  mtls: {cert_file: %s, key_file: %s, ca_file: %s}\n", envoyFiles.Cert, envoyFiles.Key, envoyFiles.CA), 1)
	cfg = strings.Replace(cfg, "\nauthz:\n", "\nauthz:\n"+
		fmt.Sprintf("  tls: {cert_file: %s, key_file: %s, client_ca_file: %s}\n", authzFiles.Cert, authzFiles.Key, authzFiles.CA), 1)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// This much runs everywhere: the config the test hands the control plane is valid.
	if _, _, _, err := xdsserver.Build([]byte(cfg)); err != nil {
		t.Fatalf("TLS config: %v", err)
	}
	bin := os.Getenv("ENVOY_BIN")
	if bin == "" {
		t.Skip("SKIPPED: ENVOY_BIN is not set (no Envoy binary on this machine); the Envoy part of this test has not run here")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The catalyst-center adapter, accepting only Envoy's certificate.
	src, err := tlsfiles.Load(tlsfiles.Files{CertFile: adapterFiles.Cert, KeyFile: adapterFiles.Key, CAFile: adapterFiles.CA, PeerSANs: []string{envoySAN}})
	if err != nil {
		t.Fatal(err)
	}
	al, err := net.Listen("tcp", "127.0.0.1:"+adapterPort)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = kit.NewServer(kit.Options{Name: "catalyst-center"}).Serve(ctx, al, time.Second, src.ServerConfig())
	}()

	startEnvoy(ctx, t, bin, dir, cfgPath, admin, 200*time.Millisecond)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	dump := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/config_dump", admin))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	eventually := func(what string, ok func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			good, last := ok()
			if good {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s (last: %s); config dump:\n%s", what, last, dump())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// TLS at the edge, with the certificate from SDS and HSTS on the answer.
	var served *x509.Certificate
	eventually("Envoy never served /healthz over TLS", func() (bool, string) {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%s/healthz", edge))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		served = resp.TLS.PeerCertificates[0]
		return resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age="),
			fmt.Sprintf("%d %v", resp.StatusCode, resp.Header)
	})

	// http redirects to https.
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%s/mcp/github", redirect))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Fatalf("http listener answered %d %q, want a 301 to https", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Envoy's health checks reach the adapter, which accepts only Envoy's client certificate.
	eventually("the mTLS adapter never became healthy in Envoy", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/clusters", admin))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		want := fmt.Sprintf("adapter-catalyst-center::127.0.0.1:%s::health_flags::healthy", adapterPort)
		return strings.Contains(string(b), want), want
	})

	// Rotation: a new edge certificate in the files is served without restarting Envoy.
	issue("edge", "localhost", "127.0.0.1")
	eventually("the rotated certificate was never served", func() (bool, string) {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%s/healthz", edge))
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Cmp(served.SerialNumber) != 0, "same serial"
	})
}
