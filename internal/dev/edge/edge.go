// Package edge is the Go development edge: it plays Envoy's part where no Envoy runs (local
// development and tests), with the same route model the control plane sends Envoy
// (control-plane/model) and the same gRPC ext_authz API. For every request it normalizes the
// path as Envoy's normalize_path and merge_slashes do, answers CORS preflights, buffers the
// body up to the limit (413 beyond), sends a CheckRequest shaped as Envoy's, applies the OK
// response's header mutations or returns the denial as it is, fails closed on error or
// timeout, and proxies to the adapter with responses streamed (JSON and SSE, flushed per
// event).
//
// It is a development and test edge. Production runs Envoy; differences that matter are
// listed in docs/architecture.md (no retries, no health checks, no circuit breaking).
package edge

import (
	"bytes"
	"context"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/envoycheck"

	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Options configure the edge.
type Options struct {
	Model *model.Edge
	// Authz is the ext_authz client (a gRPC connection to the authz service).
	Authz authv3.AuthorizationClient
	// Processor is the ext_proc client for responses on routes that have response
	// processing (MCP routes); usually the same connection as Authz. Nil turns it off.
	Processor extprocv3.ExternalProcessorClient
	Log       zerolog.Logger
	// InsecureTestIdentity, when set, is a bearer token the edge adds to requests from
	// loopback addresses that carry no Authorization header. It exists only so that clients
	// which cannot authenticate (the MCP conformance suite) can be run through the full
	// pipeline; the token is still verified and the policy still decides. Never set it
	// outside a test run: every use is logged as a warning.
	InsecureTestIdentity string
	// MTLS is the client certificate and CA for clusters the model marks MTLS (edge.mtls),
	// as Envoy gets them over SDS; nil loads them from the model's files.
	MTLS *tlsfiles.Source
}

// Edge is an http.Handler.
type Edge struct {
	opts    Options
	proxies map[string]*httputil.ReverseProxy
}

// New returns an edge for the model.
func New(opts Options) *Edge {
	e := &Edge{opts: opts, proxies: map[string]*httputil.ReverseProxy{}}
	if opts.MTLS == nil && opts.Model.MTLS != nil {
		m := opts.Model.MTLS
		src, err := tlsfiles.Load(tlsfiles.Files{CertFile: m.CertFile, KeyFile: m.KeyFile, CAFile: m.CAFile})
		if err != nil {
			// Every mTLS upstream then fails its handshake: the edge fails closed.
			opts.Log.Error().Err(err).Msg("edge.mtls certificates unusable; mTLS upstreams will refuse")
			src = tlsfiles.New(tlsfiles.Files{})
		}
		opts.MTLS = src
	}
	for _, c := range opts.Model.Clusters {
		scheme := "http"
		if c.TLS {
			scheme = "https"
		}
		target := &url.URL{Scheme: scheme, Host: c.Address.String()}
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}
		if c.MTLS {
			// As Envoy's UpstreamTlsContext: present the edge's certificate, accept only a
			// certificate from the mesh CA naming the expected SAN.
			tr.TLSClientConfig = opts.MTLS.ClientConfig(c.SAN)
		}
		e.proxies[c.Name] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath // rewritten by the route
				pr.Out.Host = target.Host
				pr.SetXForwarded()
			},
			Transport:      tr,
			FlushInterval:  -1, // stream SSE events as they come
			ModifyResponse: e.processResponse,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				opts.Log.Warn().Err(err).Str("gatehouse.cluster", c.Name).Str("url.path", r.URL.Path).Msg("upstream unavailable")
				http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
			},
		}
	}
	return e
}

// ServeHTTP routes one request.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &tracing.StatusRecorder{ResponseWriter: w, Status: 200}
	route := "none"
	// As the generated Envoy config's early header mutation, before anything reads the
	// request: the client's trace context is kept for the logs and removed.
	client := r.Header.Get("Traceparent")
	r.Header.Del(contract.HeaderClientTraceparent)
	if client != "" {
		r.Header.Set(contract.HeaderClientTraceparent, client)
	}
	for _, h := range []string{"Traceparent", "Tracestate", "X-Client-Trace-Id"} {
		r.Header.Del(h)
	}
	if tracing.Enabled() {
		// As Envoy's tracer: one server span per request, a trace of the edge's own.
		span := e.startSpan(r, client)
		defer func() { endSpan(span, r, rec, route) }()
		r = r.WithContext(trace.ContextWithSpan(r.Context(), span))
	}
	defer func() {
		e.opts.Log.Info().Str("event.action", "edge-access").Str("http.request.method", r.Method).
			Str("url.path", r.URL.Path).Int("http.response.status_code", rec.Status).Str("gatehouse.route", route).
			Int64("event.duration", time.Since(start).Nanoseconds()).Msg("request")
	}()

	// Envoy: path_with_escaped_slashes_action REJECT_REQUEST, normalize_path, merge_slashes.
	escaped := r.URL.EscapedPath()
	if lower := strings.ToLower(escaped); strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		http.Error(rec, "Bad Request", http.StatusBadRequest)
		return
	}
	path, ok := normalize(escaped)
	if !ok {
		http.Error(rec, "Bad Request", http.StatusBadRequest)
		return
	}
	if err := setPath(r.URL, path); err != nil {
		http.Error(rec, "Bad Request", http.StatusBadRequest)
		return
	}

	// Envoy: headers_with_underscores_action REJECT_REQUEST (an underscore header could alias
	// a dashed one behind a CGI-style upstream).
	for k := range r.Header {
		if strings.ContainsRune(k, '_') {
			http.Error(rec, "Bad Request", http.StatusBadRequest)
			return
		}
	}
	// Hop-by-hop headers end here, as in Envoy's HTTP/1 codec: authorization sees what the
	// upstream will see, and a client's "Connection: x-gatehouse-subject" cannot make the
	// reverse proxy drop a header that authorization sets.
	dropHopByHop(r.Header)

	// CORS, as Envoy's cors filter: allowed origins get their headers on every response, and
	// their preflights are answered here, before authorization.
	origin := r.Header.Get("Origin")
	allowed := origin != "" && slices.Contains(e.opts.Model.CORS.AllowedOrigins, origin)
	if allowed {
		c := e.opts.Model.CORS
		rec.Header().Set("Access-Control-Allow-Origin", origin)
		rec.Header().Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
		rec.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			rec.Header().Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ", "))
			rec.Header().Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
			rec.Header().Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
			rec.WriteHeader(http.StatusOK)
			return
		}
	}

	rt, ok := e.opts.Model.Route(path)
	if !ok {
		http.Error(rec, "not found", http.StatusNotFound)
		return
	}
	route = rt.Name
	if rt.Authz {
		r = r.WithContext(context.WithValue(r.Context(), metadataKey{}, &metadataHolder{}))
		if !e.authorize(rec, r, rt) {
			return
		}
	}
	if rt.Direct != nil {
		rec.WriteHeader(rt.Direct.Status)
		_, _ = io.WriteString(rec, rt.Direct.Body)
		return
	}
	if rt.Rewrite != "" {
		if err := setPath(r.URL, rt.Rewrite+strings.TrimPrefix(path, rt.Match.Path)); err != nil {
			http.Error(rec, "Bad Request", http.StatusBadRequest)
			return
		}
	}
	ctx := r.Context()
	timeout := rt.Timeout
	// As Envoy's router does: the authz service's x-envoy-upstream-rq-timeout-ms (the token's
	// remaining lifetime) overrides the route's timeout; a stream ends with its token.
	if v := r.Header.Get(contract.HeaderUpstreamTimeout); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		}
		r.Header.Del(contract.HeaderUpstreamTimeout)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if rt.RespondProcessing {
		ctx = context.WithValue(ctx, processKey{}, &processing{meta: metadataFrom(r.Context()), header: r.Header.Clone()})
	}
	if tracing.Enabled() {
		// Envoy sends its own span as the upstream's parent, in place of the client's.
		tracing.ToHTTP(ctx, r.Header)
	}
	e.proxies[rt.Cluster].ServeHTTP(rec, r.WithContext(ctx))
}

type processKey struct{}

// processing is what the response side of a request needs: the authz decision's dynamic
// metadata and the request headers as they went upstream.
type processing struct {
	meta   *structpb.Struct
	header http.Header
}

type metadataKey struct{}

// metadataFrom returns the dynamic metadata the authz service attached to this request.
func metadataFrom(ctx context.Context) *structpb.Struct {
	holder, _ := ctx.Value(metadataKey{}).(*metadataHolder)
	if holder == nil {
		return nil
	}
	return holder.meta
}

// metadataHolder is what the authz service said about a request: the dynamic metadata of
// an allow, and the decision id of the answer (allow or deny), never a client's header.
type metadataHolder struct {
	meta       *structpb.Struct
	decisionID string
}

// processResponse runs an upstream response through the ext_proc processor (fail closed: an
// error becomes the reverse proxy's 502).
func (e *Edge) processResponse(resp *http.Response) error {
	p, _ := resp.Request.Context().Value(processKey{}).(*processing)
	if p == nil || e.opts.Processor == nil {
		return nil
	}
	proc := &Processor{Client: e.opts.Processor}
	return proc.Process(resp.Request.Context(), p.meta, p.header, resp)
}

// dropHopByHop removes the headers RFC 9110 section 7.6.1 says a proxy must not forward:
// those named in Connection, and the hop-by-hop ones.
func dropHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}

// normalize does what Envoy's normalize_path (RFC 3986 section 6) and merge_slashes do to the
// escaped path: percent-encoded unreserved characters are decoded (so %2e%2e is a dot
// segment), other encodings are kept (upper-cased), dot segments are resolved and repeated
// slashes merged; a trailing slash stays. NUL and backslashes are refused.
func normalize(escaped string) (string, bool) {
	if escaped == "" || escaped[0] != '/' {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", false
			}
			v := unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteString("%" + strings.ToUpper(escaped[i+1:i+3]))
			}
			i += 2
		case c == '\\' || c == 0:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	p := b.String()
	trailing := strings.HasSuffix(p, "/") && len(p) > 1
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	res := "/" + strings.Join(out, "/")
	if trailing && res != "/" {
		res += "/"
	}
	return res, true
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// authorize runs the ext_authz exchanges; it reports whether the request may proceed (if
// not, the answer has been written). As the generated Envoy config does, it first sends the
// headers alone (stage "headers": route, token, scopes) and reads the body only when they
// pass, so a stranger's upload is never buffered; then it sends the body for the decision.
func (e *Edge) authorize(w http.ResponseWriter, r *http.Request, rt *model.Route) bool {
	max := rt.MaxBodyBytes
	if max == 0 {
		max = e.opts.Model.MaxBodyBytes
	}
	if r.ContentLength > int64(max) {
		http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
		return false
	}
	if e.opts.InsecureTestIdentity != "" && r.Header.Get("Authorization") == "" && isLoopback(r.RemoteAddr) {
		e.opts.Log.Warn().Str("event.action", "insecure-test-identity").Str("url.path", r.URL.Path).
			Msg("INSECURE: injecting the test identity into an unauthenticated loopback request (test runs only)")
		r.Header.Set("Authorization", "Bearer "+e.opts.InsecureTestIdentity)
	}
	// Like Envoy for an external request (use_remote_address), the edge makes the request id:
	// a client's would let it choose the id its calls are logged and traced under.
	r.Header.Set("X-Request-Id", uuid.NewString())
	if !e.check(w, r, envoycheck.Build(r, nil, contract.HeaderStageExtensions(rt.Name, rt.Server))) {
		return false
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
		if err != nil {
			http.Error(w, "Bad Request", http.StatusBadRequest)
			return false
		}
		if len(b) > max {
			http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
			return false
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
		// Request trailers are dropped: the decision was made without them, and nothing in
		// MCP sends any.
		r.Trailer = nil
	}
	return e.check(w, r, envoycheck.Build(r, body, contract.RouteExtensions(rt.Name, rt.Server)))
}

// check sends one CheckRequest and applies the answer: a denial is written to w as it came;
// an allow's header mutations are applied to r.
func (e *Edge) check(w http.ResponseWriter, r *http.Request, req *authv3.CheckRequest) bool {
	ctx, cancel := context.WithTimeout(r.Context(), e.opts.Model.Authz.Timeout)
	defer cancel()
	if tracing.Enabled() {
		// Envoy's gRPC client traces the Check as a child of the request's span.
		var span trace.Span
		stage := req.GetAttributes().GetContextExtensions()[contract.ExtensionStage]
		if stage == "" {
			stage = "body"
		}
		ctx, span = tracing.Tracer("edge").Start(ctx, "ext_authz Check", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(tracing.Check.String(stage)))
		defer span.End()
		ctx = tracing.ToGRPC(ctx)
	}
	resp, err := e.opts.Authz.Check(ctx, req)
	if err != nil {
		// failure_mode_allow: false, status_on_error: 503.
		e.opts.Log.Error().Err(err).Str("url.path", r.URL.Path).Msg("ext_authz failed; denying (fail closed)")
		w.WriteHeader(http.StatusServiceUnavailable)
		return false
	}
	if d := resp.GetDeniedResponse(); d != nil || resp.GetStatus().GetCode() != 0 {
		for _, h := range d.GetHeaders() {
			w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
			if holder, _ := r.Context().Value(metadataKey{}).(*metadataHolder); holder != nil &&
				strings.EqualFold(h.GetHeader().GetKey(), contract.HeaderDecisionID) {
				holder.decisionID = h.GetHeader().GetValue()
			}
		}
		status := int(d.GetStatus().GetCode())
		if status == 0 {
			status = http.StatusForbidden
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, d.GetBody())
		return false
	}
	holder, _ := r.Context().Value(metadataKey{}).(*metadataHolder)
	if holder != nil && resp.GetDynamicMetadata() != nil {
		holder.meta = resp.GetDynamicMetadata()
	}
	ok := resp.GetOkResponse()
	if holder != nil {
		for _, h := range ok.GetHeaders() {
			if strings.EqualFold(h.GetHeader().GetKey(), contract.HeaderDecisionID) {
				holder.decisionID = h.GetHeader().GetValue()
			}
		}
	}
	for _, h := range ok.GetHeaders() {
		k, v := h.GetHeader().GetKey(), h.GetHeader().GetValue()
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			r.Header.Add(k, v)
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if r.Header.Get(k) == "" {
				r.Header.Set(k, v)
			}
		default:
			r.Header.Set(k, v)
		}
	}
	for _, k := range ok.GetHeadersToRemove() {
		r.Header.Del(k)
	}
	return true
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setPath sets an escaped path on u, keeping its encoding for the upstream.
func setPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, escaped
	return nil
}
