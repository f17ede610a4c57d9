// Package model is the edge as Gatehouse means it — listener, routes, upstream clusters, which
// routes need authorization — built from gatehouse.yaml, with no Envoy types. The control plane
// translates it into Envoy resources (control-plane/xds); the Go dev edge routes with it
// directly. Keeping one model is what makes the dev edge behave like Envoy.
package model

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// Edge is the whole edge.
type Edge struct {
	Listener          Address
	Routes            []Route // in match order: the first match wins
	Clusters          []Cluster
	Authz             Authz
	CORS              CORS
	MaxBodyBytes      int
	StreamIdleTimeout time.Duration
	// TLS, when set, makes the listener terminate TLS (certificate over SDS).
	TLS *ListenerTLS
	// MTLS, when set, is the client certificate Envoy presents to every cluster with MTLS
	// set, and the CA their certificates chain to (both over SDS).
	MTLS *UpstreamMTLS
	// Tracing, when set, is Envoy's OpenTelemetry tracer.
	Tracing *Tracing
}

// Tracing exports the edge's spans over OTLP/HTTP to a collector reached through Cluster.
type Tracing struct {
	Cluster         string
	URI             string // the collector's traces URL
	SamplingPercent float64
	ServiceName     string
}

// CollectorCluster is the OpenTelemetry collector's cluster.
const CollectorCluster = "otel-collector"

// ListenerTLS is the public listener's certificate and the plain-HTTP redirect.
type ListenerTLS struct {
	CertFile, KeyFile string
	// Redirect, when set, is a plain-HTTP listener that redirects to https.
	Redirect *Address
	// RedirectPort is the https port redirects name (0: the scheme's default, 443).
	RedirectPort uint32
	HSTSMaxAge   time.Duration
}

// UpstreamMTLS is Envoy's client identity towards adapters and authz.
type UpstreamMTLS struct {
	CertFile, KeyFile, CAFile string
}

// Address is a host and port.
type Address struct {
	Host string
	Port uint32
}

func (a Address) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port))) }

// Match says how a route matches the request path (after Envoy's normalize_path and
// merge_slashes).
type Match struct {
	Path   string
	Prefix bool // false: the path must equal Path exactly
}

// Matches reports whether path matches.
func (m Match) Matches(path string) bool {
	if m.Prefix {
		return len(path) >= len(m.Path) && path[:len(m.Path)] == m.Path
	}
	return path == m.Path
}

// Kind says what a route is for.
type Kind string

// Route kinds.
const (
	KindMCP      Kind = "mcp"      // an MCP server's endpoint
	KindREST     Kind = "rest"     // the REST bridge
	KindMetadata Kind = "metadata" // protected resource metadata (RFC 9728)
	KindHealth   Kind = "health"   // the edge's own health
	KindNotFound Kind = "notfound" // everything else
)

// Route is one route.
type Route struct {
	Name  string
	Kind  Kind
	Match Match
	// Cluster is where the request goes; empty for a direct response.
	Cluster string
	// Direct answers without an upstream (health, not found).
	Direct *DirectResponse
	// Rewrite replaces the matched path (or prefix) upstream; "" keeps it.
	Rewrite string
	// Authz is true when ext_authz runs for this route. Only metadata and health routes
	// turn it off.
	Authz bool
	// Server is passed to ext_authz as context_extensions["server"].
	Server string
	// Timeout bounds the whole response (0: none, for SSE streams); IdleTimeout bounds
	// silence on it.
	Timeout     time.Duration
	IdleTimeout time.Duration
	// Retry is set only where a retry cannot repeat a side effect.
	Retry *Retry
	// RespondProcessing runs the response through the authz service's response side
	// (ext_proc): list filtering, session binding. MCP routes only.
	RespondProcessing bool
	// MaxBodyBytes is the largest request body the route accepts (its server's limit; the
	// edge's for routes without a server). Beyond it: 413.
	MaxBodyBytes int
}

// DirectResponse is an answer the edge gives itself.
type DirectResponse struct {
	Status int
	Body   string
}

// Retry is a retry policy.
type Retry struct {
	On         []string // Envoy retry_on conditions
	NumRetries uint32
}

// Cluster is an upstream.
type Cluster struct {
	Name    string
	Address Address
	// TLS upstreams must present a certificate for Address.Host that chains to CAFile.
	TLS    bool
	CAFile string
	// MTLS makes Envoy present its client certificate (Edge.MTLS) and check the upstream's
	// against Edge.MTLS's CA and SAN (a DNS name) instead of CAFile and the host.
	MTLS           bool
	SAN            string
	HTTP2          bool
	ConnectTimeout time.Duration
	HealthCheck    HealthCheck
	Limits         Limits
}

// HealthCheck is an active health check: HTTP GET Path, or gRPC health when GRPC is set.
type HealthCheck struct {
	Path               string
	GRPC               bool
	Interval           time.Duration
	Timeout            time.Duration
	UnhealthyThreshold uint32
	HealthyThreshold   uint32
}

// Limits are circuit-breaker thresholds.
type Limits struct {
	MaxConnections     uint32
	MaxPendingRequests uint32
	MaxRequests        uint32
	MaxRetries         uint32
}

// Authz is the ext_authz service as the edge calls it.
type Authz struct {
	Cluster string
	Timeout time.Duration
}

// CORS is the browser policy of the edge.
type CORS struct {
	AllowedOrigins []string
	AllowMethods   []string
	AllowHeaders   []string
	ExposeHeaders  []string
	MaxAge         time.Duration
}

// Cluster and route names.
const (
	AuthzCluster     = "gatehouse-authz"
	AuthzHTTPCluster = "gatehouse-authz-http"
)

// AdapterCluster names a server's upstream cluster.
func AdapterCluster(server string) string { return "adapter-" + server }

// Build derives the edge from a validated config.
func Build(cfg *config.Config) (*Edge, error) {
	listen, err := parseAddress(cfg.Edge.Listen)
	if err != nil {
		return nil, fmt.Errorf("edge.listen: %w", err)
	}
	authzGRPC, err := parseAddress(cfg.Edge.AuthzGRPC)
	if err != nil {
		return nil, fmt.Errorf("edge.authz_grpc: %w", err)
	}
	authzHTTP, err := parseAddress(cfg.Edge.AuthzHTTP)
	if err != nil {
		return nil, fmt.Errorf("edge.authz_http: %w", err)
	}
	origins := cfg.Authz.AllowedOrigins
	if len(origins) == 0 {
		origins = []string{cfg.Origin()}
	}
	e := &Edge{
		Listener:          listen,
		Authz:             Authz{Cluster: AuthzCluster, Timeout: cfg.Edge.AuthzTimeout},
		MaxBodyBytes:      cfg.Authz.MaxBodyBytes,
		StreamIdleTimeout: cfg.Edge.StreamIdleTimeout,
		CORS: CORS{
			AllowedOrigins: origins,
			AllowMethods:   []string{"GET", "POST", "DELETE", "OPTIONS"},
			AllowHeaders: []string{"authorization", "content-type", "accept", "mcp-protocol-version",
				"mcp-session-id", "mcp-method", "mcp-name", "last-event-id"},
			ExposeHeaders: []string{"www-authenticate", "mcp-session-id", contract.HeaderDecisionID},
			MaxAge:        10 * time.Minute,
		},
	}
	idempotent := &Retry{On: []string{"connect-failure", "refused-stream", "reset", "5xx"}, NumRetries: 2}
	// A POST may carry a tools/call: retry only when the request cannot have reached the adapter.
	unsent := &Retry{On: []string{"connect-failure", "refused-stream"}, NumRetries: 1}

	e.Clusters = append(e.Clusters,
		Cluster{Name: AuthzCluster, Address: authzGRPC, HTTP2: true, ConnectTimeout: cfg.Edge.ConnectTimeout,
			HealthCheck: HealthCheck{GRPC: true, Interval: 5 * time.Second, Timeout: time.Second, UnhealthyThreshold: 2, HealthyThreshold: 1},
			Limits:      Limits{MaxConnections: 1024, MaxPendingRequests: 4096, MaxRequests: 8192, MaxRetries: 0}},
		Cluster{Name: AuthzHTTPCluster, Address: authzHTTP, ConnectTimeout: cfg.Edge.ConnectTimeout,
			HealthCheck: HealthCheck{Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second, UnhealthyThreshold: 2, HealthyThreshold: 1},
			Limits:      Limits{MaxConnections: 256, MaxPendingRequests: 256, MaxRequests: 1024, MaxRetries: 3}},
	)
	e.Routes = append(e.Routes, Route{
		Name: "metadata", Kind: KindMetadata, Match: Match{Path: contract.WellKnownPRM},
		Cluster: AuthzHTTPCluster, Timeout: 5 * time.Second, Retry: idempotent,
	})
	for _, s := range cfg.Servers {
		e.Routes = append(e.Routes, Route{
			Name: "metadata-" + s.Name, Kind: KindMetadata, Match: Match{Path: contract.WellKnownPRM + contract.MCPPath(s.Name)},
			Cluster: AuthzHTTPCluster, Timeout: 5 * time.Second, Retry: idempotent,
		})
	}
	e.Routes = append(e.Routes, Route{
		Name: "healthz", Kind: KindHealth, Match: Match{Path: "/healthz"},
		Direct: &DirectResponse{Status: 200, Body: "ok\n"},
	})
	for _, s := range cfg.Servers {
		up, err := upstream(s.Upstream)
		if err != nil {
			return nil, fmt.Errorf("servers[%s].upstream: %w", s.Name, err)
		}
		e.Clusters = append(e.Clusters, Cluster{
			Name: AdapterCluster(s.Name), Address: up.addr, TLS: up.tls, CAFile: cfg.Edge.UpstreamCAFile, ConnectTimeout: cfg.Edge.ConnectTimeout,
			HealthCheck: HealthCheck{Path: "/readyz", Interval: 5 * time.Second, Timeout: time.Second, UnhealthyThreshold: 2, HealthyThreshold: 1},
			Limits:      Limits{MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 4096, MaxRetries: 3},
		})
		e.Routes = append(e.Routes, Route{
			Name: "mcp-" + s.Name, Kind: KindMCP, Match: Match{Path: contract.MCPPath(s.Name)},
			Cluster: AdapterCluster(s.Name), Rewrite: contract.AdapterPath, Authz: true, Server: s.Name,
			IdleTimeout: s.Timeout, Retry: unsent, MaxBodyBytes: s.MaxBodyBytes, RespondProcessing: true,
		})
		if s.RESTBridge {
			e.Routes = append(e.Routes, Route{
				Name: "rest-bridge", Kind: KindREST, Match: Match{Path: contract.RESTPrefix, Prefix: true},
				Cluster: AdapterCluster(s.Name), Authz: true, Timeout: s.Timeout, Retry: unsent, MaxBodyBytes: cfg.LargestBody(),
			}, Route{
				// The OpenAPI document describes the pinned catalog (policies/catalog.json), as
				// public as the protected resource metadata: no token, no body.
				Name: "rest-openapi", Kind: KindREST, Match: Match{Path: contract.RESTOpenAPIPath},
				Cluster: AdapterCluster(s.Name), Timeout: 5 * time.Second, Retry: idempotent,
			})
		}
	}
	if err := e.addTLS(cfg); err != nil {
		return nil, err
	}
	if err := e.addTracing(cfg); err != nil {
		return nil, err
	}
	// Everything else still passes ext_authz, which answers 404 for paths that name no server.
	e.Routes = append(e.Routes, Route{
		Name: "not-found", Kind: KindNotFound, Match: Match{Path: "/", Prefix: true},
		Direct: &DirectResponse{Status: 404, Body: "not found\n"}, Authz: true, MaxBodyBytes: cfg.Authz.MaxBodyBytes,
	})
	return e, nil
}

// Route returns the first route matching path, as Envoy's route table does.
func (e *Edge) Route(path string) (*Route, bool) {
	for i := range e.Routes {
		if e.Routes[i].Match.Matches(path) {
			return &e.Routes[i], true
		}
	}
	return nil, false
}

// Cluster returns a cluster by name.
func (e *Edge) Cluster(name string) (*Cluster, bool) {
	for i := range e.Clusters {
		if e.Clusters[i].Name == name {
			return &e.Clusters[i], true
		}
	}
	return nil, false
}

type upstreamAddr struct {
	addr Address
	tls  bool
}

func upstream(raw string) (upstreamAddr, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return upstreamAddr{}, err
	}
	port := u.Port()
	tls := u.Scheme == "https"
	if port == "" {
		port = "80"
		if tls {
			port = "443"
		}
	}
	a, err := parseAddress(net.JoinHostPort(u.Hostname(), port))
	return upstreamAddr{addr: a, tls: tls}, err
}

func parseAddress(hostport string) (Address, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Address{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Address{}, fmt.Errorf("port %q: %w", port, err)
	}
	return Address{Host: host, Port: uint32(p)}, nil
}

// addTLS applies edge.tls and edge.mtls: the listener's certificate and redirect, and mTLS on
// every adapter cluster and the authz gRPC cluster (the metadata cluster serves public
// documents and health only, and stays as configured).
func (e *Edge) addTLS(cfg *config.Config) error {
	if t := cfg.Edge.TLS; t.Enabled() {
		e.TLS = &ListenerTLS{CertFile: t.CertFile, KeyFile: t.KeyFile, HSTSMaxAge: t.HSTSMaxAge}
		if t.RedirectListen != "" {
			a, err := parseAddress(t.RedirectListen)
			if err != nil {
				return fmt.Errorf("edge.tls.redirect_listen: %w", err)
			}
			e.TLS.Redirect = &a
		}
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Port() != "" && u.Port() != "443" {
			p, _ := strconv.ParseUint(u.Port(), 10, 16)
			e.TLS.RedirectPort = uint32(p)
		}
	}
	m := cfg.Edge.MTLS
	if !m.Enabled() {
		return nil
	}
	e.MTLS = &UpstreamMTLS{CertFile: m.CertFile, KeyFile: m.KeyFile, CAFile: m.CAFile}
	for i := range e.Clusters {
		c := &e.Clusters[i]
		switch {
		case c.Name == AuthzCluster:
			c.TLS, c.MTLS, c.SAN = true, true, m.AuthzSAN
			if c.SAN == "" {
				c.SAN = c.Address.Host
			}
		case c.Name != AuthzHTTPCluster:
			if !c.TLS {
				return fmt.Errorf("cluster %s: edge.mtls needs an https upstream", c.Name)
			}
			c.MTLS, c.SAN = true, c.Address.Host
		}
	}
	return nil
}

// addTracing adds Envoy's tracer and the collector's cluster.
func (e *Edge) addTracing(cfg *config.Config) error {
	t := cfg.Edge.Tracing
	if !t.Enabled() {
		return nil
	}
	u, err := url.Parse(t.OTLPEndpoint)
	if err != nil {
		return fmt.Errorf("edge.tracing.otlp_endpoint: %w", err)
	}
	port := uint32(80)
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("edge.tracing.otlp_endpoint: port %q", p)
		}
		port = uint32(n)
	}
	e.Clusters = append(e.Clusters, Cluster{
		Name: CollectorCluster, Address: Address{Host: u.Hostname(), Port: port}, TLS: u.Scheme == "https",
		CAFile: cfg.Edge.UpstreamCAFile, ConnectTimeout: cfg.Edge.ConnectTimeout,
		Limits: Limits{MaxConnections: 16, MaxPendingRequests: 64, MaxRequests: 64, MaxRetries: 0},
	})
	e.Tracing = &Tracing{
		Cluster: CollectorCluster, URI: u.String(), SamplingPercent: *t.SamplingPercent, ServiceName: t.ServiceName,
	}
	return nil
}
