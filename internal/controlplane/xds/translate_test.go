package xds_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xdsserver"
	"github.com/gatehouse-mcp/gatehouse/internal/golden"
)

// TestTranslateGolden tests the translation as input → output pairs: every
// testdata/in/<name>.yaml is a platform config, and testdata/out/<name>.envoy.yaml is what
// `gatehouse control-plane --print` prints for it (xdsserver.Build, then xds.YAML). The
// pair named example is the repository's own gatehouse.yaml, read where it lives so the
// shipped config is always the one tested. An out file with no input fails as stale.
//
// Add a case by adding an input and running
//
//	go test ./internal/controlplane/xds -run TestTranslateGolden -update
//
// then read the new output (and the diff of any changed one) before committing it.
//
// What each input changes against minimal (checked by reading the outputs):
//   - https-upstream-ca: the https adapters' clusters get an UpstreamTlsContext (CA file,
//     exact SAN, SNI for the DNS name only); the http one does not.
//   - rest-bridge: one more route, prefix /api/v1/mcp/ to the server's cluster.
//   - cors-origins: the CORS policy's allow_origin_string_match lists the given origins.
//   - deny-mode-http: nothing. deny_mode is how the authz service words a denial; Envoy
//     passes the answer through, so the output is byte-for-byte minimal's (asserted below).
//   - many-servers: per server a metadata route, an MCP route and a cluster.
//   - tracing: the listener's tracing block (OpenTelemetry over OTLP/HTTP to the
//     otel-collector cluster, 25 % random sampling, the decision id as a custom tag) and
//     that cluster, without a health check.
func TestTranslateGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Without inputs every output would look stale, and -update would delete them.
	if len(inputs) == 0 {
		t.Fatal("no inputs in testdata/in")
	}
	sources := map[string]string{"example": repo("gatehouse.yaml")}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		if _, dup := sources[name]; dup {
			t.Fatalf("%s: the name %q is taken by the repository's gatehouse.yaml", in, name)
		}
		sources[name] = in
	}
	out := map[string][]byte{}
	for name, path := range sources {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Every input must build: one that fails would leave its output looking stale.
		_, _, res, err := xdsserver.Build(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		y, err := xds.YAML(res)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[name+".envoy.yaml"] = y
	}
	if !bytes.Equal(out["deny-mode-http.envoy.yaml"], out["minimal.envoy.yaml"]) {
		t.Error("deny_mode changed the Envoy config; it is meant to concern the authz service only")
	}
	golden.Dir(t, filepath.Join("testdata", "out"), "*.envoy.yaml", out)
}
