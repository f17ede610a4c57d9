package deploy_test

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// endpoint is one end of a connection: a pod (namespace, labels, declared ports, an address
// in the pod network) or an address outside the cluster (ns empty).
type endpoint struct {
	name   string
	ns     string
	labels map[string]string
	spec   corev1.PodSpec
	ip     net.IP
}

// netpolSet evaluates NetworkPolicies the way the API defines them: a pod selected by no
// policy of a direction is open in that direction; a selected pod admits only what some
// selecting policy's rule allows; a connection needs both the source's egress and the
// destination's ingress. ipBlocks are taken to match pod addresses too (CNIs differ; the
// worst case is the one to prove safe).
type netpolSet []*networkingv1.NetworkPolicy

func (s netpolSet) allowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return s.side(src, dst, dst, port, proto, networkingv1.PolicyTypeEgress) &&
		s.side(dst, src, dst, port, proto, networkingv1.PolicyTypeIngress)
}

// side checks one direction for pod self talking to peer; target is the destination (whose
// named ports a rule's port names refer to).
func (s netpolSet) side(self, peer, target endpoint, port int32, proto corev1.Protocol, dir networkingv1.PolicyType) bool {
	if self.ns == "" {
		return true // outside the cluster: no policy applies
	}
	selected := false
	for _, np := range s {
		if np.Namespace != self.ns || !slices.Contains(np.Spec.PolicyTypes, dir) || !matches(&np.Spec.PodSelector, self.labels) {
			continue
		}
		selected = true
		if dir == networkingv1.PolicyTypeEgress {
			for _, r := range np.Spec.Egress {
				if peersMatch(np.Namespace, r.To, peer) && portsMatch(r.Ports, target, port, proto) {
					return true
				}
			}
		} else {
			for _, r := range np.Spec.Ingress {
				if peersMatch(np.Namespace, r.From, peer) && portsMatch(r.Ports, target, port, proto) {
					return true
				}
			}
		}
	}
	return !selected
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

func peersMatch(policyNS string, peers []networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			_, cidr, err := net.ParseCIDR(p.IPBlock.CIDR)
			if err != nil || !cidr.Contains(e.ip) {
				continue
			}
			excluded := slices.ContainsFunc(p.IPBlock.Except, func(x string) bool {
				_, ex, err := net.ParseCIDR(x)
				return err == nil && ex.Contains(e.ip)
			})
			if !excluded {
				return true
			}
			continue
		}
		if e.ns == "" {
			continue // selectors match pods only
		}
		nsOK := e.ns == policyNS
		if p.NamespaceSelector != nil {
			nsOK = matches(p.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": e.ns})
		}
		if nsOK && (p.PodSelector == nil || matches(p.PodSelector, e.labels)) {
			return true
		}
	}
	return false
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, target endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int:
			end := p.Port.IntVal
			if p.EndPort != nil {
				end = *p.EndPort
			}
			if port >= p.Port.IntVal && port <= end {
				return true
			}
		default: // a named port of the destination pod
			if cp, ok := containerPort(target.spec, *p.Port, proto); ok && cp == port {
				return true
			}
		}
	}
	return false
}

func podOf(d *appsv1.Deployment, n int) endpoint {
	return endpoint{name: d.Name, ns: d.Namespace, labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, ip: net.IPv4(10, 244, 0, byte(n))}
}

func envOf(d *appsv1.Deployment) map[string]string {
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
	}
	return env
}

// The NetworkPolicies let every path the design needs through and stop the paths an attacker
// in the cluster (or the internet) would take, in particular straight to an adapter.
func TestNetworkPoliciesAllowOnlyTheDesignedPaths(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pols := netpolSet(m.netpols)
	if !slices.ContainsFunc(m.netpols, func(np *networkingv1.NetworkPolicy) bool {
		return len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}) {
		t.Error("no default-deny NetworkPolicy (every pod, ingress and egress, no rule)")
	}

	pods := map[string]endpoint{}
	i := 1
	for name, d := range m.deployments {
		pods[name] = podOf(d, i)
		i++
	}
	tcpPort := func(name string, port int) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: name, ContainerPort: int32(port)}}}}}
	}
	vault := endpoint{name: "vault", ns: "vault", labels: map[string]string{"app.kubernetes.io/name": "vault"}, spec: tcpPort("http", 8200), ip: net.IPv4(10, 244, 1, 1)}
	temporal := endpoint{name: "temporal", ns: "temporal", labels: map[string]string{"app.kubernetes.io/name": "temporal-frontend"}, spec: tcpPort("grpc", 7233), ip: net.IPv4(10, 244, 1, 2)}
	dns := endpoint{name: "kube-dns", ns: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}, ip: net.IPv4(10, 244, 1, 3),
		spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}}}}
	internet := endpoint{name: "internet", ip: net.IPv4(203, 0, 113, 10)}
	upstream := endpoint{name: "an upstream on the internet", ip: net.IPv4(198, 51, 100, 7)}
	attackers := []endpoint{
		{name: "a debug pod in the gatehouse namespace", ns: "gatehouse", labels: map[string]string{"run": "debug"}, ip: net.IPv4(10, 244, 2, 1)},
		{name: "a pod in another namespace", ns: "default", labels: map[string]string{"app.kubernetes.io/name": "envoy"}, ip: net.IPv4(10, 244, 2, 2)},
	}

	type flow struct {
		src, dst endpoint
		port     int32
		proto    corev1.Protocol
	}
	var must, mustNot []flow
	tcp := func(src, dst endpoint, port int32) flow { return flow{src, dst, port, corev1.ProtocolTCP} }
	portOf := func(addr string) int32 {
		p, _ := strconv.Atoi(port(t, addr))
		return int32(p)
	}
	envoy, authz, cp := pods["envoy"], pods["authz"], pods["control-plane"]
	must = append(must,
		tcp(internet, envoy, portOf(cfg.Edge.Listen)),
		tcp(internet, envoy, portOf(cfg.Edge.TLS.RedirectListen)),
		tcp(envoy, cp, portOf(cfg.XDS.Listen)),
		tcp(envoy, authz, portOf(cfg.Authz.GRPCListen)),
		tcp(envoy, authz, portOf(cfg.Authz.HTTPListen)),
		tcp(authz, upstream, 443), // the IdP's discovery document and JWKS
	)
	mustNot = append(mustNot,
		tcp(internet, authz, portOf(cfg.Authz.GRPCListen)),
		tcp(envoy, upstream, 443),
		tcp(cp, upstream, 443),
		tcp(authz, vault, 8200),
	)
	for _, p := range pods {
		must = append(must, flow{p, dns, 53, corev1.ProtocolUDP})
	}
	// Each server: reached from the edge only (and the REST bridge), reaching only what its
	// environment says it uses.
	var servers []endpoint
	serverPort := map[string]int32{}
	for _, s := range cfg.Servers {
		u, _ := url.Parse(s.Upstream)
		p, _ := strconv.Atoi(u.Port())
		d, cport, err := serviceBackend(m, u.Hostname(), p)
		if err != nil {
			t.Fatal(err)
		}
		pod := pods[d.Name]
		servers = append(servers, pod)
		serverPort[pod.name] = cport
		must = append(must, tcp(envoy, pod, cport))
		mustNot = append(mustNot, tcp(authz, pod, cport), tcp(cp, pod, cport), tcp(internet, pod, cport))
		for _, a := range attackers {
			mustNot = append(mustNot, tcp(a, pod, cport))
		}
		env := envOf(d)
		if s.RESTBridge {
			for _, other := range cfg.Servers {
				ou, _ := url.Parse(other.Upstream)
				op, _ := strconv.Atoi(ou.Port())
				if od, ocp, err := serviceBackend(m, ou.Hostname(), op); err == nil && od.Name != d.Name {
					must = append(must, tcp(pod, pods[od.Name], ocp))
				}
			}
		} else {
			mustNot = append(mustNot, tcp(pods["rest-bridge"], authz, portOf(cfg.Authz.GRPCListen)))
		}
		for k, v := range env {
			if strings.HasSuffix(k, "_URL") && strings.HasPrefix(v, "https://") {
				must = append(must, tcp(pod, upstream, 443))
			}
		}
		if _, ok := env["VAULT_ADDR"]; ok {
			must = append(must, tcp(pod, vault, 8200))
		} else {
			mustNot = append(mustNot, tcp(pod, vault, 8200))
		}
		if _, ok := env["TEMPORAL_ADDRESS"]; ok {
			must = append(must, tcp(pod, temporal, 7233))
		} else {
			mustNot = append(mustNot, tcp(pod, temporal, 7233))
		}
		mustNot = append(mustNot, tcp(pod, authz, portOf(cfg.Authz.GRPCListen)), tcp(pod, cp, portOf(cfg.XDS.Listen)))
	}
	// Adapters do not call each other (only the REST bridge calls them).
	for _, a := range servers {
		for _, b := range servers {
			if a.name != b.name && a.name != "rest-bridge" {
				mustNot = append(mustNot, tcp(a, b, serverPort[b.name]))
			}
		}
	}
	worker := pods["worker"]
	must = append(must, tcp(worker, temporal, 7233), tcp(worker, vault, 8200), tcp(worker, upstream, 443))
	// Prometheus scrapes every Gatehouse pod's plain-HTTP port (metrics, probes) and nothing
	// else; the adapters' health port is closed to everyone else.
	prometheus := endpoint{name: "prometheus", ns: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, ip: net.IPv4(10, 244, 3, 1)}
	for name, p := range pods {
		hp, ok := containerPort(m.deployments[name].Spec.Template.Spec, intstr.FromString("http"), corev1.ProtocolTCP)
		if !ok {
			t.Errorf("%s has no plain-HTTP port named http for probes and Prometheus", name)
			continue
		}
		must = append(must, tcp(prometheus, p, hp))
		if cport, isServer := serverPort[name]; isServer {
			mustNot = append(mustNot, tcp(prometheus, p, cport), tcp(envoy, p, hp))
			for _, a := range attackers {
				mustNot = append(mustNot, tcp(a, p, hp))
			}
		}
	}
	mustNot = append(mustNot, tcp(prometheus, authz, portOf(cfg.Authz.GRPCListen)), tcp(prometheus, cp, portOf(cfg.XDS.Listen)))
	for _, a := range attackers {
		mustNot = append(mustNot, tcp(a, authz, portOf(cfg.Authz.GRPCListen)), tcp(a, cp, portOf(cfg.XDS.Listen)), tcp(a, worker, 8080))
	}

	for _, f := range must {
		if !pols.allowed(f.src, f.dst, f.port, f.proto) {
			t.Errorf("%s → %s:%d/%s is needed and the NetworkPolicies block it", f.src.name, f.dst.name, f.port, f.proto)
		}
	}
	for _, f := range mustNot {
		if pols.allowed(f.src, f.dst, f.port, f.proto) {
			t.Errorf("%s → %s:%d/%s is allowed; nothing needs it", f.src.name, f.dst.name, f.port, f.proto)
		}
	}
	if len(must) < 20 || len(mustNot) < 40 {
		t.Fatalf("only %d required and %d refused paths were derived from the manifests", len(must), len(mustNot))
	}
}

// Without the policies every path is open: the evaluator itself is not what refuses.
func TestNetworkPolicyEvaluatorOpensWithoutPolicies(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	attacker := endpoint{name: "debug", ns: "gatehouse", labels: map[string]string{"run": "debug"}, ip: net.IPv4(10, 244, 2, 1)}
	adapter := podOf(m.deployments["github"], 1)
	_, cport, err := serviceBackend(m, "github", 8443)
	if err != nil {
		t.Fatal(err)
	}
	if !(netpolSet{}).allowed(attacker, adapter, cport, corev1.ProtocolTCP) {
		t.Fatal("no policies, yet the path is refused")
	}
	if netpolSet(m.netpols).allowed(attacker, adapter, cport, corev1.ProtocolTCP) {
		t.Fatal("the manifests' policies let a debug pod reach the github adapter")
	}
}
