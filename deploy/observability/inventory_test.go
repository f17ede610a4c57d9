package observability

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// seedMetric is one metric the seed asks for: its name, type and exact label names.
type seedMetric struct {
	name   string
	typ    dto.MetricType
	labels []string
}

// Process and Go runtime metrics every component serves (the standard collectors): CPU,
// memory, file descriptors. Network per service comes from the container runtime (cAdvisor
// or the kubelet), not from the process.
var processMetrics = []seedMetric{
	{"process_cpu_seconds_total", dto.MetricType_COUNTER, nil},
	{"process_resident_memory_bytes", dto.MetricType_GAUGE, nil},
	{"process_open_fds", dto.MetricType_GAUGE, nil},
	{"go_goroutines", dto.MetricType_GAUGE, nil},
	{"go_memstats_heap_inuse_bytes", dto.MetricType_GAUGE, nil},
}

// The authz service: decisions per resource (server, method), authentication rate and
// response time, error rates.
var authzMetrics = []seedMetric{
	{"gatehouse_authz_decisions_total", dto.MetricType_COUNTER, []string{"server", "method", "outcome"}},
	{"gatehouse_authz_duration_seconds", dto.MetricType_HISTOGRAM, nil},
	{"gatehouse_authn_duration_seconds", dto.MetricType_HISTOGRAM, []string{"outcome"}},
	{"gatehouse_authn_failures_total", dto.MetricType_COUNTER, []string{"reason"}},
	{"gatehouse_policy_reloads_total", dto.MetricType_COUNTER, []string{"outcome"}},
	{"gatehouse_policy_revision_info", dto.MetricType_GAUGE, []string{"revision"}},
}

// Every adapter (the kit): latency per tool as a histogram, outcomes per tool (error rate),
// upstream calls by status.
var adapterMetrics = []seedMetric{
	{"gatehouse_tool_calls_total", dto.MetricType_COUNTER, []string{"server", "tool", "outcome"}},
	{"gatehouse_tool_duration_seconds", dto.MetricType_HISTOGRAM, []string{"server", "tool"}},
	{"gatehouse_upstream_requests_total", dto.MetricType_COUNTER, []string{"server", "status"}},
}

// Label values that are fine to be many but bounded; anything holding a person, token or
// request id would make a series per caller.
var subjects = []string{"nina", "sam", "dana", "admin", "carl", "@example.com"}

// The platform runs; a few calls are allowed and denied through the edge; every component's
// /metrics then serves the seed metrics with their types and labels, and no label value
// names a caller.
func TestSeedMetricsInventory(t *testing.T) {
	s := startStack(t)
	exercise(t, s)

	authz := scrape(t, http.DefaultClient, "http://"+s.AuthzHTTP+"/metrics")
	check(t, "authz", authz, append(append([]seedMetric{}, authzMetrics...), processMetrics...))
	for _, server := range []string{"catalyst-center", "servicenow", "github", "radkit"} {
		fams := scrape(t, s.DirectClient(), s.Adapters[server]+"/metrics")
		check(t, server, fams, append(append([]seedMetric{}, adapterMetrics...), processMetrics...))
		// Latency per tool: the tool called through the edge has observations under its own label.
		h := fams["gatehouse_tool_duration_seconds"]
		if h == nil || !hasSample(h, "server", server) {
			t.Errorf("%s: no tool latency observed for server=%q", server, server)
		}
	}
	// Decisions per resource and authentication both ways: the calls above were allowed and denied.
	for _, w := range []struct{ metric, label, value string }{
		{"gatehouse_authz_decisions_total", "outcome", "allow"},
		{"gatehouse_authz_decisions_total", "outcome", "deny"},
		{"gatehouse_authz_decisions_total", "outcome", "unauthenticated"},
		{"gatehouse_authz_decisions_total", "server", "radkit"},
		{"gatehouse_authn_duration_seconds", "outcome", "success"},
	} {
		if f := authz[w.metric]; f == nil || !hasSample(f, w.label, w.value) {
			t.Errorf("authz: no %s{%s=%q}", w.metric, w.label, w.value)
		}
	}
}

func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: testkit.Root("policies"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// exercise makes one allowed call per adapter and a denied and an unauthenticated one.
func exercise(t *testing.T, s *stack.Stack) {
	t.Helper()
	calls := []struct {
		server, user, tool string
		args               map[string]any
		allowed            bool
	}{
		{"catalyst-center", "nina", "list_sites", map[string]any{}, true},
		{"catalyst-center", "sam", "deploy_template", map[string]any{"template_id": "t", "device_ids": []string{"d"}}, false},
		{"radkit", "nina", "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"sh ver"}}, true},
		{"radkit", "nina", "run_commands", map[string]any{"devices": []string{"lon-b1-acc-01"}, "commands": []string{"reload"}}, false},
		{"github", "dana", "list_issues", map[string]any{"owner": "gatehouse-net", "repo": "network-templates"}, true},
		{"servicenow", "sam", "create_incident", map[string]any{"short_description": "Printer VLAN unreachable", "priority": 3}, true},
	}
	for _, c := range calls {
		cl := connect(t, s, c.server, c.user)
		res, err := call(cl, c.tool, c.args)
		if c.allowed && (err != nil || res.IsError) {
			t.Fatalf("%s/%s as %s: %v %+v", c.server, c.tool, c.user, err, res)
		}
		if !c.allowed && err == nil && (res == nil || !res.IsError) {
			t.Fatalf("%s/%s as %s was not refused", c.server, c.tool, c.user)
		}
	}
	resp, err := http.Post(s.ServerURL("catalyst-center"), "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}

func connect(t *testing.T, s *stack.Stack, server, user string) *client.Client {
	t.Helper()
	tok, err := s.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return kittest.Connect(t, s.ServerURL(server), "2025-11-25", map[string]string{"Authorization": "Bearer " + tok})
}

func call(c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.CallTool(ctx, req)
}

func scrape(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

func check(t *testing.T, component string, fams map[string]*dto.MetricFamily, want []seedMetric) {
	t.Helper()
	for _, w := range want {
		f := fams[w.name]
		if f == nil {
			t.Errorf("%s: %s missing", component, w.name)
			continue
		}
		if f.GetType() != w.typ {
			t.Errorf("%s: %s is a %s, want %s", component, w.name, f.GetType(), w.typ)
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, sorted(w.labels)) {
				t.Errorf("%s: %s has labels %v, want %v", component, w.name, got, w.labels)
			}
		}
	}
	bounded(t, component, fams)
}

// bounded fails on a label value that names a caller: series per person grow without bound.
func bounded(t *testing.T, component string, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range subjects {
					if strings.Contains(l.GetValue(), s) {
						t.Errorf("%s: %s{%s=%q} carries a caller's identity", component, name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

func hasSample(f *dto.MetricFamily, label, value string) bool {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return true
			}
		}
	}
	return false
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
