// Package testkit is what Gatehouse's own tests share: the repository root, a fake clock, a
// private copy of the policy directory, and Envoy-shaped CheckRequests (built by the same
// code the dev edge uses, internal/envoycheck). It is imported only from _test.go files.
package testkit

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/envoycheck"
)

// FreeAddr is a loopback address (127.0.0.1:port) nothing listens on at the moment.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Root returns the repository root joined with parts. It is found from this file's own
// location, so it works whatever directory `go test` runs a package in.
func Root(parts ...string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: cannot locate the repository")
	}
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

// Clock is a fake clock for code that takes a `func() time.Time`. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// CopyPolicies copies the repository's policy files (Rego, data and catalog; not its docs or Go tests)
// into a fresh temporary directory, so a test can edit policies without touching the tree.
func CopyPolicies(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	CopyPoliciesInto(t, dst)
	return dst
}

// CopyPoliciesInto writes the repository's policy files into dir.
func CopyPoliciesInto(t testing.TB, dir string) {
	t.Helper()
	src := Root("policies")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".rego") || strings.HasSuffix(e.Name(), ".json") ||
			strings.HasSuffix(e.Name(), ".yaml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Addresses the test CheckRequests carry: a client on a documentation address and the
// edge's listener.
const (
	ClientAddr = "192.0.2.10:51234"
	EdgeAddr   = "10.0.0.5:8080"
	EdgeHost   = "127.0.0.1:8080"
)

// CheckRequest is the CheckRequest Envoy sends for an HTTP request to the edge at EdgeHost,
// built by internal/envoycheck (the dev edge's builder) with the body as raw_body. path is
// sent exactly as given (path tricks included). POSTs get Content-Type application/json,
// Accept and a Content-Length of the body; headers add to or override the defaults, and an
// empty value removes one; a content-length header sets the declared length. server, when
// set, is the route's context_extensions server.
func CheckRequest(method, path, server string, headers map[string]string, body string) *authv3.CheckRequest {
	r, err := http.NewRequest(method, "http://"+EdgeHost+"/", strings.NewReader(body))
	if err != nil {
		panic(err) // only the method can be bad, and tests pass literal ones
	}
	r.RemoteAddr = ClientAddr
	r.Proto = "HTTP/1.1"
	local, _ := net.ResolveTCPAddr("tcp", EdgeAddr)
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
	r.Header.Set("X-Request-Id", "9d7a6f1e-5f44-4c1e-9d5e-2b0e3c9f8a11")
	r.Header.Set("User-Agent", "mcp-test-client/1.0")
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
	} else if body == "" {
		r.ContentLength = -1 // no Content-Length on a bodiless GET or DELETE
	}
	for k, v := range headers {
		switch {
		case strings.EqualFold(k, "content-length"):
			// net/http keeps it out of the headers; the builder sends r.ContentLength.
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				panic("testkit: content-length " + v)
			}
			r.ContentLength = n
		case v == "":
			r.Header.Del(k)
		default:
			r.Header.Set(k, v)
		}
	}
	req := envoycheck.Build(r, []byte(body), contract.RouteExtensions("test-route", server))
	if server == "" {
		delete(req.Attributes.ContextExtensions, contract.ExtensionServer)
	}
	h := req.Attributes.Request.Http
	h.Path, h.Headers[":path"] = path, path
	return req
}

// CheckRequestWithExtensions is CheckRequest with the route's context_extensions given in
// full (for the headers-only check, contract.HeaderStageExtensions).
func CheckRequestWithExtensions(method, path string, extensions map[string]string, headers map[string]string, body string) *authv3.CheckRequest {
	req := CheckRequest(method, path, extensions[contract.ExtensionServer], headers, body)
	req.Attributes.ContextExtensions = extensions
	return req
}
