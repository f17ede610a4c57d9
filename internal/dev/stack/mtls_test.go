package stack_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
)

// gatehouse dev runs the mesh as production does: a dev CA made at start, adapters and authz
// serving TLS that require a client certificate, the edge presenting its own. A call through
// the edge reaches the adapter over mTLS as the edge; a direct call with forged identity
// headers and no certificate is refused, at the adapter and at authz.
func TestDevMeshIsMTLS(t *testing.T) {
	var mu sync.Mutex
	var peers []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{PolicyDir: policyDir(), Log: zerolog.Nop(),
		AdapterMiddleware: func(_ string, h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				peer := "plain"
				if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
					peer = r.TLS.VerifiedChains[0][0].URIs[0].String()
				}
				mu.Lock()
				peers = append(peers, peer)
				mu.Unlock()
				h.ServeHTTP(w, r)
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	c := connect(t, s, "nina", "2025-11-25")
	if _, err := c.ListTools(context.Background(), mcp.ListToolsRequest{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(peers, ",")
	mu.Unlock()
	if got == "" || strings.ReplaceAll(got, stack.EdgeSAN, "") != strings.Repeat(",", strings.Count(got, ",")) {
		t.Fatalf("adapter saw callers %q, want only the edge's certificate", got)
	}

	files := s.CertFiles()
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequest(http.MethodPost, s.Adapters["catalyst-center"]+"/mcp",
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_topology","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-Gatehouse-Subject", "admin")
	if resp, err := noCert.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a direct call without a client certificate got %d", resp.StatusCode)
	}
	if resp, err := s.DirectClient().Get(s.Adapters["catalyst-center"] + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the developer's certificate: %v", err)
	} else {
		resp.Body.Close()
	}

	for name, creds := range map[string]credentials.TransportCredentials{
		"plain text":            insecure.NewCredentials(),
		"no client certificate": credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
	} {
		conn, err := grpc.NewClient(s.AuthzGRPC, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		conn.Close()
		if err == nil {
			t.Errorf("authz answered a caller with %s", name)
		}
	}
}
