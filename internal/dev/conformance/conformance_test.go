//lint:file-ignore SA1019 the suite speaks 2025-11-25, whose GET stream, logging/setLevel, resources/subscribe and ping mcp-go deprecates

package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/conformance"
)

// The protocol revision the conformance suite 0.1.16 speaks, and the one
// mcp-go v1.2.1 negotiates by default.
const (
	legacyVersion = "2025-11-25"
	modernVersion = "" // the client's newest, 2026-07-28
)

// serve starts the fixture handler on a loopback httptest server and returns
// the MCP endpoint's URL.
func serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(conformance.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + conformance.Path
}

// connect opens an initialized client. A legacy client listens on the GET
// stream, as the suite's TypeScript client does: it is where mcp-go sends
// sampling/createMessage.
func connect(t *testing.T, url, version string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	topts := []transport.StreamableHTTPCOption{transport.WithHTTPLogger(quiet)}
	if version != modernVersion {
		topts = append(topts, transport.WithContinuousListening())
		opts = append(opts, client.WithProtocolVersion(version))
	}
	tr, err := transport.NewStreamableHTTP(url, topts...)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, opts...)
	ctx := testContext(t)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "conformance-test", Version: "1.0.0"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if res.ServerInfo.Name != conformance.Name {
		t.Fatalf("serverInfo.name = %q, want %q", res.ServerInfo.Name, conformance.Name)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(testContext(t), req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

// quiet drops the client transport's info logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// text is the text of content (a text block, or its JSON decoding), or ""
// when it is not text.
func text(content any) string {
	if tc, ok := mcp.AsTextContent(content); ok {
		return tc.Text
	}
	if m, ok := content.(map[string]any); ok && m["type"] == "text" {
		s, _ := m["text"].(string)
		return s
	}
	return ""
}

var fixtureTools = []string{
	"json_schema_2020_12_tool",
	"test_audio_content",
	"test_elicitation",
	"test_elicitation_sep1034_defaults",
	"test_elicitation_sep1330_enums",
	"test_embedded_resource",
	"test_error_handling",
	"test_image_content",
	"test_multiple_content_types",
	"test_reconnection",
	"test_sampling",
	"test_simple_text",
	"test_tool_with_logging",
	"test_tool_with_progress",
}

func TestToolsList(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	res, err := c.ListTools(testContext(t), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.Description == "" {
			t.Errorf("tool %s has no description", tool.Name)
		}
		if tool.Annotations.ReadOnlyHint == nil || !*tool.Annotations.ReadOnlyHint {
			t.Errorf("tool %s is not marked read-only", tool.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, fixtureTools) {
		t.Errorf("tools = %v\nwant    %v", names, fixtureTools)
	}
}

// TestJSONSchema202012 reads tools/list off the wire: the json-schema-2020-12
// scenario checks that $schema, $defs and additionalProperties survive.
func TestJSONSchema202012(t *testing.T) {
	url := serve(t)
	session := rawInitialize(t, url)
	var list struct {
		Result struct {
			Tools []struct {
				Name        string         `json:"name"`
				InputSchema map[string]any `json:"inputSchema"`
			} `json:"tools"`
		} `json:"result"`
	}
	rawCall(t, url, session, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, &list)
	for _, tool := range list.Result.Tools {
		if tool.Name != "json_schema_2020_12_tool" {
			continue
		}
		s := tool.InputSchema
		if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("$schema = %v", s["$schema"])
		}
		if defs, _ := s["$defs"].(map[string]any); defs["address"] == nil {
			t.Errorf("$defs = %v, want an address definition", s["$defs"])
		}
		if s["additionalProperties"] != false {
			t.Errorf("additionalProperties = %v, want false", s["additionalProperties"])
		}
		return
	}
	t.Fatal("json_schema_2020_12_tool not listed")
}

func TestToolContent(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)

	res := call(t, c, "test_simple_text", nil)
	if len(res.Content) != 1 || text(res.Content[0]) != "This is a simple text response for testing." {
		t.Errorf("test_simple_text = %+v", res.Content)
	}

	res = call(t, c, "test_image_content", nil)
	if img, ok := mcp.AsImageContent(res.Content[0]); !ok || img.MIMEType != "image/png" || img.Data == "" {
		t.Errorf("test_image_content = %+v", res.Content)
	}

	res = call(t, c, "test_audio_content", nil)
	if audio, ok := mcp.AsAudioContent(res.Content[0]); !ok || audio.MIMEType != "audio/wav" || audio.Data == "" {
		t.Errorf("test_audio_content = %+v", res.Content)
	}

	res = call(t, c, "test_embedded_resource", nil)
	if !hasEmbedded(res.Content, "test://embedded-resource", "text/plain", "This is an embedded resource content.") {
		t.Errorf("test_embedded_resource = %+v", res.Content)
	}

	res = call(t, c, "test_multiple_content_types", nil)
	if len(res.Content) != 3 || text(res.Content[0]) != "Multiple content types test:" {
		t.Fatalf("test_multiple_content_types = %+v", res.Content)
	}
	if _, ok := mcp.AsImageContent(res.Content[1]); !ok {
		t.Errorf("second block is not an image: %+v", res.Content[1])
	}
	if !hasEmbedded(res.Content, "test://mixed-content-resource", "application/json", `{"test":"data","value":123}`) {
		t.Errorf("no embedded JSON resource in %+v", res.Content)
	}

	res = call(t, c, "test_error_handling", nil)
	if !res.IsError || text(res.Content[0]) != "This tool intentionally returns an error for testing" {
		t.Errorf("test_error_handling = %+v", res)
	}

	res = call(t, c, "json_schema_2020_12_tool", map[string]any{"name": "n"})
	if res.IsError || !strings.Contains(text(res.Content[0]), `"name":"n"`) {
		t.Errorf("json_schema_2020_12_tool = %+v", res)
	}

	res = call(t, c, "test_reconnection", nil)
	if res.IsError || text(res.Content[0]) == "" {
		t.Errorf("test_reconnection = %+v", res)
	}
}

func hasEmbedded(content []mcp.Content, uri, mimeType, body string) bool {
	for _, c := range content {
		if r, ok := mcp.AsEmbeddedResource(c); ok {
			if tr, ok := mcp.AsTextResourceContents(r.Resource); ok {
				if tr.URI == uri && tr.MIMEType == mimeType && tr.Text == body {
					return true
				}
			}
		}
	}
	return false
}

// notifications collects a client's notifications of one method.
type notifications struct {
	mu   sync.Mutex
	got  []mcp.JSONRPCNotification
	wake chan struct{}
}

func collect(c *client.Client, method string) *notifications {
	n := &notifications{wake: make(chan struct{}, 1)}
	c.OnNotification(func(nt mcp.JSONRPCNotification) {
		if nt.Method != method {
			return
		}
		n.mu.Lock()
		n.got = append(n.got, nt)
		n.mu.Unlock()
		select {
		case n.wake <- struct{}{}:
		default:
		}
	})
	return n
}

// wait returns the notifications once there are want of them, or what there
// is after d.
func (n *notifications) wait(want int, d time.Duration) []mcp.JSONRPCNotification {
	deadline := time.After(d)
	for {
		n.mu.Lock()
		got := slices.Clone(n.got)
		n.mu.Unlock()
		if len(got) >= want {
			return got
		}
		select {
		case <-n.wake:
		case <-deadline:
			return got
		}
	}
}

func TestToolWithLogging(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	logs := collect(c, "notifications/message")
	req := mcp.SetLevelRequest{}
	req.Params.Level = mcp.LoggingLevelDebug
	if err := c.SetLevel(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	call(t, c, "test_tool_with_logging", nil)
	got := logs.wait(3, 5*time.Second)
	var data []any
	for _, n := range got {
		data = append(data, n.Params.AdditionalFields["data"])
		if lvl := n.Params.AdditionalFields["level"]; lvl != "info" {
			t.Errorf("level = %v, want info", lvl)
		}
	}
	want := []any{"Tool execution started", "Tool processing data", "Tool execution completed"}
	if !slices.Equal(data, want) {
		t.Errorf("log messages = %v, want %v", data, want)
	}
}

// TestLoggingLevelFilters checks logging/setLevel is honoured: at error, the
// tool's info messages are not sent.
func TestLoggingLevelFilters(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	logs := collect(c, "notifications/message")
	req := mcp.SetLevelRequest{}
	req.Params.Level = mcp.LoggingLevelError
	if err := c.SetLevel(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	call(t, c, "test_tool_with_logging", nil)
	if got := logs.wait(1, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("got %d log messages at level error", len(got))
	}
}

func TestToolWithProgress(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	progress := collect(c, "notifications/progress")
	req := mcp.CallToolRequest{}
	req.Params.Name = "test_tool_with_progress"
	req.Params.Meta = &mcp.Meta{ProgressToken: "progress-test-1"}
	if _, err := c.CallTool(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	var values []float64
	for _, n := range progress.wait(3, 5*time.Second) {
		if tok := n.Params.AdditionalFields["progressToken"]; tok != "progress-test-1" {
			t.Errorf("progressToken = %v", tok)
		}
		if total := n.Params.AdditionalFields["total"]; total != float64(100) {
			t.Errorf("total = %v, want 100", total)
		}
		v, _ := n.Params.AdditionalFields["progress"].(float64)
		values = append(values, v)
	}
	if want := []float64{0, 50, 100}; !slices.Equal(values, want) {
		t.Errorf("progress = %v, want %v", values, want)
	}
}

type sampler struct {
	mu  sync.Mutex
	got []mcp.CreateMessageRequest
}

func (s *sampler) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	s.mu.Lock()
	s.got = append(s.got, req)
	s.mu.Unlock()
	return &mcp.CreateMessageResult{
		SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent("This is a test response from the client")},
		Model:           "test-model",
		StopReason:      "endTurn",
	}, nil
}

type elicitor struct {
	mu     sync.Mutex
	got    []mcp.ElicitationRequest
	answer map[string]any
}

func (e *elicitor) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	e.got = append(e.got, req)
	e.mu.Unlock()
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: e.answer,
	}}, nil
}

// schemaProperties is the requestedSchema's properties, as JSON would give
// them.
func schemaProperties(t *testing.T, req mcp.ElicitationRequest) map[string]any {
	t.Helper()
	var schema struct {
		Properties map[string]any `json:"properties"`
	}
	b, _ := json.Marshal(req.Params.RequestedSchema)
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	return schema.Properties
}

// TestSamplingAndElicitation runs the client-facing fixtures with a client
// of the suite's revision, which mcp-go serves with server-initiated
// requests, and with a 2026-07-28 client, which it serves with
// input_required results.
func TestSamplingAndElicitation(t *testing.T) {
	for _, version := range []string{legacyVersion, modernVersion} {
		name := version
		if name == modernVersion {
			name = "2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			s := &sampler{}
			e := &elicitor{answer: map[string]any{"username": "testuser", "email": "test@example.com"}}
			c := connect(t, serve(t), version, client.WithSamplingHandler(s), client.WithElicitationHandler(e))

			res := call(t, c, "test_sampling", map[string]any{"prompt": "Test prompt for sampling"})
			if got := text(res.Content[0]); got != "LLM response: This is a test response from the client" {
				t.Errorf("test_sampling = %q", got)
			}
			if len(s.got) != 1 {
				t.Fatalf("%d sampling requests, want 1", len(s.got))
			}
			p := s.got[0].CreateMessageParams
			if p.MaxTokens != 100 || len(p.Messages) != 1 || text(p.Messages[0].Content) != "Test prompt for sampling" {
				t.Errorf("sampling request = %+v", p)
			}

			res = call(t, c, "test_elicitation", map[string]any{"message": "Please provide your information"})
			if got := text(res.Content[0]); !strings.HasPrefix(got, "User response: action=accept") || !strings.Contains(got, "testuser") {
				t.Errorf("test_elicitation = %q", got)
			}
			if len(e.got) != 1 || e.got[0].Params.Message != "Please provide your information" {
				t.Fatalf("elicitation requests = %+v", e.got)
			}
			props := schemaProperties(t, e.got[0])
			if props["username"] == nil || props["email"] == nil {
				t.Errorf("test_elicitation schema = %v", props)
			}

			res = call(t, c, "test_elicitation_sep1034_defaults", nil)
			if !strings.HasPrefix(text(res.Content[0]), "Elicitation completed: action=accept") {
				t.Errorf("test_elicitation_sep1034_defaults = %q", text(res.Content[0]))
			}
			props = schemaProperties(t, e.got[1])
			for field, want := range map[string]any{"name": "John Doe", "age": float64(30), "score": 95.5, "status": "active", "verified": true} {
				prop, _ := props[field].(map[string]any)
				if prop["default"] != want {
					t.Errorf("%s default = %v, want %v", field, prop["default"], want)
				}
			}
			if prop, _ := props["age"].(map[string]any); prop["type"] != "integer" {
				t.Errorf("age type = %v, want integer", prop["type"])
			}

			res = call(t, c, "test_elicitation_sep1330_enums", nil)
			if !strings.HasPrefix(text(res.Content[0]), "Elicitation completed: action=accept") {
				t.Errorf("test_elicitation_sep1330_enums = %q", text(res.Content[0]))
			}
			props = schemaProperties(t, e.got[2])
			checks := map[string]string{
				"untitledSingle": `"enum":["option1","option2","option3"]`,
				"titledSingle":   `"oneOf":[{"const":"value1","title":"First Option"}`,
				"legacyEnum":     `"enumNames":["Option One","Option Two","Option Three"]`,
				"untitledMulti":  `"items":{"enum":["option1","option2","option3"],"type":"string"}`,
				"titledMulti":    `"items":{"anyOf":[{"const":"value1","title":"First Choice"}`,
			}
			for field, want := range checks {
				b, _ := json.Marshal(props[field])
				if !strings.Contains(string(b), want) {
					t.Errorf("%s = %s, want it to contain %s", field, b, want)
				}
			}
		})
	}
}

func TestResources(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	ctx := testContext(t)

	list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
		if r.Name == "" || r.Description == "" || r.MIMEType == "" {
			t.Errorf("resource %+v lacks a name, description or MIME type", r)
		}
	}
	slices.Sort(uris)
	if want := []string{"test://static-binary", "test://static-text", "test://watched-resource"}; !slices.Equal(uris, want) {
		t.Errorf("resources = %v, want %v", uris, want)
	}

	templates, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates.ResourceTemplates) != 1 || templates.ResourceTemplates[0].URITemplate.Raw() != "test://template/{id}/data" {
		t.Errorf("templates = %+v", templates.ResourceTemplates)
	}

	read := func(uri string) mcp.ResourceContents {
		t.Helper()
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := c.ReadResource(ctx, req)
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		if len(res.Contents) != 1 {
			t.Fatalf("read %s: %d contents", uri, len(res.Contents))
		}
		return res.Contents[0]
	}
	if tr, ok := mcp.AsTextResourceContents(read("test://static-text")); !ok ||
		tr.MIMEType != "text/plain" || tr.Text != "This is the content of the static text resource." {
		t.Errorf("static-text = %+v", tr)
	}
	if br, ok := mcp.AsBlobResourceContents(read("test://static-binary")); !ok || br.MIMEType != "image/png" || br.Blob == "" {
		t.Errorf("static-binary = %+v", br)
	}
	tr, ok := mcp.AsTextResourceContents(read("test://template/123/data"))
	if !ok || tr.URI != "test://template/123/data" || tr.MIMEType != "application/json" {
		t.Fatalf("template = %+v", tr)
	}
	if want := `{"data":"Data for ID: 123","id":"123","templateTest":true}`; tr.Text != want {
		t.Errorf("template text = %s, want %s", tr.Text, want)
	}

	sub := mcp.SubscribeRequest{}
	sub.Params.URI = "test://watched-resource"
	if err := c.Subscribe(ctx, sub); err != nil {
		t.Errorf("subscribe: %v", err)
	}
	unsub := mcp.UnsubscribeRequest{}
	unsub.Params.URI = "test://watched-resource"
	if err := c.Unsubscribe(ctx, unsub); err != nil {
		t.Errorf("unsubscribe: %v", err)
	}
}

func TestPrompts(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	ctx := testContext(t)

	list, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Prompts {
		names = append(names, p.Name)
		if p.Description == "" {
			t.Errorf("prompt %s has no description", p.Name)
		}
	}
	slices.Sort(names)
	want := []string{"test_prompt_with_arguments", "test_prompt_with_embedded_resource", "test_prompt_with_image", "test_simple_prompt"}
	if !slices.Equal(names, want) {
		t.Errorf("prompts = %v, want %v", names, want)
	}

	get := func(name string, args map[string]string) []mcp.PromptMessage {
		t.Helper()
		req := mcp.GetPromptRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := c.GetPrompt(ctx, req)
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		for _, m := range res.Messages {
			if m.Role != mcp.RoleUser {
				t.Errorf("%s: role %q", name, m.Role)
			}
		}
		return res.Messages
	}
	if msgs := get("test_simple_prompt", nil); len(msgs) != 1 || text(msgs[0].Content) != "This is a simple prompt for testing." {
		t.Errorf("test_simple_prompt = %+v", msgs)
	}
	msgs := get("test_prompt_with_arguments", map[string]string{"arg1": "hello", "arg2": "world"})
	if len(msgs) != 1 || text(msgs[0].Content) != "Prompt with arguments: arg1='hello', arg2='world'" {
		t.Errorf("test_prompt_with_arguments = %+v", msgs)
	}
	msgs = get("test_prompt_with_embedded_resource", map[string]string{"resourceUri": "test://example-resource"})
	if len(msgs) != 2 || !hasEmbedded([]mcp.Content{msgs[0].Content}, "test://example-resource", "text/plain", "Embedded resource content for testing.") {
		t.Errorf("test_prompt_with_embedded_resource = %+v", msgs)
	}
	msgs = get("test_prompt_with_image", nil)
	if img, ok := mcp.AsImageContent(msgs[0].Content); !ok || img.MIMEType != "image/png" || img.Data == "" || len(msgs) != 2 {
		t.Errorf("test_prompt_with_image = %+v", msgs)
	}
}

func TestCompletionAndPing(t *testing.T) {
	c := connect(t, serve(t), legacyVersion)
	ctx := testContext(t)
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	complete := func(ref any, arg, value string) []string {
		t.Helper()
		req := mcp.CompleteRequest{}
		req.Params.Ref = ref
		req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
		res, err := c.Complete(ctx, req)
		if err != nil {
			t.Fatalf("complete %s=%q: %v", arg, value, err)
		}
		return res.Completion.Values
	}
	prompt := mcp.PromptReference{Type: "ref/prompt", Name: "test_prompt_with_arguments"}
	if got, want := complete(prompt, "arg1", "par"), []string{"paris", "park", "party"}; !slices.Equal(got, want) {
		t.Errorf("arg1=par completes to %v, want %v", got, want)
	}
	if got := complete(prompt, "arg1", "zzz"); got == nil || len(got) != 0 {
		t.Errorf("arg1=zzz completes to %#v, want an empty list", got)
	}
	template := mcp.ResourceReference{Type: "ref/resource", URI: "test://template/{id}/data"}
	if got, want := complete(template, "id", "12"), []string{"123"}; !slices.Equal(got, want) {
		t.Errorf("id=12 completes to %v, want %v", got, want)
	}
}

// TestHTTP checks the transport behaviour the suite relies on: the endpoint
// path, the GET stream, and DNS rebinding protection on loopback.
func TestHTTP(t *testing.T) {
	url := serve(t)
	base := strings.TrimSuffix(url, conformance.Path)

	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %d, want 404", resp.StatusCode)
	}

	session := rawInitialize(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Mcp-Protocol-Version", legacyVersion)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// dns-rebinding-protection: a foreign Host on a loopback connection is refused.
	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(initializeBody))
	req.Host = "evil.example.com"
	req.Header.Set("Origin", "http://evil.example.com")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d, want 403", resp.StatusCode)
	}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// rawInitialize performs the initialize handshake with plain HTTP and
// returns the session ID.
func rawInitialize(t *testing.T, url string) string {
	t.Helper()
	resp := rawPost(t, url, "", initializeBody)
	session := resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	if session == "" {
		t.Fatal("initialize returned no Mcp-Session-Id")
	}
	resp = rawPost(t, url, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d, want 202", resp.StatusCode)
	}
	return session
}

// rawCall posts a request and decodes its response, whether it comes as
// JSON or as the last event of an SSE stream.
func rawCall(t *testing.T, url, session, body string, out any) {
	t.Helper()
	resp := rawPost(t, url, session, body)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var last []byte
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				last = []byte(d)
			}
		}
		data = last
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func rawPost(t *testing.T, url, session, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", legacyVersion)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatal(fmt.Errorf("POST %s: %d %s", body, resp.StatusCode, b))
	}
	return resp
}
