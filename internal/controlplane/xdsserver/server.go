// Package xdsserver is the control plane process: it watches gatehouse.yaml, builds a
// validated, consistent snapshot on every change (keeping the last good one when the file
// is invalid), and serves it over ADS (state-of-the-world and delta) from a snapshot cache
// keyed by Envoy node id. It has its own /healthz, /readyz and Prometheus metrics.
package xdsserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
)

// Build reads and validates a config file and produces its edge model and Envoy resources.
// Both the server and `gatehouse control-plane --print` use it.
func Build(data []byte) (*config.Config, *model.Edge, xds.Resources, error) {
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, nil, nil, err
	}
	edge, err := model.Build(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := xds.Translate(edge)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, edge, res, nil
}

// Server is the control plane.
type Server struct {
	path     string
	log      zerolog.Logger
	cache    cache.SnapshotCache
	Registry *prometheus.Registry
	metrics  metrics

	mu       sync.Mutex
	current  *cache.Snapshot
	version  int64
	lastHash string
	lastErr  error
	nodes    map[string]bool  // node ids that ever asked
	streams  map[int64]string // open stream → node id
}

type metrics struct {
	version   prometheus.Gauge
	envoys    prometheus.Gauge
	reloads   *prometheus.CounterVec
	cfgError  prometheus.Gauge
	nacks     *prometheus.CounterVec
	lastError prometheus.Gauge
}

// New returns a control plane for the config file at path.
func New(path string, log zerolog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		path: path, log: log, Registry: reg,
		nodes: map[string]bool{}, streams: map[int64]string{},
		cache: cache.NewSnapshotCache(true, cache.IDHash{}, logAdapter{log}),
	}
	s.metrics = metrics{
		version: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_xds_snapshot_version",
			Help: "Sequence number of the snapshot being served."}),
		envoys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_xds_connected_envoys",
			Help: "Distinct Envoy node ids with an open xDS stream."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_xds_config_reloads_total",
			Help: "Config file loads by outcome (success, invalid)."}, []string{"outcome"}),
		cfgError: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_xds_config_error",
			Help: "1 while the config file on disk is invalid and the last good snapshot is served."}),
		lastError: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_xds_last_error_timestamp_seconds",
			Help: "When the last config error was seen (Unix time), 0 if never."}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_xds_nacks_total",
			Help: "Resources an Envoy rejected, by type URL."}, []string{"type"}),
	}
	reg.MustRegister(s.metrics.version, s.metrics.envoys, s.metrics.reloads, s.metrics.cfgError, s.metrics.lastError, s.metrics.nacks)
	return s
}

// Version returns the version string of the snapshot being served ("" before the first).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return ""
	}
	return s.current.GetVersion(resource.ListenerType)
}

// LastError is the problem with the config file on disk, or nil if it is being served.
func (s *Server) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Reload reads the config file and, if it changed and is valid, serves a new snapshot to
// every known node. An invalid file leaves the served snapshot as it is.
func (s *Server) Reload(ctx context.Context) (bool, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, s.refuse(fmt.Errorf("read %s: %w", s.path, err), "")
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	_, edge, res, err := Build(data)
	if err != nil {
		s.mu.Lock()
		same := hash == s.lastHash
		s.mu.Unlock()
		if same {
			return false, nil
		}
		return false, s.refuse(fmt.Errorf("%s: %w", s.path, err), hash)
	}
	// The certificate files are part of what is served (SDS): a rotated file changes the
	// hash, so the new secret is pushed and Envoy swaps it in without a restart.
	secrets, raw, err := xds.Secrets(edge, os.ReadFile)
	if err != nil {
		return false, s.refuse(fmt.Errorf("%s: %w", s.path, err), "")
	}
	if len(secrets) > 0 {
		all := sha256.Sum256(append(append([]byte{}, data...), raw...))
		hash = hex.EncodeToString(all[:])
		res[resource.SecretType] = secrets
	}
	s.mu.Lock()
	same := hash == s.lastHash
	s.mu.Unlock()
	if same {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	version := strconv.FormatInt(s.version+1, 10) + "-" + hash[:8]
	snap, err := xds.Snapshot(version, res)
	if err != nil {
		s.lastHash = hash
		return false, s.refuseLocked(err)
	}
	for node := range s.nodes {
		if err := s.cache.SetSnapshot(ctx, node, snap); err != nil {
			return false, fmt.Errorf("set snapshot for %s: %w", node, err)
		}
	}
	s.version++
	s.current, s.lastHash, s.lastErr = snap, hash, nil
	s.metrics.version.Set(float64(s.version))
	s.metrics.cfgError.Set(0)
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.log.Info().Str("event.action", "xds-snapshot").Str("event.outcome", "success").
		Str("gatehouse.xds_version", version).Int("gatehouse.envoy_nodes", len(s.nodes)).
		Msg("new Envoy configuration in service")
	return true, nil
}

func (s *Server) refuse(err error, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hash != "" {
		s.lastHash = hash // do not re-report the same bad file on every poll
	}
	if s.lastErr != nil && s.lastErr.Error() == err.Error() {
		return err
	}
	return s.refuseLocked(err)
}

func (s *Server) refuseLocked(err error) error {
	s.lastErr = err
	s.metrics.cfgError.Set(1)
	s.metrics.lastError.SetToCurrentTime()
	s.metrics.reloads.WithLabelValues("invalid").Inc()
	ev := s.log.Error().Err(err).Str("event.action", "xds-snapshot").Str("event.outcome", "failure")
	if s.current != nil {
		ev.Str("gatehouse.xds_version", s.current.GetVersion(resource.ListenerType)).
			Msg("config refused; Envoy keeps the last good configuration")
	} else {
		ev.Msg("config refused and no configuration was ever served")
	}
	return err
}

// register gives a node the current snapshot the first time it asks.
func (s *Server) register(ctx context.Context, streamID int64, node *corev3.Node) {
	if node == nil || node.GetId() == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[streamID]; !ok {
		s.streams[streamID] = node.GetId()
		s.metrics.envoys.Set(float64(s.distinctNodesLocked()))
	}
	if s.nodes[node.GetId()] {
		return
	}
	s.nodes[node.GetId()] = true
	s.log.Info().Str("event.action", "xds-connect").Str("gatehouse.envoy_node", node.GetId()).
		Str("gatehouse.envoy_cluster", node.GetCluster()).Msg("new Envoy node")
	if s.current != nil {
		if err := s.cache.SetSnapshot(ctx, node.GetId(), s.current); err != nil {
			s.log.Error().Err(err).Str("gatehouse.envoy_node", node.GetId()).Msg("cannot set snapshot")
		}
	}
}

func (s *Server) closed(streamID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, streamID)
	s.metrics.envoys.Set(float64(s.distinctNodesLocked()))
}

func (s *Server) distinctNodesLocked() int {
	seen := map[string]bool{}
	for _, n := range s.streams {
		seen[n] = true
	}
	return len(seen)
}

func (s *Server) nack(node, typeURL, msg string) {
	s.metrics.nacks.WithLabelValues(typeURL).Inc()
	s.log.Error().Str("event.action", "xds-nack").Str("gatehouse.envoy_node", node).Str("gatehouse.xds_type", typeURL).
		Str("error.message", msg).Msg("an Envoy rejected the configuration")
}

func (s *Server) callbacks(ctx context.Context) serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamClosedFunc:      func(id int64, _ *corev3.Node) { s.closed(id) },
		DeltaStreamClosedFunc: func(id int64, _ *corev3.Node) { s.closed(id) },
		StreamRequestFunc: func(id int64, r *discoveryv3.DiscoveryRequest) error {
			s.register(ctx, id, r.GetNode())
			if r.GetErrorDetail() != nil {
				s.nack(r.GetNode().GetId(), r.GetTypeUrl(), r.GetErrorDetail().GetMessage())
			}
			return nil
		},
		StreamDeltaRequestFunc: func(id int64, r *discoveryv3.DeltaDiscoveryRequest) error {
			s.register(ctx, id, r.GetNode())
			if r.GetErrorDetail() != nil {
				s.nack(r.GetNode().GetId(), r.GetTypeUrl(), r.GetErrorDetail().GetMessage())
			}
			return nil
		},
	}
}

// Run loads the config (it must be valid at start), serves ADS on grpcLis and health and
// metrics on httpLis, and reloads on change until ctx ends.
func (s *Server) Run(ctx context.Context, grpcLis, httpLis net.Listener, interval time.Duration) error {
	if _, err := s.Reload(ctx); err != nil {
		return err
	}
	xdsServer := serverv3.NewServer(ctx, s.cache, s.callbacks(ctx))
	g := grpc.NewServer(
		grpc.MaxConcurrentStreams(100000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, xdsServer)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, xdsServer)
	routeservice.RegisterRouteDiscoveryServiceServer(g, xdsServer)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, xdsServer)
	secretservice.RegisterSecretDiscoveryServiceServer(g, xdsServer)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.Version() == "" {
			http.Error(w, "no snapshot", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintf(w, "serving %s\n", s.Version())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: ecslog.HTTPErrorLog(s.log, 10)}

	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcLis) }()
	go func() { errc <- hs.Serve(httpLis) }()
	s.log.Info().Str("event.action", "start").Str("gatehouse.xds_address", grpcLis.Addr().String()).
		Str("gatehouse.http_address", httpLis.Addr().String()).Msg("control plane listening")

	t := time.NewTicker(interval)
	defer t.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-t.C:
			_, _ = s.Reload(ctx) // outcome is logged and counted
		}
	}
	s.log.Info().Str("event.action", "stop").Msg("control plane shutting down")
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		g.Stop() // ADS streams never end on their own
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if errors.Is(runErr, grpc.ErrServerStopped) || errors.Is(runErr, http.ErrServerClosed) {
		return nil
	}
	return runErr
}

// logAdapter routes go-control-plane's logs to zerolog at debug level (its info logs are
// per-request chatter).
type logAdapter struct{ l zerolog.Logger }

func (a logAdapter) Debugf(f string, args ...any) { a.l.Debug().Msgf(f, args...) }
func (a logAdapter) Infof(f string, args ...any)  { a.l.Debug().Msgf(f, args...) }
func (a logAdapter) Warnf(f string, args ...any)  { a.l.Warn().Msgf(f, args...) }
func (a logAdapter) Errorf(f string, args ...any) { a.l.Error().Msgf(f, args...) }
