package benchcompare

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
)

//go:embed envoy.rego
var envoyRego []byte

//go:embed gatehouse.rego
var gatehouseRego []byte

// publicURL is the edge's public URL: audiences are publicURL + /mcp/<server>.
const publicURL = "http://127.0.0.1:8080"

// servers are the MCP servers both sides serve (none requires scopes of every token).
var servers = []string{"catalyst-center", "servicenow", "github"}

func audience(server string) string { return publicURL + "/mcp/" + server }

// startGatehouse writes a config for `gatehouse authz` (policy from policyDir, decision
// logs to a discarded stdout at info level, denials as HTTP statuses) and starts it.
func startGatehouse(ctx context.Context, wrap func([]string) []string, bin, policyDir, work, issuerURL string) (*server, error) {
	grpcAddr, httpAddr, err := freePorts()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(work, "gatehouse.yaml")
	if err := os.WriteFile(cfg, []byte(gatehouseConfig(policyDir, issuerURL, grpcAddr, httpAddr)), 0o600); err != nil {
		return nil, err
	}
	s, err := start(ctx, "gatehouse", wrap([]string{bin, "authz", "--config", cfg}), nil, grpcAddr,
		"http://"+httpAddr+"/readyz", filepath.Join(work, "gatehouse.stderr"))
	if err != nil {
		return nil, err
	}
	s.metrics = "http://" + httpAddr + "/metrics"
	return s, nil
}

// gatehouseConfig is the benchmark's config for `gatehouse authz`.
func gatehouseConfig(policyDir, issuerURL, grpcAddr, httpAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "public_url: %s\noidc:\n  issuer: %s\nauthz:\n  grpc_listen: %s\n  http_listen: %s\n  deny_mode: http\n",
		publicURL, issuerURL, grpcAddr, httpAddr)
	fmt.Fprintf(&b, "policy:\n  dir: %s\nlog:\n  level: info\nservers:\n", policyDir)
	for i, s := range servers {
		fmt.Fprintf(&b, "  - {name: %s, upstream: \"http://127.0.0.1:%d\"}\n", s, 8101+i)
	}
	return b.String()
}

// startOPA lays out a bundle directory for stock OPA (Gatehouse's policy files without
// their tests, data.json, the benchmark's envoy.authz wrapper and data.bench with the JWKS
// and the catalog's tool entries) and runs it with the opa-envoy-plugin's gRPC server.
func startOPA(ctx context.Context, wrap func([]string) []string, bin, policyDir, work string, iss *issuer) (*server, error) {
	dir := filepath.Join(work, "opa")
	if err := layoutOPA(dir, policyDir, iss); err != nil {
		return nil, err
	}
	grpcAddr, httpAddr, err := freePorts()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(work, "opa.yaml")
	conf := fmt.Sprintf("plugins:\n  envoy_ext_authz_grpc:\n    addr: %s\n    path: envoy/authz/result\n", grpcAddr)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return start(ctx, "opa", wrap([]string{bin, "run", "--server", "--skip-version-check", "--addr", httpAddr,
		"--log-level", "error", "--config-file", cfg, dir}), nil, grpcAddr,
		"http://"+httpAddr+"/health?plugins", filepath.Join(work, "opa.stderr"))
}

// layoutOPA writes OPA's bundle directory: Gatehouse's policy files without their tests,
// data.json, the wrapper (envoy.authz, envoy.gatehouse) and data.bench.
func layoutOPA(dir, policyDir string, iss *issuer) error {
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(policyDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if n != "data.json" && (!strings.HasSuffix(n, ".rego") || strings.HasSuffix(n, "_test.rego")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(policyDir, n))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(filepath.Join(policyDir, catalog.File))
	if err != nil {
		return err
	}
	cat, err := catalog.Parse(raw)
	if err != nil {
		return err
	}
	tools := map[string]map[string]any{}
	for s, srv := range cat.Servers {
		tools[s] = map[string]any{}
		for name, t := range srv.Tools {
			tools[s][name] = t.Input()
		}
	}
	data, err := json.Marshal(map[string]any{"jwks": iss.JWKS, "issuer": iss.URL, "public_url": publicURL, "catalog": tools})
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"bench/data.json": data, "envoy_authz.rego": envoyRego, "envoy_gatehouse.rego": gatehouseRego} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
