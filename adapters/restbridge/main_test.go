package restbridge_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--upstreams: no upstreams"},
		{[]string{"--upstreams", "cc=ftp://x"}, "http(s) base URL"},
		{[]string{"--upstreams", "cc=http://cc:8080", "--max-body-bytes", "0"}, "--max-body-bytes"},
		{[]string{"--upstreams", "cc=http://cc:8080", "--call-timeout", "soon"}, "--call-timeout"},
		{[]string{"--upstreams", "cc=http://cc:8080", "extra"}, `unexpected argument "extra"`},
		// Without the edge's CA it would believe anyone's identity headers: refused, with the fix.
		{[]string{"--upstreams", "cc=http://cc:8080"}, "GATEHOUSE_TLS_CLIENT_CA_FILE"},
	} {
		var out, errb syncBuffer
		if code := restbridge.Main(context.Background(), "test", c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) ||
			strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line saying %q", c.args, code, errb.String(), c.want)
		}
	}
	// Serves until its context ends, then stops cleanly.
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- restbridge.Main(ctx, "test", []string{"--listen", "127.0.0.1:0", "--insecure-no-mtls", "--upstreams", "catalyst-center=http://127.0.0.1:1"}, &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "REST bridge listening") {
		if time.Now().After(deadline) {
			t.Fatalf("not listening: %s %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
}
