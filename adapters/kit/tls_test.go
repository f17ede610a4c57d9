package kit_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/devca"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/tlsfiles"
)

const edgeSAN = "spiffe://gatehouse.test/ns/gatehouse/sa/envoy"

type whoArgs struct {
	SleepMS int `json:"sleep_ms,omitempty" jsonschema:"How long to take"`
}

type whoResult struct {
	Subject string `json:"subject"`
}

// whoServer has one tool that answers with the subject the edge asserted.
func whoServerLogging(out *ecslogtest.Buffer) *kit.Server {
	log, _ := ecslog.New(out, "test-adapter", "info", "json")
	s := kit.NewServer(kit.Options{Name: "test", Version: "1.0.0", Logger: log})
	kit.Add(s, kit.Tool[whoArgs, whoResult]{
		Name: "who_am_i", Title: "Who am I", Description: "The caller's subject.", Action: kit.Read, Annotations: readHints,
		Handle: func(ctx context.Context, a whoArgs) (whoResult, error) {
			time.Sleep(time.Duration(a.SleepMS) * time.Millisecond)
			return whoResult{Subject: kit.Subject(ctx)}, nil
		},
	})
	return s
}

type pki struct {
	ca, otherCA *devca.CA
	dir         string
	files       devca.Files
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := devca.New("gatehouse test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := devca.New("someone else's CA")
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{ca: ca, otherCA: other, dir: t.TempDir()}
	p.rotate(t)
	return p
}

// rotate issues a fresh adapter certificate and writes it over the served files.
func (p *pki) rotate(t *testing.T) *x509.Certificate {
	t.Helper()
	pair, err := p.ca.Issue(time.Hour, "adapter.gatehouse.test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if p.files, err = p.ca.WriteFiles(p.dir, "adapter", pair); err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}

func (p *pki) client(t *testing.T, ca *devca.CA, keepAlive bool, names ...string) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "adapter.gatehouse.test", MinVersion: tls.VersionTLS12}
	if ca != nil {
		pair, err := ca.Issue(time.Hour, names...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pair.TLS()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: !keepAlive}}
}

func serveTLS(t *testing.T, p *pki, sans []string) (string, *tlsfiles.Source) {
	t.Helper()
	return serveTLSLogging(t, p, sans, &ecslogtest.Buffer{})
}

func serveTLSLogging(t *testing.T, p *pki, sans []string, out *ecslogtest.Buffer) (string, *tlsfiles.Source) {
	t.Helper()
	src, err := tlsfiles.Load(tlsfiles.Files{CertFile: p.files.Cert, KeyFile: p.files.Key, CAFile: p.files.CA, PeerSANs: sans})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go src.Run(ctx, 20*time.Millisecond, nil)
	done := make(chan error, 1)
	go func() { done <- whoServerLogging(out).Serve(ctx, l, 5*time.Second, src.ServerConfig()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("adapter stopped with %v", err)
		}
	})
	return "https://" + l.Addr().String(), src
}

// callWho posts a tools/call as the edge would, with a (possibly forged) subject header.
func callWho(c *http.Client, base, subject string, sleepMS int) (string, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"who_am_i","arguments":{"sleep_ms":%d}}}`, sleepMS)
	req, _ := http.NewRequest(http.MethodPost, base+kit.Path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("X-Gatehouse-Subject", subject)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Result struct {
			StructuredContent whoResult `json:"structuredContent"`
		} `json:"result"`
	}
	// A stateless reply may come as one SSE event.
	if i := bytes.Index(raw, []byte("data: ")); i >= 0 {
		raw = raw[i+len("data: "):]
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(bytes.TrimSpace(raw), &out) != nil {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	return out.Result.StructuredContent.Subject, nil
}

// Only the edge's certificate gets a request in: forged identity headers sent without a
// client certificate, with one from another CA, or with one from the right CA but another
// name, never reach a tool.
func TestAdapterBelievesIdentityOnlyFromTheEdge(t *testing.T) {
	p := newPKI(t)
	var logs ecslogtest.Buffer
	base, _ := serveTLSLogging(t, p, []string{edgeSAN}, &logs)

	got, err := callWho(p.client(t, p.ca, false, edgeSAN), base, "alice", 0)
	if err != nil || got != "alice" {
		t.Fatalf("the edge's call: subject %q, %v", got, err)
	}
	for name, c := range map[string]*http.Client{
		"no client certificate":       p.client(t, nil, false),
		"certificate from another CA": p.client(t, p.otherCA, false, edgeSAN),
		"right CA, another workload":  p.client(t, p.ca, false, "spiffe://gatehouse.test/ns/default/sa/attacker"),
	} {
		if got, err := callWho(c, base, "admin", 0); err == nil {
			t.Errorf("%s: the adapter answered as %q", name, got)
		}
	}
	// Plain HTTP to the TLS port is not a way round it either.
	if got, err := callWho(&http.Client{Timeout: 5 * time.Second}, "http"+strings.TrimPrefix(base, "https"), "admin", 0); err == nil {
		t.Errorf("plain HTTP: the adapter answered as %q", got)
	}
	// Each refused handshake is an ECS line an operator can alert on, with the caller's address.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), `"event.action":"tls-handshake"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("refused handshakes were not logged as ECS events:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `"client.address":"127.0.0.1"`) {
		t.Errorf("no client.address in %s", logs.String())
	}
}

// A rotated certificate is served to new connections without a restart, and calls in flight
// on the old certificate (and calls made during the rotation) all complete.
func TestAdapterCertificateRotationLosesNoRequest(t *testing.T) {
	p := newPKI(t)
	base, src := serveTLS(t, p, []string{edgeSAN})
	before := src.Certificate().Leaf.SerialNumber

	edge := p.client(t, p.ca, true, edgeSAN)
	fresh := p.client(t, p.ca, false, edgeSAN) // a new handshake per request
	ctx, stop := context.WithCancel(context.Background())
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := edge
			if i%2 == 1 {
				c = fresh
			}
			for ctx.Err() == nil {
				calls.Add(1)
				if got, err := callWho(c, base, "alice", 5); err != nil || got != "alice" {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("%q %v", got, err))
				}
			}
		}()
	}
	slow := make(chan error, 1)
	go func() { // in flight across the rotation
		got, err := callWho(edge, base, "alice", 400)
		if err == nil && got != "alice" {
			err = errors.New("subject " + got)
		}
		slow <- err
	}()
	time.Sleep(100 * time.Millisecond)
	after := p.rotate(t)
	deadline := time.Now().Add(5 * time.Second)
	for src.Certificate().Leaf.SerialNumber.Cmp(after.SerialNumber) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()
	if err := <-slow; err != nil {
		t.Errorf("the call in flight during rotation: %v", err)
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed during rotation; first: %v", n, calls.Load(), firstErr.Load())
	}

	// A new connection now sees the new certificate.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), fresh.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	served := conn.ConnectionState().PeerCertificates[0].SerialNumber
	if served.Cmp(before) == 0 || served.Cmp(after.SerialNumber) != 0 {
		t.Fatalf("served serial %s; before %s, rotated to %s", served, before, after.SerialNumber)
	}
	t.Logf("%d calls during rotation, none failed", calls.Load())
}
