package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc"
	"github.com/gatehouse-mcp/gatehouse/internal/proxy/oidc/oidctest"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

const aud = "http://127.0.0.1:8080/mcp/catalyst-center"

func newVerifier(t *testing.T, iss *oidctest.Issuer, mod func(*oidc.Config)) *oidc.Verifier {
	t.Helper()
	cfg := oidc.Config{
		Issuer:                 iss.URL,
		Algorithms:             []string{"RS256", "ES256"},
		ClockSkew:              30 * time.Second,
		JWKSMinRefreshInterval: time.Hour,
		JWKSRefreshInterval:    time.Hour,
		TokenCacheSize:         100,
		Claims: oidc.ClaimNames{Groups: "groups", Scopes: []string{"scope", "scp"}, AMR: "amr", Email: "email",
			ClientID: []string{"client_id", "azp"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	v := oidc.New(cfg, oidc.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go v.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("verifier never became ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return v
}

func reason(t *testing.T, err error) oidc.Reason {
	t.Helper()
	var te *oidc.TokenError
	if !errors.As(err, &te) {
		t.Fatalf("want a TokenError, got %v", err)
	}
	return te.Reason
}

func TestClaimMapping(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *oidc.Config) { c.Claims.Groups = "realm_access.roles" })
	c := iss.Claims("alice", aud)
	c["realm_access"] = map[string]any{"roles": []any{"network-engineers"}}
	c["scope"] = "mcp:tools openid"
	c["amr"] = []any{"pwd", "mfa"}
	c["email"] = "alice@example.com"
	id, err := v.Verify(context.Background(), iss.Token(c), []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "alice" || id.Email != "alice@example.com" || id.ClientID != "test-client" ||
		len(id.Groups) != 1 || id.Groups[0] != "network-engineers" || len(id.Scopes) != 2 || len(id.AMR) != 2 {
		t.Fatalf("identity %+v", id)
	}
}

// security 20: an unknown kid triggers one JWKS refresh, rate-limited.
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *oidc.Config) { c.JWKSMinRefreshInterval = time.Hour })
	before := iss.JWKSRequests.Load()

	// A key the issuer has just rotated to: one refresh finds it.
	if _, err := v.Verify(context.Background(), iss.Token(iss.Claims("a", aud)), []string{aud}); err != nil {
		t.Fatal(err)
	}
	k := iss.Rotate("ES256")
	// The limit is an hour and discovery fetched the keys just now, so the new kid must
	// not trigger a fetch: it is refused as unknown until the interval has passed.
	_, err := v.Verify(context.Background(), iss.SignWith(k, "at+jwt", iss.Claims("a", aud)), []string{aud})
	if r := reason(t, err); r != oidc.ReasonUnknownKey {
		t.Fatalf("reason %s", r)
	}
	if got := iss.JWKSRequests.Load() - before; got != 0 {
		t.Fatalf("rate limit ignored: %d JWKS fetches", got)
	}
}

func TestRotationPicksUpNewKeyOnce(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	clock := testkit.NewClock(time.Now()) // rate limits are tested without sleeping
	cfg := oidc.Config{Issuer: iss.URL, Algorithms: []string{"RS256", "ES256"}, ClockSkew: time.Minute,
		JWKSMinRefreshInterval: 10 * time.Second, JWKSRefreshInterval: time.Hour}
	v := oidc.New(cfg, oidc.Options{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	for !v.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	forged := make([]string, 5)
	for i := range forged {
		forged[i] = iss.SignWith(iss.NewKey("ES256"), "at+jwt", iss.Claims("a", aud))
	}
	clock.Advance(11 * time.Second) // the discovery fetch is now older than the limit
	before := iss.JWKSRequests.Load()
	k := iss.Rotate("ES256")
	// Many concurrent requests with the new kid share one refresh.
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := v.Verify(ctx, iss.SignWith(k, "at+jwt", iss.Claims("a", aud)), []string{aud})
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := iss.JWKSRequests.Load() - before; got != 1 {
		t.Fatalf("want exactly 1 JWKS refresh for a new kid, got %d", got)
	}
	// Forged tokens with unknown kids cause no more fetches within the interval...
	for _, tok := range forged {
		_, err := v.Verify(ctx, tok, []string{aud})
		if r := reason(t, err); r != oidc.ReasonUnknownKey {
			t.Fatalf("reason %s", r)
		}
	}
	if got := iss.JWKSRequests.Load() - before; got != 1 {
		t.Fatalf("unknown kids forced %d JWKS fetches", got)
	}
	// ...and one more once it has passed.
	clock.Advance(11 * time.Second)
	_, _ = v.Verify(ctx, forged[0], []string{aud})
	_, _ = v.Verify(ctx, forged[1], []string{aud})
	if got := iss.JWKSRequests.Load() - before; got != 2 {
		t.Fatalf("want 2 fetches after the interval, got %d", got)
	}
}

// security 20: an IdP outage keeps cached keys working.
func TestOutageKeepsCachedKeys(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *oidc.Config) { c.JWKSMinRefreshInterval = time.Second; c.TokenCacheSize = -1 })
	iss.Down.Store(true)
	time.Sleep(1100 * time.Millisecond)
	// Unknown kid: the refresh fails, so the token cannot be judged: "unavailable" (503,
	// try again), not "bad token" (401) — it may carry the IdP's new key.
	_, err := v.Verify(context.Background(), iss.SignWith(iss.NewKey("RS256"), "at+jwt", iss.Claims("a", aud)), []string{aud})
	if r := reason(t, err); r != oidc.ReasonKeysUnavailable {
		t.Fatalf("reason %s", r)
	}
	// The cached key still verifies.
	if _, err := v.Verify(context.Background(), iss.Token(iss.Claims("a", aud)), []string{aud}); err != nil {
		t.Fatalf("cached key stopped working during the outage: %v", err)
	}
}

func TestNotReadyWhileIssuerDown(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	iss.Down.Store(true)
	v := oidc.New(oidc.Config{Issuer: iss.URL, Algorithms: []string{"RS256"}, JWKSMinRefreshInterval: time.Second, JWKSRefreshInterval: time.Hour}, oidc.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	time.Sleep(200 * time.Millisecond)
	if v.Ready() {
		t.Fatal("ready without keys")
	}
	_, err := v.Verify(ctx, iss.Token(iss.Claims("a", aud)), []string{aud})
	if r := reason(t, err); r != oidc.ReasonKeysUnavailable {
		t.Fatalf("reason %s", r)
	}
	iss.Down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("never recovered after the issuer came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	clock := testkit.NewClock(time.Now())
	cfg := oidc.Config{Issuer: iss.URL, Algorithms: []string{"RS256"}, ClockSkew: 10 * time.Second,
		JWKSMinRefreshInterval: time.Hour, JWKSRefreshInterval: time.Hour, TokenCacheSize: 10}
	v := oidc.New(cfg, oidc.Options{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	for !v.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	c := iss.Claims("a", aud)
	c["exp"] = clock.Now().Add(time.Minute).Unix()
	tok := iss.Token(c)
	if _, err := v.Verify(ctx, tok, []string{aud}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(65 * time.Second) // within skew: still accepted (from the cache)
	if _, err := v.Verify(ctx, tok, []string{aud}); err != nil {
		t.Fatalf("within clock skew: %v", err)
	}
	clock.Advance(10 * time.Second) // past exp + skew
	_, err := v.Verify(ctx, tok, []string{aud})
	if r := reason(t, err); r != oidc.ReasonExpired {
		t.Fatalf("reason %s", r)
	}
}

// Time claims: iat more than clock_skew ahead is refused, nbf may be ahead by clock_skew and
// no more (go-oidc alone allows five minutes), and exp, nbf and iat must be JSON numbers
// (a numeric string is what go-oidc alone would accept).
func TestTimeClaims(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	v := newVerifier(t, iss, nil) // clock skew 30 s
	ctx := context.Background()
	now := time.Now()
	for _, c := range []struct {
		name   string
		mod    func(map[string]any)
		reason oidc.Reason // "" = accepted
	}{
		{"iat now", func(map[string]any) {}, ""},
		{"iat within skew", func(c map[string]any) { c["iat"] = now.Add(20 * time.Second).Unix() }, ""},
		{"iat in the future", func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }, oidc.ReasonNotYetValid},
		{"nbf within skew", func(c map[string]any) { c["nbf"] = now.Add(20 * time.Second).Unix() }, ""},
		{"nbf beyond skew", func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }, oidc.ReasonNotYetValid},
		{"exp as a string", func(c map[string]any) { c["exp"] = fmt.Sprint(now.Add(time.Hour).Unix()) }, oidc.ReasonMalformed},
		{"iat as a string", func(c map[string]any) { c["iat"] = fmt.Sprint(now.Unix()) }, oidc.ReasonMalformed},
		{"nbf as a string", func(c map[string]any) { c["nbf"] = fmt.Sprint(now.Unix()) }, oidc.ReasonMalformed},
		{"no iat, no nbf", func(c map[string]any) { delete(c, "iat"); delete(c, "nbf") }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			claims := iss.Claims("a", aud)
			c.mod(claims)
			_, err := v.Verify(ctx, iss.Token(claims), []string{aud})
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if r := reason(t, err); r != c.reason {
				t.Fatalf("reason %s, want %s (%v)", r, c.reason, err)
			}
		})
	}
}

// oidc.token_cache_size: -1 turns the verified-token cache off: every Verify checks the
// signature again and builds a new identity, where the cache hands back the one it kept
// (from the third Verify: a token is cached when it is verified the second time).
func TestTokenCacheOff(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	tok := iss.Token(iss.Claims("a", aud))
	for _, tc := range []struct {
		size   int
		cached bool
	}{{10, true}, {-1, false}} {
		v := newVerifier(t, iss, func(c *oidc.Config) { c.TokenCacheSize = tc.size })
		first, err := v.Verify(context.Background(), tok, []string{aud})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), tok, []string{aud}); err != nil {
			t.Fatal(err)
		}
		third, err := v.Verify(context.Background(), tok, []string{aud})
		if err != nil {
			t.Fatal(err)
		}
		if got := first != third && third == mustVerify(t, v, tok); got != tc.cached {
			t.Fatalf("token_cache_size %d: Verify served from the cache = %v, want %v", tc.size, got, tc.cached)
		}
	}
}

func mustVerify(t *testing.T, v *oidc.Verifier, tok string) *oidc.Identity {
	t.Helper()
	id, err := v.Verify(context.Background(), tok, []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
