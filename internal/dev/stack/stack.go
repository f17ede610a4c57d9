// Package stack runs the whole Gatehouse platform in one process for local development and
// end-to-end tests: the development OIDC issuer, the authz service, the adapters against their
// simulators, the REST bridge in front of them, the edge model (as the control plane would
// build it) and the Go dev edge — all on loopback. `gatehouse-dev` (internal/cli/gatehousedev) is a thin wrapper around Start.
package stack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
	"github.com/gatehouse-mcp/gatehouse/adapters/github"
	ghsim "github.com/gatehouse-mcp/gatehouse/adapters/github/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
	rksim "github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
	snsim "github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/edge"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
	"github.com/gatehouse-mcp/gatehouse/workflows/worker"
)

// Options configure the stack. Zero ports pick free ones (tests); `gatehouse-dev` uses fixed
// defaults so that clients keep their configuration between runs.
type Options struct {
	Host       string // default 127.0.0.1
	EdgePort   int
	IssuerPort int
	PolicyDir  string // default "policies"
	Log        zerolog.Logger
	// InsecureTestIdentity names a demo user whose token the edge adds to unauthenticated
	// loopback requests (edge.Options.InsecureTestIdentity). Tests of clients that cannot
	// sign in (the conformance suite) only.
	InsecureTestIdentity string
	// Extra adds test-only adapters: server name → handler serving MCP at /mcp. Their tools
	// must be in the policy's catalog to be callable.
	Extra map[string]http.Handler
	// AdapterMiddleware wraps every adapter's handler, and the REST bridge's (server
	// RESTBridgeServer): tests observe what reaches them.
	AdapterMiddleware func(server string, h http.Handler) http.Handler
	// TemporalBin, when set, runs the durable deployments: a Temporal dev server from this
	// CLI binary (its database in TemporalDB, default a temporary file), an in-process worker
	// against the Catalyst Center and ServiceNow simulators, and the deployments adapter.
	TemporalBin string
	TemporalDB  string
}

// Stack is a running platform.
type Stack struct {
	Config *config.Config
	Issuer *issuer.Issuer
	Authz  *authz.Service
	Sim    *sim.Sim      // the Catalyst Center simulator
	SNSim  *snsim.Sim    // the ServiceNow simulator
	GHSim  *ghsim.Sim    // the GitHub simulator (signed in to as the GitHub App)
	RKSim  *rksim.Bridge // the RADKit bridge simulator
	// Temporal is the dev server of the deployments (Options.TemporalBin), else nil.
	Temporal    *devserver.Server
	temporalDir string // a temporary database's directory
	// EdgeURL is the public base URL (the edge); MCP servers are at EdgeURL/mcp/<name>.
	EdgeURL string
	// Adapters maps server names to the adapters' own base URLs (for direct comparisons).
	Adapters map[string]string
	// Bridge is the REST bridge's own base URL (server RESTBridgeServer, rest_bridge: true),
	// which calls the adapters above directly; clients reach it through the edge at
	// EdgeURL/api/v1/mcp/<server>/tools/<tool>.
	Bridge string
	// Upstreams are the simulators the adapters call, in server order.
	Upstreams []Upstream
	// AuthzGRPC is the authz service's gRPC address.
	AuthzGRPC string
	// AuthzHTTP is the authz service's HTTP address (host:port): protected resource
	// metadata, /healthz, /readyz and /metrics.
	AuthzHTTP string

	cancel context.CancelFunc
	log    zerolog.Logger
	wg     sync.WaitGroup
	errs   chan error
	bridge *restbridge.Bridge

	certs      devCerts
	adapterTLS *tlsfiles.Source // adapters' and the REST bridge's server side: only the edge and the bridge get in
	edgeTLS    *tlsfiles.Source // the edge's client certificate
	bridgeTLS  *tlsfiles.Source // the REST bridge's client certificate (it calls adapters directly)
	directTLS  *tlsfiles.Source // the developer's (and tests') direct access to adapters
}

// RESTBridgeServer is the name of the REST bridge's server in the dev config, as in gatehouse.yaml.
const RESTBridgeServer = "rest-bridge"

func listen(host string, port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
}

// Upstream is a simulated upstream API and the server whose adapter calls it.
type Upstream struct {
	Server string
	URL    string
}

// Start brings the platform up and returns once every part is ready.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.PolicyDir == "" {
		opts.PolicyDir = "policies"
	}
	log := opts.Log
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{cancel: cancel, errs: make(chan error, 16), Adapters: map[string]string{}, log: log}
	fail := func(err error) (*Stack, error) { s.Stop(); return nil, err }

	edgeLis, err := listen(opts.Host, opts.EdgePort)
	if err != nil {
		return fail(fmt.Errorf("edge: %w", err))
	}
	issLis, err := listen(opts.Host, opts.IssuerPort)
	if err != nil {
		return fail(fmt.Errorf("issuer: %w", err))
	}
	grpcLis, err := listen(opts.Host, 0)
	if err != nil {
		return fail(err)
	}
	httpLis, err := listen(opts.Host, 0)
	if err != nil {
		return fail(err)
	}
	if err := s.makeCerts(opts.Host); err != nil {
		return fail(err)
	}
	s.EdgeURL = "http://" + edgeLis.Addr().String()
	issuerURL := "http://" + issLis.Addr().String()
	s.AuthzGRPC = grpcLis.Addr().String()
	s.AuthzHTTP = httpLis.Addr().String()

	// Adapters, each against its upstream's simulator, plus any test-only extras.
	s.Sim = sim.New(sim.Options{})
	s.SNSim = snsim.New(snsim.Options{})
	s.GHSim = ghsim.New(ghsim.Options{})
	s.RKSim = rksim.NewBridge(rksim.Seed(), rksim.BridgeOptions{})
	handlers := map[string]http.Handler{}
	for _, a := range []struct {
		name     string
		upstream http.Handler
		register func(s *kit.Server, upstream string) error
	}{
		{catalystcenter.ServerName, s.Sim,
			func(srv *kit.Server, upstream string) error {
				c, err := catalystcenter.NewClient(upstream, staticSecret{"username": "admin", "password": "C1sco12345"}, srv.Metrics, log)
				if err == nil {
					catalystcenter.Register(srv, c)
				}
				return err
			}},
		{servicenow.ServerName, s.SNSim,
			func(srv *kit.Server, upstream string) error {
				c, err := servicenow.NewClient(upstream, staticSecret{"client_id": snsim.DefaultClientID,
					"client_secret": snsim.DefaultClientSecret}, srv.Metrics, log)
				if err == nil {
					servicenow.Register(srv, c)
				}
				return err
			}},
		{github.ServerName, s.GHSim,
			func(srv *kit.Server, upstream string) error {
				c, err := github.NewClient(github.Config{URL: upstream, Orgs: []string{ghsim.Org},
					Secrets: staticSecret(s.GHSim.AppSecret()), Registry: srv.Registry, Log: log,
					UserAgent: "gatehouse-dev"})
				if err == nil {
					github.Register(srv, c)
				}
				return err
			}},
		{radkit.ServerName, s.RKSim,
			func(srv *kit.Server, upstream string) error {
				b, err := radkit.NewBridge(upstream, staticSecret{radkit.BridgeSecretField: rksim.DefaultBridgeToken}, 0, srv.Metrics, log)
				if err == nil {
					radkit.Register(srv, b)
				}
				return err
			}},
	} {
		l, err := listen(opts.Host, 0)
		if err != nil {
			return fail(err)
		}
		s.serve(runCtx, l, a.upstream)
		s.Upstreams = append(s.Upstreams, Upstream{Server: a.name, URL: "http://" + l.Addr().String()})
		srv := kit.NewServer(kit.Options{Name: a.name, Version: "dev", Logger: log})
		if err := a.register(srv, "http://"+l.Addr().String()); err != nil {
			return fail(fmt.Errorf("%s adapter: %w", a.name, err))
		}
		if err := srv.Err(); err != nil {
			return fail(fmt.Errorf("%s adapter: %w", a.name, err))
		}
		handlers[a.name] = srv.Handler()
	}
	if opts.TemporalBin != "" {
		h, err := s.startDeployments(runCtx, opts, log)
		if err != nil {
			return fail(fmt.Errorf("deployments: %w", err))
		}
		handlers[deployments.ServerName] = h
	}
	for name, h := range opts.Extra {
		handlers[name] = h
	}
	var servers strings.Builder
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		h := handlers[name]
		if opts.AdapterMiddleware != nil {
			h = opts.AdapterMiddleware(name, h)
		}
		l, err := listen(opts.Host, 0)
		if err != nil {
			return fail(err)
		}
		s.serveTLS(runCtx, l, h, s.adapterTLS.ServerConfig())
		s.Adapters[name] = "https://" + l.Addr().String()
		fmt.Fprintf(&servers, "  - {name: %s, upstream: %q, timeout: 5m}\n", name, s.Adapters[name])
	}
	// The REST bridge, an MCP client of the adapters above, reached directly (as over a mesh).
	upstreams := map[string]string{}
	for name, u := range s.Adapters {
		upstreams[name] = u
	}
	s.bridge, err = restbridge.New(restbridge.Options{Upstreams: upstreams, Log: log, CallTimeout: 5 * time.Minute,
		HTTPClient: s.mtlsClient(s.bridgeTLS)})
	if err != nil {
		return fail(fmt.Errorf("REST bridge: %w", err))
	}
	var bridge http.Handler = s.bridge
	if opts.AdapterMiddleware != nil {
		bridge = opts.AdapterMiddleware(RESTBridgeServer, bridge)
	}
	bl, err := listen(opts.Host, 0)
	if err != nil {
		return fail(err)
	}
	s.serveTLS(runCtx, bl, bridge, s.adapterTLS.ServerConfig())
	s.Bridge = "https://" + bl.Addr().String()
	fmt.Fprintf(&servers, "  - {name: %s, upstream: %q, timeout: 5m, rest_bridge: true}\n", RESTBridgeServer, s.Bridge)

	cfg, err := config.Parse([]byte(fmt.Sprintf(`
public_url: %s
oidc: {issuer: %q, jwks_min_refresh_interval: 5s}
authz: {grpc_listen: %q, http_listen: %q, allowed_origins: [%q, "http://localhost:6274", "http://127.0.0.1:6274"],
  tls: {cert_file: %q, key_file: %q, client_ca_file: %q, client_sans: [%q, %q]}}
policy: {dir: %q, reload_interval: 1s}
edge: {listen: %q, authz_grpc: %q, authz_http: %q, authz_timeout: 2s,
  mtls: {cert_file: %q, key_file: %q, ca_file: %q}}
log: {level: info}
servers:
%s`, s.EdgeURL, issuerURL, s.AuthzGRPC, httpLis.Addr().String(), s.EdgeURL,
		s.certs.authz.Cert, s.certs.authz.Key, s.certs.authz.CA, EdgeSAN, DirectSAN, opts.PolicyDir,
		edgeLis.Addr().String(), s.AuthzGRPC, httpLis.Addr().String(),
		s.certs.edge.Cert, s.certs.edge.Key, s.certs.edge.CA, servers.String())))
	if err != nil {
		return fail(fmt.Errorf("dev config: %w", err))
	}
	s.Config = cfg

	var resources []string
	for _, srv := range cfg.Servers {
		resources = append(resources, cfg.ResourceURI(srv.Name))
	}
	s.Issuer, err = issuer.New(issuer.Options{URL: issuerURL, Resources: resources})
	if err != nil {
		return fail(err)
	}
	s.serve(runCtx, issLis, s.Issuer.Handler())

	s.Authz = authz.NewService(cfg, log, oidc.Options{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.Authz.Run(runCtx, grpcLis, httpLis); err != nil {
			s.errs <- fmt.Errorf("authz: %w", err)
		}
	}()

	m, err := model.Build(cfg)
	if err != nil {
		return fail(err)
	}
	// The edge reaches authz over mTLS with its certificate, as Envoy does.
	conn, err := grpc.NewClient(s.AuthzGRPC, grpc.WithTransportCredentials(credentials.NewTLS(s.edgeTLS.ClientConfig(opts.Host))))
	if err != nil {
		return fail(err)
	}
	eopts := edge.Options{Model: m, Authz: authv3.NewAuthorizationClient(conn), Processor: extprocv3.NewExternalProcessorClient(conn),
		Log: log, MTLS: s.edgeTLS}
	if opts.InsecureTestIdentity != "" {
		tok, err := s.Issuer.Mint(opts.InsecureTestIdentity, nil)
		if err != nil {
			return fail(fmt.Errorf("insecure test identity: %w", err))
		}
		eopts.InsecureTestIdentity = tok
		log.Warn().Str("gatehouse.test_identity", opts.InsecureTestIdentity).
			Msg("INSECURE TEST IDENTITY ON: unauthenticated loopback requests act as this user; never use outside tests")
	}
	s.serve(runCtx, edgeLis, edge.New(eopts))
	context.AfterFunc(runCtx, func() { conn.Close() })

	// Ready when the authz service has its policy and the issuer's keys.
	deadline := time.Now().Add(30 * time.Second)
	for !s.Authz.Authz.Ready() {
		select {
		case err := <-s.errs:
			return fail(err)
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			if err := s.Authz.Policies.LastError(); err != nil {
				return fail(fmt.Errorf("policy in %s refused: %w", opts.PolicyDir, err))
			}
			return fail(errors.New("the authz service did not become ready"))
		}
	}
	return s, nil
}

// serve serves h on l over plain HTTP until ctx ends.
func (s *Stack) serve(ctx context.Context, l net.Listener, h http.Handler) {
	s.serveTLS(ctx, l, h, nil)
}

// serveTLS serves h on l until ctx ends: over TLS with cfg, or plain HTTP when cfg is nil.
func (s *Stack) serveTLS(ctx context.Context, l net.Listener, h http.Handler, cfg *tls.Config) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: cfg, ErrorLog: ecslog.HTTPErrorLog(s.log, 10)}
	run := func() error { return srv.Serve(l) }
	if cfg != nil {
		run = func() error { return srv.ServeTLS(l, "", "") } // ServeTLS sets up HTTP/2 for clients that offer it
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errs <- err
		}
	}()
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
}

// Stop shuts everything down and waits.
func (s *Stack) Stop() {
	s.cancel()
	s.wg.Wait()
	if s.Temporal != nil {
		s.Temporal.Stop()
	}
	if s.temporalDir != "" {
		_ = os.RemoveAll(s.temporalDir)
	}
	if s.bridge != nil {
		s.bridge.Close()
	}
	if s.certs.dir != "" {
		_ = os.RemoveAll(s.certs.dir)
	}
}

// Token mints an access token for a demo user, valid for every server.
func (s *Stack) Token(user string) (string, error) { return s.Issuer.Mint(user, nil) }

// ServerURL is a server's MCP endpoint at the edge.
func (s *Stack) ServerURL(name string) string { return s.EdgeURL + contract.MCPPath(name) }

// RESTURL is the edge's REST bridge path of a server's tool (tool "": the server's tool list).
func (s *Stack) RESTURL(server, tool string) string {
	if tool == "" {
		return s.EdgeURL + contract.RESTToolsPath(server)
	}
	return s.EdgeURL + contract.RESTPath(server, tool)
}

// ClientConfig is a paste-ready MCP client configuration for every MCP server (the REST
// bridge serves no MCP), with a bearer token for user.
func (s *Stack) ClientConfig(user string) (string, error) {
	tok, err := s.Token(user)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("{\n  \"mcpServers\": {\n")
	first := true
	for _, srv := range s.Config.Servers {
		if srv.RESTBridge {
			continue
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "    %q: {\"type\": \"http\", \"url\": %q, \"headers\": {\"Authorization\": \"Bearer %s\"}}", srv.Name, s.ServerURL(srv.Name), tok)
	}
	b.WriteString("\n  }\n}\n")
	return b.String(), nil
}

// staticSecret is the simulator's well-known credentials as a SecretSource.
type staticSecret kit.Secret

func (s staticSecret) Get(context.Context, string) (kit.Secret, error) { return kit.Secret(s), nil }
func (staticSecret) Invalidate(string)                                 {}

// startDeployments starts a Temporal dev server, a worker running the deployment workflow
// against the Catalyst Center and ServiceNow simulators, and returns the deployments
// adapter's handler.
func (s *Stack) startDeployments(ctx context.Context, opts Options, log zerolog.Logger) (http.Handler, error) {
	db := opts.TemporalDB
	if db == "" {
		dir, err := os.MkdirTemp("", "gatehouse-temporal-")
		if err != nil {
			return nil, err
		}
		s.temporalDir = dir // removed by Stop, after the server
		db = filepath.Join(dir, "temporal.db")
	}
	srv, err := devserver.Launch(opts.TemporalBin, devserver.Options{DBFile: db})
	if err != nil {
		return nil, err
	}
	s.Temporal = srv
	up := map[string]string{}
	for _, u := range s.Upstreams {
		up[u.Server] = u.URL
	}
	secrets := secretMap{
		catalystcenter.ServerName: {"username": "admin", "password": "C1sco12345"},
		servicenow.ServerName:     {"client_id": snsim.DefaultClientID, "client_secret": snsim.DefaultClientSecret},
	}
	topts := temporalx.Options{Address: srv.Address, Namespace: srv.Namespace, Log: log}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := worker.Run(ctx, worker.Config{Temporal: topts, RegisterSearchAttributes: true, Log: log,
			Upstreams: worker.Upstreams{CatalystCenterURL: up[catalystcenter.ServerName], ServiceNowURL: up[servicenow.ServerName],
				Secrets: secrets, PollInterval: time.Second}})
		if err != nil && ctx.Err() == nil {
			s.errs <- fmt.Errorf("deployment worker: %w", err)
		}
	}()
	tc, err := temporalx.Dial(ctx, topts)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, tc.Close)
	a := kit.NewServer(kit.Options{Name: deployments.ServerName, Version: "dev", Logger: log})
	deployments.Register(a, deploy.NewClient(tc, ""))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return deployments.Handler(a), nil
}

// secretMap serves each upstream its own development credentials.
type secretMap map[string]kit.Secret

func (m secretMap) Get(_ context.Context, name string) (kit.Secret, error) {
	if sec, ok := m[name]; ok {
		return sec, nil
	}
	return nil, fmt.Errorf("no development secret %q", name)
}

func (secretMap) Invalidate(string) {}
