package kit

import (
	"sort"

	"github.com/mark3labs/mcp-go/mcp"
)

// Definitions returns every registered tool exactly as tools/list serves it (name,
// description, annotations, input and output schemas), sorted by name: what the pinned
// catalog's digests cover and what the REST bridge's OpenAPI document describes.
func (s *Server) Definitions() []mcp.Tool {
	tools := s.mcp.ListTools()
	out := make([]mcp.Tool, 0, len(tools))
	for _, t := range tools {
		out = append(out, t.Tool)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
