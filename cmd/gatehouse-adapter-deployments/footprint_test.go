package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
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
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/workflows/deploy"
	"github.com/gatehouse-mcp/gatehouse/workflows/deploytest"
	"github.com/gatehouse-mcp/gatehouse/workflows/devserver"
)

// BenchmarkFootprint reports the binary size and resident memory of the adapter after 50
// tool calls (starting, reading and listing deployments) against a real Temporal dev server
// with a worker and the simulators. It is kittest.MeasureFootprint's measurement for an
// adapter whose upstream is Temporal (no --upstream, no secrets): built as
// adapters/Dockerfile builds it (static, stripped). Needs GATEHOUSE_TEMPORAL_BIN.
//
//	GATEHOUSE_TEMPORAL_BIN=$PWD/.bin/temporal go test ./cmd/gatehouse-adapter-deployments -run '^$' -bench Footprint -benchtime 1x
func BenchmarkFootprint(b *testing.B) {
	srv := devserver.Start(b, devserver.Options{SearchAttributes: deploy.SearchAttributes()})
	sim := deploytest.New(b)
	sim.RunClockFast(b)
	const queue = "footprint"
	sim.StartWorker(b, srv.Address, srv.Namespace, queue, zerolog.Nop())

	bin := filepath.Join(b.TempDir(), "adapter")
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
	cmd := exec.Command(bin, "--listen", addr, "--temporal-address", srv.Address, "--task-queue", queue, "--log-level", "warn")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the adapter never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	startRSS := rss(b, cmd.Process.Pid)

	n := 0
	tr, err := transport.NewStreamableHTTP("http://"+addr+"/mcp", transport.WithHTTPHeaderFunc(func(context.Context) map[string]string {
		n++
		return map[string]string{"X-Gatehouse-Subject": "nina", "X-Gatehouse-Roles": "network-engineers",
			"X-Gatehouse-Decision-Id": fmt.Sprintf("dec-%d", n), "X-Gatehouse-Approval": `{"required":false}`}
	}))
	if err != nil {
		b.Fatal(err)
	}
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
	now := time.Now().UTC()
	call := func(name string, args map[string]any) *mcp.CallToolResult {
		req := mcp.CallToolRequest{}
		req.Params.Name, req.Params.Arguments = name, args
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("call %s: %v %+v", name, err, res)
		}
		return res
	}
	var last string
	for i := 0; i < 50; i++ {
		switch i % 3 {
		case 0:
			res := call("start_deployment", map[string]any{
				"template_id": sim.Templates["NTP-Servers"], "template_version": 2,
				"parameters": map[string]any{"ntp_primary": fmt.Sprintf("10.9.%d.1", i), "ntp_secondary": "10.0.0.2"},
				"device_ids": []string{sim.Devices["lon-b1-acc-01"]},
				"change_window": map[string]any{"start": now.Add(-time.Hour).Format(time.RFC3339),
					"end": now.Add(time.Hour).Format(time.RFC3339)}})
			m, _ := res.StructuredContent.(map[string]any)
			last, _ = m["workflow_id"].(string)
		case 1:
			call("get_deployment", map[string]any{"workflow_id": last})
		case 2:
			call("list_my_deployments", map[string]any{})
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
