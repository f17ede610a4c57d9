package main

import (
	"strings"
	"testing"
)

// A run with a pass, a failure, a skip with a reason and a package without tests ends with
// the failure's output, the skip's reason, the summary line, and a failing exit code.
func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`go: downloading example.com/x v1.0.0`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":0.01}`,
		`{"Action":"run","Package":"p/a","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    a_test.go:9: want 2, got 3\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestBad","Elapsed":0.01}`,
		`{"Action":"run","Package":"p/a","Test":"TestRealEnvoy"}`,
		`{"Action":"output","Package":"p/a","Test":"TestRealEnvoy","Output":"=== RUN   TestRealEnvoy\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestRealEnvoy","Output":"    real_envoy_test.go:40: ENVOY_BIN is not set: no Envoy binary here\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestRealEnvoy","Output":"--- SKIP: TestRealEnvoy (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/a","Test":"TestRealEnvoy","Elapsed":0}`,
		`{"Action":"fail","Package":"p/a","Elapsed":0.2}`,
		`{"Action":"skip","Package":"p/b","Elapsed":0}`,
	}, "\n")
	var out strings.Builder
	code := report(strings.NewReader(in), &out)
	got := out.String()
	for _, want := range []string{
		"go: downloading example.com/x v1.0.0",
		"FAIL\tp/a",
		"?   \tp/b\t[no test files]",
		"--- FAIL: TestBad (p/a)\n    " + "    a_test.go:9: want 2, got 3",
		"--- SKIP: TestRealEnvoy (p/a): ENVOY_BIN is not set: no Envoy binary here",
		"1 passed, 1 failed, 1 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestReportPassesAndBuildFailures(t *testing.T) {
	var out strings.Builder
	if code := report(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}`+"\n"+
		`{"Action":"pass","Package":"p","Elapsed":0.1}`), &out); code != 0 {
		t.Fatalf("exit %d for a passing run:\n%s", code, out.String())
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), "1 passed, 0 failed, 0 skipped (0s)") {
		t.Fatalf("summary line: %s", out.String())
	}
	out.Reset()
	in := `{"ImportPath":"p [p.test]","Action":"build-output","Output":"p/x.go:3:1: syntax error\n"}` + "\n" +
		`{"ImportPath":"p [p.test]","Action":"build-fail"}` + "\n" +
		`{"Action":"fail","Package":"p","Elapsed":0,"FailedBuild":"p [p.test]"}`
	if code := report(strings.NewReader(in), &out); code != 1 || !strings.Contains(out.String(), "syntax error") {
		t.Fatalf("build failure: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := report(strings.NewReader("no json here\n"), &out); code != 1 {
		t.Fatalf("non-test input accepted:\n%s", out.String())
	}
}
