// Package config loads and validates gatehouse.yaml, the one file that describes a Gatehouse
// deployment. The authz service, the control plane and the dev command all read it, so every
// field is validated here once and every error names the field it is about.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// Config is the whole platform configuration.
type Config struct {
	// PublicURL is the base URL clients use to reach the edge, without a trailing slash.
	// A server's resource URI (and token audience) is PublicURL + "/mcp/" + name.
	PublicURL string         `yaml:"public_url"`
	OIDC      OIDC           `yaml:"oidc"`
	Authz     Authz          `yaml:"authz"`
	Policy    Policy         `yaml:"policy"`
	Servers   []Server       `yaml:"servers"`
	Edge      Edge           `yaml:"edge"`
	XDS       ControlPlane   `yaml:"control_plane"`
	Log       Log            `yaml:"log"`
	byName    map[string]int `yaml:"-"`
}

// OIDC configures access-token verification.
type OIDC struct {
	Issuer string `yaml:"issuer"`
	// Algorithms is the signing-algorithm allowlist. Only asymmetric algorithms are accepted.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is how far past `exp` (and before `nbf`) a token is still accepted.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// JWKSMinRefreshInterval rate-limits JWKS refreshes triggered by an unknown `kid`.
	JWKSMinRefreshInterval time.Duration `yaml:"jwks_min_refresh_interval"`
	// JWKSRefreshInterval is how often keys are refreshed in the background.
	JWKSRefreshInterval time.Duration `yaml:"jwks_refresh_interval"`
	// RequireJWTAccessTokenType accepts only tokens whose `typ` header is `at+jwt` (RFC 9068).
	RequireJWTAccessTokenType bool `yaml:"require_at_jwt_type"`
	// IDTokenClaims are claims only this IdP's ID tokens carry; a token with any of them is
	// refused as an ID token. Default: nonce, at_hash, c_hash (OIDC Core). Dex puts at_hash
	// into its access tokens too, so with Dex set this to [] and rely on the audience.
	IDTokenClaims *[]string `yaml:"id_token_claims"`
	// Claims names the claims that carry groups, scopes, amr, email and client id; IdPs differ.
	Claims Claims `yaml:"claims"`
	// TokenCacheSize bounds the cache of already-verified tokens (-1 disables it).
	TokenCacheSize int `yaml:"token_cache_size"`
	// InsecureHTTP accepts a plain-http issuer on a non-loopback host, for container test
	// stacks (compose) where the IdP is another container. Never for production.
	InsecureHTTP bool `yaml:"insecure_http"`
}

// Claims maps identity attributes to claim names. A dotted name (`realm_access.roles`)
// reaches into nested objects, as Keycloak needs.
type Claims struct {
	Groups   string   `yaml:"groups"`
	Scopes   []string `yaml:"scopes"`
	AMR      string   `yaml:"amr"`
	Email    string   `yaml:"email"`
	ClientID []string `yaml:"client_id"`
}

// Authz configures the ext_authz service.
type Authz struct {
	GRPCListen string `yaml:"grpc_listen"`
	HTTPListen string `yaml:"http_listen"`
	// MaxBodyBytes is the largest MCP message accepted; the edge buffers up to this and
	// answers 413 beyond it. The gRPC message limit is always set above it.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// DenyMode chooses how a policy denial of a request is answered: "jsonrpc" (HTTP 200
	// carrying a JSON-RPC error, so agents carry on) or "http" (HTTP 403).
	DenyMode string `yaml:"deny_mode"`
	// AllowedOrigins lists browser origins allowed to call the edge. Requests without an
	// Origin header (non-browser clients) are not affected. Empty means only PublicURL's origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ShutdownGrace bounds how long in-flight checks may finish after SIGTERM.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MaxQueueWait is the longest a Check may be expected to wait for a worker while the
	// service is refusing Checks for lack of time (overloaded in the last second); beyond
	// it, and beyond one service time, the Check is refused at once (UNAVAILABLE).
	// Otherwise a Check may wait up to a quarter of its remaining time.
	MaxQueueWait time.Duration `yaml:"max_queue_wait"`
	// BindingKeysFile holds the keys that bind session and task ids to their caller (one
	// hex or base64 key of 32+ bytes per line, the signing key first). Every authz replica
	// needs the same file; without one, a random key is made at start, which only works for
	// a single replica.
	BindingKeysFile string `yaml:"binding_keys_file"`
	// TLS makes the gRPC port (ext_authz and ext_proc) serve TLS and, with client_ca_file,
	// accept only the edge's client certificate. Required when edge.mtls is set. The files
	// are re-read when they change, so rotation needs no restart.
	TLS ServerTLS `yaml:"tls"`
}

// ServerTLS is a server's certificate and the clients it accepts.
type ServerTLS struct {
	// CertFile and KeyFile are the PEM certificate chain and key this server presents.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requires every client to present a certificate that chains to
	// it (mTLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientSANs, when set, also require the client certificate to carry one of these
	// subject alternative names: a URI (spiffe://cluster.local/ns/gatehouse/sa/envoy) or a
	// DNS name (envoy.gatehouse.svc), compared exactly.
	ClientSANs []string `yaml:"client_sans"`
}

// Enabled reports whether TLS is configured.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// EdgeTLS is the public listener's certificate. The control plane reads the files and
// delivers them to Envoy over SDS, re-sending them when they change (Envoy rotates without
// a restart), so the paths are inside the control plane's container.
type EdgeTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// RedirectListen, when set, is a plain-HTTP listener that answers every request with a
	// 301 to the same path on https.
	RedirectListen string `yaml:"redirect_listen"`
	// HSTSMaxAge is the Strict-Transport-Security max-age sent on every response (default
	// one year).
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`
}

// Enabled reports whether the public listener terminates TLS.
func (t EdgeTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// EdgeMTLS is how Envoy calls adapters and the authz service: it presents its client
// certificate and checks theirs (chain to CAFile, DNS SAN = the upstream's host name, or
// AuthzSAN for authz). The control plane reads the files and serves them over SDS.
type EdgeMTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
	// AuthzSAN is the DNS SAN the authz certificate must carry (default: edge.authz_grpc's host).
	AuthzSAN string `yaml:"authz_san"`
}

// Enabled reports whether Envoy calls its upstreams over mTLS.
func (t EdgeMTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// Edge configures the Envoy edge the control plane generates (and the dev edge mirrors).
type Edge struct {
	// Listen is the address Envoy's listener binds (the public_url traffic arrives here).
	Listen string `yaml:"listen"`
	// AuthzGRPC and AuthzHTTP are where Envoy reaches the authz service's gRPC (ext_authz)
	// and HTTP (metadata) ports; in a cluster these are service names, not loopback.
	AuthzGRPC string `yaml:"authz_grpc"`
	AuthzHTTP string `yaml:"authz_http"`
	// AuthzTimeout bounds one ext_authz Check; Envoy denies (fails closed) beyond it.
	AuthzTimeout time.Duration `yaml:"authz_timeout"`
	// StreamIdleTimeout closes an SSE stream with no traffic for this long.
	StreamIdleTimeout time.Duration `yaml:"stream_idle_timeout"`
	// ConnectTimeout bounds connecting to an adapter or the authz service.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// UpstreamCAFile is the CA bundle (a path inside the Envoy container) that https
	// upstreams' certificates must chain to; their names are checked too.
	UpstreamCAFile string `yaml:"upstream_ca_file"`
	// TLS terminates TLS on the public listener (see EdgeTLS). Without it the listener is
	// plain HTTP, for a TLS-terminating load balancer in front or for local use.
	TLS EdgeTLS `yaml:"tls"`
	// MTLS makes Envoy call every adapter and the authz gRPC port over mutual TLS (see EdgeMTLS).
	MTLS EdgeMTLS `yaml:"mtls"`
	// Tracing turns on Envoy's OpenTelemetry tracer (see EdgeTracing); off by default.
	Tracing EdgeTracing `yaml:"tracing"`
}

// EdgeTracing configures Envoy's OpenTelemetry tracer: one span per request, the parent of
// the ext_authz Check's and the adapter's spans. The Go components (authz, adapters) are
// configured with OpenTelemetry's standard OTEL_* environment variables instead.
type EdgeTracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP traces URL, e.g.
	// http://otel-collector:4318/v1/traces (the path defaults to /v1/traces). Empty: off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SamplingPercent is the share of requests Envoy traces (its random_sampling, 0 to 100,
	// default 100).
	SamplingPercent *float64 `yaml:"sampling_percent"`
	// ServiceName is the edge's service.name (default gatehouse-edge).
	ServiceName string `yaml:"service_name"`
}

// Enabled reports whether Envoy exports traces.
func (t EdgeTracing) Enabled() bool { return t.OTLPEndpoint != "" }

// ControlPlane configures the xDS server.
type ControlPlane struct {
	// Listen is the ADS gRPC address Envoy's bootstrap points at.
	Listen string `yaml:"listen"`
	// HTTPListen serves /healthz and /metrics.
	HTTPListen string `yaml:"http_listen"`
	// WatchInterval is how often gatehouse.yaml is checked for changes.
	WatchInterval time.Duration `yaml:"watch_interval"`
}

// Policy configures OPA evaluation.
type Policy struct {
	Dir            string        `yaml:"dir"`
	ReloadInterval time.Duration `yaml:"reload_interval"`
	EvalTimeout    time.Duration `yaml:"eval_timeout"`
	// DryRun allows every request that passed authentication and parsing and logs what the
	// policy would have denied.
	DryRun bool `yaml:"dry_run"`
}

// Server is one MCP server (adapter) behind the edge.
type Server struct {
	Name string `yaml:"name"`
	// Upstream is the adapter's base URL, e.g. http://catalyst-center:8080.
	Upstream string `yaml:"upstream"`
	// Scopes a token must carry to use this server at all (403 insufficient_scope otherwise).
	Scopes []string `yaml:"scopes"`
	// Audiences accepted for this server's tokens. Empty means exactly the server's resource
	// URI (RFC 8707); list client ids here for IdPs that cannot mint resource audiences.
	Audiences []string `yaml:"audiences"`
	// Description is shown in protected resource metadata as resource_name.
	Description string `yaml:"description"`
	// Timeout bounds one upstream request (used by the edge).
	Timeout time.Duration `yaml:"timeout"`
	// MaxBodyBytes is the largest message this server accepts (default authz.max_body_bytes):
	// a server whose tools take large arguments may allow more, one that takes none less.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// RESTBridge marks the server that serves /api/v1/mcp/<server>/tools/<tool> for clients
	// that do not speak MCP. At most one server may set it.
	RESTBridge bool `yaml:"rest_bridge"`
}

// Log configures process logs.
type Log struct {
	Level string `yaml:"level"`
	// Format is "json" (ECS, the default) or "console".
	Format string `yaml:"format"`
}

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML, rejecting unknown keys, applies defaults and validates.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty")
		}
		return nil, friendlyYAMLError(err)
	}
	// A second document would be silently ignored; refuse it.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config must be a single YAML document")
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var yamlTypeName = regexp.MustCompile(`not found in type config\.(\w+)`)

// friendlyYAMLError rewrites "field x not found in type config.Server" into wording
// that a person editing YAML understands.
func friendlyYAMLError(err error) error {
	msg := strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:\n  ", "")
	msg = yamlTypeName.ReplaceAllStringFunc(msg, func(s string) string {
		return "is not a known key in " + sectionName(yamlTypeName.FindStringSubmatch(s)[1])
	})
	return errors.New(msg)
}

func sectionName(goType string) string {
	switch goType {
	case "Config":
		return "the top level"
	case "Server":
		return "a servers entry"
	case "ControlPlane":
		return "the control_plane section"
	default:
		return "the " + strings.ToLower(goType) + " section"
	}
}

// Defaults, chosen so that a minimal file runs safely.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultClockSkew    = 30 * time.Second
)

func (c *Config) applyDefaults() {
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.OIDC.Issuer = strings.TrimSpace(c.OIDC.Issuer)
	if len(c.OIDC.Algorithms) == 0 {
		c.OIDC.Algorithms = []string{"RS256", "ES256"}
	}
	if c.OIDC.ClockSkew == 0 {
		c.OIDC.ClockSkew = DefaultClockSkew
	}
	if c.OIDC.JWKSMinRefreshInterval == 0 {
		c.OIDC.JWKSMinRefreshInterval = 30 * time.Second
	}
	if c.OIDC.JWKSRefreshInterval == 0 {
		c.OIDC.JWKSRefreshInterval = 15 * time.Minute
	}
	if c.OIDC.IDTokenClaims == nil {
		c.OIDC.IDTokenClaims = &[]string{"nonce", "at_hash", "c_hash"}
	}
	if c.OIDC.TokenCacheSize == 0 {
		c.OIDC.TokenCacheSize = 10000
	}
	cl := &c.OIDC.Claims
	if cl.Groups == "" {
		cl.Groups = "groups"
	}
	if len(cl.Scopes) == 0 {
		cl.Scopes = []string{"scope", "scp"}
	}
	if cl.AMR == "" {
		cl.AMR = "amr"
	}
	if cl.Email == "" {
		cl.Email = "email"
	}
	if len(cl.ClientID) == 0 {
		cl.ClientID = []string{"client_id", "azp", "cid"}
	}
	if c.Authz.GRPCListen == "" {
		c.Authz.GRPCListen = "127.0.0.1:9191"
	}
	if c.Authz.HTTPListen == "" {
		c.Authz.HTTPListen = "127.0.0.1:9192"
	}
	if c.Authz.MaxBodyBytes == 0 {
		c.Authz.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Authz.DenyMode == "" {
		c.Authz.DenyMode = DenyJSONRPC
	}
	for i, o := range c.Authz.AllowedOrigins {
		// Browsers send Origin without a trailing slash; compare like with like.
		c.Authz.AllowedOrigins[i] = strings.TrimRight(o, "/")
	}
	if c.Authz.ShutdownGrace == 0 {
		c.Authz.ShutdownGrace = 10 * time.Second
	}
	if c.Authz.MaxQueueWait == 0 {
		c.Authz.MaxQueueWait = 50 * time.Millisecond
	}
	if c.Policy.Dir == "" {
		c.Policy.Dir = "policies"
	}
	if c.Policy.ReloadInterval == 0 {
		c.Policy.ReloadInterval = 2 * time.Second
	}
	if c.Policy.EvalTimeout == 0 {
		c.Policy.EvalTimeout = 100 * time.Millisecond
	}
	for i := range c.Servers {
		if c.Servers[i].Timeout == 0 {
			c.Servers[i].Timeout = 60 * time.Second
		}
		if c.Servers[i].MaxBodyBytes == 0 {
			c.Servers[i].MaxBodyBytes = c.Authz.MaxBodyBytes
		}
	}
	if c.Edge.Listen == "" {
		c.Edge.Listen = "0.0.0.0:8080"
	}
	if c.Edge.AuthzGRPC == "" {
		c.Edge.AuthzGRPC = c.Authz.GRPCListen
	}
	if c.Edge.AuthzHTTP == "" {
		c.Edge.AuthzHTTP = c.Authz.HTTPListen
	}
	if c.Edge.AuthzTimeout == 0 {
		c.Edge.AuthzTimeout = 500 * time.Millisecond
	}
	if c.Edge.StreamIdleTimeout == 0 {
		c.Edge.StreamIdleTimeout = 5 * time.Minute
	}
	if t := &c.Edge.Tracing; t.Enabled() {
		if t.SamplingPercent == nil {
			all := 100.0
			t.SamplingPercent = &all
		}
		if t.ServiceName == "" {
			t.ServiceName = "gatehouse-edge"
		}
		if u, err := url.Parse(t.OTLPEndpoint); err == nil && (u.Path == "" || u.Path == "/") {
			u.Path = "/v1/traces"
			t.OTLPEndpoint = u.String()
		}
	}
	if c.Edge.ConnectTimeout == 0 {
		c.Edge.ConnectTimeout = 2 * time.Second
	}
	if c.Edge.UpstreamCAFile == "" {
		c.Edge.UpstreamCAFile = "/etc/ssl/certs/ca-certificates.crt"
	}
	if c.Edge.TLS.Enabled() && c.Edge.TLS.HSTSMaxAge == 0 {
		c.Edge.TLS.HSTSMaxAge = 365 * 24 * time.Hour
	}
	if c.XDS.Listen == "" {
		c.XDS.Listen = "127.0.0.1:18000"
	}
	if c.XDS.HTTPListen == "" {
		c.XDS.HTTPListen = "127.0.0.1:18001"
	}
	if c.XDS.WatchInterval == 0 {
		c.XDS.WatchInterval = time.Second
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	c.index()
}

func (c *Config) index() {
	c.byName = make(map[string]int, len(c.Servers))
	for i, s := range c.Servers {
		if _, dup := c.byName[s.Name]; !dup {
			c.byName[s.Name] = i
		}
	}
}

// Deny modes.
const (
	DenyJSONRPC = "jsonrpc"
	DenyHTTP    = "http"
)

// serverName is a DNS label: it becomes a path segment, a cluster name and a host name.
var serverName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// asymmetricAlgs are the JOSE algorithms a verifier can check with a public JWKS key.
// HMAC algorithms are refused outright: with a public JWKS they enable key confusion.
var asymmetricAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// Validate checks the whole config and reports every problem, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.PublicURL == "" {
		bad("public_url", "is required")
	} else if err := checkBaseURL(c.PublicURL); err != nil {
		bad("public_url", "%v", err)
	} else if u, _ := url.Parse(c.PublicURL); u.Path != "" {
		// RFC 9728 puts the well-known segment between host and path; serving the edge at a
		// sub-path would move every metadata URL, so the edge owns its host's root.
		bad("public_url", "%q must not have a path: the edge serves /mcp/<name> at the host's root", c.PublicURL)
	}
	if c.OIDC.Issuer == "" {
		bad("oidc.issuer", "is required")
	} else if err := checkBaseURL(c.OIDC.Issuer); err != nil && !(c.OIDC.InsecureHTTP && strings.HasPrefix(c.OIDC.Issuer, "http://")) {
		bad("oidc.issuer", "%v", err)
	}
	for i, alg := range c.OIDC.Algorithms {
		if !asymmetricAlgs[alg] {
			bad(fmt.Sprintf("oidc.algorithms[%d]", i), "%q is not an allowed asymmetric JOSE algorithm (HS*, none are refused)", alg)
		}
	}
	if c.OIDC.ClockSkew < 0 || c.OIDC.ClockSkew > 5*time.Minute {
		bad("oidc.clock_skew", "must be between 0s and 5m, got %s", c.OIDC.ClockSkew)
	}
	if c.OIDC.JWKSMinRefreshInterval < time.Second {
		bad("oidc.jwks_min_refresh_interval", "must be at least 1s, got %s", c.OIDC.JWKSMinRefreshInterval)
	}
	if c.OIDC.JWKSRefreshInterval < c.OIDC.JWKSMinRefreshInterval {
		bad("oidc.jwks_refresh_interval", "must be at least jwks_min_refresh_interval")
	}
	if c.OIDC.TokenCacheSize < -1 {
		bad("oidc.token_cache_size", "must be -1 (no cache) or a positive number of tokens, got %d", c.OIDC.TokenCacheSize)
	}
	if err := checkListen(c.Authz.GRPCListen); err != nil {
		bad("authz.grpc_listen", "%v", err)
	}
	if err := checkListen(c.Authz.HTTPListen); err != nil {
		bad("authz.http_listen", "%v", err)
	}
	if c.Authz.MaxBodyBytes < 1024 || c.Authz.MaxBodyBytes > 64<<20 {
		bad("authz.max_body_bytes", "must be between 1024 and 67108864, got %d", c.Authz.MaxBodyBytes)
	}
	if c.Authz.DenyMode != DenyJSONRPC && c.Authz.DenyMode != DenyHTTP {
		bad("authz.deny_mode", "must be %q or %q, got %q", DenyJSONRPC, DenyHTTP, c.Authz.DenyMode)
	}
	for i, o := range c.Authz.AllowedOrigins {
		if o == "*" {
			bad(fmt.Sprintf("authz.allowed_origins[%d]", i), "a wildcard origin defeats DNS-rebinding protection; list origins")
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad(fmt.Sprintf("authz.allowed_origins[%d]", i), "%q is not an origin (scheme://host[:port])", o)
		}
	}
	if c.Policy.ReloadInterval < 100*time.Millisecond {
		bad("policy.reload_interval", "must be at least 100ms")
	}
	if c.Authz.MaxQueueWait < 0 || c.Authz.MaxQueueWait > 10*time.Second {
		bad("authz.max_queue_wait", "must be between 1ns and 10s")
	}
	if c.Policy.EvalTimeout <= 0 || c.Policy.EvalTimeout > 10*time.Second {
		bad("policy.eval_timeout", "must be between 1ns and 10s")
	}
	if len(c.Servers) == 0 {
		bad("servers", "at least one server is required")
	}
	seen := map[string]bool{}
	for i, s := range c.Servers {
		f := fmt.Sprintf("servers[%d]", i)
		switch {
		case s.Name == "":
			bad(f+".name", "is required")
		case !serverName.MatchString(s.Name):
			bad(f+".name", "%q must be a lower-case DNS label (a-z, 0-9, -)", s.Name)
		case seen[s.Name]:
			bad(f+".name", "%q is used twice", s.Name)
		}
		seen[s.Name] = true
		if s.Upstream == "" {
			bad(f+".upstream", "is required")
		} else if u, err := url.Parse(s.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+".upstream", "%q must be an http(s) URL", s.Upstream)
		}
		for j, sc := range s.Scopes {
			if sc == "" || strings.ContainsAny(sc, " \"\\") {
				bad(fmt.Sprintf("%s.scopes[%d]", f, j), "%q is not a valid scope token", sc)
			}
		}
		for j, a := range s.Audiences {
			if a == "" {
				bad(fmt.Sprintf("%s.audiences[%d]", f, j), "must not be empty")
			}
		}
		if s.Timeout < 0 {
			bad(f+".timeout", "must not be negative")
		}
		if s.MaxBodyBytes < 1024 || s.MaxBodyBytes > 64<<20 {
			bad(f+".max_body_bytes", "must be between 1024 and 67108864, got %d", s.MaxBodyBytes)
		}
	}
	bridges := 0
	for _, s := range c.Servers {
		if s.RESTBridge {
			bridges++
		}
	}
	if bridges > 1 {
		bad("servers", "at most one server may set rest_bridge, %d do", bridges)
	}
	for _, a := range [][2]string{
		{"edge.listen", c.Edge.Listen}, {"edge.authz_grpc", c.Edge.AuthzGRPC}, {"edge.authz_http", c.Edge.AuthzHTTP},
		{"control_plane.listen", c.XDS.Listen}, {"control_plane.http_listen", c.XDS.HTTPListen},
	} {
		if err := checkListen(a[1]); err != nil {
			bad(a[0], "%v", err)
		}
	}
	if c.Edge.AuthzTimeout <= c.Policy.EvalTimeout {
		bad("edge.authz_timeout", "must be longer than policy.eval_timeout (%s), or Envoy gives up before a decision", c.Policy.EvalTimeout)
	}
	c.validateTLS(bad)
	if c.XDS.WatchInterval < 100*time.Millisecond {
		bad("control_plane.watch_interval", "must be at least 100ms")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "must be json or console, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// checkBaseURL accepts https URLs, and http only for loopback hosts (development).
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL without query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http is accepted only for loopback hosts)", raw)
	default:
		return fmt.Errorf("%q must be an https URL", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkListen(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

// Server returns the server with the given name.
func (c *Config) Server(name string) (*Server, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return &c.Servers[i], true
}

// ResourceURI is the server's canonical resource URI and default token audience.
func (c *Config) ResourceURI(server string) string {
	return c.PublicURL + contract.MCPPath(server)
}

// MetadataURL is the absolute URL of a server's protected resource metadata (RFC 9728 §3.1:
// the well-known segment is inserted between host and path).
func (c *Config) MetadataURL(server string) string {
	return c.PublicURL + contract.WellKnownPRM + contract.MCPPath(server)
}

// Audiences returns the audiences a token for the named server must carry one of.
func (c *Config) Audiences(server string) []string {
	s, ok := c.Server(server)
	if !ok {
		return []string{c.ResourceURI(server)}
	}
	return c.ServerAudiences(s)
}

// ServerAudiences returns the audiences a token for s must carry one of: its configured
// list, or exactly its resource URI (RFC 8707).
func (c *Config) ServerAudiences(s *Server) []string {
	if len(s.Audiences) > 0 {
		return s.Audiences
	}
	return []string{c.ResourceURI(s.Name)}
}

// LargestBody is the largest message any server accepts: the authz service's gRPC receive
// limit must sit above it.
func (c *Config) LargestBody() int {
	n := c.Authz.MaxBodyBytes
	for _, s := range c.Servers {
		n = max(n, s.MaxBodyBytes)
	}
	return n
}

// Origin returns the scheme://host[:port] of PublicURL.
func (c *Config) Origin() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// validateTLS checks the certificate settings: pairs are complete, mTLS to adapters means
// https upstreams, and Envoy's mTLS to authz needs authz to serve TLS.
func (c *Config) validateTLS(bad func(field, format string, args ...any)) {
	pair := func(field, cert, key string) {
		if (cert == "") != (key == "") {
			bad(field, "cert_file and key_file must be set together")
		}
	}
	pair("authz.tls", c.Authz.TLS.CertFile, c.Authz.TLS.KeyFile)
	if !c.Authz.TLS.Enabled() && (c.Authz.TLS.ClientCAFile != "" || len(c.Authz.TLS.ClientSANs) > 0) {
		bad("authz.tls", "client_ca_file and client_sans need cert_file and key_file")
	}
	if len(c.Authz.TLS.ClientSANs) > 0 && c.Authz.TLS.ClientCAFile == "" {
		bad("authz.tls.client_sans", "needs client_ca_file: a SAN is only believed on a certificate that chains to it")
	}
	pair("edge.tls", c.Edge.TLS.CertFile, c.Edge.TLS.KeyFile)
	if c.Edge.TLS.RedirectListen != "" {
		if !c.Edge.TLS.Enabled() {
			bad("edge.tls.redirect_listen", "redirects to https, so it needs edge.tls.cert_file and key_file")
		} else if err := checkListen(c.Edge.TLS.RedirectListen); err != nil {
			bad("edge.tls.redirect_listen", "%v", err)
		}
	}
	if c.Edge.TLS.HSTSMaxAge < 0 {
		bad("edge.tls.hsts_max_age", "must not be negative")
	}
	if t := c.Edge.Tracing; t.Enabled() {
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.RawQuery != "" {
			bad("edge.tracing.otlp_endpoint", "must be an http or https URL of an OTLP/HTTP collector (http://otel-collector:4318/v1/traces), got %q", t.OTLPEndpoint)
		}
		if p := *t.SamplingPercent; p < 0 || p > 100 {
			bad("edge.tracing.sampling_percent", "must be between 0 and 100, got %v", p)
		}
	} else if t.SamplingPercent != nil || t.ServiceName != "" {
		bad("edge.tracing", "sampling_percent and service_name need otlp_endpoint")
	}
	m := c.Edge.MTLS
	if !m.Enabled() {
		return
	}
	pair("edge.mtls", m.CertFile, m.KeyFile)
	if m.CertFile == "" {
		bad("edge.mtls.cert_file", "is required: it is the client certificate Envoy presents to adapters and authz")
	}
	if m.CAFile == "" {
		bad("edge.mtls.ca_file", "is required: adapters' and authz's certificates must chain to it")
	}
	for _, s := range c.Servers {
		if u, err := url.Parse(s.Upstream); err == nil && u.Scheme != "https" {
			bad("servers["+s.Name+"].upstream", "must be https when edge.mtls is set (Envoy calls adapters over mTLS), got %q", s.Upstream)
		}
	}
	if !c.Authz.TLS.Enabled() {
		bad("authz.tls.cert_file", "is required when edge.mtls is set: Envoy calls the authz gRPC port over mTLS")
	}
}
