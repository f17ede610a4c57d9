package kit

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
)

func entry(d Declared) catalog.Tool {
	b := func(h Hint) *bool { v := h.bool(); return &v }
	a := d.Annotations
	return catalog.Tool{Action: string(d.Action), Title: d.Title, Annotations: catalog.Annotations{
		ReadOnlyHint: b(a.ReadOnly), DestructiveHint: b(a.Destructive), IdempotentHint: b(a.Idempotent), OpenWorldHint: b(a.OpenWorld),
	}}
}

// Catalog returns the pinned tool catalog with the given adapters' declarations in place of
// whatever existing said about those servers. Servers without an adapter in this build keep
// their existing (hand-maintained) entries. The result is valid for the policy engine.
func Catalog(existing []byte, servers ...*Server) ([]byte, error) {
	c := &catalog.Catalog{}
	if len(existing) > 0 {
		parsed, err := catalog.Parse(existing)
		if err != nil {
			return nil, fmt.Errorf("existing catalog: %w", err)
		}
		c = parsed
	}
	for _, s := range servers {
		if err := s.Err(); err != nil {
			return nil, err
		}
		digests, err := s.digests()
		if err != nil {
			return nil, err
		}
		tools := map[string]catalog.Tool{}
		for _, d := range s.Declared() {
			e := entry(d)
			e.Digest = digests[d.Name]
			tools[d.Name] = e
		}
		c.SetServer(s.Name(), tools)
	}
	out, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	if _, err := catalog.Parse(out); err != nil {
		return nil, fmt.Errorf("generated catalog is invalid: %w", err)
	}
	return out, nil
}

// digests pins every tool as this server serves it in tools/list.
func (s *Server) digests() (map[string]string, error) {
	out := map[string]string{}
	for name, t := range s.mcp.ListTools() {
		b, err := json.Marshal(t.Tool)
		if err != nil {
			return nil, fmt.Errorf("tool %q: %w", name, err)
		}
		if out[name], err = catalog.Digest(b); err != nil {
			return nil, fmt.Errorf("tool %q: %w", name, err)
		}
	}
	return out, nil
}
