// Package oidc verifies OAuth 2.0 access tokens issued by an OpenID Connect provider, with
// coreos/go-oidc doing issuer, signature, algorithm and expiry checks, and this package adding
// what an MCP resource server needs on top: audience from a per-server list (RFC 8707),
// refusal of ID tokens, a rate-limited JWKS cache that survives IdP outages, and claim mapping
// for IdPs that name groups and scopes differently.
package oidc

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"
)

const cryptoSHA256 = crypto.SHA256

// Identity is what a verified token says about its bearer.
type Identity struct {
	Subject  string
	Issuer   string
	Email    string
	Groups   []string
	Scopes   []string
	AMR      []string
	ClientID string
	Audience []string
	Expiry   time.Time
	// Claims holds every claim of the token, for policies that need more.
	Claims map[string]any

	memoOnce sync.Once
	memo     any
}

// Memo returns f's result, computing it once per Identity. Verified identities are cached
// across requests, so callers can derive per-token data (a policy input document) once.
func (i *Identity) Memo(f func(*Identity) any) any {
	i.memoOnce.Do(func() { i.memo = f(i) })
	return i.memo
}

// Reason classifies a rejected token; it is a metric label and a log field.
type Reason string

// Reasons a token is rejected.
const (
	ReasonMalformed       Reason = "malformed"
	ReasonAlgorithm       Reason = "algorithm_not_allowed"
	ReasonSignature       Reason = "bad_signature"
	ReasonUnknownKey      Reason = "unknown_key"
	ReasonIssuer          Reason = "wrong_issuer"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonAudience        Reason = "wrong_audience"
	ReasonIDToken         Reason = "id_token"
	ReasonType            Reason = "wrong_token_type"
	ReasonKeysUnavailable Reason = "keys_unavailable"
)

// TokenError is a token that was not accepted. Description is safe to show the client: it
// never contains the token or its claims.
type TokenError struct {
	Reason      Reason
	Description string
	Err         error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Reason, e.Description, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Description)
}

func (e *TokenError) Unwrap() error { return e.Err }

// Unavailable reports whether the token could not be checked (as opposed to being bad).
func (e *TokenError) Unavailable() bool { return e.Reason == ReasonKeysUnavailable }

// Config is what the verifier is told about the identity provider and its tokens
// (gatehouse.yaml's oidc section, after defaults).
type Config struct {
	Issuer string
	// Algorithms is the signing-algorithm allowlist (asymmetric algorithms only).
	Algorithms []string
	// ClockSkew is how far past exp (and before nbf) a token is still accepted.
	ClockSkew time.Duration
	// JWKSMinRefreshInterval rate-limits refreshes triggered by an unknown kid;
	// JWKSRefreshInterval is the background refresh.
	JWKSMinRefreshInterval, JWKSRefreshInterval time.Duration
	// RequireJWTAccessTokenType accepts only typ at+jwt (RFC 9068).
	RequireJWTAccessTokenType bool
	// IDTokenClaims are claims only the IdP's ID tokens carry; a token with one is refused.
	IDTokenClaims []string
	Claims        ClaimNames
	// TokenCacheSize bounds the cache of verified tokens; 0 or less disables it.
	TokenCacheSize int
}

// ClaimNames say which claims carry groups, scopes, amr, email and the client id. A dotted
// name (realm_access.roles) reaches into nested objects; lists are tried in order.
type ClaimNames struct {
	Groups   string
	Scopes   []string
	AMR      string
	Email    string
	ClientID []string
}

// Options tune a Verifier beyond the config file, mostly for tests.
type Options struct {
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     zerolog.Logger
}

// Verifier checks access tokens of one issuer. It is safe for concurrent use.
type Verifier struct {
	cfg      Config
	now      func() time.Time
	client   *http.Client
	log      zerolog.Logger
	keys     *keySet
	verifier *gooidc.IDTokenVerifier
	allowed  map[string]bool
	cache    *tokenCache
	ready    atomic.Bool
}

// New returns a Verifier; call Run to discover the issuer and keep its keys fresh.
func New(cfg Config, opts Options) *Verifier {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	v := &Verifier{cfg: cfg, now: now, client: client, log: opts.Logger, allowed: map[string]bool{}}
	algs := make([]jose.SignatureAlgorithm, 0, len(cfg.Algorithms))
	for _, a := range cfg.Algorithms {
		v.allowed[a] = true
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	v.cache = newTokenCache(cfg.TokenCacheSize)
	v.keys = &keySet{client: client, minRefresh: cfg.JWKSMinRefreshInterval, now: now, algs: algs, onChange: v.cache.clear}
	v.verifier = gooidc.NewVerifier(cfg.Issuer, v.keys, &gooidc.Config{
		SkipClientIDCheck:    true, // audience is checked per server below, against a list
		SupportedSigningAlgs: cfg.Algorithms,
		// go-oidc compares exp with Now() exactly; moving "now" back by the skew accepts
		// tokens up to ClockSkew past expiry.
		Now: func() time.Time { return now().Add(-cfg.ClockSkew) },
	})
	return v
}

// Ready reports whether the issuer's signing keys have been fetched.
func (v *Verifier) Ready() bool { return v.ready.Load() }

// Run discovers the issuer (retrying with backoff until it answers), fetches its keys, then
// refreshes them on JWKSRefreshInterval until ctx ends. Failures are logged; cached keys
// stay in use.
func (v *Verifier) Run(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for {
		err := v.discover(ctx)
		if err == nil {
			break
		}
		v.log.Error().Err(err).Str("event.action", "oidc-discovery").Str("event.outcome", "failure").
			Str("gatehouse.issuer", v.cfg.Issuer).Dur("gatehouse.retry_in", backoff).
			Msg("cannot reach the OIDC issuer; every token is refused until its keys are fetched")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	v.ready.Store(true)
	v.log.Info().Str("event.action", "oidc-discovery").Str("event.outcome", "success").
		Str("gatehouse.issuer", v.cfg.Issuer).Msg("issuer keys fetched")
	t := time.NewTicker(v.cfg.JWKSRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.keys.refresh(ctx, true); err != nil {
				v.log.Warn().Err(err).Str("event.action", "jwks-refresh").Str("event.outcome", "failure").
					Msg("JWKS refresh failed; cached keys stay in use")
			}
		}
	}
}

func (v *Verifier) discover(ctx context.Context) error {
	pctx := gooidc.ClientContext(ctx, v.client)
	p, err := gooidc.NewProvider(pctx, v.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return errors.New("discovery document has no jwks_uri")
	}
	v.keys.setURL(meta.JWKSURI)
	return v.keys.refresh(ctx, true)
}

// Verify checks raw (the Bearer token) and that it was issued for one of audiences.
func (v *Verifier) Verify(ctx context.Context, raw string, audiences []string) (*Identity, error) {
	key := sha256.Sum256([]byte(raw))
	id, ok, gen := v.cache.get(key, v.now().Add(-v.cfg.ClockSkew))
	if !ok {
		var err error
		id, err = v.verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		v.cache.put(key, id, gen)
	}
	if !slices.ContainsFunc(id.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, &TokenError{Reason: ReasonAudience, Description: "the token was not issued for this MCP server (audience mismatch)"}
	}
	return id, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Identity, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, &TokenError{Reason: ReasonMalformed, Description: "the access token is not a signed JWT"}
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h jwtHeader
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return nil, &TokenError{Reason: ReasonMalformed, Description: "the token header is not valid base64url JSON"}
	}
	if !v.allowed[h.Alg] {
		return nil, &TokenError{Reason: ReasonAlgorithm, Description: fmt.Sprintf("signing algorithm %q is not allowed", h.Alg)}
	}
	typ := strings.ToLower(h.Typ)
	if v.cfg.RequireJWTAccessTokenType && typ != "at+jwt" && typ != "application/at+jwt" {
		return nil, &TokenError{Reason: ReasonType, Description: "the token is not a JWT access token (typ at+jwt required)"}
	}
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, v.classify(err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, &TokenError{Reason: ReasonMalformed, Description: "the token claims are not a JSON object", Err: err}
	}
	if err := v.checkTimes(claims); err != nil {
		return nil, err
	}
	if v.looksLikeIDToken(claims) {
		return nil, &TokenError{Reason: ReasonIDToken, Description: "an ID token is not an access token"}
	}
	if tok.Subject == "" {
		return nil, &TokenError{Reason: ReasonMalformed, Description: "the token has no subject"}
	}
	return &Identity{
		Subject:  tok.Subject,
		Issuer:   tok.Issuer,
		Email:    stringClaim(claims, v.cfg.Claims.Email),
		Groups:   listClaim(claims, v.cfg.Claims.Groups, false),
		Scopes:   firstListClaim(claims, v.cfg.Claims.Scopes),
		AMR:      listClaim(claims, v.cfg.Claims.AMR, false),
		ClientID: firstStringClaim(claims, v.cfg.Claims.ClientID),
		Audience: tok.Audience,
		Expiry:   tok.Expiry,
		Claims:   claims,
	}, nil
}

// checkTimes holds the time claims to RFC 7519 and to the configured clock skew, beyond
// what go-oidc checks: exp, nbf and iat must be JSON numbers (go-oidc also reads numeric
// strings); nbf may be at most clock_skew ahead (go-oidc allows five minutes); and a token
// issued (iat) more than clock_skew in the future is refused.
func (v *Verifier) checkTimes(claims map[string]any) error {
	now := v.now()
	for _, name := range []string{"exp", "nbf", "iat"} {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		t, isNum := raw.(float64)
		if !isNum {
			return &TokenError{Reason: ReasonMalformed, Description: fmt.Sprintf("the token's %s claim is not a number", name)}
		}
		at := time.Unix(int64(t), 0)
		switch name {
		case "nbf":
			if at.After(now.Add(v.cfg.ClockSkew)) {
				return &TokenError{Reason: ReasonNotYetValid, Description: "the token is not valid yet"}
			}
		case "iat":
			if at.After(now.Add(v.cfg.ClockSkew)) {
				return &TokenError{Reason: ReasonNotYetValid, Description: "the token was issued in the future"}
			}
		}
	}
	return nil
}

// looksLikeIDToken spots ID tokens: OIDC Core gives them nonce, at_hash and c_hash, which
// most IdPs' access tokens never carry (the list is configurable: Dex's do), and Keycloak
// labels them typ "ID". The audience check catches most ID tokens anyway (their audience is
// a client id), but not where a server accepts a client id as audience.
func (v *Verifier) looksLikeIDToken(claims map[string]any) bool {
	for _, c := range v.cfg.IDTokenClaims {
		if _, ok := claims[c]; ok {
			return true
		}
	}
	return claims["typ"] == "ID"
}

func (v *Verifier) classify(err error) error {
	var expired *gooidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return &TokenError{Reason: ReasonExpired, Description: "the token has expired"}
	case strings.Contains(msg, errNoKeys.Error()):
		return &TokenError{Reason: ReasonKeysUnavailable, Description: "the issuer's signing keys are not available", Err: err}
	case strings.Contains(msg, errUnknownKey.Error()):
		return &TokenError{Reason: ReasonUnknownKey, Description: "the token is signed with a key the issuer does not publish"}
	case strings.Contains(msg, "failed to verify signature"):
		return &TokenError{Reason: ReasonSignature, Description: "the token signature does not verify"}
	case strings.Contains(msg, "different provider"):
		return &TokenError{Reason: ReasonIssuer, Description: "the token was issued by another issuer"}
	case strings.Contains(msg, "nbf"):
		return &TokenError{Reason: ReasonNotYetValid, Description: "the token is not valid yet"}
	default:
		return &TokenError{Reason: ReasonMalformed, Description: "the token could not be read", Err: err}
	}
}

// claimAt follows a dotted path (realm_access.roles) into nested objects.
func claimAt(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for p := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func stringClaim(claims map[string]any, name string) string {
	v, _ := claimAt(claims, name)
	s, _ := v.(string)
	return s
}

func firstStringClaim(claims map[string]any, names []string) string {
	for _, n := range names {
		if s := stringClaim(claims, n); s != "" {
			return s
		}
	}
	return ""
}

// listClaim reads an array of strings, or one string (split on spaces when spaceSeparated,
// as the OAuth "scope" claim is).
func listClaim(claims map[string]any, name string, spaceSeparated bool) []string {
	v, ok := claimAt(claims, name)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case string:
		if spaceSeparated {
			return strings.Fields(x)
		}
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func firstListClaim(claims map[string]any, names []string) []string {
	for _, n := range names {
		if l := listClaim(claims, n, true); l != nil {
			return l
		}
	}
	return nil
}

// tokenCache remembers verified identities so that a client's repeated calls do not pay
// for signature verification each time. Expiry is still checked on every hit, and the cache
// is dropped whenever the issuer's keys change.
//
// A token is cached the second time it is verified, not the first: until then only its
// hash is remembered. An identity (claims and the policy's subject value) takes kilobytes, so
// caching every token of callers that use each token once (a new token per request) filled
// the cache with identities never asked for again: 160 MB more RSS at 10,000 entries
// (BENCHMARKS.md, side by side with stock OPA). Clients that reuse their token pay one more
// verification, then hit.
type tokenCache struct {
	size int
	mu   sync.RWMutex
	m    map[[32]byte]*Identity
	seen map[[32]byte]struct{} // verified once, not cached yet
	// gen counts key-set changes. A verification that started before a change must not be
	// cached after it: the key it used may be the one just removed.
	gen uint64
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, m: make(map[[32]byte]*Identity), seen: make(map[[32]byte]struct{})}
}

// get returns a cached identity still valid at now, and the generation to pass to put.
func (c *tokenCache) get(key [32]byte, now time.Time) (*Identity, bool, uint64) {
	if c.size <= 0 {
		return nil, false, 0
	}
	c.mu.RLock()
	id, ok := c.m[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || !now.Before(id.Expiry) {
		return nil, false, gen
	}
	return id, true, gen
}

// put caches id the second time its token is put, unless the key set changed since gen
// was read.
func (c *tokenCache) put(key [32]byte, id *Identity, gen uint64) {
	if c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, again := c.seen[key]; !again {
		evictSome(c.seen, c.size)
		c.seen[key] = struct{}{}
		return
	}
	delete(c.seen, key)
	evictSome(c.m, c.size)
	c.m[key] = id
}

// evictSome drops an arbitrary tenth of a full map; map order is random, so this
// approximates random eviction.
func evictSome[V any](m map[[32]byte]V, size int) {
	if len(m) < size {
		return
	}
	n := size/10 + 1
	for k := range m {
		delete(m, k)
		if n--; n == 0 {
			break
		}
	}
}

func (c *tokenCache) clear() {
	c.mu.Lock()
	clear(c.m)
	clear(c.seen)
	c.gen++
	c.mu.Unlock()
}
