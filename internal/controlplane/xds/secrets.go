package xds

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// SDS secret names: the listener's certificate, Envoy's client certificate towards adapters
// and authz, and the CA their certificates chain to.
const (
	SecretEdgeCert       = "gatehouse-edge-cert"
	SecretUpstreamClient = "gatehouse-upstream-client"
	SecretUpstreamCA     = "gatehouse-upstream-ca"
)

// ReadFile reads one file; the control plane passes os.ReadFile.
type ReadFile func(path string) ([]byte, error)

// Secrets reads the certificate files the model names and returns them as SDS secrets,
// plus the bytes read (the caller hashes them to notice a rotation and push it). A pair
// that does not parse, or a key that does not match its certificate, is an error: Envoy
// would reject it, and the last good secrets stay in service.
func Secrets(e *model.Edge, read ReadFile) ([]types.Resource, []byte, error) {
	var out []types.Resource
	var raw []byte
	pair := func(name, certFile, keyFile string) error {
		cert, err := read(certFile)
		if err != nil {
			return fmt.Errorf("secret %s: %w", name, err)
		}
		key, err := read(keyFile)
		if err != nil {
			return fmt.Errorf("secret %s: %w", name, err)
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return fmt.Errorf("secret %s: %s and %s: %w", name, certFile, keyFile, err)
		}
		raw = append(append(raw, cert...), key...)
		s := &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(cert), PrivateKey: inline(key),
		}}}
		if err := validate(s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	}
	if e.TLS != nil {
		if err := pair(SecretEdgeCert, e.TLS.CertFile, e.TLS.KeyFile); err != nil {
			return nil, nil, err
		}
	}
	if e.MTLS != nil {
		if err := pair(SecretUpstreamClient, e.MTLS.CertFile, e.MTLS.KeyFile); err != nil {
			return nil, nil, err
		}
		ca, err := read(e.MTLS.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", SecretUpstreamCA, err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			return nil, nil, fmt.Errorf("secret %s: %s holds no PEM certificate", SecretUpstreamCA, e.MTLS.CAFile)
		}
		raw = append(raw, ca...)
		s := &tlsv3.Secret{Name: SecretUpstreamCA, Type: &tlsv3.Secret_ValidationContext{
			ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: inline(ca)},
		}}
		if err := validate(s); err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	return out, raw, nil
}

func inline(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}

// sdsSecret names a secret fetched over the ADS stream.
func sdsSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource()}
}
