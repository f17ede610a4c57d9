// Package catalog is the pinned tool catalog (policies/catalog.json): for each server, each
// tool's action class and its four MCP annotations. The adapter kit renders it from the tools'
// declarations; the policy engine reads it, and policies see an entry as input.tool — never
// what an adapter says at run time.
package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// File is the catalog's name inside the policy directory.
const File = "catalog.json"

// Action classes a tool declares: contract's, as the strings the file holds (Tool.Action).
const (
	ActionRead    = string(contract.ActionRead)
	ActionWrite   = string(contract.ActionWrite)
	ActionExecute = string(contract.ActionExecute)
)

// Catalog is the whole file.
type Catalog struct {
	Servers map[string]Server `json:"servers"`
}

// Server holds one server's tools.
type Server struct {
	Tools map[string]Tool `json:"tools"`
}

// Tool is one catalog entry.
type Tool struct {
	Action      string      `json:"action"`
	Annotations Annotations `json:"annotations"`
	Title       string      `json:"title,omitempty"`
	// Digest pins the tool's definition as its adapter serves it (Digest): a listed tool
	// whose definition no longer matches is hidden and its calls refused until the catalog
	// is re-pinned. Empty: not pinned.
	Digest string `json:"digest,omitempty"`
}

// pinnedFields are the parts of a served tool definition that its pin covers: what an agent
// reads to decide to call it, and what the policy's catalog entry stands for.
var pinnedFields = []string{"name", "description", "inputSchema", "outputSchema", "annotations"}

// Digest is the pin of one tool definition as tools/list serves it (the JSON of one item of
// result.tools): SHA-256 over the canonical JSON (sorted keys, numbers as written) of its
// name, description, input and output schemas and annotations.
func Digest(toolJSON []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(toolJSON))
	dec.UseNumber()
	var t map[string]any
	if err := dec.Decode(&t); err != nil {
		return "", fmt.Errorf("tool definition: %w", err)
	}
	pinned := map[string]any{}
	for _, f := range pinnedFields {
		if v, ok := t[f]; ok {
			pinned[f] = v
		}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pinned); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Annotations are the four MCP tool annotations; all four are required in the catalog.
type Annotations struct {
	ReadOnlyHint    *bool `json:"readOnlyHint"`
	DestructiveHint *bool `json:"destructiveHint"`
	IdempotentHint  *bool `json:"idempotentHint"`
	OpenWorldHint   *bool `json:"openWorldHint"`
}

// Lookup returns the catalog entry of a server's tool.
func (c *Catalog) Lookup(server, tool string) (Tool, bool) {
	if c == nil {
		return Tool{}, false
	}
	t, ok := c.Servers[server].Tools[tool]
	return t, ok
}

// Input renders a tool as the input.tool document.
func (t Tool) Input() map[string]any {
	return map[string]any{
		"action": t.Action,
		"annotations": map[string]any{
			"readOnlyHint":    *t.Annotations.ReadOnlyHint,
			"destructiveHint": *t.Annotations.DestructiveHint,
			"idempotentHint":  *t.Annotations.IdempotentHint,
			"openWorldHint":   *t.Annotations.OpenWorldHint,
		},
	}
}

// Parse decodes and checks a catalog: every tool has an action class and all four
// annotations, and a read tool is read-only and not destructive.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", File, err)
	}
	servers := make([]string, 0, len(c.Servers))
	for s := range c.Servers {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	for _, s := range servers {
		for name, t := range c.Servers[s].Tools {
			where := fmt.Sprintf("%s: servers.%s.tools.%s", File, s, name)
			if !contract.Action(t.Action).Valid() {
				return nil, fmt.Errorf("%s.action: must be read, write or execute, got %q", where, t.Action)
			}
			a := t.Annotations
			if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
				return nil, fmt.Errorf("%s.annotations: all four of readOnlyHint, destructiveHint, idempotentHint, openWorldHint are required", where)
			}
			if t.Action == ActionRead && (!*a.ReadOnlyHint || *a.DestructiveHint) {
				return nil, fmt.Errorf("%s: a read tool must be readOnlyHint=true and destructiveHint=false", where)
			}
		}
	}
	return &c, nil
}

// SetServer replaces one server's tools.
func (c *Catalog) SetServer(name string, tools map[string]Tool) {
	if c.Servers == nil {
		c.Servers = map[string]Server{}
	}
	c.Servers[name] = Server{Tools: tools}
}

// Marshal renders the catalog stably: sorted keys, two-space indent, trailing newline, so the
// committed file only changes when a declaration does.
func (c *Catalog) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
