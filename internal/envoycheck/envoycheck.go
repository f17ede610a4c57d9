// Package envoycheck builds the CheckRequest Envoy's ext_authz filter sends for an HTTP
// request, as the control plane configures it (with_request_body, pack_as_bytes): lower-cased
// headers with repeated ones joined by ",", the pseudo-headers, the path with its query, the
// body as raw_body, the peers, and the route's context_extensions. The dev edge sends what it
// builds, and the authz service's tests use the same builder (through internal/testkit), so
// that what is tested is what Envoy sends.
package envoycheck

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Build returns the CheckRequest for r, whose body (already buffered) is body, on a route
// with the given context_extensions (contract.RouteExtensions).
//
// Envoy passes the client's Content-Length as it was sent; net/http keeps it in
// r.ContentLength rather than in r.Header, so it is put back from there.
func Build(r *http.Request, body []byte, extensions map[string]string) *authv3.CheckRequest {
	hs := make(map[string]string, len(r.Header)+6)
	for k, vs := range r.Header {
		hs[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	hs[":authority"], hs[":method"], hs[":path"], hs[":scheme"] = r.Host, r.Method, p, scheme
	hs["x-forwarded-proto"] = scheme
	if r.ContentLength > 0 || (r.ContentLength == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead) {
		hs["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(r.RemoteAddr)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress(localAddr(r))},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(time.Now()),
			Http: &authv3.AttributeContext_HttpRequest{
				Id: r.Header.Get("X-Request-Id"), Method: r.Method, Headers: hs, Path: p, Host: r.Host,
				Scheme: scheme, Protocol: r.Proto, Size: int64(len(body)), RawBody: body,
			},
		},
		ContextExtensions: extensions,
	}}
}

func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

func socketAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, _ := strconv.ParseUint(port, 10, 32)
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}
