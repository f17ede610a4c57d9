package kit

import (
	"encoding/json"
	"fmt"
)

// catalogFile is the shape of policies/catalog.json (read by proxy/policy).
type catalogFile struct {
	Servers map[string]catalogServer `json:"servers"`
}

type catalogServer struct {
	Tools map[string]catalogTool `json:"tools"`
}

type catalogTool struct {
	Action      Action          `json:"action"`
	Annotations map[string]bool `json:"annotations"`
	Title       string          `json:"title,omitempty"`
}

func entry(d Declared) catalogTool {
	a := d.Annotations
	return catalogTool{Action: d.Action, Title: d.Title, Annotations: map[string]bool{
		"readOnlyHint": a.ReadOnly.bool(), "destructiveHint": a.Destructive.bool(),
		"idempotentHint": a.Idempotent.bool(), "openWorldHint": a.OpenWorld.bool(),
	}}
}

// Catalog returns the pinned tool catalog with the given adapters' declarations in place of
// whatever existing said about those servers. Servers without an adapter in this build keep
// their existing (hand-maintained) entries. The output is stable: sorted keys, two-space
// indent, trailing newline.
func Catalog(existing []byte, servers ...*Server) ([]byte, error) {
	var c catalogFile
	if len(existing) > 0 {
		if err := json.Unmarshal(existing, &c); err != nil {
			return nil, fmt.Errorf("existing catalog: %w", err)
		}
	}
	if c.Servers == nil {
		c.Servers = map[string]catalogServer{}
	}
	for _, s := range servers {
		if err := s.Err(); err != nil {
			return nil, err
		}
		tools := map[string]catalogTool{}
		for _, d := range s.Declared() {
			tools[d.Name] = entry(d)
		}
		c.Servers[s.Name()] = catalogServer{Tools: tools}
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
