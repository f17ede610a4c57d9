// Command benchcompare runs Gatehouse's authz service side by side with stock OPA and the
// opa-envoy-plugin (make bench-compare); see internal/benchcompare.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/benchcompare"
)

func main() {
	o := benchcompare.Options{Out: os.Stdout, Progress: os.Stderr}
	flag.StringVar(&o.GatehouseBin, "gatehouse", ".bin/gatehouse", "the gatehouse binary")
	flag.StringVar(&o.OPABin, "opa", ".bin/opa-envoy", "OPA with the opa-envoy-plugin (tools/opaenvoy)")
	flag.StringVar(&o.PolicyDir, "policies", "policies", "Gatehouse's policy directory")
	flag.DurationVar(&o.Duration, "duration", 4*time.Second, "length of each run")
	flag.IntVar(&o.Rounds, "rounds", 2, "runs per server and scenario, alternating")
	flag.DurationVar(&o.Timeout, "timeout", 500*time.Millisecond, "the edge's authz timeout (open-loop deadline)")
	flag.IntVar(&o.Tokens, "tokens", 80000, "tokens minted for the new-token scenarios")
	flag.BoolVar(&o.Pin, "pin", true, "run the servers and the load generator on CPUs of their own (half each)")
	flag.StringVar(&o.Only, "only", "", "run only the scenarios whose names contain this (and the capacity run)")
	flag.Float64Var(&o.Overload, "overload", 2, "the multiple of capacity the overload scenario offers")
	floor := flag.Bool("floor", true, "also measure grpc-go's own cost of a refusal (a server that refuses every Check) at the overload scenario's rate")
	refusals := flag.String("serve-refusals", "", "grpc-addr,http-addr: run only the refusal server (started by -floor)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *refusals != "" {
		if err := serveRefusals(ctx, *refusals); err != nil {
			fmt.Fprintln(os.Stderr, "benchcompare -serve-refusals:", err)
			os.Exit(1)
		}
		return
	}
	if *floor {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchcompare:", err)
			os.Exit(1)
		}
		o.Self = self
	}
	work, err := os.MkdirTemp("", "benchcompare-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
	o.WorkDir = work
	if err := benchcompare.Run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "benchcompare: %v (servers' stderr in %s)\n", err, work)
		os.Exit(1)
	}
	_ = os.RemoveAll(work)
}

// serveRefusals listens on addrs ("grpc-addr,http-addr") and runs the refusal server.
func serveRefusals(ctx context.Context, addrs string) error {
	grpcAddr, httpAddr, ok := strings.Cut(addrs, ",")
	if !ok {
		return fmt.Errorf("want grpc-addr,http-addr, got %q", addrs)
	}
	g, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	h, err := net.Listen("tcp", httpAddr)
	if err != nil {
		g.Close()
		return err
	}
	return benchcompare.ServeRefusals(ctx, g, h)
}
