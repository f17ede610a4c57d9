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

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
)

// BenchmarkFootprint builds the adapter as the Dockerfile does (static, stripped), runs it
// against the simulator, makes 50 tool calls, lets it idle, and reports the binary size and
// the process's resident memory. Targets (issue 4): binary ≤ 20 MB, idle RSS < 20 MB.
//
//	go test ./cmd/gatehouse-adapter-catalyst-center -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "adapter")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	st, _ := os.Stat(bin)
	up := httptest.NewServer(sim.New(sim.Options{}))
	defer up.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--listen", addr, "--upstream", up.URL, "--secrets", "env", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME=admin", "GATEHOUSE_SECRET_CATALYST_CENTER_PASSWORD=C1sco12345")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("adapter never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	startRSS := rss(b, cmd.Process.Pid)
	tr, _ := transport.NewStreamableHTTP("http://" + addr + "/mcp")
	c := client.NewClient(tr)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "footprint", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		req := mcp.CallToolRequest{}
		req.Params.Name = []string{"list_devices", "get_topology", "list_issues", "get_site_health"}[i%4]
		if res, err := c.CallTool(ctx, req); err != nil || res.IsError {
			b.Fatalf("call %s: %v %+v", req.Params.Name, err, res)
		}
	}
	c.Close()
	time.Sleep(3 * time.Second) // idle
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
	b.ReportMetric(startRSS, "start-RSS-MB")
	b.ReportMetric(rss(b, cmd.Process.Pid), "idle-RSS-MB")
	for i := 0; i < b.N; i++ {
	}
}

// rss reads VmRSS of a process in MB.
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
