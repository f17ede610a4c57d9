package binding_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/proxy/binding"
)

func TestWrapUnwrap(t *testing.T) {
	k := binding.RandomKeys()
	alice := binding.Caller{Issuer: "https://idp", Subject: "alice", Server: "catalyst-center"}
	w := k.Wrap(binding.Session, alice, "sess-42")
	if !binding.Wrapped(w) || strings.Contains(w, "sess-42") {
		t.Fatalf("wrapped %q", w)
	}
	if inner, err := k.Unwrap(binding.Session, alice, w); err != nil || inner != "sess-42" {
		t.Fatalf("unwrap: %q %v", inner, err)
	}
	for name, c := range map[string]binding.Caller{
		"another subject": {Issuer: "https://idp", Subject: "mallory", Server: "catalyst-center"},
		"another issuer":  {Issuer: "https://evil", Subject: "alice", Server: "catalyst-center"},
		"another server":  {Issuer: "https://idp", Subject: "alice", Server: "github"},
	} {
		if _, err := k.Unwrap(binding.Session, c, w); err == nil {
			t.Errorf("%s unwrapped alice's session", name)
		}
	}
	if _, err := k.Unwrap(binding.Task, alice, w); err == nil {
		t.Error("a session id unwrapped as a task id")
	}
	other := binding.RandomKeys()
	if _, err := other.Unwrap(binding.Session, alice, w); err == nil {
		t.Error("another key accepted the MAC")
	}
	for _, bad := range []string{"sess-42", "gh1.", "gh1.c2Vzcy00Mg", "gh1.c2Vzcy00Mg.AAAA", w[:len(w)-2] + "xx", "gh1.!!!.???"} {
		if _, err := k.Unwrap(binding.Session, alice, bad); err == nil {
			t.Errorf("%q unwrapped", bad)
		}
	}
}

// Keys rotate: an id signed with the old key still unwraps while the old key is listed second.
func TestKeyRotation(t *testing.T) {
	old := []byte(strings.Repeat("o", 32))
	next := []byte(strings.Repeat("n", 32))
	c := binding.Caller{Subject: "alice", Server: "s"}
	before, _ := binding.NewKeys(old)
	w := before.Wrap(binding.Session, c, "x")
	during, _ := binding.NewKeys(next, old)
	if inner, err := during.Unwrap(binding.Session, c, w); err != nil || inner != "x" {
		t.Fatalf("rotation: %v", err)
	}
	after, _ := binding.NewKeys(next)
	if _, err := after.Unwrap(binding.Session, c, w); err == nil {
		t.Fatal("a retired key still verifies")
	}
	if _, err := binding.NewKeys([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestLoadKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	content := "# binding keys, newest first\n" + strings.Repeat("ab", 32) + "\n\n" +
		"bmV4dC1rZXktbmV4dC1rZXktbmV4dC1rZXktbmV4dC1rZXk=\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := binding.LoadKeys(p)
	if err != nil {
		t.Fatal(err)
	}
	c := binding.Caller{Subject: "a", Server: "s"}
	if _, err := k.Unwrap(binding.Session, c, k.Wrap(binding.Session, c, "id")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("zz-not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := binding.LoadKeys(p); err == nil {
		t.Fatal("a bad key file loaded")
	}
}

func FuzzUnwrap(f *testing.F) {
	k := binding.RandomKeys()
	c := binding.Caller{Subject: "a", Server: "s"}
	f.Add(k.Wrap(binding.Session, c, "seed"))
	f.Add("gh1.x.y")
	f.Fuzz(func(t *testing.T, s string) {
		if inner, err := k.Unwrap(binding.Session, c, s); err == nil && k.Wrap(binding.Session, c, inner) != s {
			t.Fatalf("%q unwrapped to %q, which wraps differently", s, inner)
		}
	})
}

// An adapter behind the edge reads its own id out of a bound one without the keys; anything
// that is not a bound id is not read as one.
func TestInner(t *testing.T) {
	k := binding.RandomKeys()
	c := binding.Caller{Issuer: "https://idp", Subject: "nina", Server: "deployments"}
	for _, id := range []string{"deploy-0123456789abcdef-0123456789ab", "a.b.c", "ünïcode"} {
		if got, ok := binding.Inner(k.Wrap(binding.Task, c, id)); !ok || got != id {
			t.Errorf("Inner(Wrap(%q)) = %q, %v", id, got, ok)
		}
	}
	for _, s := range []string{"", "deploy-1", "gh1.", "gh1.!!!.x", "gh1.abc"} {
		if got, ok := binding.Inner(s); ok {
			t.Errorf("Inner(%q) = %q, want not a bound id", s, got)
		}
	}
}
