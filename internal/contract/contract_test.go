package contract_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

func TestTraceID(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", ""}, // version 00 has no extra fields
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736", ""}, // the 35-character prefix is not a traceparent
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", ""},
		{"", ""},
	} {
		got, ok := contract.TraceID(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("TraceID(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestParseRESTPath(t *testing.T) {
	for _, c := range []struct {
		in           string
		server, tool string
	}{
		{"/api/v1/mcp/catalyst-center/tools/get_devices", "catalyst-center", "get_devices"},
		{contract.RESTPath("servicenow", "create_incident"), "servicenow", "create_incident"},
		{"/api/v1/mcp/catalyst-center/tools", "catalyst-center", ""},
		{contract.RESTToolsPath("servicenow"), "servicenow", ""},
		{"/api/v1/mcp/catalyst-center/tools/", "", ""},
		{"/api/v1/mcp//tools", "", ""},
		{"/api/v1/mcp/a/b/tools", "", ""},
		{"/api/v1/mcp/a%2Fb/tools", "", ""},
		{"/api/v1/mcp//tools/x", "", ""},
		{"/api/v1/mcp/a/b/tools/x", "", ""},
		{"/api/v1/mcp/a/tools/x/y", "", ""},
		{"/api/v1/mcp/a/tools/x%2Fy", "", ""},
		{"/api/v1/mcp/a%2d/tools/x", "", ""},
		{"/mcp/a", "", ""},
	} {
		s, tool, ok := contract.ParseRESTPath(c.in)
		if s != c.server || tool != c.tool || ok != (c.server != "") {
			t.Errorf("ParseRESTPath(%q) = %q, %q, %v", c.in, s, tool, ok)
		}
	}
}

func TestParseRESTTaskPath(t *testing.T) {
	for _, c := range []struct {
		in           string
		server, task string
	}{
		{"/api/v1/mcp/deployments/tasks/deploy-0123456789abcdef-0123456789ab", "deployments", "deploy-0123456789abcdef-0123456789ab"},
		{contract.RESTTaskPath("deployments", "a:b_c.d"), "deployments", "a:b_c.d"},
		{"/api/v1/mcp/deployments/tasks/", "", ""},
		{"/api/v1/mcp/deployments/tasks", "", ""},
		{"/api/v1/mcp//tasks/x", "", ""},
		{"/api/v1/mcp/a/b/tasks/x", "", ""},
		{"/api/v1/mcp/a/tasks/x/y", "", ""},
		{"/api/v1/mcp/a/tasks/x%2Fy", "", ""},
		{"/api/v1/mcp/a/tasks/..", "", ""},
		{"/api/v1/mcp/a/tasks/x?y=1", "", ""},
		{"/api/v1/mcp/a/tasks/" + strings.Repeat("x", 257), "", ""},
		{"/api/v1/mcp/a/tools/x", "", ""},
	} {
		s, task, ok := contract.ParseRESTTaskPath(c.in)
		if s != c.server || task != c.task || ok != (c.server != "") {
			t.Errorf("ParseRESTTaskPath(%q) = %q, %q, %v", c.in, s, task, ok)
		}
	}
	// A task path is never also a tool path, and the other way round.
	if _, _, ok := contract.ParseRESTPath(contract.RESTTaskPath("deployments", "x")); ok {
		t.Error("a task path parses as a tool path")
	}
}

func FuzzTraceID(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := contract.TraceID(s)
		if ok && (len(id) != 32 || s[3:35] != id) {
			t.Fatalf("TraceID(%q) = %q", s, id)
		}
	})
}
