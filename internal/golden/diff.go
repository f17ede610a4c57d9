package golden

import (
	"fmt"
	"strings"
)

// Diff output limits: lines of context around each change, and how many diff lines (context
// included, headers not) are printed before the rest is summarized.
const (
	diffContext  = 3
	diffMaxLines = 60
	// maxEdits bounds the Myers search (its trace grows with the square of the edit
	// distance). Inputs further apart than this get a coarser diff: every line that is not
	// in the common prefix or suffix is shown as removed and added.
	maxEdits = 2000
)

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of a line diff: the line (with its "\n", unless it is a last line without
// one) and where it is in each input (0-based; -1 where it is absent).
type op struct {
	kind       opKind
	line       string
	aIdx, bIdx int
}

// splitLines cuts s after every "\n". The last line keeps no terminator when s does not
// end in one, so a missing final newline is a difference like any other.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lineOps returns a shortest edit script turning a into b, line by line.
func lineOps(a, b []string) []op {
	// The common prefix and suffix need no search.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []op
	for i := range pre {
		ops = append(ops, op{opEqual, a[i], i, i})
	}
	midA, midB := a[pre:len(a)-suf], b[pre:len(b)-suf]
	mid, ok := myers(midA, midB)
	if !ok {
		mid = nil
		for i, l := range midA {
			mid = append(mid, op{opDelete, l, i, -1})
		}
		for j, l := range midB {
			mid = append(mid, op{opInsert, l, -1, j})
		}
	}
	for _, o := range mid {
		if o.aIdx >= 0 {
			o.aIdx += pre
		}
		if o.bIdx >= 0 {
			o.bIdx += pre
		}
		ops = append(ops, o)
	}
	for k := suf; k > 0; k-- {
		i, j := len(a)-k, len(b)-k
		ops = append(ops, op{opEqual, a[i], i, j})
	}
	return ops
}

// myers is E. Myers' O((N+M)D) greedy algorithm ("An O(ND) Difference Algorithm and Its
// Variations", 1986): for d = 0, 1, … it records the furthest-reaching path on every
// diagonal k = x - y, then walks the recorded frontiers back from (N, M). It reports false
// when the inputs are more than maxEdits edits apart.
func myers(a, b []string) ([]op, bool) {
	n, m := len(a), len(b)
	limit := min(n+m, maxEdits)
	off := limit + 1
	v := make([]int, 2*limit+3) // v[off+k]: furthest x reached on diagonal k
	var trace [][]int           // trace[d][k+d]: v on entry to round d, for k in [-d, d]
	end := -1
	for d := 0; d <= limit && end < 0; d++ {
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: insert b[y]
			} else {
				x = v[off+k-1] + 1 // right: delete a[x]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
			if x >= n && y >= m {
				end = d
				break
			}
		}
	}
	if end < 0 {
		return nil, false
	}
	// Walk back, collecting ops in reverse.
	var rev []op
	x, y := n, m
	for d := end; d > 0; d-- {
		prev := trace[d] // frontier after round d-1, indexed k+d
		k := x - y
		var pk int
		if k == -d || (k != d && prev[k-1+d] < prev[k+1+d]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := prev[pk+d]
		py := px - pk
		for x > px && y > py {
			x, y = x-1, y-1
			rev = append(rev, op{opEqual, a[x], x, y})
		}
		if x == px {
			y--
			rev = append(rev, op{opInsert, b[y], -1, y})
		} else {
			x--
			rev = append(rev, op{opDelete, a[x], x, -1})
		}
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, op{opEqual, a[x], x, y})
	}
	ops := make([]op, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	return ops, true
}

// unifiedDiff renders the line diff of want and got as a unified diff with diffContext
// lines of context, printing at most diffMaxLines diff lines. It returns "" when they are
// equal.
func unifiedDiff(wantName, gotName, want, got string) string {
	if want == got {
		return ""
	}
	ops := lineOps(splitLines(want), splitLines(got))
	var added, removed int
	for _, o := range ops {
		switch o.kind {
		case opInsert:
			added++
		case opDelete:
			removed++
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", wantName, gotName)
	printed, hidden := 0, 0
	for _, h := range hunks(ops) {
		if printed >= diffMaxLines {
			hidden += countChanges(h)
			continue
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", span(h, true), span(h, false))
		for i, o := range h {
			if printed >= diffMaxLines {
				hidden += countChanges(h[i:])
				break
			}
			line, nl := strings.CutSuffix(o.line, "\n")
			fmt.Fprintf(&sb, "%c%s\n", o.kind, line)
			if !nl {
				sb.WriteString("\\ No newline at end of file\n")
			}
			printed++
		}
	}
	if hidden > 0 {
		fmt.Fprintf(&sb, "… %d more changed lines not shown\n", hidden)
	}
	fmt.Fprintf(&sb, "(lines: %d removed, %d added)\n", removed, added)
	return sb.String()
}

func countChanges(ops []op) int {
	n := 0
	for _, o := range ops {
		if o.kind != opEqual {
			n++
		}
	}
	return n
}

// hunks groups changes with up to diffContext equal lines around them; changes closer than
// twice that share a hunk.
func hunks(ops []op) [][]op {
	var out [][]op
	i := 0
	for i < len(ops) {
		// Find the next change.
		for i < len(ops) && ops[i].kind == opEqual {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(0, i-diffContext)
		// Extend while the gap of equal lines to the next change is short enough.
		end := i
		for {
			for end < len(ops) && ops[end].kind != opEqual {
				end++
			}
			gap := end
			for gap < len(ops) && ops[gap].kind == opEqual {
				gap++
			}
			if gap < len(ops) && gap-end <= 2*diffContext {
				end = gap
				continue
			}
			end = min(len(ops), end+diffContext)
			break
		}
		out = append(out, ops[start:end])
		i = end
	}
	return out
}

// span is the "start,count" of a hunk on one side (1-based, as diff(1) prints it).
func span(h []op, old bool) string {
	first, count := -1, 0
	for _, o := range h {
		idx := o.bIdx
		if old {
			idx = o.aIdx
		}
		if idx < 0 {
			continue
		}
		if first < 0 {
			first = idx
		}
		count++
	}
	if count == 0 {
		// A hunk has context on both sides unless one side is an empty file.
		return "0,0"
	}
	if count == 1 {
		return fmt.Sprintf("%d", first+1)
	}
	return fmt.Sprintf("%d,%d", first+1, count)
}
