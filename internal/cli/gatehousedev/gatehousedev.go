// Package gatehousedev is the development command line, `gatehouse-dev` (cmd/gatehouse-dev):
//
//	gatehouse-dev                                 the whole platform on loopback, in one process
//	gatehouse-dev token --user sam                a demo user's token from the running platform
//	gatehouse-dev simulate catalyst-center        a stateful Catalyst Center API simulator
//	gatehouse-dev catalog [--write]               regenerate policies/catalog.json from the adapters
//
// It links the development issuer, the one-process stack (internal/dev/stack), the Go dev edge
// and the upstream simulators, none of which may reach the production binary (cmd/gatehouse).
// Exit codes, error lines and help follow package cli.
package gatehousedev

import (
	"context"
	"encoding/json"
	"errors"
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

	"github.com/spf13/cobra"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	ghsim "github.com/gatehouse-mcp/gatehouse/adapters/github/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	rksim "github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
	snsim "github.com/gatehouse-mcp/gatehouse/adapters/servicenow/sim"
	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/cli"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/registry"
	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// Where the platform listens by default: fixed, so that clients keep their configuration
// between runs.
const (
	defaultEdge   = "127.0.0.1:8080"
	defaultIssuer = "127.0.0.1:8090"
	// runCommand is how the README starts the platform; hints and the banner repeat it.
	runCommand = "go run ./cmd/gatehouse-dev"
)

// Execute runs `gatehouse-dev` with args (without the program name) and returns the exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, newRoot(), args, stdout, stderr)
}

func newRoot() *cobra.Command {
	var o devOptions
	root := &cobra.Command{
		Use:   "gatehouse-dev",
		Short: "Run the whole Gatehouse platform on loopback, for development",
		Long: `gatehouse-dev runs, in one process on loopback: a development OIDC issuer with demo users
(admin, nina, sam, dana; password gatehouse), the authz service over the policy directory
(edits are picked up live), the Catalyst Center, ServiceNow, GitHub and RADKit adapters, each
against a stateful simulator, the REST bridge, and the edge in front. It prints every address it serves and a paste-ready MCP client configuration.

Development only: the production binary is gatehouse (cmd/gatehouse).`,
		Example: `  go run ./cmd/gatehouse-dev
  go run ./cmd/gatehouse-dev --user sam --policies ./my-policies
  go run ./cmd/gatehouse-dev --edge 127.0.0.1:0 --issuer 127.0.0.1:0    # free ports`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := root.Flags()
	f.StringVar(&o.edge, "edge", defaultEdge, "where the edge listens (the MCP endpoint for clients); port 0 picks a free one")
	f.StringVar(&o.issuer, "issuer", defaultIssuer, "where the development OIDC issuer listens (same host as --edge); port 0 picks a free one")
	f.StringVar(&o.policies, "policies", "policies", "policy directory (edits are picked up live)")
	f.StringVar(&o.user, "user", "nina", "demo user for the printed client configuration: "+strings.Join(demoUsers(), ", "))
	f.StringVar(&o.logFormat, "log-format", "", "console or json (default: console on a terminal, else json)")
	f.StringVar(&o.testIdentity, "insecure-test-identity", "", "TESTS ONLY: act as this demo user for unauthenticated loopback requests")
	f.BoolVar(&o.deployments, "deployments", true, "run the durable deployments: a Temporal dev server (the temporal CLI from "+
		devserver.EnvBin+" or .bin/, built there on first use), a worker and the deployments server")
	root.AddCommand(tokenCommand(), catalogCommand(), cli.Group(&cobra.Command{
		Use:     "simulate",
		Short:   "Serve an upstream API simulator (development and tests, never production)",
		Example: "  go run ./cmd/gatehouse-dev simulate catalyst-center --listen 127.0.0.1:9000",
	}, simulateCatalystCenterCommand(), simulateServiceNowCommand(), simulateGitHubCommand(), simulateRADKitCommand()))
	return root
}

type devOptions struct {
	edge, issuer, policies, user, logFormat, testIdentity string
	deployments                                           bool
}

func runDev(ctx context.Context, o devOptions, stdout io.Writer) error {
	if err := checkUser("--user", o.user); err != nil {
		return err
	}
	if o.testIdentity != "" {
		if err := checkUser("--insecure-test-identity", o.testIdentity); err != nil {
			return err
		}
	}
	if st, err := os.Stat(o.policies); err != nil || !st.IsDir() {
		return fmt.Errorf("--policies %s: no such directory; run from the repository root or set --policies", o.policies)
	}
	eh, ep, err := splitPort(o.edge)
	if err != nil {
		return fmt.Errorf("--edge %s: %w", o.edge, err)
	}
	ih, ip, err := splitPort(o.issuer)
	if err != nil {
		return fmt.Errorf("--issuer %s: %w", o.issuer, err)
	}
	if eh != ih {
		return fmt.Errorf("--edge (%s) and --issuer (%s) must be on the same host", o.edge, o.issuer)
	}
	format := o.logFormat
	if format == "" {
		format = "json"
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			format = "console"
		}
	}
	log, err := ecslog.New(stdout, "gatehouse-dev", "info", format)
	if err != nil {
		return fmt.Errorf("--log-format: %w", err)
	}
	// One process plays every component, so its spans are all one service's.
	endTracing, err := tracing.Setup(ctx, "gatehouse-dev", "", log)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer tracing.Stop(endTracing, log)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sopts := stack.Options{Host: eh, EdgePort: ep, IssuerPort: ip, PolicyDir: o.policies, Log: log,
		InsecureTestIdentity: o.testIdentity}
	if o.deployments {
		bin, err := devserver.EnsureBin(ctx, ".bin", stdout)
		if err != nil {
			return fmt.Errorf("%w (or run without deployments: --deployments=false)", err)
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		sopts.TemporalBin, sopts.TemporalDB = bin, filepath.Join(cache, "gatehouse", "temporal.db")
		if err := os.MkdirAll(filepath.Dir(sopts.TemporalDB), 0o700); err != nil {
			return err
		}
	}
	s, err := stack.Start(ctx, sopts)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w; is gatehouse-dev already running? Stop it, or choose other addresses with --edge and --issuer", err)
		}
		return err
	}
	defer s.Stop()
	b, err := banner(s, o.user)
	if err != nil {
		return err
	}
	// One write, so that the banner is never interleaved with log lines.
	if _, err := io.WriteString(stdout, b); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}

// banner lists every address the running platform serves, how to get a token, and a client
// configuration with user's token.
func banner(s *stack.Stack, user string) (string, error) {
	cfg, err := s.ClientConfig(user)
	if err != nil {
		return "", err
	}
	authzHTTP := "http://" + s.AuthzHTTP
	var b strings.Builder
	b.WriteString("\nGatehouse is running (Ctrl-C stops it).\n\n")
	row := func(label, addr, note string) {
		fmt.Fprintf(&b, "  %-13s %-32s %s\n", label+":", addr, note)
	}
	row("edge", s.EdgeURL, "MCP endpoint, servers at /mcp/<server>")
	row("OIDC issuer", s.Issuer.URL(), "demo users "+strings.Join(demoUsers(), ", ")+"; password "+issuer.DefaultPassword)
	row("authz gRPC", s.AuthzGRPC, "ext_authz, called by the edge")
	row("authz HTTP", authzHTTP, "protected resource metadata, /healthz, /readyz")
	row("metrics", authzHTTP+"/metrics", "Prometheus (each adapter: <adapter>/metrics); rules and dashboards: deploy/observability")
	if tracing.Enabled() {
		row("traces", "OTLP/HTTP", "exported to OTEL_EXPORTER_OTLP_ENDPOINT (docs/operations.md, Traces)")
	} else {
		row("traces", "off", "set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to export (docs/operations.md, Traces)")
	}
	// Adapters and authz speak mTLS with a CA made at start, as in production: a direct call
	// needs the developer's certificate (curl --cacert CA --cert certificate --key key).
	f := s.CertFiles()
	fmt.Fprintf(&b, "  %-13s CA %s, certificate %s, key %s\n", "mTLS:", f.CA, f.Cert, f.Key)
	fmt.Fprintf(&b, "  %-13s (a dev CA made at start; adapters and authz accept only the edge and this certificate)\n", "")
	if s.Temporal != nil {
		row("Temporal", s.Temporal.Address, "dev server of the deployments (database "+s.Temporal.DBFile+"); worker in process")
	}
	b.WriteString("\n  servers:\n")
	for _, srv := range s.Config.Servers {
		if srv.RESTBridge {
			continue // below: it serves REST, not MCP
		}
		fmt.Fprintf(&b, "    %-18s %s\n", srv.Name, s.ServerURL(srv.Name))
		if a, ok := s.Adapters[srv.Name]; ok {
			fmt.Fprintf(&b, "    %-18s adapter: %s/mcp (direct with the mTLS certificate, not authorized; /healthz, /metrics)\n", "", a)
		}
		for _, up := range s.Upstreams {
			if up.Server == srv.Name {
				fmt.Fprintf(&b, "    %-18s simulator: %s (its upstream API; credentials: %s simulate %s --help)\n", "", up.URL, runCommand, up.Server)
			}
		}
	}
	b.WriteString("\n  REST bridge (for clients that do not speak MCP; the same token, the same policy):\n")
	fmt.Fprintf(&b, "    call:    POST %s  {\"arguments\": {...}}\n", s.EdgeURL+contract.RESTPath("<server>", "<tool>"))
	fmt.Fprintf(&b, "    list:    GET  %s\n", s.EdgeURL+contract.RESTToolsPath("<server>"))
	fmt.Fprintf(&b, "    OpenAPI: GET  %s (no token)\n", s.EdgeURL+contract.RESTOpenAPIPath)
	fmt.Fprintf(&b, "    bridge:  %s (direct with the mTLS certificate, not authorized; /healthz, /metrics)\n", s.Bridge)
	fmt.Fprintf(&b, "\nAnother user's token (printed alone; in scripts: export TOKEN=$(<command>)):\n\n  %s\n",
		tokenCommandLine(s, otherUser(user)))
	fmt.Fprintf(&b, "\nMCP client configuration (as %s):\n\n%s\n", user, cfg)
	return b.String(), nil
}

// tokenCommandLine is the `gatehouse-dev token` command that gets user a token from s, with
// the flags only a platform on non-default addresses needs.
func tokenCommandLine(s *stack.Stack, user string) string {
	line := runCommand + " token --user " + user
	if iss := s.Issuer.URL(); iss != "http://"+defaultIssuer {
		line += " --issuer " + iss
	}
	if s.EdgeURL != "http://"+defaultEdge {
		line += " --edge " + s.EdgeURL
	}
	return line
}

func otherUser(user string) string {
	if user == "sam" {
		return "nina"
	}
	return "sam"
}

func demoUsers() []string {
	var names []string
	for _, u := range issuer.DefaultUsers() {
		names = append(names, u.Name)
	}
	return names
}

func checkUser(flag, name string) error {
	for _, u := range demoUsers() {
		if u == name {
			return nil
		}
	}
	return fmt.Errorf("%s: no demo user %q; the demo users are %s", flag, name, strings.Join(demoUsers(), ", "))
}

type tokenOptions struct {
	user, server, issuer, edge string
}

func tokenCommand() *cobra.Command {
	var o tokenOptions
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a demo user's access token from the running dev platform",
		Long: `Ask the running development issuer for an access token of a demo user and print it, alone,
on stdout, so that scripts can capture it. The platform must be running (go run ./cmd/gatehouse-dev).
Without --server the token is valid for every server; with it, its audience is that server's
resource URI.`,
		Example: `  export TOKEN=$(go run ./cmd/gatehouse-dev token --user sam)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/mcp/catalyst-center ...
  export TOKEN=$(go run ./cmd/gatehouse-dev token --user nina --server catalyst-center)`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runToken(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.user, "user", "nina", "demo user: "+strings.Join(demoUsers(), ", "))
	f.StringVar(&o.server, "server", "", "only for this server (its resource URI becomes the audience)")
	f.StringVar(&o.issuer, "issuer", "http://"+defaultIssuer, "the running dev issuer")
	f.StringVar(&o.edge, "edge", "http://"+defaultEdge, "the running dev edge (for the server's resource URI)")
	return cmd
}

func runToken(ctx context.Context, o tokenOptions, stdout io.Writer) error {
	if err := checkUser("--user", o.user); err != nil {
		return err
	}
	iss := strings.TrimRight(o.issuer, "/")
	form := url.Values{"grant_type": {"password"}, "username": {o.user}, "password": {issuer.DefaultPassword},
		"client_id": {issuer.CLIClient}}
	if o.server != "" {
		form.Set("resource", strings.TrimRight(o.edge, "/")+contract.MCPPath(o.server))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("--issuer %s: %w", o.issuer, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cause := err.Error()
		var op *net.OpError
		if errors.As(err, &op) {
			cause = op.Err.Error()
		}
		return fmt.Errorf("the dev platform is not running: no issuer answers at %s (%s); start it with: %s", iss, cause, runCommand)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("%s answered %s, not a token: is it the dev platform's issuer (%s)?", iss, resp.Status, runCommand)
	}
	if out.AccessToken == "" {
		msg := fmt.Sprintf("the issuer at %s refused: %s", iss, resp.Status)
		if out.Description != "" {
			msg += ": " + out.Description
		}
		if out.Error == "invalid_target" {
			msg += fmt.Sprintf(" (--server must name a server of the platform at --edge %s)", o.edge)
		}
		return errors.New(msg)
	}
	_, err = fmt.Fprintln(stdout, out.AccessToken)
	return err
}

func simulateCatalystCenterCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "catalyst-center",
		Short: "Serve a stateful Catalyst Center API simulator",
		Long: `Serve the Catalyst Center Intent API simulator the dev platform uses (60-minute tokens, tasks
that progress and can fail, 429s), for running an adapter against by hand. Log in with user
admin, password C1sco12345.`,
		Example: `  go run ./cmd/gatehouse-dev simulate catalyst-center --listen 127.0.0.1:9000
  CATALYST_CENTER_URL=http://127.0.0.1:9000 GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME=admin \
    GATEHOUSE_SECRET_CATALYST_CENTER_PASSWORD=C1sco12345 \
    go run ./cmd/gatehouse-adapter-catalyst-center --secrets env --listen 127.0.0.1:8101`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), listen, cmd.OutOrStdout(), sim.New(sim.Options{}),
				"Catalyst Center simulator on http://%s (user admin, password C1sco12345; Ctrl-C stops it)\n")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to serve the simulated API on; port 0 picks a free one")
	return cmd
}

func simulateServiceNowCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "servicenow",
		Short: "Serve a stateful ServiceNow API simulator",
		Long: fmt.Sprintf(`Serve the ServiceNow simulator the dev platform uses (Table API, Change Management API,
OAuth tokens that expire, the change state model with approvals, CMDB network gear that matches
the Catalyst Center simulator's devices), for running an adapter against by hand. OAuth client
%s / %s (client credentials), or Basic %s / %s.`,
			snsim.DefaultClientID, snsim.DefaultClientSecret, snsim.DefaultUsername, snsim.DefaultPassword),
		Example: fmt.Sprintf(`  go run ./cmd/gatehouse-dev simulate servicenow --listen 127.0.0.1:9001
  SERVICENOW_URL=http://127.0.0.1:9001 GATEHOUSE_SECRET_SERVICENOW_CLIENT_ID=%s \
    GATEHOUSE_SECRET_SERVICENOW_CLIENT_SECRET=%s \
    go run ./cmd/gatehouse-adapter-servicenow --secrets env --listen 127.0.0.1:8102`,
			snsim.DefaultClientID, snsim.DefaultClientSecret),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), listen, cmd.OutOrStdout(), snsim.New(snsim.Options{}),
				"ServiceNow simulator on http://%s (OAuth client "+snsim.DefaultClientID+" / "+snsim.DefaultClientSecret+
					"; Ctrl-C stops it)\n")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9001", "address to serve the simulated API on; port 0 picks a free one")
	return cmd
}

func simulateGitHubCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Serve a stateful GitHub REST API simulator",
		Long: fmt.Sprintf(`Serve the GitHub REST API simulator the dev platform uses (repositories with real git
history, branch protection with required checks and reviews, pull requests, issues, code
search, rate limits and ETags; GitHub App installation tokens that expire), for running an
adapter against by hand. Organisation %s; the personal access token %s acts as dana-dev.`,
			ghsim.Org, ghsim.DefaultToken),
		Example: fmt.Sprintf(`  go run ./cmd/gatehouse-dev simulate github --listen 127.0.0.1:9002
  GITHUB_URL=http://127.0.0.1:9002 GITHUB_ORGS=%s GATEHOUSE_SECRET_GITHUB_TOKEN=%s \
    go run ./cmd/gatehouse-adapter-github --secrets env --listen 127.0.0.1:8103`, ghsim.Org, ghsim.DefaultToken),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), listen, cmd.OutOrStdout(), ghsim.New(ghsim.Options{}),
				"GitHub simulator on http://%s (token "+ghsim.DefaultToken+", organisation "+ghsim.Org+"; Ctrl-C stops it)\n")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9002", "address to serve the simulated API on; port 0 picks a free one")
	return cmd
}

func simulateRADKitCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "radkit",
		Short: "Serve a RADKit bridge simulator",
		Long: fmt.Sprintf(`Serve the RADKit bridge simulator the dev platform uses: the HTTP contract of
docs/radkit-bridge.md over simulated IOS-XE, NX-OS and IOS-XR devices (the same names as the
Catalyst Center simulator's), with jobs for slow runs. Bearer token %s.`, rksim.DefaultBridgeToken),
		Example: fmt.Sprintf(`  go run ./cmd/gatehouse-dev simulate radkit --listen 127.0.0.1:9003
  RADKIT_URL=http://127.0.0.1:9003 GATEHOUSE_SECRET_RADKIT_BRIDGE_TOKEN=%s \
    go run ./cmd/gatehouse-adapter-radkit --secrets env --insecure-no-mtls --listen 127.0.0.1:8104`, rksim.DefaultBridgeToken),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), listen, cmd.OutOrStdout(), rksim.NewBridge(rksim.Seed(), rksim.BridgeOptions{}),
				"RADKit bridge simulator on http://%s (token "+rksim.DefaultBridgeToken+"; Ctrl-C stops it)\n")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9003", "address to serve the simulated API on; port 0 picks a free one")
	return cmd
}

func runSimulate(ctx context.Context, listen string, stdout io.Writer, h http.Handler, banner string) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	fmt.Fprintf(stdout, banner, l.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func splitPort(hostport string) (string, int, error) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return h, n, nil
}

// isTerminal reports whether f is a character device (a terminal), without a dependency.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func catalogCommand() *cobra.Command {
	var (
		file  string
		write bool
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Generate the pinned tool catalog from the adapters",
		Long: `Merge every built-in adapter's tool declarations (action class, annotations, and the
digest that pins each tool's definition) into the pinned tool catalog the policy reads, and
print the result, or write it with --write. The authz service must accept what this
produces; it is checked before anything is written.

It lives in the development binary because it links every adapter; the production binary
checks live adapters against the result: gatehouse catalog --check --config gatehouse.yaml`,
		Example: `  go run ./cmd/gatehouse-dev catalog           # print the catalog policies/catalog.json should hold
  go run ./cmd/gatehouse-dev catalog --write   # update policies/catalog.json; review the diff`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCatalog(file, write, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&file, "file", "policies/catalog.json", "the catalog file")
	cmd.Flags().BoolVar(&write, "write", false, "write the file instead of printing it")
	return cmd
}

func runCatalog(file string, write bool, stdout io.Writer) error {
	existing, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := kit.Catalog(existing, registry.Declarations()...)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err) // "existing catalog: ..." names which one
	}
	// The authz service must accept what this writes.
	if _, err := catalog.Parse(out); err != nil {
		return fmt.Errorf("generated catalog is invalid: %w", err)
	}
	if !write {
		_, err = stdout.Write(out)
		return err
	}
	return os.WriteFile(file, out, 0o644)
}
