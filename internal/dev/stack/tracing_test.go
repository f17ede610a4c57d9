package stack_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// One trace per MCP call: the client's span is the parent of the edge's; the edge's Checks
// are the parents of the authz service's spans; the edge's span is the adapter's parent, the
// tool call its child and the upstream HTTP call the tool call's. A denied call's trace ends
// at the authz service. Spans carry the decision id, server, tool and outcome, and no
// argument value.
func TestOneTracePerCall(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Install(tp)
	t.Cleanup(func() {
		tracing.Install(nil)
		_ = tp.Shutdown(t.Context())
	})
	s, _ := start(t)
	nina, _ := s.Token("nina")
	sam, _ := s.Token("sam")

	const argument = "lon-b1-acc-01" // an argument value: it must appear in no span
	allowedTrace, clientSpan := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, body := post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + nina,
		"Traceparent": "00-" + allowedTrace + "-" + clientSpan + "-01"},
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_devices","arguments":{"hostname":"`+argument+`"}}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), argument) {
		t.Fatalf("allowed call: %d %s", resp.StatusCode, body)
	}

	// The edge's trace is its own: the client's span is linked, not continued.
	spans := waitForSpans(t, exp, edgeTrace(t, exp, allowedTrace), "GET")
	edge := one(t, spans, "ingress mcp-catalyst-center", trace.SpanKindServer)
	if edge.Parent.IsValid() || len(edge.Links) != 1 || edge.Links[0].SpanContext.SpanID().String() != clientSpan ||
		edge.SpanContext.TraceID().String() == allowedTrace {
		t.Errorf("edge span: parent %v, links %v, trace %s; want a root linked to the client's span %s",
			edge.Parent, edge.Links, edge.SpanContext.TraceID(), clientSpan)
	}
	checks := named(spans, "ext_authz Check")
	authz := named(spans, "authz Check")
	if len(checks) != 2 || len(authz) != 2 {
		t.Fatalf("want the headers and the body Check, each seen by the edge and by authz; got %d and %d", len(checks), len(authz))
	}
	var decision string
	for _, a := range authz {
		parent := byID(spans, a.Parent.SpanID())
		if parent == nil || parent.Name != "ext_authz Check" || parent.Parent.SpanID() != edge.SpanContext.SpanID() {
			t.Errorf("authz span %v is not under an edge Check under the edge's span", attrs(a))
		}
		if attrs(a)["gatehouse.check"] == "body" {
			decision = attrs(a)["gatehouse.decision_id"]
			want := map[string]string{"gatehouse.server": "catalyst-center", "gatehouse.tool": "list_devices",
				"gatehouse.outcome": "allow", "mcp.method.name": "tools/call"}
			for k, v := range want {
				if attrs(a)[k] != v {
					t.Errorf("authz decision span %s = %q, want %q", k, attrs(a)[k], v)
				}
			}
		}
	}
	if decision == "" || attrs(*edge)["gatehouse.decision_id"] != decision {
		t.Errorf("decision id: authz %q, edge %q", decision, attrs(*edge)["gatehouse.decision_id"])
	}
	adapter := one(t, spans, "mcp catalyst-center", trace.SpanKindServer)
	if adapter.Parent.SpanID() != edge.SpanContext.SpanID() {
		t.Errorf("adapter span's parent is not the edge's span")
	}
	tool := one(t, spans, "tools/call list_devices", trace.SpanKindInternal)
	if tool.Parent.SpanID() != adapter.SpanContext.SpanID() || attrs(*tool)["gatehouse.decision_id"] != decision ||
		attrs(*tool)["gatehouse.outcome"] != "success" {
		t.Errorf("tool span: parent ok %v, attributes %v", tool.Parent.SpanID() == adapter.SpanContext.SpanID(), attrs(*tool))
	}
	up := one(t, spans, "GET", trace.SpanKindClient)
	if up.Parent.SpanID() != tool.SpanContext.SpanID() || attrs(*up)["http.response.status_code"] != "200" {
		t.Errorf("upstream span: parent ok %v, attributes %v", up.Parent.SpanID() == tool.SpanContext.SpanID(), attrs(*up))
	}
	noArguments(t, spans, argument, nina)

	// Denied: the trace has the edge and authz and nothing past them.
	deniedTrace := "0af7651916cd43dd8448eb211c80319c"
	// The client also sends a decision id header of its own: the span must not take it.
	resp, body = post(t, s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + sam,
		"Traceparent": "00-" + deniedTrace + "-b7ad6b7169203331-01", "X-Gatehouse-Decision-Id": "forged-by-the-client"}, deployCall)
	var denial struct {
		Error struct {
			Data struct {
				DecisionID string `json:"decision_id"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &denial); err != nil || denial.Error.Data.DecisionID == "" {
		t.Fatalf("denied call: %d %s", resp.StatusCode, body)
	}
	spans = waitForSpans(t, exp, edgeTrace(t, exp, deniedTrace), "ingress mcp-catalyst-center")
	edge = one(t, spans, "ingress mcp-catalyst-center", trace.SpanKindServer)
	if got := attrs(*edge); got["gatehouse.decision_id"] != denial.Error.Data.DecisionID || got["http.response.status_code"] != strconv.Itoa(resp.StatusCode) {
		t.Errorf("denied edge span %v, want decision %s and status %d", got, denial.Error.Data.DecisionID, resp.StatusCode)
	}
	var denied bool
	for _, a := range named(spans, "authz Check") {
		if attrs(a)["gatehouse.outcome"] == "deny" && attrs(a)["gatehouse.decision_id"] == denial.Error.Data.DecisionID &&
			attrs(a)["gatehouse.tool"] == "deploy_template" {
			denied = true
		}
	}
	if !denied {
		t.Errorf("no authz span records the denial %s", denial.Error.Data.DecisionID)
	}
	for _, sp := range spans {
		if sp.InstrumentationScope.Name != "github.com/gatehouse-mcp/gatehouse/edge" &&
			sp.InstrumentationScope.Name != "github.com/gatehouse-mcp/gatehouse/authz" {
			t.Errorf("a denied call reached %s (span %q)", sp.InstrumentationScope.Name, sp.Name)
		}
	}
	noArguments(t, spans, "forged-by-the-client", sam)
}

// edgeTrace is the trace of the edge span linked to the client's trace clientTrace.
func edgeTrace(t *testing.T, exp *tracetest.InMemoryExporter, clientTrace string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, sp := range exp.GetSpans() {
			for _, l := range sp.Links {
				if l.SpanContext.TraceID().String() == clientTrace {
					return sp.SpanContext.TraceID().String()
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span links the client's trace %s", clientTrace)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForSpans returns the spans of traceID once one named last has ended (servers end their
// spans after the answer is written).
func waitForSpans(t *testing.T, exp *tracetest.InMemoryExporter, traceID, last string) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got tracetest.SpanStubs
		for _, sp := range exp.GetSpans() {
			if sp.SpanContext.TraceID().String() == traceID {
				got = append(got, sp)
			}
		}
		if len(named(got, last)) > 0 && len(named(got, "ingress mcp-catalyst-center")) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(got))
			for _, sp := range got {
				names = append(names, sp.Name)
			}
			t.Fatalf("trace %s: spans %v, still waiting for %q", traceID, names, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func named(spans tracetest.SpanStubs, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, sp := range spans {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

func one(t *testing.T, spans tracetest.SpanStubs, name string, kind trace.SpanKind) *tracetest.SpanStub {
	t.Helper()
	got := named(spans, name)
	if len(got) != 1 || got[0].SpanKind != kind {
		t.Fatalf("want one %v span %q, got %d", kind, name, len(got))
	}
	return &got[0]
}

func byID(spans tracetest.SpanStubs, id trace.SpanID) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].SpanContext.SpanID() == id {
			return &spans[i]
		}
	}
	return nil
}

func attrs(sp tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range sp.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// noArguments fails if any span's name or attribute holds an argument value or the token.
func noArguments(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, sp := range spans {
		for _, s := range secrets {
			if strings.Contains(sp.Name, s) {
				t.Errorf("span name %q holds %q", sp.Name, s)
			}
			for k, v := range attrs(sp) {
				if strings.Contains(v, s) {
					t.Errorf("span %q attribute %s holds %q", sp.Name, k, s)
				}
			}
		}
	}
}
