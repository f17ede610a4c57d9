package vaulttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

type fixture struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	clock *testkit.Clock
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = c.Now
	}
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{t: t, s: s, srv: srv, clock: c}
}

// response is a decoded answer: status, raw body and the body as generic JSON.
type response struct {
	status int
	raw    string
	body   map[string]any
}

// do sends method path (under the server) with token in X-Vault-Token (none when empty) and
// body encoded as JSON (none when nil).
func (f *fixture) do(method, path, token string, body any) response {
	f.t.Helper()
	return f.doHeaders(method, path, body, map[string]string{"X-Vault-Token": token})
}

func (f *fixture) doHeaders(method, path string, body any, headers map[string]string) response {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	out := response{status: resp.StatusCode, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.body); err != nil {
			f.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return out
}

func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

// wantErrors checks a Vault error body: exactly {"errors":[msgs...]}.
func (r response) wantErrors(t *testing.T, status int, msgs ...string) {
	t.Helper()
	r.want(t, status)
	if len(r.body) != 1 {
		t.Fatalf("error body has keys other than errors: %s", r.raw)
	}
	got, ok := r.body["errors"].([]any)
	if !ok {
		t.Fatalf("errors is not a list: %s", r.raw)
	}
	if len(got) != len(msgs) {
		t.Fatalf("errors %q, want %q", got, msgs)
	}
	for i := range msgs {
		if got[i] != msgs[i] {
			t.Fatalf("errors[%d] = %q, want %q", i, got[i], msgs[i])
		}
	}
}

// envelopeKeys are the fields of every non-error Vault response body.
var envelopeKeys = []string{"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"}

func (r response) wantEnvelope(t *testing.T) {
	t.Helper()
	for _, k := range envelopeKeys {
		if _, ok := r.body[k]; !ok {
			t.Fatalf("response lacks %q: %s", k, r.raw)
		}
	}
	if id, _ := r.body["request_id"].(string); len(id) != 36 {
		t.Fatalf("request_id %q is not a UUID", r.body["request_id"])
	}
	if r.body["lease_id"] != "" || r.body["renewable"] != false || num(t, r.body["lease_duration"]) != 0 || r.body["wrap_info"] != nil {
		t.Fatalf("unexpected lease fields: %s", r.raw)
	}
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%#v is not an object", v)
	}
	return m
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%#v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v is not an integer", n)
	}
	return i
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%#v is not a list", v)
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.(string)
	}
	return out
}

const (
	msgNoToken      = "permission denied"
	msgInvalidToken = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
	msgPolicy       = "1 error occurred:\n\t* permission denied\n\n"
)

func TestKVWriteReadVersions(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()

	w := f.do("POST", "/v1/secret/data/gatehouse/github", root, map[string]any{
		"data": map[string]any{"token": "t1", "n": 7},
	}).want(t, 200)
	w.wantEnvelope(t)
	if w.body["mount_type"] != "kv" {
		t.Errorf("mount_type %v", w.body["mount_type"])
	}
	wd := obj(t, w.body["data"])
	if num(t, wd["version"]) != 1 || wd["deletion_time"] != "" || wd["destroyed"] != false || wd["custom_metadata"] != nil {
		t.Fatalf("write metadata: %s", w.raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, wd["created_time"].(string)); err != nil {
		t.Fatalf("created_time: %v", err)
	}
	if _, ok := wd["data"]; ok {
		t.Fatalf("write response must carry metadata only: %s", w.raw)
	}

	f.clock.Advance(time.Minute)
	f.do("PUT", "/v1/secret/data/gatehouse/github", root, map[string]any{
		"data": map[string]any{"token": "t2"},
	}).want(t, 200)

	r := f.do("GET", "/v1/secret/data/gatehouse/github", root, nil).want(t, 200)
	r.wantEnvelope(t)
	d := obj(t, r.body["data"])
	if got := obj(t, d["data"]); got["token"] != "t2" || len(got) != 1 {
		t.Fatalf("latest data: %s", r.raw)
	}
	md := obj(t, d["metadata"])
	if num(t, md["version"]) != 2 || md["deletion_time"] != "" || md["destroyed"] != false || md["custom_metadata"] != nil {
		t.Fatalf("latest metadata: %s", r.raw)
	}
	if md["created_time"] != "2026-03-01T12:01:00Z" {
		t.Fatalf("created_time %v does not follow the double's clock", md["created_time"])
	}

	r1 := f.do("GET", "/v1/secret/data/gatehouse/github?version=1", root, nil).want(t, 200)
	d1 := obj(t, r1.body["data"])
	if got := obj(t, d1["data"]); got["token"] != "t1" || num(t, got["n"]) != 7 {
		t.Fatalf("version 1 data: %s", r1.raw)
	}
	if num(t, obj(t, d1["metadata"])["version"]) != 1 {
		t.Fatalf("version 1 metadata: %s", r1.raw)
	}

	f.do("GET", "/v1/secret/data/gatehouse/github?version=9", root, nil).wantErrors(t, 404)
	f.do("GET", "/v1/secret/data/gatehouse/missing", root, nil).wantErrors(t, 404)
	f.do("GET", "/v1/secret/data/gatehouse/github?version=x", root, nil).want(t, 400)

	// Three reads reached the engine; the malformed one was refused before it.
	if got := f.s.Reads("gatehouse/github"); got != 3 {
		t.Errorf("Reads = %d, want 3", got)
	}
	if got := f.s.Reads("gatehouse/missing"); got != 1 {
		t.Errorf("Reads(missing) = %d, want 1", got)
	}
}

func TestKVMetadata(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()
	f.do("GET", "/v1/secret/metadata/a", root, nil).wantErrors(t, 404)

	f.s.Put("a", map[string]any{"v": "1"})
	f.clock.Advance(time.Second)
	f.s.Put("a", map[string]any{"v": "2"})
	f.clock.Advance(time.Second)
	f.do("DELETE", "/v1/secret/data/a", root, nil).want(t, 204)

	m := f.do("GET", "/v1/secret/metadata/a", root, nil).want(t, 200)
	m.wantEnvelope(t)
	d := obj(t, m.body["data"])
	for _, k := range []string{"cas_required", "created_time", "current_version", "custom_metadata", "delete_version_after", "max_versions", "oldest_version", "updated_time", "versions"} {
		if _, ok := d[k]; !ok {
			t.Fatalf("metadata lacks %q: %s", k, m.raw)
		}
	}
	if num(t, d["current_version"]) != 2 || num(t, d["oldest_version"]) != 0 || d["delete_version_after"] != "0s" {
		t.Fatalf("metadata: %s", m.raw)
	}
	if d["created_time"] != "2026-03-01T12:00:00Z" || d["updated_time"] != "2026-03-01T12:00:01Z" {
		t.Fatalf("metadata times: %s", m.raw)
	}
	vs := obj(t, d["versions"])
	if len(vs) != 2 {
		t.Fatalf("versions: %s", m.raw)
	}
	if v1 := obj(t, vs["1"]); v1["deletion_time"] != "" || v1["destroyed"] != false {
		t.Fatalf("version 1: %s", m.raw)
	}
	if v2 := obj(t, vs["2"]); v2["deletion_time"] != "2026-03-01T12:00:02Z" {
		t.Fatalf("version 2 should show its deletion: %s", m.raw)
	}
}

func TestKVKeepsTenVersions(t *testing.T) {
	f := newFixture(t, Options{})
	for i := 1; i <= 12; i++ {
		if v := f.s.Put("k", map[string]any{"i": i}); v != i {
			t.Fatalf("Put returned version %d, want %d", v, i)
		}
	}
	root := f.s.RootToken()
	d := obj(t, f.do("GET", "/v1/secret/metadata/k", root, nil).want(t, 200).body["data"])
	if num(t, d["current_version"]) != 12 || num(t, d["oldest_version"]) != 3 || len(obj(t, d["versions"])) != 10 {
		t.Fatalf("metadata after 12 writes: %v", d)
	}
	f.do("GET", "/v1/secret/data/k?version=2", root, nil).wantErrors(t, 404)
	f.do("GET", "/v1/secret/data/k?version=3", root, nil).want(t, 200)
}

func TestKVCheckAndSet(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()
	path := "/v1/secret/data/cas"

	f.do("POST", path, root, map[string]any{"options": map[string]any{"cas": 1}, "data": map[string]any{"a": "x"}}).
		wantErrors(t, 400, "check-and-set parameter did not match the current version")
	f.do("POST", path, root, map[string]any{"options": map[string]any{"cas": 0}, "data": map[string]any{"a": "1"}}).want(t, 200)
	f.do("POST", path, root, map[string]any{"options": map[string]any{"cas": 0}, "data": map[string]any{"a": "2"}}).
		wantErrors(t, 400, "check-and-set parameter did not match the current version")
	w := f.do("POST", path, root, map[string]any{"options": map[string]any{"cas": "1"}, "data": map[string]any{"a": "2"}}).want(t, 200)
	if num(t, obj(t, w.body["data"])["version"]) != 2 {
		t.Fatalf("cas write: %s", w.raw)
	}
	f.do("POST", path, root, map[string]any{"options": map[string]any{"cas": "two"}, "data": map[string]any{"a": "3"}}).
		wantErrors(t, 400, "error parsing check-and-set parameter")
	f.do("POST", path, root, map[string]any{"options": map[string]any{}, "data": map[string]any{"a": "3"}}).want(t, 200)
	f.do("POST", path, root, map[string]any{"nodata": true}).wantErrors(t, 400, "no data provided")
	f.do("POST", path, root, map[string]any{"data": "text"}).want(t, 400)

	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader("{not json"))
	req.Header.Set("X-Vault-Token", root)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON: status %d", resp.StatusCode)
	}
}

func TestKVSoftDelete(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()
	f.s.Put("gone", map[string]any{"v": "1"})
	f.clock.Advance(time.Second)
	f.s.Put("gone", map[string]any{"v": "2"})
	f.clock.Advance(time.Second)

	del := f.do("DELETE", "/v1/secret/data/gone", root, nil).want(t, 204)
	if del.raw != "" {
		t.Fatalf("204 with a body: %q", del.raw)
	}
	r := f.do("GET", "/v1/secret/data/gone", root, nil).want(t, 404)
	r.wantEnvelope(t)
	d := obj(t, r.body["data"])
	if v, ok := d["data"]; !ok || v != nil {
		t.Fatalf("deleted version must have data null: %s", r.raw)
	}
	md := obj(t, d["metadata"])
	if num(t, md["version"]) != 2 || md["deletion_time"] != "2026-03-01T12:00:02Z" || md["destroyed"] != false {
		t.Fatalf("deleted version metadata: %s", r.raw)
	}
	// The older version is untouched; deleting again, or deleting nothing, is still 204.
	f.do("GET", "/v1/secret/data/gone?version=1", root, nil).want(t, 200)
	f.do("DELETE", "/v1/secret/data/gone", root, nil).want(t, 204)
	f.do("DELETE", "/v1/secret/data/never", root, nil).want(t, 204)
	// A new write makes the key readable again.
	f.s.Put("gone", map[string]any{"v": "3"})
	f.do("GET", "/v1/secret/data/gone", root, nil).want(t, 200)
}

func TestTokenAuthHeaders(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.Put("p", map[string]any{"k": "v"})
	root := f.s.RootToken()

	f.do("GET", "/v1/secret/data/p", "", nil).wantErrors(t, 403, msgNoToken)
	f.do("GET", "/v1/secret/data/p", "hvs.bogus", nil).wantErrors(t, 403, msgInvalidToken)
	f.do("GET", "/v1/auth/token/lookup-self", "", nil).wantErrors(t, 403, msgNoToken)
	f.do("POST", "/v1/auth/token/renew-self", "nope", nil).wantErrors(t, 403, msgInvalidToken)
	f.doHeaders("GET", "/v1/secret/data/p", nil, map[string]string{"Authorization": "Bearer " + root}).want(t, 200)
	f.doHeaders("GET", "/v1/secret/data/p", nil, map[string]string{"Authorization": "Bearer wrong"}).wantErrors(t, 403, msgInvalidToken)
	f.doHeaders("GET", "/v1/secret/data/p", nil, map[string]string{"X-Vault-Token": root, "X-Vault-Namespace": "team-a/"}).want(t, 200)
	if got := f.s.Reads("p"); got != 2 {
		t.Errorf("Reads = %d, want 2 (refused requests do not count)", got)
	}
	f.do("GET", "/v1/nosuchmount/data/x", root, nil).want(t, 404)
	f.do("GET", "/v1/secret/other/x", root, nil).want(t, 404)
	f.do("PATCH", "/v1/secret/data/p", root, map[string]any{"data": map[string]any{}}).want(t, 405)
	f.do("GET", "/not-v1", root, nil).want(t, 404)
}

func TestCustomMount(t *testing.T) {
	f := newFixture(t, Options{Mount: "/kv/team/"})
	f.s.Put("x", map[string]any{"a": "b"})
	root := f.s.RootToken()
	f.do("GET", "/v1/kv/team/data/x", root, nil).want(t, 200)
	f.do("GET", "/v1/secret/data/x", root, nil).want(t, 404)
}

func TestLookupSelfAndExpiry(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.s.IssueToken(time.Hour, true)
	if !strings.HasPrefix(tok, "hvs.") {
		t.Errorf("token %q lacks Vault's hvs. prefix", tok)
	}
	f.s.Put("p", map[string]any{"k": "v"})

	r := f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200)
	r.wantEnvelope(t)
	d := obj(t, r.body["data"])
	for _, k := range []string{"accessor", "creation_time", "creation_ttl", "display_name", "expire_time", "id", "policies", "renewable", "ttl", "issue_time", "meta", "num_uses", "orphan", "path", "type", "entity_id", "explicit_max_ttl"} {
		if _, ok := d[k]; !ok {
			t.Fatalf("lookup-self lacks %q: %s", k, r.raw)
		}
	}
	if d["id"] != tok || d["renewable"] != true || num(t, d["ttl"]) != 3600 || num(t, d["creation_ttl"]) != 3600 ||
		d["expire_time"] != "2026-03-01T13:00:00Z" || num(t, d["creation_time"]) != f.clock.Now().Unix() ||
		d["display_name"] != "token" || d["type"] != "service" || d["path"] != "auth/token/create" {
		t.Fatalf("lookup-self data: %s", r.raw)
	}
	if p := strs(t, d["policies"]); len(p) != 1 || p[0] != "root" {
		t.Fatalf("policies %v", p)
	}
	if acc, _ := d["accessor"].(string); acc == "" || acc == tok {
		t.Fatalf("accessor %q", acc)
	}

	f.clock.Advance(59*time.Minute + 30*time.Second)
	d = obj(t, f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200).body["data"])
	if num(t, d["ttl"]) != 30 || num(t, d["creation_ttl"]) != 3600 {
		t.Fatalf("remaining ttl %v, creation_ttl %v", d["ttl"], d["creation_ttl"])
	}
	f.do("GET", "/v1/secret/data/p", tok, nil).want(t, 200)

	f.clock.Advance(30 * time.Second)
	f.do("GET", "/v1/auth/token/lookup-self", tok, nil).wantErrors(t, 403, msgInvalidToken)
	f.do("GET", "/v1/secret/data/p", tok, nil).wantErrors(t, 403, msgInvalidToken)
	f.do("POST", "/v1/auth/token/renew-self", tok, map[string]any{"increment": "1h"}).wantErrors(t, 403, msgInvalidToken)
}

func TestNonExpiringToken(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.s.IssueToken(0, true)
	d := obj(t, f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200).body["data"])
	if num(t, d["ttl"]) != 0 || d["expire_time"] != nil || num(t, d["creation_ttl"]) != 0 {
		t.Fatalf("non-expiring token: %v", d)
	}
	f.clock.Advance(10000 * time.Hour)
	f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200)
	f.do("POST", "/v1/auth/token/renew-self", tok, nil).wantErrors(t, 400, "lease is not renewable")
}

func TestRenewSelf(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.s.IssueToken(time.Hour, true)
	f.clock.Advance(50 * time.Minute)

	r := f.do("POST", "/v1/auth/token/renew-self", tok, map[string]any{"increment": "2h"}).want(t, 200)
	r.wantEnvelope(t)
	if r.body["data"] != nil || r.body["mount_type"] != "token" {
		t.Fatalf("renew-self body: %s", r.raw)
	}
	a := obj(t, r.body["auth"])
	if a["client_token"] != tok || num(t, a["lease_duration"]) != 7200 || a["renewable"] != true || a["token_type"] != "service" {
		t.Fatalf("renew-self auth: %s", r.raw)
	}
	if p := strs(t, a["policies"]); len(p) != 1 || p[0] != "root" {
		t.Fatalf("renew-self policies: %v", p)
	}
	if p := strs(t, a["token_policies"]); len(p) != 1 || p[0] != "root" {
		t.Fatalf("renew-self token_policies: %v", p)
	}
	d := obj(t, f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200).body["data"])
	if num(t, d["ttl"]) != 7200 || num(t, d["creation_ttl"]) != 3600 || d["expire_time"] != "2026-03-01T14:50:00Z" {
		t.Fatalf("after renewal: %v", d)
	}
	if _, ok := d["last_renewal_time"]; !ok {
		t.Fatalf("lookup-self after renewal lacks last_renewal_time: %v", d)
	}

	// A number is seconds (what github.com/hashicorp/vault/api sends); 0 or none: the token's own TTL.
	a = obj(t, f.do("PUT", "/v1/auth/token/renew-self", tok, map[string]any{"increment": 600}).want(t, 200).body["auth"])
	if num(t, a["lease_duration"]) != 600 {
		t.Fatalf("numeric increment: %v", a)
	}
	a = obj(t, f.do("POST", "/v1/auth/token/renew-self", tok, map[string]any{"increment": 0}).want(t, 200).body["auth"])
	if num(t, a["lease_duration"]) != 3600 {
		t.Fatalf("zero increment: %v", a)
	}
	a = obj(t, f.do("POST", "/v1/auth/token/renew-self", tok, nil).want(t, 200).body["auth"])
	if num(t, a["lease_duration"]) != 3600 {
		t.Fatalf("no body: %v", a)
	}
	f.do("POST", "/v1/auth/token/renew-self", tok, map[string]any{"increment": "soon"}).want(t, 400)
	f.do("GET", "/v1/auth/token/renew-self", tok, nil).want(t, 405)
	if got := f.s.Renewals(); got != 4 {
		t.Errorf("Renewals = %d, want 4", got)
	}

	// Renewals stop at the max TTL (32 days from issue), with a warning.
	r = f.do("POST", "/v1/auth/token/renew-self", tok, map[string]any{"increment": "800h"}).want(t, 200)
	a = obj(t, r.body["auth"])
	if want := int64((DefaultTokenTTL - 50*time.Minute) / time.Second); num(t, a["lease_duration"]) != want {
		t.Fatalf("capped lease_duration %v, want %d", a["lease_duration"], want)
	}
	if w := strs(t, r.body["warnings"]); len(w) != 1 || !strings.Contains(w[0], "max_ttl") {
		t.Fatalf("capped renewal warnings: %v", w)
	}

	fixed := f.s.IssueToken(time.Hour, false)
	f.do("POST", "/v1/auth/token/renew-self", fixed, map[string]any{"increment": "1h"}).wantErrors(t, 400, "lease is not renewable")
	if got := f.s.Renewals(); got != 5 {
		t.Errorf("Renewals = %d, want 5 (refusals do not count)", got)
	}
}

func TestRootToken(t *testing.T) {
	f := newFixture(t, Options{TokenTTL: 2 * time.Hour})
	root := f.s.RootToken()
	if root != f.s.RootToken() {
		t.Fatal("RootToken changes")
	}
	d := obj(t, f.do("GET", "/v1/auth/token/lookup-self", root, nil).want(t, 200).body["data"])
	if d["display_name"] != "root" || d["renewable"] != true || num(t, d["ttl"]) != 7200 {
		t.Fatalf("root lookup: %v", d)
	}
	if p := strs(t, d["policies"]); len(p) != 1 || p[0] != "root" {
		t.Fatalf("root policies %v", p)
	}
	f.do("POST", "/v1/auth/token/renew-self", root, nil).want(t, 200)
}

func TestAppRoleLogin(t *testing.T) {
	f := newFixture(t, Options{TokenTTL: 20 * time.Minute})
	f.s.AddAppRole("gatehouse", "role-1", "secret-1", "gatehouse-read", "default")
	f.s.Put("gatehouse/db", map[string]any{"password": "pw"})

	r := f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "role-1", "secret_id": "secret-1"}).want(t, 200)
	r.wantEnvelope(t)
	if r.body["data"] != nil {
		t.Fatalf("login data: %s", r.raw)
	}
	a := obj(t, r.body["auth"])
	tok, _ := a["client_token"].(string)
	if tok == "" || a["accessor"] == "" || a["renewable"] != true || num(t, a["lease_duration"]) != 1200 || a["orphan"] != true {
		t.Fatalf("login auth: %s", r.raw)
	}
	for _, k := range []string{"policies", "token_policies"} {
		if p := strs(t, a[k]); strings.Join(p, ",") != "default,gatehouse-read" {
			t.Fatalf("%s = %v", k, p)
		}
	}
	if md := obj(t, a["metadata"]); md["role_name"] != "gatehouse" || len(md) != 1 {
		t.Fatalf("login metadata: %s", r.raw)
	}
	if f.s.Logins() != 1 {
		t.Fatalf("Logins = %d", f.s.Logins())
	}

	f.do("GET", "/v1/secret/data/gatehouse/db", tok, nil).want(t, 200)
	d := obj(t, f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200).body["data"])
	if d["display_name"] != "approle" || d["path"] != "auth/approle/login" || obj(t, d["meta"])["role_name"] != "gatehouse" {
		t.Fatalf("approle token lookup: %v", d)
	}
	f.clock.Advance(20 * time.Minute)
	f.do("GET", "/v1/secret/data/gatehouse/db", tok, nil).wantErrors(t, 403, msgInvalidToken)

	// Errors, as Vault's approle backend words them.
	f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "role-1", "secret_id": "wrong"}).
		wantErrors(t, 400, "invalid role or secret ID")
	f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "nobody", "secret_id": "secret-1"}).
		wantErrors(t, 400, "invalid role or secret ID")
	f.do("POST", "/v1/auth/approle/login", "", map[string]any{"secret_id": "secret-1"}).wantErrors(t, 400, "missing role_id")
	f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "role-1"}).wantErrors(t, 400, "missing secret_id")
	f.do("GET", "/v1/auth/approle/login", "", nil).want(t, 405)
	if f.s.Logins() != 1 {
		t.Fatalf("failed logins counted: %d", f.s.Logins())
	}

	// Rotating the secret_id invalidates the old one.
	f.s.AddAppRole("gatehouse", "role-1", "secret-2", "gatehouse-read")
	f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "role-1", "secret_id": "secret-1"}).
		wantErrors(t, 400, "invalid role or secret ID")
	f.do("PUT", "/v1/auth/approle/login", "", map[string]any{"role_id": "role-1", "secret_id": "secret-2"}).want(t, 200)
	if f.s.Logins() != 2 {
		t.Fatalf("Logins = %d, want 2", f.s.Logins())
	}
}

func TestDefaultPolicyOnlyHasNoKVAccess(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.AddAppRole("bare", "r", "s")
	f.s.Put("x", map[string]any{"a": "b"})
	a := obj(t, f.do("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "r", "secret_id": "s"}).want(t, 200).body["auth"])
	tok := a["client_token"].(string)
	if p := strs(t, a["token_policies"]); strings.Join(p, ",") != "default" {
		t.Fatalf("token_policies %v", p)
	}
	f.do("GET", "/v1/secret/data/x", tok, nil).wantErrors(t, 403, msgPolicy)
	f.do("POST", "/v1/secret/data/x", tok, map[string]any{"data": map[string]any{}}).wantErrors(t, 403, msgPolicy)
	f.do("GET", "/v1/auth/token/lookup-self", tok, nil).want(t, 200)
	f.do("POST", "/v1/auth/token/renew-self", tok, nil).want(t, 200)
	if f.s.Reads("x") != 0 {
		t.Fatalf("refused read counted")
	}
}

func TestSealed(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()
	f.s.AddAppRole("r", "rid", "sid", "p")
	f.s.Put("x", map[string]any{"a": "b"})

	h := f.do("GET", "/v1/sys/health", "", nil).want(t, 200)
	if h.body["sealed"] != false || h.body["initialized"] != true || h.body["standby"] != false || num(t, h.body["server_time_utc"]) != f.clock.Now().Unix() {
		t.Fatalf("health: %s", h.raw)
	}

	f.s.Seal(true)
	for _, c := range []struct{ method, path, token string }{
		{"GET", "/v1/secret/data/x", root},
		{"POST", "/v1/secret/data/x", root},
		{"DELETE", "/v1/secret/data/x", root},
		{"GET", "/v1/secret/metadata/x", root},
		{"GET", "/v1/auth/token/lookup-self", root},
		{"POST", "/v1/auth/token/renew-self", root},
		{"POST", "/v1/auth/approle/login", ""},
		{"GET", "/v1/secret/data/x", ""},
		{"GET", "/v1/anything", "bogus"},
	} {
		f.do(c.method, c.path, c.token, map[string]any{"role_id": "rid", "secret_id": "sid", "data": map[string]any{}}).
			wantErrors(t, 503, "Vault is sealed")
	}
	h = f.do("GET", "/v1/sys/health", "", nil).want(t, 503)
	if h.body["sealed"] != true || h.body["standby"] != true {
		t.Fatalf("sealed health: %s", h.raw)
	}
	// What github.com/hashicorp/vault/api's Sys().Health() asks for.
	f.do("GET", "/v1/sys/health?uninitcode=299&sealedcode=299&standbycode=299", "", nil).want(t, 299)
	f.do("HEAD", "/v1/sys/health", "", nil).want(t, 503)
	if f.s.Reads("x") != 0 || f.s.Logins() != 0 || f.s.Renewals() != 0 {
		t.Fatal("sealed requests counted")
	}

	f.s.Seal(false)
	f.do("GET", "/v1/secret/data/x", root, nil).want(t, 200)
	f.do("GET", "/v1/sys/health?activecode=204", "", nil).want(t, 204)
	f.do("GET", "/v1/sys/health?activecode=abc", "", nil).want(t, 400)
	f.do("POST", "/v1/sys/health", "", nil).want(t, 405)
}

func TestPutDirect(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.Seal(true)
	if v := f.s.Put("/a/b/", map[string]any{"n": 1.5, "s": "x", "nested": map[string]any{"k": []any{"v"}}}); v != 1 {
		t.Fatalf("version %d", v)
	}
	if v := f.s.Put("a/b", nil); v != 2 {
		t.Fatalf("version %d", v)
	}
	f.s.Seal(false)
	root := f.s.RootToken()
	d := obj(t, f.do("GET", "/v1/secret/data/a/b?version=1", root, nil).want(t, 200).body["data"])
	data := obj(t, d["data"])
	if data["s"] != "x" || data["n"].(json.Number).String() != "1.5" || obj(t, data["nested"])["k"].([]any)[0] != "v" {
		t.Fatalf("data: %v", data)
	}
	d = obj(t, f.do("GET", "/v1/secret/data/a/b", root, nil).want(t, 200).body["data"])
	if len(obj(t, d["data"])) != 0 {
		t.Fatalf("nil data should read as {}: %v", d)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Put with unencodable data did not panic")
		}
	}()
	f.s.Put("bad", map[string]any{"ch": make(chan int)})
}

// status sends a request without failing the test (for use off the test goroutine).
func (f *fixture) status(method, path, token string, body any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.s.RootToken()
	f.s.AddAppRole("r", "rid", "sid", "p")
	check := func(method, path, token string, body any) {
		if code, err := f.status(method, path, token, body); err != nil || code != 200 {
			t.Errorf("%s %s: %d %v", method, path, code, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/v1/secret/data/c%d", i%2)
			for j := range 10 {
				check("POST", path, root, map[string]any{"data": map[string]any{"j": j}})
				check("GET", path, root, nil)
				f.s.Put("direct", map[string]any{"j": j})
				_ = f.s.Reads("c0") + f.s.Logins() + f.s.Renewals()
			}
			check("POST", "/v1/auth/approle/login", "", map[string]any{"role_id": "rid", "secret_id": "sid"})
			check("POST", "/v1/auth/token/renew-self", root, nil)
			f.clock.Advance(time.Millisecond)
		}()
	}
	wg.Wait()
	if got := f.s.Reads("c0") + f.s.Reads("c1"); got != 80 {
		t.Errorf("reads %d, want 80", got)
	}
	if f.s.Logins() != 8 || f.s.Renewals() != 8 {
		t.Errorf("logins %d renewals %d", f.s.Logins(), f.s.Renewals())
	}
	d := obj(t, f.do("GET", "/v1/secret/metadata/direct", root, nil).want(t, 200).body["data"])
	if num(t, d["current_version"]) != 80 {
		t.Errorf("direct versions %v", d["current_version"])
	}
}
