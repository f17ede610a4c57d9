// Command gatehouse runs the parts of the Gatehouse MCP authorization edge.
//
//	gatehouse dev                                    the whole platform on loopback, in one process
//	gatehouse token --user nina                      a token from the running dev platform
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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
	"github.com/gatehouse-mcp/gatehouse/internal/registry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `gatehouse: an authorization edge for the Model Context Protocol

Usage:
  gatehouse dev [--edge 127.0.0.1:8080] [--issuer 127.0.0.1:8090] [--policies policies]
                                            the whole platform on loopback, in one process
  gatehouse token --user nina [--server catalyst-center] [--issuer http://127.0.0.1:8090]
                                            an access token from the dev issuer (admin, nina, sam, dana)
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
	case "dev":
		return runDev(ctx, args[1:], stdout)
	case "token":
		return runToken(ctx, args[1:], stdout)
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
	if _, err := catalog.Parse(out); err != nil {
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

func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	edgeAddr := fs.String("edge", "127.0.0.1:8080", "where the edge listens (the MCP endpoint for clients)")
	issuerAddr := fs.String("issuer", "127.0.0.1:8090", "where the development OIDC issuer listens")
	policies := fs.String("policies", "policies", "policy directory (edits are picked up live)")
	user := fs.String("user", "nina", "demo user for the printed client configuration")
	format := fs.String("log-format", "", "console or json (default: console on a terminal)")
	testIdentity := fs.String("insecure-test-identity", "", "TESTS ONLY: act as this demo user for unauthenticated loopback requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	eh, ep, err := splitPort(*edgeAddr)
	if err != nil {
		return fmt.Errorf("--edge: %w", err)
	}
	ih, ip, err := splitPort(*issuerAddr)
	if err != nil {
		return fmt.Errorf("--issuer: %w", err)
	}
	if eh != ih {
		return errors.New("--edge and --issuer must be on the same host")
	}
	if *format == "" {
		*format = "json"
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			*format = "console"
		}
	}
	log, err := ecslog.New(stdout, "gatehouse-dev", "info", *format)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := stack.Start(ctx, stack.Options{Host: eh, EdgePort: ep, IssuerPort: ip, PolicyDir: *policies, Log: log,
		InsecureTestIdentity: *testIdentity})
	if err != nil {
		return err
	}
	defer s.Stop()
	cfg, err := s.ClientConfig(*user)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nGatehouse is running (Ctrl-C stops it).\n\n  edge (MCP):   %s/mcp/<server>\n  OIDC issuer:  %s\n  authz gRPC:   %s\n  servers:     ",
		s.EdgeURL, s.Issuer.URL(), s.AuthzGRPC)
	for _, srv := range s.Config.Servers {
		fmt.Fprintf(stdout, " %s", srv.Name)
	}
	fmt.Fprintf(stdout, "\n\nMCP client configuration (as %s; other users: admin, sam, dana — `gatehouse token --user sam`):\n\n%s\n", *user, cfg)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}

func runToken(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	user := fs.String("user", "nina", "demo user: admin, nina, sam or dana")
	server := fs.String("server", "", "only for this server (its resource URI becomes the audience)")
	iss := fs.String("issuer", "http://127.0.0.1:8090", "the running dev issuer")
	edgeURL := fs.String("edge", "http://127.0.0.1:8080", "the running dev edge (for the resource URI)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	form := url.Values{"grant_type": {"password"}, "username": {*user}, "password": {issuer.DefaultPassword},
		"client_id": {issuer.CLIClient}}
	if *server != "" {
		form.Set("resource", strings.TrimRight(*edgeURL, "/")+contract.MCPPath(*server))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*iss, "/")+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is `gatehouse dev` running? %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return fmt.Errorf("the issuer refused: %s %s", resp.Status, out.Error)
	}
	fmt.Fprintln(stdout, out.AccessToken)
	return nil
}

func splitPort(hostport string) (string, int, error) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}

// isTerminal reports whether f is a character device (a terminal), without a dependency.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
