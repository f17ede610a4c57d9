package xds

import (
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	earlyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

// OpenTelemetryTracer is Envoy's OpenTelemetry tracer extension.
const OpenTelemetryTracer = "envoy.tracers.opentelemetry"

// tracingConfig is the listener's tracer: Envoy starts a span per request (the child of a
// client's traceparent), sends its context to the ext_authz Check and to the adapter, and
// exports over OTLP/HTTP to the collector, as the Go components do.
func tracingConfig(t *model.Tracing) (*hcmv3.HttpConnectionManager_Tracing, error) {
	otel, err := pack(&tracev3.OpenTelemetryConfig{
		HttpService: &corev3.HttpService{HttpUri: &corev3.HttpUri{
			Uri:              t.URI,
			HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: t.Cluster},
			Timeout:          dur(5 * time.Second),
		}},
		ServiceName: t.ServiceName,
	})
	if err != nil {
		return nil, err
	}
	return &hcmv3.HttpConnectionManager_Tracing{
		Provider: &tracev3.Tracing_Http{
			Name:       OpenTelemetryTracer,
			ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: otel},
		},
		// The edge decides what is traced: a client's traceparent and x-client-trace-id are
		// gone before the tracer sees the request (clientTraceHeaders), and client sampling
		// is off in any case.
		RandomSampling: &typev3.Percent{Value: t.SamplingPercent},
		ClientSampling: &typev3.Percent{Value: 0},
		// Envoy's http.url tag holds the query, where a client may put a token (refused, but
		// traced): it is cut to nothing, and spans are named after their route instead.
		// No decision id tag: on a denied request the header would still be the client's;
		// the authz span of the same trace carries it.
		MaxPathTagLength: wrapperspb.UInt32(1),
	}, nil
}

// EarlyHeaderMutation is Envoy's early header mutation extension.
const EarlyHeaderMutation = "envoy.http.early_header_mutation.header_mutation"

// clientTraceHeaders runs before anything else sees the request, tracing included: a client's
// trace context is kept for the logs as x-gatehouse-client-traceparent (the client's trace is
// the parent of the call, recorded, never continued) and removed, so that the client chooses
// neither the trace id nor whether a call is traced, and adapters and their upstreams get the
// edge's context (or none), never the client's.
func clientTraceHeaders() (*corev3.TypedExtensionConfig, error) {
	m, err := pack(&earlyv3.HeaderMutation{Mutations: []*mutationv3.HeaderMutation{
		{Action: &mutationv3.HeaderMutation_Append{Append: &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: contract.HeaderClientTraceparent, Value: "%REQ(traceparent)%"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}}},
		{Action: &mutationv3.HeaderMutation_Remove{Remove: "traceparent"}},
		{Action: &mutationv3.HeaderMutation_Remove{Remove: "tracestate"}},
		{Action: &mutationv3.HeaderMutation_Remove{Remove: "x-client-trace-id"}},
	}})
	if err != nil {
		return nil, err
	}
	return &corev3.TypedExtensionConfig{Name: EarlyHeaderMutation, TypedConfig: m}, nil
}
