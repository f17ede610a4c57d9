// Package deploy_test checks that compose.yaml, the Kubernetes manifests, the Envoy bootstrap
// and the platform configs they carry agree with each other: service names, ports, images,
// mounts. No Docker engine or cluster runs on the development machines, so this is what
// keeps the deployment files honest.
package deploy_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

func repo(parts ...string) string { return testkit.Root(parts...) }

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func host(t *testing.T, hostport string) string {
	t.Helper()
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type composeFile struct {
	Pending  []string                  `yaml:"x-gatehouse-pending-adapters"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	Command     []string          `yaml:"command"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	Volumes     []string          `yaml:"volumes"`
	networkMode string
}

func (s composeService) serves(p string) bool {
	if slices.Contains(s.Expose, p) {
		return true
	}
	for _, m := range s.Ports {
		parts := strings.Split(m, ":")
		if parts[len(parts)-1] == p {
			return true
		}
	}
	return false
}

func (s composeService) mounts(target string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0], true
		}
	}
	return "", false
}

type bootstrap struct {
	StaticResources struct {
		Clusters []struct {
			Name           string `yaml:"name"`
			LoadAssignment struct {
				Endpoints []struct {
					LbEndpoints []struct {
						Endpoint struct {
							Address struct {
								SocketAddress struct {
									Address   string `yaml:"address"`
									PortValue int    `yaml:"port_value"`
								} `yaml:"socket_address"`
							} `yaml:"address"`
						} `yaml:"endpoint"`
					} `yaml:"lb_endpoints"`
				} `yaml:"endpoints"`
			} `yaml:"load_assignment"`
		} `yaml:"clusters"`
	} `yaml:"static_resources"`
}

// xdsAddress is where the Envoy bootstrap dials the control plane.
func xdsAddress(t *testing.T) (string, string) {
	var b bootstrap
	readYAML(t, repo("envoy", "bootstrap.yaml"), &b)
	sa := b.StaticResources.Clusters[0].LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress
	return sa.Address, strconv.Itoa(sa.PortValue)
}

func TestComposeAgreesWithItsConfig(t *testing.T) {
	c := loadCompose(t)
	cfg, err := config.Load(repo("deploy", "compose", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name string) composeService {
		t.Helper()
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("compose.yaml has no service %q", name)
		}
		return s
	}
	authz, cp, envoy := svc("authz"), svc("control-plane"), svc("envoy")

	// The gatehouse services run the image this repository builds, with the mounted config.
	for name, s := range map[string]composeService{"authz": authz, "control-plane": cp} {
		if s.Image != authz.Image || !strings.HasPrefix(s.Image, "ghcr.io/gatehouse-mcp/gatehouse:") {
			t.Errorf("%s: image %q", name, s.Image)
		}
		if len(s.Command) < 3 || s.Command[0] != name || s.Command[2] != "/etc/gatehouse/gatehouse.yaml" {
			t.Errorf("%s: command %v", name, s.Command)
		}
		if src, ok := s.mounts("/etc/gatehouse/gatehouse.yaml"); !ok || src != "./deploy/compose/gatehouse.yaml" {
			t.Errorf("%s does not mount deploy/compose/gatehouse.yaml", name)
		}
	}
	// The production image runs only production commands; simulators come from the
	// development image (the production binary has none: cmd/gatehouse/deps_test.go).
	for name, s := range c.Services {
		switch {
		case strings.HasPrefix(s.Image, "ghcr.io/gatehouse-mcp/gatehouse:"):
			if len(s.Command) == 0 || !slices.Contains([]string{"authz", "control-plane"}, s.Command[0]) {
				t.Errorf("%s runs %v on the production image, which has only authz and control-plane", name, s.Command)
			}
		case strings.HasPrefix(s.Image, "ghcr.io/gatehouse-mcp/gatehouse-dev:"):
			if len(s.Command) < 2 || s.Command[0] != "simulate" || !strings.HasSuffix(name, "-sim") {
				t.Errorf("%s runs %v on the development image; only simulators may", name, s.Command)
			}
		}
	}
	if src, ok := authz.mounts(cfg.Policy.Dir); !ok || src != "./policies" {
		t.Errorf("authz does not mount ./policies at policy.dir %s", cfg.Policy.Dir)
	}
	// Envoy reaches authz and the control plane by service name on the configured ports.
	for _, a := range []string{cfg.Edge.AuthzGRPC, cfg.Edge.AuthzHTTP} {
		if host(t, a) != "authz" || !authz.serves(port(t, a)) {
			t.Errorf("edge address %s: no such authz port in compose", a)
		}
	}
	if port(t, cfg.Edge.AuthzGRPC) != port(t, cfg.Authz.GRPCListen) || port(t, cfg.Edge.AuthzHTTP) != port(t, cfg.Authz.HTTPListen) {
		t.Error("edge.authz_* ports differ from authz.*_listen")
	}
	xh, xp := xdsAddress(t)
	if xh != "control-plane" || xp != port(t, cfg.XDS.Listen) || !cp.serves(xp) {
		t.Errorf("bootstrap dials %s:%s; control plane listens on %s", xh, xp, cfg.XDS.Listen)
	}
	// Envoy: official image, the repository's bootstrap, the public port.
	if !strings.HasPrefix(envoy.Image, "envoyproxy/envoy:") {
		t.Errorf("envoy image %q", envoy.Image)
	}
	if src, ok := envoy.mounts("/etc/envoy/bootstrap.yaml"); !ok || src != "./envoy/bootstrap.yaml" {
		t.Error("envoy does not mount envoy/bootstrap.yaml")
	}
	pub, _ := url.Parse(cfg.PublicURL)
	if !slices.Contains(envoy.Ports, pub.Port()+":"+port(t, cfg.Edge.Listen)) {
		t.Errorf("envoy publishes %v; public_url is %s and edge.listen %s", envoy.Ports, cfg.PublicURL, cfg.Edge.Listen)
	}
	// The IdP, Vault and Temporal are where the config says.
	// The issuer's reachability: TestComposeIssuerIsTheSameNameOnHostAndInContainers.
	var dex struct {
		Issuer        string `yaml:"issuer"`
		StaticClients []struct {
			ID string `yaml:"id"`
		} `yaml:"staticClients"`
		StaticPasswords []struct {
			Groups []string `yaml:"groups"`
		} `yaml:"staticPasswords"`
	}
	src, _ := svc("dex").mounts("/etc/dex/config.yaml")
	readYAML(t, repo(src), &dex)
	if dex.Issuer != cfg.OIDC.Issuer {
		t.Errorf("Dex issuer %s, config issuer %s", dex.Issuer, cfg.OIDC.Issuer)
	}
	var groups []string
	for _, p := range dex.StaticPasswords {
		groups = append(groups, p.Groups...)
	}
	for _, role := range []string{"admin", "network-engineers", "service-desk", "developers"} {
		if !slices.Contains(groups, role) {
			t.Errorf("Dex has no user in group %s", role)
		}
	}
	// Every server is a compose service on its upstream port, or an adapter still to come.
	for _, s := range cfg.Servers {
		if !slices.Contains(dexClients(dex.StaticClients), s.Audiences[0]) {
			t.Errorf("server %s accepts audience %v, which no Dex client is", s.Name, s.Audiences)
		}
		u, _ := url.Parse(s.Upstream)
		if a, ok := c.Services[u.Hostname()]; ok {
			if !a.serves(u.Port()) {
				t.Errorf("server %s: compose service %s does not serve port %s", s.Name, u.Hostname(), u.Port())
			}
			continue
		}
		if !slices.Contains(c.Pending, u.Hostname()) {
			t.Errorf("server %s: upstream %s is neither a compose service nor a pending adapter", s.Name, s.Upstream)
		}
	}
	// Each adapter service listens where its server's upstream points.
	for _, s := range cfg.Servers {
		u, _ := url.Parse(s.Upstream)
		a, ok := c.Services[u.Hostname()]
		if !ok {
			continue
		}
		if a.Environment["GATEHOUSE_LISTEN"] != "0.0.0.0:"+u.Port() {
			t.Errorf("adapter %s listens on %q, its upstream is %s", u.Hostname(), a.Environment["GATEHOUSE_LISTEN"], s.Upstream)
		}
		if !strings.HasPrefix(a.Image, "ghcr.io/gatehouse-mcp/gatehouse-adapter-"+s.Name+":") {
			t.Errorf("adapter %s runs image %s", s.Name, a.Image)
		}
		if _, secrets := a.Environment["GATEHOUSE_SECRETS"]; !secrets {
			continue // no upstream credentials (the deployments adapter talks to Temporal only)
		}
		if v, err := url.Parse(a.Environment["VAULT_ADDR"]); err != nil || !svc(v.Hostname()).serves(v.Port()) {
			t.Errorf("adapter %s reads Vault at %q, which is not the compose vault service", s.Name, a.Environment["VAULT_ADDR"])
		}
	}
	// The REST bridge calls every other server's adapter where the edge does, and holds no
	// credentials.
	for _, s := range cfg.Servers {
		u, _ := url.Parse(s.Upstream)
		if a, ok := c.Services[u.Hostname()]; ok && s.RESTBridge {
			checkBridgeUpstreams(t, "compose service "+u.Hostname(), a.Environment["GATEHOUSE_REST_UPSTREAMS"], cfg)
			for _, k := range []string{"GATEHOUSE_SECRETS", "VAULT_ADDR", "VAULT_TOKEN"} {
				if _, set := a.Environment[k]; set {
					t.Errorf("the REST bridge is given %s; it holds no credentials", k)
				}
			}
		}
	}
	for _, p := range c.Pending {
		if _, ok := c.Services[p]; ok {
			t.Errorf("%s is a compose service now: remove it from x-gatehouse-pending-adapters", p)
		}
	}
	for _, name := range []string{"vault", "temporal", "elasticsearch", "kibana", "filebeat"} {
		svc(name)
	}
}

// checkBridgeUpstreams checks a REST bridge's GATEHOUSE_REST_UPSTREAMS: every server of cfg
// but the bridge itself, each at its configured upstream.
func checkBridgeUpstreams(t *testing.T, where, value string, cfg *config.Config) {
	t.Helper()
	got := map[string]string{}
	for _, item := range strings.Split(value, ",") {
		if name, u, ok := strings.Cut(item, "="); ok {
			got[name] = u
		}
	}
	want := map[string]string{}
	for _, s := range cfg.Servers {
		if !s.RESTBridge {
			want[s.Name] = strings.TrimRight(s.Upstream, "/")
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: GATEHOUSE_REST_UPSTREAMS %q, want every server's adapter %v", where, value, want)
	}
	for name, u := range want {
		if got[name] != u {
			t.Errorf("%s: GATEHOUSE_REST_UPSTREAMS has %s=%q, the config's upstream is %s", where, name, got[name], u)
		}
	}
}

func dexClients(cs []struct {
	ID string `yaml:"id"`
}) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestKubernetesAgreesWithItsConfig checks the objects kustomize builds (typed, strictly
// decoded: kubernetes_test.go) against the platform config, compose and the repository.
func TestKubernetesAgreesWithItsConfig(t *testing.T) {
	dir := repo("deploy", "kubernetes")
	m := build(t, dir)
	var kust struct {
		Images []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kust)
	kustImage := func(name string) bool {
		for _, i := range kust.Images {
			if i.Name == name {
				return true
			}
		}
		return false
	}
	cfg, err := config.Load(filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svcPort := func(svc string, p string) bool {
		s, ok := m.services[svc]
		if !ok {
			return false
		}
		for _, sp := range s.Spec.Ports {
			if strconv.Itoa(int(sp.Port)) == p {
				return true
			}
		}
		return false
	}
	for _, a := range []string{cfg.Edge.AuthzGRPC, cfg.Edge.AuthzHTTP} {
		if !svcPort(host(t, a), port(t, a)) {
			t.Errorf("edge address %s has no matching Service port", a)
		}
	}
	xh, xp := xdsAddress(t)
	if !svcPort(xh, xp) || xp != port(t, cfg.XDS.Listen) {
		t.Errorf("bootstrap dials %s:%s, which is not the control plane Service", xh, xp)
	}
	containerPorts := func(dep string) []string {
		var ps []string
		d, ok := m.deployments[dep]
		if !ok {
			return nil
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				ps = append(ps, strconv.Itoa(int(p.ContainerPort)))
			}
		}
		return ps
	}
	for dep, addrs := range map[string][]string{
		"authz":         {cfg.Authz.GRPCListen, cfg.Authz.HTTPListen},
		"control-plane": {cfg.XDS.Listen, cfg.XDS.HTTPListen},
		"envoy":         {cfg.Edge.Listen},
	} {
		for _, a := range addrs {
			if !slices.Contains(containerPorts(dep), port(t, a)) {
				t.Errorf("Deployment %s does not expose %s", dep, a)
			}
		}
	}
	c := loadCompose(t)
	// Every server's upstream is a Service on its port, or an adapter still to come.
	for _, s := range cfg.Servers {
		u, _ := url.Parse(s.Upstream)
		if _, ok := m.services[u.Hostname()]; ok {
			if !svcPort(u.Hostname(), u.Port()) {
				t.Errorf("server %s: Service %s has no port %s", s.Name, u.Hostname(), u.Port())
			}
		} else if !slices.Contains(c.Pending, u.Hostname()) {
			t.Errorf("server %s: upstream %s is neither a Service nor a pending adapter", s.Name, s.Upstream)
		}
	}
	// Images: the same as compose runs, each with a kustomize images entry and a main to
	// build it from. (Kustomize has applied the tags; compare names.)
	imageName := func(ref string) string { return strings.Split(ref, ":")[0] }
	for name, d := range m.deployments {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			img := imageName(ctr.Image)
			switch {
			case img == "ghcr.io/gatehouse-mcp/gatehouse":
				if imageName(c.Services["authz"].Image) != img || kust.Images[0].Name != img {
					t.Errorf("Deployment %s: image %s differs from compose and the kustomize image", name, ctr.Image)
				}
			case strings.HasPrefix(img, "ghcr.io/gatehouse-mcp/gatehouse-adapter-"):
				adapter := strings.TrimPrefix(img, "ghcr.io/gatehouse-mcp/gatehouse-adapter-")
				if name != adapter || imageName(c.Services[adapter].Image) != img {
					t.Errorf("Deployment %s: adapter image %s does not match its Deployment name or compose", name, ctr.Image)
				}
				if !kustImage(img) {
					t.Errorf("Deployment %s: no kustomize images entry for %s", name, img)
				}
				if _, err := os.Stat(repo("cmd", "gatehouse-adapter-"+adapter)); err != nil {
					t.Errorf("Deployment %s: no cmd/gatehouse-adapter-%s to build the image from", name, adapter)
				}
				if s, ok := cfg.Server(adapter); ok && s.RESTBridge {
					env := envOf(d)
					checkBridgeUpstreams(t, "Deployment "+name, env["GATEHOUSE_REST_UPSTREAMS"], cfg)
					if _, set := env["VAULT_ADDR"]; set {
						t.Errorf("Deployment %s: the REST bridge is given Vault; it holds no credentials", name)
					}
				}
			case img == "ghcr.io/gatehouse-mcp/gatehouse-worker":
				if name != "worker" || imageName(c.Services["worker"].Image) != img {
					t.Errorf("Deployment %s: the worker image %s does not match compose's worker", name, ctr.Image)
				}
				if !kustImage(img) {
					t.Errorf("Deployment %s: no kustomize images entry for %s", name, img)
				}
			case strings.HasPrefix(ctr.Image, "envoyproxy/envoy:"):
				if ctr.Image != c.Services["envoy"].Image {
					t.Errorf("Deployment %s: Envoy %s, compose runs %s", name, ctr.Image, c.Services["envoy"].Image)
				}
			default:
				t.Errorf("Deployment %s: unexpected image %s", name, ctr.Image)
			}
		}
	}
}

// Images run as a numeric non-root user, which kubelet and compose can check (a named user such
// as distroless's "nonroot" makes runAsNonRoot pods fail to start).
func TestImagesRunAsNumericUsers(t *testing.T) {
	for _, f := range []string{"Dockerfile", "adapters/Dockerfile"} {
		b, err := os.ReadFile(repo(f))
		if err != nil {
			t.Fatal(err)
		}
		stages, users := 0, 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "FROM gcr.io/distroless/") {
				stages++
			}
			if u, ok := strings.CutPrefix(line, "USER "); ok {
				users++
				if !regexp.MustCompile(`^[1-9][0-9]*:[0-9]+$`).MatchString(strings.TrimSpace(u)) {
					t.Errorf("%s: USER %s is not numeric uid:gid", f, u)
				}
			}
		}
		if users != stages {
			t.Errorf("%s: %d runtime stages, %d USER lines", f, stages, users)
		}
	}
}
