package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/extproc"
)

// Response-side enforcement. An allowed Check leaves what the response side needs in the
// CheckResponse's dynamic metadata (metadata below); Envoy hands it to the ext_proc stream of
// the same request (extproc), where Begin picks it up:
//
//   - lists (tools, prompts, resources, resource templates) are filtered by the policy's
//     listing decision, one query per list, so nobody sees what they may not call or read;
//   - a listed tool whose definition differs from its pin in the catalog is hidden, and its
//     calls are refused (drift) until the catalog is re-pinned;
//   - a session id an upstream issues is wrapped so that only the caller it was issued to can
//     use it (binding; bindStage unwraps it on the way in).

// listKinds maps the list methods to the result member that holds their items, the member
// of an item that names it, and the call that item stands for.
var listKinds = map[string]struct{ member, key, method, field string }{
	"tools/list":               {"tools", "name", "tools/call", "name"},
	"prompts/list":             {"prompts", "name", "prompts/get", "name"},
	"resources/list":           {"resources", "uri", "resources/read", "uri"},
	"resources/templates/list": {"resourceTemplates", "uriTemplate", "resources/read", "uri"},
}

// metadata is what the response side needs to know about an allowed request.
func (s *Server) metadata(r *request) *structpb.Struct {
	if r.via != viaMCP || r.msg == nil {
		return nil
	}
	id := r.identity
	strs := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, v := range ss {
			out[i] = v
		}
		return out
	}
	subject := map[string]any{
		"sub": id.Subject, "iss": id.Issuer, "email": id.Email, "groups": strs(id.Groups),
		"scopes": strs(id.Scopes), "amr": strs(id.AMR), "client_id": id.ClientID,
	}
	if claims, err := structpb.NewStruct(id.Claims); err == nil {
		subject["claims"] = claims.AsMap()
	}
	m := map[string]any{
		"subject": subject, "server": r.server, "method": r.msg.Method, "kind": string(r.msg.Kind),
		"protocol_version": r.msg.ProtocolVersion, "modern": r.msg.Modern, "decision_id": r.decisionID,
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		s.log.Warn().Err(err).Str("gatehouse.decision_id", r.decisionID).Msg("response-side metadata could not be built")
		return nil
	}
	return st
}

// Begin implements extproc.Guard.
func (s *Server) Begin(meta *structpb.Struct) extproc.Exchange {
	if meta == nil {
		return nil
	}
	m := meta.AsMap()
	subject, _ := m["subject"].(map[string]any)
	if subject == nil {
		return nil
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	modern, _ := m["modern"].(bool)
	sub, _ := subject["sub"].(string)
	iss, _ := subject["iss"].(string)
	return &exchange{s: s, subject: subject, server: str("server"), method: str("method"), kind: str("kind"),
		version: str("protocol_version"), modern: modern, decisionID: str("decision_id"),
		caller: binding.Caller{Issuer: iss, Subject: sub, Server: str("server")}}
}

// exchange is one allowed request's response.
type exchange struct {
	s                                         *Server
	subject                                   map[string]any
	server, method, kind, version, decisionID string
	modern                                    bool
	caller                                    binding.Caller
}

// ResponseHeaders implements extproc.Exchange.
func (x *exchange) ResponseHeaders(h map[string]string) (map[string]string, []string, extproc.BodyMode) {
	set := map[string]string{}
	if id := h[contract.HeaderSessionID]; id != "" && !x.modern {
		set[contract.HeaderSessionID] = x.s.keys.Wrap(binding.Session, x.caller, id)
	}
	mode := extproc.BodyNone
	if _, isList := listKinds[x.method]; isList {
		ct := strings.ToLower(h["content-type"])
		switch {
		case strings.HasPrefix(ct, "application/json"):
			mode = extproc.BodyJSON
		case strings.HasPrefix(ct, "text/event-stream"):
			mode = extproc.BodyEvents
		}
	}
	return set, nil, mode
}

// Message implements extproc.Exchange: it filters the result of a list response.
func (x *exchange) Message(msg []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(msg, &top); err != nil {
		return nil, fmt.Errorf("the server's response is not a JSON-RPC message: %w", err)
	}
	result, ok := top["result"]
	if !ok {
		return msg, nil // an error, a server request or a notification: nothing listed
	}
	filtered, err := x.filter(result)
	if err != nil {
		return nil, err
	}
	top["result"] = filtered
	return json.Marshal(top)
}

// filter keeps the items of a list result the caller may see.
func (x *exchange) filter(result json.RawMessage) (json.RawMessage, error) {
	kind := listKinds[x.method]
	var res map[string]json.RawMessage
	if err := json.Unmarshal(result, &res); err != nil {
		return nil, fmt.Errorf("%s result is not an object: %w", x.method, err)
	}
	var items []json.RawMessage
	if raw, ok := res[kind.member]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%s result.%s is not a list: %w", x.method, kind.member, err)
		}
	}
	rev := x.s.policy.Current()
	if rev == nil {
		return nil, errors.New("no authorization policy is loaded (fail closed)")
	}
	keys := make([]string, len(items))
	policyItems := make([]any, 0, len(items))
	for i, raw := range items {
		var head map[string]json.RawMessage
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s item %d is not an object: %w", x.method, i, err)
		}
		var key string
		if err := json.Unmarshal(head[kind.key], &key); err != nil || key == "" {
			return nil, fmt.Errorf("%s item %d has no %s", x.method, i, kind.key)
		}
		keys[i] = key
		item := map[string]any{"key": key, "mcp": map[string]any{
			"method": kind.method, kind.field: key, "kind": "request", "arguments": map[string]any{}}}
		if x.method == "tools/list" {
			t, pinned := rev.Catalog.Lookup(x.server, key)
			if pinned {
				if t.Digest != "" && !x.s.pinHolds(x.server, key, t.Digest, raw, x.decisionID) {
					keys[i] = "" // drifted: hidden, whatever the policy says
					continue
				}
				item["tool"] = t.Input()
			}
		}
		policyItems = append(policyItems, item)
	}
	input := ast.LazyObject(map[string]any{
		"subject": x.subject,
		"mcp": map[string]any{"server": x.server, "method": x.method, "kind": x.kind,
			"protocol_version": x.version, "via": viaMCP},
		"now":  x.s.now().UTC().Format(time.RFC3339),
		"list": map[string]any{"items": policyItems},
	})
	ctx, cancel := context.WithTimeout(context.Background(), x.s.cfg.Policy.EvalTimeout)
	defer cancel()
	visible, err := rev.Visible(ctx, input)
	if err != nil {
		x.s.metrics.policyErrors.Inc()
		return nil, err
	}
	kept := make([]json.RawMessage, 0, len(items))
	for i, raw := range items {
		if keys[i] != "" && visible[keys[i]] {
			kept = append(kept, raw)
		}
	}
	x.s.metrics.listed.WithLabelValues(x.server, x.method, "shown").Add(float64(len(kept)))
	x.s.metrics.listed.WithLabelValues(x.server, x.method, "hidden").Add(float64(len(items) - len(kept)))
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	res[kind.member] = b
	if x.modern {
		// The list is this caller's: no shared cache may serve it to another (2026-07-28).
		res["cacheScope"] = json.RawMessage(`"private"`)
	}
	return json.Marshal(res)
}

// pinHolds compares a listed tool's definition with its pin. A mismatch is remembered (the
// tool's calls are refused: policyStage), logged once per definition and counted; a match
// clears an earlier mismatch.
func (s *Server) pinHolds(server, tool, pin string, def []byte, decisionID string) bool {
	got, err := catalog.Digest(def)
	if err == nil && got == pin {
		s.drift.clear(server, tool)
		return true
	}
	if s.drift.mark(server, tool, got) {
		s.metrics.drift.WithLabelValues(server, tool).Inc()
		s.log.Warn().Str("event.kind", "alert").Str("event.action", "tool-definition-mismatch").
			Str("event.outcome", "failure").Str("gatehouse.server", server).Str("gatehouse.tool", tool).
			Str("gatehouse.pinned_digest", pin).Str("gatehouse.served_digest", got).Str("gatehouse.decision_id", decisionID).
			Msg("a tool's served definition differs from its pin in the catalog: it is hidden and its calls are refused")
	}
	return false
}

// drift remembers the tools whose served definition differs from their pin, with the
// digest that was served.
type drift struct {
	mu sync.RWMutex
	m  map[string]string
}

func newDrift() *drift { return &drift{m: map[string]string{}} }

// mark records a mismatch; it reports whether this served digest is new for the tool.
func (d *drift) mark(server, tool, digest string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := server + "\x00" + tool
	if d.m[k] == digest {
		return false
	}
	d.m[k] = digest
	return true
}

func (d *drift) clear(server, tool string) {
	d.mu.Lock()
	delete(d.m, server+"\x00"+tool)
	d.mu.Unlock()
}

func (d *drift) has(server, tool string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.m[server+"\x00"+tool]
	return ok
}

// driftRefusal is the reason a drifted tool's call is refused.
func driftRefusal(server, tool string) string {
	return fmt.Sprintf("the definition of tool %q that server %q now serves differs from its pinned definition in the catalog; "+
		"its calls are refused until the catalog is re-pinned (gatehouse catalog --check shows the difference)", tool, server)
}
