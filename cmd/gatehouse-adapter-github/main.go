// Command gatehouse-adapter-github serves the GitHub MCP tools at /mcp.
//
//	GITHUB_ORGS=gatehouse-net VAULT_ADDR=... VAULT_TOKEN=... gatehouse-adapter-github
//
// Configuration (not secret), from the environment:
//
//   - GITHUB_URL: the API's base URL (the kit's --upstream). Default https://api.github.com;
//     for GitHub Enterprise Server https://<host>/api/v3 (with GATEHOUSE_UPSTREAM_CA for a
//     private CA).
//   - GITHUB_ORGS: the organisations code search is confined to, comma-separated; the first
//     is where a GitHub App's installation is looked up when the secret names none. Without
//     it, search_code is refused.
//
// Credentials: the Vault KV v2 secret gatehouse/github with app_id, private_key (the App's
// PEM key) and optionally installation_id (a GitHub App: installation tokens renewed before
// their hour is up), or token (a fine-grained personal access token); with --secrets env,
// GATEHOUSE_SECRET_GITHUB_<FIELD>.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/adapters/github"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

var version = "dev"

func main() {
	if os.Getenv("GITHUB_URL") == "" {
		_ = os.Setenv("GITHUB_URL", github.DefaultURL)
	}
	kit.Main(kit.Adapter{
		Name: github.ServerName, Version: version, UpstreamEnv: "GITHUB_URL",
		Setup: func(_ context.Context, s *kit.Server, up kit.Upstream) error {
			c, err := github.NewClient(github.Config{URL: up.URL, Orgs: strings.Split(os.Getenv("GITHUB_ORGS"), ","),
				Secrets: up.Secrets, Registry: s.Registry, Log: up.Log, TLS: up.TLS,
				UserAgent: "gatehouse-adapter-github/" + version})
			if err != nil {
				return err
			}
			github.Register(s, c)
			return nil
		},
	})
}
