package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

// Action is a tool's action class, which policies decide on (policies/catalog.json). It is
// the platform's one definition, contract.Action.
type Action = contract.Action

// Action classes.
const (
	Read    = contract.ActionRead    // observes, changes nothing
	Write   = contract.ActionWrite   // changes records (tickets, issues)
	Execute = contract.ActionExecute // acts on infrastructure (runs commands, deploys)
)

// Hint is a tool annotation value that must be set explicitly: its zero value is "unset",
// and a tool with an unset hint cannot be registered. Clients decide on these hints (a
// host asks the user before a destructive call), so "we forgot" must never read as "false".
type Hint int8

// Hint values.
const (
	unset Hint = iota
	Yes
	No
)

func (h Hint) set() bool  { return h == Yes || h == No }
func (h Hint) bool() bool { return h == Yes }

// Annotations are the four MCP tool annotations, all required.
type Annotations struct {
	ReadOnly    Hint // readOnlyHint: the tool does not modify its environment
	Destructive Hint // destructiveHint: it may destroy or overwrite state
	Idempotent  Hint // idempotentHint: repeating a call with the same arguments has no further effect
	OpenWorld   Hint // openWorldHint: it talks to systems beyond the server itself
}

// Tool declares one tool: its identity, its action class and annotations, and a typed
// handler. Args is decoded from the call's arguments (its JSON Schema is generated from the
// struct, `jsonschema` tags give descriptions and constraints); Result is returned as
// structured content with a JSON text fallback.
type Tool[Args, Result any] struct {
	Name        string
	Title       string
	Description string
	Action      Action
	Annotations Annotations
	Handle      func(ctx context.Context, args Args) (Result, error)
}

// Declared is what a registered tool says about itself: the pinned catalog is built from it.
type Declared struct {
	Name        string
	Title       string
	Action      Action
	Annotations Annotations
}

var toolName = regexp.MustCompile(`^[a-z][a-z0-9_]{1,63}$`)

// check refuses a declaration that leaves anything to chance.
func (d Declared) check() error {
	var errs []error
	if !toolName.MatchString(d.Name) {
		errs = append(errs, fmt.Errorf("name %q must be snake_case, 2-64 characters", d.Name))
	}
	if d.Title == "" {
		errs = append(errs, errors.New("title is required"))
	}
	if !d.Action.Valid() {
		errs = append(errs, fmt.Errorf("action class must be read, write or execute, got %q", d.Action))
	}
	a := d.Annotations
	for _, h := range []struct {
		name string
		v    Hint
	}{{"readOnlyHint", a.ReadOnly}, {"destructiveHint", a.Destructive}, {"idempotentHint", a.Idempotent}, {"openWorldHint", a.OpenWorld}} {
		if !h.v.set() {
			errs = append(errs, fmt.Errorf("annotation %s is not set", h.name))
		}
	}
	if d.Action == Read && (a.ReadOnly != Yes || a.Destructive != No) {
		errs = append(errs, errors.New("a read tool must be ReadOnly: Yes and Destructive: No"))
	}
	if a.ReadOnly == Yes && a.Destructive == Yes {
		errs = append(errs, errors.New("a read-only tool cannot be destructive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tool %q: %w", d.Name, err)
	}
	return nil
}

// Add registers a tool on s. It refuses (and s.Err reports) a tool whose declaration is
// incomplete, so an adapter with a half-declared tool does not start.
func Add[Args, Result any](s *Server, t Tool[Args, Result]) {
	d := Declared{Name: t.Name, Title: t.Title, Action: t.Action, Annotations: t.Annotations}
	if err := d.check(); err != nil {
		s.errs = append(s.errs, err)
		return
	}
	if t.Handle == nil || t.Description == "" {
		s.errs = append(s.errs, fmt.Errorf("tool %q: a description and a handler are required", t.Name))
		return
	}
	for _, prev := range s.declared {
		if prev.Name == t.Name {
			s.errs = append(s.errs, fmt.Errorf("tool %q is declared twice", t.Name))
			return
		}
	}
	a := t.Annotations
	tool := mcp.NewTool(t.Name,
		mcp.WithDescription(t.Description),
		mcp.WithTitleAnnotation(t.Title),
		mcp.WithReadOnlyHintAnnotation(a.ReadOnly.bool()),
		mcp.WithDestructiveHintAnnotation(a.Destructive.bool()),
		mcp.WithIdempotentHintAnnotation(a.Idempotent.bool()),
		mcp.WithOpenWorldHintAnnotation(a.OpenWorld.bool()),
		mcp.WithInputSchema[Args](),
		mcp.WithOutputSchema[Result](),
	)
	// mcp-go reports a schema it cannot generate on stderr and registers the tool without
	// one; refuse instead, or the edge and clients would see an unconstrained tool.
	if len(tool.RawInputSchema) == 0 || (len(tool.RawOutputSchema) == 0 && tool.OutputSchema.Type == "") {
		s.errs = append(s.errs, fmt.Errorf("tool %q: no JSON Schema could be generated for its arguments or result (check the jsonschema tags: they hold a description only)", t.Name))
		return
	}
	// Arguments are checked against the very schema tools/list publishes.
	inputs, err := compileArgsSchema(t.Name, tool.RawInputSchema)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("tool %q: %w", t.Name, err))
		return
	}
	s.declared = append(s.declared, d)
	s.mcp.AddTool(tool, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return s.call(ctx, t.Name, func(ctx context.Context) (*mcp.CallToolResult, error) {
			// An error here becomes an isError result naming every problem (see s.call).
			if err := inputs.check(req.GetRawArguments()); err != nil {
				return nil, err
			}
			var args Args
			if err := req.BindArguments(&args); err != nil {
				return mcp.NewToolResultError(fmt.Sprintf("invalid arguments for %s: %v", t.Name, err)), nil
			}
			res, err := t.Handle(ctx, args)
			if err != nil {
				return nil, err
			}
			text, err := json.Marshal(res)
			if err != nil {
				return nil, fmt.Errorf("encode result: %w", err)
			}
			return mcp.NewToolResultStructured(res, string(text)), nil
		})
	})
}
