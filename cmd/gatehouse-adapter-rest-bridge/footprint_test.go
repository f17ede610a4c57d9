package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
)

type secret kit.Secret

func (s secret) Get(context.Context, string) (kit.Secret, error) { return kit.Secret(s), nil }
func (secret) Invalidate(string)                                 {}

// BenchmarkFootprint reports the binary size and resident memory of the REST bridge, built as
// adapters/Dockerfile builds it, after 200 REST calls to a Catalyst Center adapter (targets,
// as for the adapters: binary ≤ 20 MB, idle RSS ≤ 20 MB).
//
//	go test ./cmd/gatehouse-adapter-rest-bridge -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	up := httptest.NewServer(sim.New(sim.Options{}))
	defer up.Close()
	s := kit.NewServer(kit.Options{Name: catalystcenter.ServerName, Logger: zerolog.Nop()})
	c, err := catalystcenter.NewClient(up.URL, secret{"username": "admin", "password": "C1sco12345"}, s.Metrics, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	catalystcenter.Register(s, c)
	adapter := httptest.NewServer(s.Handler())
	defer adapter.Close()

	kittest.MeasureFootprint(b, kittest.Footprint{Package: ".", Args: []string{"--upstreams", "catalyst-center=" + adapter.URL},
		Exercise: func(b *testing.B, base string) {
			for i := range 200 {
				tool := []string{"list_devices", "list_sites", "get_site_health", "get_topology"}[i%4]
				resp, err := http.Post(base+contract.RESTPath("catalyst-center", tool), "application/json", strings.NewReader(`{"arguments": {}}`))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %s", tool, resp.Status)
				}
			}
		}})
	for range b.N {
	}
}
