package stack_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// BenchmarkEdgeOverhead: 1,000 concurrent MCP clients (mcp-go, each its own initialized
// connection) call a read tool (get_topology) through the dev edge — edge, ext_authz over
// gRPC with token verification and OPA, adapter, simulator — and, for comparison, directly
// at the adapter. It reports latency percentiles of both and the edge's overhead, and fails
// on any error. Everything runs in one process on this machine's two cores.
//
//	go test ./dev/stack -run '^$' -bench EdgeOverhead -benchtime 1x
func BenchmarkEdgeOverhead(b *testing.B) {
	const clients, callsEach = 1000, 3
	s, _ := start(b)
	tok, _ := s.Token("nina")
	// run connects the clients, then times only the calls; it returns their latencies and the
	// calls' wall time.
	run := func(url string, headers map[string]string) ([]time.Duration, time.Duration) {
		cs := make([]*client.Client, clients)
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPBasicClient(s.DirectClient()), transport.WithHTTPHeaders(headers), transport.WithHTTPTimeout(2*time.Minute))
				if err != nil {
					errs <- err
					return
				}
				c := client.NewClient(tr, client.WithProtocolVersion("2025-11-25"))
				ctx := context.Background()
				if err := c.Start(ctx); err != nil {
					errs <- err
					return
				}
				init := mcp.InitializeRequest{}
				init.Params.ProtocolVersion = "2025-11-25"
				init.Params.ClientInfo = mcp.Implementation{Name: "load", Version: "1"}
				if _, err := c.Initialize(ctx, init); err != nil {
					errs <- err
					return
				}
				cs[i] = c
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatalf("connect: %v", err)
		}
		lat := make([][]time.Duration, clients)
		start := make(chan struct{})
		errs = make(chan error, clients)
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range callsEach {
					req := mcp.CallToolRequest{}
					req.Params.Name = "get_topology"
					t0 := time.Now()
					res, err := c.CallTool(context.Background(), req)
					if err != nil || res.IsError {
						errs <- fmt.Errorf("call: %v %v", err, res)
						return
					}
					lat[i] = append(lat[i], time.Since(t0))
				}
			}()
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		wall := time.Since(t0)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		for _, c := range cs {
			c.Close()
		}
		all := slices.Concat(lat...)
		slices.Sort(all)
		return all, wall
	}
	b.ResetTimer()
	edge, edgeWall := run(s.ServerURL("catalyst-center"), map[string]string{"Authorization": "Bearer " + tok})
	direct, directWall := run(s.Adapters["catalyst-center"]+"/mcp", nil)
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(edge)), "calls")
	b.ReportMetric(q(edge, .5), "edge-p50-ms")
	b.ReportMetric(q(edge, .99), "edge-p99-ms")
	b.ReportMetric(q(direct, .5), "direct-p50-ms")
	b.ReportMetric(q(direct, .99), "direct-p99-ms")
	b.ReportMetric(q(edge, .5)-q(direct, .5), "overhead-p50-ms")
	b.ReportMetric(q(edge, .99)-q(direct, .99), "overhead-p99-ms")
	b.ReportMetric(float64(len(edge))/edgeWall.Seconds(), "edge-calls/s")
	b.ReportMetric(float64(len(direct))/directWall.Seconds(), "direct-calls/s")
}
