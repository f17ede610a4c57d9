package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The fixture contents the suite's scenarios ask for.
const (
	// pngBase64 is a 1x1 red PNG.
	pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAAEElEQVR4nGL6z8AACAAA//8DCQECWLbVUAAAAABJRU5ErkJggg=="
	// wavBase64 is a WAV file of four silent 16-bit mono samples at 8 kHz.
	wavBase64 = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQgAAAAAAAAAAAAAAA=="

	simpleText       = "This is a simple text response for testing."
	embeddedText     = "This is an embedded resource content."
	mixedIntro       = "Multiple content types test:"
	mixedResource    = `{"test":"data","value":123}`
	toolErrorMessage = "This tool intentionally returns an error for testing"

	// notificationGap is the pause between the notifications of the logging
	// and progress tools (the suite asks for about 50 ms), and after the last
	// one: mcp-go v1.2.1 may drop a notification sent just before the result
	// (its POST stream stops forwarding when the result is ready), or send it
	// on the GET stream where it can arrive after the result, which the
	// client then no longer matches to the call.
	notificationGap = 50 * time.Millisecond
)

// logMessages are the info-level log notifications test_tool_with_logging
// sends, in order.
var logMessages = []string{
	"Tool execution started",
	"Tool processing data",
	"Tool execution completed",
}

// jsonSchema202012 is the input schema of json_schema_2020_12_tool, verbatim
// from the json-schema-2020-12 scenario: $schema, $defs and
// additionalProperties must reach the client unchanged.
const jsonSchema202012 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "$defs": {
    "address": {
      "type": "object",
      "properties": {
        "street": {"type": "string"},
        "city": {"type": "string"}
      }
    }
  },
  "properties": {
    "name": {"type": "string"},
    "address": {"$ref": "#/$defs/address"}
  },
  "additionalProperties": false
}`

// inputKey names the single input request of the sampling and elicitation
// tools.
const inputKey = "input"

// fixtureHints mark a fixture tool as what it is: it reads nothing, changes
// nothing and reaches nothing outside this process.
var fixtureHints = []mcp.ToolOption{
	mcp.WithReadOnlyHintAnnotation(true),
	mcp.WithDestructiveHintAnnotation(false),
	mcp.WithIdempotentHintAnnotation(true),
	mcp.WithOpenWorldHintAnnotation(false),
}

func addTools(s *server.MCPServer) {
	add := func(tool mcp.Tool, handler server.ToolHandlerFunc) {
		for _, opt := range fixtureHints {
			opt(&tool)
		}
		s.AddTool(tool, handler)
	}

	add(mcp.NewTool("test_simple_text",
		mcp.WithDescription("Returns a simple text response")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(simpleText), nil
		})

	add(mcp.NewTool("test_image_content",
		mcp.WithDescription("Returns a 1x1 PNG image")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return contentResult(mcp.NewImageContent(pngBase64, "image/png")), nil
		})

	add(mcp.NewTool("test_audio_content",
		mcp.WithDescription("Returns a short WAV clip")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return contentResult(mcp.NewAudioContent(wavBase64, "audio/wav")), nil
		})

	add(mcp.NewTool("test_embedded_resource",
		mcp.WithDescription("Returns an embedded text resource")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return contentResult(mcp.NewEmbeddedResource(mcp.TextResourceContents{
				URI: "test://embedded-resource", MIMEType: "text/plain", Text: embeddedText,
			})), nil
		})

	add(mcp.NewTool("test_multiple_content_types",
		mcp.WithDescription("Returns text, image and embedded resource content")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return contentResult(
				mcp.NewTextContent(mixedIntro),
				mcp.NewImageContent(pngBase64, "image/png"),
				mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: "test://mixed-content-resource", MIMEType: "application/json", Text: mixedResource,
				}),
			), nil
		})

	add(mcp.NewTool("test_tool_with_logging",
		mcp.WithDescription("Sends three info log notifications while it runs")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for _, msg := range logMessages {
				n := mcp.NewLoggingMessageNotification(mcp.LoggingLevelInfo, Name, msg)
				if err := s.SendLogMessageToClient(ctx, n); err != nil {
					return nil, fmt.Errorf("send log message: %w", err)
				}
				if err := sleep(ctx, notificationGap); err != nil {
					return nil, err
				}
			}
			return mcp.NewToolResultText("Tool with logging executed successfully"), nil
		})

	add(mcp.NewTool("test_tool_with_progress",
		mcp.WithDescription("Reports progress 0, 50 and 100 of 100 when given a progress token")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var token mcp.ProgressToken
			if req.Params.Meta != nil {
				token = req.Params.Meta.ProgressToken
			}
			for _, progress := range []int{0, 50, 100} {
				if token != nil {
					err := s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
						"progressToken": token,
						"progress":      progress,
						"total":         100,
					})
					if err != nil {
						return nil, fmt.Errorf("send progress: %w", err)
					}
				}
				if err := sleep(ctx, notificationGap); err != nil {
					return nil, err
				}
			}
			return mcp.NewToolResultText("Tool with progress executed successfully"), nil
		})

	add(mcp.NewTool("test_error_handling",
		mcp.WithDescription("Always fails with an isError result")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError(toolErrorMessage), nil
		})

	add(mcp.NewTool("test_sampling",
		mcp.WithDescription("Asks the client's LLM to answer prompt (sampling/createMessage)"),
		mcp.WithString("prompt", mcp.Required(), mcp.Description("The prompt to send to the LLM"))),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if answer := server.SamplingResponse(req.Params.InputResponses, inputKey); answer != nil {
				return mcp.NewToolResultText("LLM response: " + samplingText(answer)), nil
			}
			return server.NewInputRequestBuilder("").Sample(inputKey, mcp.CreateMessageParams{
				Messages: []mcp.SamplingMessage{{
					Role:    mcp.RoleUser,
					Content: mcp.NewTextContent(req.GetString("prompt", "")),
				}},
				MaxTokens: 100,
			}).ToolResult(), nil
		})

	elicitation := func(name, description, message string, schema map[string]any, format string, opts ...mcp.ToolOption) {
		opts = append([]mcp.ToolOption{mcp.WithDescription(description)}, opts...)
		add(mcp.NewTool(name, opts...),
			func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				if answer := server.ElicitationResponse(req.Params.InputResponses, inputKey); answer != nil {
					return mcp.NewToolResultText(fmt.Sprintf(format, answer.Action, jsonText(answer.Content))), nil
				}
				msg := message
				if msg == "" {
					msg = req.GetString("message", "")
				}
				return server.NewInputRequestBuilder("").Elicit(inputKey, mcp.ElicitationParams{
					Message:         msg,
					RequestedSchema: schema,
				}).ToolResult(), nil
			})
	}

	elicitation("test_elicitation",
		"Asks the user for a username and an email (elicitation/create)",
		"", map[string]any{
			"type": "object",
			"properties": map[string]any{
				"username": map[string]any{"type": "string", "description": "User's response"},
				"email":    map[string]any{"type": "string", "description": "User's email address"},
			},
			"required": []string{"username", "email"},
		},
		"User response: action=%s, content=%s",
		mcp.WithString("message", mcp.Required(), mcp.Description("The message to show the user")))

	elicitation("test_elicitation_sep1034_defaults",
		"Elicits one field of each primitive type, each with a default (SEP-1034)",
		"Please review the defaults", map[string]any{
			"type": "object",
			"properties": map[string]any{
				"name":     map[string]any{"type": "string", "default": "John Doe"},
				"age":      map[string]any{"type": "integer", "default": 30},
				"score":    map[string]any{"type": "number", "default": 95.5},
				"status":   map[string]any{"type": "string", "enum": []string{"active", "inactive", "pending"}, "default": "active"},
				"verified": map[string]any{"type": "boolean", "default": true},
			},
		},
		"Elicitation completed: action=%s, content=%s")

	elicitation("test_elicitation_sep1330_enums",
		"Elicits the five enum schema variants (SEP-1330)",
		"Please choose options", map[string]any{
			"type": "object",
			"properties": map[string]any{
				"untitledSingle": map[string]any{
					"type": "string",
					"enum": []string{"option1", "option2", "option3"},
				},
				"titledSingle": map[string]any{
					"type":  "string",
					"oneOf": titled("value", "First Option", "Second Option", "Third Option"),
				},
				"legacyEnum": map[string]any{
					"type":      "string",
					"enum":      []string{"opt1", "opt2", "opt3"},
					"enumNames": []string{"Option One", "Option Two", "Option Three"},
				},
				"untitledMulti": map[string]any{
					"type":  "array",
					"items": map[string]any{"type": "string", "enum": []string{"option1", "option2", "option3"}},
				},
				"titledMulti": map[string]any{
					"type":  "array",
					"items": map[string]any{"anyOf": titled("value", "First Choice", "Second Choice", "Third Choice")},
				},
			},
		},
		"Elicitation completed: action=%s, content=%s")

	add(mcp.NewToolWithRawSchema("json_schema_2020_12_tool",
		"Tool with JSON Schema 2020-12 features", json.RawMessage(jsonSchema202012)),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("Received: " + jsonText(req.GetArguments())), nil
		})

	// SEP-1699 wants this tool to close its SSE stream before answering, so
	// that the client resumes with GET and Last-Event-ID. mcp-go cannot end
	// a POST stream early, so the result comes on the POST response; the
	// suite's server-sse-polling scenario reports that as INFO.
	add(mcp.NewTool("test_reconnection",
		mcp.WithDescription("Stands in for the SEP-1699 stream-closing tool; answers after a short pause")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := sleep(ctx, notificationGap); err != nil {
				return nil, err
			}
			return mcp.NewToolResultText("Reconnection test completed"), nil
		})
}

func contentResult(content ...mcp.Content) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: content}
}

// titled returns the const/title pairs of a titled enum, with consts
// prefix1, prefix2, ...
func titled(prefix string, titles ...string) []map[string]any {
	out := make([]map[string]any, len(titles))
	for i, title := range titles {
		out[i] = map[string]any{"const": fmt.Sprintf("%s%d", prefix, i+1), "title": title}
	}
	return out
}

// samplingText is the text of a sampling result, or its JSON when it is not
// a single text block.
func samplingText(r *mcp.CreateMessageResult) string {
	if r == nil {
		return ""
	}
	if c, ok := mcp.AsTextContent(r.Content); ok {
		return c.Text
	}
	if m, ok := r.Content.(map[string]any); ok && m["type"] == "text" {
		if text, ok := m["text"].(string); ok {
			return text
		}
	}
	return jsonText(r.Content)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
