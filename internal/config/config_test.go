package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

func repoFile(_ *testing.T, name string) string { return testkit.Root(name) }

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(repoFile(t, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"catalyst-center", "servicenow", "github", "radkit", "deployments", "rest-bridge"}
	if len(cfg.Servers) != len(want) {
		t.Fatalf("servers: %+v", cfg.Servers)
	}
	for _, n := range want {
		if _, ok := cfg.Server(n); !ok {
			t.Errorf("example config lacks server %q", n)
		}
	}
	if got := cfg.ResourceURI("github"); got != "http://127.0.0.1:8080/mcp/github" {
		t.Errorf("resource URI %q", got)
	}
	if got := cfg.MetadataURL("github"); got != "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/github" {
		t.Errorf("metadata URL %q", got)
	}
	if cfg.OIDC.ClockSkew != 30*time.Second || cfg.Policy.EvalTimeout != 100*time.Millisecond {
		t.Errorf("durations: %+v %+v", cfg.OIDC, cfg.Policy)
	}
}

const minimal = `
public_url: https://mcp.example.com
oidc: {issuer: https://idp.example.com}
servers:
  - {name: github, upstream: "http://github:8080"}
`

func TestMinimalConfigGetsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Authz.MaxBodyBytes != DefaultMaxBodyBytes || cfg.Authz.DenyMode != DenyJSONRPC ||
		len(cfg.OIDC.Algorithms) != 2 || cfg.Policy.Dir != "policies" || cfg.Authz.MaxQueueWait != 50*time.Millisecond {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	if a := cfg.Audiences("github"); len(a) != 1 || a[0] != "https://mcp.example.com/mcp/github" {
		t.Fatalf("default audience %v", a)
	}
}

func TestRejectsUnknownKeysByName(t *testing.T) {
	cases := map[string]string{
		"top level":   minimal + "tracing: on\n",
		"server":      strings.Replace(minimal, `upstream:`, `upstrem: "x", upstream:`, 1),
		"oidc":        strings.Replace(minimal, `{issuer:`, `{isuer: x, issuer:`, 1),
		"second doc":  minimal + "---\npublic_url: x\n",
		"wrong shape": "servers: {github: 1}\n",
	}
	wants := map[string]string{
		"top level":  `field tracing is not a known key in the top level`,
		"server":     `field upstrem is not a known key in a servers entry`,
		"oidc":       `field isuer is not a known key in the oidc section`,
		"second doc": "single YAML document",
	}
	for name, doc := range cases {
		_, err := Parse([]byte(doc))
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if w := wants[name]; w != "" && !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", name, err, w)
		}
	}
}

func TestValidationNamesTheField(t *testing.T) {
	cases := []struct{ yaml, field string }{
		{strings.Replace(minimal, "https://mcp.example.com", "http://mcp.example.com", 1), "public_url"},
		{strings.Replace(minimal, "https://mcp.example.com", "https://mcp.example.com/gw", 1), "public_url"},
		{strings.Replace(minimal, "https://idp.example.com", "ftp://idp", 1), "oidc.issuer"},
		{minimal + "oidc2: 1\n", "oidc2"},
		{strings.Replace(minimal, "{issuer: https://idp.example.com}", "{issuer: https://idp.example.com, algorithms: [HS256]}", 1), "oidc.algorithms[0]"},
		{strings.Replace(minimal, "{issuer: https://idp.example.com}", "{issuer: https://idp.example.com, algorithms: [none]}", 1), "oidc.algorithms[0]"},
		{strings.Replace(minimal, "name: github", "name: GitHub", 1), "servers[0].name"},
		{minimal + `  - {name: github, upstream: "http://x:1"}` + "\n", "servers[1].name"},
		{strings.Replace(minimal, `"http://github:8080"`, `"github:8080"`, 1), "servers[0].upstream"},
		{minimal + "authz: {deny_mode: silent}\n", "authz.deny_mode"},
		{minimal + "authz: {max_body_bytes: 10}\n", "authz.max_body_bytes"},
		{minimal + "authz: {allowed_origins: ['*']}\n", "authz.allowed_origins[0]"},
		{minimal + "authz: {max_queue_wait: -1s}\n", "authz.max_queue_wait"},
		{minimal + "authz: {max_queue_wait: 1m}\n", "authz.max_queue_wait"},
		// Adapters read Vault settings from their own environment (adapters/kit), not from
		// this file; a vault block here would be configuration nothing reads.
		{minimal + "vault: {address: http://127.0.0.1:8200}\n", "vault"},
		{minimal + "log: {level: loud}\n", "log.level"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml))
		if err == nil {
			t.Fatalf("accepted invalid config for %s:\n%s", c.field, c.yaml)
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("error %q does not name %s", err, c.field)
		}
	}
}

func TestLoopbackHTTPAllowed(t *testing.T) {
	doc := strings.NewReplacer("https://mcp.example.com", "http://127.0.0.1:8080", "https://idp.example.com", "http://localhost:5556/dex").Replace(minimal)
	if _, err := Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(p, []byte("public_url: 3\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name the file", err)
	}
}

// FuzzParse checks the loader never panics and never accepts a config that fails its own
// validation. Run: go test ./config -run '^$' -fuzz FuzzParse
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("public_url: 1\nservers: [{name: a}]\n"))
	f.Add([]byte("servers: {x: 1}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		for _, s := range cfg.Servers {
			if got, ok := cfg.Server(s.Name); !ok || got.Name != s.Name {
				t.Fatalf("server %q not indexed", s.Name)
			}
		}
	})
}

func TestInsecureHTTPIssuerNeedsOptIn(t *testing.T) {
	doc := strings.Replace(minimal, "https://idp.example.com", "http://dex:5556/dex", 1)
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "oidc.issuer") {
		t.Fatalf("plain-http issuer accepted without opt-in: %v", err)
	}
	doc = strings.Replace(doc, "{issuer: http://dex:5556/dex}", "{issuer: http://dex:5556/dex, insecure_http: true}", 1)
	if _, err := Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}

// oidc.token_cache_size: -1 is documented as "no cache" and is accepted; below that is refused.
func TestTokenCacheSwitch(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(minimal, "{issuer: https://idp.example.com}", "{issuer: https://idp.example.com, token_cache_size: -1}", 1)))
	if err != nil || cfg.OIDC.TokenCacheSize != -1 {
		t.Fatalf("token_cache_size -1: %v", err)
	}
	_, err = Parse([]byte(strings.Replace(minimal, "{issuer: https://idp.example.com}", "{issuer: https://idp.example.com, token_cache_size: -2}", 1)))
	if err == nil || !strings.Contains(err.Error(), "oidc.token_cache_size") {
		t.Fatalf("token_cache_size -2: %v", err)
	}
}
