package xds

import (
	"sort"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

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
	tags := make([]*tracingv3.CustomTag, 0, len(t.TagHeaders))
	for tag, header := range t.TagHeaders {
		tags = append(tags, &tracingv3.CustomTag{Tag: tag, Type: &tracingv3.CustomTag_RequestHeader{
			RequestHeader: &tracingv3.CustomTag_Header{Name: header},
		}})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Tag < tags[j].Tag })
	return &hcmv3.HttpConnectionManager_Tracing{
		Provider: &tracev3.Tracing_Http{
			Name:       OpenTelemetryTracer,
			ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: otel},
		},
		RandomSampling: &typev3.Percent{Value: t.SamplingPercent},
		// Envoy also tags http.url (path and query): no Gatehouse route takes arguments in
		// either (MCP and the REST bridge carry them in the body).
		CustomTags: tags,
	}, nil
}
