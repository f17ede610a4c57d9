package authz

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A panic in a Check is an error answer (Envoy denies), not a crashed service.
func TestRecovererDenies(t *testing.T) {
	resp, err := recoverer(zerolog.Nop())(context.Background(), nil, &grpc.UnaryServerInfo{},
		func(context.Context, any) (any, error) { panic("boom") })
	if resp != nil || status.Code(err) != codes.Internal {
		t.Fatalf("got %v, %v", resp, err)
	}
}
