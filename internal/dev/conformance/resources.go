package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

const (
	staticText   = "This is the content of the static text resource."
	watchedText  = "This resource can be subscribed to."
	templateURI  = "test://template/{id}/data"
	templatePfx  = "test://template/"
	templateSfx  = "/data"
	promptEmbeds = "Embedded resource content for testing."
)

func addResources(s *server.MCPServer) {
	text := func(uri, name, description, mimeType, content string) {
		s.AddResource(mcp.NewResource(uri, name,
			mcp.WithResourceDescription(description), mcp.WithMIMEType(mimeType)),
			func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: mimeType, Text: content}}, nil
			})
	}
	text("test://static-text", "static-text", "A static text resource", "text/plain", staticText)
	text("test://watched-resource", "watched-resource", "A resource for resources/subscribe", "text/plain", watchedText)

	s.AddResource(mcp.NewResource("test://static-binary", "static-binary",
		mcp.WithResourceDescription("A static binary resource (1x1 PNG)"), mcp.WithMIMEType("image/png")),
		func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.BlobResourceContents{
				URI: "test://static-binary", MIMEType: "image/png", Blob: pngBase64,
			}}, nil
		})

	s.AddResourceTemplate(mcp.NewResourceTemplate(templateURI, "template-data",
		mcp.WithTemplateDescription("Data for an id, substituted into the URI"),
		mcp.WithTemplateMIMEType("application/json")),
		func(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			id, err := templateID(req)
			if err != nil {
				return nil, err
			}
			return []mcp.ResourceContents{mcp.TextResourceContents{
				URI:      req.Params.URI,
				MIMEType: "application/json",
				Text:     jsonText(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id}),
			}}, nil
		})
}

// templateID is the {id} of a test://template/{id}/data URI: from the
// variables mcp-go matched, or else from the URI itself.
func templateID(req mcp.ReadResourceRequest) (string, error) {
	switch v := req.Params.Arguments["id"].(type) {
	case []string:
		if len(v) == 1 && v[0] != "" {
			return v[0], nil
		}
	case string:
		if v != "" {
			return v, nil
		}
	}
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, templatePfx)
	if ok {
		id, ok = strings.CutSuffix(id, templateSfx)
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", fmt.Errorf("%q does not match %s", uri, templateURI)
	}
	return id, nil
}

// completions completes the arguments of test_prompt_with_arguments and the
// {id} of the resource template from fixed lists, by prefix.
type completions struct{}

var completionValues = map[string][]string{
	"arg1": {"paris", "park", "party", "test", "testValue1"},
	"arg2": {"test", "testValue2", "world"},
	"id":   {"1", "123", "456"},
}

func (completions) CompletePromptArgument(_ context.Context, _ string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	return complete(arg), nil
}

func (completions) CompleteResourceArgument(_ context.Context, _ string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	return complete(arg), nil
}

func complete(arg mcp.CompleteArgument) *mcp.Completion {
	values := []string{}
	for _, v := range completionValues[arg.Name] {
		if strings.HasPrefix(v, arg.Value) {
			values = append(values, v)
		}
	}
	return &mcp.Completion{Values: values, Total: len(values)}
}
