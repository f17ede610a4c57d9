// Command testreport reads `go test -json` on stdin and writes what a person wants from a
// test run: one line per package as it finishes, the output of every failed test, every
// skipped test with the reason it gave (tests that need a real component — Envoy, Vault —
// say which one and why it was not found), and a last line "N passed, N failed, N skipped".
// It exits 1 when a test or a build failed, or when the input was not test output.
//
//	set -o pipefail; go test -json ./... | go run ./tools/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	os.Exit(report(os.Stdin, os.Stdout))
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string // build-output and build-fail events
	FailedBuild string
}

type testKey struct{ pkg, test string }

type run struct {
	output map[testKey]*strings.Builder // per test (and per package, test "")
	result map[testKey]string           // final action of each test
	order  []testKey                    // tests in the order they ended
	build  map[string]*strings.Builder  // build output per import path
	failed bool
}

func report(in io.Reader, out io.Writer) int {
	r := &run{output: map[testKey]*strings.Builder{}, result: map[testKey]string{}, build: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	start := time.Now()
	events := 0
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || (e.Action == "" && e.ImportPath == "") {
			// Not test2json (e.g. "go: downloading ..."): pass it through.
			fmt.Fprintln(out, string(line))
			continue
		}
		events++
		r.add(e, out)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport: reading test output:", err)
		return 1
	}
	return r.summary(out, events, time.Since(start))
}

func (r *run) add(e event, out io.Writer) {
	switch e.Action {
	case "build-output":
		b := r.build[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			r.build[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	case "build-fail":
		r.failed = true
		fmt.Fprintf(out, "FAIL\t%s [build failed]\n%s", e.ImportPath, r.build[e.ImportPath])
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		b := r.output[k]
		if b == nil {
			b = &strings.Builder{}
			r.output[k] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			r.packageDone(e, out)
			return
		}
		if _, seen := r.result[k]; !seen {
			r.order = append(r.order, k)
		}
		r.result[k] = e.Action
	}
}

func (r *run) packageDone(e event, out io.Writer) {
	k := testKey{e.Package, ""}
	switch e.Action {
	case "pass":
		fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip":
		fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
	case "fail":
		r.failed = true
		fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		// Output outside any test: a panic, TestMain, a build or vet failure.
		if b := r.output[k]; b != nil && !r.hasFailedTest(e.Package) {
			fmt.Fprint(out, indent(b.String()))
		}
	}
}

func (r *run) hasFailedTest(pkg string) bool {
	for k, res := range r.result {
		if k.pkg == pkg && res == "fail" {
			return true
		}
	}
	return false
}

func (r *run) summary(out io.Writer, events int, elapsed time.Duration) int {
	var passed, failed, skipped []testKey
	for _, k := range r.order {
		switch r.result[k] {
		case "pass":
			passed = append(passed, k)
		case "fail":
			failed = append(failed, k)
		case "skip":
			skipped = append(skipped, k)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(out, "\n=== Failed")
		for _, k := range failed {
			fmt.Fprintf(out, "--- FAIL: %s (%s)\n%s", k.test, k.pkg, indent(r.text(k)))
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintln(out, "\n=== Skipped (each says what it needs and why it did not run)")
		sort.Slice(skipped, func(i, j int) bool {
			return skipped[i].pkg+" "+skipped[i].test < skipped[j].pkg+" "+skipped[j].test
		})
		for _, k := range skipped {
			fmt.Fprintf(out, "--- SKIP: %s (%s): %s\n", k.test, k.pkg, skipReason(r.text(k)))
		}
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped (%s)\n", len(passed), len(failed), len(skipped), elapsed.Round(time.Second))
	if events == 0 {
		fmt.Fprintln(out, "testreport: no test events on stdin (run go test with -json)")
		return 1
	}
	if r.failed || len(failed) > 0 {
		return 1
	}
	return 0
}

func (r *run) text(k testKey) string {
	if b := r.output[k]; b != nil {
		return b.String()
	}
	return ""
}

// skipReason is the message the test gave t.Skip, without go test's framing lines.
func skipReason(output string) string {
	var parts []string
	for _, l := range strings.Split(output, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		// "file_test.go:40: message" → "message"
		if i := strings.Index(l, ".go:"); i > 0 {
			if j := strings.Index(l[i+4:], ": "); j >= 0 {
				l = l[i+4+j+2:]
			}
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}
