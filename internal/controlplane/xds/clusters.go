package xds

import (
	"net"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Clusters are the model's upstreams, each with its endpoint inline.
func Clusters(e *model.Edge) ([]*clusterv3.Cluster, error) {
	out := make([]*clusterv3.Cluster, 0, len(e.Clusters))
	for _, c := range e.Clusters {
		cl, err := cluster(c)
		if err != nil {
			return nil, err
		}
		out = append(out, cl)
	}
	return out, nil
}

func cluster(c model.Cluster) (*clusterv3.Cluster, error) {
	discovery := clusterv3.Cluster_STRICT_DNS
	if ip := net.ParseIP(c.Address.Host); ip != nil {
		discovery = clusterv3.Cluster_STATIC
	}
	cl := &clusterv3.Cluster{
		Name:                 c.Name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discovery},
		ConnectTimeout:       dur(c.ConnectTimeout),
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
		DnsLookupFamily:      clusterv3.Cluster_V4_PREFERRED,
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: c.Name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Protocol: corev3.SocketAddress_TCP, Address: c.Address.Host,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: c.Address.Port},
					}}},
				}},
			}}}},
		},
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			Priority:           corev3.RoutingPriority_DEFAULT,
			MaxConnections:     wrapperspb.UInt32(c.Limits.MaxConnections),
			MaxPendingRequests: wrapperspb.UInt32(c.Limits.MaxPendingRequests),
			MaxRequests:        wrapperspb.UInt32(c.Limits.MaxRequests),
			MaxRetries:         wrapperspb.UInt32(c.Limits.MaxRetries),
		}}},
		// An adapter that fails health checks stops getting traffic; a bad host is ejected
		// after consecutive 5xx.
		OutlierDetection: &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(5)},
	}
	if c.HealthCheck != (model.HealthCheck{}) { // the trace collector has no health endpoint
		cl.HealthChecks = []*corev3.HealthCheck{healthCheck(c.HealthCheck)}
	}
	if c.HTTP2 {
		opts, err := pack(&upstreamhttpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
				ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
						Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
					},
				},
			},
		})
		if err != nil {
			return nil, err
		}
		cl.TypedExtensionProtocolOptions = map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts,
		}
	}
	if c.TLS {
		ctx := upstreamTLS(c)
		if c.MTLS {
			ctx = upstreamMTLS(c)
		}
		tls, err := pack(ctx)
		if err != nil {
			return nil, err
		}
		cl.TransportSocket = &corev3.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: tls},
		}
	}
	return cl, validate(cl)
}

// upstreamTLS verifies the adapter: its certificate must chain to the CA bundle and name the
// upstream host (without a validation context Envoy would accept any certificate, and anyone
// on the path could read every authorized call and forge results).
func upstreamTLS(c model.Cluster) *tlsv3.UpstreamTlsContext {
	san := &tlsv3.SubjectAltNameMatcher{
		SanType: tlsv3.SubjectAltNameMatcher_DNS,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: c.Address.Host}},
	}
	ctx := &tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa:                 &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: c.CAFile}},
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{san},
			}},
		},
	}
	if net.ParseIP(c.Address.Host) != nil {
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS // and no SNI: it carries host names only
	} else {
		ctx.Sni = c.Address.Host
	}
	return ctx
}

// upstreamMTLS presents Envoy's client certificate and checks the upstream's against the
// mesh CA and the expected DNS SAN, all over SDS so that a rotation needs no Envoy restart.
func upstreamMTLS(c model.Cluster) *tlsv3.UpstreamTlsContext {
	ctx := &tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsSecret(SecretUpstreamClient)},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
				CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
					DefaultValidationContext: &tlsv3.CertificateValidationContext{
						MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
							SanType: tlsv3.SubjectAltNameMatcher_DNS,
							Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: c.SAN}},
						}},
					},
					ValidationContextSdsSecretConfig: sdsSecret(SecretUpstreamCA),
				},
			},
		},
	}
	if net.ParseIP(c.SAN) != nil {
		san := ctx.CommonTlsContext.GetCombinedValidationContext().DefaultValidationContext.MatchTypedSubjectAltNames[0]
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
	}
	if c.HTTP2 {
		ctx.CommonTlsContext.AlpnProtocols = []string{"h2"} // gRPC
	}
	if net.ParseIP(c.Address.Host) == nil {
		ctx.Sni = c.Address.Host
	}
	return ctx
}

func healthCheck(h model.HealthCheck) *corev3.HealthCheck {
	hc := &corev3.HealthCheck{
		Timeout:            dur(h.Timeout),
		Interval:           dur(h.Interval),
		UnhealthyThreshold: wrapperspb.UInt32(h.UnhealthyThreshold),
		HealthyThreshold:   wrapperspb.UInt32(h.HealthyThreshold),
	}
	if h.GRPC {
		hc.HealthChecker = &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{}}
	} else {
		hc.HealthChecker = &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{Path: h.Path}}
	}
	return hc
}
