package xdsserver_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

func repo(parts ...string) string { return testkit.Root(parts...) }

type plane struct {
	srv     *xdsserver.Server
	path    string
	addr    string
	httpURL string
	logs    *ecslogtest.Buffer
	example string
}

// startPlane runs the control plane on loopback over a copy of the example config.
func startPlane(t *testing.T) *plane {
	t.Helper()
	example, err := os.ReadFile(repo("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := &plane{path: filepath.Join(t.TempDir(), "gatehouse.yaml"), logs: &ecslogtest.Buffer{}, example: string(example)}
	p.write(t, p.example)
	log, _ := ecslog.New(p.logs, "gatehouse-control-plane", "info", "json")
	p.srv = xdsserver.New(p.path, log)
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	p.addr, p.httpURL = gl.Addr().String(), "http://"+hl.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.srv.Run(ctx, gl, hl, 50*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control plane stopped with %v", err)
		}
	})
	return p
}

func (p *plane) write(t *testing.T, content string) {
	t.Helper()
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		t.Fatal(err)
	}
}

// envoy is an ADS client that behaves like Envoy on one state-of-the-world stream:
// it subscribes to all clusters and listeners, then to the route configurations the
// listeners name, and ACKs every response with its version and nonce.
type envoy struct {
	t       *testing.T
	node    *corev3.Node
	stream  discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	resp    chan *discoveryv3.DiscoveryResponse
	version map[string]string
	res     map[string][]*anypb.Any
	routes  []string
	secrets []string
}

func dialEnvoy(t *testing.T, addr, nodeID string) *envoy {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); conn.Close() })
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &envoy{t: t, stream: stream, resp: make(chan *discoveryv3.DiscoveryResponse, 16),
		node:    &corev3.Node{Id: nodeID, Cluster: "gatehouse-edge"},
		version: map[string]string{}, res: map[string][]*anypb.Any{}}
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				close(e.resp)
				return
			}
			e.resp <- r
		}
	}()
	e.send(&discoveryv3.DiscoveryRequest{Node: e.node, TypeUrl: resource.ClusterType})
	e.send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.ListenerType})
	return e
}

func (e *envoy) send(r *discoveryv3.DiscoveryRequest) {
	if err := e.stream.Send(r); err != nil {
		e.t.Fatal(err)
	}
}

// sync processes responses until listeners, routes and clusters are all at a version
// starting with prefix (a snapshot sequence number such as "2-").
func (e *envoy) sync(prefix string) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for !(strings.HasPrefix(e.version[resource.ListenerType], prefix) &&
		strings.HasPrefix(e.version[resource.RouteType], prefix) &&
		strings.HasPrefix(e.version[resource.ClusterType], prefix)) {
		select {
		case r, ok := <-e.resp:
			if !ok {
				e.t.Fatal("ADS stream closed")
			}
			e.handle(r)
		case <-deadline:
			e.t.Fatalf("no configuration at version %s*; have %v", prefix, e.version)
		}
	}
}

func (e *envoy) handle(r *discoveryv3.DiscoveryResponse) {
	e.version[r.GetTypeUrl()] = r.GetVersionInfo()
	e.res[r.GetTypeUrl()] = r.GetResources()
	var names []string
	if r.GetTypeUrl() == resource.RouteType {
		names = e.routes
	}
	if r.GetTypeUrl() == resource.SecretType {
		names = e.secrets
	}
	e.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), VersionInfo: r.GetVersionInfo(), ResponseNonce: r.GetNonce(), ResourceNames: names})
	if r.GetTypeUrl() == resource.ListenerType {
		var want []string
		for _, a := range r.GetResources() {
			var l listenerv3.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				e.t.Fatal(err)
			}
			var hcm hcmv3.HttpConnectionManager
			if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
				e.t.Fatal(err)
			}
			if hcm.GetRds() != nil { // the https redirect listener carries its routes inline
				want = append(want, hcm.GetRds().GetRouteConfigName())
			}
		}
		if strings.Join(want, ",") != strings.Join(e.routes, ",") {
			e.routes = want
			e.send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: want, VersionInfo: e.version[resource.RouteType]})
		}
	}
}

// quiet asserts that no response arrives for d.
func (e *envoy) quiet(d time.Duration) {
	e.t.Helper()
	select {
	case r := <-e.resp:
		e.t.Fatalf("unexpected %s version %s", r.GetTypeUrl(), r.GetVersionInfo())
	case <-time.After(d):
	}
}

func (e *envoy) clusters() []string {
	var names []string
	for _, a := range e.res[resource.ClusterType] {
		var c clusterv3.Cluster
		if err := a.UnmarshalTo(&c); err != nil {
			e.t.Fatal(err)
		}
		names = append(names, c.GetName())
	}
	return names
}

func metrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The acceptance test: a real ADS client gets listener, routes and clusters for its
// node; a config change brings a new version; a broken config leaves the served one.
// security 40.
func TestADSServesAndFollowsConfigChanges(t *testing.T) {
	p := startPlane(t)
	e := dialEnvoy(t, p.addr, "edge-1")
	e.sync("1-")
	if got := len(e.res[resource.ListenerType]); got != 1 {
		t.Fatalf("%d listeners", got)
	}
	var rc routev3.RouteConfiguration
	if err := e.res[resource.RouteType][0].UnmarshalTo(&rc); err != nil {
		t.Fatal(err)
	}
	if rc.GetName() != "gatehouse-routes" || len(rc.GetVirtualHosts()[0].GetRoutes()) < 5 {
		t.Fatalf("routes: %v", rc.GetName())
	}
	if cs := e.clusters(); !strings.Contains(strings.Join(cs, ","), "adapter-catalyst-center") {
		t.Fatalf("clusters %v", cs)
	}

	// Adding a server is a config change, not an Envoy restart.
	added := strings.Replace(p.example, "servers:\n", "servers:\n  - name: netbox\n    upstream: http://127.0.0.1:8110\n", 1)
	p.write(t, added)
	e.sync("2-")
	if cs := strings.Join(e.clusters(), ","); !strings.Contains(cs, "adapter-netbox") {
		t.Fatalf("new cluster not served: %s", cs)
	}
	served := p.srv.Version()

	// A broken config keeps the last good snapshot, with a log line naming the problem.
	p.write(t, strings.Replace(added, "name: netbox", "name: NetBox", 1))
	deadline := time.Now().Add(5 * time.Second)
	for p.srv.LastError() == nil {
		if time.Now().After(deadline) {
			t.Fatal("broken config not noticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.quiet(300 * time.Millisecond)
	if p.srv.Version() != served {
		t.Fatalf("version moved to %s after a broken config", p.srv.Version())
	}
	if !strings.Contains(p.logs.String(), `servers[0].name: \"NetBox\" must be a lower-case DNS label`) ||
		!strings.Contains(p.logs.String(), "Envoy keeps the last good configuration") {
		t.Fatalf("log does not name the problem:\n%s", p.logs.String())
	}
	m := metrics(t, p.httpURL)
	for _, want := range []string{"gatehouse_xds_snapshot_version 2", "gatehouse_xds_config_error 1",
		"gatehouse_xds_connected_envoys 1", `gatehouse_xds_config_reloads_total{outcome="invalid"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Fixing it serves the next version.
	p.write(t, strings.Replace(added, "8110", "8111", 1))
	e.sync("3-")

	// A second Envoy node gets the current snapshot at once.
	e2 := dialEnvoy(t, p.addr, "edge-2")
	e2.sync("3-")
	if m := metrics(t, p.httpURL); !strings.Contains(m, "gatehouse_xds_connected_envoys 2") {
		t.Errorf("two Envoys not counted")
	}
}

func TestNACKIsLoggedAndCounted(t *testing.T) {
	p := startPlane(t)
	e := dialEnvoy(t, p.addr, "edge-nack")
	r := <-e.resp
	e.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce(),
		ErrorDetail: &rpcstatus.Status{Code: 3, Message: "bad cluster"}})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(metrics(t, p.httpURL), "gatehouse_xds_nacks_total") {
		if time.Now().After(deadline) {
			t.Fatal("NACK not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.logs.String(), "an Envoy rejected the configuration") {
		t.Fatal("NACK not logged")
	}
}

// Incremental (delta) xDS serves the same resources.
func TestDeltaADS(t *testing.T) {
	p := startPlane(t)
	conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "edge-delta", Cluster: "gatehouse-edge"}
	got := map[string][]string{}
	for _, typ := range []string{resource.ClusterType, resource.ListenerType, resource.RouteType} {
		req := &discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: typ}
		if typ == resource.RouteType {
			req.ResourceNamesSubscribe = []string{"gatehouse-routes"}
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range r.GetResources() {
			got[r.GetTypeUrl()] = append(got[r.GetTypeUrl()], res.GetName())
		}
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got[resource.ListenerType]) != 1 || len(got[resource.RouteType]) != 1 || len(got[resource.ClusterType]) < 7 {
		t.Fatalf("delta resources: %v", got)
	}
}

func TestInvalidConfigAtStartIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(path, []byte("public_url: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, _ := ecslog.New(io.Discard, "x", "info", "json")
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer gl.Close()
	defer hl.Close()
	err := xdsserver.New(path, log).Run(context.Background(), gl, hl, time.Second)
	if err == nil || !strings.Contains(err.Error(), "public_url") {
		t.Fatalf("want an error naming public_url, got %v", err)
	}
}
