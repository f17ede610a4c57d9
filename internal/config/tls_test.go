package config

import (
	"strings"
	"testing"
	"time"
)

func TestTLSSettingsLoadWithDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
public_url: https://mcp.example.com
oidc: {issuer: https://idp.example.com}
servers:
  - {name: github, upstream: "https://github:8443"}
authz:
  tls: {cert_file: /tls/authz/tls.crt, key_file: /tls/authz/tls.key, client_ca_file: /tls/authz/ca.crt,
        client_sans: ["spiffe://cluster.local/ns/gatehouse/sa/envoy"]}
edge:
  tls: {cert_file: /tls/edge/tls.crt, key_file: /tls/edge/tls.key, redirect_listen: "0.0.0.0:8081"}
  mtls: {cert_file: /tls/envoy/tls.crt, key_file: /tls/envoy/tls.key, ca_file: /tls/envoy/ca.crt}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Edge.TLS.HSTSMaxAge != 365*24*time.Hour {
		t.Errorf("default HSTS max-age %s", cfg.Edge.TLS.HSTSMaxAge)
	}
	if !cfg.Edge.MTLS.Enabled() || !cfg.Authz.TLS.Enabled() || cfg.Authz.TLS.ClientSANs[0] != "spiffe://cluster.local/ns/gatehouse/sa/envoy" {
		t.Errorf("tls settings not read: %+v %+v", cfg.Edge, cfg.Authz.TLS)
	}
}

func TestTLSValidationNamesTheField(t *testing.T) {
	base := "public_url: https://mcp.example.com\noidc: {issuer: https://idp.example.com}\n"
	for name, tc := range map[string]struct{ yaml, field string }{
		"half pair":            {"authz: {tls: {cert_file: /a}}\n", "authz.tls: cert_file and key_file"},
		"sans without ca":      {"authz: {tls: {cert_file: /a, key_file: /b, client_sans: [x]}}\n", "authz.tls.client_sans"},
		"redirect without tls": {"edge: {tls: {redirect_listen: ':80'}}\n", "edge.tls.redirect_listen"},
		"mtls with http upstream": {"servers: [{name: github, upstream: 'http://github:8080'}]\n" +
			"authz: {tls: {cert_file: /a, key_file: /b}}\nedge: {mtls: {cert_file: /c, key_file: /d, ca_file: /e}}\n",
			"servers[github].upstream: must be https"},
		"mtls without authz tls": {"edge: {mtls: {cert_file: /c, key_file: /d, ca_file: /e}}\n", "authz.tls.cert_file: is required when edge.mtls"},
		"mtls without ca":        {"authz: {tls: {cert_file: /a, key_file: /b}}\nedge: {mtls: {cert_file: /c, key_file: /d}}\n", "edge.mtls.ca_file"},
	} {
		_, err := Parse([]byte(base + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: want an error naming %q, got %v", name, tc.field, err)
		}
	}
}
