// Package envoy_test checks the Envoy bootstrap against Envoy's own proto rules and the
// platform config, since no Envoy binary runs on the development machines.
package envoy_test

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3" // resolves the typed options' @type
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

func here(name string) string { return testkit.Root("envoy", name) }

// LoadBootstrap parses envoy/bootstrap.yaml as Envoy would (YAML → proto, unknown fields
// refused) and validates it.
func loadBootstrap(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(here("bootstrap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		t.Fatalf("bootstrap.yaml is not a valid Envoy v3 Bootstrap: %v", err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap.yaml fails Envoy's validation: %v", err)
	}
	return &b
}

func TestBootstrapPointsAtTheControlPlane(t *testing.T) {
	b := loadBootstrap(t)
	if b.GetNode().GetCluster() != "gatehouse-edge" || b.GetNode().GetId() == "" {
		t.Fatalf("node %v", b.GetNode())
	}
	if a := b.GetAdmin().GetAddress().GetSocketAddress().GetAddress(); a != "127.0.0.1" {
		t.Fatalf("admin listens on %s, not loopback", a)
	}
	ads := b.GetDynamicResources().GetAdsConfig()
	xdsCluster := ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName()
	if b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Fatal("listeners and clusters must come over ADS")
	}
	cfg, err := config.Load(testkit.Root("gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(cfg.XDS.Listen)
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() != xdsCluster {
			continue
		}
		sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		if strconv.Itoa(int(sa.GetPortValue())) != port {
			t.Fatalf("bootstrap dials the control plane on %d, gatehouse.yaml serves ADS on %s", sa.GetPortValue(), port)
		}
		if c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] == nil {
			t.Fatal("the xDS cluster must speak HTTP/2 (gRPC)")
		}
		return
	}
	t.Fatalf("no static cluster %q for ADS", xdsCluster)
}
