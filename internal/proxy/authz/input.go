package authz

import (
	"crypto/sha256"
	"slices"
	"strconv"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa-envoy-plugin/envoyauth"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/mcpmsg"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// buildInput is the opa-envoy-plugin input document plus subject, mcp, tool and now. The
// Authorization header is dropped from it: policies see the verified input.subject instead,
// and a token must not surface through print() or a decision dump.
//
// The body is parsed once, by mcpmsg: input.parsed_body is that parse (as opa-envoy-plugin
// names it), and the raw body (attributes.request.http.body / rawBody) is left out rather
// than copied into the input a second time, base64-encoded. The whole input is a lazy object
// (ast.LazyObject, as OPA's own server hands its input over): a part is converted to an OPA
// value only when a rule reads it, so a megabyte of arguments costs nothing when the policy
// looks at a tool's name. (An eager object would hash, and so convert, everything.)
func (s *Server) buildInput(req *authv3.CheckRequest, r *request, tool map[string]any) (ast.Value, error) {
	in, err := envoyauth.RequestToInput(req, nil, nil, true)
	if err != nil {
		return nil, err
	}
	if attrs, ok := in["attributes"].(map[string]any); ok {
		if rq, ok := attrs["request"].(map[string]any); ok {
			if h, ok := rq["http"].(map[string]any); ok {
				if hs, ok := h["headers"].(map[string]any); ok {
					delete(hs, "authorization")
				}
				delete(h, "body")
				delete(h, "rawBody")
			}
		}
	}
	in["subject"] = derivedOf(r.identity).subject()
	mcp, err := mcpInput(r)
	if err != nil {
		return nil, err
	}
	in["mcp"] = mcp
	if r.msg.Body != nil {
		in["parsed_body"] = r.msg.Body
	}
	if tool != nil {
		in["tool"] = tool
	}
	in["now"] = s.now().UTC().Format(time.RFC3339)
	return ast.LazyObject(in), nil
}

// memoRefs are the input parts a remembered decision may read (policy/memo.go): the
// question a Check asks, not who asks it, what it carries or when. memoKey must agree.
var memoRefs = []ast.Ref{
	ast.MustParseRef("input.mcp.server"),
	ast.MustParseRef("input.mcp.protocol_version"),
	ast.MustParseRef("input.mcp.kind"),
	ast.MustParseRef("input.mcp.via"),
	ast.MustParseRef("input.mcp.method"),
	ast.MustParseRef("input.mcp.name"),
	ast.MustParseRef("input.subject.groups"),
	// input.tool is the catalog's entry for (server, tools/call, name), all in the key; the
	// catalog belongs to the revision, and so does the memo.
	ast.MustParseRef("input.tool"),
}

// memoKey is the memo's key for r, and ok false when r's question is not one to remember:
// only questions from a bounded set are, so that no caller can fill the memo (or authz's
// memory) with made-up ones. Those are a known MCP method, a supported revision (or none),
// and no name unless it names a tool of the pinned catalog (tool).
func memoKey(r *request, tool map[string]any) (key string, ok bool) {
	m := r.msg
	if m.Method != "" && m.MetricMethod() == "other" {
		return "", false // not a known method
	}
	if m.ProtocolVersion != "" && !mcpmsg.Supported(m.ProtocolVersion) {
		return "", false
	}
	if m.Name != "" && (m.Method != "tools/call" || tool == nil) {
		return "", false
	}
	sum := sha256.Sum256(memoKeyText(r))
	return string(sum[:]), true
}

// memoKeyText is the values buildInput puts at memoRefs: equal texts mean equal values
// there. Each part is length-prefixed, so no value can imitate a boundary (group names are
// any JSON string); an empty string is the same absent field in both; groups keep their
// order, which a policy could read. The memo keeps only its SHA-256.
func memoKeyText(r *request) []byte {
	m := r.msg
	b := make([]byte, 0, 128)
	part := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	for _, s := range []string{r.server, m.ProtocolVersion, string(m.Kind), r.via, m.Method, m.Name} {
		part(s)
	}
	b = strconv.AppendInt(b, int64(len(r.identity.Groups)), 10)
	b = append(b, '#')
	for _, g := range r.identity.Groups {
		part(g)
	}
	return b
}

// derived holds what is computed from a verified token once, on first use, and reused for as
// long as the token is (the verifier caches the identity): the policy's input.subject and the
// response side's subject. Each part is built only if a Check needs it.
type derived struct {
	id                       *oidc.Identity
	subjectOnce, listingOnce sync.Once
	subjectV                 any
	listingV                 []byte
}

func derivedOf(id *oidc.Identity) *derived {
	return id.Memo(func(id *oidc.Identity) any { return &derived{id: id} }).(*derived)
}

func (d *derived) subject() any {
	d.subjectOnce.Do(func() { d.subjectV = subjectValue(d.id) })
	return d.subjectV
}

// listing is listingSubject as the "subject" entry of the dynamic metadata's Struct,
// encoded once: marshalling the nested claims by reflection on every allowed Check cost more
// than the rest of the CheckResponse (BENCHMARKS.md). Nil if it cannot be built.
func (d *derived) listing() []byte {
	d.listingOnce.Do(func() {
		v, err := structpb.NewValue(listingSubject(d.id))
		if err != nil {
			return
		}
		value, err := proto.Marshal(v)
		if err != nil {
			return
		}
		// Struct.fields (1) is a map<string, Value>: each entry a message of key (1) and
		// value (2).
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, "subject")
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, value)
		// Clipped: every response for the token shares it, and one merged into would
		// otherwise append into the others' bytes.
		d.listingV = slices.Clip(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entry))
	})
	return d.listingV
}

// subjectValue is input.subject as an OPA value; it is computed once per verified token.
func subjectValue(id *oidc.Identity) any {
	v, err := ast.InterfaceToValue(subjectInput(id))
	if err != nil {
		// Claims come from json.Unmarshal, which InterfaceToValue always handles; fall back
		// to the plain map, which the caller converts (and reports) again.
		return subjectInput(id)
	}
	return v
}

func subjectInput(id *oidc.Identity) map[string]any {
	return map[string]any{
		"sub":       id.Subject,
		"iss":       id.Issuer,
		"email":     id.Email,
		"groups":    nonNil(id.Groups),
		"scopes":    nonNil(id.Scopes),
		"amr":       nonNil(id.AMR),
		"client_id": id.ClientID,
		"claims":    id.Claims,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mcpInput is input.mcp; the message's params, arguments and ref are lazy (see buildInput).
func mcpInput(r *request) (map[string]any, error) {
	m := r.msg
	out := map[string]any{
		"server":           r.server,
		"protocol_version": m.ProtocolVersion,
		"kind":             string(m.Kind),
		"via":              r.via,
	}
	if m.Method != "" {
		out["method"] = m.Method
	}
	if m.ID != nil {
		out["id"] = m.ID
	}
	if m.Name != "" {
		out["name"] = m.Name
	}
	if m.URI != "" {
		out["uri"] = m.URI
	}
	if m.TaskID != "" {
		out["task_id"] = m.TaskID
	}
	if m.Ref != nil {
		out["ref"] = m.Ref
	}
	if m.Params != nil {
		out["params"] = m.Params
	}
	if m.Method == "tools/call" || m.Method == "prompts/get" {
		args := m.Arguments
		if args == nil {
			args = map[string]any{}
		}
		out["arguments"] = args
	}
	if m.SessionID != "" {
		out["session_id"] = m.SessionID
	}
	return out, nil
}
