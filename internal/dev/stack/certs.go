package stack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// SANs of the dev platform's workloads, as SPIFFE ids. Adapters accept the edge, the REST
// bridge and DirectSAN (the developer's certificate, printed by gatehouse dev); the authz
// service accepts the edge and DirectSAN.
const (
	EdgeSAN   = "spiffe://gatehouse.dev/edge"
	BridgeSAN = "spiffe://gatehouse.dev/rest-bridge"
	DirectSAN = "spiffe://gatehouse.dev/developer"
)

// devCerts are the files of the dev CA made at start (a temporary directory, removed on Stop).
type devCerts struct {
	dir                                  string
	adapter, authz, edge, bridge, direct devca.Files
}

// makeCerts makes the dev CA and every workload's certificate, as a mesh would: adapters and
// authz serve TLS and require a client certificate, the edge presents its own.
func (s *Stack) makeCerts(host string) error {
	ca, err := devca.New("gatehouse dev CA")
	if err != nil {
		return fmt.Errorf("dev CA: %w", err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-dev-tls-")
	if err != nil {
		return fmt.Errorf("dev CA: %w", err)
	}
	s.certs.dir = dir
	for _, c := range []struct {
		name  string
		out   *devca.Files
		names []string
	}{
		{"adapter", &s.certs.adapter, []string{host, "localhost"}},
		{"authz", &s.certs.authz, []string{host, "localhost"}},
		{"edge", &s.certs.edge, []string{EdgeSAN}},
		{"bridge", &s.certs.bridge, []string{BridgeSAN}},
		{"direct", &s.certs.direct, []string{DirectSAN}},
	} {
		pair, err := ca.Issue(24*time.Hour, c.names...)
		if err != nil {
			return fmt.Errorf("dev CA: %w", err)
		}
		if *c.out, err = ca.WriteFiles(dir, c.name, pair); err != nil {
			return err
		}
	}
	load := func(f devca.Files, peers ...string) *tlsfiles.Source {
		src, lerr := tlsfiles.Load(tlsfiles.Files{CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA, PeerSANs: peers})
		err = errors.Join(err, lerr)
		return src
	}
	s.adapterTLS = load(s.certs.adapter, EdgeSAN, BridgeSAN, DirectSAN)
	s.edgeTLS = load(s.certs.edge)
	s.bridgeTLS = load(s.certs.bridge)
	s.directTLS = load(s.certs.direct)
	return err
}

// mtlsClient is an HTTP client presenting src's certificate to adapters.
func (s *Stack) mtlsClient(src *tlsfiles.Source) *http.Client {
	host, _, _ := net.SplitHostPort(s.AuthzGRPC)
	tr := &http.Transport{
		TLSClientConfig:     src.ClientConfig(host),
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr}
}

// DirectClient is an HTTP client with the developer's certificate, for calling an adapter
// (Adapters, Bridge) directly, without the edge: adapters accept nothing else.
func (s *Stack) DirectClient() *http.Client { return s.mtlsClient(s.directTLS) }

// CertFiles are the dev CA and the developer's certificate, for curl --cacert/--cert/--key.
func (s *Stack) CertFiles() devca.Files { return s.certs.direct }
