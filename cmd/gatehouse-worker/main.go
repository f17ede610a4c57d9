// Command gatehouse-worker runs the Temporal worker of Gatehouse's durable workflows (template
// deployments with a ServiceNow change, Catalyst Center deploy and policy-driven approval).
//
//	TEMPORAL_ADDRESS=temporal:7233 CATALYST_CENTER_URL=https://dnac.example.com \
//	SERVICENOW_URL=https://acme.service-now.com VAULT_ADDR=... VAULT_TOKEN=... gatehouse-worker
//
// Credentials: the Vault KV v2 secrets gatehouse/catalyst-center (username, password) and
// gatehouse/servicenow (client_id, client_secret, or username and password), or with
// --secrets env the GATEHOUSE_SECRET_CATALYST_CENTER_* and GATEHOUSE_SECRET_SERVICENOW_*
// variables. `gatehouse-worker -h` lists every flag.
package main

import (
	"os"

	"github.com/gatehouse-mcp/gatehouse/workflows/worker"
)

var version = "dev"

func main() {
	os.Exit(worker.Main(version, os.Args[1:], os.Stdout, os.Stderr))
}
