// Command gatehouse-adapter-deployments serves the deployments MCP tools at /mcp: template
// deployments with a change request and policy-driven approval, run as durable Temporal
// workflows by gatehouse-worker. It is a Temporal client only and reads no secrets.
//
//	TEMPORAL_ADDRESS=temporal:7233 gatehouse-adapter-deployments
//
// `gatehouse-adapter-deployments -h` lists every flag (namespace, task queue, Temporal TLS).
package main

import (
	"os"

	"github.com/gatehouse-mcp/gatehouse/adapters/deployments"
)

var version = "dev"

func main() {
	os.Exit(deployments.Main(version, os.Args[1:], os.Stdout, os.Stderr))
}
