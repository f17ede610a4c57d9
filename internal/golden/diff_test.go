package golden

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func numbered(n int) []string {
	var lines []string
	for i := 1; i <= n; i++ {
		lines = append(lines, fmt.Sprintf("line %d\n", i))
	}
	return lines
}

// One changed line in the middle: one hunk with three lines of context, numbered as
// diff -u numbers them.
func TestUnifiedDiffOneChange(t *testing.T) {
	a := numbered(20)
	b := append([]string(nil), a...)
	b[9] = "line ten\n"
	got := unifiedDiff("want", "got", strings.Join(a, ""), strings.Join(b, ""))
	want := `--- want
+++ got
@@ -7,7 +7,7 @@
 line 7
 line 8
 line 9
-line 10
+line ten
 line 11
 line 12
 line 13
(lines: 1 removed, 1 added)
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// Changes far apart get their own hunks; changes close together share one; an insertion
// and a deletion are numbered on the side that has them.
func TestUnifiedDiffHunks(t *testing.T) {
	a := numbered(30)
	var b []string
	b = append(b, a[:2]...)
	b = append(b, "new\n")        // insert after line 2
	b = append(b, a[2:20]...)     // lines 3..20
	b = append(b, a[21:25]...)    // line 21 deleted, lines 22..25
	b = append(b, "changed 26\n") // line 26 changed, 4 lines after the deletion: same hunk
	b = append(b, a[26:]...)
	got := unifiedDiff("a", "b", strings.Join(a, ""), strings.Join(b, ""))
	want := `--- a
+++ b
@@ -1,5 +1,6 @@
 line 1
 line 2
+new
 line 3
 line 4
 line 5
@@ -18,12 +19,11 @@
 line 18
 line 19
 line 20
-line 21
 line 22
 line 23
 line 24
 line 25
-line 26
+changed 26
 line 27
 line 28
 line 29
(lines: 2 removed, 2 added)
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// A file that lost its final newline differs visibly.
func TestUnifiedDiffFinalNewline(t *testing.T) {
	got := unifiedDiff("a", "b", "x\ny\n", "x\ny")
	want := `--- a
+++ b
@@ -1,2 +1,2 @@
 x
-y
+y
\ No newline at end of file
(lines: 1 removed, 1 added)
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if unifiedDiff("a", "b", "same\n", "same\n") != "" {
		t.Fatal("equal inputs produced a diff")
	}
	// An empty side is numbered 0,0.
	if got := unifiedDiff("a", "b", "", "x\n"); !strings.Contains(got, "@@ -0,0 +1 @@\n+x\n") {
		t.Fatalf("empty want: %s", got)
	}
}

// A big difference prints at most diffMaxLines diff lines and says how much it left out.
func TestUnifiedDiffIsCapped(t *testing.T) {
	a := numbered(500)
	b := append([]string(nil), a...)
	for i := 0; i < len(b); i += 5 {
		b[i] = "changed\n"
	}
	got := unifiedDiff("a", "b", strings.Join(a, ""), strings.Join(b, ""))
	body := 0
	for _, l := range strings.Split(got, "\n") {
		if l != "" && strings.ContainsRune(" +-", rune(l[0])) && !strings.HasPrefix(l, "--- ") && !strings.HasPrefix(l, "+++ ") {
			body++
		}
	}
	if body != diffMaxLines {
		t.Fatalf("%d diff lines printed, want %d:\n%s", body, diffMaxLines, got)
	}
	if !strings.Contains(got, "more changed lines not shown\n(lines: 100 removed, 100 added)\n") {
		t.Fatalf("no summary of what was left out:\n%s", got)
	}
}

// The edit script is a correct and shortest one: applied, it turns a into b, and its
// length is len(a)+len(b)-2·LCS, checked against a dynamic-programming LCS on random
// inputs over a small alphabet (many repeated lines, the hard case for a line diff).
func TestLineOpsShortestAndCorrect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		n := r.IntN(30)
		s := make([]string, n)
		for i := range s {
			s[i] = string(rune('a'+r.IntN(4))) + "\n"
		}
		return s
	}
	for range 2000 {
		a, b := gen(), gen()
		ops := lineOps(a, b)
		checkOps(t, a, b, ops)
		edits := 0
		for _, o := range ops {
			if o.kind != opEqual {
				edits++
			}
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("%q → %q: %d edits, shortest is %d", a, b, edits, want)
		}
	}
}

// Inputs more than maxEdits apart still get a correct (if coarse) diff.
func TestLineOpsBeyondMaxEdits(t *testing.T) {
	var a, b []string
	for i := range maxEdits {
		a = append(a, fmt.Sprintf("a%d\n", i))
		b = append(b, fmt.Sprintf("b%d\n", i))
	}
	a = append([]string{"same\n"}, a...)
	b = append([]string{"same\n"}, b...)
	if _, ok := myers(a[1:], b[1:]); ok {
		t.Fatal("myers searched past maxEdits")
	}
	checkOps(t, a, b, lineOps(a, b))
}

// checkOps verifies that ops rebuild both a and b, with consistent indices.
func checkOps(t *testing.T, a, b []string, ops []op) {
	t.Helper()
	var ra, rb []string
	for _, o := range ops {
		switch o.kind {
		case opEqual:
			if o.aIdx != len(ra) || o.bIdx != len(rb) || a[o.aIdx] != o.line || b[o.bIdx] != o.line {
				t.Fatalf("bad equal op %+v", o)
			}
			ra, rb = append(ra, o.line), append(rb, o.line)
		case opDelete:
			if o.aIdx != len(ra) || o.bIdx != -1 {
				t.Fatalf("bad delete op %+v", o)
			}
			ra = append(ra, o.line)
		case opInsert:
			if o.bIdx != len(rb) || o.aIdx != -1 {
				t.Fatalf("bad insert op %+v", o)
			}
			rb = append(rb, o.line)
		}
	}
	if strings.Join(ra, "") != strings.Join(a, "") || strings.Join(rb, "") != strings.Join(b, "") {
		t.Fatalf("ops do not rebuild the inputs:\n%q\n%q", a, b)
	}
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
