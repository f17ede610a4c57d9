// Package policies_test checks the default policy directory the way the authz service will
// load it, and that its Rego tests cover every line of the policy.
package policies_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// The service refuses a directory whose Rego tests fail; this is the same check.
func TestDirectoryLoadsAndItsTestsPass(t *testing.T) {
	eng := policy.NewEngine(".", 0, zerolog.Nop(), nil)
	if _, err := eng.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rev := eng.Current(); rev.Tests < 30 {
		t.Fatalf("only %d Rego tests ran", rev.Tests)
	}
}

// Every line of the policy runs in some test: "a test for every rule".
func TestRegoTestsCoverEveryLine(t *testing.T) {
	res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).Filtered([]string{"."}, func(_ string, info os.FileInfo, _ int) bool {
		return !info.IsDir() && info.Name() == catalog.File
	})
	if err != nil {
		t.Fatal(err)
	}
	cov := cover.New()
	modules := res.ParsedModules()
	ch, err := tester.NewRunner().SetStore(inmem.NewFromObject(res.Documents)).SetCoverageQueryTracer(cov).
		SetModules(modules).RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range ch {
		if !r.Pass() {
			t.Errorf("Rego test %s.%s failed", r.Package, r.Name)
		}
	}
	report := cov.Report(modules)
	for file, fr := range report.Files {
		if strings.HasSuffix(file, "_test.rego") {
			continue
		}
		if len(fr.NotCovered) > 0 {
			t.Errorf("%s: lines not covered by any Rego test: %v", file, fr.NotCovered)
		}
	}
}

// opa fmt is the house style; a diff here means `opa fmt -w policies/`.
func TestRegoFormatted(t *testing.T) {
	files, _ := filepath.Glob("*.rego")
	if len(files) == 0 {
		t.Fatal("no Rego files")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := format.SourceWithOpts(f, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(src) {
			t.Errorf("%s is not opa-fmt formatted (run: go run github.com/open-policy-agent/opa fmt -w policies/)", f)
		}
	}
}
