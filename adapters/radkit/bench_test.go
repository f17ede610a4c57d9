package radkit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
)

// BenchmarkRun200Devices runs 3 show commands on 200 devices in one run_commands call through
// an MCP client, and with 4 such calls at once, on both backends. Every call must come back
// whole within the per-call timeout; the simulators count the sessions each device had at
// once, which must never exceed the per-device limit (2). Reported: ns/op (wall time of one
// iteration), max-sessions/device, sessions-opened (in all, over every iteration: reuse keeps
// it at most 2 per device).
//
//	go test ./adapters/radkit -run '^$' -bench Run200Devices -benchtime 3x
func BenchmarkRun200Devices(b *testing.B) {
	devices := sim.Synthetic(200)
	names := make([]string, len(devices))
	for i, d := range devices {
		names[i] = d.Name
	}
	args := map[string]any{"devices": names, "commands": []string{"show version", "show ip interface brief", "show clock"}}
	for _, backend := range []string{"ssh", "bridge"} {
		for _, calls := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/%d-calls", backend, calls), func(b *testing.B) {
				e := backends[backend](b, setup{devices: devices})
				c := e.connect(b, "2025-11-25")
				b.ResetTimer()
				for range b.N {
					var wg sync.WaitGroup
					for range calls {
						wg.Add(1)
						go func() {
							defer wg.Done()
							start := time.Now()
							r := run(b, c, args)
							if d := time.Since(start); d > radkit.DefaultCallTimeout {
								b.Errorf("one call took %s, more than the per-call timeout %s", d, radkit.DefaultCallTimeout)
							}
							if r.Summary != "200 devices × 3 commands: 200 ok" {
								b.Errorf("summary: %s", r.Summary)
							}
						}()
					}
					wg.Wait()
				}
				b.StopTimer()
				most, opened := 0, 0
				for _, n := range names {
					var m, total int
					if e.ssh != nil {
						total, m = e.ssh.Connections(n)
					} else {
						m = e.bridge.MaxConcurrent(n)
					}
					most, opened = max(most, m), opened+total
				}
				if most > radkit.DefaultPerDevice {
					b.Fatalf("a device had %d sessions at once, limit %d", most, radkit.DefaultPerDevice)
				}
				b.ReportMetric(float64(most), "max-sessions/device")
				if e.ssh != nil {
					b.ReportMetric(float64(opened), "sessions-opened")
				}
			})
		}
	}
}
