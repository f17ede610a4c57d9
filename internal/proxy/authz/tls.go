package authz

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// certReloadInterval is how often authz.tls files are checked for a rotation.
var certReloadInterval = 10 * time.Second

// startTLS reads authz.tls (a missing or mismatched file stops the start with its name) and
// re-reads it while serving: new handshakes get a rotated certificate, open streams carry on.
func (s *Service) startTLS(ctx context.Context) error {
	if s.certs == nil {
		if s.Config.Edge.MTLS.Enabled() {
			return fmt.Errorf("authz.tls is required when edge.mtls is set")
		}
		s.Log.Warn().Str("event.action", "start").Msg("authz.tls is not set: the gRPC port is plain text and accepts " +
			"any caller; set authz.tls with client_ca_file so only the edge can ask for decisions")
		return nil
	}
	if _, err := s.certs.Reload(); err != nil {
		return fmt.Errorf("authz.tls: %w", err)
	}
	if !s.certs.ClientAuth() {
		s.Log.Warn().Str("event.action", "start").Msg("authz.tls.client_ca_file is not set: any caller that reaches the gRPC port can ask for decisions")
	}
	go s.certs.Run(ctx, certReloadInterval, func(_ bool, err error) {
		if err != nil {
			s.Log.Error().Err(err).Str("event.action", "tls-reload").Str("event.outcome", "failure").
				Msg("new authz.tls files are not usable; still serving the previous certificate")
			return
		}
		s.Log.Info().Str("event.action", "tls-reload").Str("event.outcome", "success").Msg("serving a new certificate on the gRPC port")
	})
	return nil
}

// loggedHandshakes reports every failed TLS handshake on the gRPC port (a caller without the
// edge's certificate, plain text on a TLS port), which grpc-go only logs at its info level
// (off by default), so that the security team sees who was refused (ecslog.HandshakeFailures).
type loggedHandshakes struct {
	credentials.TransportCredentials
	failed func(net.Addr, error)
}

func (c loggedHandshakes) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		c.failed(raw.RemoteAddr(), err)
	}
	return conn, info, err
}

func (c loggedHandshakes) Clone() credentials.TransportCredentials {
	return loggedHandshakes{c.TransportCredentials.Clone(), c.failed}
}
