package xds

import (
	"strconv"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Filter names. Two ext_authz filters run: the first (AuthnFilter) with the headers only,
// the second (ExtAuthzFilter) with the body.
const (
	CORSFilter     = wellknown.CORS
	AuthnFilter    = "gatehouse.authn"
	ExtAuthzFilter = wellknown.HTTPExternalAuthorization
	ExtProcFilter  = "envoy.filters.http.ext_proc"
	RouterFilter   = wellknown.Router
)

// httpFilters is the HCM chain: cors answers preflights and decorates responses; the
// headers-only ext_authz (route, token, scopes) runs at the request's headers, before any
// body is buffered, so a stranger's upload is refused without costing memory; the body
// ext_authz decides; the router forwards. Order matters: nothing between ext_authz and the
// router may change the route, or a request could be authorized for one server and sent to
// another.
//
// A header-only ext_authz stage was chosen over jwt_authn: it runs the authz service's own
// token checks (audience per server, ID-token refusal, at+jwt, the same JWKS cache) and
// answers with the same WWW-Authenticate challenges, instead of a second implementation
// configured to agree.
func httpFilters(e *model.Edge) ([]*hcmv3.HttpFilter, error) {
	cors, err := pack(&corsv3.Cors{})
	if err != nil {
		return nil, err
	}
	authn, err := pack(extAuthz(e, false))
	if err != nil {
		return nil, err
	}
	authz, err := pack(extAuthz(e, true))
	if err != nil {
		return nil, err
	}
	proc, err := pack(extProc(e))
	if err != nil {
		return nil, err
	}
	router, err := pack(&routerv3.Router{SuppressEnvoyHeaders: true})
	if err != nil {
		return nil, err
	}
	return []*hcmv3.HttpFilter{
		{Name: CORSFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: cors}},
		{Name: AuthnFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: authn}},
		{Name: ExtAuthzFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: authz}},
		{Name: ExtProcFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: proc}},
		{Name: RouterFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}},
	}, nil
}

// extAuthz calls the authz service over gRPC, with the request body or without, and fails
// closed. The body limit here is the edge's; routes set their server's.
func extAuthz(e *model.Edge, withBody bool) *extauthzv3.ExtAuthz {
	a := &extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: e.Authz.Cluster}},
			Timeout:         dur(e.Authz.Timeout),
		}},
		TransportApiVersion: corev3.ApiVersion_V3,
		// Fail closed: an unreachable, slow or erroring authz service denies the request.
		FailureModeAllow: false,
		StatusOnError:    &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
		WithRequestBody:  bufferSettings(e.MaxBodyBytes),
		// The decision applies to the route it was made for; never re-route after it.
		ClearRouteCache:        false,
		ValidateMutations:      true,
		IncludePeerCertificate: true,
	}
	if !withBody {
		a.WithRequestBody = nil
	}
	return a
}

// extProc sends responses of MCP routes to the authz service's response side (the same
// gRPC port): their headers always (session ids are bound to the caller), their bodies when
// the processor asks for them (lists to filter: streamed, so Envoy's buffers stay small;
// server-sent events pass event by event). The authz decision reaches the processor as the
// ext_authz filter's dynamic metadata. Request trailers go to it too, to be dropped. It
// fails closed and never changes the route.
func extProc(e *model.Edge) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: e.Authz.Cluster}},
			Timeout:         dur(e.Authz.Timeout),
		},
		FailureModeAllow: false,
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SEND,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		AllowModeOverride: true,
		MessageTimeout:    dur(e.Authz.Timeout),
		MetadataOptions: &extprocv3.MetadataOptions{ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{
			Untyped: []string{ExtAuthzFilter},
		}},
		RouteCacheAction: extprocv3.ExternalProcessor_RETAIN,
	}
}

// procPerRoute turns response processing off except on MCP routes.
func procPerRoute(r model.Route) *extprocv3.ExtProcPerRoute {
	if r.RespondProcessing {
		return &extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{}}}
	}
	return &extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}}
}

// bufferSettings are the body ext_authz's buffer settings for a limit.
func bufferSettings(limit int) *extauthzv3.BufferSettings {
	return &extauthzv3.BufferSettings{
		MaxRequestBytes: uint32(limit),
		// A partial body could hide the part that matters: beyond the limit, 413.
		AllowPartialMessage: false,
		// Raw bytes: the authz service parses exactly what the adapter will receive.
		PackAsBytes: true,
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

// authnPerRoute is the route's headers-only ext_authz setting: off, or on with the server
// and stage "headers" as context.
func authnPerRoute(r model.Route) *extauthzv3.ExtAuthzPerRoute {
	if !r.Authz {
		return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}}
	}
	return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: contract.HeaderStageExtensions(r.Name, r.Server)},
	}}
}

// authzPerRoute is the route's body ext_authz setting: off, or on with the server as context
// and the server's body limit.
func authzPerRoute(r model.Route) *extauthzv3.ExtAuthzPerRoute {
	if !r.Authz {
		return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}}
	}
	cs := &extauthzv3.CheckSettings{ContextExtensions: contract.RouteExtensions(r.Name, r.Server)}
	if r.MaxBodyBytes > 0 {
		cs.WithRequestBody = bufferSettings(r.MaxBodyBytes)
	}
	return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{CheckSettings: cs}}
}
