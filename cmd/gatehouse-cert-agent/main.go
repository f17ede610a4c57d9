// Command gatehouse-cert-agent keeps a workload's certificate from Vault's PKI secrets engine
// in files, renewed at two thirds of its lifetime: run it next to the control plane (Envoy's
// certificates, served over SDS) and the authz service (internal/certagent).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse-mcp/gatehouse/internal/certagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := certagent.Run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-cert-agent:", err)
		os.Exit(1)
	}
}
