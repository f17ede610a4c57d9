package authz

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/prm"
)

// Readiness names what the service waits for before it is ready.
type Readiness struct {
	PolicyLoaded func() bool
	IssuerKeys   func() bool
}

// HTTPHandler serves protected resource metadata, /healthz, /readyz and /metrics.
func HTTPHandler(cfg *config.Config, ready Readiness, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	meta := prm.Handler(metadataSite(cfg))
	mux.Handle(contract.WellKnownPRM, meta)
	mux.Handle(contract.WellKnownPRM+"/", meta)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		state := map[string]bool{"policy_loaded": ready.PolicyLoaded(), "issuer_keys": ready.IssuerKeys()}
		status := http.StatusOK
		for _, ok := range state {
			if !ok {
				status = http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(state)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// metadataSite is what protected resource metadata is made from.
func metadataSite(cfg *config.Config) prm.Site {
	site := prm.Site{PublicURL: cfg.PublicURL, Issuer: cfg.OIDC.Issuer}
	for _, s := range cfg.Servers {
		site.Servers = append(site.Servers, prm.Server{Name: s.Name, Description: s.Description, Scopes: s.Scopes})
	}
	return site
}
