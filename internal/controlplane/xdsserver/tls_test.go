package xdsserver_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/vaulttest"
	"github.com/gatehouse-mcp/gatehouse/internal/certagent"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
)

// tlsConfig is the example config with TLS at the edge and mTLS to adapters and authz.
func tlsConfig(t *testing.T, p *plane, dir string) string {
	t.Helper()
	cfg := strings.ReplaceAll(p.example, "upstream: http://", "upstream: https://")
	if !strings.Contains(cfg, "\nedge:\n") {
		t.Fatal("example config has no edge section to extend")
	}
	cfg = strings.Replace(cfg, "\nedge:\n", "\nedge:\n"+
		"  tls: {cert_file: "+dir+"/edge.crt, key_file: "+dir+"/edge.key, redirect_listen: \"127.0.0.1:8079\"}\n"+
		"  mtls: {cert_file: "+dir+"/envoy.crt, key_file: "+dir+"/envoy.key, ca_file: "+dir+"/ca.crt, authz_san: authz.gatehouse.svc}\n", 1)
	cfg = strings.Replace(cfg, "\nauthz:\n", "\nauthz:\n"+
		"  tls: {cert_file: "+dir+"/authz.crt, key_file: "+dir+"/authz.key, client_ca_file: "+dir+"/ca.crt}\n", 1)
	return cfg
}

func writePair(t *testing.T, ca *devca.CA, dir, name string, names ...string) *x509.Certificate {
	t.Helper()
	pair, err := ca.Issue(time.Hour, names...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteFiles(dir, name, pair); err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}

func secretLeaf(t *testing.T, e *envoy, name string) *x509.Certificate {
	t.Helper()
	for _, a := range e.res[resource.SecretType] {
		var s tlsv3.Secret
		if err := a.UnmarshalTo(&s); err != nil {
			t.Fatal(err)
		}
		if s.GetName() == name {
			b, _ := pem.Decode(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
			if b == nil {
				t.Fatalf("secret %s has no certificate", name)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("secret %s not served", name)
	return nil
}

// waitSecrets processes responses until the secrets are at a version starting with prefix.
func (e *envoy) waitSecrets(prefix string) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.HasPrefix(e.version[resource.SecretType], prefix) {
		select {
		case r, ok := <-e.resp:
			if !ok {
				e.t.Fatal("ADS stream closed")
			}
			e.handle(r)
		case <-deadline:
			e.t.Fatalf("no secrets at version %s*; have %v", prefix, e.version)
		}
	}
}

// The resources as Envoy receives them over ADS: the public listener terminates TLS with a
// certificate delivered over SDS, a second listener redirects http to https, every response
// carries HSTS, and adapter and authz clusters present Envoy's client certificate and check
// theirs by SAN. Rotating the certificate file pushes the new secret to the connected Envoy.
// security 93.
func TestTLSOverSDSAndRotation(t *testing.T) {
	p := startPlane(t)
	dir := t.TempDir()
	ca, err := devca.New("mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	first := writePair(t, ca, dir, "edge", "mcp.example.com")
	writePair(t, ca, dir, "envoy", "spiffe://cluster.local/ns/gatehouse/sa/envoy")
	for start := time.Now(); p.srv.Version() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no first snapshot")
		}
	}
	p.write(t, tlsConfig(t, p, dir))

	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(p.srv.Version(), "2-") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.srv.LastError(); err != nil {
		t.Fatalf("TLS config refused: %v", err)
	}
	e := dialEnvoy(t, p.addr, "edge-tls")
	e.sync("2-")
	var main, redirect *listenerv3.Listener
	for _, a := range e.res[resource.ListenerType] {
		var l listenerv3.Listener
		if err := a.UnmarshalTo(&l); err != nil {
			t.Fatal(err)
		}
		switch l.GetName() {
		case xds.ListenerName:
			main = &l
		case xds.RedirectListenerName:
			redirect = &l
		}
	}
	if main == nil || redirect == nil {
		t.Fatalf("listeners: main %v, redirect %v", main != nil, redirect != nil)
	}
	var down tlsv3.DownstreamTlsContext
	if err := main.GetFilterChains()[0].GetTransportSocket().GetTypedConfig().UnmarshalTo(&down); err != nil {
		t.Fatalf("public listener without TLS: %v", err)
	}
	sds := down.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
	if len(sds) != 1 || sds[0].GetName() != xds.SecretEdgeCert || sds[0].GetSdsConfig().GetAds() == nil {
		t.Fatalf("listener certificate not from SDS over ADS: %v", sds)
	}
	var hcm hcmv3.HttpConnectionManager
	if err := redirect.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	rd := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0].GetRedirect()
	if !rd.GetHttpsRedirect() || rd.GetResponseCode() != routev3.RedirectAction_MOVED_PERMANENTLY {
		t.Fatalf("http listener does not redirect to https: %v", rd)
	}
	var rc routev3.RouteConfiguration
	if err := e.res[resource.RouteType][0].UnmarshalTo(&rc); err != nil {
		t.Fatal(err)
	}
	if h := rc.GetResponseHeadersToAdd(); len(h) != 1 || h[0].GetHeader().GetKey() != "strict-transport-security" ||
		h[0].GetHeader().GetValue() != "max-age=31536000; includeSubDomains" {
		t.Fatalf("no HSTS on responses: %v", h)
	}
	checked := 0
	for _, a := range e.res[resource.ClusterType] {
		var c clusterv3.Cluster
		if err := a.UnmarshalTo(&c); err != nil {
			t.Fatal(err)
		}
		if c.GetName() == "gatehouse-authz-http" {
			continue
		}
		var up tlsv3.UpstreamTlsContext
		if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&up); err != nil {
			t.Fatalf("cluster %s without TLS: %v", c.GetName(), err)
		}
		common := up.GetCommonTlsContext()
		combined := common.GetCombinedValidationContext()
		san := combined.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
		if len(common.GetTlsCertificateSdsSecretConfigs()) != 1 || common.GetTlsCertificateSdsSecretConfigs()[0].GetName() != xds.SecretUpstreamClient ||
			combined.GetValidationContextSdsSecretConfig().GetName() != xds.SecretUpstreamCA || len(san) != 1 {
			t.Fatalf("cluster %s is not mTLS over SDS: %v", c.GetName(), common)
		}
		want := strings.TrimPrefix(c.GetName(), "adapter-")
		if c.GetName() == "gatehouse-authz" {
			want = "authz.gatehouse.svc"
			if strings.Join(common.GetAlpnProtocols(), ",") != "h2" {
				t.Errorf("authz cluster does not offer h2 for gRPC: %v", common.GetAlpnProtocols())
			}
		}
		if got := san[0].GetMatcher().GetExact(); !strings.HasPrefix(got, want) && got != "127.0.0.1" {
			t.Errorf("cluster %s checks SAN %q", c.GetName(), got)
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("only %d mTLS clusters", checked)
	}

	// Envoy asks for the secrets it found named; the control plane serves them from the files.
	e.secrets = []string{xds.SecretEdgeCert, xds.SecretUpstreamCA, xds.SecretUpstreamClient}
	e.send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.SecretType, ResourceNames: e.secrets})
	e.waitSecrets("2-")
	if got := len(e.res[resource.SecretType]); got != 3 {
		t.Fatalf("%d secrets", got)
	}
	if got := secretLeaf(t, e, xds.SecretEdgeCert); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("served edge certificate %s, file has %s", got.SerialNumber, first.SerialNumber)
	}

	// Rotation: a new certificate in the files is pushed to the connected Envoy.
	second := writePair(t, ca, dir, "edge", "mcp.example.com")
	e.waitSecrets("3-")
	if got := secretLeaf(t, e, xds.SecretEdgeCert); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("after rotation served %s, want %s", got.SerialNumber, second.SerialNumber)
	}

	// A key that does not match keeps the last good secret in service.
	other, _ := ca.Issue(time.Hour, "mcp.example.com")
	if err := os.WriteFile(filepath.Join(dir, "edge.key"), other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for p.srv.LastError() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a mismatched key was not noticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(p.srv.Version(), "3-") || !strings.Contains(p.srv.LastError().Error(), "edge.key") {
		t.Fatalf("version %s, error %v", p.srv.Version(), p.srv.LastError())
	}
	if strings.Contains(p.logs.String(), "PRIVATE KEY") {
		t.Fatal("a private key reached the log")
	}
}

// In production Envoy's client certificate comes from Vault's PKI engine: the certificate
// agent (internal/certagent) writes it and the PKI CA where edge.mtls points, the control
// plane serves both over SDS, and each renewal reaches the connected Envoy without a restart.
// Vault is the contract double (docs/vault.md). security 102.
func TestVaultPKICertificatesReachEnvoyOverSDS(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	double.AddPKIRole("envoy")
	vault := httptest.NewServer(double)
	defer vault.Close()
	t.Setenv("VAULT_TOKEN", double.RootToken())
	p := startPlane(t)
	dir := t.TempDir()
	ca, err := devca.New("edge CA")
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, ca, dir, "edge", "mcp.example.com")
	ctx, cancel := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- certagent.Run(ctx, []string{"--vault-addr", vault.URL, "--vault-auth", "token", "--pki-role", "envoy",
			"--common-name", "envoy.gatehouse.svc", "--uri-sans", "spiffe://cluster.local/ns/gatehouse/sa/envoy", "--ttl", "3s",
			"--cert-file", filepath.Join(dir, "envoy.crt"), "--key-file", filepath.Join(dir, "envoy.key"),
			"--ca-file", filepath.Join(dir, "ca.crt")}, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-agentDone; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "envoy.crt")); err == nil && p.srv.Version() != "" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("no certificate from the agent, or no first snapshot")
		}
	}
	p.write(t, tlsConfig(t, p, dir))
	for deadline := time.Now().Add(5 * time.Second); !strings.HasPrefix(p.srv.Version(), "2-"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("TLS config not served: version %s, %v", p.srv.Version(), p.srv.LastError())
		}
	}
	e := dialEnvoy(t, p.addr, "edge-vault")
	e.sync("2-")
	e.secrets = []string{xds.SecretEdgeCert, xds.SecretUpstreamCA, xds.SecretUpstreamClient}
	e.send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.SecretType, ResourceNames: e.secrets})
	e.waitSecrets("2-")
	first := secretLeaf(t, e, xds.SecretUpstreamClient)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(double.PKICA())
	if _, err := first.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil ||
		len(first.URIs) != 1 || first.URIs[0].String() != "spiffe://cluster.local/ns/gatehouse/sa/envoy" {
		t.Fatalf("Envoy's client certificate is not the PKI's for its SPIFFE id: %v %v", err, first.URIs)
	}
	// The agent renews at two thirds of the lifetime; the new certificate is pushed.
	expired := time.After(time.Until(first.NotAfter))
	for secretLeaf(t, e, xds.SecretUpstreamClient).SerialNumber.Cmp(first.SerialNumber) == 0 {
		select {
		case r, ok := <-e.resp:
			if !ok {
				t.Fatal("ADS stream closed")
			}
			e.handle(r)
		case <-expired:
			t.Fatal("Envoy's certificate was not renewed before it expired")
		}
	}
}
