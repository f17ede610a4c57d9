package benchcompare

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa-envoy-plugin/envoyauth"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
)

// The benchmark's Rego-only policy decides every request type as Gatehouse does. Gatehouse
// runs in process over loopback gRPC; OPA's side evaluates the benchmark's bundle with the
// input opa-envoy-plugin builds (envoyauth.RequestToInput), without the plugin's server.
func TestDecisionsMatchOPA(t *testing.T) {
	iss, err := startIssuer()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.close()
	policies, err := filepath.Abs("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(gatehouseConfig(policies, iss.URL, grpcLis.Addr().String(), httpLis.Addr().String())))
	if err != nil {
		t.Fatal(err)
	}
	svc := authz.NewService(cfg, zerolog.Nop(), oidc.Options{})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, grpcLis, httpLis) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); !svc.Authz.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Gatehouse not ready")
		}
	}
	conn, err := grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	dir := filepath.Join(t.TempDir(), "opa")
	if err := layoutOPA(dir, policies, iss); err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(rego.Query("data.envoy.authz.result"), rego.Load([]string{dir}, nil)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opa := func(ctx context.Context, req *authv3.CheckRequest) Decision {
		in, err := envoyauth.RequestToInput(req, logging.NewNoOpLogger(), nil, false)
		if err != nil {
			return Decision{Err: err.Error()}
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(in))
		if err != nil || len(rs) != 1 {
			return Decision{Err: "no result"}
		}
		res, _ := rs[0].Expressions[0].Value.(map[string]any)
		if res["allowed"] == true {
			return Decision{Allowed: true}
		}
		status, _ := res["http_status"].(json.Number)
		n, _ := status.Int64()
		return Decision{Status: int(n)}
	}

	cs := cases(iss)
	decisions, bad := compare(ctx, overGRPC(authv3.NewAuthorizationClient(conn)), opa, cs)
	for _, m := range bad {
		t.Errorf("%s: Gatehouse %s, OPA %s", m.Case, m.Gatehouse, m.OPA)
	}
	// The cases exercise every kind of answer, so agreement is not agreement on one answer.
	kinds := map[string]int{}
	for _, d := range decisions {
		kinds[d[0].String()]++
	}
	for _, k := range []string{"allow", "deny 403", "deny 401"} {
		if kinds[k] < 3 {
			t.Errorf("only %d cases answered %q: %v", kinds[k], k, kinds)
		}
	}
}
