package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

func TestAPIURLs(t *testing.T) {
	for in, want := range map[string][2]string{
		"https://api.github.com":          {"https://api.github.com/", "https://uploads.github.com/"},
		"https://api.github.com/":         {"https://api.github.com/", "https://uploads.github.com/"},
		"https://ghe.example.com/api/v3":  {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/"},
		"https://ghe.example.com/api/v3/": {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/"},
		"http://127.0.0.1:9003":           {"http://127.0.0.1:9003/", "http://127.0.0.1:9003/"},
	} {
		base, upload, err := apiURLs(in)
		if err != nil || base.String() != want[0] || upload.String() != want[1] {
			t.Errorf("%s: %v %v %v", in, base, upload, err)
		}
	}
	for _, bad := range []string{"", "api.github.com", "https://api.github.com?x=1", "://"} {
		if _, _, err := apiURLs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestScopeQuery(t *testing.T) {
	orgs := []string{"gatehouse-net", "Other-Org"}
	for q, want := range map[string]string{
		"ntp server":                         "ntp server org:gatehouse-net org:Other-Org",
		"ntp org:gatehouse-net":              "ntp org:gatehouse-net",
		"ntp ORG:other-org":                  "ntp ORG:other-org",
		"ntp repo:gatehouse-net/automation":  "ntp repo:gatehouse-net/automation",
		"ntp -org:acme":                      "ntp -org:acme org:gatehouse-net org:Other-Org",
		`"ntp server" extension:vtl`:         `"ntp server" extension:vtl org:gatehouse-net org:Other-Org`,
		"  banner   language:Velocity  ":     "banner   language:Velocity org:gatehouse-net org:Other-Org",
		"ntp user:gatehouse-net path:a/b.go": "ntp user:gatehouse-net path:a/b.go",
	} {
		got, err := ScopeQuery(q, orgs)
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", q, got, err, want)
		}
	}
	for q, want := range map[string]string{
		"":                              "query is required",
		"org:gatehouse-net":             "at least one search term",
		"ntp org:acme":                  "outside them",
		"ntp repo:acme/x":               "outside them",
		`ntp "org:acme"`:                "outside them",
		"ntp (user:acme)":               "outside them",
		"ntp owner:acme":                "outside them",
		"ntp org:":                      "has no value",
		strings.Repeat("a", 257):        "at most 256",
		"ntp org:gatehouse-net org:x-y": "outside them",
	} {
		if _, err := ScopeQuery(q, orgs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", q, err, want)
		}
	}
}

// Whatever the query, an accepted one searches the allowed organisations only: every
// positive scope qualifier in it names one of them, and there is at least one.
func FuzzScopeQuery(f *testing.F) {
	for _, s := range []string{"ntp", "ntp org:acme", `ntp "org:acme"`, "ntp -org:acme", "x repo:gatehouse-net/y",
		"x (org:a OR org:gatehouse-net)", "x\torg:acme", "x user:", "x ORG:GATEHOUSE-NET"} {
		f.Add(s)
	}
	orgs := []string{"gatehouse-net"}
	f.Fuzz(func(t *testing.T, q string) {
		out, err := ScopeQuery(q, orgs)
		if err != nil {
			return
		}
		scoped := false
		for _, field := range strings.Fields(out) {
			tok := strings.Trim(field, `"()'`)
			if strings.HasPrefix(tok, "-") {
				continue
			}
			tok = strings.Trim(tok, `"()'`)
			name, value, ok := strings.Cut(tok, ":")
			if !ok {
				continue
			}
			switch strings.ToLower(name) {
			case "org", "user", "owner", "repo":
				owner, _, _ := strings.Cut(strings.Trim(value, `"()'`), "/")
				if !strings.EqualFold(owner, "gatehouse-net") {
					t.Fatalf("%q became %q, which searches %q", q, out, owner)
				}
				scoped = true
			}
		}
		if !scoped {
			t.Fatalf("%q became %q, which has no scope", q, out)
		}
	})
}

func TestETagCache(t *testing.T) {
	c := newETagCache(2, 10, 6)
	c.put("a", `"1"`, http.Header{}, []byte("aaaa"))
	c.put("b", `"2"`, http.Header{}, []byte("bbbb"))
	if c.get("a") == nil { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", `"3"`, http.Header{}, []byte("cc"))
	if c.get("b") != nil || c.get("a") == nil || c.get("c") == nil || c.len() != 2 {
		t.Fatalf("LRU kept the wrong entries: %d", c.len())
	}
	c.put("big", `"4"`, http.Header{}, []byte("1234567")) // over maxEntry: not cached
	if c.get("big") != nil {
		t.Fatal("an oversized body was cached")
	}
	c.put("d", `"5"`, http.Header{}, []byte("dddddd")) // bytes bound: 2 + 6 > 10 after a's 4
	if c.bytes > 10 {
		t.Fatalf("%d bytes cached", c.bytes)
	}
	c.put("d", `"6"`, http.Header{}, []byte("d"))
	if e := c.get("d"); e == nil || e.etag != `"6"` {
		t.Fatalf("replaced entry: %+v", e)
	}
	var nilCache *etagCache
	nilCache.put("x", `"1"`, nil, nil)
	if nilCache.get("x") != nil {
		t.Fatal("a nil cache returned something")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"60": time.Minute, " 2 ": 2 * time.Second, "0": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999": 24 * time.Hour,
	} {
		if got, ok := parseRetryAfter(in, now); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := parseRetryAfter(bad, now); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"60", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Fatalf("%q: %v %v", s, d, ok)
		}
	})
}

// The transport tells a permission refusal from the two rate limits.
func TestLimitClassification(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tr := &transport{now: func() time.Time { return now }}
	resp := func(status int, h map[string]string, body string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)),
			Request: httptest.NewRequest(http.MethodGet, "/search/code?q=x", nil)}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	if l := tr.limit(resp(http.StatusForbidden, nil, `{"message":"Resource not accessible by integration"}`)); l != nil {
		t.Fatalf("permission refusal read as %+v", l)
	}
	if l := tr.limit(resp(http.StatusNotFound, map[string]string{"Retry-After": "1"}, "")); l != nil {
		t.Fatalf("404 read as %+v", l)
	}
	p := tr.limit(resp(http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset": strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10), "X-RateLimit-Limit": "10"}, `{"message":"API rate limit exceeded"}`))
	if p == nil || p.Secondary || p.Resource != "code_search" || p.Until != now.Add(10*time.Minute+time.Second) || p.Limit != 10 ||
		p.Message != "API rate limit exceeded" {
		t.Fatalf("primary: %+v", p)
	}
	s := tr.limit(resp(http.StatusForbidden, nil, `{"message":"You have exceeded a secondary rate limit."}`))
	if s == nil || !s.Secondary || s.Until != now.Add(time.Minute) {
		t.Fatalf("secondary by message: %+v", s)
	}
	s = tr.limit(resp(http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, ""))
	if s == nil || !s.Secondary || s.Until != now.Add(7*time.Second) {
		t.Fatalf("secondary 429: %+v", s)
	}
	body, _ := io.ReadAll(resp(http.StatusForbidden, nil, "kept").Body)
	if string(body) != "kept" {
		t.Fatal("body")
	}
}

// The App JWT verifies with the App's public key and carries GitHub's claims.
func TestSignJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	raw, err := signJWT("1054321", key, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(&key.PublicKey, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != "1054321" || claims.IssuedAt.Time() != now.Add(-time.Minute) || claims.Expiry.Time() != now.Add(9*time.Minute) ||
		claims.Expiry.Time().Sub(claims.IssuedAt.Time()) > 10*time.Minute {
		t.Fatalf("claims %+v", claims)
	}

	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	for name, text := range map[string]string{"pkcs1": pkcs1, "pkcs8": pkcs8, "escaped": strings.ReplaceAll(pkcs1, "\n", `\n`)} {
		k, err := ParsePrivateKey(text)
		if err != nil || !k.Equal(key) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"", "not a key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}))} {
		if _, err := ParsePrivateKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	a := &appAuth{now: func() time.Time { return now }}
	k1, _ := a.parse(pkcs1)
	k2, _ := a.parse(pkcs1)
	if k1 != k2 {
		t.Fatal("the parsed key is not kept")
	}
}

func TestCheckArguments(t *testing.T) {
	for _, ok := range []string{"main", "feature/x", "agent/ntp-2025-06-18", "a.b", "release/v1.2"} {
		if err := checkBranch(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a..b", "a b", "a~1", "x.lock", "a//b", "/a", "a/", ".hidden", "a/.b", "a@{1}", "a:b", "a\x00"} {
		if err := checkBranch(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := NewRepo("gatehouse-net", "network-templates.git"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"", "-x", "a/b", "a_b", strings.Repeat("a", 40)} {
		if _, err := NewRepo(o, "r"); err == nil {
			t.Errorf("owner %q accepted", o)
		}
	}
	if p, err := cleanPath("/a/b/"); err != nil || p != "a/b" {
		t.Fatalf("%q %v", p, err)
	}
	for _, bad := range []string{"a//b", "a/./b", "../x", "a\nb"} {
		if _, err := cleanPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := NewClient(Config{URL: "https://api.github.com", Orgs: []string{"bad/org"}, Secrets: nil}); err == nil {
		t.Fatal("no secrets accepted")
	}
	if _, err := NewClient(Config{URL: "https://api.github.com", Orgs: []string{"bad/org"}, Secrets: noSecrets{}, Log: zerolog.Nop()}); err == nil {
		t.Fatal("a bad organisation accepted")
	}
}

type noSecrets struct{}

func (noSecrets) Get(context.Context, string) (kit.Secret, error) { return nil, kit.ErrSecretNotFound }
func (noSecrets) Invalidate(string)                               {}
