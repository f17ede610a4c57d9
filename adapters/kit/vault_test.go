package kit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/vaulttest"
)

// These tests run the kit's VaultSource against vaulttest, a contract double of exactly the
// Vault HTTP endpoints the kit uses (no Vault server can be built on these machines; see
// docs/vault.md). TestRealVault runs the same code against a real Vault when
// VAULT_ADDR and VAULT_TOKEN are set.

func metricsFor() *kit.Metrics {
	return kit.NewServer(kit.Options{Name: "t", Registry: prometheus.NewRegistry()}).Metrics
}

func TestVaultTokenAuthCachingAndRotation(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	srv := httptest.NewServer(double)
	defer srv.Close()
	double.Put("gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "v1-secret"})
	ctx := context.Background()
	src, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: srv.URL, Auth: "token", Token: double.RootToken(), CacheTTL: time.Minute}, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Get(ctx, "catalyst-center")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Field("password"); p != "v1-secret" {
		t.Fatalf("password %q", p)
	}
	// The short cache spares Vault a read per call...
	for range 5 {
		if _, err := src.Get(ctx, "catalyst-center"); err != nil {
			t.Fatal(err)
		}
	}
	if n := double.Reads("gatehouse/catalyst-center"); n != 1 {
		t.Fatalf("%d reads for 6 Gets", n)
	}
	// ...and an upstream 401 (the adapter calls Invalidate) picks up a rotated secret at once.
	double.Put("gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "v2-secret"})
	src.Invalidate("catalyst-center")
	s, _ = src.Get(ctx, "catalyst-center")
	if p, _ := s.Field("password"); p != "v2-secret" {
		t.Fatalf("rotated password not read: %q", p)
	}
	if _, err := src.Get(ctx, "servicenow"); !errors.Is(err, kit.ErrSecretNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	// A bad token is refused at start, with a message that does not contain it.
	_, err = kit.NewVaultSource(ctx, kit.VaultConfig{Address: srv.URL, Auth: "token", Token: "not-a-token"}, metricsFor(), zerolog.Nop())
	if err == nil || strings.Contains(err.Error(), "not-a-token") {
		t.Fatalf("bad token: %v", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVaultAppRoleLogsInAgainWhenTheTokenExpires(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{TokenTTL: 2 * time.Second})
	srv := httptest.NewServer(double)
	defer srv.Close()
	double.AddAppRole("catalyst-center", "role-123", "secret-456", "adapters")
	double.Put("gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "pw"})
	dir := t.TempDir()
	cfg := kit.VaultConfig{Address: srv.URL, Auth: "approle",
		RoleIDFile: writeFile(t, dir, "role_id", "role-123"), SecretIDFile: writeFile(t, dir, "secret_id", "secret-456"),
		CacheTTL: time.Nanosecond}
	ctx := context.Background()
	src, err := kit.NewVaultSource(ctx, cfg, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Get(ctx, "catalyst-center"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // the AppRole token has expired
	if _, err := src.Get(ctx, "catalyst-center"); err != nil {
		t.Fatalf("no re-login after expiry: %v", err)
	}
	if double.Logins() != 2 {
		t.Fatalf("%d logins", double.Logins())
	}
	// Wrong AppRole credentials are refused at start.
	cfg.SecretIDFile = writeFile(t, dir, "bad", "wrong")
	if _, err := kit.NewVaultSource(ctx, cfg, metricsFor(), zerolog.Nop()); err == nil {
		t.Fatal("wrong secret_id accepted")
	}
}

func TestVaultRenewsItsToken(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	srv := httptest.NewServer(double)
	defer srv.Close()
	tok := double.IssueToken(2*time.Second, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: srv.URL, Auth: "token", Token: tok}, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go src.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for double.Renewals() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the token was never renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // past the original expiry: renewals kept it alive
	double.Put("gatehouse/x", map[string]any{"k": "v"})
	if _, err := src.Get(ctx, "x"); err != nil {
		t.Fatalf("renewed token no longer works: %v", err)
	}
}

// TestRealVault runs against a real Vault: it mounts a fresh KV v2 engine, writes, reads,
// rotates and checks the re-read after Invalidate, then removes the mount.
func TestRealVault(t *testing.T) {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Skip("SKIPPED: VAULT_ADDR and VAULT_TOKEN are not set, so the kit was NOT tested against a real Vault here " +
			"(only against the contract double); run e.g. `vault server -dev` and set both to run it")
	}
	ctx := context.Background()
	admin, err := vault.NewClient(&vault.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	admin.SetToken(token)
	mount := fmt.Sprintf("gatehouse-test-%d", time.Now().UnixNano())
	if err := admin.Sys().MountWithContext(ctx, mount, &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Sys().UnmountWithContext(ctx, mount) }()
	time.Sleep(500 * time.Millisecond) // KV v2 upgrades its storage after mounting
	kv := admin.KVv2(mount)
	if _, err := kv.Put(ctx, "gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "one"}); err != nil {
		t.Fatal(err)
	}
	src, err := kit.NewVaultSource(ctx, kit.VaultConfig{Address: addr, Token: token, Mount: mount, CacheTTL: time.Minute}, metricsFor(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Get(ctx, "catalyst-center")
	if p, _ := s.Field("password"); err != nil || p != "one" {
		t.Fatalf("%v %q", err, p)
	}
	if _, err := kv.Put(ctx, "gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "two"}); err != nil {
		t.Fatal(err)
	}
	s, _ = src.Get(ctx, "catalyst-center")
	if p, _ := s.Field("password"); p != "one" {
		t.Fatal("cache not used")
	}
	src.Invalidate("catalyst-center")
	s, _ = src.Get(ctx, "catalyst-center")
	if p, _ := s.Field("password"); p != "two" {
		t.Fatalf("rotation not picked up: %q", p)
	}
	if _, err := src.Get(ctx, "nope"); !errors.Is(err, kit.ErrSecretNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
}

// Every Vault call is counted by operation and outcome, so that an operator sees failing
// logins or renewals before the token runs out (gatehouse_vault_operation_duration_seconds).
func TestVaultOperationsAreCounted(t *testing.T) {
	double := vaulttest.New(vaulttest.Options{})
	srv := httptest.NewServer(double)
	defer srv.Close()
	double.AddAppRole("catalyst-center", "role-123", "secret-456", "adapters")
	double.Put("gatehouse/catalyst-center", map[string]any{"username": "admin", "password": "pw"})
	reg := prometheus.NewRegistry()
	m := kit.NewServer(kit.Options{Name: "t", Registry: reg}).Metrics
	dir := t.TempDir()
	cfg := kit.VaultConfig{Address: srv.URL, Auth: "approle",
		RoleIDFile: writeFile(t, dir, "role_id", "role-123"), SecretIDFile: writeFile(t, dir, "secret_id", "secret-456")}
	ctx := context.Background()
	src, err := kit.NewVaultSource(ctx, cfg, m, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Get(ctx, "catalyst-center"); err != nil {
		t.Fatal(err)
	}
	cfg.SecretIDFile = writeFile(t, dir, "bad", "wrong")
	if _, err := kit.NewVaultSource(ctx, cfg, m, zerolog.Nop()); err == nil {
		t.Fatal("wrong secret_id accepted")
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "gatehouse_vault_operation_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			var op, outcome string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "operation":
					op = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			got[op+"/"+outcome] = s.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{"login/success": 1, "login/error": 1, "read/success": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("vault operations %v, want %v", got, want)
	}
}
