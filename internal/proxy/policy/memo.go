package policy

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// A decision memo removes policy evaluation from the common path without trusting anyone's
// guess about the policy. Most Checks of a revision ask the same question again (these roles,
// this server, this method, this tool), and for many questions the revision's answer reads
// nothing else. The memo proves that per question, from the evaluation itself:
//
// The first time a key is seen, the revision is evaluated with a tracer, with rule indexing
// off (the indexer reads input values to skip rules, and those reads are not traced; with it
// off, every rule that could match is evaluated, so every read shows) and with early exit
// off (every body of a rule is evaluated, not only the first that succeeds). If no
// evaluated expression or rule head refers to the input outside the key's parts (keyRefs, or
// refs below them), no nondeterministic or clock builtin was called and no `with` rewrote
// anything, then the evaluation was a function of the key's values and the revision's data:
// any input with the same key takes the same path to the same decision. The decision is
// remembered for the revision's life (a new revision starts empty). Otherwise the key is
// remembered as "evaluate every time", so it is traced once only.
//
// The caller supplies the key and keyRefs and must keep them in agreement: equal keys mean
// equal values at every one of keyRefs in the input it builds.

// maxMemo bounds a revision's memo: keys beyond it are evaluated every time.
const maxMemo = 8192

type memoEntry struct {
	decision *Decision // nil: not a function of the key; evaluate every time
}

type memo struct {
	entries sync.Map // key string → *memoEntry
	size    atomic.Int64
}

// MemoOutcome says how a decision was reached, for metrics.
type MemoOutcome string

const (
	MemoHit       MemoOutcome = "hit"         // remembered: no evaluation
	MemoStored    MemoOutcome = "stored"      // evaluated, proven a function of the key, remembered
	MemoUncached  MemoOutcome = "uncacheable" // this key's decision reads more than the key (or time)
	MemoFull      MemoOutcome = "full"        // the memo is full; evaluated
	MemoEvaluated MemoOutcome = "evaluated"   // outside the memo: a question it does not keep, or a failed proof
)

// Remembered returns the remembered decision for key, if any. The decision is shared: its
// Result must be read only.
func (r *Revision) Remembered(key string) (*Decision, bool) {
	v, ok := r.memo.entries.Load(key)
	if !ok {
		return nil, false
	}
	e := v.(*memoEntry)
	if e.decision == nil {
		return nil, false
	}
	return e.decision, true
}

// EvalAndRemember evaluates input and, the first time key is seen, finds out whether the
// decision depends only on the input parts keyRefs name (see above) and remembers it if so.
func (r *Revision) EvalAndRemember(ctx context.Context, key string, keyRefs []ast.Ref, input ast.Value, decisionID string) (*Decision, MemoOutcome, error) {
	if _, seen := r.memo.entries.Load(key); seen {
		d, err := r.Eval(ctx, input, decisionID)
		return d, MemoUncached, err
	}
	if r.memo.size.Load() >= maxMemo {
		d, err := r.Eval(ctx, input, decisionID)
		return d, MemoFull, err
	}
	t := &readTracer{keyRefs: keyRefs}
	d, err := r.Eval(ctx, input, decisionID, rego.EvalQueryTracer(t), rego.EvalRuleIndexing(false), rego.EvalEarlyExit(false))
	if err != nil {
		// A proof that failed or ran out of time is not tried again for this key (it would
		// cost every later Check the same): the key is evaluated every time from now on.
		if _, loaded := r.memo.entries.LoadOrStore(key, &memoEntry{}); !loaded {
			r.memo.size.Add(1)
		}
		return nil, MemoEvaluated, err
	}
	entry := &memoEntry{}
	outcome := MemoUncached
	if !t.tainted {
		entry.decision = d
		outcome = MemoStored
	}
	if _, loaded := r.memo.entries.LoadOrStore(key, entry); !loaded {
		r.memo.size.Add(1)
	}
	return d, outcome, nil
}

// readTracer watches an evaluation for anything that makes its result more than a function
// of the key: a read of the input outside keyRefs, the whole input, a computed key into it, a
// nondeterministic or clock builtin, a `with`. It errs on the side of "tainted".
type readTracer struct {
	keyRefs []ast.Ref
	tainted bool
}

func (t *readTracer) Enabled() bool               { return true }
func (t *readTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{} }
func (t *readTracer) TraceEvent(ev topdown.Event) {
	if t.tainted || ev.Node == nil {
		return
	}
	switch n := ev.Node.(type) {
	case *ast.Expr:
		if len(n.With) > 0 {
			t.tainted = true
			return
		}
		t.check(n)
	case *ast.Rule:
		t.check(n.Head) // a rule's value (server := input.mcp.server) has no expression of its own
	default:
		t.check(n)
	}
}

func (t *readTracer) check(node any) {
	vis := ast.NewGenericVisitor(func(x any) bool {
		if t.tainted {
			return true
		}
		switch v := x.(type) {
		case ast.Ref:
			if v[0].Equal(ast.InputRootDocument) {
				if !t.keyed(v) {
					t.tainted = true
					return true
				}
				// The key part is fine; a computed key inside it (input.tool[x]) is checked
				// by keyed's prefix test; its operands may hold other refs.
				for _, op := range v[1:] {
					t.check(op)
				}
				return true
			}
		case ast.Var:
			if v == ast.Var("input") {
				t.tainted = true // the input as a whole
				return true
			}
		case ast.Call:
			if len(v) > 0 && nondeterministic(v[0].String()) {
				t.tainted = true
				return true
			}
		case *ast.Expr:
			if v.IsCall() && nondeterministic(v.Operator().String()) {
				t.tainted = true
				return true
			}
		}
		return false
	})
	vis.Walk(node)
}

// keyed reports whether ref reads inside one of the key's parts.
func (t *readTracer) keyed(ref ast.Ref) bool {
	for _, k := range t.keyRefs {
		if ref.HasPrefix(k) {
			return true
		}
	}
	return false
}

func nondeterministic(name string) bool {
	b, found := ast.BuiltinMap[name]
	return found && b.Nondeterministic || clockBuiltins[name]
}
