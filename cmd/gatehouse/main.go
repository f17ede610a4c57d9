// Command gatehouse runs the parts of the Gatehouse MCP authorization edge.
//
//	gatehouse authz --config gatehouse.yaml          the Envoy ext_authz service
//	gatehouse control-plane --config gatehouse.yaml  the xDS server that drives Envoy
//	gatehouse control-plane --print                  print the Envoy resources it would serve
//	gatehouse policy test [--dir policies]       run the policy directory's Rego tests
//	gatehouse catalog [--write]                  regenerate policies/catalog.json from the adapters
//	gatehouse simulate catalyst-center --listen  serve an upstream simulator (development, tests)
//	gatehouse version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/registry"
	"github.com/gatehouse-mcp/gatehouse/config"
	"github.com/gatehouse-mcp/gatehouse/control-plane/xds"
	"github.com/gatehouse-mcp/gatehouse/control-plane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/ecslog"
	"github.com/gatehouse-mcp/gatehouse/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/proxy/policy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `gatehouse: an authorization edge for the Model Context Protocol

Usage:
  gatehouse authz --config gatehouse.yaml   run the ext_authz service Envoy calls
  gatehouse control-plane --config gatehouse.yaml [--print]
                                            run the xDS control plane (or print its Envoy config)
  gatehouse policy test [--dir policies]    compile and test a policy directory, as the service would
  gatehouse catalog [--write] [--file policies/catalog.json]
                                            the pinned tool catalog from the adapters' declarations
  gatehouse simulate catalyst-center [--listen 127.0.0.1:9000]
                                            a stateful Catalyst Center API simulator (not for production)
  gatehouse version                         print the version
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "authz":
		return runAuthz(ctx, args[1:], stdout)
	case "policy":
		return runPolicy(ctx, args[1:], stdout)
	case "control-plane":
		return runControlPlane(ctx, args[1:], stdout)
	case "catalog":
		return runCatalog(args[1:], stdout)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "gatehouse", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func runAuthz(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("authz", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.yaml", "platform config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log, err := ecslog.New(stdout, "gatehouse-authz", cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	grpcLis, err := net.Listen("tcp", cfg.Authz.GRPCListen)
	if err != nil {
		return fmt.Errorf("authz.grpc_listen: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.Authz.HTTPListen)
	if err != nil {
		return fmt.Errorf("authz.http_listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := authz.NewService(cfg, log, oidc.Options{})
	// SIGHUP re-reads the policy directory now instead of at the next poll.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_, _ = svc.Policies.Reload(ctx) // outcome is logged
			}
		}
	}()
	return svc.Run(ctx, grpcLis, httpLis)
}

func runPolicy(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return errors.New("usage: gatehouse policy test [--dir policies]")
	}
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	dir := fs.String("dir", "policies", "policy directory")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log, _ := ecslog.New(io.Discard, "gatehouse", "error", "json")
	eng := policy.NewEngine(*dir, 0, log, nil)
	if _, err := eng.Reload(ctx); err != nil {
		return fmt.Errorf("%s refused: %w", *dir, err)
	}
	rev := eng.Current()
	fmt.Fprintf(stdout, "%s: revision %s accepted, %d Rego tests passed\n", *dir, rev.ID, rev.Tests)
	return nil
}

func runControlPlane(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("control-plane", flag.ContinueOnError)
	path := fs.String("config", "gatehouse.yaml", "platform config file (watched for changes)")
	print := fs.Bool("print", false, "write the Envoy resources the config produces as YAML, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, _, res, err := xdsserver.Build(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if *print {
		out, err := xds.YAML(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# Envoy resources generated from %s by `gatehouse control-plane --print`:\n", filepath.Base(*path))
		fmt.Fprintln(stdout, "# exactly what the control plane serves over ADS (listeners, routes, clusters).")
		_, err = stdout.Write(out)
		return err
	}
	log, err := ecslog.New(stdout, "gatehouse-control-plane", cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	grpcLis, err := net.Listen("tcp", cfg.XDS.Listen)
	if err != nil {
		return fmt.Errorf("control_plane.listen: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.XDS.HTTPListen)
	if err != nil {
		return fmt.Errorf("control_plane.http_listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return xdsserver.New(*path, log).Run(ctx, grpcLis, httpLis, cfg.XDS.WatchInterval)
}

func runCatalog(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	file := fs.String("file", "policies/catalog.json", "catalog file to merge into")
	write := fs.Bool("write", false, "write the file instead of printing it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	existing, err := os.ReadFile(*file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := kit.Catalog(existing, registry.Declarations()...)
	if err != nil {
		return err
	}
	// The authz service must accept what this writes.
	if _, err := policy.ParseCatalog(out); err != nil {
		return fmt.Errorf("generated catalog is invalid: %w", err)
	}
	if !*write {
		_, err = stdout.Write(out)
		return err
	}
	return os.WriteFile(*file, out, 0o644)
}

func runSimulate(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "catalyst-center" {
		return errors.New("usage: gatehouse simulate catalyst-center [--listen 127.0.0.1:9000]")
	}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "address to serve the simulated API on")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Catalyst Center simulator on http://%s (user admin, password C1sco12345)\n", l.Addr())
	srv := &http.Server{Handler: sim.New(sim.Options{}), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
