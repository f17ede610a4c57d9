package kit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
)

// RegisterHealthFlag adds --health-listen (GATEHOUSE_HEALTH_LISTEN): a plain-HTTP port that
// serves /healthz, /readyz and /metrics and nothing else. The MCP port accepts only the edge's
// client certificate, which kubelet's probes and Prometheus do not have; on this port they get
// the adapter's real readiness (credentials, upstream) and its metrics, and no request can
// reach a tool or assert an identity. Off when empty.
func RegisterHealthFlag(fs *flag.FlagSet) *string {
	return fs.String("health-listen", env("GATEHOUSE_HEALTH_LISTEN", ""),
		"plain-HTTP address for /healthz, /readyz and /metrics only, for probes and Prometheus (GATEHOUSE_HEALTH_LISTEN; off when empty)")
}

// healthPaths are the only paths HealthOnly passes on.
var healthPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// HealthOnly passes GET /healthz, /readyz and /metrics to h and answers 404 to anything else.
func HealthOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !healthPaths[r.URL.Path] {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHealth listens on addr and serves HealthOnly(h) until ctx ends. A listen error is
// returned at once; serving runs in the background.
func ServeHealth(ctx context.Context, addr string, h http.Handler, log zerolog.Logger) error {
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--health-listen: %w", err)
	}
	hs := &http.Server{Handler: HealthOnly(h), ReadHeaderTimeout: 5 * time.Second, ErrorLog: ecslog.HTTPErrorLog(log, 10)}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("event.action", "health-listen").Msg("health port stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	log.Info().Str("event.action", "health-listen").Str("url.full", "http://"+l.Addr().String()+"/readyz").
		Msg("health and metrics port listening (no MCP)")
	return nil
}
