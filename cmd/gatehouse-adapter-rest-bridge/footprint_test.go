package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter"
	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
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

	bin := filepath.Join(b.TempDir(), "rest-bridge")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--listen", addr, "--upstreams", "catalyst-center="+adapter.URL, "--log-level", "warn")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the bridge never became ready")
		}
	}
	startRSS := rss(b, cmd.Process.Pid)
	for i := range 200 {
		tool := []string{"list_devices", "list_sites", "get_site_health", "get_topology"}[i%4]
		resp, err := http.Post("http://"+addr+contract.RESTPath("catalyst-center", tool), "application/json", strings.NewReader(`{"arguments": {}}`))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %s", tool, resp.Status)
		}
	}
	time.Sleep(3 * time.Second) // idle
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
	b.ReportMetric(startRSS, "start-RSS-MB")
	b.ReportMetric(rss(b, cmd.Process.Pid), "idle-RSS-MB")
	for range b.N {
	}
}

// rss reads a process's VmRSS in MB.
func rss(b *testing.B, pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
