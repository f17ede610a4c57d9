// Package oidctest runs a real OpenID Connect issuer over HTTP for tests: discovery, a JWKS
// endpoint, signing keys that rotate, and an outage switch. Tokens it mints are real signed
// JWTs, so the verifier under test does exactly what it does against a production IdP.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is an OIDC issuer served on loopback.
type Issuer struct {
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	published []*Key // in the JWKS, current signing key first
	seq       int

	// JWKSRequests counts JWKS fetches, so tests can see refreshes and their rate limit.
	JWKSRequests atomic.Int64
	// Down makes every endpoint answer 503, to simulate an IdP outage.
	Down atomic.Bool
}

// Key is a signing key of the issuer.
type Key struct {
	ID   string
	Alg  string
	priv crypto.Signer
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// NewIssuer starts an issuer with one RS256 key; it stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks", i.jwks)
	i.srv = httptest.NewServer(i.down(mux))
	i.URL = i.srv.URL
	t.Cleanup(i.srv.Close)
	i.Rotate("RS256")
	return i
}

func (i *Issuer) down(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i.Down.Load() {
			http.Error(w, "issuer is down", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.URL + "/jwks",
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	i.JWKSRequests.Add(1)
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.published {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// NewKey makes a key that is not published (yet).
func (i *Issuer) NewKey(alg string) *Key {
	i.mu.Lock()
	i.seq++
	id := fmt.Sprintf("key-%d", i.seq)
	i.mu.Unlock()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		panic("oidctest: unsupported algorithm " + alg)
	}
	if err != nil {
		panic(err)
	}
	return &Key{ID: id, Alg: alg, priv: priv}
}

// Rotate publishes a new key and makes it the signing key; older keys stay published.
func (i *Issuer) Rotate(alg string) *Key {
	k := i.NewKey(alg)
	i.mu.Lock()
	i.published = append([]*Key{k}, i.published...)
	i.mu.Unlock()
	return k
}

// Retire removes a key from the JWKS.
func (i *Issuer) Retire(k *Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, p := range i.published {
		if p == k {
			i.published = append(i.published[:n], i.published[n+1:]...)
			return
		}
	}
}

// Current returns the current signing key.
func (i *Issuer) Current() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.published[0]
}

// Claims returns a valid access-token claim set for subject and audience, expiring in an hour.
func (i *Issuer) Claims(sub, aud string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.URL, "sub": sub, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"client_id": "test-client",
	}
}

// Token signs claims with the current key as an RFC 9068 access token (typ at+jwt).
func (i *Issuer) Token(claims map[string]any) string {
	return i.SignWith(i.Current(), "at+jwt", claims)
}

// SignWith signs claims with key k and the given typ header.
func (i *Issuer) SignWith(k *Key, typ string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", k.ID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.priv}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return s
}

// Unsigned returns a token with alg "none".
func Unsigned(claims map[string]any) string {
	return rawJWT(map[string]any{"alg": "none", "typ": "at+jwt"}, claims) + "."
}

// HS256WithPublicKey forges the classic key-confusion token: HMAC-SHA256 keyed with the
// issuer's public RSA key in PEM, which a naive verifier would accept.
func HS256WithPublicKey(k *Key, claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		panic(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signing := rawJWT(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": k.ID}, claims)
	mac := hmac.New(sha256.New, pemKey)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func rawJWT(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
}
