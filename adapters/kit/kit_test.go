package kit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

type siteArgs struct {
	Site  string `json:"site" jsonschema:"Site name"`
	Limit int    `json:"limit,omitempty" jsonschema:"Most devices to return"`
}

type siteResult struct {
	Site    string   `json:"site"`
	Devices []string `json:"devices"`
}

var readHints = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}

func sampleServer(logs *ecslogtest.Buffer) *kit.Server {
	log, _ := ecslog.New(logs, "test-adapter", "info", "json")
	s := kit.NewServer(kit.Options{Name: "test", Version: "1.0.0", Logger: log})
	kit.Add(s, kit.Tool[siteArgs, siteResult]{
		Name: "list_site_devices", Title: "List site devices", Description: "Devices at a site.",
		Action: kit.Read, Annotations: readHints,
		Handle: func(ctx context.Context, a siteArgs) (siteResult, error) {
			if a.Site == "fail" {
				return siteResult{}, &kit.UpstreamError{Label: "Test API", Method: "GET", Path: "/devices", Status: 503, Attempts: 3}
			}
			return siteResult{Site: a.Site, Devices: []string{"sw1", "sw2"}}, nil
		},
	})
	return s
}

// A test in the kit fails when any registered tool omits an annotation or its action class.
func TestToolsMustDeclareEverything(t *testing.T) {
	handle := func(context.Context, siteArgs) (siteResult, error) { return siteResult{}, nil }
	cases := map[string]kit.Tool[siteArgs, siteResult]{
		"no readOnlyHint":    {Name: "a_tool", Title: "T", Description: "d", Action: kit.Read, Handle: handle, Annotations: kit.Annotations{Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}},
		"no destructiveHint": {Name: "a_tool", Title: "T", Description: "d", Action: kit.Execute, Handle: handle, Annotations: kit.Annotations{ReadOnly: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}},
		"no idempotentHint":  {Name: "a_tool", Title: "T", Description: "d", Action: kit.Write, Handle: handle, Annotations: kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, OpenWorld: kit.Yes}},
		"no openWorldHint":   {Name: "a_tool", Title: "T", Description: "d", Action: kit.Write, Handle: handle, Annotations: kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes}},
		"no action class":    {Name: "a_tool", Title: "T", Description: "d", Handle: handle, Annotations: readHints},
		"read but writes":    {Name: "a_tool", Title: "T", Description: "d", Action: kit.Read, Handle: handle, Annotations: kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}},
		"no title":           {Name: "a_tool", Description: "d", Action: kit.Read, Handle: handle, Annotations: readHints},
		"bad name":           {Name: "A-Tool", Title: "T", Description: "d", Action: kit.Read, Handle: handle, Annotations: readHints},
		"no handler":         {Name: "a_tool", Title: "T", Description: "d", Action: kit.Read, Annotations: readHints},
	}
	for name, tool := range cases {
		s := kit.NewServer(kit.Options{Name: "t"})
		kit.Add(s, tool)
		if s.Err() == nil {
			t.Errorf("%s: registered", name)
		}
		if len(s.Declared()) != 0 {
			t.Errorf("%s: declared anyway", name)
		}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		if err := s.Run(context.Background(), l, time.Second); err == nil {
			t.Errorf("%s: the server started with an incomplete tool", name)
		}
		l.Close()
	}
}

func startServer(t *testing.T, s *kit.Server) string {
	t.Helper()
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("adapter stopped with %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

// connect opens a client with the headers the edge adds.
func connect(t *testing.T, base, version string) *client.Client {
	return kittest.Connect(t, base+kit.Path, version, map[string]string{
		"X-Gatehouse-Subject": "alice", "X-Gatehouse-Decision-Id": "dec-123",
	})
}

func TestToolsOverEveryRevision(t *testing.T) {
	logs := &ecslogtest.Buffer{}
	base := startServer(t, sampleServer(logs))
	for _, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			c := connect(t, base, v)
			if got := c.ProtocolVersion(); got != v {
				t.Fatalf("negotiated %s", got)
			}
			ctx := context.Background()
			tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			tool := tools.Tools[0]
			a := tool.Annotations
			if tool.Name != "list_site_devices" || a.Title != "List site devices" || a.ReadOnlyHint == nil || !*a.ReadOnlyHint ||
				a.DestructiveHint == nil || *a.DestructiveHint || a.IdempotentHint == nil || a.OpenWorldHint == nil {
				t.Fatalf("tool as listed: %+v", tool)
			}
			if tool.InputSchema.Properties["site"] == nil || len(tool.InputSchema.Required) != 1 || tool.OutputSchema.Properties["devices"] == nil {
				t.Fatalf("schemas: in %+v out %+v", tool.InputSchema, tool.OutputSchema)
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = "list_site_devices"
			req.Params.Arguments = map[string]any{"site": "london"}
			res, err := c.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("call: %v %+v", err, res)
			}
			sc, _ := res.StructuredContent.(map[string]any)
			if sc["site"] != "london" {
				t.Fatalf("structured content %v", res.StructuredContent)
			}
			// Upstream failures are tool errors that say what failed.
			req.Params.Arguments = map[string]any{"site": "fail"}
			res, err = c.CallTool(ctx, req)
			if err != nil || !res.IsError {
				t.Fatalf("want an isError result, got %v %+v", err, res)
			}
			text := res.Content[0].(mcp.TextContent).Text
			if !strings.Contains(text, "Test API: GET /devices answered 503 Service Unavailable after 3 attempts") {
				t.Fatalf("error text %q", text)
			}
			// Arguments are validated against the tool's schema.
			req.Params.Arguments = map[string]any{"limit": 5}
			res, err = c.CallTool(ctx, req)
			if err == nil && (res == nil || !res.IsError) {
				t.Fatal("a call without the required argument succeeded")
			}
		})
	}
	out := logs.String()
	if !strings.Contains(out, `"user.id":"alice"`) || !strings.Contains(out, `"gatehouse.decision_id":"dec-123"`) ||
		!strings.Contains(out, `"gatehouse.tool":"list_site_devices"`) {
		t.Fatalf("tool call log does not carry the edge's identity fields:\n%s", out)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	s := sampleServer(&ecslogtest.Buffer{})
	base := startServer(t, s)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}

// /readyz answers 503 with the check's reason while the adapter's readiness check fails.
func TestReadiness(t *testing.T) {
	s := sampleServer(&ecslogtest.Buffer{})
	var down atomic.Bool
	down.Store(true)
	s.SetReady(func(context.Context) error {
		if down.Load() {
			return errors.New("the bridge answers 502")
		}
		return nil
	})
	base := startServer(t, s)
	for _, want := range []int{503, 200} {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || want == 503 && !strings.Contains(string(b), "the bridge answers 502") {
			t.Fatalf("/readyz: %d %s, want %d", resp.StatusCode, b, want)
		}
		down.Store(false)
	}
}

func TestEnvSource(t *testing.T) {
	src := kit.EnvSource{Environ: func() []string {
		return []string{"GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME=admin", "GATEHOUSE_SECRET_CATALYST_CENTER_PASSWORD=s3cret", "OTHER=x"}
	}}
	s, err := src.Get(context.Background(), "catalyst-center")
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Field("username"); u != "admin" {
		t.Fatalf("username %q", u)
	}
	// A secret printed by accident shows field names only.
	for _, f := range []string{"%v", "%s", "%+v", "%#v"} {
		if strings.Contains(sprintf(f, s), "s3cret") {
			t.Fatalf("%s prints the secret value", f)
		}
	}
	if _, err := src.Get(context.Background(), "servicenow"); err == nil {
		t.Fatal("missing secret found")
	}
}
