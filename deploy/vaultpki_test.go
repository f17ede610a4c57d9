package deploy_test

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// The vault-pki overlay gives the control plane (Envoy's client certificate, edge.mtls) and
// authz (authz.tls) a certificate agent that writes exactly the files the config names, into a
// memory volume the service reads and only the agent writes; only the agent holds a Vault
// login token; both pods may reach Vault and nothing else changes; the agent's image has a
// main and a Dockerfile stage. security 102.
func TestVaultPKIOverlay(t *testing.T) {
	m := build(t, repo("deploy", "kubernetes-vault-pki"))
	cfg, err := config.Load(repo("deploy", "kubernetes", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string][3]string{
		"control-plane": {cfg.Edge.MTLS.CertFile, cfg.Edge.MTLS.KeyFile, cfg.Edge.MTLS.CAFile},
		"authz":         {cfg.Authz.TLS.CertFile, cfg.Authz.TLS.KeyFile, cfg.Authz.TLS.ClientCAFile},
	} {
		d := m.deployments[name]
		if d == nil {
			t.Fatalf("no Deployment %s", name)
		}
		spec := d.Spec.Template.Spec
		var agent, service *corev1.Container
		for i := range spec.Containers {
			if c := &spec.Containers[i]; c.Name == name {
				service = c
			}
		}
		for i := range spec.InitContainers {
			// A native sidecar: started before the service, running alongside it.
			if c := &spec.InitContainers[i]; c.Name == "cert-agent" && c.RestartPolicy != nil &&
				*c.RestartPolicy == corev1.ContainerRestartPolicyAlways && c.StartupProbe != nil {
				agent = c
			}
		}
		if agent == nil || service == nil {
			t.Fatalf("%s: containers %v", name, spec.Containers)
		}
		env := map[string]string{}
		for _, e := range agent.Env {
			env[e.Name] = e.Value
		}
		if env["GATEHOUSE_TLS_CERT_FILE"] != files[0] || env["GATEHOUSE_TLS_KEY_FILE"] != files[1] || env["GATEHOUSE_TLS_CA_FILE"] != files[2] {
			t.Errorf("%s: the agent writes %s %s %s, the config reads %v", name, env["GATEHOUSE_TLS_CERT_FILE"],
				env["GATEHOUSE_TLS_KEY_FILE"], env["GATEHOUSE_TLS_CA_FILE"], files)
		}
		dir := files[0][:strings.LastIndex(files[0], "/")]
		mountOf := func(c *corev1.Container, path string) *corev1.VolumeMount {
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].MountPath == path {
					return &c.VolumeMounts[i]
				}
			}
			return nil
		}
		am, sm := mountOf(agent, dir), mountOf(service, dir)
		if am == nil || sm == nil || am.Name != sm.Name || am.ReadOnly || !sm.ReadOnly {
			t.Errorf("%s: the agent and the service do not share %s (agent writes, service reads): %v %v", name, dir, am, sm)
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == am.Name && (v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.Secret != nil) {
				t.Errorf("%s: volume %s is not a memory emptyDir only: %+v", name, v.Name, v.VolumeSource)
			}
		}
		if mountOf(service, "/var/run/secrets/kubernetes.io/serviceaccount") != nil || mountOf(agent, "/var/run/secrets/kubernetes.io/serviceaccount") == nil ||
			spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: only the agent may hold a service account token", name)
		}
		if !strings.HasPrefix(agent.Image, "ghcr.io/gatehouse-mcp/gatehouse-cert-agent:") || agent.ReadinessProbe == nil {
			t.Errorf("%s: agent image %s, readiness %v", name, agent.Image, agent.ReadinessProbe)
		}
		if !strings.HasPrefix(env["VAULT_ADDR"], "https://") || mountOf(agent, "/etc/gatehouse/vault-ca") == nil ||
			!strings.HasPrefix(env["VAULT_CACERT"], "/etc/gatehouse/vault-ca/") {
			t.Errorf("%s: the agent reaches Vault at %s without a pinned CA (%s)", name, env["VAULT_ADDR"], env["VAULT_CACERT"])
		}
		pols := netpolSet(m.netpols)
		vault := endpoint{name: "vault", ns: "vault", labels: map[string]string{"app.kubernetes.io/name": "vault"},
			spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8200}}}}}, ip: net.IPv4(10, 244, 1, 1)}
		if !pols.allowed(podOf(d, 1), vault, 8200, corev1.ProtocolTCP) {
			t.Errorf("%s cannot reach Vault", name)
		}
	}
	if _, err := os.Stat(repo("cmd", "gatehouse-cert-agent")); err != nil {
		t.Error("no cmd/gatehouse-cert-agent")
	}
	df, _ := os.ReadFile(repo("Dockerfile"))
	if !slices.ContainsFunc(strings.Split(string(df), "\n"), func(l string) bool { return strings.HasSuffix(l, " AS cert-agent") }) {
		t.Error("the Dockerfile has no cert-agent stage")
	}
}
