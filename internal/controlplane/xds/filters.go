package xds

import (
	"strconv"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Filter names, as Envoy registers them.
const (
	CORSFilter     = wellknown.CORS
	ExtAuthzFilter = wellknown.HTTPExternalAuthorization
	RouterFilter   = wellknown.Router
)

// httpFilters is the HCM chain: cors answers preflights and decorates responses, ext_authz
// decides every request, the router forwards. Order matters: nothing between ext_authz and
// the router may change the route, or a request could be authorized for one server and sent
// to another.
func httpFilters(e *model.Edge) ([]*hcmv3.HttpFilter, error) {
	cors, err := pack(&corsv3.Cors{})
	if err != nil {
		return nil, err
	}
	authz, err := pack(extAuthz(e))
	if err != nil {
		return nil, err
	}
	router, err := pack(&routerv3.Router{SuppressEnvoyHeaders: true})
	if err != nil {
		return nil, err
	}
	return []*hcmv3.HttpFilter{
		{Name: CORSFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: cors}},
		{Name: ExtAuthzFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: authz}},
		{Name: RouterFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}},
	}, nil
}

// extAuthz calls the authz service over gRPC with the request body, and fails closed.
func extAuthz(e *model.Edge) *extauthzv3.ExtAuthz {
	return &extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: e.Authz.Cluster}},
			Timeout:         dur(e.Authz.Timeout),
		}},
		TransportApiVersion: corev3.ApiVersion_V3,
		// Fail closed: an unreachable, slow or erroring authz service denies the request.
		FailureModeAllow: false,
		StatusOnError:    &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
		WithRequestBody: &extauthzv3.BufferSettings{
			MaxRequestBytes: uint32(e.MaxBodyBytes),
			// A partial body could hide the part that matters: beyond the limit, 413.
			AllowPartialMessage: false,
			// Raw bytes: the authz service parses exactly what the adapter will receive.
			PackAsBytes: true,
		},
		// The decision applies to the route it was made for; never re-route after it.
		ClearRouteCache:        false,
		ValidateMutations:      true,
		IncludePeerCertificate: true,
	}
}

// corsPolicy is the virtual host's CORS policy (used by the cors filter).
func corsPolicy(c model.CORS) *corsv3.CorsPolicy {
	p := &corsv3.CorsPolicy{
		AllowMethods:  strings.Join(c.AllowMethods, ", "),
		AllowHeaders:  strings.Join(c.AllowHeaders, ", "),
		ExposeHeaders: strings.Join(c.ExposeHeaders, ", "),
		MaxAge:        strconv.Itoa(int(c.MaxAge.Seconds())),
	}
	for _, o := range c.AllowedOrigins {
		p.AllowOriginStringMatch = append(p.AllowOriginStringMatch, &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o},
		})
	}
	return p
}

// authzPerRoute is the route's ext_authz setting: off, or on with the server as context.
func authzPerRoute(r model.Route) *extauthzv3.ExtAuthzPerRoute {
	if !r.Authz {
		return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}}
	}
	ce := contract.RouteExtensions(r.Name, r.Server)
	return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: ce},
	}}
}
