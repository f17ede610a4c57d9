// Command gatehouse-dev is Gatehouse's development tool: with no command it runs the whole
// platform on loopback in one process; `token` prints a demo user's access token and
// `simulate catalyst-center` serves an upstream simulator. The commands are in
// internal/cli/gatehousedev. Never ship it: the production binary is cmd/gatehouse.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-mcp/gatehouse/internal/cli/gatehousedev"
)

func main() {
	os.Exit(gatehousedev.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
