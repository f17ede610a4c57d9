// Command gatehouse-adapter-servicenow serves the ServiceNow MCP tools at /mcp.
//
//	SERVICENOW_URL=https://example.service-now.com VAULT_ADDR=... VAULT_TOKEN=... gatehouse-adapter-servicenow
//
// Credentials: the Vault KV v2 secret gatehouse/servicenow with client_id and client_secret
// (OAuth client credentials; add username and password for the password grant) or only
// username and password (Basic); with --secrets env, GATEHOUSE_SECRET_SERVICENOW_<FIELD>.
package main

import (
	"context"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
)

var version = "dev"

func main() {
	kit.Main(kit.Adapter{
		Name: servicenow.ServerName, Version: version, UpstreamEnv: "SERVICENOW_URL",
		Setup: func(_ context.Context, s *kit.Server, up kit.Upstream) error {
			c, err := servicenow.NewClient(up.URL, up.Secrets, s.Metrics, up.Log)
			if err != nil {
				return err
			}
			c.API().UseTLS(up.TLS)
			servicenow.Register(s, c)
			return nil
		},
	})
}
