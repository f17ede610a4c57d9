package oidc

import (
	"testing"
	"time"
)

// A verification that began before the issuer's keys changed is not cached after the change
// (the key it used may be the one just removed).
func TestCacheDropsVerificationsAcrossKeyChanges(t *testing.T) {
	c := newTokenCache(10)
	now := time.Now()
	id := &Identity{Subject: "a", Expiry: now.Add(time.Hour)}
	_, ok, gen := c.get([32]byte{1}, now)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.clear() // the key set changes while the token is being verified
	c.put([32]byte{1}, id, gen)
	if _, ok, _ := c.get([32]byte{1}, now); ok {
		t.Fatal("a verification from before the key change was cached")
	}
	_, _, gen = c.get([32]byte{1}, now)
	c.put([32]byte{1}, id, gen)
	if got, ok, _ := c.get([32]byte{1}, now); !ok || got != id {
		t.Fatal("a current verification was not cached")
	}
	if _, ok, _ := c.get([32]byte{1}, now.Add(2*time.Hour)); ok {
		t.Fatal("an expired identity was served from the cache")
	}
}
