// Package tracing is Gatehouse's OpenTelemetry tracing: one trace per MCP call, from the edge
// through the authz service and the adapter to the adapter's upstream HTTP call, joined by W3C
// trace context (traceparent). Envoy makes the edge's spans itself (its OpenTelemetry tracer,
// configured by the control plane); the Go components use this package.
//
// Tracing is off by default and costs nothing then: no span is started, no header read. It is
// configured with OpenTelemetry's standard environment variables (Setup), so an operator sets
// it as for any other OpenTelemetry service.
//
// Spans carry what identifies a call (decision id, server, tool, MCP method, outcome, the
// edge's request id) and never an argument value, a token or a URL path or query (which can
// hold argument values upstream).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
)

// Span attributes Gatehouse sets (the others are OpenTelemetry semantic conventions).
const (
	DecisionID = attribute.Key("gatehouse.decision_id")
	Server     = attribute.Key("gatehouse.server")
	Tool       = attribute.Key("gatehouse.tool")
	Outcome    = attribute.Key("gatehouse.outcome")
	Stage      = attribute.Key("gatehouse.stage") // the authz pipeline stage that decided
	// Check is which of the edge's two Checks a span is: "headers" (before the body is
	// read) or "body" (the decision).
	Check    = attribute.Key("gatehouse.check")
	Route    = attribute.Key("gatehouse.route")
	Upstream = attribute.Key("gatehouse.upstream")
	// RequestID is the edge's x-request-id, the trace.id of every log line of the call: it
	// joins a trace to the logs (a client's traceparent may choose the trace id, never this).
	RequestID = attribute.Key("gatehouse.request_id")
	// MCPMethod is the semantic conventions' name for the JSON-RPC method of an MCP message.
	MCPMethod = attribute.Key("mcp.method.name")
)

// instrumentation is the instrumentation scope prefix; Tracer appends the component.
const instrumentation = "github.com/gatehouse-mcp/gatehouse/"

var enabled atomic.Bool

// W3C trace context only: baggage from a client is not carried into our services.
var propagator = propagation.TraceContext{}

// Enabled reports whether spans are being recorded (Setup found an exporter, or a test
// installed a provider). Hot paths test it before reading any trace header.
func Enabled() bool { return enabled.Load() }

// Tracer is the tracer of one component ("edge", "authz", "adapter", "upstream").
func Tracer(component string) trace.Tracer {
	return otel.GetTracerProvider().Tracer(instrumentation + component)
}

// Install makes tp the provider every component uses (nil turns tracing off). Setup calls it;
// tests call it with an in-memory exporter.
func Install(tp trace.TracerProvider) {
	if tp == nil {
		otel.SetTracerProvider(noop.NewTracerProvider())
		enabled.Store(false)
		return
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagator)
	enabled.Store(true)
}

// ErrUnsupportedProtocol is returned for an OTLP protocol other than HTTP.
var ErrUnsupportedProtocol = errors.New("unsupported OTLP protocol")

// Setup turns tracing on when the environment asks for it, with OpenTelemetry's standard
// variables:
//
//   - OTEL_TRACES_EXPORTER: "otlp" or "none". Unset, it is "otlp" when an OTLP endpoint is set
//     (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), else "none";
//     OTEL_SDK_DISABLED=true always turns tracing off.
//   - OTLP over HTTP (http/protobuf, port 4318); the exporter reads the endpoint, headers,
//     certificates, compression and timeout variables itself. OTEL_EXPORTER_OTLP_PROTOCOL=grpc
//     is refused rather than silently ignored.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on: the
//     edge decides, every component follows); OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
//     (service defaults to the component's name).
//
// It reports what it did in one log line. shutdown flushes queued spans; call it on exit.
func Setup(ctx context.Context, service, version string, log zerolog.Logger) (shutdown func(context.Context) error, err error) {
	off := func(context.Context) error { return nil }
	exporter := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")))
	if exporter == "" {
		exporter = "none"
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			exporter = "otlp"
		}
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		exporter = "none"
	}
	switch exporter {
	case "none":
		log.Debug().Str("event.action", "tracing").Msg("tracing off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)")
		return off, nil
	case "otlp":
	default:
		return off, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", exporter)
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol != "" && protocol != "http/protobuf" {
		return off, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: %w (Gatehouse exports OTLP over HTTP, http/protobuf)", protocol, ErrUnsupportedProtocol)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return off, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	ours := []attribute.KeyValue{attribute.String("service.name", service)}
	if version != "" {
		ours = append(ours, attribute.String("service.version", version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(ours...))
	if err != nil {
		return off, fmt.Errorf("trace resource: %w", err)
	}
	// The environment's OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our defaults.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Str("event.action", "tracing").Msg("trace export failed")
	}))
	Install(tp)
	log.Info().Str("event.action", "tracing").Msg("tracing on: exporting OTLP over HTTP")
	return func(ctx context.Context) error {
		Install(nil)
		return tp.Shutdown(ctx)
	}, nil
}

// Stop sends the spans still queued (waiting at most 5 s) before the process exits: defer it
// after Setup.
func Stop(shutdown func(context.Context) error, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Warn().Err(err).Str("event.action", "tracing").Msg("queued spans were not all exported")
	}
}

// FromHTTP returns ctx with the remote span context of h's traceparent, if valid.
func FromHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// ToHTTP replaces h's trace context with ctx's span (what Envoy does for its upstream).
func ToHTTP(ctx context.Context, h http.Header) {
	h.Del("Traceparent")
	h.Del("Tracestate")
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// FromGRPC returns ctx with the remote span context of the incoming gRPC metadata (Envoy's
// gRPC clients, ext_authz and ext_proc, send their span there).
func FromGRPC(ctx context.Context) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	return propagator.Extract(ctx, mdCarrier(md))
}

// ToGRPC returns ctx with its span context added to the outgoing gRPC metadata.
func ToGRPC(ctx context.Context) context.Context {
	md := metadata.MD{}
	propagator.Inject(ctx, mdCarrier(md))
	for k, vs := range md {
		for _, v := range vs {
			ctx = metadata.AppendToOutgoingContext(ctx, k, v)
		}
	}
	return ctx
}

type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if vs := metadata.MD(c).Get(key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
