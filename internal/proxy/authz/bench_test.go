package authz_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/config"
)

// BenchmarkCheck measures one full Check over loopback gRPC — token verification, strict
// parse, catalog lookup, OPA evaluation with the default policy, decision log line and
// metrics — as Envoy would send it. Variants:
//
//	inflight=1      one Check at a time: the latency of a Check on an idle service
//	inflight=1000   1,000 Checks in flight (b.SetParallelism over GOMAXPROCS goroutines)
//	token=cached    the client reuses its token (the verified-token cache hits), as agents do
//	token=fresh     the cache is off: every Check verifies an RS256 signature
//
// p50/p99 are client-observed latencies of single Checks; with many in flight they include
// queueing, so by Little's law p50 ≈ in-flight / throughput. The server-side service time
// (gatehouse_authz_duration_seconds) is reported as srv-p50/srv-p99.
//
// Run: go test ./proxy/authz -run '^$' -bench BenchmarkCheck -benchmem -benchtime 20000x
func BenchmarkCheck(b *testing.B) {
	for _, tok := range []string{"cached", "fresh"} {
		for _, inflight := range []int{1, 1000} {
			b.Run(fmt.Sprintf("token=%s/inflight=%d", tok, inflight), func(b *testing.B) {
				benchCheck(b, tok == "cached", inflight)
			})
		}
	}
}

func benchCheck(b *testing.B, cached bool, inflight int) {
	opts := []option{withQuietLogs()}
	if !cached {
		opts = append(opts, withConfig(func(c *config.Config) { c.OIDC.TokenCacheSize = -1 }))
	}
	h := newHarness(b, opts...)
	tok := h.token(cc, "alice", []string{"network-engineers"})
	req := mcpPost(cc, tok, callBody(7, "list_devices", map[string]any{"limit": 50, "site": "hq"}))
	if resp := h.check(req); resp.GetOkResponse() == nil {
		b.Fatalf("benchmark request is not allowed: %s", resp.GetDeniedResponse().GetBody())
	}
	lat := make([][]time.Duration, 0)
	var mu sync.Mutex
	b.ReportAllocs()
	b.ResetTimer()
	if inflight == 1 {
		own := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			s := time.Now()
			resp, err := h.client.Check(context.Background(), req)
			if err != nil || resp.GetOkResponse() == nil {
				b.Fatal("check failed", err)
			}
			own = append(own, time.Since(s))
		}
		lat = append(lat, own)
	} else {
		procs := max(1, inflight/gomaxprocs())
		b.SetParallelism(procs)
		b.RunParallel(func(pb *testing.PB) {
			own := make([]time.Duration, 0, 1024)
			for pb.Next() {
				s := time.Now()
				resp, err := h.client.Check(context.Background(), req)
				if err != nil || resp.GetOkResponse() == nil {
					b.Error("check failed", err)
					return
				}
				own = append(own, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, own)
			mu.Unlock()
		})
	}
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
	p50, p99 := h.serverQuantiles(b)
	b.ReportMetric(p50, "srv-p50-µs")
	b.ReportMetric(p99, "srv-p99-µs")
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// serverQuantiles reads p50 and p99 of gatehouse_authz_duration_seconds the way
// Prometheus's histogram_quantile does (linear within a bucket), in microseconds.
func (h *harness) serverQuantiles(b *testing.B) (float64, float64) {
	mfs, err := h.svc.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_authz_duration_seconds" {
			continue
		}
		hist := mf.GetMetric()[0].GetHistogram()
		q := func(phi float64) float64 {
			rank := phi * float64(hist.GetSampleCount())
			prevCount, prevBound := 0.0, 0.0
			for _, bk := range hist.GetBucket() {
				c := float64(bk.GetCumulativeCount())
				if c >= rank {
					if c == prevCount {
						return bk.GetUpperBound() * 1e6
					}
					return (prevBound + (bk.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount)) * 1e6
				}
				prevCount, prevBound = c, bk.GetUpperBound()
			}
			return prevBound * 1e6
		}
		return q(0.5), q(0.99)
	}
	b.Fatal("no gatehouse_authz_duration_seconds")
	return 0, 0
}

// BenchmarkCheckInProcess calls Server.Check directly, without gRPC, to separate the
// service's own cost (verify + parse + policy + log) from transport.
func BenchmarkCheckInProcess(b *testing.B) {
	h := newHarness(b, withQuietLogs())
	tok := h.token(cc, "alice", []string{"network-engineers"})
	req := mcpPost(cc, tok, callBody(7, "list_devices", map[string]any{"limit": 50, "site": "hq"}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := h.svc.Authz.Check(context.Background(), req)
		if err != nil || resp.GetOkResponse() == nil {
			b.Fatal("check failed", err)
		}
	}
}

// BenchmarkMarshalAllowed measures what gRPC's codec does with the answer to an allowed
// tools/call before it is written: proto.Marshal of the CheckResponse Server.Check returned
// (headers, and the dynamic metadata with the caller's subject for the response side).
//
//	go test ./internal/proxy/authz -run '^$' -bench BenchmarkMarshalAllowed -benchmem
func BenchmarkMarshalAllowed(b *testing.B) {
	h := newHarness(b, withQuietLogs())
	tok := h.token(cc, "alice", []string{"network-engineers"})
	resp, err := h.svc.Authz.Check(context.Background(), mcpPost(cc, tok, callBody(7, "list_devices", map[string]any{"limit": 50})))
	if err != nil || resp.GetOkResponse() == nil || resp.GetDynamicMetadata() == nil {
		b.Fatal("check failed", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckLargeBody measures one in-process Check of an allowed tools/call whose
// arguments are large: a 1 MiB string, and a 1 MiB object of ~90,000 keys. (Issue 14's
// targets: under 30 ms and 50 ms.)
//
//	go test ./internal/proxy/authz -run '^$' -bench BenchmarkCheckLargeBody -benchmem
func BenchmarkCheckLargeBody(b *testing.B) {
	bodies := map[string]string{}
	{
		base := callBody(7, "list_devices", map[string]any{"pad": ""})
		bodies["string-1MiB"] = strings.Replace(base, `"pad":""`, `"pad":"`+strings.Repeat("x", 1<<20-len(base))+`"`, 1)
	}
	{
		var sb strings.Builder
		sb.WriteString(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_devices","arguments":{"pad":{`)
		for i := 0; sb.Len() < 1<<20-40; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"k%d":%d`, i, i)
		}
		sb.WriteString(`}}}}`)
		bodies["object-90k-keys"] = sb.String()
	}
	for _, name := range []string{"string-1MiB", "object-90k-keys"} {
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, withQuietLogs(), withConfig(func(c *config.Config) {
				c.Authz.MaxBodyBytes = 2 << 20
				for i := range c.Servers {
					c.Servers[i].MaxBodyBytes = 2 << 20
				}
				c.Policy.EvalTimeout = 10 * time.Second
			}))
			tok := h.token(cc, "alice", []string{"network-engineers"})
			req := mcpPost(cc, tok, bodies[name])
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := h.svc.Authz.Check(context.Background(), req)
				if err != nil || resp.GetOkResponse() == nil {
					b.Fatal("check failed", err, resp.GetDeniedResponse().GetBody())
				}
			}
		})
	}
}

// BenchmarkListFiltering measures what the response side adds to a tools/list of 200 pinned
// tools: parse the result, check every pin, one listing query over the 200 items, re-encode.
// (Issue 14's target: under 1 ms at p99.) The caller (service desk, read only) sees half.
//
//	go test ./internal/proxy/authz -run '^$' -bench BenchmarkListFiltering -benchmem
func BenchmarkListFiltering(b *testing.B) {
	dir := copyPolicies(b)
	cat := &catalog.Catalog{}
	tools := map[string]catalog.Tool{}
	var items []string
	yes, no := true, false
	for i := range 200 {
		name := fmt.Sprintf("tool_%03d", i)
		def := fmt.Sprintf(`{"name":%q,"description":"Tool %d does a thing.","inputSchema":{"type":"object","properties":{"id":{"type":"string"}}},"annotations":{"readOnlyHint":%v,"destructiveHint":false,"idempotentHint":true,"openWorldHint":true}}`,
			name, i, i%2 == 0)
		digest, err := catalog.Digest([]byte(def))
		if err != nil {
			b.Fatal(err)
		}
		action, ro := "read", &yes
		if i%2 == 1 {
			action, ro = "write", &no
		}
		tools[name] = catalog.Tool{Action: action, Digest: digest, Annotations: catalog.Annotations{
			ReadOnlyHint: ro, DestructiveHint: &no, IdempotentHint: &yes, OpenWorldHint: &yes}}
		items = append(items, def)
	}
	cat.SetServer(cc, tools)
	out, err := cat.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, catalog.File), out, 0o600); err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, withQuietLogs(), withPolicyDir(dir))
	tok := h.token(cc, "sam", []string{"service-desk"})
	resp := h.check(mcpPost(cc, tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	meta := resp.GetDynamicMetadata()
	if resp.GetOkResponse() == nil || meta == nil {
		b.Fatalf("tools/list not allowed: %v", resp)
	}
	body := []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[` + strings.Join(items, ",") + `]}}`)
	ex := h.svc.Authz.Begin(meta)
	if _, _, mode := ex.ResponseHeaders(map[string]string{"content-type": "application/json"}); mode == 0 {
		b.Fatal("tools/list is not filtered")
	}
	filtered, err := ex.Message(body)
	if err != nil || bytes.Count(filtered, []byte(`"name"`)) != 100 {
		b.Fatalf("filtering: %v\n%s", err, filtered)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		if _, err := h.svc.Authz.Begin(meta).Message(body); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(s))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
