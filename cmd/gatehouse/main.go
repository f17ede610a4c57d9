// Command gatehouse runs the production parts of the Gatehouse MCP authorization edge: the
// ext_authz service, the xDS control plane, policy tests and the tool catalog. The commands are
// in internal/cli/gatehouse; development tools are in cmd/gatehouse-dev.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-mcp/gatehouse/internal/cli/gatehouse"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(gatehouse.Execute(context.Background(), version, os.Args[1:], os.Stdout, os.Stderr))
}
