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

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/rs/zerolog"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-mcp/gatehouse/config"
	"github.com/gatehouse-mcp/gatehouse/control-plane/model"
	"github.com/gatehouse-mcp/gatehouse/proxy/edge"
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
	cfg, err := config.Parse([]byte(`
public_url: http://127.0.0.1:8080
oidc: {issuer: http://127.0.0.1:9}
edge: {authz_timeout: 300ms}
servers: [{name: github, upstream: "` + adapter.URL + `"}]
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
	return e, &reached
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

// checklist 26 (the edge's half): authz down or too slow → denied, never forwarded.
func TestFailsClosed(t *testing.T) {
	t.Run("authz down", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close() // nothing listens there any more
		e, reached := setup(t, addr)
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
