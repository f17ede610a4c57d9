package extproc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/edge"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/extproc"
)

// upper is a guard that upper-cases every message and tags the response headers.
type upper struct{ mode extproc.BodyMode }

func (g upper) Begin(meta *structpb.Struct) extproc.Exchange {
	if meta == nil {
		return nil
	}
	return &upperEx{mode: g.mode}
}

type upperEx struct{ mode extproc.BodyMode }

func (x *upperEx) ResponseHeaders(map[string]string) (map[string]string, []string, extproc.BodyMode) {
	return map[string]string{"x-processed": "yes"}, []string{"x-secret"}, x.mode
}

func (x *upperEx) Message(msg []byte) ([]byte, error) {
	if bytes.Contains(msg, []byte("poison")) {
		return nil, errors.New("cannot examine this")
	}
	return bytes.ToUpper(msg), nil
}

func client(t *testing.T, g extproc.Guard) *edge.Processor {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	(&extproc.Server{Guard: g}).Register(srv)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &edge.Processor{Client: extprocv3.NewExternalProcessorClient(conn)}
}

// chunked serves body in the given pieces.
type chunked struct{ parts []string }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}
func (c *chunked) Close() error { return nil }

func response(ct string, parts ...string) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}, "X-Secret": {"s"}},
		ContentLength: -1, Body: &chunked{parts: parts}}
}

var meta, _ = structpb.NewStruct(map[string]any{"server": "s"})

// Server-sent events are rewritten one complete event at a time, whatever the chunking:
// an event split across chunks, CRLF line ends, an event with several data lines, and a
// comment that passes as it is.
func TestEventsRewrittenWholeAcrossChunks(t *testing.T) {
	p := client(t, upper{mode: extproc.BodyEvents})
	resp := response("text/event-stream",
		"event: message\r\ndata: {\"a\":", "1}\r\n\r\n: keep-alive\n\n", "data: {\"b\":\ndata: 2}\n\ndata: {\"c\":3}")
	if err := p.Process(context.Background(), meta, http.Header{}, resp); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := "event: message\ndata: {\"A\":1}\n\n: keep-alive\n\ndata: {\"B\":\ndata: 2}\n\ndata: {\"C\":3}\n\n"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
	if resp.Header.Get("X-Processed") != "yes" || resp.Header.Get("X-Secret") != "" || resp.ContentLength != -1 {
		t.Fatalf("headers %v", resp.Header)
	}
}

// A JSON body is examined whole, however it arrives; one that cannot be examined is not
// delivered (fail closed): its stream ends with an error instead.
func TestJSONWholeAndFailClosed(t *testing.T) {
	p := client(t, upper{mode: extproc.BodyJSON})
	resp := response("application/json", `{"result":`, `{"x":1}}`)
	if err := p.Process(context.Background(), meta, http.Header{}, resp); err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(resp.Body); string(out) != `{"RESULT":{"X":1}}` {
		t.Fatalf("got %q", out)
	}
	resp = response("application/json", `{"result":"poison"}`)
	if err := p.Process(context.Background(), meta, http.Header{}, resp); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	if err == nil || strings.Contains(string(out), "poison") {
		t.Fatalf("an unexaminable body was delivered: %q, %v", out, err)
	}
}

// Without the authz service's metadata (an exempt route) nothing is changed.
func TestNoMetadataNoChange(t *testing.T) {
	p := client(t, upper{mode: extproc.BodyJSON})
	resp := response("application/json", `{"a":1}`)
	if err := p.Process(context.Background(), nil, http.Header{}, resp); err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(resp.Body); string(out) != `{"a":1}` || resp.Header.Get("X-Secret") != "s" {
		t.Fatalf("changed: %q %v", out, resp.Header)
	}
}
