package sim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testKey is one App key for the whole test binary.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	t      *testing.T
	sim    *Sim
	srv    *httptest.Server
	clock  *clock
	auth   string // Authorization header value for requests
	prefix string // Options.PathPrefix
}

func newEnv(t *testing.T) *env {
	return newEnvWith(t, Options{})
}

func newEnvWith(t *testing.T, opts Options) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	if opts.AppKey == nil {
		opts.AppKey = testKey()
	}
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: s, srv: srv, clock: clk, prefix: strings.TrimSuffix(opts.PathPrefix, "/")}
	e.auth = "Bearer " + e.installationToken()
	return e
}

// jwtWith signs App claims with key.
func jwtWith(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) appJWT() string {
	now := e.clock.Now()
	return jwtWith(e.t, testKey(), map[string]any{"iss": strconv.Itoa(DefaultAppID), "iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(9 * time.Minute).Unix()})
}

func (e *env) installationToken() string {
	var tok struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	resp := e.do(http.MethodPost, fmt.Sprintf("/app/installations/%d/access_tokens", DefaultInstallationID), "Bearer "+e.appJWT(), nil, nil)
	e.decode(resp, http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, "ghs_") || tok.ExpiresAt != ts(e.clock.Now().Add(time.Hour)) {
		e.t.Fatalf("installation token %+v", tok)
	}
	return tok.Token
}

func (e *env) do(method, path, auth string, body any, header http.Header) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+e.prefix+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// call sends a request as the installation and decodes the answer, which must have status.
func (e *env) call(method, path string, body any, status int, out any) *http.Response {
	e.t.Helper()
	resp := e.do(method, path, e.auth, body, nil)
	e.decode(resp, status, out)
	return resp
}

func (e *env) decode(resp *http.Response, status int, out any) {
	e.t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s: %v", b, err)
		}
	}
}

// message is an error answer's message.
func (e *env) message(method, path string, body any, status int) string {
	e.t.Helper()
	var m struct {
		Message string           `json:"message"`
		Errors  []map[string]any `json:"errors"`
		Status  string           `json:"status"`
	}
	e.call(method, path, body, status, &m)
	if m.Status != strconv.Itoa(status) {
		e.t.Fatalf("error body status %q, want %d", m.Status, status)
	}
	for _, d := range m.Errors {
		if msg, ok := d["message"].(string); ok {
			m.Message += " | " + msg
		} else {
			m.Message += fmt.Sprintf(" | %v %v %v", d["resource"], d["field"], d["code"])
		}
	}
	return m.Message
}

const nt = "/repos/" + Org + "/" + TemplatesRepo

// Object ids are git's: the values below are what git 2.x printed for the same content.
func TestGitObjectIDs(t *testing.T) {
	st := newStore()
	if id := st.putBlob([]byte("hello\n")); id != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Fatalf("blob %s", id)
	}
	if id := st.writeTree(map[string]string{}); id != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Fatalf("empty tree %s", id)
	}
	files := map[string]string{"a.txt": st.putBlob([]byte("hello\n")), "dir/b.txt": st.putBlob([]byte("x\n")),
		"dir.txt": st.putBlob([]byte("y\n")), "d2/c": st.putBlob([]byte("z\n"))}
	who := person{Name: "Nina Petrova", Email: "nina@gatehouse.example", Date: time.Unix(1738576800, 0)}
	c := st.writeCommit(files, nil, who, who, "Import")
	if c.Tree != "54d6b8aec5e00f22077a955171066267529e6864" || c.SHA != "3bcec200bf4afdfec6088d1bcc055ce7f5f55516" {
		t.Fatalf("tree %s commit %s", c.Tree, c.SHA)
	}
	if e, ok := st.lookup(c, "dir"); !ok || e.SHA != "add4794d9c94872b96c1697c056fb82ae0d72880" || !e.isDir() {
		t.Fatalf("dir: %+v", e)
	}
	s := New(Options{AppKey: testKey()})
	content, sha, ok := s.File(Org+"/"+TemplatesRepo, "main", NTPServersPath)
	if !ok || content != ntpServersV3 || sha != BlobSHA([]byte(ntpServersV3)) {
		t.Fatalf("seeded NTP-Servers: %q %s", content, sha)
	}
}

func TestUnifiedDiffAndMerge(t *testing.T) {
	patch, adds, dels := unifiedDiff([]byte("a\nb\nc\n"), []byte("a\nB\nc\nd\n"))
	if adds != 2 || dels != 1 || patch != "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d" {
		t.Fatalf("diff %q +%d -%d", patch, adds, dels)
	}
	if patch, adds, _ := unifiedDiff(nil, []byte("x\n")); adds != 1 || !strings.HasPrefix(patch, "@@ -0,0 +1,1 @@") {
		t.Fatalf("new file %q", patch)
	}
	merged, conflicts := threeWay(map[string]string{"a": "1", "b": "1", "c": "1"}, map[string]string{"a": "2", "b": "1", "c": "2"},
		map[string]string{"a": "1", "b": "3", "c": "3", "d": "4"})
	if len(conflicts) != 1 || conflicts[0] != "c" || merged["a"] != "2" || merged["b"] != "3" || merged["d"] != "4" {
		t.Fatalf("merge %v %v", merged, conflicts)
	}
}

// App JWTs are checked against the key and the clock; installation tokens expire on the
// clock; a JWT works only on the App endpoints, a token only elsewhere.
func TestAppAuthentication(t *testing.T) {
	e := newEnv(t)
	get := func(auth, path string, status int) string {
		t.Helper()
		resp := e.do(http.MethodGet, path, auth, nil, nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, status, b)
		}
		return string(b)
	}
	now := e.clock.Now()
	claims := func(iss any, iat, exp time.Time) map[string]any {
		return map[string]any{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()}
	}
	for name, tc := range map[string]struct {
		jwt  string
		want string
	}{
		"expired":      {jwtWith(t, testKey(), claims(DefaultAppID, now.Add(-20*time.Minute), now.Add(-time.Minute))), "'Expiration time' claim ('exp') must be"},
		"too long":     {jwtWith(t, testKey(), claims(DefaultAppID, now, now.Add(11*time.Minute))), "is too far in the future"},
		"issued later": {jwtWith(t, testKey(), claims(DefaultAppID, now.Add(time.Minute), now.Add(5*time.Minute))), "'Issued at' claim"},
		"other app":    {jwtWith(t, testKey(), claims(99, now.Add(-time.Minute), now.Add(5*time.Minute))), "Integration not found"},
		"wrong key":    {jwtWith(t, mustKey(t), claims(DefaultAppID, now.Add(-time.Minute), now.Add(5*time.Minute))), "could not be decoded"},
		"garbage":      {"a.b.c", "could not be decoded"},
	} {
		if body := get("Bearer "+tc.jwt, "/app", http.StatusUnauthorized); !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s", name, body)
		}
	}
	clientJWT := jwtWith(t, testKey(), claims(DefaultClientID, now.Add(-time.Minute), now.Add(9*time.Minute)))
	if body := get("Bearer "+clientJWT, "/orgs/"+Org+"/installation", http.StatusOK); !strings.Contains(body, `"id":60512345`) {
		t.Fatalf("installation: %s", body)
	}
	get("Bearer "+clientJWT, "/orgs/acme-corp/installation", http.StatusNotFound)
	if body := get("Bearer "+clientJWT, nt, http.StatusForbidden); !strings.Contains(body, "Resource not accessible by integration") {
		t.Fatalf("JWT on a repository: %s", body)
	}
	get(e.auth, "/app", http.StatusUnauthorized)
	get(e.auth, nt, http.StatusOK)
	get(e.auth, "/repos/acme-corp/firewall-rules", http.StatusNotFound) // not in the installation
	get("token "+DefaultToken, "/repos/acme-corp/firewall-rules", http.StatusOK)
	get("", nt, http.StatusNotFound) // private
	e.clock.Advance(59 * time.Minute)
	get(e.auth, nt, http.StatusOK)
	e.clock.Advance(time.Minute)
	if body := get(e.auth, nt, http.StatusUnauthorized); !strings.Contains(body, "Bad credentials") {
		t.Fatalf("expired token: %s", body)
	}
	tok := e.installationToken()
	e.sim.ExpireInstallationTokens()
	get("Bearer "+tok, nt, http.StatusUnauthorized)
	e.sim.RotateAppKey(mustKey(t))
	get("Bearer "+e.appJWT(), "/app", http.StatusUnauthorized)
	if e.sim.TokensIssued() != 2 {
		t.Fatalf("%d tokens issued", e.sim.TokensIssued())
	}
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The rate-limit headers count down per principal and resource; an exhausted budget is a
// 403 with remaining 0 until the window resets; /rate_limit does not count.
func TestPrimaryRateLimit(t *testing.T) {
	e := newEnvWith(t, Options{CoreLimit: 3, CodeSearchLimit: 2})
	h := func(resp *http.Response) (string, string, string, string, string) {
		resp.Body.Close()
		return resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("X-RateLimit-Used"),
			resp.Header.Get("X-RateLimit-Reset"), resp.Header.Get("X-RateLimit-Resource")
	}
	reset := strconv.FormatInt(e.clock.Now().Add(time.Hour).Unix(), 10)
	for i := 1; i <= 3; i++ {
		l, rem, used, rs, res := h(e.do(http.MethodGet, nt, e.auth, nil, nil))
		if l != "3" || rem != strconv.Itoa(3-i) || used != strconv.Itoa(i) || rs != reset || res != "core" {
			t.Fatalf("request %d: %s %s %s %s %s", i, l, rem, used, rs, res)
		}
	}
	if msg := e.message(http.MethodGet, nt, nil, http.StatusForbidden); !strings.Contains(msg, "API rate limit exceeded for installation ID 60512345") {
		t.Fatal(msg)
	}
	if _, rem, _, _, res := h(e.do(http.MethodGet, "/search/code?q=ntp", e.auth, nil, nil)); rem != "1" || res != "code_search" {
		t.Fatalf("code search budget: %s %s", rem, res)
	}
	var rl struct {
		Resources map[string]struct{ Limit, Used, Remaining int } `json:"resources"`
	}
	e.call(http.MethodGet, "/rate_limit", nil, http.StatusOK, &rl)
	if rl.Resources["core"].Remaining != 0 || rl.Resources["code_search"].Used != 1 {
		t.Fatalf("rate_limit: %+v", rl)
	}
	// The personal access token has its own budget.
	if _, rem, _, _, _ := h(e.do(http.MethodGet, nt, "token "+DefaultToken, nil, nil)); rem != "2" {
		t.Fatalf("token budget: %s", rem)
	}
	e.clock.Advance(time.Hour)
	e.auth = "Bearer " + e.installationToken()
	e.call(http.MethodGet, nt, nil, http.StatusOK, nil)
}

// A secondary limit answers 403 or 429 with Retry-After and GitHub's message, n times.
func TestSecondaryRateLimit(t *testing.T) {
	e := newEnv(t)
	e.sim.SecondaryLimit(http.StatusForbidden, 2, 1500*time.Millisecond)
	for range 2 {
		resp := e.do(http.MethodGet, nt, e.auth, nil, nil)
		var m map[string]string
		e.decode(resp, http.StatusForbidden, &m)
		if resp.Header.Get("Retry-After") != "2" || resp.Header.Get("X-RateLimit-Remaining") == "0" ||
			!strings.HasPrefix(m["message"], "You have exceeded a secondary rate limit") ||
			!strings.HasSuffix(m["documentation_url"], "#about-secondary-rate-limits") {
			t.Fatalf("secondary: %v %v", resp.Header, m)
		}
	}
	e.call(http.MethodGet, nt, nil, http.StatusOK, nil)
	e.sim.SecondaryLimit(http.StatusTooManyRequests, 1, 0)
	resp := e.do(http.MethodPost, nt+"/issues", e.auth, map[string]any{"title": "x"}, nil)
	e.decode(resp, http.StatusTooManyRequests, nil)
	var issues []map[string]any
	e.call(http.MethodGet, nt+"/issues?state=all", nil, http.StatusOK, &issues)
	if len(issues) != 3 {
		t.Fatalf("a rate-limited POST created an issue: %d items", len(issues))
	}
}

// GETs carry weak ETags; a matching If-None-Match is a 304 that is not counted.
func TestConditionalRequests(t *testing.T) {
	e := newEnv(t)
	resp := e.do(http.MethodGet, nt+"/contents/README.md", e.auth, nil, nil)
	resp.Body.Close()
	etag, remaining := resp.Header.Get("ETag"), resp.Header.Get("X-RateLimit-Remaining")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("etag %q", etag)
	}
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag, "*"} {
		resp := e.do(http.MethodGet, nt+"/contents/README.md", e.auth, nil, http.Header{"If-None-Match": {inm}})
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("X-RateLimit-Remaining") != remaining ||
			resp.Header.Get("ETag") != etag {
			t.Fatalf("If-None-Match %s: %d %q %v", inm, resp.StatusCode, b, resp.Header)
		}
	}
	if e.sim.NotModified() != 4 {
		t.Fatalf("%d 304s", e.sim.NotModified())
	}
	resp = e.do(http.MethodGet, nt+"/contents/README.md", e.auth, nil, http.Header{"If-None-Match": {`W/"stale"`}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stale ETag: %d", resp.StatusCode)
	}
	// A write changes the ETag of what it changed.
	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/x", "sha": e.branch("main")}, http.StatusCreated, nil)
	resp = e.do(http.MethodGet, nt+"/branches", e.auth, nil, nil)
	resp.Body.Close()
	before := resp.Header.Get("ETag")
	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/y", "sha": e.branch("main")}, http.StatusCreated, nil)
	resp = e.do(http.MethodGet, nt+"/branches", e.auth, nil, http.Header{"If-None-Match": {before}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == before {
		t.Fatalf("after a write: %d", resp.StatusCode)
	}
}

func (e *env) branch(name string) string {
	sha, ok := e.sim.Branch(Org+"/"+TemplatesRepo, name)
	if !ok {
		e.t.Fatalf("no branch %s", name)
	}
	return sha
}

type contentAnswer struct {
	Type, Encoding, Content, SHA, Path, Name string
	Size                                     int
}

func TestContents(t *testing.T) {
	e := newEnv(t)
	var f contentAnswer
	e.call(http.MethodGet, nt+"/contents/"+NTPServersPath+"?ref=main", nil, http.StatusOK, &f)
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(f.Content, "\n", ""))
	if err != nil || string(raw) != ntpServersV3 || f.Encoding != "base64" || f.Size != len(ntpServersV3) || f.Name != "NTP-Servers.vtl" {
		t.Fatalf("file %+v", f)
	}
	for _, line := range strings.Split(strings.TrimSuffix(f.Content, "\n"), "\n") {
		if len(line) > 60 {
			t.Fatalf("base64 line of %d characters", len(line))
		}
	}
	var dir []contentAnswer
	e.call(http.MethodGet, nt+"/contents", nil, http.StatusOK, &dir)
	if len(dir) != 2 || dir[0].Name != "README.md" || dir[1].Type != "dir" {
		t.Fatalf("root %+v", dir)
	}
	e.call(http.MethodGet, nt+"/contents/nope", nil, http.StatusNotFound, nil)
	e.call(http.MethodGet, nt+"/contents/README.md?ref=nope", nil, http.StatusNotFound, nil)
	// A commit sha prefix works as a ref.
	e.call(http.MethodGet, nt+"/contents/README.md?ref="+e.branch("main")[:7], nil, http.StatusOK, nil)

	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/edit", "sha": e.branch("main")}, http.StatusCreated, nil)
	put := func(sha string, content string) map[string]any {
		b := map[string]any{"message": "edit", "content": base64.StdEncoding.EncodeToString([]byte(content)), "branch": "edit"}
		if sha != "" {
			b["sha"] = sha
		}
		return b
	}
	var created struct {
		Content contentAnswer
		Commit  struct {
			SHA     string
			Parents []struct{ SHA string }
			Author  struct{ Name, Email string }
		}
	}
	base := e.branch("edit")
	e.call(http.MethodPut, nt+"/contents/new/file.txt", put("", "one\n"), http.StatusCreated, &created)
	if created.Content.SHA != BlobSHA([]byte("one\n")) || created.Commit.SHA != e.branch("edit") ||
		created.Commit.Parents[0].SHA != base || created.Commit.Author.Name != BotLogin {
		t.Fatalf("created %+v", created)
	}
	e.call(http.MethodPut, nt+"/contents/new/file.txt", put(created.Content.SHA, "two\n"), http.StatusOK, nil)
	if msg := e.message(http.MethodPut, nt+"/contents/new/file.txt", put(created.Content.SHA, "three\n"), http.StatusConflict); msg !=
		"is at "+BlobSHA([]byte("two\n"))+" but expected "+created.Content.SHA {
		t.Fatal(msg)
	}
	if msg := e.message(http.MethodPut, nt+"/contents/new/file.txt", put("", "three\n"), http.StatusUnprocessableEntity); !strings.Contains(msg, `"sha" wasn't supplied`) {
		t.Fatal(msg)
	}
	if msg := e.message(http.MethodPut, nt+"/contents/absent.txt", put(created.Content.SHA, "x\n"), http.StatusConflict); !strings.Contains(msg, "does not exist") {
		t.Fatal(msg)
	}
	main := put("", "x\n")
	main["branch"] = "main"
	if msg := e.message(http.MethodPut, nt+"/contents/other.txt", main, http.StatusConflict); msg != "Changes must be made through a pull request." {
		t.Fatal(msg)
	}
	main["branch"] = "nope"
	if msg := e.message(http.MethodPut, nt+"/contents/other.txt", main, http.StatusNotFound); msg != "Branch nope not found" {
		t.Fatal(msg)
	}
	e.call(http.MethodPut, nt+"/contents/x.txt", map[string]any{"message": "m", "content": "%%%", "branch": "edit"}, http.StatusUnprocessableEntity, nil)
	e.call(http.MethodPut, nt+"/contents/x.txt", map[string]any{"content": "eA==", "branch": "edit"}, http.StatusUnprocessableEntity, nil)
	// The PAT user commits as dana-dev.
	tokenResp := e.do(http.MethodPut, nt+"/contents/dana.txt", "token "+DefaultToken, put("", "d\n"), nil)
	e.decode(tokenResp, http.StatusCreated, &created)
	if created.Commit.Author.Email != "dana@gatehouse.example" {
		t.Fatalf("PAT commit %+v", created.Commit)
	}
}

func TestRefsAndTrees(t *testing.T) {
	e := newEnv(t)
	main := e.branch("main")
	var ref struct {
		Ref    string
		Object struct{ SHA, Type string }
	}
	e.call(http.MethodGet, nt+"/git/ref/heads/main", nil, http.StatusOK, &ref)
	if ref.Ref != "refs/heads/main" || ref.Object.SHA != main || ref.Object.Type != "commit" {
		t.Fatalf("ref %+v", ref)
	}
	e.call(http.MethodGet, nt+"/git/ref/heads/nope", nil, http.StatusNotFound, nil)
	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/feature/x", "sha": main}, http.StatusCreated, nil)
	for body, want := range map[[2]string]string{
		{"refs/heads/feature/x", main}: "Reference already exists",
		{"refs/heads/bad..name", main}: "Reference name is invalid",
		{"refs/tags/v1", main}:         "Reference name is invalid",
		{"refs/heads/y", "0000000"}:    "Object does not exist",
	} {
		if msg := e.message(http.MethodPost, nt+"/git/refs", map[string]string{"ref": body[0], "sha": body[1]}, http.StatusUnprocessableEntity); msg != want {
			t.Errorf("%v: %s", body, msg)
		}
	}
	var matching []struct{ Ref string }
	e.call(http.MethodGet, nt+"/git/matching-refs/heads/feature", nil, http.StatusOK, &matching)
	if len(matching) != 2 {
		t.Fatalf("matching %+v", matching)
	}
	e.call(http.MethodDelete, nt+"/git/refs/heads/feature/x", nil, http.StatusNoContent, nil)
	if msg := e.message(http.MethodDelete, nt+"/git/refs/heads/feature/x", nil, http.StatusUnprocessableEntity); msg != "Reference does not exist" {
		t.Fatal(msg)
	}
	if msg := e.message(http.MethodDelete, nt+"/git/refs/heads/main", nil, http.StatusUnprocessableEntity); msg != "Cannot delete the default branch" {
		t.Fatal(msg)
	}
	// Deleting a pull request's head branch closes it.
	e.call(http.MethodDelete, nt+"/git/refs/heads/"+BannerBranch, nil, http.StatusNoContent, nil)
	if e.sim.IssueState(Org+"/"+TemplatesRepo, 3) != "closed" {
		t.Fatal("the pull request stayed open")
	}
	var tree struct {
		SHA  string
		Tree []struct{ Path, Type, SHA string }
	}
	e.call(http.MethodGet, nt+"/git/trees/main?recursive=1", nil, http.StatusOK, &tree)
	if len(tree.Tree) != 7 || tree.Tree[0].Path != "README.md" || tree.Tree[1].Path != "catalyst-center" || tree.Tree[1].Type != "tree" {
		t.Fatalf("tree %+v", tree)
	}
	var blob struct{ Content, Encoding string }
	e.call(http.MethodGet, nt+"/git/blobs/"+BlobSHA([]byte(loginBannerV1)), nil, http.StatusOK, &blob)
	if raw, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(blob.Content, "\n", "")); string(raw) != loginBannerV1 {
		t.Fatalf("blob %+v", blob)
	}
}

func TestBranchesAndPagination(t *testing.T) {
	e := newEnv(t)
	resp := e.call(http.MethodGet, nt+"/branches?per_page=1", nil, http.StatusOK, nil)
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `page=2&per_page=1>; rel="next"`) || !strings.Contains(link, `rel="last"`) ||
		!strings.HasPrefix(link, "<"+e.srv.URL+nt+"/branches?") {
		t.Fatalf("Link %q", link)
	}
	var page2 []struct {
		Name      string
		Protected bool
	}
	resp = e.call(http.MethodGet, nt+"/branches?per_page=1&page=2", nil, http.StatusOK, &page2)
	if len(page2) != 1 || page2[0].Name != "main" || !page2[0].Protected || !strings.Contains(resp.Header.Get("Link"), `rel="prev"`) ||
		strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("page 2: %+v %s", page2, resp.Header.Get("Link"))
	}
	var protected []struct{ Name string }
	e.call(http.MethodGet, nt+"/branches?protected=true", nil, http.StatusOK, &protected)
	if len(protected) != 1 {
		t.Fatalf("protected %+v", protected)
	}
	var b struct {
		Protection struct {
			Enabled              bool
			RequiredStatusChecks struct{ Contexts []string } `json:"required_status_checks"`
		}
	}
	e.call(http.MethodGet, nt+"/branches/main", nil, http.StatusOK, &b)
	if !b.Protection.Enabled || b.Protection.RequiredStatusChecks.Contexts[0] != LintCheck {
		t.Fatalf("branch %+v", b)
	}
	e.call(http.MethodGet, nt+"/branches/"+BannerBranch, nil, http.StatusOK, nil)
}

func TestCommitsAndChecks(t *testing.T) {
	e := newEnv(t)
	var list []struct {
		SHA    string
		Commit struct{ Message string }
		Author struct{ Login string }
	}
	e.call(http.MethodGet, nt+"/commits?path="+NTPServersPath, nil, http.StatusOK, &list)
	if len(list) != 3 || list[0].Commit.Message != "NTP-Servers v3: ntp update-calendar" || list[0].Author.Login != "nina-neteng" {
		t.Fatalf("commits %+v", list)
	}
	e.call(http.MethodGet, nt+"/commits?sha="+BannerBranch+"&author=dana-dev", nil, http.StatusOK, &list)
	if len(list) != 1 {
		t.Fatalf("by author %+v", list)
	}
	e.call(http.MethodGet, nt+"/commits?until=2025-02-05T00:00:00Z", nil, http.StatusOK, &list)
	if len(list) != 1 {
		t.Fatalf("until %+v", list)
	}
	var one struct {
		SHA   string
		Stats struct{ Additions, Deletions, Total int }
		Files []struct {
			Filename, Status, Patch string
			Additions, Deletions    int
		}
	}
	e.call(http.MethodGet, nt+"/commits/"+BannerBranch, nil, http.StatusOK, &one)
	if len(one.Files) != 1 || one.Files[0].Filename != LoginBannerPath || one.Files[0].Status != "modified" ||
		one.Stats.Additions != 1 || one.Stats.Deletions != 0 || !strings.Contains(one.Files[0].Patch, "+Activity on this device") {
		t.Fatalf("commit %+v", one)
	}
	if msg := e.message(http.MethodGet, nt+"/commits/deadbeefdeadbeef", nil, http.StatusUnprocessableEntity); !strings.HasPrefix(msg, "No commit found for SHA") {
		t.Fatal(msg)
	}
	var runs struct {
		TotalCount int `json:"total_count"`
		CheckRuns  []struct {
			Name, Status string
			Conclusion   *string
		} `json:"check_runs"`
	}
	e.call(http.MethodGet, nt+"/commits/"+BannerBranch+"/check-runs", nil, http.StatusOK, &runs)
	if runs.TotalCount != 1 || *runs.CheckRuns[0].Conclusion != "failure" {
		t.Fatalf("runs %+v", runs)
	}
	if err := e.sim.SetCheckRun(Org+"/"+TemplatesRepo, BannerBranch, LintCheck, ""); err != nil {
		t.Fatal(err)
	}
	e.call(http.MethodGet, nt+"/commits/"+BannerBranch+"/check-runs", nil, http.StatusOK, &runs)
	if runs.TotalCount != 1 || runs.CheckRuns[0].Status != "in_progress" || runs.CheckRuns[0].Conclusion != nil {
		t.Fatalf("latest run %+v", runs)
	}
	e.call(http.MethodGet, nt+"/commits/"+BannerBranch+"/check-runs?filter=all", nil, http.StatusOK, &runs)
	if runs.TotalCount != 2 {
		t.Fatalf("all runs %+v", runs)
	}
	var combined struct {
		State      string
		TotalCount int `json:"total_count"`
	}
	e.call(http.MethodGet, nt+"/commits/main/status", nil, http.StatusOK, &combined)
	if combined.State != "pending" || combined.TotalCount != 0 {
		t.Fatalf("no statuses %+v", combined)
	}
	// Statuses: the personal access token may post them; the App may not.
	pat := e.do(http.MethodPost, nt+"/statuses/"+e.branch("main"), "token "+DefaultToken,
		map[string]string{"state": "success", "context": "ci/deploy"}, nil)
	e.decode(pat, http.StatusCreated, nil)
	e.call(http.MethodPost, nt+"/statuses/"+e.branch("main"), map[string]string{"state": "success"}, http.StatusForbidden, nil)
	if err := e.sim.SetStatus(Org+"/"+TemplatesRepo, "main", "ci/smoke", "failure"); err != nil {
		t.Fatal(err)
	}
	e.call(http.MethodGet, nt+"/commits/main/status", nil, http.StatusOK, &combined)
	if combined.State != "failure" || combined.TotalCount != 2 {
		t.Fatalf("statuses %+v", combined)
	}
}

type prAnswer struct {
	Number         int
	State          string
	Merged         bool
	Mergeable      *bool
	MergeableState string `json:"mergeable_state"`
	MergeCommitSHA string `json:"merge_commit_sha"`
	Head           struct{ Ref, SHA string }
	ChangedFiles   int `json:"changed_files"`
	Additions      int
	Commits        int
}

// Branch protection: the merge is refused until the required check passes and a review
// approves; then every method merges.
func TestProtectionAndMerge(t *testing.T) {
	e := newEnv(t)
	var pr prAnswer
	e.call(http.MethodGet, nt+"/pulls/3", nil, http.StatusOK, &pr)
	if pr.MergeableState != "blocked" || !*pr.Mergeable || pr.ChangedFiles != 1 || pr.Additions != 1 || pr.Commits != 1 {
		t.Fatalf("pr %+v", pr)
	}
	msg := e.message(http.MethodPut, nt+"/pulls/3/merge", map[string]string{}, http.StatusMethodNotAllowed)
	if msg != "Required status check \"templates/lint\" is failing.\nAt least 1 approving review is required by reviewers with write access." {
		t.Fatalf("refusal %q", msg)
	}
	repo := Org + "/" + TemplatesRepo
	if err := e.sim.SetCheckRun(repo, BannerBranch, LintCheck, "success"); err != nil {
		t.Fatal(err)
	}
	msg = e.message(http.MethodPut, nt+"/pulls/3/merge", map[string]string{}, http.StatusMethodNotAllowed)
	if msg != "At least 1 approving review is required by reviewers with write access." {
		t.Fatalf("refusal %q", msg)
	}
	if err := e.sim.Approve(repo, 3, "dana-dev"); err == nil || !strings.Contains(err.Error(), "Can not approve your own pull request") {
		t.Fatalf("self-approval: %v", err)
	}
	if err := e.sim.Approve(repo, 3, "nina-neteng"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.sim.PullRequest(repo, 3); st.MergeableState != "clean" || len(st.Requested) != 0 {
		t.Fatalf("after approval %+v", st)
	}
	if err := e.sim.RequestChanges(repo, 3, "maria-lead", "Say logged too."); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Approve(repo, 3, "maria-lead"); err != nil {
		t.Fatal(err)
	}
	e.message(http.MethodPut, nt+"/pulls/3/merge", map[string]string{"sha": e.branch("main")}, http.StatusConflict)
	e.message(http.MethodPut, nt+"/pulls/3/merge", map[string]string{"merge_method": "fast-forward"}, http.StatusUnprocessableEntity)
	var res struct {
		SHA     string
		Merged  bool
		Message string
	}
	e.call(http.MethodPut, nt+"/pulls/3/merge", map[string]string{"sha": pr.Head.SHA}, http.StatusOK, &res)
	if !res.Merged || res.SHA != e.branch("main") || res.Message != "Pull Request successfully merged" {
		t.Fatalf("merge %+v", res)
	}
	var c struct {
		Parents []struct{ SHA string }
		Commit  struct{ Message string }
	}
	e.call(http.MethodGet, nt+"/commits/main", nil, http.StatusOK, &c)
	if len(c.Parents) != 2 || c.Parents[1].SHA != pr.Head.SHA || !strings.HasPrefix(c.Commit.Message, "Merge pull request #3 from gatehouse-net/feature/banner-monitoring") {
		t.Fatalf("merge commit %+v", c)
	}
	if content, _, _ := e.sim.File(repo, "main", LoginBannerPath); content != bannerMonitored {
		t.Fatalf("main banner %q", content)
	}
	e.call(http.MethodGet, nt+"/pulls/3", nil, http.StatusOK, &pr)
	if !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != res.SHA || pr.Mergeable != nil {
		t.Fatalf("merged pr %+v", pr)
	}
	if e.sim.IssueState(repo, 2) != "closed" {
		t.Fatal("Closes #2 did not close the issue")
	}
	e.message(http.MethodPut, nt+"/pulls/3/merge", map[string]string{}, http.StatusMethodNotAllowed)

	// squash and rebase, and a conflict.
	for _, method := range []string{"squash", "rebase"} {
		branch := "m/" + method
		e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/" + branch, "sha": e.branch("main")}, http.StatusCreated, nil)
		for i := range 2 {
			if _, err := e.sim.Push(repo, branch, "dana-dev", fmt.Sprintf("%s %d", method, i), map[string]string{method + ".txt": fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		var opened prAnswer
		e.call(http.MethodPost, nt+"/pulls", map[string]any{"title": method, "head": branch, "base": "main"}, http.StatusCreated, &opened)
		if err := e.sim.SetCheckRun(repo, branch, LintCheck, "success"); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.Approve(repo, opened.Number, "nina-neteng"); err != nil {
			t.Fatal(err)
		}
		before := e.branch("main")
		e.call(http.MethodPut, nt+fmt.Sprintf("/pulls/%d/merge", opened.Number), map[string]string{"merge_method": method}, http.StatusOK, &res)
		var list []struct {
			SHA     string
			Parents []struct{ SHA string }
		}
		e.call(http.MethodGet, nt+"/commits?sha=main&per_page=3", nil, http.StatusOK, &list)
		want := map[string]int{"squash": 1, "rebase": 2}[method]
		if list[want].SHA != before || len(list[0].Parents) != 1 {
			t.Fatalf("%s: %+v", method, list)
		}
		if content, _, _ := e.sim.File(repo, "main", method+".txt"); content != "1" {
			t.Fatalf("%s: %q", method, content)
		}
	}
	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/clash", "sha": e.branch("main")}, http.StatusCreated, nil)
	if _, err := e.sim.Push(repo, "clash", "dana-dev", "ours", map[string]string{"squash.txt": "ours"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Push(repo, "main", "nina-neteng", "theirs", map[string]string{"squash.txt": "theirs"}); err != nil {
		t.Fatal(err)
	}
	var clash prAnswer
	e.call(http.MethodPost, nt+"/pulls", map[string]any{"title": "clash", "head": Org + ":clash", "base": "main"}, http.StatusCreated, &clash)
	if clash.MergeableState != "dirty" || *clash.Mergeable {
		t.Fatalf("conflict %+v", clash)
	}
	if msg := e.message(http.MethodPut, nt+fmt.Sprintf("/pulls/%d/merge", clash.Number), map[string]string{}, http.StatusMethodNotAllowed); msg != "Pull Request is not mergeable" {
		t.Fatal(msg)
	}
	// Opening pull requests: one per head and base, and only with commits.
	if msg := e.message(http.MethodPost, nt+"/pulls", map[string]any{"title": "again", "head": "clash", "base": "main"}, http.StatusUnprocessableEntity); !strings.Contains(msg, "A pull request already exists for gatehouse-net:clash.") {
		t.Fatal(msg)
	}
	e.call(http.MethodPost, nt+"/git/refs", map[string]string{"ref": "refs/heads/empty", "sha": e.branch("main")}, http.StatusCreated, nil)
	if msg := e.message(http.MethodPost, nt+"/pulls", map[string]any{"title": "empty", "head": "empty", "base": "main"}, http.StatusUnprocessableEntity); !strings.Contains(msg, "No commits between main and empty") {
		t.Fatal(msg)
	}
	if msg := e.message(http.MethodPost, nt+"/pulls", map[string]any{"title": "x", "head": "nope", "base": "main"}, http.StatusUnprocessableEntity); !strings.Contains(msg, "PullRequest head invalid") {
		t.Fatal(msg)
	}
}

func TestReviewersAndComments(t *testing.T) {
	e := newEnv(t)
	for body, want := range map[string]string{
		"dana-dev":   "Review cannot be requested from pull request author.",
		"acme-admin": "Reviews may only be requested from collaborators.",
		"nobody":     "Reviews may only be requested from collaborators.",
	} {
		if msg := e.message(http.MethodPost, nt+"/pulls/3/requested_reviewers", map[string]any{"reviewers": []string{body}}, http.StatusUnprocessableEntity); !strings.HasPrefix(msg, want) {
			t.Errorf("%s: %s", body, msg)
		}
	}
	var pr struct {
		RequestedReviewers []struct{ Login string } `json:"requested_reviewers"`
		RequestedTeams     []struct{ Slug string }  `json:"requested_teams"`
	}
	e.call(http.MethodPost, nt+"/pulls/3/requested_reviewers", map[string]any{"reviewers": []string{"maria-lead", "nina-neteng"},
		"team_reviewers": []string{"network-engineers"}}, http.StatusCreated, &pr)
	if len(pr.RequestedReviewers) != 2 || pr.RequestedTeams[0].Slug != "network-engineers" {
		t.Fatalf("requested %+v", pr)
	}
	head := e.branch(BannerBranch)
	comment := func(line int, side string) map[string]any {
		return map[string]any{"body": "?", "commit_id": head, "path": LoginBannerPath, "line": line, "side": side}
	}
	var rc struct {
		ID   int64
		Line int
		Side string
	}
	e.call(http.MethodPost, nt+"/pulls/3/comments", comment(3, ""), http.StatusCreated, &rc)
	if rc.Line != 3 || rc.Side != "RIGHT" {
		t.Fatalf("review comment %+v", rc)
	}
	if msg := e.message(http.MethodPost, nt+"/pulls/3/comments", comment(5, "RIGHT"), http.StatusUnprocessableEntity); !strings.Contains(msg, "line must be part of the diff") {
		t.Fatal(msg)
	}
	if msg := e.message(http.MethodPost, nt+"/pulls/3/comments", comment(4, "LEFT"), http.StatusUnprocessableEntity); !strings.Contains(msg, "line must be part of the diff") {
		t.Fatal(msg)
	}
	bad := comment(1, "RIGHT")
	bad["path"] = "README.md"
	if msg := e.message(http.MethodPost, nt+"/pulls/3/comments", bad, http.StatusUnprocessableEntity); !strings.Contains(msg, "path must be part of the diff") {
		t.Fatal(msg)
	}
	var comments []map[string]any
	e.call(http.MethodGet, nt+"/pulls/3/comments", nil, http.StatusOK, &comments)
	if len(comments) != 1 {
		t.Fatalf("comments %+v", comments)
	}
	var review struct{ State string }
	e.call(http.MethodPost, nt+"/pulls/3/reviews", map[string]any{"event": "COMMENT", "body": "Bot thoughts"}, http.StatusOK, &review)
	if review.State != "COMMENTED" {
		t.Fatalf("review %+v", review)
	}
}

func TestIssues(t *testing.T) {
	e := newEnv(t)
	var items []struct {
		Number      int
		PullRequest map[string]any `json:"pull_request"`
		Labels      []struct{ Name string }
	}
	e.call(http.MethodGet, nt+"/issues", nil, http.StatusOK, &items)
	if len(items) != 2 || items[0].Number != 3 || items[0].PullRequest == nil || items[1].PullRequest != nil {
		t.Fatalf("open items %+v", items)
	}
	e.call(http.MethodGet, nt+"/issues?state=closed", nil, http.StatusOK, &items)
	if len(items) != 1 || items[0].Number != 1 {
		t.Fatalf("closed %+v", items)
	}
	e.call(http.MethodGet, nt+"/issues?state=all&labels=legal,templates&direction=asc", nil, http.StatusOK, &items)
	if len(items) != 1 || items[0].Number != 2 {
		t.Fatalf("labels %+v", items)
	}
	var created struct {
		Number int
		User   struct{ Login string }
		Labels []struct{ Name string }
	}
	e.call(http.MethodPost, nt+"/issues", map[string]any{"title": "New", "labels": []string{"brand-new"}, "assignees": []string{"nina-neteng"}},
		http.StatusCreated, &created)
	if created.Number != 4 || created.User.Login != BotLogin || created.Labels[0].Name != "brand-new" {
		t.Fatalf("created %+v", created)
	}
	if msg := e.message(http.MethodPost, nt+"/issues", map[string]any{"title": "x", "assignees": []string{"acme-admin"}}, http.StatusUnprocessableEntity); !strings.Contains(msg, "Issue assignees invalid") {
		t.Fatal(msg)
	}
	e.message(http.MethodPost, nt+"/issues", map[string]any{"body": "no title"}, http.StatusUnprocessableEntity)
	e.call(http.MethodPost, nt+"/issues", map[string]any{"title": 42}, http.StatusCreated, nil)
	e.call(http.MethodPost, nt+"/issues/3/comments", map[string]any{"body": "on the pull request"}, http.StatusCreated, nil)
	e.message(http.MethodPost, nt+"/issues/3/comments", map[string]any{"body": " "}, http.StatusUnprocessableEntity)
	var comments []struct{ Body string }
	e.call(http.MethodGet, nt+"/issues/3/comments", nil, http.StatusOK, &comments)
	if len(comments) != 1 {
		t.Fatalf("comments %+v", comments)
	}
	e.call(http.MethodGet, nt+"/issues/99", nil, http.StatusNotFound, nil)
	e.call(http.MethodGet, nt+"/pulls/2", nil, http.StatusNotFound, nil) // an issue, not a pull request
}

func TestCodeSearch(t *testing.T) {
	e := newEnv(t)
	type result struct {
		TotalCount int `json:"total_count"`
		Items      []struct {
			Path       string
			Repository struct {
				FullName string `json:"full_name"`
			}
			TextMatches []struct{ Fragment string } `json:"text_matches"`
		}
	}
	search := func(auth, q string, textMatch bool) result {
		t.Helper()
		h := http.Header{}
		if textMatch {
			h.Set("Accept", "application/vnd.github.v3.text-match+json")
		}
		var r result
		resp := e.do(http.MethodGet, "/search/code?q="+strings.ReplaceAll(q, " ", "+"), auth, nil, h)
		e.decode(resp, http.StatusOK, &r)
		return r
	}
	r := search(e.auth, `"ntp server"`, true)
	if r.TotalCount != 1 || r.Items[0].Path != NTPServersPath || r.Items[0].TextMatches[0].Fragment != "ntp server ${ntp_primary} prefer" {
		t.Fatalf("installation %+v", r)
	}
	if r := search("token "+DefaultToken, `"ntp server"`, false); r.TotalCount != 2 || r.Items[0].Repository.FullName != "acme-corp/firewall-rules" {
		t.Fatalf("token %+v", r)
	}
	if r := search("token "+DefaultToken, `"ntp server" org:gatehouse-net org:nobody`, false); r.TotalCount != 1 {
		t.Fatalf("org %+v", r)
	}
	for q, n := range map[string]int{"banner language:\"Velocity Template Language\"": 1, "template extension:py": 1,
		"catalyst in:path": 3, "ntp path:catalyst-center/Global-Services": 1, "company filename:Login-Banner.vtl": 1,
		"templates repo:gatehouse-net/automation": 2, "ntp user:acme-corp": 0} {
		if r := search(e.auth, q, false); r.TotalCount != n {
			t.Errorf("%s: %d hits, want %d", q, r.TotalCount, n)
		}
	}
	if msg := e.message(http.MethodGet, "/search/code?q=org:gatehouse-net", nil, http.StatusUnprocessableEntity); msg != "Validation Failed | Search q missing" {
		t.Fatal(msg)
	}
}

func TestEnterprisePrefix(t *testing.T) {
	e := newEnvWith(t, Options{PathPrefix: "/api/v3/"})
	var repo struct {
		URL string `json:"url"`
	}
	e.call(http.MethodGet, nt, nil, http.StatusOK, &repo)
	if repo.URL != e.srv.URL+"/api/v3"+nt {
		t.Fatalf("url %s", repo.URL)
	}
	resp, err := http.Get(e.srv.URL + nt)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("without the prefix: %d", resp.StatusCode)
	}
	resp = e.call(http.MethodGet, nt+"/branches?per_page=1", nil, http.StatusOK, nil)
	if !strings.Contains(resp.Header.Get("Link"), e.srv.URL+"/api/v3"+nt+"/branches?page=2") {
		t.Fatalf("Link %s", resp.Header.Get("Link"))
	}
}

func TestParseQuery(t *testing.T) {
	q := parseQuery(`ntp "server ${ntp_primary}" org:gatehouse-net Path:catalyst in:file weird:colon "org:quoted"`)
	if strings.Join(q.Terms, "|") != `ntp|server ${ntp_primary}|weird:colon|org:quoted` || q.Qualifiers["org"][0] != "gatehouse-net" ||
		q.Qualifiers["path"][0] != "catalyst" || q.Qualifiers["in"][0] != "file" {
		t.Fatalf("%+v", q)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`ntp "server x" org:a`, `"unterminated org:x`, `a:b:c`, `org:"q v"`, "\t\n", `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := parseQuery(s)
		for _, term := range q.Terms {
			if term == "" || term != strings.ToLower(term) {
				t.Fatalf("term %q from %q", term, s)
			}
		}
		for name, vs := range q.Qualifiers {
			if !knownQualifier(name) {
				t.Fatalf("qualifier %q from %q", name, s)
			}
			for _, v := range vs {
				if v == "" {
					t.Fatalf("empty %s from %q", name, s)
				}
			}
		}
	})
}

func FuzzETagMatches(f *testing.F) {
	for _, s := range []string{`W/"abc"`, `"a", W/"b"`, "*", `"unterminated`, `W/`, `,,,`, `"a,b", "c"`} {
		f.Add(s, `W/"abc"`)
	}
	f.Fuzz(func(t *testing.T, inm, etag string) {
		etagMatches(inm, etag)
		tags := splitETags(inm)
		for _, tag := range tags {
			if tag == "" {
				t.Fatalf("empty tag from %q", inm)
			}
		}
		if strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`) && len(etag) > 1 && !strings.Contains(etag[1:len(etag)-1], `"`) &&
			!etagMatches(etag, etag) {
			t.Fatalf("%q does not match itself", etag)
		}
	})
}
