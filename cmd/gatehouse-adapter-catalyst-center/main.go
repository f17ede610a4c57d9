// Command gatehouse-adapter-catalyst-center serves the Catalyst Center MCP tools at /mcp.
//
//	CATALYST_CENTER_URL=https://dnac.example.com VAULT_ADDR=... VAULT_TOKEN=... gatehouse-adapter-catalyst-center
//
// Credentials: the Vault KV v2 secret gatehouse/catalyst-center (username, password), or with
// --secrets env the variables GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME and _PASSWORD.
package main

import (
	"context"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

var version = "dev"

func main() {
	kit.Main(kit.Adapter{
		Name: catalystcenter.ServerName, Version: version, UpstreamEnv: "CATALYST_CENTER_URL",
		Setup: func(_ context.Context, s *kit.Server, up kit.Upstream) error {
			c, err := catalystcenter.NewClient(up.URL, up.Secrets, s.Metrics, up.Log)
			if err != nil {
				return err
			}
			c.API().UseTLS(up.TLS)
			catalystcenter.Register(s, c)
			return nil
		},
	})
}
