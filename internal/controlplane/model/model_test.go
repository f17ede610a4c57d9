package model_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
)

const cfgYAML = `
public_url: https://mcp.example.com
oidc: {issuer: https://idp.example.com}
authz: {allowed_origins: ["https://app.example.com/"]}
servers:
  - {name: github, upstream: "https://github-adapter.internal"}
  - {name: radkit, upstream: "http://10.0.0.7:9000", timeout: 30s}
  - {name: bridge, upstream: "http://bridge:8080", rest_bridge: true}
edge: {authz_grpc: "authz:9191", authz_http: "authz:9192"}
`

func build(t *testing.T) *model.Edge {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	e, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRouting(t *testing.T) {
	e := build(t)
	cases := []struct {
		path    string
		name    string
		authz   bool
		server  string
		cluster string
	}{
		{"/mcp/github", "mcp-github", true, "github", "adapter-github"},
		{"/mcp/radkit", "mcp-radkit", true, "radkit", "adapter-radkit"},
		{"/.well-known/oauth-protected-resource", "metadata", false, "", model.AuthzHTTPCluster},
		{"/.well-known/oauth-protected-resource/mcp/github", "metadata-github", false, "", model.AuthzHTTPCluster},
		{"/healthz", "healthz", false, "", ""},
		{"/api/v1/mcp/github/tools/list_issues", "rest-bridge", true, "", "adapter-bridge"},
		// Anything else still goes through ext_authz (which answers 404).
		{"/mcp/github/extra", "not-found", true, "", ""},
		{"/.well-known/oauth-protected-resource/mcp/nope", "not-found", true, "", ""},
		{"/", "not-found", true, "", ""},
	}
	for _, c := range cases {
		r, ok := e.Route(c.path)
		if !ok {
			t.Fatalf("%s: no route", c.path)
		}
		if r.Name != c.name || r.Authz != c.authz || r.Server != c.server || r.Cluster != c.cluster {
			t.Errorf("%s: got %+v", c.path, r)
		}
	}
	r, _ := e.Route("/mcp/github")
	if r.Rewrite != contract.AdapterPath || r.Timeout != 0 || r.Retry == nil || strings.Contains(strings.Join(r.Retry.On, ","), "5xx") {
		t.Errorf("MCP route must rewrite to /mcp, stream without a timeout, and retry only unsent requests: %+v", r)
	}
	r, _ = e.Route("/mcp/radkit")
	if r.IdleTimeout.Seconds() != 30 {
		t.Errorf("server timeout not applied: %+v", r)
	}
}

func TestClusters(t *testing.T) {
	e := build(t)
	gh, _ := e.Cluster("adapter-github")
	if !gh.TLS || gh.Address.Port != 443 || gh.Address.Host != "github-adapter.internal" {
		t.Errorf("https upstream: %+v", gh)
	}
	authz, _ := e.Cluster(model.AuthzCluster)
	if !authz.HTTP2 || !authz.HealthCheck.GRPC || authz.Address.String() != "authz:9191" {
		t.Errorf("authz cluster: %+v", authz)
	}
	if e.CORS.AllowedOrigins[0] != "https://app.example.com" {
		t.Errorf("origins %v", e.CORS.AllowedOrigins)
	}
	if e.Authz.Timeout <= 0 || e.MaxBodyBytes != config.DefaultMaxBodyBytes {
		t.Errorf("authz %+v body %d", e.Authz, e.MaxBodyBytes)
	}
}
