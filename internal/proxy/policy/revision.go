package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa-envoy-plugin/envoyauth"
	"github.com/open-policy-agent/opa/v1/ast"
	opaconfig "github.com/open-policy-agent/opa/v1/config"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	iCache "github.com/open-policy-agent/opa/v1/topdown/cache"
	"github.com/open-policy-agent/opa/v1/tracing"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
)

// Package is the Rego package security teams write; the engine reads allow, reasons and
// headers from it.
const Package = "gatehouse.authz"

// decisionModule adapts data.gatehouse.authz to one decision object, so a policy may leave
// reasons or headers undefined and a non-boolean allow still denies. "allowed" is the key
// opa-envoy-plugin's envoyauth helpers read.
const decisionModule = `package gatehouse.system

default allow := false

allow := a if {
	a := data.gatehouse.authz.allow
	is_boolean(a)
}

default reasons := []

reasons := sort([r | some r in data.gatehouse.authz.reasons; is_string(r)])

default headers := {}

headers := h if {
	h := data.gatehouse.authz.headers
	is_object(h)
}

decision := {"allowed": allow, "reasons": reasons, "headers": headers}

# Listing decisions: the keys of input.list.items the caller may see, each decided by the
# same allow that decides calling or reading it (the item's mcp fields and catalog entry
# replace the list request's), in one query over the whole list, so a list cannot show
# what a call would refuse.
visible contains item.key if {
	some item in input.list.items
	item.tool
	data.gatehouse.authz.allow == true with input.mcp as object.union(input.mcp, item.mcp) with input.tool as item.tool
}

visible contains item.key if {
	some item in input.list.items
	not item.tool
	data.gatehouse.authz.allow == true with input.mcp as object.union(input.mcp, item.mcp)
}
`

var (
	decisionQuery = ast.MustParseBody("data.gatehouse.system.decision")
	visibleQuery  = ast.MustParseBody("data.gatehouse.system.visible")
)

// Revision is one loaded, compiled and tested policy directory. It implements
// envoyauth.EvalContext, so evaluation goes through opa-envoy-plugin's Eval.
type Revision struct {
	ID       string // content hash of every file that was loaded
	LoadedAt time.Time
	Tests    int // Rego tests that passed before the revision was accepted
	Catalog  *catalog.Catalog
	// Timeless is true when no served rule reads input.now (or the whole input) or calls a
	// nondeterministic builtin (time, random, http.send, …): its decisions are then a function
	// of the rest of the input, and may be remembered for the revision's life.
	Timeless bool

	compiler *ast.Compiler
	store    storage.Store
	query    *rego.PreparedEvalQuery
	visible  *rego.PreparedEvalQuery
	logger   logging.Logger
	memo     memo // decisions proven to depend on their key only (memo.go)
}

// policyFile reports whether a file belongs to a policy revision.
func policyFile(name string) bool {
	switch name {
	case "data.json", "data.yaml", "data.yml", catalog.File:
		return true
	}
	return strings.HasSuffix(name, ".rego")
}

// readDir reads every policy file under dir into memory. Hidden entries are skipped, which
// also skips the "..data" directories of Kubernetes ConfigMap mounts while following the
// symlinks that point into them. Hashing and loading use the same bytes, so a file that
// changes mid-reload cannot produce a revision whose id does not match its content.
func readDir(dir string) (fstest.MapFS, string, error) {
	files := fstest.MapFS{}
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			p := path.Join(rel, name)
			full := filepath.Join(dir, p)
			info, err := os.Stat(full) // follows symlinks
			if err != nil {
				return err
			}
			if info.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			if !policyFile(name) {
				continue
			}
			b, err := os.ReadFile(full)
			if err != nil {
				return err
			}
			files[p] = &fstest.MapFile{Data: b, Mode: 0o444}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, "", fmt.Errorf("read policy directory: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n].Data))
		h.Write(files[n].Data)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:12], nil
}

// TestFailure is a revision refused because its own Rego tests failed.
type TestFailure struct {
	Failed []string
}

func (e *TestFailure) Error() string {
	return fmt.Sprintf("%d Rego test(s) failed: %s", len(e.Failed), strings.Join(e.Failed, "; "))
}

// build compiles, tests and prepares a revision from in-memory files.
func build(ctx context.Context, files fstest.MapFS, id string, logger logging.Logger) (*Revision, error) {
	var cat *catalog.Catalog
	if f, ok := files[catalog.File]; ok {
		c, err := catalog.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		cat = c
	} else {
		return nil, fmt.Errorf("%s is missing: without it every tool call is denied", catalog.File)
	}
	loaded, err := loader.NewFileLoader().WithFS(files).WithRegoVersion(ast.RegoV1).
		WithFilter(func(abspath string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && info.Name() == catalog.File
		}).All([]string{"."})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	modules := loaded.ParsedModules()
	serving := map[string]*ast.Module{}
	hasPackage := false
	for name, m := range modules {
		if m.Package.Path.String() == "data."+Package {
			hasPackage = true
		}
		if !strings.HasSuffix(name, "_test.rego") {
			serving[name] = m
		}
	}
	if !hasPackage {
		return nil, fmt.Errorf("no module declares package %s", Package)
	}
	for name := range modules {
		if m := modules[name]; m.Package.Path.String() == "data.gatehouse.system" {
			return nil, fmt.Errorf("%s: package gatehouse.system is reserved for Gatehouse", name)
		}
	}

	passed, err := runTests(ctx, modules, loaded.Documents)
	if err != nil {
		return nil, err
	}

	sys, err := ast.ParseModuleWithOpts("gatehouse/system.rego", decisionModule, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("internal decision module: %w", err)
	}
	serving["gatehouse/system.rego"] = sys
	// print() is compiled out of served policies: it would log input — the request body —
	// and no log line may carry one. `opa test -v policies/` shows it while debugging.
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	if compiler.Compile(serving); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	store := inmem.NewFromObjectWithOpts(loaded.Documents, inmem.OptRoundTripOnWrite(false))
	pq, err := rego.New(
		rego.ParsedQuery(decisionQuery),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	vq, err := rego.New(
		rego.ParsedQuery(visibleQuery),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return &Revision{
		ID: id, LoadedAt: time.Now(), Tests: passed, Catalog: cat, Timeless: timeless(serving),
		compiler: compiler, store: store, query: &pq, visible: &vq, logger: logger,
	}, nil
}

// clockBuiltins read the clock or the runtime but are not flagged nondeterministic by OPA
// (their value is fixed within one evaluation, not across evaluations). The certificate
// verifiers check validity against the current time unless told another.
var clockBuiltins = map[string]bool{"time.now_ns": true, "opa.runtime": true,
	"crypto.x509.parse_and_verify_certificates": true, "crypto.x509.parse_and_verify_certificates_with_options": true}

// timeless reports whether the modules decide without the time: no reference to input.now,
// no reference to the input as a whole or by a computed key (which could reach input.now),
// and no call of a nondeterministic builtin. It errs on the side of "not timeless".
func timeless(modules map[string]*ast.Module) bool {
	nowRef := ast.MustParseRef("input.now")
	ok := true
	for _, m := range modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if !r.HasPrefix(ast.InputRootRef) {
				return false
			}
			if len(r) == 1 || r.HasPrefix(nowRef) {
				ok = false
			} else if _, isString := r[1].Value.(ast.String); !isString {
				ok = false
			}
			return false
		})
		nondeterministic := func(name string) bool {
			b, found := ast.BuiltinMap[name]
			return found && b.Nondeterministic || clockBuiltins[name]
		}
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() && nondeterministic(e.Operator().String()) {
				ok = false
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if c, isCall := t.Value.(ast.Call); isCall && len(c) > 0 && nondeterministic(c[0].String()) {
				ok = false
			}
			return false
		})
	}
	return ok
}

// runTests runs the directory's Rego tests (test_* rules) as `opa test` would, and refuses
// the revision if any fails or errors.
func runTests(ctx context.Context, modules map[string]*ast.Module, docs map[string]any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	store := inmem.NewFromObjectWithOpts(docs, inmem.OptRoundTripOnWrite(false))
	ch, err := tester.NewRunner().SetStore(store).SetTimeout(10*time.Second).
		SetDefaultRegoVersion(ast.RegoV1).SetModules(modules).RunTests(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("compile: %w", err)
	}
	passed := 0
	var failed []string
	for r := range ch {
		switch {
		case r.Error != nil:
			failed = append(failed, fmt.Sprintf("%s.%s: %v", r.Package, r.Name, r.Error))
		case r.Skip:
		case r.Fail:
			failed = append(failed, fmt.Sprintf("%s.%s (%s:%d)", strings.TrimPrefix(r.Package, "data."), r.Name, r.Location.File, r.Location.Row))
		default:
			passed++
		}
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return passed, &TestFailure{Failed: failed}
	}
	return passed, nil
}

// Decision is the outcome of evaluating a revision.
type Decision struct {
	Allow   bool
	Reasons []string
	Result  *envoyauth.EvalResult // opa-envoy-plugin's result, for its header helpers
}

// Visible evaluates a listing decision: the keys of input.list.items the caller may see.
func (r *Revision) Visible(ctx context.Context, input ast.Value) (map[string]bool, error) {
	rs, err := r.visible.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluate listing for policy %s: %w", r.ID, err)
	}
	out := map[string]bool{}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return out, nil
	}
	keys, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("policy %s: listing decision is %T, not a set", r.ID, rs[0].Expressions[0].Value)
	}
	for _, k := range keys {
		if s, ok := k.(string); ok {
			out[s] = true
		}
	}
	return out, nil
}

// Eval evaluates the revision for input (built by the caller) under decisionID.
func (r *Revision) Eval(ctx context.Context, input ast.Value, decisionID string, opts ...rego.EvalOption) (*Decision, error) {
	result, stop, err := envoyauth.NewEvalResult(func(er *envoyauth.EvalResult) { er.DecisionID = decisionID })
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := envoyauth.Eval(ctx, r, input, result, opts...); err != nil {
		return nil, fmt.Errorf("evaluate policy %s: %w", r.ID, err)
	}
	allowed, err := result.IsAllowed()
	if err != nil {
		return nil, fmt.Errorf("policy %s returned an invalid decision: %w", r.ID, err)
	}
	d := &Decision{Allow: allowed, Result: result}
	if m, ok := result.Decision.(map[string]any); ok {
		if rs, ok := m["reasons"].([]any); ok {
			for _, x := range rs {
				if s, ok := x.(string); ok {
					d.Reasons = append(d.Reasons, s)
				}
			}
		}
	}
	return d, nil
}

// envoyauth.EvalContext implementation.

func (r *Revision) ParsedQuery() ast.Body                                    { return decisionQuery }
func (r *Revision) Store() storage.Store                                     { return r.store }
func (r *Revision) Compiler() *ast.Compiler                                  { return r.compiler }
func (r *Revision) Runtime() *ast.Term                                       { return nil }
func (r *Revision) Logger() logging.Logger                                   { return r.logger }
func (r *Revision) Config() *opaconfig.Config                                { return &opaconfig.Config{} }
func (r *Revision) DistributedTracing() tracing.Options                      { return nil }
func (r *Revision) InterQueryBuiltinCache() iCache.InterQueryCache           { return nil }
func (r *Revision) InterQueryBuiltinValueCache() iCache.InterQueryValueCache { return nil }

// CreatePreparedQueryOnce returns the query prepared when the revision was built: a
// revision is prepared exactly once, whatever options envoyauth passes.
func (r *Revision) CreatePreparedQueryOnce(envoyauth.PrepareQueryOpts) (*rego.PreparedEvalQuery, error) {
	return r.query, nil
}

var errNoRevision = errors.New("no policy is loaded")
