package xds_test

import (
	"slices"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
)

func repo(parts ...string) string { return testkit.Root(parts...) }

func exampleEdge(t *testing.T) (*config.Config, *model.Edge, xds.Resources) {
	t.Helper()
	cfg, err := config.Load(repo("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := xds.Translate(e)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, e, res
}

func hcmOf(t *testing.T, res xds.Resources) *hcmv3.HttpConnectionManager {
	t.Helper()
	l := res[resource.ListenerType][0].(*listenerv3.Listener)
	var hcm hcmv3.HttpConnectionManager
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	return &hcm
}

type validator interface {
	proto.Message
	ValidateAll() error
}

// security 37: every inner filter config passes ValidateAll, and the snapshot is consistent.
func TestInnerConfigsValidAndSnapshotConsistent(t *testing.T) {
	_, _, res := exampleEdge(t)
	hcm := hcmOf(t, res)
	if err := hcm.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	for _, f := range hcm.GetHttpFilters() {
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.(validator).ValidateAll(); err != nil {
			t.Fatalf("%s: %v", f.GetName(), err)
		}
	}
	rc := res[resource.RouteType][0].(*routev3.RouteConfiguration)
	for _, vh := range rc.GetVirtualHosts() {
		for name, a := range vh.GetTypedPerFilterConfig() {
			m, _ := a.UnmarshalNew()
			if err := m.(validator).ValidateAll(); err != nil {
				t.Fatalf("virtual host %s: %v", name, err)
			}
		}
		for _, r := range vh.GetRoutes() {
			for name, a := range r.GetTypedPerFilterConfig() {
				m, _ := a.UnmarshalNew()
				if err := m.(validator).ValidateAll(); err != nil {
					t.Fatalf("route %s %s: %v", r.GetName(), name, err)
				}
			}
		}
	}
	for _, typ := range []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType} {
		for _, r := range res[typ] {
			if err := r.(validator).ValidateAll(); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
	}
	if _, err := xds.Snapshot("1", res); err != nil {
		t.Fatal(err)
	}
	// A snapshot that names a route configuration it does not carry is refused.
	broken := xds.Resources{resource.ListenerType: res[resource.ListenerType], resource.ClusterType: res[resource.ClusterType]}
	if _, err := xds.Snapshot("2", broken); err == nil {
		t.Fatal("inconsistent snapshot accepted")
	}
}

// An invalid value is caught by Envoy's own validation rules before it is packed.
func TestInvalidEdgeRefusedBeforePacking(t *testing.T) {
	_, e, _ := exampleEdge(t)
	e.MaxBodyBytes = 0 // with_request_body.max_request_bytes must be > 0
	_, err := xds.Translate(e)
	if err == nil || !strings.Contains(err.Error(), "ExtAuthz") {
		t.Fatalf("want an ExtAuthz validation error, got %v", err)
	}
}

// security 38: every MCP route has both ext_authz stages on (with its server as context:
// the headers-only one with stage "headers", the body one with the server's body limit);
// only metadata, health and the REST bridge's OpenAPI document have them disabled.
func TestEveryMCPRouteHasAuthz(t *testing.T) {
	cfg, _, res := exampleEdge(t)
	rc := res[resource.RouteType][0].(*routev3.RouteConfiguration)
	seen := map[string]bool{}
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		perRoute := func(filter string) *extauthzv3.ExtAuthzPerRoute {
			a := r.GetTypedPerFilterConfig()[filter]
			if a == nil {
				t.Fatalf("route %s has no %s setting (would inherit, but must be explicit)", r.GetName(), filter)
			}
			var per extauthzv3.ExtAuthzPerRoute
			if err := a.UnmarshalTo(&per); err != nil {
				t.Fatal(err)
			}
			return &per
		}
		per, authn := perRoute(xds.ExtAuthzFilter), perRoute(xds.AuthnFilter)
		path := r.GetMatch().GetPath() + r.GetMatch().GetPrefix()
		exempt := path == "/healthz" || strings.HasPrefix(path, contract.WellKnownPRM) || path == contract.RESTOpenAPIPath
		if per.GetDisabled() != exempt || authn.GetDisabled() != exempt {
			t.Fatalf("route %s (%s): ext_authz disabled=%v, authn disabled=%v", r.GetName(), path, per.GetDisabled(), authn.GetDisabled())
		}
		if server, ok := strings.CutPrefix(path, "/mcp/"); ok {
			if got := per.GetCheckSettings().GetContextExtensions()["server"]; got != server {
				t.Fatalf("route %s passes server %q to ext_authz", r.GetName(), got)
			}
			ace := authn.GetCheckSettings().GetContextExtensions()
			if ace["server"] != server || ace[contract.ExtensionStage] != contract.StageHeaders {
				t.Fatalf("route %s: headers-only stage context %v", r.GetName(), ace)
			}
			srv, _ := cfg.Server(server)
			if got := per.GetCheckSettings().GetWithRequestBody().GetMaxRequestBytes(); int(got) != srv.MaxBodyBytes {
				t.Fatalf("route %s buffers up to %d bytes, the server takes %d", r.GetName(), got, srv.MaxBodyBytes)
			}
			if r.GetRoute().GetCluster() != model.AdapterCluster(server) {
				t.Fatalf("route %s goes to %s", r.GetName(), r.GetRoute().GetCluster())
			}
			seen[server] = true
		}
	}
	for _, s := range cfg.Servers {
		if !seen[s.Name] {
			t.Fatalf("no MCP route for %s", s.Name)
		}
	}
}

// security 39: nothing after ext_authz clears the route cache: the chain is exactly
// cors → headers-only ext_authz → body ext_authz → router, and neither ext_authz clears it.
// security 77: the headers-only stage runs before any body is buffered.
func TestNothingAfterExtAuthzReroutes(t *testing.T) {
	_, _, res := exampleEdge(t)
	hcm := hcmOf(t, res)
	var names []string
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	if strings.Join(names, ",") != "envoy.filters.http.cors,gatehouse.authn,envoy.filters.http.ext_authz,envoy.filters.http.ext_proc,envoy.filters.http.router" {
		t.Fatalf("filter chain %v", names)
	}
	var authn extauthzv3.ExtAuthz
	if err := hcm.GetHttpFilters()[1].GetTypedConfig().UnmarshalTo(&authn); err != nil {
		t.Fatal(err)
	}
	if authn.GetWithRequestBody() != nil || authn.GetClearRouteCache() || authn.GetFailureModeAllow() {
		t.Fatalf("the headers-only stage must not buffer the body, clear the route cache or allow on failure: %v", &authn)
	}
	var ea extauthzv3.ExtAuthz
	if err := hcm.GetHttpFilters()[2].GetTypedConfig().UnmarshalTo(&ea); err != nil {
		t.Fatal(err)
	}
	if ea.GetClearRouteCache() || ea.GetFailureModeAllow() || ea.GetWithRequestBody().GetAllowPartialMessage() {
		t.Fatalf("ext_authz must not clear the route cache, allow on failure or pass partial bodies: %v", &ea)
	}
	if ea.GetWithRequestBody().GetMaxRequestBytes() == 0 || ea.GetGrpcService().GetTimeout().AsDuration() <= 0 {
		t.Fatalf("ext_authz without body or timeout: %v", &ea)
	}
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() ||
		hcm.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_REJECT_REQUEST {
		t.Fatal("path normalization is off")
	}
}

// An https upstream is verified: CA bundle and the host's name (or IP) in the certificate.
func TestHTTPSUpstreamsAreVerified(t *testing.T) {
	for host, san := range map[string]string{"github-adapter.internal": "DNS", "10.0.0.7": "IP_ADDRESS"} {
		cfg, err := config.Parse([]byte(`
public_url: https://mcp.example.com
oidc: {issuer: https://idp.example.com}
servers: [{name: github, upstream: "https://` + host + `:8443"}]
`))
		if err != nil {
			t.Fatal(err)
		}
		e, err := model.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := xds.Clusters(e)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, c := range cs {
			if c.GetName() != "adapter-github" {
				continue
			}
			found = true
			var tls tlsv3.UpstreamTlsContext
			if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&tls); err != nil {
				t.Fatal(err)
			}
			vc := tls.GetCommonTlsContext().GetValidationContext()
			if vc.GetTrustedCa().GetFilename() != cfg.Edge.UpstreamCAFile || len(vc.GetMatchTypedSubjectAltNames()) != 1 ||
				vc.GetMatchTypedSubjectAltNames()[0].GetSanType().String() != san ||
				vc.GetMatchTypedSubjectAltNames()[0].GetMatcher().GetExact() != host {
				t.Fatalf("%s: upstream TLS does not verify the adapter: %v", host, &tls)
			}
			if (san == "DNS") != (tls.GetSni() == host) {
				t.Fatalf("%s: SNI %q", host, tls.GetSni())
			}
		}
		if !found {
			t.Fatal("no adapter-github cluster")
		}
	}
}

// Responses of MCP routes — and only those — go to the authz service's response side
// (ext_proc): fail closed, never re-routing, with the ext_authz decision's metadata, bodies
// only when the processor asks (mode override), request trailers sent so they can be dropped.
func TestResponseProcessing(t *testing.T) {
	_, _, res := exampleEdge(t)
	hcm := hcmOf(t, res)
	var proc extprocv3.ExternalProcessor
	found := false
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == xds.ExtProcFilter {
			if err := f.GetTypedConfig().UnmarshalTo(&proc); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no ext_proc filter")
	}
	pm := proc.GetProcessingMode()
	if proc.GetFailureModeAllow() || proc.GetRouteCacheAction() != extprocv3.ExternalProcessor_RETAIN ||
		!proc.GetAllowModeOverride() || pm.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE ||
		pm.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND ||
		!slices.Contains(proc.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(), xds.ExtAuthzFilter) ||
		proc.GetGrpcService().GetEnvoyGrpc().GetClusterName() != model.AuthzCluster {
		t.Fatalf("ext_proc settings: %v", &proc)
	}
	rc := res[resource.RouteType][0].(*routev3.RouteConfiguration)
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		var per extprocv3.ExtProcPerRoute
		if err := r.GetTypedPerFilterConfig()[xds.ExtProcFilter].UnmarshalTo(&per); err != nil {
			t.Fatalf("route %s: %v", r.GetName(), err)
		}
		mcp := strings.HasPrefix(r.GetMatch().GetPath(), "/mcp/")
		if per.GetDisabled() == mcp {
			t.Fatalf("route %s: response processing disabled=%v", r.GetName(), per.GetDisabled())
		}
	}
}
