package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
)

func repoPolicies(testing.TB) string { return testkit.Root("policies") }

func copyInto(t *testing.T, dir string) { testkit.CopyPoliciesInto(t, dir) }

// A Kubernetes ConfigMap volume: files are symlinks into a timestamped directory behind
// "..data", and an update swaps the "..data" link atomically.
func TestConfigMapLayoutReloads(t *testing.T) {
	root := t.TempDir()
	v1 := filepath.Join(root, "..2026_11_24_v1")
	if err := os.Mkdir(v1, 0o755); err != nil {
		t.Fatal(err)
	}
	copyInto(t, v1)
	if err := os.Symlink(filepath.Base(v1), filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(v1)
	for _, e := range entries {
		if err := os.Symlink(filepath.Join("..data", e.Name()), filepath.Join(root, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	eng := NewEngine(root, 0, zerolog.Nop(), nil)
	if ok, err := eng.Reload(context.Background()); !ok || err != nil {
		t.Fatalf("first load: %v %v", ok, err)
	}
	first := eng.Current().ID
	if ok, _ := eng.Reload(context.Background()); ok {
		t.Fatal("an unchanged directory produced a new revision")
	}

	v2 := filepath.Join(root, "..2026_11_24_v2")
	if err := os.Mkdir(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	copyInto(t, v2)
	data, _ := os.ReadFile(filepath.Join(v2, "data.json"))
	if err := os.WriteFile(filepath.Join(v2, "data.json"), []byte(strings.Replace(string(data), `"group_roles": {`, `"group_roles": {"noc": ["network-engineers"],`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "..data_tmp")
	if err := os.Symlink(filepath.Base(v2), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	if ok, err := eng.Reload(context.Background()); !ok || err != nil {
		t.Fatalf("reload after the ConfigMap update: %v %v", ok, err)
	}
	if eng.Current().ID == first {
		t.Fatal("revision id did not change")
	}
}

func TestRefusals(t *testing.T) {
	cases := map[string]func(dir string){
		"missing catalog": func(dir string) { os.Remove(filepath.Join(dir, catalog.File)) },
		"catalog tool without annotations": func(dir string) {
			os.WriteFile(filepath.Join(dir, catalog.File), []byte(`{"servers":{"github":{"tools":{"x":{"action":"read","annotations":{"readOnlyHint":true}}}}}}`), 0o600)
		},
		"catalog read tool marked destructive": func(dir string) {
			os.WriteFile(filepath.Join(dir, catalog.File), []byte(`{"servers":{"github":{"tools":{"x":{"action":"read","annotations":{"readOnlyHint":true,"destructiveHint":true,"idempotentHint":true,"openWorldHint":false}}}}}}`), 0o600)
		},
		"catalog unknown action": func(dir string) {
			os.WriteFile(filepath.Join(dir, catalog.File), []byte(`{"servers":{"github":{"tools":{"x":{"action":"delete","annotations":{"readOnlyHint":false,"destructiveHint":true,"idempotentHint":true,"openWorldHint":false}}}}}}`), 0o600)
		},
		"no gatehouse.authz package": func(dir string) {
			os.Remove(filepath.Join(dir, "authz.rego"))
			os.Remove(filepath.Join(dir, "authz_test.rego"))
		},
		"reserved package": func(dir string) {
			os.WriteFile(filepath.Join(dir, "sys.rego"), []byte("package gatehouse.system\n\ndecision := {\"allowed\": true}\n"), 0o600)
		},
		"compile error": func(dir string) {
			os.WriteFile(filepath.Join(dir, "bad.rego"), []byte("package gatehouse.authz\n\nallow if undefined_function(1)\n"), 0o600)
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyInto(t, dir)
			breakIt(dir)
			eng := NewEngine(dir, 0, zerolog.Nop(), nil)
			if ok, err := eng.Reload(context.Background()); ok || err == nil {
				t.Fatalf("accepted: %v", err)
			}
			if eng.Ready() {
				t.Fatal("ready without a valid policy")
			}
		})
	}
}

func TestUnreadableDirectoryLoggedOnce(t *testing.T) {
	var logs strings.Builder
	eng := NewEngine(filepath.Join(t.TempDir(), "missing"), 0, zerolog.New(&logs), nil)
	for range 3 {
		if _, err := eng.Reload(context.Background()); err == nil {
			t.Fatal("loaded a missing directory")
		}
	}
	if n := strings.Count(logs.String(), "policy refused"); n != 1 {
		t.Fatalf("logged %d times", n)
	}
}

// print() is compiled out of served policies: its output (input, and so the request body)
// never reaches a log line.
func TestPrintNeverLogs(t *testing.T) {
	dir := t.TempDir()
	// A minimal policy of its own (plus the catalog the engine requires), so the repo's
	// Rego tests do not constrain what this one checks.
	cat, err := os.ReadFile(filepath.Join(repoPolicies(t), catalog.File))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, catalog.File), cat, 0o600); err != nil {
		t.Fatal(err)
	}
	rego := "package gatehouse.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if {\n\tprint(\"BODY-MARKER\", input.attributes)\n\ttrue\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rego), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	eng := NewEngine(dir, 0, zerolog.New(&logs), nil)
	if _, err := eng.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, err := eng.Current().Eval(context.Background(), ast.MustInterfaceToValue(map[string]any{"attributes": map[string]any{"x": 1}}), "d1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow {
		t.Fatal("the policy with print did not evaluate")
	}
	if strings.Contains(logs.String(), "BODY-MARKER") {
		t.Fatalf("print output reached the log: %s", logs.String())
	}
}

// A revision is timeless (its decisions may be remembered) only when no rule can see the
// time: input.now, the whole input, a computed input key, or a nondeterministic builtin.
func TestTimeless(t *testing.T) {
	for src, want := range map[string]bool{
		`allow if input.mcp.name == "x"`:                              true,
		`allow if input.now > "2026"`:                                 false,
		`allow if { x := input; x.now > "2026" }`:                     false,
		`allow if { k := "now"; input[k] > "2026" }`:                  false,
		`allow if time.now_ns() > 0`:                                  false,
		`allow if { some g in input.subject.groups; g == "admin" }`:   true,
		`allow if http.send({"method": "GET", "url": "http://x"}).ok`: false,
	} {
		m, err := ast.ParseModuleWithOpts("p.rego", "package gatehouse.authz\n\n"+src+"\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := timeless(map[string]*ast.Module{"p.rego": m}); got != want {
			t.Errorf("%s: timeless=%v, want %v", src, got, want)
		}
	}
	eng := NewEngine(repoPolicies(t), 0, zerolog.Nop(), nil)
	if _, err := eng.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !eng.Current().Timeless {
		t.Fatal("the default policy reads no time, yet is not timeless")
	}
}
