package temporalx_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/workflows/temporalx"
)

func TestDialRetriesUntilTheContextEnds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var logs ecslogtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = temporalx.Dial(ctx, temporalx.Options{Address: addr, Log: zerolog.New(&logs), MaxBackoff: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "connecting to Temporal at "+addr) {
		t.Fatalf("dial: %v", err)
	}
	if n := strings.Count(logs.String(), "Temporal is not reachable yet; retrying"); n < 2 {
		t.Errorf("%d retries logged:\n%s", n, logs.String())
	}
}

func TestTLSFiles(t *testing.T) {
	if cfg, err := temporalx.TLSFiles("", "", "", ""); cfg != nil || err != nil {
		t.Errorf("%v %v", cfg, err)
	}
	if _, err := temporalx.TLSFiles("/no/such/ca.pem", "", "", ""); err == nil {
		t.Error("missing CA accepted")
	}
	if cfg, err := temporalx.TLSFiles("", "", "", "temporal.internal"); err != nil || cfg.ServerName != "temporal.internal" {
		t.Errorf("%v %v", cfg, err)
	}
}
