package kit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

// The health port gives probes the adapter's real readiness and Prometheus its metrics, and
// nothing else: no MCP request, with or without identity headers, reaches a tool there.
func TestHealthPortServesProbesAndMetricsOnly(t *testing.T) {
	s := whoServerLogging(&ecslogtest.Buffer{})
	ready := errors.New("vault: permission denied")
	s.SetReady(func(context.Context) error { return ready })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := kit.ServeHealth(ctx, addr, s.Handler(), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	get := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("X-Gatehouse-Subject", "admin")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/readyz", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "permission denied") {
		t.Fatalf("/readyz while not ready: %d %s", code, body)
	}
	ready = nil
	if code, _ := get("GET", "/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz once ready: %d", code)
	}
	if code, body := get("GET", "/metrics", ""); code != http.StatusOK || !strings.Contains(body, "gatehouse_tool_calls_total") && !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics: %d", code)
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"who_am_i","arguments":{}}}`
	for _, path := range []string{kit.Path, kit.Path + "/", "/healthz/../mcp"} {
		if code, body := get("POST", path, call); code != http.StatusNotFound || strings.Contains(body, "admin") {
			t.Errorf("POST %s on the health port: %d %s", path, code, body)
		}
	}
}
