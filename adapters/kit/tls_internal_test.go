package kit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// An adapter process does not start in a way that believes anyone's identity headers,
// unless told so explicitly.
func TestAdapterRefusesToStartWithoutMTLS(t *testing.T) {
	t.Setenv("GATEHOUSE_INSECURE_NO_MTLS", "")
	a := Adapter{Name: "test", UpstreamEnv: "TEST_UPSTREAM", Setup: func(context.Context, *Server, Upstream) error {
		t.Fatal("set up without mTLS")
		return nil
	}}
	for _, args := range [][]string{
		{"--upstream", "http://127.0.0.1:1", "--secrets", "env"},
		{"--upstream", "http://127.0.0.1:1", "--secrets", "env", "--tls-cert", "/c", "--tls-key", "/k"},
	} {
		if err := run(context.Background(), a, args); !errors.Is(err, ErrNoMTLS) {
			t.Errorf("%v: want ErrNoMTLS, got %v", args, err)
		}
	}
	err := run(context.Background(), a, []string{"--upstream", "http://x", "--tls-client-ca", "/ca"})
	if err == nil || !strings.Contains(err.Error(), "--tls-client-ca needs --tls-cert") {
		t.Errorf("client CA without a certificate: %v", err)
	}
}
