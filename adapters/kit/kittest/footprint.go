package kittest

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
)

// Footprint describes an adapter binary to measure.
type Footprint struct {
	// Package is the adapter's main package, relative to the benchmark's directory (".").
	Package string
	// Upstream is the base URL of the upstream (a simulator) the adapter is pointed at.
	Upstream string
	// Env adds environment variables, such as GATEHOUSE_SECRET_<NAME>_<FIELD> credentials
	// (the adapter runs with --secrets env).
	Env []string
	// Calls are tool calls made before the adapter idles, round-robin, Count in all.
	Calls []mcp.CallToolParams
	Count int
	// Args, when set, replace the flags --upstream Upstream --secrets env, for binaries that
	// take others (--listen and --log-level are always passed).
	Args []string
	// Exercise, when set, replaces Calls: it drives the running binary at base
	// (http://host:port) before it idles.
	Exercise func(b *testing.B, base string)
}

// MeasureFootprint builds the adapter as adapters/Dockerfile does (static, stripped), runs it
// against f.Upstream, makes f.Count tool calls through an MCP client, lets it idle for three
// seconds, and reports binary-MB, start-RSS-MB and idle-RSS-MB (Linux /proc). Adapters aim
// for a binary and an idle RSS of at most 20 MB each.
func MeasureFootprint(b *testing.B, f Footprint) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "adapter")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, f.Package)
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
	args := f.Args
	if args == nil {
		args = []string{"--upstream", f.Upstream, "--secrets", "env"}
	}
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), f.Env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
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
	if f.Exercise != nil {
		f.Exercise(b, "http://"+addr)
	} else {
		callTools(b, "http://"+addr+"/mcp", f)
	}
	time.Sleep(3 * time.Second) // idle
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
	b.ReportMetric(startRSS, "start-RSS-MB")
	b.ReportMetric(rss(b, cmd.Process.Pid), "idle-RSS-MB")
}

func callTools(b *testing.B, url string, f Footprint) {
	tr, err := transport.NewStreamableHTTP(url)
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
	for i := 0; i < f.Count; i++ {
		req := mcp.CallToolRequest{}
		req.Params = f.Calls[i%len(f.Calls)]
		if res, err := c.CallTool(ctx, req); err != nil || res.IsError {
			b.Fatalf("call %s: %v %+v", req.Params.Name, err, res)
		}
	}
	c.Close()
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
