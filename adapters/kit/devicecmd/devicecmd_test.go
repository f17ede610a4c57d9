package devicecmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

type vector struct {
	Input      string `json:"input"`
	Normalised string `json:"normalised"`
	Refused    string `json:"refused"`
	Note       string `json:"note"`
}

// vectors are the shared normalisation vectors (testdata/normalise.json).
func vectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "normalise.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 50 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	return f.Vectors
}

// The Go normaliser gives every vector's normal form or refusal code.
func TestNormaliseVectors(t *testing.T) {
	for _, v := range vectors(t) {
		got, err := devicecmd.Normalise(v.Input)
		var r *devicecmd.Refusal
		switch {
		case v.Refused == "" && err != nil:
			t.Errorf("Normalise(%q): %v, want %q", v.Input, err, v.Normalised)
		case v.Refused == "" && got != v.Normalised:
			t.Errorf("Normalise(%q) = %q, want %q", v.Input, got, v.Normalised)
		case v.Refused != "" && !errors.As(err, &r):
			t.Errorf("Normalise(%q) = %q, %v; want refusal %s", v.Input, got, err, v.Refused)
		case v.Refused != "" && r.Code != v.Refused:
			t.Errorf("Normalise(%q): refused %s (%s), want %s", v.Input, r.Code, r.Reason, v.Refused)
		}
	}
}

// A normal form is a fixed point: normalising it again changes nothing.
func TestNormaliseIdempotent(t *testing.T) {
	for _, v := range vectors(t) {
		if v.Refused != "" {
			continue
		}
		again, err := devicecmd.Normalise(v.Normalised)
		if err != nil || again != v.Normalised {
			t.Errorf("Normalise(%q) = %q, %v; a normal form must stay as it is", v.Normalised, again, err)
		}
	}
}

func TestRefusalMessages(t *testing.T) {
	for in, want := range map[string]string{
		"show version ; reload":           `command "show version ; reload" is refused: it contains ";", which could chain, redirect or alter commands; send one plain command per entry`,
		"show version\nreload":            `command "show version\nreload" is refused: it contains a line break; send each command as its own entry`,
		"ѕhow version":                    `command "ѕhow version" is refused: it contains the non-ASCII character "ѕ"; only printable ASCII, spaces and tabs are accepted`,
		"show run | redirect flash:a.txt": `command "show run | redirect flash:a.txt" is refused: the output filter "redirect" is not allowed (allowed: begin, count, exclude, include, section)`,
	} {
		_, err := devicecmd.Normalise(in)
		if err == nil || err.Error() != want {
			t.Errorf("Normalise(%q):\n got %v\nwant %s", in, err, want)
		}
	}
}

// The floor: show, ping and traceroute with a target, nothing else, whatever the policy says.
func TestFloor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" for allowed, else a part of the error
	}{
		{"show version", ""},
		{"sh run | i hostname", ""},
		{"ping 10.0.0.1", ""},
		{"ping vrf MGMT 10.0.0.1", ""},
		{"ping ip 10.0.0.1", ""},
		{"traceroute 10.0.0.1 source Loopback0", ""},
		{"ping", "needs a target"},
		{"ping vrf MGMT", "needs a target"},
		{"ping vrf", "needs a target"},
		{"ping ip", "needs a target"},
		{"traceroute", "needs a target"},
		{"conf t", "never runs configure"},
		{"configure terminal", "never runs configure"},
		{"reload", "never runs reload"},
		{"rel in 5", "never runs reload"},
		{"wr mem", "never runs write"},
		{"copy running-config startup-config", "never runs copy"},
		{"del flash:x", "never runs delete"},
		{"erase startup-config", "never runs erase"},
		{"format flash:", "never runs format"},
		{"clear counters", "never runs clear"},
		{"debug ip packet", "never runs debug"},
		{"u all", "never runs undebug"},
		{"request platform software system shell", "never runs request"},
		{"install add file flash:x.bin activate commit", "never runs install"},
		{"terminal monitor", "only show, ping and traceroute"},
		{"more flash:x", "only show, ping and traceroute"},
		{"run bash", "only show, ping and traceroute"},
		{"c", "only show, ping and traceroute"},
		{"show version ; reload", "could chain"},
	} {
		got, err := devicecmd.Check(c.in)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Check(%q): %v", c.in, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Check(%q) = %q, %v; want an error with %q", c.in, got, err, c.want)
		}
	}
}

// regoNormalise evaluates cli_normalise in the policy directory through OPA's Go API.
func regoPolicy(t *testing.T) rego.PreparedEvalQuery {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "policies")
	pq, err := rego.New(
		rego.Query(`data.gatehouse.authz.cli_normalise(input)`),
		rego.Load([]string{dir}, func(abspath string, info os.FileInfo, _ int) bool {
			// Only the rules and their data: no tests, no catalog.
			name := info.Name()
			return !info.IsDir() && (strings.HasSuffix(name, "_test.rego") || name == "catalog.json")
		}),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pq
}

// The Rego normaliser in policies/commands.rego agrees with the Go one on every vector:
// the same normal form, the same refusal code, the same reason.
func TestRegoNormaliserAgrees(t *testing.T) {
	pq := regoPolicy(t)
	for _, v := range vectors(t) {
		rs, err := pq.Eval(context.Background(), rego.EvalInput(v.Input))
		if err != nil {
			t.Fatalf("%q: %v", v.Input, err)
		}
		if len(rs) != 1 {
			t.Errorf("cli_normalise(%q) is undefined", v.Input)
			continue
		}
		got, _ := rs[0].Expressions[0].Value.(map[string]any)
		goNorm, goErr := devicecmd.Normalise(v.Input)
		want := map[string]any{"normalised": goNorm}
		var r *devicecmd.Refusal
		if errors.As(goErr, &r) {
			want = map[string]any{"refused": r.Code, "reason": r.Reason}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Rego %v, Go %v", v.Input, got, want)
		}
	}
}

// The keyword and filter tables in Rego are the Go ones.
func TestRegoTablesAgree(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "policies")
	for query, want := range map[string]any{
		"data.gatehouse.authz.cli_keywords":        devicecmd.Keywords,
		"data.gatehouse.authz.cli_filters":         devicecmd.Filters,
		"data.gatehouse.authz.cli_allowed_filters": devicecmd.AllowedFilters,
	} {
		rs, err := rego.New(rego.Query(query), rego.Load([]string{dir}, func(_ string, info os.FileInfo, _ int) bool {
			return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
		}), rego.SetRegoVersion(ast.RegoV1)).Eval(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", query, rs, err)
		}
		got, _ := json.Marshal(rs[0].Expressions[0].Value)
		// Rego sets and arrays both come back as sorted JSON arrays; compare sorted.
		wantJSON, _ := json.Marshal(sortedCopy(want))
		if string(sortedJSON(t, got)) != string(wantJSON) {
			t.Errorf("%s differs:\n rego %s\n   go %s", query, got, wantJSON)
		}
	}
}

func sortedCopy(v any) any {
	switch x := v.(type) {
	case []string:
		c := slices.Clone(x)
		slices.Sort(c)
		return c
	case map[string][]string:
		m := map[string][]string{}
		for k, l := range x {
			c := slices.Clone(l)
			slices.Sort(c)
			m[k] = c
		}
		return m
	}
	return v
}

func sortedJSON(t *testing.T, b []byte) []byte {
	var list []string
	if json.Unmarshal(b, &list) == nil {
		slices.Sort(list)
		out, _ := json.Marshal(list)
		return out
	}
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range m {
		slices.Sort(l)
	}
	out, _ := json.Marshal(m)
	return out
}

// FuzzNormalise: never panics; a normal form is ASCII, single-spaced, a fixed point, and free
// of the characters that chain commands.
func FuzzNormalise(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(v.Input)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := devicecmd.Normalise(in)
		if err != nil {
			return
		}
		if again, err := devicecmd.Normalise(n); err != nil || again != n {
			t.Fatalf("Normalise(%q) = %q, but Normalise(%q) = %q, %v", in, n, n, again, err)
		}
		if strings.ContainsAny(n, ";&<>`?\r\n\t") || strings.Contains(n, "  ") || strings.TrimSpace(n) != n {
			t.Fatalf("Normalise(%q) = %q", in, n)
		}
		for _, r := range n {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("Normalise(%q) = %q has %U", in, n, r)
			}
		}
	})
}
