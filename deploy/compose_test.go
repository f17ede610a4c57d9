package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// loadComposeProject loads a compose file the way `docker compose config` does: schema
// validation, interpolation, normalization and the consistency checks (every depends_on,
// network_mode service:, volume and network refers to something that exists).
func loadComposeProject(t *testing.T, path string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)), cli.WithName("gatehouse"), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go refuses %s: %v", path, err)
	}
	return p
}

// loadCompose is compose.yaml as compose-go reads it, in the shape the agreement checks use.
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	p := loadComposeProject(t, repo("compose.yaml"))
	c := composeFile{Services: map[string]composeService{}}
	if pending, ok := p.Extensions["x-gatehouse-pending-adapters"].([]any); ok {
		for _, a := range pending {
			c.Pending = append(c.Pending, fmt.Sprint(a))
		}
	}
	for name, s := range p.Services {
		cs := composeService{Image: s.Image, Command: s.Command, Expose: s.Expose, Environment: map[string]string{}}
		for k, v := range s.Environment {
			if v != nil {
				cs.Environment[k] = *v
			}
		}
		for _, pc := range s.Ports {
			cs.Ports = append(cs.Ports, pc.Published+":"+strconv.Itoa(int(pc.Target)))
		}
		for _, v := range s.Volumes {
			src := v.Source
			if rel, err := filepath.Rel(repo(), src); err == nil && filepath.IsAbs(src) && !strings.HasPrefix(rel, "..") {
				src = "./" + filepath.ToSlash(rel)
			}
			cs.Volumes = append(cs.Volumes, src+":"+v.Target)
		}
		cs.networkMode = s.NetworkMode
		c.Services[name] = cs
	}
	return c
}

// The loader must be able to refuse: a network_mode naming no service is an error, as it is
// for `docker compose up`.
func TestComposeLoaderRefusesAnInconsistentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte("services:\n  dex:\n    image: x\n    network_mode: \"service:authz\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{path}, cli.WithWorkingDirectory(filepath.Dir(path)), cli.WithName("x"), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil {
		t.Fatal("a network_mode naming a missing service loaded")
	}
}

// netns is the service whose network namespace s runs in.
func netns(c composeFile, name string) string {
	if target, ok := strings.CutPrefix(c.Services[name].networkMode, "service:"); ok {
		return target
	}
	return name
}

type dexConfig struct {
	Issuer string `yaml:"issuer"`
	Web    struct {
		HTTP string `yaml:"http"`
	} `yaml:"web"`
	StaticClients []struct {
		ID           string   `yaml:"id"`
		Secret       string   `yaml:"secret"`
		Public       bool     `yaml:"public"`
		RedirectURIs []string `yaml:"redirectURIs"`
	} `yaml:"staticClients"`
	StaticPasswords []struct {
		Email  string   `yaml:"email"`
		Groups []string `yaml:"groups"`
	} `yaml:"staticPasswords"`
}

func composeDex(t *testing.T, c composeFile) (string, dexConfig) {
	t.Helper()
	for name, s := range c.Services {
		if src, ok := s.mounts("/etc/dex/config.yaml"); ok {
			var d dexConfig
			readYAML(t, repo(src), &d)
			return name, d
		}
	}
	t.Fatal("no compose service mounts a Dex config")
	return "", dexConfig{}
}

// A token a client gets on the host must carry the issuer authz discovers, and both must reach
// Dex by that name: the issuer is a loopback name, published on the host by the service whose
// network namespace Dex and authz share.
func TestComposeIssuerIsTheSameNameOnHostAndInContainers(t *testing.T) {
	c := loadCompose(t)
	cfg, err := config.Load(repo("deploy", "compose", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := url.Parse(cfg.OIDC.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	host, p := iss.Hostname(), iss.Port()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("issuer %s: %s does not name the host's loopback, so a client on the host cannot reach it", cfg.OIDC.Issuer, host)
	}
	dexSvc, dex := composeDex(t, c)
	if dex.Issuer != cfg.OIDC.Issuer {
		t.Errorf("Dex advertises %s, authz expects %s", dex.Issuer, cfg.OIDC.Issuer)
	}
	if _, dp, err := net.SplitHostPort(dex.Web.HTTP); err != nil || dp != p {
		t.Errorf("Dex listens on %q, the issuer's port is %s", dex.Web.HTTP, p)
	}
	// From the host: the namespace Dex runs in publishes the issuer's port as itself.
	ns := netns(c, dexSvc)
	if !slices.Contains(c.Services[ns].Ports, p+":"+p) {
		t.Errorf("Dex runs in %s's network namespace, which publishes %v, not %s:%s", ns, c.Services[ns].Ports, p, p)
	}
	// From the containers that verify tokens: the same namespace, so localhost is Dex.
	verifiers := 0
	for name, s := range c.Services {
		if len(s.Command) > 0 && s.Command[0] == "authz" {
			verifiers++
			if netns(c, name) != ns {
				t.Errorf("%s verifies tokens but runs in %s's network namespace, not Dex's (%s): %s is not Dex there", name, netns(c, name), ns, cfg.OIDC.Issuer)
			}
		}
	}
	if verifiers == 0 {
		t.Error("no compose service runs authz")
	}
}

// An MCP client can log in: Dex has a public client (no secret; Dex then accepts any loopback
// redirect, RFC 8252, and PKCE is how a public client proves it started the flow), and every
// server accepts that client's tokens.
func TestComposeDexHasAPublicClientForMCPClients(t *testing.T) {
	c := loadCompose(t)
	cfg, err := config.Load(repo("deploy", "compose", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, dex := composeDex(t, c)
	var public []string
	for _, cl := range dex.StaticClients {
		if !cl.Public {
			continue
		}
		if cl.Secret != "" {
			t.Errorf("public client %s has a secret an MCP client could not keep", cl.ID)
		}
		// Dex (server/oauth2.go validateRedirectURI): a public client with no redirectURIs
		// accepts any http loopback redirect; listed ones must then be loopback themselves.
		for _, r := range cl.RedirectURIs {
			u, err := url.Parse(r)
			if ip := net.ParseIP(u.Hostname()); err != nil || (u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback())) {
				t.Errorf("public client %s redirects to %s, not loopback", cl.ID, r)
			}
		}
		public = append(public, cl.ID)
	}
	if len(public) == 0 {
		t.Fatal("Dex has no public client for MCP clients")
	}
	for _, s := range cfg.Servers {
		if !slices.ContainsFunc(public, func(id string) bool { return slices.Contains(s.Audiences, id) }) {
			t.Errorf("server %s accepts audiences %v, none a public client's: an MCP client's token is refused", s.Name, s.Audiences)
		}
	}
}

// The token command in docs/operations.md works against compose's Dex: its token endpoint, a
// client and secret Dex has, a user Dex has.
func TestComposeTokenCommandIsDocumented(t *testing.T) {
	c := loadCompose(t)
	_, dex := composeDex(t, c)
	b, err := os.ReadFile(repo("docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.Contains(doc, dex.Issuer+"/token") {
		t.Errorf("docs/operations.md has no token command against %s/token", dex.Issuer)
	}
	okClient := slices.ContainsFunc(dex.StaticClients, func(cl struct {
		ID           string   `yaml:"id"`
		Secret       string   `yaml:"secret"`
		Public       bool     `yaml:"public"`
		RedirectURIs []string `yaml:"redirectURIs"`
	}) bool {
		return !cl.Public && strings.Contains(doc, "-u "+cl.ID+":"+cl.Secret)
	})
	if !okClient {
		t.Error("the documented token command uses no client id:secret Dex has")
	}
	// Dex's password database logs users in by email.
	okUser := slices.ContainsFunc(dex.StaticPasswords, func(u struct {
		Email  string   `yaml:"email"`
		Groups []string `yaml:"groups"`
	}) bool {
		return strings.Contains(doc, "username="+u.Email+" ")
	})
	if !okUser {
		t.Error("the documented token command logs in as no user Dex has")
	}
}

// The root gatehouse.yaml is for running Gatehouse by hand against a local Dex, and says so:
// its issuer is compose's Dex, the Dex command in its comments serves that issuer with a
// client Dex has, and every server accepts Dex's tokens (Dex's client ids as audiences, no
// at_hash refusal), as its comments say.
func TestRootConfigAgreesWithItsComments(t *testing.T) {
	b, err := os.ReadFile(repo("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	cfg, err := config.Load(repo("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, dex := composeDex(t, loadCompose(t))
	if cfg.OIDC.Issuer != dex.Issuer {
		t.Errorf("gatehouse.yaml's issuer %s is not compose's Dex (%s)", cfg.OIDC.Issuer, dex.Issuer)
	}
	if !strings.Contains(text, "-issuer "+cfg.OIDC.Issuer+" ") {
		t.Errorf("the Dex command in gatehouse.yaml's comments does not serve %s", cfg.OIDC.Issuer)
	}
	var ids []string
	for _, cl := range dex.StaticClients {
		ids = append(ids, cl.ID)
		if !cl.Public && !strings.Contains(text, "-client-id "+cl.ID+" -client-secret "+cl.Secret) {
			t.Errorf("the Dex command in gatehouse.yaml's comments does not run client %s as compose's Dex has it", cl.ID)
		}
	}
	if cfg.OIDC.IDTokenClaims == nil || len(*cfg.OIDC.IDTokenClaims) != 0 {
		t.Error("oidc.id_token_claims is not []: Dex's access tokens (with at_hash) would be refused")
	}
	for _, s := range cfg.Servers {
		if len(s.Audiences) == 0 || !slices.ContainsFunc(s.Audiences, func(a string) bool { return slices.Contains(ids, a) }) {
			t.Errorf("server %s accepts %v; Dex's tokens carry a client id %v", s.Name, s.Audiences, ids)
		}
	}
}
