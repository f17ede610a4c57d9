package conformance

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

const simplePrompt = "This is a simple prompt for testing."

func addPrompts(s *server.MCPServer) {
	s.AddPrompt(mcp.NewPrompt("test_simple_prompt",
		mcp.WithPromptDescription("A prompt without arguments")),
		func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return promptResult(mcp.NewTextContent(simplePrompt)), nil
		})

	s.AddPrompt(mcp.NewPrompt("test_prompt_with_arguments",
		mcp.WithPromptDescription("A prompt with two required arguments"),
		mcp.WithArgument("arg1", mcp.ArgumentDescription("First test argument"), mcp.RequiredArgument()),
		mcp.WithArgument("arg2", mcp.ArgumentDescription("Second test argument"), mcp.RequiredArgument())),
		func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			args := req.Params.Arguments
			return promptResult(mcp.NewTextContent(fmt.Sprintf(
				"Prompt with arguments: arg1='%s', arg2='%s'", args["arg1"], args["arg2"]))), nil
		})

	s.AddPrompt(mcp.NewPrompt("test_prompt_with_embedded_resource",
		mcp.WithPromptDescription("A prompt embedding the resource named by resourceUri"),
		mcp.WithArgument("resourceUri", mcp.ArgumentDescription("URI of the resource to embed"), mcp.RequiredArgument())),
		func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return promptResult(
				mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: req.Params.Arguments["resourceUri"], MIMEType: "text/plain", Text: promptEmbeds,
				}),
				mcp.NewTextContent("Please process the embedded resource above."),
			), nil
		})

	s.AddPrompt(mcp.NewPrompt("test_prompt_with_image",
		mcp.WithPromptDescription("A prompt with an image")),
		func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return promptResult(
				mcp.NewImageContent(pngBase64, "image/png"),
				mcp.NewTextContent("Please analyze the image above."),
			), nil
		})
}

// promptResult is one user message per content block.
func promptResult(content ...mcp.Content) *mcp.GetPromptResult {
	msgs := make([]mcp.PromptMessage, len(content))
	for i, c := range content {
		msgs[i] = mcp.NewPromptMessage(mcp.RoleUser, c)
	}
	return &mcp.GetPromptResult{Messages: msgs}
}
