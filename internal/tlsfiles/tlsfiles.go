// Package tlsfiles is TLS material kept in PEM files — a certificate and key, and a CA bundle
// that peers must chain to — re-read when the files change, so a rotated certificate (a
// Kubernetes Secret update, a renewal written by an agent) is used for new handshakes without
// a restart while established connections carry on with the old one.
package tlsfiles

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Files names the PEM files. CAFile is optional; without it a server does not ask for client
// certificates and a client uses the system roots.
type Files struct {
	CertFile, KeyFile, CAFile string
	// PeerSANs, when set, are the subject alternative names (URI or DNS, exact) of which the
	// peer's certificate must carry one. Only checked on a chain verified against CAFile.
	PeerSANs []string
}

// Source holds the current material of Files.
type Source struct {
	files Files

	mu   sync.RWMutex
	cert *tls.Certificate
	pool *x509.CertPool
	raw  [3][]byte // the file contents the current material came from
}

// Load reads the files once; a missing or malformed file is an error that names it.
func Load(f Files) (*Source, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("tls: cert_file and key_file are required")
	}
	s := New(f)
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// New is a Source that has read nothing yet, for servers that must be configured before
// their start-up reads the files (call Reload before serving: until then every handshake
// fails).
func New(f Files) *Source { return &Source{files: f} }

// Reload re-reads the files and, if any changed and all are valid, switches to them. Invalid
// new files leave the current material in use and return the error.
func (s *Source) Reload() (bool, error) {
	var raw [3][]byte
	for i, name := range []string{s.files.CertFile, s.files.KeyFile, s.files.CAFile} {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return false, fmt.Errorf("tls: %w", err)
		}
		raw[i] = b
	}
	s.mu.RLock()
	same := bytes.Equal(raw[0], s.raw[0]) && bytes.Equal(raw[1], s.raw[1]) && bytes.Equal(raw[2], s.raw[2]) && s.cert != nil
	s.mu.RUnlock()
	if same {
		return false, nil
	}
	cert, err := tls.X509KeyPair(raw[0], raw[1])
	if err != nil {
		// A rotation writes cert and key one after the other: a mismatch is usually
		// transient, and the next poll sees both.
		return false, fmt.Errorf("tls: %s and %s: %w", s.files.CertFile, s.files.KeyFile, err)
	}
	var pool *x509.CertPool
	if s.files.CAFile != "" {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw[2]) {
			return false, fmt.Errorf("tls: %s holds no PEM certificate", s.files.CAFile)
		}
	}
	s.mu.Lock()
	s.cert, s.pool, s.raw = &cert, pool, raw
	s.mu.Unlock()
	return true, nil
}

// Run re-reads the files every interval until ctx ends; report hears about each change and
// each failure (err != nil: the previous material stays in use).
func (s *Source) Run(ctx context.Context, interval time.Duration, report func(changed bool, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := s.Reload()
			if (changed || err != nil) && report != nil {
				report(changed, err)
			}
		}
	}
}

// Certificate is the current certificate.
func (s *Source) Certificate() *tls.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert
}

// Pool is the current CA pool (nil without CAFile).
func (s *Source) Pool() *x509.CertPool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pool
}

// ClientAuth reports whether servers using this source require client certificates.
func (s *Source) ClientAuth() bool { return s.files.CAFile != "" }

// ServerConfig is a server configuration that uses the material current at each handshake.
// With a CAFile, a client must present a certificate chaining to it (and carrying one of
// PeerSANs, when set); without one the handshake fails, so nothing reaches the handler.
func (s *Source) ServerConfig() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s.mu.RLock()
		cert, pool := s.cert, s.pool
		s.mu.RUnlock()
		if cert == nil {
			return nil, errors.New("tls: no certificate loaded yet")
		}
		// ALPN here, since this config replaces the one http.Server and gRPC added theirs to.
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2", "http/1.1"}}
		if pool != nil {
			c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, pool
			c.VerifyPeerCertificate = s.verifySAN
		}
		return c, nil
	}
	return base
}

// ClientConfig is a client configuration that presents the current certificate and checks
// the server's against CAFile (the pool as it is at each handshake) and serverName (""
// means the name the connection was made to, checked by crypto/tls against the pool as it
// is when the config is built), plus PeerSANs when set.
func (s *Source) ClientConfig(serverName string) *tls.Config {
	if serverName == "" {
		// The dialled name is only known to crypto/tls (for an IP address it is not even in
		// the connection state), so let it verify against the pool as it is now; a rotated CA
		// bundle reaches clients built after the rotation.
		return &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    s.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return s.Certificate(), nil
			},
			VerifyConnection: func(cs tls.ConnectionState) error { return s.verifySAN(nil, cs.VerifiedChains) },
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.Certificate(), nil
		},
		// Chain verification is done here, against the pool current at this handshake,
		// so a rotated CA bundle is used without rebuilding the client.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			chains, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: s.Pool(), Intermediates: inter, DNSName: serverName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("tls: server certificate: %w", err)
			}
			return s.verifySAN(nil, chains)
		},
	}
}

// verifySAN runs after chain verification (Go calls VerifyPeerCertificate with the verified
// chains): the leaf must carry one of PeerSANs.
func (s *Source) verifySAN(_ [][]byte, chains [][]*x509.Certificate) error {
	if len(s.files.PeerSANs) == 0 {
		return nil
	}
	if len(chains) == 0 || len(chains[0]) == 0 {
		return errors.New("tls: no verified peer certificate")
	}
	if SANMatches(chains[0][0], s.files.PeerSANs) {
		return nil
	}
	return fmt.Errorf("tls: peer certificate names none of %v", s.files.PeerSANs)
}

// SANMatches reports whether the certificate carries one of allowed as a URI or DNS SAN.
func SANMatches(c *x509.Certificate, allowed []string) bool {
	for _, u := range c.URIs {
		if slices.Contains(allowed, u.String()) {
			return true
		}
	}
	for _, d := range c.DNSNames {
		if slices.Contains(allowed, d) {
			return true
		}
	}
	return false
}
