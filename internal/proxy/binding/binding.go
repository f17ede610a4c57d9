// Package binding ties identifiers an upstream hands out — MCP session ids, task ids — to the
// caller they were issued to, without state: the edge gives the client a wrapped id that
// carries an HMAC over the caller and the server, and any replica holding the keys can check
// it. A wrapped id presented by another caller, for another server, or altered, does not
// unwrap.
package binding

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Kinds of identifier; a session id cannot be replayed as a task id.
const (
	Session = "session"
	Task    = "task"
)

// prefix marks a wrapped identifier (and its format version).
const prefix = "gh1."

// ErrNotBound means an identifier is not one the edge issued to this caller for this server.
var ErrNotBound = errors.New("the identifier was not issued to this caller for this server")

// Keys sign and check wrapped identifiers. The first key signs; every key checks, so keys can
// be rotated by adding the new one first and removing the old one after the longest session.
type Keys struct {
	keys [][]byte
}

// NewKeys returns keys; each must be at least 32 bytes.
func NewKeys(keys ...[]byte) (*Keys, error) {
	if len(keys) == 0 {
		return nil, errors.New("no binding key")
	}
	for i, k := range keys {
		if len(k) < 32 {
			return nil, fmt.Errorf("binding key %d is %d bytes; at least 32 are needed", i+1, len(k))
		}
	}
	return &Keys{keys: keys}, nil
}

// RandomKeys returns one random key: identifiers it wraps are valid only in this process,
// which is right for one authz replica in development and wrong for several in production.
func RandomKeys() *Keys {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &Keys{keys: [][]byte{k}}
}

// LoadKeys reads keys from a file: one per line, hex (64+ digits) or standard base64; blank
// lines and lines starting with # are skipped. The first key signs.
func LoadKeys(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("binding keys: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := hex.DecodeString(line)
		if err != nil {
			if k, err = base64.StdEncoding.DecodeString(line); err != nil {
				return nil, fmt.Errorf("binding keys %s:%d: neither hex nor base64", path, n)
			}
		}
		keys = append(keys, k)
	}
	ks, err := NewKeys(keys...)
	if err != nil {
		return nil, fmt.Errorf("binding keys %s: %w", path, err)
	}
	return ks, nil
}

// Caller is who an identifier is bound to.
type Caller struct {
	Issuer, Subject, Server string
}

func (k *Keys) mac(key []byte, kind string, c Caller, inner string) []byte {
	m := hmac.New(sha256.New, key)
	for _, part := range []string{kind, c.Issuer, c.Subject, c.Server, inner} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:16]
}

// Wrap returns the identifier the client gets for inner.
func (k *Keys) Wrap(kind string, c Caller, inner string) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(inner)) + "." +
		base64.RawURLEncoding.EncodeToString(k.mac(k.keys[0], kind, c, inner))
}

// Unwrap returns the upstream's identifier inside wrapped, if it was issued to c.
func (k *Keys) Unwrap(kind string, c Caller, wrapped string) (string, error) {
	rest, ok := strings.CutPrefix(wrapped, prefix)
	if !ok {
		return "", ErrNotBound
	}
	enc, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return "", ErrNotBound
	}
	inner, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", ErrNotBound
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return "", ErrNotBound
	}
	for _, key := range k.keys {
		if hmac.Equal(got, k.mac(key, kind, c, string(inner))) {
			return string(inner), nil
		}
	}
	return "", ErrNotBound
}

// Inner returns the upstream's identifier inside a wrapped one without checking whom it was
// issued to: for an upstream behind the edge, which has already checked it (Unwrap). ok is
// false when s is not a wrapped identifier.
func Inner(s string) (inner string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", false
	}
	enc, _, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Wrapped reports whether s has the form of a wrapped identifier.
func Wrapped(s string) bool { return strings.HasPrefix(s, prefix) }
