// Package gatehouse is the production command line, `gatehouse` (cmd/gatehouse, the binary the
// Dockerfile ships):
//
//	gatehouse authz --config gatehouse.yaml          the Envoy ext_authz service
//	gatehouse control-plane --config gatehouse.yaml  the xDS server that drives Envoy
//	gatehouse control-plane --print                  print the Envoy resources it would serve
//	gatehouse policy test [--dir policies]           run the policy directory's Rego tests
//	gatehouse catalog --check --config gatehouse.yaml  compare live adapters with the catalog's pins
//	gatehouse version
//
// It links no development code: the dev issuer, stack and edge and the upstream simulators are
// in `gatehouse-dev` (internal/cli/gatehousedev); cmd/gatehouse's deps_test.go keeps it so. Nor
// does it link the adapters: generating the catalog from their declarations is
// `gatehouse-dev catalog`, so that the authz service does not carry them (BENCHMARKS.md).
// Exit codes, error lines and help follow package cli.
package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/cli"
	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/memlimit"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Execute runs `gatehouse` with args (without the program name) and returns the exit code.
// version is what `gatehouse version` prints (set in main with -ldflags "-X main.version=...").
func Execute(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, newRoot(version), args, stdout, stderr)
}

func newRoot(version string) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "An authorization edge for the Model Context Protocol",
		Long: `gatehouse runs the production parts of the Gatehouse MCP authorization edge: the ext_authz
service Envoy calls for every MCP message, and the xDS control plane that configures Envoy.
It also tests policy directories and checks live adapters against the pinned tool catalog.

For development (the whole platform on loopback, demo tokens, upstream simulators) use
gatehouse-dev: go run ./cmd/gatehouse-dev`,
		Example: `  gatehouse authz --config /etc/gatehouse/gatehouse.yaml
  gatehouse control-plane --config gatehouse.yaml --print
  gatehouse policy test --dir policies`,
	}
	return cli.Group(root,
		authzCommand(),
		controlPlaneCommand(),
		cli.Group(&cobra.Command{
			Use:     "policy",
			Short:   "Work with policy directories",
			Example: "  gatehouse policy test --dir policies",
		}, policyTestCommand()),
		catalogCommand(),
		versionCommand(version),
	)
}

func authzCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "authz",
		Short: "Run the ext_authz service Envoy calls",
		Long: `Run the Envoy ext_authz service (gRPC) and its HTTP side (protected resource metadata,
/healthz, /readyz, /metrics) with the platform config. The policy directory is reloaded every
policy.reload_interval, and at once on SIGHUP. SIGINT or SIGTERM drain and stop it.`,
		Example: `  gatehouse authz --config /etc/gatehouse/gatehouse.yaml
  kill -HUP <pid>    # reload the policy directory now`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuthz(cmd.Context(), path, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&path, "config", "gatehouse.yaml", "platform config file")
	return cmd
}

func runAuthz(ctx context.Context, path string, stdout io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return configError(err)
	}
	log, err := ecslog.New(stdout, "gatehouse-authz", cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	// The container's memory limit, as GOMEMLIMIT: the GC works harder before the OOM killer acts.
	log.Info().Str("event.action", "memory-limit").Msg("Go memory limit: " + memlimit.Apply("/sys/fs/cgroup") +
		"; garbage collector: " + memlimit.GCPercent(50))
	endTracing, err := tracing.Setup(ctx, "gatehouse-authz", "", log)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer tracing.Stop(endTracing, log)
	grpcLis, err := net.Listen("tcp", cfg.Authz.GRPCListen)
	if err != nil {
		return fmt.Errorf("authz.grpc_listen: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.Authz.HTTPListen)
	if err != nil {
		grpcLis.Close()
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
				_, _ = svc.Policies.Reload(ctx) // the outcome is logged
			}
		}
	}()
	return svc.Run(ctx, grpcLis, httpLis)
}

// configError adds to a config file that does not exist how to name another.
func configError(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (name the platform config with --config)", err)
	}
	return err
}

func controlPlaneCommand() *cobra.Command {
	var (
		path  string
		print bool
	)
	cmd := &cobra.Command{
		Use:   "control-plane",
		Short: "Run the xDS control plane that configures Envoy",
		Long: `Serve Envoy's listeners, routes and clusters over ADS, built from the platform config,
which is watched for changes. With --print, write those resources as YAML and exit.`,
		Example: `  gatehouse control-plane --config gatehouse.yaml --print   # read what Envoy will get
  gatehouse control-plane --config gatehouse.yaml           # serve it`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runControlPlane(cmd.Context(), path, print, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&path, "config", "gatehouse.yaml", "platform config file (watched for changes)")
	cmd.Flags().BoolVar(&print, "print", false, "write the Envoy resources the config produces as YAML, and exit")
	return cmd
}

func runControlPlane(ctx context.Context, path string, print bool, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return configError(fmt.Errorf("read config: %w", err))
	}
	cfg, _, res, err := xdsserver.Build(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if print {
		out, err := xds.YAML(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# Envoy resources generated from %s by `gatehouse control-plane --print`:\n", filepath.Base(path))
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
		grpcLis.Close()
		return fmt.Errorf("control_plane.http_listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return xdsserver.New(path, log).Run(ctx, grpcLis, httpLis, cfg.XDS.WatchInterval)
}

func policyTestCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Compile and test a policy directory, as the authz service does on load",
		Long: `Load a policy directory exactly as the authz service does: compile it, run its Rego tests,
and refuse it if either fails. Exits 1 with the reason when the service would refuse it.`,
		Example: `  gatehouse policy test --dir policies
  gatehouse policy test --dir /etc/gatehouse/policies`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicyTest(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "policies", "policy directory")
	return cmd
}

func runPolicyTest(ctx context.Context, dir string, stdout io.Writer) error {
	log, err := ecslog.New(io.Discard, "gatehouse", "error", "json")
	if err != nil {
		return err
	}
	eng := policy.NewEngine(dir, 0, log, nil)
	if _, err := eng.Reload(ctx); err != nil {
		return fmt.Errorf("%s refused: %w", dir, err)
	}
	rev := eng.Current()
	fmt.Fprintf(stdout, "%s: revision %s accepted, %d Rego tests passed\n", dir, rev.ID, rev.Tests)
	return nil
}

func catalogCommand() *cobra.Command {
	var (
		file, config string
		check        bool
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Check live adapters against the pinned tool catalog",
		Long: `With --check, ask every server in the platform config for its tools (tools/list at its
upstream) and compare each definition with its pin: a tool whose definition changed is
hidden by the edge and its calls refused until the catalog is re-pinned. Exits 1 on any
difference.

The catalog itself is generated from the adapters' declarations by the development binary,
which links them: go run ./cmd/gatehouse-dev catalog --write`,
		Example: `  gatehouse catalog --check --config gatehouse.yaml   # do the running adapters match their pins?`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !check {
				return errors.New("this binary only checks live adapters against the catalog (--check); generate the catalog with `go run ./cmd/gatehouse-dev catalog --write`")
			}
			return runCatalogCheck(cmd.Context(), config, file, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&file, "file", "policies/catalog.json", "the catalog file")
	cmd.Flags().BoolVar(&check, "check", false, "compare the tools the configured servers serve with their pins")
	cmd.Flags().StringVar(&config, "config", "gatehouse.yaml", "platform config naming the servers")
	return cmd
}

// runCatalogCheck compares what each configured server serves with the catalog's pins.
func runCatalogCheck(ctx context.Context, configPath, file string, stdout io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	cat, err := catalog.Parse(data)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var problems []string
	for _, s := range cfg.Servers {
		served, err := catalog.ServedTools(ctx, client, strings.TrimRight(s.Upstream, "/")+contract.AdapterPath)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: cannot list its tools: %v", s.Name, err))
			fmt.Fprintf(stdout, "%s: cannot list its tools: %v\n", s.Name, err)
			continue
		}
		diffs, err := cat.Compare(s.Name, served)
		if err != nil {
			return err
		}
		if len(diffs) == 0 {
			fmt.Fprintf(stdout, "%s: %d tools match their pins\n", s.Name, len(served))
			continue
		}
		for _, d := range diffs {
			problems = append(problems, d.String())
			fmt.Fprintln(stdout, d.String())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d tool definitions differ from %s; if the change is intended, re-pin with `go run ./cmd/gatehouse-dev catalog --write` and review the diff", len(problems), file)
	}
	return nil
}

func versionCommand(version string) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  gatehouse version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "gatehouse", version)
			return err
		},
	}
}
