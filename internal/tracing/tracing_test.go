package tracing_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

func clearEnv(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME"} {
		t.Setenv(k, "")
	}
}

// Off unless asked: no exporter, nothing recorded, no header read.
func TestOffByDefault(t *testing.T) {
	clearEnv(t)
	var buf bytes.Buffer
	shutdown, err := tracing.Setup(t.Context(), "gatehouse-test", "dev", zerolog.New(&buf))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	if tracing.Enabled() || !strings.Contains(buf.String(), "tracing off") {
		t.Fatalf("enabled %v; log %s", tracing.Enabled(), buf.String())
	}
}

func TestSetupRefusesWhatItCannotDo(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"grpc protocol":    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"unknown exporter": {"OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			if _, err := tracing.Setup(t.Context(), "gatehouse-test", "dev", zerolog.Nop()); err == nil {
				t.Fatal("accepted")
			} else if name == "grpc protocol" && !errors.Is(err, tracing.ErrUnsupportedProtocol) {
				t.Fatalf("error %v", err)
			}
			if tracing.Enabled() {
				t.Fatal("tracing on after a refused setup")
			}
		})
	}
}

// With an endpoint set, spans reach an OTLP/HTTP collector, named for the service.
func TestExportsOTLPOverHTTP(t *testing.T) {
	clearEnv(t)
	var mu sync.Mutex
	var got []*collectorpb.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			rd = z
		}
		b, _ := io.ReadAll(rd)
		req := &collectorpb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, req) != nil {
			http.Error(w, "bad export", 400)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	shutdown, err := tracing.Setup(t.Context(), "gatehouse-authz", "1.2.3", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if !tracing.Enabled() {
		t.Fatal("not enabled with an endpoint set")
	}
	_, span := tracing.Tracer("authz").Start(t.Context(), "authz Check")
	span.SetAttributes(tracing.Outcome.String("allow"))
	span.End()
	if err := shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if tracing.Enabled() {
		t.Fatal("still enabled after shutdown")
	}
	mu.Lock()
	defer mu.Unlock()
	var service, name string
	for _, req := range got {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					name = sp.GetName()
				}
			}
		}
	}
	if service != "gatehouse-authz" || name != "authz Check" {
		t.Fatalf("collector got service %q span %q", service, name)
	}
}

func install(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Install(tp)
	t.Cleanup(func() { tracing.Install(nil) })
	return exp
}

// The upstream call is a client span of the caller's trace, its traceparent replaces any the
// request had, and neither the path nor the query (argument values) is recorded.
func TestTransport(t *testing.T) {
	exp := install(t)
	var sent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer upstream.Close()
	ctx, parent := tracing.Tracer("adapter").Start(t.Context(), "tools/call get_incident")
	req, _ := http.NewRequestWithContext(ctx, "GET", upstream.URL+"/api/now/table/incident/INC0012345?sysparm_query=secret-term", nil)
	req.Header.Set("Traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
	resp, err := (&http.Client{Transport: tracing.Transport(nil, "servicenow")}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.GetSpans()) != 0 {
		t.Fatal("the span ended before the body was closed")
	}
	_ = resp.Body.Close()
	parent.End()
	if req.Header.Get("Traceparent") != "00-11111111111111111111111111111111-2222222222222222-01" {
		t.Error("the caller's request was changed")
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	up := spans[0]
	if up.SpanKind != trace.SpanKindClient || up.Parent.SpanID() != parent.SpanContext().SpanID() || up.Status.Code.String() != "Error" {
		t.Fatalf("upstream span %+v", up)
	}
	want := "00-" + up.SpanContext.TraceID().String() + "-" + up.SpanContext.SpanID().String() + "-01"
	if sent != want {
		t.Errorf("upstream got traceparent %q, want %q", sent, want)
	}
	for _, kv := range up.Attributes {
		if v := kv.Value.String(); strings.Contains(v, "INC0012345") || strings.Contains(v, "secret-term") {
			t.Errorf("attribute %s = %q records the path or query", kv.Key, v)
		}
	}
}

// A traceparent the W3C grammar refuses starts a new trace rather than being half-used.
func TestFromHTTPIgnoresInvalidTraceparent(t *testing.T) {
	install(t)
	for _, tp := range []string{"", "00-00000000000000000000000000000000-2222222222222222-01",
		"ff-11111111111111111111111111111111-2222222222222222-01", "00-1111-2222-01", "garbage"} {
		h := http.Header{}
		if tp != "" {
			h.Set("Traceparent", tp)
		}
		if sc := trace.SpanContextFromContext(tracing.FromHTTP(t.Context(), h)); sc.IsValid() {
			t.Errorf("%q gave a parent %v", tp, sc)
		}
	}
	h := http.Header{"Traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}
	if sc := trace.SpanContextFromContext(tracing.FromHTTP(t.Context(), h)); !sc.IsRemote() || sc.TraceID().String() != "11111111111111111111111111111111" {
		t.Errorf("valid traceparent gave %v", sc)
	}
}
