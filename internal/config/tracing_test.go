package config

import (
	"strings"
	"testing"
)

func TestEdgeTracingDefaultsAndValidation(t *testing.T) {
	base := "public_url: https://mcp.example.com\noidc: {issuer: https://idp.example.com}\nservers: [{name: github, upstream: 'http://github:8080'}]\n"
	cfg, err := Parse([]byte(base + "edge: {tracing: {otlp_endpoint: 'http://otel-collector:4318'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tr := cfg.Edge.Tracing; tr.OTLPEndpoint != "http://otel-collector:4318/v1/traces" || *tr.SamplingPercent != 100 || tr.ServiceName != "gatehouse-edge" {
		t.Errorf("defaults: %s %v %s", tr.OTLPEndpoint, *tr.SamplingPercent, tr.ServiceName)
	}
	cfg, err = Parse([]byte(base))
	if err != nil || cfg.Edge.Tracing.Enabled() {
		t.Fatalf("tracing must be off unless configured: %v %+v", err, cfg.Edge.Tracing)
	}
	for name, tc := range map[string]struct{ yaml, field string }{
		"grpc endpoint":       {"edge: {tracing: {otlp_endpoint: 'otel-collector:4317'}}\n", "edge.tracing.otlp_endpoint"},
		"sampling over 100":   {"edge: {tracing: {otlp_endpoint: 'http://c:4318', sampling_percent: 150}}\n", "edge.tracing.sampling_percent"},
		"sampling without it": {"edge: {tracing: {sampling_percent: 5}}\n", "edge.tracing: sampling_percent"},
	} {
		_, err := Parse([]byte(base + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: want an error naming %q, got %v", name, tc.field, err)
		}
	}
}
