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
	k := [32]byte{1}
	_, ok, gen := c.get(k, now)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.put(k, id, gen) // the first verification: remembered, not cached
	if _, ok, _ := c.get(k, now); ok {
		t.Fatal("a token verified once was cached")
	}
	_, _, gen = c.get(k, now)
	c.clear() // the key set changes while the second verification runs
	c.put(k, id, gen)
	if _, ok, _ := c.get(k, now); ok {
		t.Fatal("a verification from before the key change was cached")
	}
	_, _, gen = c.get(k, now)
	c.put(k, id, gen)
	c.put(k, id, gen)
	if got, ok, _ := c.get(k, now); !ok || got != id {
		t.Fatal("a current verification was not cached")
	}
	if _, ok, _ := c.get([32]byte{1}, now.Add(2*time.Hour)); ok {
		t.Fatal("an expired identity was served from the cache")
	}
}

// Tokens used once (a new token per request) leave only their hash behind; the cache holds
// identities of tokens seen at least twice.
func TestCacheHoldsOnlyTokensSeenTwice(t *testing.T) {
	c := newTokenCache(100)
	now := time.Now()
	id := &Identity{Subject: "a", Expiry: now.Add(time.Hour)}
	for i := range 1000 {
		c.put([32]byte{byte(i), byte(i >> 8)}, id, 0)
	}
	if len(c.m) != 0 || len(c.seen) > 100 {
		t.Fatalf("after 1,000 single-use tokens: %d cached, %d remembered (bound 100)", len(c.m), len(c.seen))
	}
	for range 2 {
		c.put([32]byte{0xff, 0xff}, id, 0)
	}
	if _, ok, _ := c.get([32]byte{0xff, 0xff}, now); !ok {
		t.Fatal("a token verified twice was not cached")
	}
}
