package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/deploy/observability/grafana"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// A real Prometheus (Debian's package) scrapes the running dev platform — authz and every
// adapter, the deployments one over a real Temporal — with the recording rules loaded, and
// answers every dashboard panel's query with data. Panels that need a component the dev
// platform lacks (Vault) must still be valid PromQL.
func TestRealPrometheusAnswersEveryPanel(t *testing.T) {
	bin := promBin(t, "prometheus")
	temporal := devserver.Bin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: testkit.Root("policies"), Log: zerolog.Nop(), TemporalBin: temporal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	exercise(t, s)

	dir := t.TempDir()
	rules, err := filepath.Abs("prometheus/recording.yml")
	if err != nil {
		t.Fatal(err)
	}
	certs := s.CertFiles()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n", rules)
	fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs: [{targets: [%q]}]\n", grafana.JobAuthz, s.AuthzHTTP)
	for _, a := range grafana.Adapters {
		u, err := url.Parse(s.Adapters[a])
		if err != nil || s.Adapters[a] == "" {
			t.Fatalf("adapter %s not running (%q)", a, s.Adapters[a])
		}
		fmt.Fprintf(&cfg, "  - job_name: %s\n    scheme: https\n    tls_config: {ca_file: %q, cert_file: %q, key_file: %q}\n    static_configs: [{targets: [%q]}]\n",
			grafana.AdapterJob(a), certs.CA, certs.Cert, certs.Key, u.Host)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testkit.FreeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api := "http://" + addr

	// Every target up, then traffic while Prometheus watches, so rates move.
	waitFor(t, 30*time.Second, "every target up", func() bool {
		r, err := query(api, `count(up == 1)`)
		return err == nil && len(r) == 1 && r[0].Value[1] == fmt.Sprint(1+len(grafana.Adapters))
	}, dir)
	exercise(t, s)
	nina := connect(t, s, "deployments", "nina")
	if res, err := call(nina, "list_my_deployments", map[string]any{}); err != nil || res.IsError {
		t.Fatalf("list_my_deployments: %v %+v", err, res)
	}
	for _, d := range grafana.Dashboards() {
		for _, p := range d.Panels {
			waitFor(t, 30*time.Second, d.UID+" / "+p.Title+": "+p.Query, func() bool {
				r, err := query(api, p.Query)
				return err == nil && (len(r) > 0 || p.Needs != "")
			}, dir)
		}
	}
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query; a Prometheus error (bad PromQL) is an error.
func query(api, q string) ([]sample, error) {
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, r.Error)
	}
	return r.Data.Result, nil
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, dir string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("timed out waiting for %s\nprometheus log:\n%s", what, log)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
