package radkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// The command ping_from_device and traceroute_from_device check against the floor is the one
// the policy builds from the same arguments (cli_generated in policies/commands.rego), and
// each platform's form keeps the same arguments.
func TestProbeMatchesPolicy(t *testing.T) {
	pq, err := rego.New(rego.Query(`data.gatehouse.authz.cli_generated(input.kind, input.args)`),
		rego.Load([]string{filepath.Join("..", "..", "policies")}, func(_ string, info os.FileInfo, _ int) bool {
			return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
		}), rego.SetRegoVersion(ast.RegoV1)).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p           probe
		args        map[string]any
		nxos, iosxr string
	}{
		{probe{kind: "ping", target: "10.0.0.1"}, map[string]any{"device": "d", "target": "10.0.0.1"},
			"ping 10.0.0.1", "ping 10.0.0.1"},
		{probe{kind: "ping", target: "10.0.0.1", vrf: "MGMT", source: "Loopback0", count: 5},
			map[string]any{"device": "d", "target": "10.0.0.1", "vrf": "MGMT", "source": "Loopback0", "count": 5},
			"ping 10.0.0.1 vrf MGMT source-interface Loopback0 count 5", "ping vrf MGMT 10.0.0.1 source Loopback0 count 5"},
		{probe{kind: "traceroute", target: "core.example.net", source: "Vlan100"},
			map[string]any{"device": "d", "target": "core.example.net", "source": "Vlan100", "vrf": ""},
			"traceroute core.example.net source-interface Vlan100", "traceroute core.example.net source Vlan100"},
	} {
		rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"kind": c.p.kind, "args": c.args}))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%v: %v %v", c.args, rs, err)
		}
		if got := rs[0].Expressions[0].Value; got != c.p.canonical() || c.p.render("IOS_XE") != c.p.canonical() {
			t.Errorf("policy builds %q, the adapter checks %q", got, c.p.canonical())
		}
		if got := c.p.render("NXOS"); got != c.nxos {
			t.Errorf("NX-OS: %q", got)
		}
		if got := c.p.render("IOS_XR"); got != c.iosxr {
			t.Errorf("IOS-XR: %q", got)
		}
	}
}
