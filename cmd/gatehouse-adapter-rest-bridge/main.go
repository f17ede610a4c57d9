// Command gatehouse-adapter-rest-bridge serves Gatehouse's REST bridge: the adapters' tools
// for clients that do not speak MCP, behind the edge (adapters/restbridge).
//
//	GATEHOUSE_REST_UPSTREAMS=catalyst-center=http://catalyst-center:8080,servicenow=http://servicenow:8080 \
//	  gatehouse-adapter-rest-bridge
//
// It holds no credentials: it trusts the identity headers the edge sets because only the edge
// can reach it.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
)

var version = "dev"

func main() {
	os.Exit(restbridge.Main(context.Background(), version, os.Args[1:], os.Stdout, os.Stderr))
}
