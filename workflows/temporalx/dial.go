package temporalx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
)

// Options says how to reach Temporal.
type Options struct {
	// Address is the frontend's host:port (default localhost:7233).
	Address string
	// Namespace defaults to "default".
	Namespace string
	// TLS, when set, is used for the connection (mTLS with a client certificate for
	// Temporal Cloud or a self-hosted cluster with TLS on).
	TLS *tls.Config
	// Identity names this process in workflow histories (default: the SDK's pid@host).
	Identity string
	// Log receives the SDK's own log lines and the dial's retries.
	Log zerolog.Logger
	// MaxBackoff caps the wait between two dial attempts (default 10s).
	MaxBackoff time.Duration
}

// Dial connects to Temporal, retrying with backoff (200 ms doubling up to MaxBackoff) until
// the server answers or ctx ends, so a worker or adapter that starts before Temporal simply
// waits for it. Each failed attempt is logged as a warning.
func Dial(ctx context.Context, o Options) (client.Client, error) {
	if o.Address == "" {
		o.Address = "localhost:7233"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	icpts, err := Interceptors()
	if err != nil {
		return nil, err
	}
	opts := client.Options{
		HostPort:          o.Address,
		Namespace:         o.Namespace,
		Identity:          o.Identity,
		Logger:            NewLogger(o.Log),
		ConnectionOptions: client.ConnectionOptions{TLS: o.TLS},
		Interceptors:      icpts,
	}
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.DialContext(dctx, opts)
		cancel()
		if err == nil {
			if attempt > 1 {
				o.Log.Info().Str("gatehouse.temporal.address", o.Address).Int("gatehouse.temporal.attempt", attempt).
					Msg("connected to Temporal")
			}
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to Temporal at %s: %w (last error: %v)", o.Address, ctx.Err(), err)
		}
		o.Log.Warn().Err(err).Str("gatehouse.temporal.address", o.Address).Int("gatehouse.temporal.attempt", attempt).
			Dur("gatehouse.retry_in", wait).Msg("Temporal is not reachable yet; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connecting to Temporal at %s: %w (last error: %v)", o.Address, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, o.MaxBackoff)
	}
}

// TLSFiles builds a client TLS configuration from PEM files: caFile (the CA that signed the
// server's certificate; empty for the system pool), certFile and keyFile (a client
// certificate, both or neither) and serverName (when the address is not the certificate's
// name). It returns nil when every argument is empty.
func TLSFiles(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" && serverName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA for Temporal: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA for Temporal: no PEM certificates in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("TLS for Temporal: give both the client certificate and its key, or neither")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate for Temporal: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
