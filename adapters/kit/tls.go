package kit

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// TLSFlags are how an adapter process serves: TLS with the certificate in CertFile/KeyFile
// and, with ClientCAFile, only to a client presenting a certificate that chains to it and
// names one of ClientSANs (the edge). Identity headers (X-Gatehouse-Subject and the rest) are
// believed because only the edge can connect: a caller reaching the port any other way fails
// the handshake and never reaches a tool.
//
// Without a client CA the adapter refuses to start unless InsecureNoMTLS is set: that opt-in
// is for local tests, or behind a mesh that enforces mTLS to the pod itself.
//
// Environment: GATEHOUSE_TLS_CERT_FILE, GATEHOUSE_TLS_KEY_FILE, GATEHOUSE_TLS_CLIENT_CA_FILE,
// GATEHOUSE_TLS_CLIENT_SANS (comma-separated), GATEHOUSE_TLS_RELOAD_INTERVAL (default 10s),
// GATEHOUSE_INSECURE_NO_MTLS=true.
type TLSFlags struct {
	CertFile, KeyFile, ClientCAFile string
	ClientSANs                      []string
	ReloadInterval                  time.Duration
	InsecureNoMTLS                  bool
}

// RegisterTLSFlags adds the TLS flags to fs, each defaulting to its environment variable, for
// adapter processes with their own main (kit.Main registers them itself).
func RegisterTLSFlags(fs *flag.FlagSet) *TLSFlags {
	t := &TLSFlags{}
	t.register(fs)
	return t
}

func (t *TLSFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.CertFile, "tls-cert", os.Getenv("GATEHOUSE_TLS_CERT_FILE"), "PEM certificate to serve (GATEHOUSE_TLS_CERT_FILE); re-read when it changes")
	fs.StringVar(&t.KeyFile, "tls-key", os.Getenv("GATEHOUSE_TLS_KEY_FILE"), "PEM key of --tls-cert (GATEHOUSE_TLS_KEY_FILE)")
	fs.StringVar(&t.ClientCAFile, "tls-client-ca", os.Getenv("GATEHOUSE_TLS_CLIENT_CA_FILE"), "CA the edge's client certificate must chain to (GATEHOUSE_TLS_CLIENT_CA_FILE)")
	fs.Func("tls-client-sans", "comma-separated SANs (spiffe://… or DNS) of which the client certificate must carry one (GATEHOUSE_TLS_CLIENT_SANS)", func(v string) error {
		t.ClientSANs = CommaList(v)
		return nil
	})
	t.ClientSANs = CommaList(os.Getenv("GATEHOUSE_TLS_CLIENT_SANS"))
	t.ReloadInterval = 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("GATEHOUSE_TLS_RELOAD_INTERVAL")); err == nil && d > 0 {
		t.ReloadInterval = d
	}
	fs.DurationVar(&t.ReloadInterval, "tls-reload-interval", t.ReloadInterval, "how often the certificate files are checked for changes (GATEHOUSE_TLS_RELOAD_INTERVAL)")
	fs.BoolVar(&t.InsecureNoMTLS, "insecure-no-mtls", os.Getenv("GATEHOUSE_INSECURE_NO_MTLS") == "true",
		"serve without requiring the edge's client certificate: identity headers are then believed from anyone who reaches the port (GATEHOUSE_INSECURE_NO_MTLS=true; local tests only)")
}

// CommaList reads a comma-separated flag or environment value (SANs, names): its items,
// trimmed, empty ones left out.
func CommaList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ErrNoMTLS is returned at start when the adapter would serve without checking that its
// caller is the edge.
var ErrNoMTLS = errors.New("the adapter would believe identity headers from any caller: set GATEHOUSE_TLS_CERT_FILE, " +
	"GATEHOUSE_TLS_KEY_FILE and GATEHOUSE_TLS_CLIENT_CA_FILE (the edge's CA) so only the edge can call it, " +
	"or GATEHOUSE_INSECURE_NO_MTLS=true for a local test")

// Check refuses settings that would serve without knowing the caller is the edge (ErrNoMTLS)
// and incomplete ones. Call it before starting anything.
func (t *TLSFlags) Check() error { return t.check() }

func (t *TLSFlags) check() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("--tls-cert and --tls-key (GATEHOUSE_TLS_CERT_FILE, GATEHOUSE_TLS_KEY_FILE) must be set together")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are only asked for over TLS")
	}
	if len(t.ClientSANs) > 0 && t.ClientCAFile == "" {
		return errors.New("--tls-client-sans needs --tls-client-ca: a SAN is only believed on a certificate that chains to it")
	}
	if t.ClientCAFile == "" && !t.InsecureNoMTLS {
		return ErrNoMTLS
	}
	return nil
}

// Configs loads the files and keeps re-reading them until ctx ends. server is nil without
// TLS; client (nil without TLS) presents the same certificate and trusts the client CA, for
// a process that also calls adapters over the mesh (the REST bridge).
func (t *TLSFlags) Configs(ctx context.Context, log zerolog.Logger) (server *tls.Config, client *tls.Config, err error) {
	src, err := t.load(ctx, log)
	if err != nil || src == nil {
		return nil, nil, err
	}
	return src.ServerConfig(), src.ClientConfig(""), nil
}

// serverConfig loads the files and keeps re-reading them until ctx ends; nil without TLS.
func (t *TLSFlags) serverConfig(ctx context.Context, log zerolog.Logger) (*tls.Config, error) {
	src, err := t.load(ctx, log)
	if err != nil || src == nil {
		return nil, err
	}
	return src.ServerConfig(), nil
}

func (t *TLSFlags) load(ctx context.Context, log zerolog.Logger) (*tlsfiles.Source, error) {
	if t.CertFile == "" {
		log.Warn().Str("event.action", "start").Msg("serving plain HTTP without mTLS (GATEHOUSE_INSECURE_NO_MTLS): " +
			"anyone who reaches this port can act as any user; never in production")
		return nil, nil
	}
	src, err := tlsfiles.Load(tlsfiles.Files{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.ClientCAFile, PeerSANs: t.ClientSANs})
	if err != nil {
		return nil, err
	}
	if t.ClientCAFile == "" {
		log.Warn().Str("event.action", "start").Msg("serving TLS without requiring a client certificate (GATEHOUSE_INSECURE_NO_MTLS): " +
			"anyone who reaches this port can act as any user; never in production")
	}
	go src.Run(ctx, t.ReloadInterval, func(changed bool, err error) {
		if err != nil {
			log.Error().Err(err).Str("event.action", "tls-reload").Str("event.outcome", "failure").
				Msg("new certificate files are not usable; still serving the previous certificate")
			return
		}
		log.Info().Str("event.action", "tls-reload").Str("event.outcome", "success").
			Str("tls.server.not_after", src.Certificate().Leaf.NotAfter.UTC().Format(time.RFC3339)).Msg("serving a new certificate")
	})
	return src, nil
}
