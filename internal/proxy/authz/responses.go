package authz

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/extproc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
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
//     use it (binding; bindStage unwraps it on the way in);
//   - so is every task id in an answer that can carry one (tasks.go).

// listKinds maps the list methods to the result member that holds their items, the member
// of an item that names it, and the call that item stands for.
var listKinds = map[string]struct{ member, key, method, field string }{
	"tools/list":               {"tools", "name", "tools/call", "name"},
	"prompts/list":             {"prompts", "name", "prompts/get", "name"},
	"resources/list":           {"resources", "uri", "resources/read", "uri"},
	"resources/templates/list": {"resourceTemplates", "uriTemplate", "resources/read", "uri"},
}

// listingSubject is the subject a listing decision sees, built only of JSON types (it travels
// as dynamic metadata to the response side).
func listingSubject(id *oidc.Identity) map[string]any {
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
	return subject
}

// restTools decides a REST tool listing at Check time: the server's pinned tools (less any
// that drifted from their pins) that the caller may call, by the same listing query that
// filters tools/list over MCP. The bridge has no response side to filter; it lists these.
func (s *Server) restTools(ctx context.Context, rev *policy.Revision, r *request) ([]string, error) {
	pinned := rev.Catalog.Servers[r.server].Tools
	items := make([]any, 0, len(pinned))
	for name, t := range pinned {
		if s.drift.has(r.server, name) {
			continue
		}
		items = append(items, map[string]any{"key": name, "tool": t.Input(), "mcp": map[string]any{
			"method": "tools/call", "name": name, "kind": "request", "arguments": map[string]any{}}})
	}
	input := ast.LazyObject(map[string]any{
		"subject": listingSubject(r.identity),
		"mcp":     map[string]any{"server": r.server, "method": "tools/list", "kind": "request", "via": viaREST},
		"now":     s.now().UTC().Format(time.RFC3339),
		"list":    map[string]any{"items": items},
	})
	visible, err := rev.Visible(ctx, input)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(visible))
	for name := range visible {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// metadata is what the response side needs to know about an allowed request.
func (s *Server) metadata(r *request) *structpb.Struct {
	if r.via != viaMCP || r.msg == nil {
		return nil
	}
	// The subject is built once per token (derived); the rest are plain strings and booleans,
	// set directly rather than through structpb's reflection.
	subject := derivedOf(r.identity).listing()
	if subject == nil {
		s.log.Warn().Str("gatehouse.decision_id", r.decisionID).Msg("response-side metadata could not be built")
		return nil
	}
	str := structpb.NewStringValue
	meta := &structpb.Struct{Fields: map[string]*structpb.Value{
		"server": str(r.server), "method": str(r.msg.Method), "kind": str(string(r.msg.Kind)),
		"protocol_version": str(r.msg.ProtocolVersion), "modern": structpb.NewBoolValue(r.msg.Modern),
		"decision_id": str(r.decisionID), "tasks": structpb.NewBoolValue(tasksExpected(r.msg)),
	}}
	// The subject entry, encoded once per token, goes on the wire as it is: to whoever
	// decodes the Struct (Envoy, the response side) it is one more entry of fields.
	meta.ProtoReflect().SetUnknown(subject)
	return meta
}

// Begin implements extproc.Guard.
func (s *Server) Begin(meta *structpb.Struct) extproc.Exchange {
	if meta == nil {
		return nil
	}
	if len(meta.ProtoReflect().GetUnknown()) > 0 {
		// Handed over in process, not decoded from the wire: decode it as Envoy would.
		b, err := proto.Marshal(meta)
		meta = &structpb.Struct{}
		if err != nil || proto.Unmarshal(b, meta) != nil {
			return nil
		}
	}
	m := meta.AsMap()
	subject, _ := m["subject"].(map[string]any)
	if subject == nil {
		return nil
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	modern, _ := m["modern"].(bool)
	tasks, _ := m["tasks"].(bool)
	sub, _ := subject["sub"].(string)
	iss, _ := subject["iss"].(string)
	return &exchange{s: s, subject: subject, server: str("server"), method: str("method"), kind: str("kind"),
		version: str("protocol_version"), modern: modern, tasks: tasks, decisionID: str("decision_id"),
		caller: binding.Caller{Issuer: iss, Subject: sub, Server: str("server")}}
}

// exchange is one allowed request's response.
type exchange struct {
	s                                         *Server
	subject                                   map[string]any
	server, method, kind, version, decisionID string
	modern, tasks                             bool
	caller                                    binding.Caller
}

// ResponseHeaders implements extproc.Exchange.
func (x *exchange) ResponseHeaders(h map[string]string) (map[string]string, []string, extproc.BodyMode) {
	set := map[string]string{}
	if id := h[contract.HeaderSessionID]; id != "" && !x.modern {
		set[contract.HeaderSessionID] = x.s.keys.Wrap(binding.Session, x.caller, id)
	}
	mode := extproc.BodyNone
	if _, isList := listKinds[x.method]; isList || x.tasks {
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

// Message implements extproc.Exchange: it filters the result of a list response and binds
// the task ids of an answer that can carry them.
func (x *exchange) Message(msg []byte) ([]byte, error) {
	if x.tasks {
		return x.bindTasks(msg)
	}
	top, err := splitObject(msg)
	if err != nil {
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
	return encodeObject(top), nil
}

// splitObject reads the members of a JSON object in one pass, without decoding their
// values: a list response is tens of kilobytes, and only its result is looked into (and
// fully parsed, once per distinct result: filter). Every member but result is validated
// here; a repeated key is refused, so the edge and the client cannot read two results.
func splitObject(b []byte) (map[string]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errors.New("not an object")
	}
	out := map[string]json.RawMessage{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, errors.New("data after the object")
		}
		return out, nil
	}
	for {
		end, err := valueEnd(b, i)
		if err != nil || b[i] != '"' {
			return nil, errors.New("an object key is not a string")
		}
		var key string
		if err := json.Unmarshal(b[i:end], &key); err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("member %q appears twice", key)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errors.New("expected ':'")
		}
		i = skipSpace(b, i+1)
		vend, err := valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		v := b[i:vend]
		if key != "result" && !json.Valid(v) {
			return nil, fmt.Errorf("member %q is not valid JSON", key)
		}
		out[key] = v
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, errors.New("truncated object")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return nil, errors.New("data after the object")
			}
			return out, nil
		default:
			return nil, errors.New("expected ',' or '}'")
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns where the JSON value starting at b[i] ends, following strings and nesting
// only (the content is validated by whoever decodes it).
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("truncated value")
	}
	depth := 0
	for j := i; j < len(b); j++ {
		c := b[j]
		if depth == 0 && j > i && (c == '"' || c == '{' || c == '[') {
			// A literal ran into a string or structure ("0\"\"") with nothing between.
			return 0, errors.New("invalid value")
		}
		switch c {
		case '"':
			j++
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return 0, errors.New("unterminated string")
			}
			if depth == 0 {
				return j + 1, nil
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				if j == i {
					return 0, errors.New("missing value")
				}
				return j, nil // the end of a literal, closing the object around it
			}
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				if j == i {
					return 0, errors.New("missing value")
				}
				return j, nil
			}
		}
	}
	if depth == 0 && i < len(b) {
		return len(b), nil
	}
	return 0, errors.New("truncated value")
}

// encodeObject writes an object of raw members (already valid JSON, as they were parsed or
// built here) without re-validating them, keys sorted.
func encodeObject(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	n := 2
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 8
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, m[k]...)
	}
	return append(b, '}')
}

// parsedList is a list result read once per revision: its raw items, their keys (empty for
// a tool hidden because its definition drifted from its pin), and the items as the listing
// query sees them.
type parsedList struct {
	res         map[string]json.RawMessage
	items       []json.RawMessage
	keys        []string
	policyItems []any
	// pins are the listed tools' pin comparisons, applied to the drift record on every
	// listing (a memoised list still clears or marks drift: the adapter may have changed
	// back and forth since it was parsed).
	pins []pinCheck
}

// pinCheck is one listed tool's served digest against its pin.
type pinCheck struct{ tool, pin, got string }

// filter keeps the items of a list result the caller may see.
func (x *exchange) filter(result json.RawMessage) (json.RawMessage, error) {
	kind := listKinds[x.method]
	rev := x.s.policy.Current()
	if rev == nil {
		return nil, errors.New("no authorization policy is loaded (fail closed)")
	}
	bodyKey := sha256.Sum256(append([]byte(rev.ID+"\x00"+x.server+"\x00"+x.method+"\x00"), result...))
	pl, err := x.s.lists.parsed(bodyKey, func() (*parsedList, error) { return x.parse(rev, result) })
	if err != nil {
		return nil, err
	}
	x.s.recordPins(x.server, pl.pins, x.decisionID)
	var visible map[string]bool
	var visKey [32]byte
	if rev.Timeless {
		// The listing decision is a function of the subject and the list alone: remember it.
		subj, err := json.Marshal(x.subject)
		if err != nil {
			return nil, err
		}
		visKey = sha256.Sum256(append(append(bodyKey[:], subj...), []byte(x.version)...))
		visible = x.s.lists.visible(visKey)
	}
	if visible == nil {
		input := ast.LazyObject(map[string]any{
			"subject": x.subject,
			"mcp": map[string]any{"server": x.server, "method": x.method, "kind": x.kind,
				"protocol_version": x.version, "via": viaMCP},
			"now":  x.s.now().UTC().Format(time.RFC3339),
			"list": map[string]any{"items": pl.policyItems},
		})
		ctx, cancel := context.WithTimeout(context.Background(), x.s.cfg.Policy.EvalTimeout)
		defer cancel()
		if visible, err = rev.Visible(ctx, input); err != nil {
			x.s.metrics.policyErrors.Inc()
			return nil, err
		}
		if rev.Timeless {
			x.s.lists.remember(visKey, visible)
		}
	}
	b := make([]byte, 0, len(result))
	b = append(b, '[')
	kept := 0
	for i, raw := range pl.items {
		if pl.keys[i] != "" && visible[pl.keys[i]] {
			if kept > 0 {
				b = append(b, ',')
			}
			b = append(b, raw...)
			kept++
		}
	}
	b = append(b, ']')
	x.s.metrics.listed.WithLabelValues(x.server, x.method, "shown").Add(float64(kept))
	x.s.metrics.listed.WithLabelValues(x.server, x.method, "hidden").Add(float64(len(pl.items) - kept))
	res := make(map[string]json.RawMessage, len(pl.res)+1)
	for k, v := range pl.res {
		res[k] = v
	}
	res[kind.member] = b
	if x.modern {
		// The list is this caller's: no shared cache may serve it to another (2026-07-28).
		res["cacheScope"] = json.RawMessage(`"private"`)
	}
	return encodeObject(res), nil
}

// parse reads a list result: its items, their keys, the pins of listed tools (a drifted tool
// is hidden whatever the policy says), and the items the listing query decides on.
func (x *exchange) parse(rev *policy.Revision, result json.RawMessage) (*parsedList, error) {
	kind := listKinds[x.method]
	pl := &parsedList{}
	if err := json.Unmarshal(result, &pl.res); err != nil {
		return nil, fmt.Errorf("%s result is not an object: %w", x.method, err)
	}
	if raw, ok := pl.res[kind.member]; ok {
		if err := json.Unmarshal(raw, &pl.items); err != nil {
			return nil, fmt.Errorf("%s result.%s is not a list: %w", x.method, kind.member, err)
		}
	}
	pl.keys = make([]string, len(pl.items))
	pl.policyItems = make([]any, 0, len(pl.items))
	for i, raw := range pl.items {
		var head map[string]json.RawMessage
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s item %d is not an object: %w", x.method, i, err)
		}
		var key string
		if err := json.Unmarshal(head[kind.key], &key); err != nil || key == "" {
			return nil, fmt.Errorf("%s item %d has no %s", x.method, i, kind.key)
		}
		item := map[string]any{"key": key, "mcp": map[string]any{
			"method": kind.method, kind.field: key, "kind": "request", "arguments": map[string]any{}}}
		if x.method == "tools/list" {
			if t, pinned := rev.Catalog.Lookup(x.server, key); pinned {
				if t.Digest != "" {
					got, err := catalog.Digest(raw)
					if err != nil {
						got = "unreadable"
					}
					pl.pins = append(pl.pins, pinCheck{tool: key, pin: t.Digest, got: got})
					if got != t.Digest {
						continue // drifted: hidden, whatever the policy says
					}
				}
				item["tool"] = t.Input()
			}
		}
		pl.keys[i] = key
		pl.policyItems = append(pl.policyItems, item)
	}
	return pl, nil
}

// listMemo remembers parsed list results (per revision and body) and, for timeless
// revisions, listing decisions (per revision, body, subject and revision of MCP): a caller
// that lists the same tools again pays for a hash and a copy, not for the policy. Both are
// bounded; when full they start over.
type listMemo struct {
	mu    sync.Mutex
	lists map[[32]byte]*parsedList
	seen  map[[32]byte]map[string]bool
}

const (
	maxParsedLists = 256
	maxListings    = 8192
)

func newListMemo() *listMemo {
	return &listMemo{lists: map[[32]byte]*parsedList{}, seen: map[[32]byte]map[string]bool{}}
}

func (m *listMemo) parsed(k [32]byte, parse func() (*parsedList, error)) (*parsedList, error) {
	m.mu.Lock()
	pl := m.lists[k]
	m.mu.Unlock()
	if pl != nil {
		return pl, nil
	}
	pl, err := parse()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if len(m.lists) >= maxParsedLists {
		m.lists = map[[32]byte]*parsedList{}
	}
	m.lists[k] = pl
	m.mu.Unlock()
	return pl, nil
}

func (m *listMemo) visible(k [32]byte) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[k]
}

func (m *listMemo) remember(k [32]byte, v map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= maxListings {
		m.seen = map[[32]byte]map[string]bool{}
	}
	m.seen[k] = v
}

// recordPins applies a listing's pin comparisons. A mismatch is remembered (the tool's calls
// are refused: policyStage), logged once per definition and counted; a match clears an
// earlier mismatch.
func (s *Server) recordPins(server string, pins []pinCheck, decisionID string) {
	for _, p := range pins {
		s.recordPin(server, p.tool, p.pin, p.got, decisionID)
	}
}

func (s *Server) recordPin(server, tool, pin, got, decisionID string) {
	if got == pin {
		s.drift.clear(server, tool)
		return
	}
	if s.drift.mark(server, tool, got) {
		s.metrics.drift.WithLabelValues(server, tool).Inc()
		s.log.Warn().Str("event.kind", "alert").Str("event.action", "tool-definition-mismatch").
			Str("event.outcome", "failure").Str("gatehouse.server", server).Str("gatehouse.tool", tool).
			Str("gatehouse.pinned_digest", pin).Str("gatehouse.served_digest", got).Str("gatehouse.decision_id", decisionID).
			Msg("a tool's served definition differs from its pin in the catalog: it is hidden and its calls are refused")
	}
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
