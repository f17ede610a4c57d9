package kit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

type tokenAuth struct {
	token     atomic.Value
	refreshes atomic.Int32
}

func (a *tokenAuth) Authorize(_ context.Context, r *http.Request) error {
	r.Header.Set("X-Auth-Token", a.token.Load().(string))
	return nil
}

func (a *tokenAuth) Refresh(context.Context) error {
	a.refreshes.Add(1)
	a.token.Store("fresh")
	return nil
}

func newTestClient(t *testing.T, h http.HandlerFunc, auth kit.Authenticator) *kit.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := kit.NewServer(kit.Options{Name: "t", Registry: prometheus.NewRegistry()})
	c, err := kit.NewClient("t", "Test API", srv.URL, auth, s.Metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff, c.MaxBackoff = time.Millisecond, 5*time.Millisecond
	return c
}

func TestRetriesHonourRetryAfterThenSurface(t *testing.T) {
	var hits atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if n <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}, nil)
	var out struct{ OK bool }
	start := time.Now()
	if _, err := c.Do(context.Background(), kit.Request{Method: "GET", Path: "/x"}, &out); err != nil || !out.OK {
		t.Fatalf("%v %+v", err, out)
	}
	if hits.Load() != 3 || time.Since(start) < 2*time.Second {
		t.Fatalf("%d attempts in %s: Retry-After not honoured", hits.Load(), time.Since(start))
	}

	// Always throttled: surfaced after MaxAttempts, saying so.
	hits.Store(-100)
	_, err := c.Do(context.Background(), kit.Request{Method: "GET", Path: "/x"}, nil)
	var ue *kit.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 429 || ue.Attempts != 3 || !strings.Contains(err.Error(), "rate limited; retry in 1s") {
		t.Fatalf("got %v", err)
	}
}

func TestNonIdempotentIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}, nil)
	_, err := c.Do(context.Background(), kit.Request{Method: "POST", Path: "/deploy", Body: map[string]any{"a": 1}}, nil)
	if !kit.IsStatus(err, 503) || hits.Load() != 1 {
		t.Fatalf("POST retried: %d attempts, %v", hits.Load(), err)
	}
	hits.Store(0)
	_, _ = c.Do(context.Background(), kit.Request{Method: "POST", Path: "/read", Idempotent: true}, nil)
	if hits.Load() != 3 {
		t.Fatalf("idempotent POST tried %d times", hits.Load())
	}
}

func TestRetryAfterBeyondDeadlineIsNotAwaited(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusTooManyRequests)
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, kit.Request{Method: "GET", Path: "/x"}, nil)
	if !kit.IsStatus(err, 429) || time.Since(start) > time.Second {
		t.Fatalf("waited %s for a Retry-After past the deadline: %v", time.Since(start), err)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	auth := &tokenAuth{}
	auth.token.Store("stale")
	var seen []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Auth-Token"))
		if r.Header.Get("X-Auth-Token") != "fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}, auth)
	// Even a POST is re-sent after a 401: the upstream did not process it.
	if _, err := c.Do(context.Background(), kit.Request{Method: "POST", Path: "/deploy"}, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "stale,fresh" || auth.refreshes.Load() != 1 {
		t.Fatalf("tokens sent %v, refreshes %d", seen, auth.refreshes.Load())
	}
	// A credential the upstream keeps refusing is refreshed once, then surfaced.
	auth.token.Store("revoked")
	c2 := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, auth)
	_, err := c2.Do(context.Background(), kit.Request{Method: "GET", Path: "/x"}, nil)
	if !kit.IsStatus(err, 401) || !strings.Contains(err.Error(), "credentials were refused") {
		t.Fatalf("got %v", err)
	}
}

func TestConnectionErrorsSaySo(t *testing.T) {
	s := kit.NewServer(kit.Options{Name: "t", Registry: prometheus.NewRegistry()})
	// An address nothing listens on: one just given up (a fixed port may be in use).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := kit.NewClient("t", "Test API", "http://"+addr, nil, s.Metrics, zerolog.Nop())
	c.Backoff = time.Millisecond
	_, err = c.Do(context.Background(), kit.Request{Method: "GET", Path: "/x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "Test API: GET /x failed") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("got %v", err)
	}
}
