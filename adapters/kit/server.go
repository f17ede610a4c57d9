// Package kit is everything a Gatehouse adapter shares: a stateless MCP server over
// streamable HTTP (mark3labs/mcp-go) at /mcp with /healthz, /readyz and /metrics; tool
// declarations that must state their action class and all four annotations; credentials
// through a SecretSource (HashiCorp Vault or the environment); an upstream HTTP client with
// safe retries; and ECS logs and Prometheus metrics that join up with the edge's decision log.
//
// An adapter contains no authentication or authorization code: the edge has already
// verified the caller and the policy allowed the call before a request reaches it.
package kit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
)

// Path is where every adapter serves MCP; the edge rewrites /mcp/<server> to it.
const Path = contract.AdapterPath

// Options configure a Server.
type Options struct {
	// Name is the server's name in the platform config (catalyst-center); it labels
	// metrics and logs and is the MCP server name.
	Name    string
	Version string
	// Instructions are sent to clients at initialization.
	Instructions string
	Logger       zerolog.Logger
	// Registry receives the metrics; nil makes a fresh one.
	Registry *prometheus.Registry
	// Ready reports whether the adapter can serve (credentials readable, upstream known).
	Ready func(ctx context.Context) error
}

// Server is one adapter.
type Server struct {
	opts     Options
	mcp      *server.MCPServer
	http     *server.StreamableHTTPServer
	declared []Declared
	errs     []error
	log      zerolog.Logger
	Registry *prometheus.Registry
	Metrics  *Metrics
}

// NewServer returns an adapter server; register tools with Add, then call Run.
func NewServer(opts Options) *Server {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{opts: opts, log: opts.Logger.With().Str("gatehouse.server", opts.Name).Logger(), Registry: reg}
	s.Metrics = newMetrics(reg)
	s.mcp = server.NewMCPServer(opts.Name, opts.Version,
		server.WithToolCapabilities(false),
		server.WithInstructions(opts.Instructions),
		server.WithRecovery(),
		// No server.WithInputSchemaValidation(): Add checks arguments against the same
		// schema itself, so that a bad call is answered in words (args.go).
	)
	s.http = server.NewStreamableHTTPServer(s.mcp,
		server.WithEndpointPath(Path),
		// Any replica serves any request: no session state lives in an adapter.
		server.WithStateLess(true),
		server.WithHTTPContextFunc(withCaller),
	)
	return s
}

// Declared lists the registered tools (for the pinned catalog).
func (s *Server) Declared() []Declared { return append([]Declared(nil), s.declared...) }

// Err reports every tool that could not be registered.
func (s *Server) Err() error { return errors.Join(s.errs...) }

// Name is the server's name.
func (s *Server) Name() string { return s.opts.Name }

// SetReady sets the readiness check /readyz runs (Options.Ready), for adapters whose check
// exists only once Setup has built the upstream client. Call it before Run or Handler.
func (s *Server) SetReady(ready func(ctx context.Context) error) { s.opts.Ready = ready }

// Handler is the adapter's HTTP surface: /mcp, /healthz, /readyz, /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, s.traced(s.http))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := s.opts.Ready(ctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	return mux
}

// Run serves plain HTTP on lis until ctx ends, then drains in-flight calls for up to grace.
// Plain HTTP believes identity headers from anyone who reaches lis: use Serve with the
// edge's mTLS settings (TLSFlags) in production.
func (s *Server) Run(ctx context.Context, lis net.Listener, grace time.Duration) error {
	return s.Serve(ctx, lis, grace, nil)
}

// Serve is Run over TLS when tlsCfg is set (from TLSFlags or tlsfiles: certificates are
// taken per handshake, so a rotated one is served without a restart).
func (s *Server) Serve(ctx context.Context, lis net.Listener, grace time.Duration, tlsCfg *tls.Config) error {
	if err := s.Err(); err != nil {
		return err
	}
	// A client without the edge's certificate fails the handshake: an ECS line, not stderr text.
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg,
		ErrorLog: ecslog.HTTPErrorLog(s.log, 10)}
	errc := make(chan error, 1)
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
		go func() { errc <- hs.ServeTLS(lis, "", "") }()
	} else {
		go func() { errc <- hs.Serve(lis) }()
	}
	s.log.Info().Str("event.action", "start").Str("url.full", scheme+"://"+lis.Addr().String()+Path).
		Int("gatehouse.tools", len(s.declared)).Msg("adapter listening")
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info().Str("event.action", "stop").Msg("adapter shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// call runs one tool call with metrics and one log line, and turns an error into an isError
// result that says what failed (MCP: tool errors are results, so the model can read them).
func (s *Server) call(ctx context.Context, tool string, run func(context.Context) (*mcp.CallToolResult, error)) (*mcp.CallToolResult, error) {
	start := time.Now()
	ctx, endSpan := s.traceTool(ctx, tool)
	res, err := run(ctx)
	outcome := "success"
	if err != nil {
		outcome = "error"
		res = mcp.NewToolResultError(err.Error())
	} else if res != nil && res.IsError {
		outcome = "error"
	}
	endSpan(outcome)
	elapsed := time.Since(start)
	s.Metrics.toolCalls.WithLabelValues(s.opts.Name, tool, outcome).Inc()
	s.Metrics.toolDuration.WithLabelValues(s.opts.Name, tool).Observe(elapsed.Seconds())
	c := callerFrom(ctx)
	ev, evOutcome := s.log.Info(), "success"
	if outcome != "success" {
		ev, evOutcome = s.log.Warn(), "failure"
		if err != nil {
			ev = ev.Str("error.message", err.Error())
		}
	}
	if c.parentTraceID != "" {
		ev = ev.Str("gatehouse.parent_trace_id", c.parentTraceID)
	}
	ev.Str("event.kind", "event").Str("event.action", "tool-call").Str("event.outcome", evOutcome).
		Int64("event.duration", elapsed.Nanoseconds()).Str("gatehouse.tool", tool).
		Str("user.id", c.subject).Str("gatehouse.decision_id", c.decisionID).Str("trace.id", c.traceID).
		Msg("tool call")
	return res, nil
}

// caller is what the edge says about a request (it removed any client-sent copies).
type caller struct {
	subject, email, decisionID, traceID, parentTraceID string
}

type callerKey struct{}

// withCaller reads the edge's identity headers and the trace ids: trace.id is the edge's
// request id (the edge makes it, so it joins this line to the edge's decision log); a
// client's W3C traceparent is only the parent, never trusted as our own id.
func withCaller(ctx context.Context, r *http.Request) context.Context {
	c := caller{
		subject:    r.Header.Get(contract.HeaderSubject),
		email:      r.Header.Get(contract.HeaderEmail),
		decisionID: r.Header.Get(contract.HeaderDecisionID),
		traceID:    r.Header.Get("X-Request-Id"),
	}
	if id, ok := contract.TraceID(r.Header.Get("Traceparent")); ok {
		c.parentTraceID = id
	}
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// Subject returns the caller's subject as the edge asserted it, for audit fields upstream
// (a change ticket's "requested by"). Never use it to decide anything: the policy already did.
func Subject(ctx context.Context) string { return callerFrom(ctx).subject }

// Email returns the caller's email as the edge asserted it from the verified token (empty
// when the token has none), to find the caller's own records upstream ("my incidents").
func Email(ctx context.Context) string { return callerFrom(ctx).email }

// DecisionID returns the edge's decision id for this call, to join audit trails.
func DecisionID(ctx context.Context) string { return callerFrom(ctx).decisionID }

// EdgeTaskID is the adapter's own task id inside the id a client sent through the edge. The
// edge hands clients task ids bound to them (wrapped with a MAC over caller and server) and
// refuses any other before the request arrives; the body still carries the wrapped form, so
// an adapter that serves MCP tasks reads its id with this. An id that is not wrapped (a REST
// bridge task path, or a direct call in a test) is returned as it is.
func EdgeTaskID(id string) string {
	if inner, ok := binding.Inner(id); ok {
		return inner
	}
	return id
}
