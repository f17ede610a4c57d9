package kit_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

type deviceFilter struct {
	Site   string `json:"site" jsonschema:"Site name"`
	Family string `json:"family,omitempty" jsonschema:"Device family"`
}

type listArgs struct {
	DeviceIDs []string       `json:"device_ids" jsonschema:"Device ids"`
	Limit     int            `json:"limit,omitempty" jsonschema:"Most devices to return"`
	Filter    *deviceFilter  `json:"filter,omitempty" jsonschema:"Narrow the listing"`
	Sites     []deviceFilter `json:"sites,omitempty" jsonschema:"Several filters"`
}

type listResult struct {
	Count int `json:"count"`
}

// argsServer serves list_devices and counts how often its handler actually ran.
func argsServer(t *testing.T, logs *ecslogtest.Buffer) (base string, handled *atomic.Int32) {
	log, _ := ecslog.New(logs, "test-adapter", "info", "json")
	s := kit.NewServer(kit.Options{Name: "test", Version: "1.0.0", Logger: log})
	handled = &atomic.Int32{}
	kit.Add(s, kit.Tool[listArgs, listResult]{
		Name: "list_devices", Title: "List devices", Description: "Devices.",
		Action: kit.Read, Annotations: readHints,
		Handle: func(_ context.Context, a listArgs) (listResult, error) {
			handled.Add(1)
			return listResult{Count: len(a.DeviceIDs)}, nil
		},
	})
	return startServer(t, s), handled
}

// A call with bad arguments is answered with an isError result that names, in words, each
// missing and unknown argument and what is wrong with each other one, nested ones by their
// path; the handler never sees it. Checked over a real mcp-go client on a 2025 and the
// 2026-07-28 revision.
func TestArgumentErrorsInWords(t *testing.T) {
	logs := &ecslogtest.Buffer{}
	base, handled := argsServer(t, logs)
	cases := []struct {
		name string
		args any
		want string
	}{
		{"missing and unknown", map[string]any{"deviceIds": []string{"sw1"}},
			`invalid arguments for list_devices: missing required argument "device_ids"; unknown argument "deviceIds"`},
		{"no arguments at all", nil,
			`invalid arguments for list_devices: missing required argument "device_ids"`},
		{"wrong type", map[string]any{"device_ids": []string{"sw1"}, "limit": "5"},
			`invalid arguments for list_devices: argument "limit" must be an integer (got a string)`},
		{"fraction for an integer", map[string]any{"device_ids": []string{}, "limit": 2.5},
			`invalid arguments for list_devices: argument "limit" must be an integer (got a number)`},
		{"string for an array", map[string]any{"device_ids": "sw1"},
			`invalid arguments for list_devices: argument "device_ids" must be an array or null (got a string)`},
		{"wrong item type", map[string]any{"device_ids": []any{"sw1", 7}},
			`invalid arguments for list_devices: argument "device_ids[1]" must be a string (got a number)`},
		{"nested object", map[string]any{"device_ids": []string{}, "filter": map[string]any{"family": "switch", "colour": "red"}},
			`invalid arguments for list_devices: missing required argument "filter.site"; unknown argument "filter.colour"`},
		{"nested wrong type", map[string]any{"device_ids": []string{}, "filter": map[string]any{"site": 42}},
			`invalid arguments for list_devices: argument "filter.site" must be a string (got a number)`},
		{"objects in an array", map[string]any{"device_ids": []string{}, "sites": []any{map[string]any{"site": "a"}, map[string]any{"name": "b"}}},
			`invalid arguments for list_devices: missing required argument "sites[1].site"; unknown argument "sites[1].name"`},
		{"everything at once", map[string]any{"limit": true, "filter": "london", "extra": 1},
			`invalid arguments for list_devices: missing required argument "device_ids"; unknown argument "extra"; ` +
				`argument "filter" must be an object or null (got a string); argument "limit" must be an integer (got a boolean)`},
	}
	for _, v := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			c := kittest.Connect(t, base+kit.Path, v, nil)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := handled.Load()
					req := mcp.CallToolRequest{}
					req.Params.Name = "list_devices"
					req.Params.Arguments = tc.args
					res, err := c.CallTool(context.Background(), req)
					if err != nil {
						t.Fatalf("want an isError result (a tool execution error), got the protocol error %v", err)
					}
					if !res.IsError || len(res.Content) != 1 {
						t.Fatalf("want one isError text, got %+v", res)
					}
					if got := res.Content[0].(mcp.TextContent).Text; got != tc.want {
						t.Fatalf("error text\n got %s\nwant %s", got, tc.want)
					}
					if handled.Load() != before {
						t.Fatal("the handler ran with invalid arguments")
					}
				})
			}
			// Valid arguments, nested ones included, still reach the handler.
			req := mcp.CallToolRequest{}
			req.Params.Name = "list_devices"
			req.Params.Arguments = map[string]any{"device_ids": []string{"a", "b"}, "limit": 5,
				"filter": map[string]any{"site": "london"}, "sites": []any{map[string]any{"site": "paris", "family": "switch"}}}
			res, err := c.CallTool(context.Background(), req)
			if err != nil || res.IsError {
				t.Fatalf("valid call: %v %+v", err, res)
			}
			if sc, _ := res.StructuredContent.(map[string]any); sc["count"] != float64(2) {
				t.Fatalf("structured content %v", res.StructuredContent)
			}
		})
	}
	// A refused call is a failed tool call in the log, with the same words.
	var found bool
	for _, line := range toolCallLines(t, logs) {
		if line["event.outcome"] == "failure" && strings.HasPrefix(str(line["error.message"]), `invalid arguments for list_devices: missing required argument "device_ids"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no failed tool-call log line names the missing argument:\n%s", logs.String())
	}
}

// The tool-call log line's trace.id is the trace id of a valid W3C traceparent; an invalid
// traceparent (such as the bare 35-character prefix of one, which the kit used to accept)
// falls back to X-Request-Id, as the edge's decision log does.
func TestTraceIDInToolCallLog(t *testing.T) {
	// trace.id is the edge's request id, which joins the adapter's line to the edge's
	// decision; a client's traceparent is only ever the parent, and only when valid.
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	cases := []struct {
		name, wantParent string
		headers          map[string]string
		want             string
	}{
		{"valid traceparent is the parent", trace, map[string]string{"Traceparent": "00-" + trace + "-00f067aa0ba902b7-01", "X-Request-Id": "req-1"}, "req-1"},
		{"future version with extra fields", trace, map[string]string{"Traceparent": "01-" + trace + "-00f067aa0ba902b7-01-later", "X-Request-Id": "req-8"}, "req-8"},
		{"prefix only", "", map[string]string{"Traceparent": "00-" + trace, "X-Request-Id": "req-2"}, "req-2"},
		{"prefix with garbage", "", map[string]string{"Traceparent": "00-" + trace + "-garbage", "X-Request-Id": "req-3"}, "req-3"},
		{"upper-case hex", "", map[string]string{"Traceparent": "00-" + strings.ToUpper(trace) + "-00f067aa0ba902b7-01", "X-Request-Id": "req-4"}, "req-4"},
		{"all-zero trace id", "", map[string]string{"Traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "X-Request-Id": "req-5"}, "req-5"},
		{"version ff", "", map[string]string{"Traceparent": "ff-" + trace + "-00f067aa0ba902b7-01", "X-Request-Id": "req-6"}, "req-6"},
		{"request id only", "", map[string]string{"X-Request-Id": "req-7"}, "req-7"},
	}
	logs := &ecslogtest.Buffer{}
	base := startServer(t, sampleServer(logs))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := kittest.Connect(t, base+kit.Path, "2025-11-25", tc.headers)
			req := mcp.CallToolRequest{}
			req.Params.Name = "list_site_devices"
			req.Params.Arguments = map[string]any{"site": "london"}
			if res, err := c.CallTool(context.Background(), req); err != nil || res.IsError {
				t.Fatalf("call: %v %+v", err, res)
			}
			lines := toolCallLines(t, logs)
			last := lines[len(lines)-1]
			if got := last["trace.id"]; got != tc.want {
				t.Fatalf("trace.id = %v, want %q", got, tc.want)
			}
			if got := str(last["gatehouse.parent_trace_id"]); got != tc.wantParent {
				t.Fatalf("gatehouse.parent_trace_id = %q, want %q", got, tc.wantParent)
			}
		})
	}
}

// toolCallLines returns the decoded tool-call log lines so far.
func toolCallLines(t *testing.T, logs *ecslogtest.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["event.action"] == "tool-call" {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no tool-call log line:\n%s", logs.String())
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }
