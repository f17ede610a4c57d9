package xds

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Resource names.
const (
	ListenerName         = "gatehouse-edge"
	RouteName            = "gatehouse-routes"
	RedirectListenerName = "gatehouse-edge-http-redirect"
	RedirectRouteName    = "gatehouse-https-redirect"
)

// adsSource says "fetch it over the same ADS stream".
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// Listener is the edge's one HTTP listener.
func Listener(e *model.Edge) (*listenerv3.Listener, error) {
	filters, err := httpFilters(e)
	if err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		StatPrefix: "gatehouse",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: RouteName,
		}},
		HttpFilters: filters,
		// Route and authorize on one canonical path: /a/../b, //b and %2F tricks never reach
		// a route other than the one they resolve to, and escaped slashes are refused.
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_REJECT_REQUEST,
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{
			// x_gatehouse_subject must not become x-gatehouse-subject somewhere upstream.
			HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_REJECT_REQUEST,
			IdleTimeout:                  dur(time.Hour),
		},
		UseRemoteAddress:      wrapperspb.Bool(true),
		StreamIdleTimeout:     dur(e.StreamIdleTimeout),
		RequestHeadersTimeout: dur(10 * time.Second),
		// Receiving the request (headers and body) must finish within a minute: a slow
		// upload must not hold a connection until the idle timeout. This does not bound
		// responses, so long SSE streams are unaffected.
		RequestTimeout: dur(time.Minute),
		ServerName:     "gatehouse",
	}
	early, err := clientTraceHeaders()
	if err != nil {
		return nil, err
	}
	hcm.EarlyHeaderMutationExtensions = []*corev3.TypedExtensionConfig{early}
	if e.Tracing != nil {
		t, err := tracingConfig(e.Tracing)
		if err != nil {
			return nil, err
		}
		hcm.Tracing = t
	}
	cfg, err := pack(hcm)
	if err != nil {
		return nil, err
	}
	l := &listenerv3.Listener{
		Name: ListenerName,
		// Small connection buffers: what a client sends beyond them waits in its socket (flow
		// control) until the edge wants it. The body ext_authz raises its own stream's limit
		// to the route's body limit, and only for callers the headers-only stage let through.
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(32 << 10),
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Protocol: corev3.SocketAddress_TCP, Address: e.Listener.Host,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: e.Listener.Port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: cfg},
			}},
		}},
	}
	if e.TLS != nil {
		// The certificate arrives over SDS: a new one is pushed when its files change and
		// Envoy uses it for new connections without a restart or a listener drain.
		tls, err := pack(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsSecret(SecretEdgeCert)},
			AlpnProtocols:                  []string{"h2", "http/1.1"},
		}})
		if err != nil {
			return nil, err
		}
		l.FilterChains[0].TransportSocket = &corev3.TransportSocket{
			Name: wellknown.TransportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: tls},
		}
	}
	return l, validate(l)
}

// RedirectListener is the plain-HTTP listener that sends every request to https; nil when
// edge.tls.redirect_listen is not set.
func RedirectListener(e *model.Edge) (*listenerv3.Listener, error) {
	if e.TLS == nil || e.TLS.Redirect == nil {
		return nil, nil
	}
	router, err := pack(&routerv3.Router{SuppressEnvoyHeaders: true})
	if err != nil {
		return nil, err
	}
	hcm, err := pack(&hcmv3.HttpConnectionManager{
		CodecType:             hcmv3.HttpConnectionManager_AUTO,
		StatPrefix:            "gatehouse_redirect",
		RouteSpecifier:        &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: redirectRoutes(e.TLS)},
		HttpFilters:           []*hcmv3.HttpFilter{{Name: RouterFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
		RequestHeadersTimeout: dur(10 * time.Second),
		ServerName:            "gatehouse",
	})
	if err != nil {
		return nil, err
	}
	l := &listenerv3.Listener{
		Name:                          RedirectListenerName,
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(16 << 10),
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Protocol: corev3.SocketAddress_TCP, Address: e.TLS.Redirect.Host,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: e.TLS.Redirect.Port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: wellknown.HTTPConnectionManager, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
		}}}},
	}
	return l, validate(l)
}
