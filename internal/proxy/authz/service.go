package authz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/extproc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// Service is the whole authz process: the gRPC ext_authz server, the HTTP server (metadata,
// health, metrics), the token verifier and the policy engine.
type Service struct {
	Config   *config.Config
	Log      zerolog.Logger
	Verifier *oidc.Verifier
	Policies *policy.Engine
	Authz    *Server
	Registry *prometheus.Registry

	grpc   *grpc.Server
	certs  *tlsfiles.Source // authz.tls, nil without it
	health *health.Server
	http   *http.Server
}

// NewService wires the service from config. opts tune the verifier (tests pass a clock or an
// HTTP client).
func NewService(cfg *config.Config, log zerolog.Logger, opts oidc.Options) *Service {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Logger = log
	v := oidc.New(verifierConfig(cfg.OIDC), opts)
	eng := policy.NewEngine(cfg.Policy.Dir, cfg.Policy.ReloadInterval, log, reg)
	s := &Service{
		Config: cfg, Log: log, Verifier: v, Policies: eng, Registry: reg,
		Authz: New(cfg, v, eng, log, NewMetrics(reg)),
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_authz_checks_admitted",
		Help: "Checks admitted (their headers read and not refused) and not yet answered: the backlog a new Check waits behind.",
	}, func() float64 { return float64(s.Authz.admitted.Load()) }))
	srvOpts := append(GRPCServerOptions(cfg), grpc.UnaryInterceptor(recoverer(log)), grpc.InTapHandle(s.Authz.Admit))
	if t := cfg.Authz.TLS; t.Enabled() {
		// Read in Run (a bad file is a start-up error there) and re-read while serving.
		s.certs = tlsfiles.New(tlsfiles.Files{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.ClientCAFile, PeerSANs: t.ClientSANs})
		srvOpts = append(srvOpts, grpc.Creds(loggedHandshakes{credentials.NewTLS(s.certs.ServerConfig()), ecslog.HandshakeFailures(log, 10)}))
	}
	s.grpc = grpc.NewServer(srvOpts...)
	authv3.RegisterAuthorizationServer(s.grpc, s.Authz)
	// The response side (ext_proc) on the same port: Envoy and the dev edge call both.
	(&extproc.Server{Guard: s.Authz, OnError: func(err error) {
		log.Warn().Err(err).Str("event.action", "mcp-response").Str("event.outcome", "failure").
			Msg("a response could not be examined; it was not delivered (fail closed)")
	}}).Register(s.grpc)
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.http = &http.Server{
		Handler:           HTTPHandler(cfg, Readiness{PolicyLoaded: eng.Ready, IssuerKeys: v.Ready}, reg),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          ecslog.HTTPErrorLog(log, 10),
	}
	return s
}

// GRPCServerOptions sizes the server for Envoy: the receive limit sits above the body limit
// (a CheckRequest carries the body plus headers), and keepalive pings from Envoy are allowed.
func GRPCServerOptions(cfg *config.Config) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.LargestBody() + 1<<20),
		grpc.MaxConcurrentStreams(4096),
		// Long-lived workers keep the deep stacks OPA evaluation grows; a fresh goroutine
		// per Check spent a fifth of the CPU copying stacks (BENCHMARKS.md).
		grpc.NumStreamWorkers(uint32(8 * runtime.GOMAXPROCS(0))),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}
}

// recoverer turns a panic in a Check into an error answer (Envoy then denies, fail closed)
// instead of a crash that would take every in-flight Check down with it.
func recoverer(log zerolog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error().Str("event.action", "mcp-authorize").Str("error.message", fmt.Sprint(p)).
					Str("error.stack_trace", string(debug.Stack())).Msg("panic in a Check; denied (fail closed)")
				resp, err = nil, status.Error(codes.Internal, "internal error (denied)")
			}
		}()
		return handler(ctx, req)
	}
}

// Run serves on the given listeners until ctx ends, then drains in-flight checks for up to
// authz.shutdown_grace. The first policy load happens before serving; if it fails, the
// service still starts (denying everything, not ready) and keeps retrying.
func (s *Service) Run(ctx context.Context, grpcLis, httpLis net.Listener) error {
	if f := s.Config.Authz.BindingKeysFile; f != "" {
		keys, err := binding.LoadKeys(f)
		if err != nil {
			return fmt.Errorf("authz.binding_keys_file: %w", err)
		}
		s.Authz.UseBindingKeys(keys)
	} else {
		s.Log.Warn().Msg("authz.binding_keys_file is not set: session ids are bound with a key made at start, " +
			"so only this replica can check them; give every replica the same key file")
	}
	if s.Config.OIDC.InsecureHTTP {
		s.Log.Warn().Str("gatehouse.issuer", s.Config.OIDC.Issuer).
			Msg("oidc.insecure_http is on: issuer keys travel over plain HTTP; use this only in a test stack")
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	if err := s.startTLS(bg); err != nil {
		return err
	}
	go s.Verifier.Run(bg)
	if _, err := s.Policies.Reload(ctx); err != nil {
		s.Log.Error().Err(err).Msg("initial policy load failed; denying every request until a valid policy is in place")
	}
	go s.Policies.Run(bg)
	go s.watchReadiness(bg)

	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(grpcLis) }()
	go func() { errc <- s.http.Serve(httpLis) }()
	s.Log.Info().Str("event.action", "start").Str("gatehouse.grpc_address", grpcLis.Addr().String()).
		Str("gatehouse.http_address", httpLis.Addr().String()).Msg("authz service listening")

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = fmt.Errorf("server stopped: %w", err)
	}
	s.shutdown()
	return runErr
}

func (s *Service) shutdown() {
	s.Log.Info().Str("event.action", "stop").Msg("shutting down: draining in-flight checks")
	s.health.Shutdown()
	grace := s.Config.Authz.ShutdownGrace
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.Log.Warn().Msg("grace period over; closing remaining gRPC streams")
		s.grpc.Stop()
	}
	hctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.http.Shutdown(hctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.Log.Warn().Err(err).Msg("HTTP shutdown")
	}
}

// watchReadiness mirrors readiness into the gRPC health service Envoy health-checks.
func (s *Service) watchReadiness(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	last, lastWaiting := false, "-"
	for {
		ready := s.Authz.Ready()
		// Say once, in plain words, what the service is waiting for (and when it is ready):
		// an operator starting it by hand otherwise sees only refused tokens.
		if w := s.waitingFor(); w != lastWaiting {
			if w == "" {
				s.Log.Info().Str("event.action", "ready").Msg("ready: the policy is in service and the issuer's keys are fetched")
			} else {
				s.Log.Warn().Str("event.action", "not-ready").Msg("not ready, waiting for " + w + "; every request is denied until then")
			}
			lastWaiting = w
		}
		if ready != last {
			st := healthpb.HealthCheckResponse_NOT_SERVING
			if ready {
				st = healthpb.HealthCheckResponse_SERVING
			}
			s.health.SetServingStatus("", st)
			s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
			last = ready
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// verifierConfig is what the token verifier needs from the oidc section.
func verifierConfig(c config.OIDC) oidc.Config {
	var idClaims []string
	if c.IDTokenClaims != nil {
		idClaims = *c.IDTokenClaims
	}
	return oidc.Config{
		Issuer: c.Issuer, Algorithms: c.Algorithms, ClockSkew: c.ClockSkew,
		JWKSMinRefreshInterval: c.JWKSMinRefreshInterval, JWKSRefreshInterval: c.JWKSRefreshInterval,
		RequireJWTAccessTokenType: c.RequireJWTAccessTokenType, IDTokenClaims: idClaims,
		Claims: oidc.ClaimNames{Groups: c.Claims.Groups, Scopes: c.Claims.Scopes, AMR: c.Claims.AMR,
			Email: c.Claims.Email, ClientID: c.Claims.ClientID},
		TokenCacheSize: c.TokenCacheSize,
	}
}

// waitingFor names what keeps the service from being ready, or "" when nothing does.
func (s *Service) waitingFor() string {
	var w []string
	if !s.Verifier.Ready() {
		w = append(w, fmt.Sprintf("the OIDC issuer %s (its discovery document and signing keys)", s.Config.OIDC.Issuer))
	}
	if !s.Policies.Ready() {
		w = append(w, fmt.Sprintf("a policy in %s that compiles and passes its own tests", s.Config.Policy.Dir))
	}
	return strings.Join(w, " and ")
}
