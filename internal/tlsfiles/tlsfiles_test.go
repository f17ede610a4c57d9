package tlsfiles_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

// A client built with no server name (as the REST bridge's, one client for many adapters)
// checks each server's certificate against the host it dialled: a certificate from the
// right CA for another name is refused.
func TestClientChecksTheDialledName(t *testing.T) {
	ca, err := devca.New("mesh CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serve := func(names ...string) string {
		pair, err := ca.Issue(time.Hour, names...)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ca.WriteFiles(dir, strings.ReplaceAll(names[0], ".", "-"), pair)
		if err != nil {
			t.Fatal(err)
		}
		src, err := tlsfiles.Load(tlsfiles.Files{CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA})
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		s.TLS = src.ServerConfig()
		s.StartTLS()
		t.Cleanup(s.Close)
		return s.URL
	}
	right := serve("127.0.0.1")
	wrong := serve("someone-else.example")

	me, err := ca.Issue(time.Hour, "spiffe://gatehouse.test/rest-bridge")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ca.WriteFiles(dir, "client", me)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlsfiles.Load(tlsfiles.Files{CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: src.ClientConfig("")}}
	resp, err := c.Get(right)
	if err != nil {
		t.Fatalf("server named by its address: %v", err)
	}
	resp.Body.Close()
	if resp, err := c.Get(wrong); err == nil {
		resp.Body.Close()
		t.Fatal("a certificate for another name was accepted")
	}
}
