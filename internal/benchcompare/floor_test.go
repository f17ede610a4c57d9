package benchcompare

import (
	"context"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The refusal server is ready, answers every Check UNAVAILABLE from its tap, and stops
// with its context.
func TestServeRefusals(t *testing.T) {
	g, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeRefusals(ctx, g, h) }()

	resp, err := http.Get("http://" + h.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d", resp.StatusCode)
	}
	conn, err := grpc.NewClient(g.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 3 {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = authv3.NewAuthorizationClient(conn).Check(cctx, &authv3.CheckRequest{})
		ccancel()
		if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "overloaded") {
			t.Fatalf("Check: %v, want UNAVAILABLE from the tap", err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeRefusals: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeRefusals did not return after its context ended")
	}
}

func TestGoodputBound(t *testing.T) {
	for _, c := range []struct {
		a, r time.Duration
		k    float64
		want float64
	}{
		{80 * time.Microsecond, 8 * time.Microsecond, 1, 1},        // offered capacity: nothing refused
		{80 * time.Microsecond, 9600 * time.Nanosecond, 2, 0.8636}, // BENCHMARKS.md's fit
		{60 * time.Microsecond, 6 * time.Microsecond, 2, 0.8889},
		{55 * time.Microsecond, 5 * time.Microsecond, 2, 0.9},
		{80 * time.Microsecond, 50 * time.Microsecond, 2, 0}, // refusals alone fill the core
		{8 * time.Microsecond, 8 * time.Microsecond, 2, 0},
	} {
		if got := goodputBound(c.a, c.r, c.k); math.Abs(got-c.want) > 0.0001 {
			t.Errorf("goodputBound(%v, %v, %g) = %.4f, want %.4f", c.a, c.r, c.k, got, c.want)
		}
	}
}
