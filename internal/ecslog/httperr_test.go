package ecslog_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
)

// A client that fails the TLS handshake is one ECS line with its address and the reason,
// not the standard library's plain text on stderr; a flood is cut to the burst per second.
func TestHandshakeErrorsAreECS(t *testing.T) {
	var out ecslogtest.Buffer
	l, err := ecslog.New(&out, "gatehouse-test", "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = ecslog.HTTPErrorLog(l, 3)
	srv.StartTLS()
	defer srv.Close()
	for range 10 {
		// The test server's certificate is not trusted: the client aborts the handshake.
		c, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{MinVersion: tls.VersionTLS12})
		if err == nil {
			c.Close()
			t.Fatal("handshake with an untrusted certificate succeeded")
		}
	}
	srv.Close()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if raw == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("not JSON: %q", raw)
		}
		lines = append(lines, m)
	}
	// Ten refused handshakes within a second or two: at most the burst per second window.
	if len(lines) == 0 || len(lines) > 6 {
		t.Fatalf("%d lines, want 1 to 6 (burst 3 a second): %v", len(lines), lines)
	}
	for _, line := range lines {
		if line["event.action"] != "tls-handshake" || line["client.address"] != "127.0.0.1" ||
			!strings.Contains(line["error.message"].(string), "certificate") {
			t.Errorf("line %v", line)
		}
	}
}
