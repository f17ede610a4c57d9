package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// errUnknownKey means no cached key has the token's kid and a refresh was not allowed or
// did not bring one.
var errUnknownKey = errors.New("no signing key with the token's kid")

// errNoKeys means the issuer's keys could not be fetched (never, or not when a new kid
// appeared): the token may be fine, so the answer is "try again", not "bad token".
var errNoKeys = errors.New("issuer signing keys are not available")

// errRateLimited means a refresh was skipped because one ran less than minRefresh ago.
var errRateLimited = errors.New("JWKS refresh rate-limited")

// keySet is an oidc.KeySet over the issuer's JWKS. Unlike go-oidc's RemoteKeySet it refreshes
// only for an unknown kid (never for a bad signature), at most once per minRefresh, so a flood
// of forged tokens cannot turn into a flood of requests to the IdP. Cached keys keep working
// through an IdP outage.
type keySet struct {
	client     *http.Client
	minRefresh time.Duration
	now        func() time.Time
	onChange   func() // called after a refresh changed the keys

	mu          sync.RWMutex
	url         string
	keys        []jose.JSONWebKey
	lastAttempt time.Time
	refreshing  chan struct{} // non-nil while a refresh runs; closed when it ends
	algs        []jose.SignatureAlgorithm
}

func (k *keySet) setURL(u string) {
	k.mu.Lock()
	k.url = u
	k.mu.Unlock()
}

func (k *keySet) hasKeys() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys) > 0
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("exactly one signature is required")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, found, err := k.verifyWithCached(jws, kid); found {
		return payload, err
	}
	refreshErr := k.refresh(ctx, false)
	if payload, found, err := k.verifyWithCached(jws, kid); found {
		return payload, err
	}
	if !k.hasKeys() || (refreshErr != nil && !errors.Is(refreshErr, errRateLimited)) {
		// The IdP could not be asked (or has no keys): a token with a new key may be valid.
		if refreshErr == nil {
			return nil, fmt.Errorf("%w: the issuer's JWKS is empty", errNoKeys)
		}
		return nil, fmt.Errorf("%w: %v", errNoKeys, refreshErr)
	}
	// The keys are fresh (fetched now, or less than minRefresh ago) and none has this kid.
	return nil, errUnknownKey
}

// verifyWithCached reports found=true when a cached key matched the kid (or, without a kid,
// when any key exists), whatever the signature check said: a bad signature with a known key
// is an attack or a broken client, not a reason to refresh.
func (k *keySet) verifyWithCached(jws *jose.JSONWebSignature, kid string) ([]byte, bool, error) {
	k.mu.RLock()
	keys := k.keys
	k.mu.RUnlock()
	found := false
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		found = true
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true, nil
		}
	}
	if found {
		return nil, true, errors.New("signature does not verify")
	}
	return nil, false, nil
}

// refresh fetches the JWKS unless one was attempted less than minRefresh ago (force skips
// that limit, for the background schedule). Concurrent callers share one fetch.
func (k *keySet) refresh(ctx context.Context, force bool) error {
	k.mu.Lock()
	if ch := k.refreshing; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !force && !k.lastAttempt.IsZero() && k.now().Sub(k.lastAttempt) < k.minRefresh {
		k.mu.Unlock()
		return errRateLimited
	}
	if k.url == "" {
		k.mu.Unlock()
		return errors.New("issuer discovery has not completed")
	}
	ch := make(chan struct{})
	k.refreshing = ch
	k.lastAttempt = k.now()
	url := k.url
	k.mu.Unlock()

	// The fetch is not tied to one request's context: a client giving up must not abort
	// a refresh that every other request is waiting for.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	keys, err := fetchJWKS(fctx, k.client, url)
	cancel()

	k.mu.Lock()
	changed := false
	if err == nil {
		changed = !sameKeys(k.keys, keys)
		k.keys = keys
	}
	k.refreshing = nil
	k.mu.Unlock()
	close(ch)
	if changed && k.onChange != nil {
		k.onChange()
	}
	return err
}

func sameKeys(a, b []jose.JSONWebKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ta, _ := a[i].Thumbprint(cryptoSHA256)
		tb, _ := b[i].Thumbprint(cryptoSHA256)
		if a[i].KeyID != b[i].KeyID || string(ta) != string(tb) {
			return false
		}
	}
	return true
}

const maxJWKSBytes = 1 << 20

func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: %s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("JWKS document is larger than 1 MiB")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		// A key this library cannot read (an unknown kty, say) is skipped, not fatal:
		// IdPs publish keys for other purposes next to their signing keys.
		if err := key.UnmarshalJSON(raw); err != nil {
			continue
		}
		if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable public signing keys")
	}
	return keys, nil
}
