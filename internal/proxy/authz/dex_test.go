package authz_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/config"
	"github.com/gatehouse-mcp/gatehouse/internal/ecslog/ecslogtest"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/authz"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc/oidctest"
)

const dexClient, dexSecret = "gatehouse-test", "dex-test-secret"

// startDex runs the real Dex IdP (tools/dexserver, built by `make test` and named by
// GATEHOUSE_DEX_BIN) on a free loopback port and returns its issuer URL.
func startDex(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_DEX_BIN")
	if bin == "" {
		t.Skip("SKIPPED: GATEHOUSE_DEX_BIN is not set, so the Dex interoperability test did not run; `make test` builds Dex and sets it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	issuer := "http://" + addr + "/dex"
	cmd := exec.Command(bin, "-listen", addr, "-issuer", issuer, "-client-id", dexClient, "-client-secret", dexSecret,
		"-password-user", "nina@example.com:nina-pw:network-engineers,sam@example.com:sam-pw:service-desk")
	var stderr ecslogtest.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Dex stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- line
			}
		}
	}()
	select {
	case got := <-ready:
		if got != issuer {
			t.Fatalf("Dex says issuer %q, want %q", got, issuer)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Dex did not become ready")
	}
	return issuer
}

// dexToken does the password grant and returns the access token.
func dexToken(t *testing.T, issuer, user, password string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password},
		"scope": {"openid email profile groups"}}
	req, _ := http.NewRequest("POST", issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(dexClient, dexSecret)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("Dex password grant: HTTP %d %s %v", resp.StatusCode, body.Error, err)
	}
	return body.AccessToken
}

// Tokens from a real third-party IdP (Dex v2.45.1) are accepted and rejected exactly as
// our own issuer's are. Dex cannot mint RFC 8707 audiences: its access tokens carry the
// client id as audience, and (like its ID tokens) an at_hash claim.
func TestDexTokens(t *testing.T) {
	issuer := startDex(t)
	dexConfig := func(c *config.Config) {
		c.OIDC.Issuer = issuer
		none := []string{}
		c.OIDC.IDTokenClaims = &none
		for i := range c.Servers {
			c.Servers[i].Audiences = []string{dexClient}
		}
		c.Servers[1].Audiences = []string{"some-other-client"} // servicenow
	}
	h := newHarness(t, withConfig(dexConfig))
	nina := dexToken(t, issuer, "nina@example.com", "nina-pw")
	sam := dexToken(t, issuer, "sam@example.com", "sam-pw")

	// Accepted, with groups and subject from Dex, and decided by the default policy.
	set, _ := allowed(t, h.check(mcpPost(cc, nina, callBody(1, "list_devices", nil))))
	if set[authz.HeaderSubject] == "" || set["x-gatehouse-roles"] != "network-engineers" {
		t.Fatalf("Dex identity not mapped: %v", set)
	}
	allowed(t, h.check(mcpPost(cc, sam, callBody(2, "list_devices", nil))))
	d := denied(t, h.check(mcpPost(cc, sam, callBody(3, "run_show_commands", nil))), 200)
	d.rpcError(t, 3, authz.CodeForbidden)

	// Rejected: wrong audience, tampered signature, expiry, another Dex instance's token,
	// and claims re-signed with a key Dex never published.
	d = denied(t, h.check(mcpPost("servicenow", sam, callBody(4, "search_incidents", nil))), 401)
	if !strings.Contains(d.headers["www-authenticate"], `error="invalid_token"`) {
		t.Fatalf("challenge %q", d.headers["www-authenticate"])
	}
	parts := strings.Split(nina, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 0xff
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	denied(t, h.check(mcpPost(cc, tampered, callBody(5, "list_devices", nil))), 401)

	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	forger := oidctest.NewIssuer(t)
	denied(t, h.check(mcpPost(cc, forger.Token(claims), callBody(6, "list_devices", nil))), 401)

	other := startDex(t)
	denied(t, h.check(mcpPost(cc, dexToken(t, other, "nina@example.com", "nina-pw"), callBody(7, "list_devices", nil))), 401)

	// Dex tokens live 24h; a verifier whose clock is 25h ahead must refuse them.
	late := newHarness(t, withConfig(dexConfig), withClock(func() time.Time { return time.Now().Add(25 * time.Hour) }))
	d = denied(t, late.check(mcpPost(cc, nina, callBody(8, "list_devices", nil))), 401)
	if !strings.Contains(d.headers["www-authenticate"], "expired") {
		t.Fatalf("challenge %q", d.headers["www-authenticate"])
	}

	// With the default ID-token markers, Dex's access tokens (which carry at_hash) are
	// refused as ID tokens: this is why a Dex deployment sets oidc.id_token_claims: [].
	strict := newHarness(t, withConfig(func(c *config.Config) {
		dexConfig(c)
		c.OIDC.IDTokenClaims = &[]string{"nonce", "at_hash", "c_hash"}
	}))
	d = denied(t, strict.check(mcpPost(cc, nina, callBody(9, "list_devices", nil))), 401)
	if !strings.Contains(d.headers["www-authenticate"], "ID token") {
		t.Fatalf("challenge %q", d.headers["www-authenticate"])
	}
}
