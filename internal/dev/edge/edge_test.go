package edge_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/rs/zerolog"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/controlplane/model"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/edge"
)

// slowAuthz is an ext_authz server that answers OK after a delay, and records requests.
type slowAuthz struct {
	authv3.UnimplementedAuthorizationServer
	delay atomic.Int64 // nanoseconds
	last  atomic.Pointer[authv3.CheckRequest]
}

func (s *slowAuthz) Check(ctx context.Context, r *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.last.Store(r)
	select {
	case <-time.After(time.Duration(s.delay.Load())):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}, nil
}

func setup(t *testing.T, authzAddr string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var reached atomic.Int32
	adapter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(adapter.Close)
	return newEdge(t, authzAddr, adapter.URL, "edge: {authz_timeout: 300ms}"), &reached
}

// newEdge serves the dev edge for one server, "github", in front of upstream.
func newEdge(t *testing.T, authzAddr, upstream, extra string) *httptest.Server {
	t.Helper()
	cfg, err := config.Parse([]byte(`
public_url: http://127.0.0.1:8080
oidc: {issuer: http://127.0.0.1:9}
` + extra + `
servers: [{name: github, upstream: "` + upstream + `"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(authzAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e := httptest.NewServer(edge.New(edge.Options{Model: m, Authz: authv3.NewAuthorizationClient(conn), Log: zerolog.Nop()}))
	t.Cleanup(e.Close)
	return e
}

func mcpPost(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// security 26 (the edge's half): authz down or too slow → denied, never forwarded.
func TestFailsClosed(t *testing.T) {
	t.Run("authz down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e, reached := setup(t, l.Addr().String())
		// Closed only now, so setup's own listeners cannot have been given this port.
		l.Close()
		if code := mcpPost(t, e.URL+"/mcp/github"); code != 503 || reached.Load() != 0 {
			t.Fatalf("status %d, adapter reached %d times", code, reached.Load())
		}
	})
	t.Run("authz too slow", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		g := grpc.NewServer()
		slow := &slowAuthz{}
		slow.delay.Store(int64(2 * time.Second))
		authv3.RegisterAuthorizationServer(g, slow)
		go g.Serve(l)
		t.Cleanup(g.Stop)
		e, reached := setup(t, l.Addr().String())
		start := time.Now()
		if code := mcpPost(t, e.URL+"/mcp/github"); code != 503 || reached.Load() != 0 {
			t.Fatalf("status %d, adapter reached %d times", code, reached.Load())
		}
		if time.Since(start) > time.Second {
			t.Fatalf("the edge waited %s, past its authz timeout", time.Since(start))
		}
		// And when authz answers in time, the request goes through with Envoy's shape.
		slow.delay.Store(0)
		if code := mcpPost(t, e.URL+"/mcp//github?x=1"); code != 200 || reached.Load() != 1 {
			t.Fatalf("status %d", code)
		}
		r := slow.last.Load()
		h := r.GetAttributes().GetRequest().GetHttp()
		if h.GetPath() != "/mcp/github?x=1" || string(h.GetRawBody()) != `{"jsonrpc":"2.0","id":1,"method":"ping"}` ||
			h.GetHeaders()[":method"] != "POST" || h.GetHeaders()["content-type"] != "application/json" ||
			r.GetAttributes().GetContextExtensions()["server"] != "github" {
			t.Fatalf("CheckRequest: %v", r)
		}
	})
}

// subjectAuthz allows every request and sets the subject header, as the authz service does.
type subjectAuthz struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int32
}

func (s *subjectAuthz) Check(ctx context.Context, r *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.calls.Add(1)
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
		Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-gatehouse-subject", Value: "alice"}}},
	}}}, nil
}

// The edge's header hygiene, as Envoy's: names with underscores are refused before
// authorization, and a client cannot use Connection to strip the identity authz adds.
func TestHeaderHygiene(t *testing.T) {
	var seen atomic.Pointer[http.Header]
	adapter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		seen.Store(&h)
	}))
	t.Cleanup(adapter.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	authz := &subjectAuthz{}
	authv3.RegisterAuthorizationServer(g, authz)
	go g.Serve(l)
	t.Cleanup(g.Stop)
	e := newEdge(t, l.Addr().String(), adapter.URL, "")

	post := func(h map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/mcp/github", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header[k] = []string{v}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code := post(map[string]string{"X_Gatehouse_Subject": "mallory"}); code != 400 || authz.calls.Load() != 0 || seen.Load() != nil {
		t.Fatalf("underscore header: status %d, authz called %d times, adapter reached: %v", code, authz.calls.Load(), seen.Load() != nil)
	}
	if code := post(map[string]string{"Connection": "x-gatehouse-subject, x-smuggled", "X-Smuggled": "1"}); code != 200 {
		t.Fatalf("status %d", code)
	}
	h := seen.Load()
	if h == nil || h.Get("X-Gatehouse-Subject") != "alice" || h.Get("X-Smuggled") != "" {
		t.Fatalf("adapter saw %v", h)
	}
	// A client's trace context stops at the edge (tracing off here: nothing replaces it).
	if code := post(map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"Tracestate": "vendor=secret", "X-Client-Trace-Id": "force"}); code != 200 {
		t.Fatalf("status %d", code)
	}
	if h := seen.Load(); h.Get("Traceparent") != "" || h.Get("Tracestate") != "" || h.Get("X-Client-Trace-Id") != "" {
		t.Fatalf("the client's trace context reached the adapter: %v", h)
	}
}
