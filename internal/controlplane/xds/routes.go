package xds

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// Routes is the edge's route configuration: one virtual host, the model's routes in order.
func Routes(e *model.Edge) (*routev3.RouteConfiguration, error) {
	cors, err := pack(corsPolicy(e.CORS))
	if err != nil {
		return nil, err
	}
	vh := &routev3.VirtualHost{
		Name:                 "gatehouse",
		Domains:              []string{"*"},
		TypedPerFilterConfig: map[string]*anypb.Any{CORSFilter: cors},
	}
	for _, r := range e.Routes {
		rt, err := route(r)
		if err != nil {
			return nil, err
		}
		if e.Tracing != nil {
			// Spans are named after the route: the URL tag is cut (tracingConfig).
			rt.Decorator = &routev3.Decorator{Operation: "ingress " + r.Name}
		}
		vh.Routes = append(vh.Routes, rt)
	}
	// No request_headers_to_remove here: the router applies it after ext_authz, so it would
	// delete the identity headers the authz service sets. The authz service removes the
	// client's own x-gatehouse-* headers instead.
	rc := &routev3.RouteConfiguration{
		Name:         RouteName,
		VirtualHosts: []*routev3.VirtualHost{vh},
	}
	if e.TLS != nil && e.TLS.HSTSMaxAge > 0 {
		// Every response, including the edge's own (401, 404, health), tells browsers to use
		// https only from now on.
		rc.ResponseHeadersToAdd = []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "strict-transport-security", Value: HSTS(e.TLS.HSTSMaxAge)},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}}
	}
	return rc, validate(rc)
}

func route(r model.Route) (*routev3.Route, error) {
	authn, err := pack(authnPerRoute(r))
	if err != nil {
		return nil, err
	}
	authz, err := pack(authzPerRoute(r))
	if err != nil {
		return nil, err
	}
	proc, err := pack(procPerRoute(r))
	if err != nil {
		return nil, err
	}
	rt := &routev3.Route{
		Name:                 r.Name,
		TypedPerFilterConfig: map[string]*anypb.Any{AuthnFilter: authn, ExtAuthzFilter: authz, ExtProcFilter: proc},
	}
	if r.Match.Prefix {
		rt.Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: r.Match.Path}}
	} else {
		rt.Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: r.Match.Path}}
	}
	if r.Direct != nil {
		rt.Action = &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
			Status: uint32(r.Direct.Status),
			Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: r.Direct.Body}},
		}}
		return rt, nil
	}
	ra := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: r.Cluster},
		Timeout:          dur(r.Timeout),
	}
	if r.IdleTimeout > 0 {
		ra.IdleTimeout = dur(r.IdleTimeout)
	}
	if r.Rewrite != "" {
		ra.PrefixRewrite = r.Rewrite
	}
	if r.Retry != nil {
		ra.RetryPolicy = &routev3.RetryPolicy{
			RetryOn:    joinComma(r.Retry.On),
			NumRetries: wrapperspb.UInt32(r.Retry.NumRetries),
		}
	}
	rt.Action = &routev3.Route_Route{Route: ra}
	return rt, nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// HSTS is the Strict-Transport-Security value for maxAge.
func HSTS(maxAge time.Duration) string {
	return fmt.Sprintf("max-age=%d; includeSubDomains", int64(maxAge.Seconds()))
}

// redirectRoutes answers every plain-HTTP request with a 301 to the same URL on https.
func redirectRoutes(t *model.ListenerTLS) *routev3.RouteConfiguration {
	redirect := &routev3.RedirectAction{
		SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true},
		ResponseCode:           routev3.RedirectAction_MOVED_PERMANENTLY,
	}
	if t.RedirectPort != 0 {
		redirect.PortRedirect = t.RedirectPort
	}
	return &routev3.RouteConfiguration{
		Name: RedirectRouteName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name: "https-redirect", Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Name:   "https-redirect",
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Redirect{Redirect: redirect},
			}},
		}},
	}
}
