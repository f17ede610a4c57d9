package gatehousedev

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/cli/clitest"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

func execute(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return Execute(ctx, args, stdout, stderr)
}

func run(args ...string) clitest.Result { return clitest.Run(execute, args...) }

// oneLine fails unless r is a runtime error: exit 1, nothing on stdout, and exactly one line
// on stderr that starts with the program name and contains every want.
func oneLine(t *testing.T, r clitest.Result, want ...string) {
	t.Helper()
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "gatehouse-dev: ") ||
		strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") {
		t.Fatalf("want exit 1 and one line on stderr; got exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.Stderr, w)
		}
	}
}

// Every command and subcommand: --help and -h print usage with an example to stdout and exit
// 0; an unknown flag or argument prints that command's usage and one error line, exit 2.
func TestConventions(t *testing.T) { clitest.Conventions(t, newRoot, execute) }

func TestCommands(t *testing.T) {
	var got []string
	for _, p := range clitest.Paths(newRoot()) {
		got = append(got, strings.Join(p, " "))
	}
	want := []string{"", "catalog", "simulate", "simulate catalyst-center", "simulate github", "simulate radkit", "simulate servicenow", "token", "help"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("commands %q, want %q", got, want)
	}
	r := run("tokn")
	if r.Code != 2 || clitest.LastLine(r.Stderr) != `gatehouse-dev: unknown command "tokn" for "gatehouse-dev"; did you mean "token"?` {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	r = run("simulate", "catalyst")
	if r.Code != 2 || !strings.HasSuffix(r.Stderr, `did you mean "catalyst-center"?`+"\n") {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}

// The token's help shows how to use what it prints.
func TestTokenHelp(t *testing.T) {
	r := run("token", "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "  export TOKEN=$(go run ./cmd/gatehouse-dev token --user sam)\n") {
		t.Fatalf("exit %d, help:\n%s", r.Code, r.Stdout)
	}
}

func TestTokenErrors(t *testing.T) {
	// An unknown user is refused before anything is asked, with the list of demo users.
	var names []string
	for _, u := range issuer.DefaultUsers() {
		names = append(names, u.Name)
	}
	oneLine(t, run("token", "--user", "bob"), `"bob"`, strings.Join(names, ", "))

	// No platform: say so, and how to start it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	oneLine(t, run("token", "--user", "sam", "--issuer", closed), "not running", closed, "go run ./cmd/gatehouse-dev")

	// Something else answers there.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	oneLine(t, run("token", "--issuer", other.URL), other.URL, "404 Not Found", "not a token")
}

func TestDevFlagErrors(t *testing.T) {
	policies := testkit.Root("policies")
	oneLine(t, run("--user", "bob", "--policies", policies), "--user", `"bob"`, "admin, nina, sam, dana")
	oneLine(t, run("--insecure-test-identity", "bob", "--policies", policies), "--insecure-test-identity", "admin, nina, sam, dana")
	oneLine(t, run("--policies", "/does/not/exist"), "/does/not/exist", "repository root")
	oneLine(t, run("--policies", policies, "--edge", "127.0.0.1:0", "--issuer", "localhost:0"), "same host")
	oneLine(t, run("--policies", policies, "--edge", "127.0.0.1:http"), "--edge", "port")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	oneLine(t, run("--policies", policies, "--edge", busy.Addr().String(), "--issuer", "127.0.0.1:0"),
		busy.Addr().String(), "already running", "--edge")
}

// With default addresses, the banner's token command is exactly the README's.
func TestTokenCommandLine(t *testing.T) {
	iss, err := issuer.New(issuer.Options{URL: "http://127.0.0.1:8090"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack.Stack{EdgeURL: "http://127.0.0.1:8080", Issuer: iss}
	if got := tokenCommandLine(s, "sam"); got != "go run ./cmd/gatehouse-dev token --user sam" {
		t.Fatalf("got %q", got)
	}
}

// dev is a running `gatehouse-dev` on free ports.
type dev struct {
	out    *ecslogtest.Buffer
	banner string
	stop   func() int
}

func startDev(t *testing.T, args ...string) *dev {
	t.Helper()
	out := &ecslogtest.Buffer{}
	var errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	// Deployments (a Temporal dev server) only where a test asks for them: --deployments.
	args = append([]string{"--edge", "127.0.0.1:0", "--issuer", "127.0.0.1:0", "--policies", testkit.Root("policies"),
		"--log-format", "json", "--deployments=false"}, args...)
	go func() { done <- Execute(ctx, args, out, &errb) }()
	stopped := false
	d := &dev{out: out, stop: func() int {
		cancel()
		if stopped {
			return 0
		}
		stopped = true
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d, stderr: %s", code, errb.String())
			}
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("gatehouse-dev did not stop")
			return -1
		}
	}}
	t.Cleanup(func() { d.stop() })
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "MCP client configuration") {
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("gatehouse-dev exited with %d before its banner; stderr: %s\n%s", code, errb.String(), out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", out.String())
		}
	}
	text := out.String()
	start := strings.Index(text, "\nGatehouse is running")
	if start < 0 {
		t.Fatalf("no banner start:\n%s", text)
	}
	d.banner = text[start:]
	return d
}

// field returns the address of the banner row labelled label.
func (d *dev) field(t *testing.T, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + `:\s+(\S+)`).FindStringSubmatch(d.banner)
	if m == nil {
		t.Fatalf("no %q in the banner:\n%s", label, d.banner)
	}
	return m[1]
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := direct.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustGet200(t *testing.T, url string) string {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	return body
}

// listTools initializes an MCP session at url with token (none: no Authorization header)
// and lists the tools.
func listTools(t *testing.T, url, token string) error {
	t.Helper()
	opts := []transport.StreamableHTTPCOption{transport.WithHTTPBasicClient(direct)}
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		return err
	}
	c := client.NewClient(tr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "gatehousedev-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	if len(res.Tools) == 0 {
		return fmt.Errorf("no tools at %s", url)
	}
	return nil
}

// The banner lists every address the platform serves, and every one of them answers: the
// edge (metadata and each server's MCP endpoint, which refuses a request without a token and
// serves one with the token from the printed command), the issuer, the authz service's gRPC
// and HTTP sides and its metrics, and each adapter's own address. No other address is in it.
func TestDevBanner(t *testing.T) {
	d := startDev(t, "--user", "dana")
	t.Logf("banner:\n%s", d.banner)
	checked := map[string]bool{} // host:port of every address checked
	hostport := func(addr string) string {
		return regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(addr)
	}

	edge := d.field(t, "edge")
	checked[hostport(edge)] = true
	mustGet200(t, edge+contract.WellKnownPRM)

	iss := d.field(t, "OIDC issuer")
	checked[hostport(iss)] = true
	var disc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(mustGet200(t, iss+"/.well-known/openid-configuration")), &disc); err != nil || disc.Issuer != iss {
		t.Errorf("discovery at %s: issuer %q, %v", iss, disc.Issuer, err)
	}

	// Adapters and authz accept only the certificate the banner names (and the edge's).
	mt := regexp.MustCompile(`(?m)^  mTLS:\s+CA (\S+), certificate (\S+), key (\S+)$`).FindStringSubmatch(d.banner)
	if mt == nil {
		t.Fatal("the banner names no mTLS certificate")
	}
	devTLS := mtlsConfig(t, mt[1], mt[2], mt[3])
	direct = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: devTLS}}
	t.Cleanup(func() { direct = http.DefaultClient })

	grpcAddr := d.field(t, "authz gRPC")
	checked[hostport(grpcAddr)] = true
	if err := checkWith(grpcAddr, insecure.NewCredentials()); err == nil {
		t.Errorf("authz at %s answered a plain-text Check", grpcAddr)
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(devTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := authv3.NewAuthorizationClient(conn).Check(ctx, testkit.CheckRequest("GET", "/healthz", "", nil, "")); err != nil {
		t.Errorf("ext_authz Check at %s: %v", grpcAddr, err)
	}

	authzHTTP := d.field(t, "authz HTTP")
	checked[hostport(authzHTTP)] = true
	mustGet200(t, authzHTTP+"/healthz")
	mustGet200(t, authzHTTP+"/readyz")
	metrics := d.field(t, "metrics")
	if metrics != authzHTTP+"/metrics" {
		t.Errorf("metrics at %s, want %s/metrics", metrics, authzHTTP)
	}
	if body := mustGet200(t, metrics); !strings.Contains(body, "gatehouse_authz_") {
		t.Errorf("no gatehouse_authz_ metrics at %s", metrics)
	}

	// The token command, run as printed.
	m := regexp.MustCompile(`(?m)^  go run \./cmd/gatehouse-dev (token .*)$`).FindStringSubmatch(d.banner)
	if m == nil {
		t.Fatalf("no token command in the banner")
	}
	tok := run(strings.Fields(m[1])...)
	if tok.Code != 0 || tok.Stderr != "" || strings.Count(tok.Stdout, ".") != 2 || strings.Count(tok.Stdout, "\n") != 1 {
		t.Fatalf("%s: %+v", m[0], tok)
	}
	token := strings.TrimSpace(tok.Stdout)
	if !strings.Contains(m[1], "--user sam") {
		t.Errorf("the token command is not for another user than dana: %s", m[0])
	}
	oneLine(t, run(append(strings.Fields(m[1]), "--server", "no-such-server")...), "refused", "--server")

	servers := regexp.MustCompile(`(?m)^    ([a-z0-9-]+)\s+(http://\S+)$`).FindAllStringSubmatch(d.banner, -1)
	adapters := regexp.MustCompile(`(?m)^\s+adapter: (https://\S+)/mcp `).FindAllStringSubmatch(d.banner, -1)
	if len(servers) == 0 || len(servers) != len(adapters) {
		t.Fatalf("servers %q, adapters %q", servers, adapters)
	}
	usable := 0
	defer func() {
		if usable == 0 {
			t.Errorf("the printed command's token lists no server's tools")
		}
	}()
	for i, s := range servers {
		name, url := s[1], s[2]
		if url != edge+contract.MCPPath(name) {
			t.Errorf("%s at %s, want the edge's %s", name, url, edge+contract.MCPPath(name))
		}
		checked[hostport(url)] = true
		mustGet200(t, edge+contract.WellKnownPRM+contract.MCPPath(name))
		mustGet200(t, authzHTTP+contract.WellKnownPRM+contract.MCPPath(name))
		if err := listTools(t, url, ""); err == nil {
			t.Errorf("%s: the edge served a request without a token", url)
		}
		// sam (service desk) may use some servers; on the others the policy's refusal must say so.
		if err := listTools(t, url, token); err == nil {
			usable++
		} else if !strings.Contains(err.Error(), `grants access to server "`+name+`"`) {
			t.Errorf("%s with the printed command's token: %v", url, err)
		}
		adapter := adapters[i][1]
		checked[hostport(adapter)] = true
		if resp, err := http.Get(adapter + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("adapter %s answered a caller without a client certificate", adapter)
		}
		mustGet200(t, adapter+"/healthz")
		mustGet200(t, adapter+"/metrics")
		if err := listTools(t, adapter+"/mcp", ""); err != nil {
			t.Errorf("adapter %s: %v", adapter, err)
		}
	}

	// The REST bridge: its OpenAPI document at the edge without a token, its own address.
	openapi := regexp.MustCompile(`(?m)^    OpenAPI: GET  (http://\S+) \(no token\)$`).FindStringSubmatch(d.banner)
	bridge := regexp.MustCompile(`(?m)^    bridge:  (https://\S+) \(direct`).FindStringSubmatch(d.banner)
	if openapi == nil || bridge == nil || openapi[1] != edge+contract.RESTOpenAPIPath {
		t.Errorf("the banner does not show the REST bridge's OpenAPI document at the edge and its address")
	} else {
		if body := mustGet200(t, openapi[1]); !strings.Contains(body, `"openapi": "3.1.0"`) {
			t.Errorf("%s is not the OpenAPI document", openapi[1])
		}
		checked[hostport(bridge[1])] = true
		mustGet200(t, bridge[1]+"/healthz")
		if body := mustGet200(t, bridge[1]+"/metrics"); !strings.Contains(body, "gatehouse_rest_") {
			t.Errorf("no gatehouse_rest_ metrics at %s", bridge[1])
		}
		// The call line names a path that the edge routes to the bridge: sam's token lists
		// catalyst-center's tools there.
		req, _ := http.NewRequest(http.MethodGet, edge+contract.RESTToolsPath("catalyst-center"), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("REST tool listing with the printed command's token: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	}

	for _, m := range regexp.MustCompile(`(?m)^\s+simulator: (http://\S+) `).FindAllStringSubmatch(d.banner, -1) {
		// A simulated upstream answers (401 without its credentials) on the listed address.
		resp, err := http.Get(m[1] + "/api/now/table/incident")
		if err != nil {
			t.Errorf("simulator %s: %v", m[1], err)
			continue
		}
		resp.Body.Close()
		checked[hostport(m[1])] = true
	}

	listed := d.banner[:strings.Index(d.banner, "MCP client configuration")]
	for _, addr := range regexp.MustCompile(`127\.0\.0\.1:\d+`).FindAllString(listed, -1) {
		if !checked[addr] {
			t.Errorf("the banner lists %s, which this test does not check", addr)
		}
	}
	if !strings.Contains(d.banner, "MCP client configuration (as dana)") {
		t.Errorf("the client configuration is not for --user dana")
	}

	if code := d.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(d.out.String(), "stopping") {
		t.Errorf("no stopping line")
	}
}

// simulate runs `gatehouse-dev simulate <name>` until the test ends, waits for its banner to
// match banner, and returns the submatches; stop ends it and checks it exits 0.
func simulate(t *testing.T, name, banner string) (m []string, stop func()) {
	t.Helper()
	out := &ecslogtest.Buffer{}
	var errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"simulate", name, "--listen", "127.0.0.1:0"}, out, &errb)
	}()
	re := regexp.MustCompile(banner)
	deadline := time.Now().Add(20 * time.Second)
	for m = re.FindStringSubmatch(out.String()); m == nil; m = re.FindStringSubmatch(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no address; stdout %q, stderr %q", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m, func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("did not stop")
		}
	}
}

// --insecure-test-identity still reaches the edge: an unauthenticated loopback client is
// served as that user, and the platform says so loudly.
func TestDevInsecureTestIdentity(t *testing.T) {
	d := startDev(t, "--insecure-test-identity", "admin")
	if !strings.Contains(d.out.String(), "INSECURE TEST IDENTITY ON") {
		t.Errorf("no warning at start:\n%s", d.out.String())
	}
	edge := d.field(t, "edge")
	if err := listTools(t, edge+"/mcp/catalyst-center", ""); err != nil {
		t.Fatalf("unauthenticated request with the test identity: %v", err)
	}
}

func TestSimulate(t *testing.T) {
	m, stop := simulate(t, "catalyst-center", `simulator on (http://\S+)`)
	req, _ := http.NewRequest(http.MethodPost, m[1]+"/dna/system/api/v1/auth/token", nil)
	req.SetBasicAuth("admin", "C1sco12345")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("login: %s", resp.Status)
	}
	stop()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	oneLine(t, run("simulate", "catalyst-center", "--listen", l.Addr().String()), "--listen", l.Addr().String())
}

// simulate servicenow serves the ServiceNow simulator: the OAuth client its help names gets
// a token, and the token reads the Table API.
func TestSimulateServiceNow(t *testing.T) {
	m, stop := simulate(t, "servicenow", `simulator on (http://\S+) \(OAuth client (\S+) / (\S+);`)
	resp, err := http.PostForm(m[1]+"/oauth_token.do", map[string][]string{"grant_type": {"client_credentials"},
		"client_id": {m[2]}, "client_secret": {m[3]}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, m[1]+"/api/now/table/incident?sysparm_limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("table read with the printed client's token: %s", resp.Status)
	}
	stop()
}

// simulate github and simulate radkit serve their simulators: the credential each banner
// prints is accepted, and a wrong one is not.
func TestSimulateGitHubAndRADKit(t *testing.T) {
	for _, c := range []struct{ name, re, path string }{
		{"github", `simulator on (http://\S+) \(token (\S+), organisation`, "/user"},
		{"radkit", `simulator on (http://\S+) \(token (\S+);`, "/v1/devices"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, stop := simulate(t, c.name, c.re)
			for tok, want := range map[string]int{m[2]: http.StatusOK, "wrong": http.StatusUnauthorized} {
				req, _ := http.NewRequest(http.MethodGet, m[1]+c.path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s with token %q: %s, want %d", c.path, tok, resp.Status, want)
				}
			}
			stop()
		})
	}
}

// With --deployments (the default outside tests) the platform runs a Temporal dev server, a
// worker and the deployments server: it is listed, and a network engineer's token lists its
// tools through the edge.
func TestDevDeployments(t *testing.T) {
	devserver.Bin(t)                        // skips without GATEHOUSE_TEMPORAL_BIN rather than building the CLI here
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // its Temporal database, not the user's
	d := startDev(t, "--deployments")
	edge := d.field(t, "edge")
	if !strings.Contains(d.banner, edge+contract.MCPPath("deployments")) {
		t.Fatalf("the banner does not list the deployments server:\n%s", d.banner)
	}
	tok := run("token", "--user", "nina", "--edge", edge, "--issuer", d.field(t, "OIDC issuer"))
	if tok.Code != 0 {
		t.Fatalf("token: %+v", tok)
	}
	if err := listTools(t, edge+contract.MCPPath("deployments"), strings.TrimSpace(tok.Stdout)); err != nil {
		t.Fatalf("deployments tools through the edge: %v", err)
	}
}

// direct is the client for addresses the banner lists; TestDevBanner gives it the printed
// mTLS certificate.
var direct = http.DefaultClient

func mtlsConfig(t *testing.T, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("%s: no CA certificate", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func checkWith(addr string, creds credentials.TransportCredentials) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = authv3.NewAuthorizationClient(conn).Check(ctx, testkit.CheckRequest("GET", "/healthz", "", nil, ""))
	return err
}

func TestCatalogCommand(t *testing.T) {
	r := run("catalog", "--file", testkit.Root("policies", "catalog.json"))
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("%+v", r)
	}
	if _, err := catalog.Parse([]byte(r.Stdout)); err != nil {
		t.Fatalf("printed catalog: %v", err)
	}
	file := filepath.Join(t.TempDir(), "catalog.json")
	if r := run("catalog", "--write", "--file", file); r.Code != 0 || r.Stdout != "" {
		t.Fatalf("%+v", r)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Parse(written); err != nil {
		t.Fatalf("written catalog: %v", err)
	}
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	oneLine(t, run("catalog", "--file", file), file)
}
