package stack_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkUnauthenticatedFlood: 1,000 clients at once each POST a 1 MiB body without a token
// to the dev edge, while a legitimate client keeps calling a tool. The edge asks the authz
// service about the headers first (the headers-only ext_authz stage), so strangers are refused
// 401 without their bodies being buffered. It reports the process's peak RSS (edge, authz,
// adapters and the clients share this process) and fails if any legitimate call is refused.
//
//	go test ./internal/dev/stack -run '^$' -bench UnauthenticatedFlood -benchtime 1x
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	const strangers, bodySize = 1000, 1 << 20
	s, _ := start(b)
	tok, err := s.Token("nina")
	if err != nil {
		b.Fatal(err)
	}
	url := s.ServerURL("catalyst-center")
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_topology","arguments":{}}}`
	resetPeakRSS(b)
	base := rssMB(b, "VmRSS")
	for i := 0; i < b.N; i++ {
		tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: strangers, DisableCompression: true}
		hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
		var refused, other atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range strangers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, _ := http.NewRequest(http.MethodPost, url, io.LimitReader(zeros{}, bodySize))
				req.ContentLength = bodySize
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				resp, err := hc.Do(req)
				switch {
				case err == nil && resp.StatusCode == http.StatusUnauthorized:
					refused.Add(1)
				case err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe")):
					refused.Add(1) // refused while still sending: the edge closed without reading
				default:
					other.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}()
		}
		var legit, legitFailed atomic.Int64
		var worst atomic.Int64
		stop := make(chan struct{})
		var lwg sync.WaitGroup
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t1 := time.Now()
				resp, body := post(b, url, map[string]string{"Authorization": "Bearer " + tok,
					"Mcp-Protocol-Version": "2025-06-18"}, call)
				legit.Add(1)
				if d := int64(time.Since(t1)); d > worst.Load() {
					worst.Store(d)
				}
				if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
					legitFailed.Add(1)
					b.Logf("legitimate call: %s %.200s", resp.Status, body)
				}
			}
		}()
		t0 := time.Now()
		close(start)
		wg.Wait()
		took := time.Since(t0)
		close(stop)
		lwg.Wait()
		tr.CloseIdleConnections()
		b.ReportMetric(float64(refused.Load()), "refused")
		b.ReportMetric(took.Seconds(), "s-flood")
		b.ReportMetric(float64(legit.Load()), "legit-calls")
		b.ReportMetric(float64(worst.Load())/1e6, "legit-worst-ms")
		b.ReportMetric(rssMB(b, "VmHWM")-base, "peak-RSS-growth-MB")
		b.ReportMetric(rssMB(b, "VmHWM"), "peak-RSS-MB")
		if other.Load() > 0 || legitFailed.Load() > 0 {
			b.Fatalf("%d strangers not refused with 401; %d of %d legitimate calls failed", other.Load(), legitFailed.Load(), legit.Load())
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (%v): the peak includes start-up", err)
	}
}

// rssMB reads a field of /proc/self/status in MB.
func rssMB(b *testing.B, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
