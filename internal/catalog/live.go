package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// ServedTools lists the tools an MCP server serves at url (an adapter's /mcp), as raw JSON
// definitions by name, following pagination. It speaks MCP 2025-06-18 over streamable HTTP
// (initialize, then tools/list with the session id if one is issued), reading JSON or SSE
// answers, so the definitions are exactly what the server sends.
func ServedTools(ctx context.Context, client *http.Client, url string) (map[string]json.RawMessage, error) {
	const version = "2025-06-18"
	session := ""
	post := func(id int, method string, params any) (json.RawMessage, error) {
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", version)
		if session != "" {
			req.Header.Set(contract.HeaderSessionID, session)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s answered %s", method, resp.Status)
		}
		if s := resp.Header.Get(contract.HeaderSessionID); s != "" {
			session = s
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			raw = sseMessage(raw)
		}
		var msg struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			return nil, fmt.Errorf("%s: the answer is not JSON-RPC: %w", method, err)
		}
		if msg.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		return msg.Result, nil
	}
	if _, err := post(1, "initialize", map[string]any{"protocolVersion": version, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "gatehouse-catalog-check", "version": "1"}}); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	cursor := ""
	for page := 2; page < 1000; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		res, err := post(page, "tools/list", params)
		if err != nil {
			return nil, err
		}
		var list struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(res, &list); err != nil {
			return nil, fmt.Errorf("tools/list result: %w", err)
		}
		for _, t := range list.Tools {
			var head struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(t, &head); err != nil || head.Name == "" {
				return nil, fmt.Errorf("tools/list: a tool without a name")
			}
			out[head.Name] = t
		}
		if cursor = list.NextCursor; cursor == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("tools/list: more than 1000 pages")
}

// sseMessage returns the data of the first event of an SSE body.
func sseMessage(body []byte) []byte {
	var data []string
	for _, l := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		if d, ok := strings.CutPrefix(l, "data:"); ok {
			data = append(data, strings.TrimPrefix(d, " "))
		} else if l == "" && len(data) > 0 {
			break
		}
	}
	return []byte(strings.Join(data, "\n"))
}

// Mismatch is a difference between a server's served tools and their pins.
type Mismatch struct {
	Server, Tool     string
	Pinned, Served   string // digests; "" when not pinned, or not served
	PinnedButMissing bool
}

func (m Mismatch) String() string {
	switch {
	case m.Served == "":
		return fmt.Sprintf("%s/%s is pinned (%s) but not served", m.Server, m.Tool, m.Pinned)
	case m.Pinned == "":
		return fmt.Sprintf("%s/%s is served (%s) but not pinned: no one may call it", m.Server, m.Tool, m.Served)
	default:
		return fmt.Sprintf("%s/%s differs from its pin: served %s, pinned %s", m.Server, m.Tool, m.Served, m.Pinned)
	}
}

// Compare checks one server's served tools against the catalog's pins.
func (c *Catalog) Compare(server string, served map[string]json.RawMessage) ([]Mismatch, error) {
	var out []Mismatch
	pins := c.Servers[server].Tools
	for name, def := range served {
		got, err := Digest(def)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", server, name, err)
		}
		t, pinned := pins[name]
		switch {
		case !pinned:
			out = append(out, Mismatch{Server: server, Tool: name, Served: got})
		case t.Digest != "" && t.Digest != got:
			out = append(out, Mismatch{Server: server, Tool: name, Served: got, Pinned: t.Digest})
		}
	}
	for name, t := range pins {
		if _, ok := served[name]; !ok {
			out = append(out, Mismatch{Server: server, Tool: name, Pinned: t.Digest, PinnedButMissing: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out, nil
}
