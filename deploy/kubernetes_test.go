package deploy_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/rs/zerolog"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/xds"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/policy"
)

// These tests prove the Kubernetes manifests with the code a cluster would run on them: the
// kustomize build kubectl uses, the API types' strict decoding (an unknown or misplaced field
// fails, as `kubectl apply --validate=strict` would), and the Pod Security admission
// evaluator. No cluster runs on the development machines.

// strictDecoder decodes the kinds the manifests use; any other kind, or any field the API type
// does not have, is an error.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// manifests is one kustomize build, decoded.
type manifests struct {
	namespaces  []*corev1.Namespace
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	netpols     []*networkingv1.NetworkPolicy
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	configMaps  map[string]*corev1.ConfigMap
}

// build runs kustomize on dir exactly as `kubectl kustomize --load-restrictor
// LoadRestrictionsNone` does and decodes every object strictly.
func build(t *testing.T, dir string) *manifests {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone // policies and the bootstrap live outside
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	dec := strictDecoder(t)
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		configMaps:  map[string]*corev1.ConfigMap{},
	}
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s %s/%s does not decode strictly: %v", dir, r.GetKind(), r.GetName(), err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			m.namespaces = append(m.namespaces, o)
		case *appsv1.Deployment:
			m.deployments[o.Name] = o
		case *corev1.Service:
			m.services[o.Name] = o
		case *networkingv1.NetworkPolicy:
			m.netpols = append(m.netpols, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas = append(m.hpas, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.ServiceAccount:
		default:
			t.Errorf("%s: unexpected kind %s", dir, r.GetKind())
		}
	}
	return m
}

// overlays are every kustomization under deploy: the base (deploy/kubernetes) and every
// overlay next to it (deploy/kubernetes-*; kustomize refuses an overlay inside its base).
func overlays(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(repo("deploy"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return err
	})
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no kustomization under deploy/kubernetes: %v", err)
	}
	return dirs
}

// The strict decoder is what makes "decodes" mean something: a misspelled field must fail.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	_, _, err := strictDecoder(t).Decode([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: x
          image: x
          securityContext: {readOnlyRootFileSystem: true}
`), nil, nil)
	if err == nil || !runtime.IsStrictDecodingError(err) {
		t.Fatalf("a misspelled field decoded: %v", err)
	}
}

func TestKubernetesOverlaysBuildAndPassRestricted(t *testing.T) {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, dir := range overlays(t) {
		m := build(t, dir)
		if len(m.deployments) == 0 {
			t.Fatalf("%s builds no Deployment", dir)
		}
		for _, ns := range m.namespaces {
			if ns.Labels[psaapi.EnforceLevelLabel] != string(psaapi.LevelRestricted) {
				t.Errorf("namespace %s does not enforce the restricted profile", ns.Name)
			}
		}
		for name, d := range m.deployments {
			tpl := d.Spec.Template
			for _, r := range eval.EvaluatePod(restricted, &tpl.ObjectMeta, &tpl.Spec) {
				if !r.Allowed {
					t.Errorf("Deployment %s is refused by Pod Security %q: %s (%s)", name, restricted.Level, r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
			// Beyond "restricted": a numeric user kubelet can verify, and nothing writable
			// but declared volumes.
			if sc := tpl.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("Deployment %s: no numeric, non-zero runAsUser", name)
			}
			for _, c := range tpl.Spec.Containers {
				if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("Deployment %s container %s: writable root filesystem", name, c.Name)
				}
			}
		}
	}
}

// The evaluator must be able to refuse: a pod that keeps its capabilities is not restricted.
func TestRestrictedProfileRefusesAPrivilegedPod(t *testing.T) {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, repo("deploy", "kubernetes"))
	tpl := m.deployments["authz"].Spec.Template.DeepCopy()
	tpl.Spec.Containers[0].SecurityContext.Capabilities = nil
	res := psapolicy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &tpl.ObjectMeta, &tpl.Spec))
	if res.Allowed || !strings.Contains(res.ForbiddenReason(), "capabilities") {
		t.Fatalf("a pod without drop: [ALL] passed: %+v", res)
	}
}

// podSelected reports whether sel (in namespace ns) selects the Deployment's pods.
func podSelected(sel *metav1.LabelSelector, d *appsv1.Deployment) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(d.Spec.Template.Labels))
}

// containerPort resolves a port reference (a number or a name) against a pod's containers.
func containerPort(spec corev1.PodSpec, p intstr.IntOrString, proto corev1.Protocol) (int32, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, c := range spec.Containers {
		for _, cp := range c.Ports {
			cpProto := cp.Protocol
			if cpProto == "" {
				cpProto = corev1.ProtocolTCP
			}
			if cpProto != proto {
				continue
			}
			if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// serviceBackend is the Deployment a Service selects and the container port its port number
// reaches.
func serviceBackend(m *manifests, svc string, port int) (*appsv1.Deployment, int32, error) {
	s, ok := m.services[svc]
	if !ok {
		return nil, 0, fmt.Errorf("no Service %s", svc)
	}
	var target *corev1.ServicePort
	for i, sp := range s.Spec.Ports {
		if int(sp.Port) == port {
			target = &s.Spec.Ports[i]
		}
	}
	if target == nil {
		return nil, 0, fmt.Errorf("Service %s has no port %d", svc, port)
	}
	for _, d := range m.deployments {
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) && d.Namespace == s.Namespace {
			tp := target.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(target.Port)
			}
			if cp, ok := containerPort(d.Spec.Template.Spec, tp, target.Protocol); ok {
				return d, cp, nil
			}
			return nil, 0, fmt.Errorf("Service %s port %d targets %s, which Deployment %s does not declare", svc, port, tp.String(), d.Name)
		}
	}
	return nil, 0, fmt.Errorf("Service %s selects no Deployment's pods", svc)
}

func TestKubernetesCrossChecks(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every Service selects pods that declare its target ports.
	for name, s := range m.services {
		for _, sp := range s.Spec.Ports {
			if _, _, err := serviceBackend(m, name, int(sp.Port)); err != nil {
				t.Error(err)
			}
		}
	}
	// Every probe hits a port its container declares.
	for name, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
				if p == nil {
					continue
				}
				var port intstr.IntOrString
				switch {
				case p.HTTPGet != nil:
					port = p.HTTPGet.Port
				case p.TCPSocket != nil:
					port = p.TCPSocket.Port
				case p.GRPC != nil:
					port = intstr.FromInt32(p.GRPC.Port)
				default:
					continue
				}
				if _, ok := containerPort(corev1.PodSpec{Containers: []corev1.Container{c}}, port, corev1.ProtocolTCP); !ok {
					t.Errorf("Deployment %s container %s: %s probe on port %s, which the container does not declare", name, c.Name, kind, port.String())
				}
			}
		}
	}
	// Every server in the config: a Service where its upstream points, a Deployment behind it,
	// a NetworkPolicy of its own, an autoscaler and a disruption budget.
	scaled := func(d *appsv1.Deployment) bool {
		return slices.ContainsFunc(m.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
			return h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name && h.Spec.MinReplicas != nil && *h.Spec.MinReplicas >= 2
		})
	}
	budgeted := func(d *appsv1.Deployment) bool {
		return slices.ContainsFunc(m.pdbs, func(p *policyv1.PodDisruptionBudget) bool { return podSelected(p.Spec.Selector, d) })
	}
	ownPolicy := func(d *appsv1.Deployment) bool {
		return slices.ContainsFunc(m.netpols, func(np *networkingv1.NetworkPolicy) bool {
			return len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 && podSelected(&np.Spec.PodSelector, d)
		})
	}
	for _, s := range cfg.Servers {
		u, _ := url.Parse(s.Upstream)
		p, _ := strconv.Atoi(u.Port())
		d, _, err := serviceBackend(m, u.Hostname(), p)
		if err != nil {
			t.Errorf("server %s (upstream %s): %v", s.Name, s.Upstream, err)
			continue
		}
		if !ownPolicy(d) {
			t.Errorf("server %s: no NetworkPolicy selects Deployment %s", s.Name, d.Name)
		}
		if !scaled(d) {
			t.Errorf("server %s: no HorizontalPodAutoscaler (minReplicas >= 2) for Deployment %s", s.Name, d.Name)
		}
	}
	if !scaled(m.deployments["authz"]) {
		t.Error("no HorizontalPodAutoscaler (minReplicas >= 2) for authz")
	}
	for name, d := range m.deployments {
		if !budgeted(d) {
			t.Errorf("Deployment %s has no PodDisruptionBudget", name)
		}
		if !ownPolicy(d) {
			t.Errorf("Deployment %s has no NetworkPolicy of its own", name)
		}
		if slices.ContainsFunc(m.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return h.Spec.ScaleTargetRef.Name == name }) {
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
					t.Errorf("Deployment %s is autoscaled on CPU utilization, but container %s requests no CPU", name, c.Name)
				}
			}
		}
	}
	// Authz load is spread: the Service is headless, so its name resolves to every ready pod and
	// Envoy's STRICT_DNS cluster (internal/controlplane/xds) balances across them.
	if s := m.services["authz"]; s == nil || s.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Error("Service authz is not headless: Envoy would see one address and pin every Check to one pod")
	}
	if h, _, _ := net.SplitHostPort(cfg.Edge.AuthzGRPC); net.ParseIP(h) != nil || h != "authz" {
		t.Errorf("edge.authz_grpc %s is not the authz Service name", cfg.Edge.AuthzGRPC)
	}
	// The public Service is on 443 and reaches the edge listener.
	edge := m.services["gatehouse-edge"]
	if edge == nil {
		t.Fatal("no Service gatehouse-edge")
	}
	d, cp, err := serviceBackend(m, "gatehouse-edge", 443)
	if err != nil || d.Name != "envoy" || strconv.Itoa(int(cp)) != port(t, cfg.Edge.Listen) {
		t.Errorf("gatehouse-edge:443 reaches %v port %d (%v); edge.listen is %s", d, cp, err, cfg.Edge.Listen)
	}
	// The policy ConfigMap carries every policy file under the name authz mounts.
	pol := m.configMaps["gatehouse-policies"]
	if pol == nil {
		t.Fatal("no ConfigMap gatehouse-policies (a hash suffix would roll authz on every policy edit)")
	}
	files, _ := filepath.Glob(repo("policies", "*"))
	for _, f := range files {
		if n := filepath.Base(f); strings.HasSuffix(n, ".rego") || strings.HasSuffix(n, ".json") {
			if _, ok := pol.Data[n]; !ok {
				t.Errorf("policies/%s is not in the gatehouse-policies ConfigMap", n)
			}
		}
	}
}

// With the Kubernetes config, the control plane gives Envoy the authz cluster as STRICT_DNS
// with round robin: every address the headless authz Service resolves to is a host, so Checks
// spread over every replica instead of riding one connection to one pod.
func TestAuthzClusterSpreadsOverReplicas(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edge, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := xds.Clusters(edge)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{model.AuthzCluster, model.AuthzHTTPCluster} {
		i := slices.IndexFunc(clusters, func(c *clusterv3.Cluster) bool { return c.GetName() == name })
		if i < 0 {
			t.Fatalf("no cluster %s", name)
		}
		c := clusters[i]
		if c.GetType() != clusterv3.Cluster_STRICT_DNS || c.GetLbPolicy() != clusterv3.Cluster_ROUND_ROBIN {
			t.Errorf("cluster %s is %s/%s; want STRICT_DNS/ROUND_ROBIN", name, c.GetType(), c.GetLbPolicy())
		}
		host := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetAddress()
		if s := m.services[host]; s == nil || s.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("cluster %s resolves %s, which is not a headless Service", name, host)
		}
	}
}

// projectConfigMap writes data as kubelet's atomic writer does: the files in a timestamped
// directory, "..data" a symlink to it, each key a symlink through "..data". An update writes a
// new directory, swaps "..data" with one rename, and removes the old directory.
func projectConfigMap(t *testing.T, root, version string, data map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "..2026_12_01_"+version)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(root, "..data"))
	tmp := filepath.Join(root, "..data_tmp")
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	for k := range data {
		if _, err := os.Lstat(filepath.Join(root, k)); err != nil {
			if err := os.Symlink(filepath.Join("..data", k), filepath.Join(root, k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(root, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// A policy edit reaches running authz pods without a rollout: authz mounts the stable-named
// ConfigMap as a directory at policy.dir, and its reload loop follows kubelet's "..data"
// swap to the new revision. The ConfigMap is the one kustomize builds.
func TestPolicyConfigMapUpdateReloadsWithoutRollout(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mounted := false
	spec := m.deployments["authz"].Spec.Template.Spec
	for _, v := range spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != "gatehouse-policies" {
			continue
		}
		for _, vm := range spec.Containers[0].VolumeMounts {
			if vm.Name == v.Name && vm.MountPath == cfg.Policy.Dir && vm.SubPath == "" {
				mounted = true // a subPath mount would never see an update
			}
		}
	}
	if !mounted {
		t.Fatalf("authz does not mount ConfigMap gatehouse-policies as a directory at policy.dir %s", cfg.Policy.Dir)
	}

	data := m.configMaps["gatehouse-policies"].Data
	root := t.TempDir()
	projectConfigMap(t, root, "v1", data)
	eng := policy.NewEngine(root, 20*time.Millisecond, zerolog.Nop(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	waitRevision := func(not string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if r := eng.Current(); r != nil && r.ID != not {
				return r.ID
			}
			if time.Now().After(deadline) {
				t.Fatalf("no revision other than %q in service; last error: %v", not, eng.LastError())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := waitRevision("")

	edited := maps.Clone(data)
	edited["data.json"] = strings.Replace(data["data.json"], `"group_roles": {`, `"group_roles": {"noc": ["network-engineers"],`, 1)
	if edited["data.json"] == data["data.json"] {
		t.Fatal("policies/data.json has no group_roles to edit")
	}
	projectConfigMap(t, root, "v2", edited)
	if second := waitRevision(first); second == first {
		t.Fatal("the same revision after the update")
	}
}

// mountedFrom reports the volume a path in the container is read from, and whether the mount
// follows updates (a subPath mount never sees a Secret or ConfigMap change).
func mountedFrom(spec corev1.PodSpec, c corev1.Container, path string) (*corev1.Volume, bool) {
	for _, vm := range c.VolumeMounts {
		if vm.SubPath == "" && strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			for i, v := range spec.Volumes {
				if v.Name == vm.Name {
					return &spec.Volumes[i], true
				}
			}
		}
	}
	return nil, false
}

// Every key and certificate file the config names is in the pod of the service that reads it,
// from a Secret mounted as a directory, so a renewed Secret reaches the file without a restart
// (the services re-read them). The public Service also reaches the redirect listener.
func TestKubernetesMountsTheFilesTheConfigNames(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Edge.TLS.Enabled() {
		t.Fatal("edge.tls is not set: the public listener would be plain HTTP behind a Service on 443")
	}
	files := map[string][]string{
		"control-plane": {cfg.Edge.TLS.CertFile, cfg.Edge.TLS.KeyFile, cfg.Edge.MTLS.CertFile, cfg.Edge.MTLS.KeyFile, cfg.Edge.MTLS.CAFile},
		"authz":         {cfg.Authz.BindingKeysFile, cfg.Authz.TLS.CertFile, cfg.Authz.TLS.KeyFile, cfg.Authz.TLS.ClientCAFile},
	}
	for dep, paths := range files {
		d := m.deployments[dep]
		for _, p := range paths {
			if p == "" {
				continue
			}
			v, ok := mountedFrom(d.Spec.Template.Spec, d.Spec.Template.Spec.Containers[0], p)
			if !ok || v.Secret == nil {
				t.Errorf("Deployment %s reads %s, which no Secret volume (directory mount) provides", dep, p)
			}
		}
	}
	if _, cp, err := serviceBackend(m, "gatehouse-edge", 80); err != nil || strconv.Itoa(int(cp)) != port(t, cfg.Edge.TLS.RedirectListen) {
		t.Errorf("gatehouse-edge:80 does not reach edge.tls.redirect_listen %s (%v)", cfg.Edge.TLS.RedirectListen, err)
	}
}

// startsUnderKit says why an adapter with this environment would refuse to start, or "".
func startsUnderKit(env map[string]string) string {
	cert, key, ca := env["GATEHOUSE_TLS_CERT_FILE"], env["GATEHOUSE_TLS_KEY_FILE"], env["GATEHOUSE_TLS_CLIENT_CA_FILE"]
	switch {
	case (cert == "") != (key == ""):
		return "GATEHOUSE_TLS_CERT_FILE and GATEHOUSE_TLS_KEY_FILE must be set together"
	case ca == "" && env["GATEHOUSE_INSECURE_NO_MTLS"] != "true":
		return "no GATEHOUSE_TLS_CLIENT_CA_FILE and no GATEHOUSE_INSECURE_NO_MTLS=true: it refuses to start"
	}
	return ""
}

// Every adapter takes the edge's mTLS settings from the environment (adapters/kit TLSFlags)
// and refuses to start without a client CA unless told explicitly to serve without one. In
// Kubernetes none may: each has its certificate, the mesh CA and Envoy's SAN (the same one
// authz accepts), from a Secret directory mount. Compose, a one-machine trial stack with no CA,
// must say so explicitly.
func TestAdaptersHaveWhatTheKitNeedsToStart(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Edge.MTLS.Enabled() || !cfg.Authz.TLS.Enabled() || len(cfg.Authz.TLS.ClientSANs) == 0 {
		t.Fatal("edge.mtls and authz.tls (with client_sans) are not both set: the adapters and authz would believe any caller")
	}
	adapters := 0
	for name, d := range m.deployments {
		if !strings.HasPrefix(d.Spec.Template.Spec.Containers[0].Image, "ghcr.io/gatehouse-mcp/gatehouse-adapter-") {
			continue
		}
		adapters++
		env := envOf(d)
		if why := startsUnderKit(env); why != "" {
			t.Errorf("Deployment %s: %s", name, why)
		}
		if _, set := env["GATEHOUSE_INSECURE_NO_MTLS"]; set {
			t.Errorf("Deployment %s serves without requiring the edge's certificate", name)
		}
		sans := strings.Split(env["GATEHOUSE_TLS_CLIENT_SANS"], ",")
		if !slices.Contains(sans, cfg.Authz.TLS.ClientSANs[0]) {
			t.Errorf("Deployment %s accepts client SANs %v, not Envoy's %s (as authz.tls.client_sans)", name, sans, cfg.Authz.TLS.ClientSANs[0])
		}
		spec := d.Spec.Template.Spec
		for _, k := range []string{"GATEHOUSE_TLS_CERT_FILE", "GATEHOUSE_TLS_KEY_FILE", "GATEHOUSE_TLS_CLIENT_CA_FILE"} {
			if v, ok := mountedFrom(spec, spec.Containers[0], env[k]); !ok || v.Secret == nil {
				t.Errorf("Deployment %s: %s=%s is not in a Secret directory mount", name, k, env[k])
			}
		}
	}
	if adapters < len(cfg.Servers) {
		t.Errorf("%d adapter Deployments checked for %d servers", adapters, len(cfg.Servers))
	}
	c := loadCompose(t)
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "ghcr.io/gatehouse-mcp/gatehouse-adapter-") {
			continue
		}
		if why := startsUnderKit(s.Environment); why != "" {
			t.Errorf("compose service %s: %s", name, why)
		}
	}
}

// The control plane accepts the Kubernetes config as it would in the cluster: with the Secrets'
// files in place (issued here by a throwaway CA), it builds listeners, routes, clusters and the
// SDS secrets (edge certificate, Envoy's client certificate, the mesh CA), and the snapshot is
// consistent.
func TestKubernetesConfigMakesAConsistentEnvoySnapshot(t *testing.T) {
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := devca.New("test mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(cfg.PublicURL)
	files := map[string][]byte{}
	for dir, san := range map[string]string{
		filepath.Dir(cfg.Edge.TLS.CertFile):  pub.Hostname(),
		filepath.Dir(cfg.Edge.MTLS.CertFile): cfg.Authz.TLS.ClientSANs[0],
	} {
		p, err := ca.Issue(time.Hour, san)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(dir, "tls.crt")], files[filepath.Join(dir, "tls.key")], files[filepath.Join(dir, "ca.crt")] = p.CertPEM, p.KeyPEM, ca.PEM
	}
	read := func(path string) ([]byte, error) {
		if b, ok := files[path]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist)
	}
	edge, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := xds.Translate(edge)
	if err != nil {
		t.Fatal(err)
	}
	secrets, _, err := xds.Secrets(edge, read)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) == 0 {
		t.Fatal("no SDS secrets: the edge would serve neither TLS nor mTLS")
	}
	var names []string
	for _, r := range secrets {
		names = append(names, cache.GetResourceName(r))
	}
	// Snapshot.Consistent does not follow SDS references: check the three names the listener
	// and the mTLS clusters use are all served.
	for _, want := range []string{xds.SecretEdgeCert, xds.SecretUpstreamClient, xds.SecretUpstreamCA} {
		if !slices.Contains(names, want) {
			t.Errorf("SDS secret %s is not served (served: %v)", want, names)
		}
	}
	res[resource.SecretType] = secrets
	if _, err := xds.Snapshot("1", res); err != nil {
		t.Fatal(err)
	}
}
