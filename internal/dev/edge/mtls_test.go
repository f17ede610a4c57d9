package edge_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// With edge.mtls the dev edge does what Envoy's UpstreamTlsContext does: it presents its
// client certificate, and forwards only to an adapter whose certificate chains to the mesh CA
// for the upstream's name. An adapter with a certificate from elsewhere is never sent the call.
func TestEdgeCallsAdaptersOverMTLS(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, &slowAuthz{})
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)

	dir := t.TempDir()
	mesh, err := devca.New("mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := devca.New("someone else's CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(ca *devca.CA, name string, names ...string) devca.Files {
		p, err := ca.Issue(time.Hour, names...)
		if err != nil {
			t.Fatal(err)
		}
		sub := dir + "/" + name
		if err := mkdir(sub); err != nil {
			t.Fatal(err)
		}
		f, err := ca.WriteFiles(sub, name, p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	edgeFiles := write(mesh, "edge", "spiffe://gatehouse.test/edge")
	adapter := func(f devca.Files) (string, *atomic.Int32) {
		var reached atomic.Int32
		src, err := tlsfiles.Load(tlsfiles.Files{CertFile: f.Cert, KeyFile: f.Key, CAFile: edgeFiles.CA, PeerSANs: []string{"spiffe://gatehouse.test/edge"}})
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
		s.TLS = src.ServerConfig()
		s.StartTLS()
		t.Cleanup(s.Close)
		return s.URL, &reached
	}
	mtls := "authz: {tls: {cert_file: /unused, key_file: /unused}}\n" +
		"edge: {authz_timeout: 2s, mtls: {cert_file: " + edgeFiles.Cert + ", key_file: " + edgeFiles.Key + ", ca_file: " + edgeFiles.CA + "}}"

	good, goodReached := adapter(write(mesh, "adapter", "127.0.0.1"))
	e := newEdge(t, l.Addr().String(), good, mtls)
	if code := mcpPost(t, e.URL+"/mcp/github"); code != 200 || goodReached.Load() != 1 {
		t.Fatalf("adapter with the mesh certificate: status %d, reached %d times", code, goodReached.Load())
	}

	bad, badReached := adapter(write(other, "impostor", "127.0.0.1"))
	e = newEdge(t, l.Addr().String(), bad, mtls)
	if code := mcpPost(t, e.URL+"/mcp/github"); code != 503 || badReached.Load() != 0 {
		t.Fatalf("adapter with a foreign certificate: status %d, reached %d times", code, badReached.Load())
	}
}

func mkdir(p string) error { return os.MkdirAll(p, 0o700) }
