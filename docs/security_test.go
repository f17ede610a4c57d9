// Package docs checks that docs/security.md, the numbered list of the security behaviours
// Gatehouse's tests prove, stays true: every built item names tests that exist, the numbers
// run 1..N, and every citation of an item in the repository names one that exists. It also
// checks that every test function the pages in docs/ name exists.
package docs

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// item is one "### N. Title" entry of security.md.
type item struct {
	num      int
	title    string
	line     int
	notBuilt bool
	tests    []testRef
	problems []string // format problems found while reading it
}

// testRef is one test named by an item: a package directory (relative to the repository
// root) and a top-level Test or Fuzz function.
type testRef struct {
	dir, name string
}

var (
	itemHeading  = regexp.MustCompile(`^### (\d+)\. (\S.*)$`)
	anyHeading   = regexp.MustCompile(`^#{1,6} `)
	testsLine    = regexp.MustCompile(`^Tests: (.+)$`)
	testGroup    = regexp.MustCompile("^`([^`]+)` (.+)$")
	testName     = regexp.MustCompile(`^(Test|Fuzz)[A-Za-z0-9_]*$`)
	notBuiltLine = regexp.MustCompile(`^\*\*Not yet built\*\*`)
)

// parseSecurity reads the items of security.md. Text before the first item and group
// headings ("## …") are not items.
func parseSecurity(text string) []*item {
	var items []*item
	var cur *item
	for i, l := range strings.Split(text, "\n") {
		line := strings.TrimRight(l, " \t\r")
		if m := itemHeading.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			cur = &item{num: n, title: m[2], line: i + 1}
			items = append(items, cur)
			continue
		}
		if anyHeading.MatchString(line) {
			cur = nil // a group heading ends the item
			continue
		}
		if cur == nil {
			continue
		}
		if notBuiltLine.MatchString(line) {
			cur.notBuilt = true
			continue
		}
		m := testsLine.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(strings.TrimSpace(line), "Tests:") {
				cur.problems = append(cur.problems, fmt.Sprintf("line %d: a Tests line is `Tests: `+\"`dir`\"+` TestA, TestB; …`, not %q", i+1, line))
			}
			continue
		}
		if len(cur.tests) > 0 {
			cur.problems = append(cur.problems, fmt.Sprintf("line %d: a second Tests line", i+1))
		}
		for _, g := range strings.Split(m[1], ";") {
			gm := testGroup.FindStringSubmatch(strings.TrimSpace(g))
			if gm == nil {
				cur.problems = append(cur.problems, fmt.Sprintf("line %d: %q is not `package/dir` followed by test names", i+1, strings.TrimSpace(g)))
				continue
			}
			for _, n := range strings.Split(gm[2], ",") {
				n = strings.TrimSpace(n)
				if !testName.MatchString(n) {
					cur.problems = append(cur.problems, fmt.Sprintf("line %d: %q is not a Test or Fuzz function name", i+1, n))
					continue
				}
				cur.tests = append(cur.tests, testRef{dir: gm[1], name: n})
			}
		}
	}
	return items
}

// checkItems returns every problem with the items themselves: format, numbering, tests
// named by not-yet-built items, built items without tests, and tests that do not exist.
// funcs reports whether a directory's _test.go files define a function.
func checkItems(items []*item, funcs func(dir, name string) (bool, error)) []string {
	var out []string
	if len(items) == 0 {
		return []string{"no items (### N. Title) found"}
	}
	for i, it := range items {
		where := fmt.Sprintf("item %d (line %d)", it.num, it.line)
		if it.num != i+1 {
			out = append(out, fmt.Sprintf("%s: numbers must run 1, 2, 3, … without gaps or duplicates; expected %d here", where, i+1))
		}
		for _, p := range it.problems {
			out = append(out, where+": "+p)
		}
		switch {
		case it.notBuilt && len(it.tests) > 0:
			out = append(out, where+": marked not yet built but names tests")
		case !it.notBuilt && len(it.tests) == 0:
			out = append(out, where+": names no test (add a Tests line, or mark it **Not yet built** with the issue that builds it)")
		}
		for _, tr := range it.tests {
			ok, err := funcs(tr.dir, tr.name)
			switch {
			case err != nil:
				out = append(out, fmt.Sprintf("%s: %s: %v", where, tr.dir, err))
			case !ok:
				out = append(out, fmt.Sprintf("%s: no func %s( in a _test.go file of %s", where, tr.name, tr.dir))
			}
		}
	}
	return out
}

// testFuncs finds top-level test functions in the _test.go files of repository directories,
// reading each directory once.
type testFuncs struct {
	root  string
	cache map[string]string // dir -> concatenated _test.go sources
}

func (f *testFuncs) has(dir, name string) (bool, error) {
	if filepath.IsAbs(dir) || strings.Contains(dir, "..") || strings.Contains(dir, "\\") {
		return false, fmt.Errorf("not a directory of the repository")
	}
	src, ok := f.cache[dir]
	if !ok {
		entries, err := os.ReadDir(filepath.Join(f.root, filepath.FromSlash(dir)))
		if err != nil {
			return false, err
		}
		var b strings.Builder
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(dir), e.Name()))
			if err != nil {
				return false, err
			}
			b.Write(data)
			b.WriteByte('\n')
		}
		src = b.String()
		f.cache[dir] = src
	}
	return regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`).MatchString(src), nil
}

// citation matches "security 12", "security 1, 2, 3", "security 18/19", "security 31–33"
// and, until every citation has been renamed, the same with "checklist".
var citation = regexp.MustCompile(`(?i)\b(?:security|checklist)\s+(\d+(?:\s*(?:,|/|–|-|\band\b|\bor\b)\s*\d+)*)`)

var citedNumber = regexp.MustCompile(`\d+|–|-`)

// citedNumbers returns the item numbers one citation names; ranges (a–b) are expanded.
func citedNumbers(list string) ([]int, error) {
	var nums []int
	toks := citedNumber.FindAllString(list, -1)
	for i := 0; i < len(toks); i++ {
		if toks[i] == "–" || toks[i] == "-" {
			continue
		}
		n, err := strconv.Atoi(toks[i])
		if err != nil {
			return nil, err
		}
		if i+2 < len(toks) && (toks[i+1] == "–" || toks[i+1] == "-") {
			m, err := strconv.Atoi(toks[i+2])
			if err != nil || m < n || m-n > 100 {
				return nil, fmt.Errorf("bad range %s-%s", toks[i], toks[i+2])
			}
			for k := n; k <= m; k++ {
				nums = append(nums, k)
			}
			i += 2
			continue
		}
		nums = append(nums, n)
	}
	return nums, nil
}

// citationProblems scans text (a file's content) for citations of items that do not exist.
func citationProblems(name, text string, exists func(int) bool) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for ln := 1; sc.Scan(); ln++ {
		for _, m := range citation.FindAllStringSubmatch(sc.Text(), -1) {
			nums, err := citedNumbers(m[1])
			if err != nil {
				out = append(out, fmt.Sprintf("%s:%d: %q: %v", name, ln, m[0], err))
				continue
			}
			for _, n := range nums {
				if !exists(n) {
					out = append(out, fmt.Sprintf("%s:%d: %q cites item %d, which docs/security.md does not have", name, ln, m[0], n))
				}
			}
		}
	}
	return out
}

// repositoryFiles lists the .go, .rego and .md files of the repository, skipping hidden
// directories and installed npm packages.
func repositoryFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".rego", ".md":
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

func loadItems(t *testing.T) []*item {
	t.Helper()
	data, err := os.ReadFile(testkit.Root("docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	return parseSecurity(string(data))
}

// Every built item names tests that exist; not-built items name none; numbers run 1..N.
func TestSecurityItemsNameRealTests(t *testing.T) {
	items := loadItems(t)
	f := &testFuncs{root: testkit.Root(), cache: map[string]string{}}
	for _, p := range checkItems(items, f.has) {
		t.Error(p)
	}
	built := 0
	for _, it := range items {
		if !it.notBuilt {
			built++
		}
	}
	t.Logf("%d items: %d built, %d not yet built", len(items), built, len(items)-built)
}

// Every "security N" (and, until renamed, "checklist N") in the repository's Go, Rego and
// Markdown files names an item of docs/security.md.
func TestSecurityCitationsExist(t *testing.T) {
	items := loadItems(t)
	exists := func(n int) bool { return n >= 1 && n <= len(items) && items[n-1].num == n }
	root := testkit.Root()
	files, err := repositoryFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	cited := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		if filepath.ToSlash(rel) == "docs/security_test.go" {
			continue // this file's checker tests cite missing items on purpose
		}
		cited += len(citation.FindAllIndex(data, -1))
		for _, p := range citationProblems(filepath.ToSlash(rel), string(data), exists) {
			t.Error(p)
		}
	}
	if cited == 0 {
		t.Fatal("no citations found at all: the scan is broken")
	}
}

// Test functions named anywhere in docs/*.md (errors.md and vault.md cite theirs in prose)
// exist in some _test.go file of the repository, so a renamed test cannot leave a page
// pointing at nothing.
func TestDocsNameRealTests(t *testing.T) {
	root := testkit.Root()
	files, err := repositoryFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	funcDecl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w*)\(`)
	for _, path := range files {
		if !strings.HasSuffix(path, "_test.go") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range funcDecl.FindAllSubmatch(data, -1) {
			defined[string(m[1])] = true
		}
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z]\w*`)
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for ln, line := range strings.Split(string(data), "\n") {
			for _, n := range named.FindAllString(line, -1) {
				if !defined[n] {
					t.Errorf("docs/%s:%d names %s, which no _test.go file defines", filepath.Base(path), ln+1, n)
				}
			}
		}
	}
}

// The checker itself: each kind of mistake in a document is reported.
func TestCheckerFindsMistakes(t *testing.T) {
	funcs := func(dir, name string) (bool, error) { return dir == "pkg" && name == "TestReal", nil }
	cases := map[string]struct {
		doc  string
		want string
	}{
		"good":                 {doc: "# x\nintro\n## Group\n### 1. A\ntext\nTests: `pkg` TestReal\n### 2. B\n**Not yet built** — issue 14.\n"},
		"no tests":             {doc: "### 1. A\ntext\n", want: "names no test"},
		"missing test":         {doc: "### 1. A\nTests: `pkg` TestGone\n", want: "no func TestGone("},
		"wrong package":        {doc: "### 1. A\nTests: `other` TestReal\n", want: "no func TestReal("},
		"gap":                  {doc: "### 1. A\nTests: `pkg` TestReal\n### 3. C\nTests: `pkg` TestReal\n", want: "expected 2"},
		"duplicate":            {doc: "### 1. A\nTests: `pkg` TestReal\n### 1. B\nTests: `pkg` TestReal\n", want: "expected 2"},
		"not built with tests": {doc: "### 1. A\n**Not yet built**\nTests: `pkg` TestReal\n", want: "names tests"},
		"bad name":             {doc: "### 1. A\nTests: `pkg` BenchmarkX\n", want: "not a Test or Fuzz"},
		"bad format":           {doc: "### 1. A\nTests: pkg TestReal\n", want: "not `package/dir`"},
		"group ends item":      {doc: "### 1. A\n## Next\nTests: `pkg` TestReal\n", want: "names no test"},
	}
	for name, c := range cases {
		probs := checkItems(parseSecurity(c.doc), funcs)
		got := strings.Join(probs, "\n")
		if c.want == "" && len(probs) > 0 || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want one containing %q", name, got, c.want)
		}
	}

	exists := func(n int) bool { return n >= 1 && n <= 42 }
	for text, bad := range map[string]int{
		"// security 12":                    0,
		"// Security 1, 2, 3, 4, 6, 7: bad": 0,
		"(CHECKLIST 7: 400)":                0,
		"checklist 25 at the wire, 18/19":   0,
		"security 31–33":                    0,
		"checklist 11 and 17":               0,
		"// security 43":                    1,
		"security 40-44":                    2,
		"// checklist 12, 99":               1,
		"checkListen(addr)":                 0,
		"security review 5":                 0,
	} {
		if got := len(citationProblems("f", text, exists)); got != bad {
			t.Errorf("%q: %d problems, want %d", text, got, bad)
		}
	}
}
