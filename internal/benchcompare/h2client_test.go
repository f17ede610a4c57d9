package benchcompare

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// scripted answers each Check as its path says: /allow, /deny (403), /busy (a 503 denial),
// /unavailable (gRPC UNAVAILABLE), /slow (no answer until the caller gives up).
type scripted struct {
	authv3.UnimplementedAuthorizationServer
	gaveUp atomic.Int32 // /slow calls whose caller went away
	bodies atomic.Int64 // bytes of request bodies received
}

func (s *scripted) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	s.bodies.Add(int64(len(h.GetRawBody())))
	denied := func(code typev3.StatusCode) *authv3.CheckResponse {
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status: &typev3.HttpStatus{Code: code}, Body: strings.Repeat("x", 100)}}}
	}
	switch h.GetPath() {
	case "/allow":
		return &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{
			OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "k", Value: "v"}}}}}}, nil
	case "/deny":
		return denied(typev3.StatusCode_Forbidden), nil
	case "/busy":
		return denied(typev3.StatusCode_ServiceUnavailable), nil
	case "/unavailable":
		return nil, status.Error(codes.Unavailable, "busy")
	case "/slow":
		<-ctx.Done()
		s.gaveUp.Add(1)
		return nil, ctx.Err()
	}
	return nil, status.Error(codes.InvalidArgument, "unknown path")
}

func checkTo(t *testing.T, path string, bodySize int) []byte {
	t.Helper()
	msg, err := frameCheck(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Path: path, RawBody: make([]byte, bodySize)}}}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// The load generator's client reads what grpc-go's server answers as grpc-go's client would,
// ends a call at its deadline (and the server sees it go), keeps to the server's stream
// limit, and holds messages back while the connection's window is full without losing any.
func TestH2Client(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxConcurrentStreams(8), grpc.InitialConnWindowSize(64<<10), grpc.InitialWindowSize(64<<10))
	impl := &scripted{}
	authv3.RegisterAuthorizationServer(srv, impl)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	c, err := dialH2(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)

	for _, tc := range []struct {
		path string
		want tally
	}{
		{"/allow", tally{Allowed: 1}},
		{"/deny", tally{Denied: 1}},
		{"/busy", tally{Refused: 1}},
		{"/unavailable", tally{Refused: 1}},
		{"/nowhere", tally{Errors: 1}},
	} {
		var got tally
		got.record(c.check(checkTo(t, tc.path, 10), 5*time.Second))
		got.lat = nil
		if got.Allowed != tc.want.Allowed || got.Denied != tc.want.Denied || got.Refused != tc.want.Refused ||
			got.TimedOut != tc.want.TimedOut || got.Errors != tc.want.Errors {
			t.Errorf("%s: got %+v, want %+v", tc.path, got, tc.want)
		}
	}

	start := time.Now()
	var got tally
	got.record(c.check(checkTo(t, "/slow", 10), 200*time.Millisecond))
	if took := time.Since(start); got.TimedOut != 1 || took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("a call past its deadline: %+v after %s, want timed out after 200 ms", got, took)
	}
	for deadline := time.Now().Add(5 * time.Second); impl.gaveUp.Load() < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never saw the timed-out call end")
		}
	}

	// 400 calls of 20 KB each: fifty times the stream limit, and 8 MB through a 64 KB
	// connection window.
	const n, size = 400, 20 << 10
	var mu sync.Mutex
	var all tally
	var wg sync.WaitGroup
	before := impl.bodies.Load()
	msg := checkTo(t, "/allow", size)
	for range n {
		wg.Add(1)
		if err := c.send(msg, 10*time.Second, func(a answer, took time.Duration) {
			mu.Lock()
			all.record(a, took)
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("calls still unanswered after 30 s: %+v of %d", all, n)
	}
	if all.Allowed != n || impl.bodies.Load()-before != n*size {
		t.Errorf("%d calls past the stream limit and the window: %d allowed (%+v), %d body bytes arrived, want all",
			n, all.Allowed, all, impl.bodies.Load()-before)
	}
}

// parseCheckResponse reads the fields of an answer from what proto.Marshal writes.
func TestParseCheckResponse(t *testing.T) {
	for _, resp := range []*authv3.CheckResponse{
		{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}},
		{Status: &rpcstatus.Status{Code: 7}, HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: 503}, Body: "busy", Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "a", Value: "b"}}}}}},
		{Status: &rpcstatus.Status{Code: 16, Message: "no"}},
	} {
		b, err := frameResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseCheckResponse(b)
		if want := answerOf(resp, nil); err != nil || got != want {
			t.Errorf("%v: got %+v (%v), want %+v", resp, got, err, want)
		}
		if _, err := parseCheckResponse(b[:len(b)-1]); err == nil {
			t.Errorf("%v cut short: no error", resp)
		}
	}
}

func frameResponse(resp *authv3.CheckResponse) ([]byte, error) {
	b, err := proto.Marshal(resp)
	if err != nil {
		return nil, err
	}
	return append([]byte{0, 0, 0, 0, byte(len(b))}, b...), nil
}

// Whatever bytes protobuf decodes as a CheckResponse, parseCheckResponse reads the same
// answer from.
func FuzzParseCheckResponse(f *testing.F) {
	for _, resp := range []*authv3.CheckResponse{
		{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}},
		{Status: &rpcstatus.Status{Code: 7}, HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: 503}, Body: "busy"}}},
	} {
		b, err := proto.Marshal(resp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(append(b, b...)) // a field repeated: messages merge, the oneof's last wins
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp authv3.CheckResponse
		if proto.Unmarshal(b, &resp) != nil {
			return
		}
		got, err := parseCheckResponse(append([]byte{0, byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...))
		if want := answerOf(&resp, nil); err != nil || got != want {
			t.Fatalf("%x: got %+v (%v), protobuf says %+v", b, got, err, want)
		}
	})
}
