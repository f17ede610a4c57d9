// Package vaulttest is a contract double of HashiCorp Vault's HTTP API. It is not Vault.
//
// Server is an http.Handler that answers exactly the Vault endpoints Gatehouse's adapter kit
// calls, with the request and response shapes, status codes and error messages described in
// Vault's published HTTP API documentation (developer.hashicorp.com/vault/api-docs:
// secret/kv/kv-v2, auth/approle, auth/token, system/health), so that the real client,
// github.com/hashicorp/vault/api, parses its answers the way it parses Vault's. It exists
// because no Vault server can be built from the Go module proxy on the project's build
// machines (Vault's release builds use an unpublished in-tree sdk), so the kit's CI runs its
// Vault code against this double instead.
//
// Passing against the double proves only that the kit agrees with the documented contract.
// The kit's real-Vault test runs the same code against a real Vault whenever VAULT_ADDR and
// VAULT_TOKEN are set (for example the dev-mode Vault in compose.yaml) and skips, loudly,
// when they are not; that test, not this package, is the evidence that the kit works with
// Vault.
//
// Endpoints (all under /v1/; the token is read from X-Vault-Token or "Authorization: Bearer";
// X-Vault-Namespace is accepted and ignored):
//
//	GET    /v1/sys/health                    200 active, 503 sealed (activecode/sealedcode/... query parameters honoured)
//	POST   /v1/auth/approle/login            {"role_id","secret_id"} -> auth block; 400 "invalid role or secret ID"
//	GET    /v1/auth/token/lookup-self        token data (ttl by the double's clock)
//	POST   /v1/auth/token/renew-self         {"increment"} -> auth block; 400 "lease is not renewable"
//	GET    /v1/{mount}/data/{path}?version=N secret data and version metadata; 404 when absent or deleted
//	POST   /v1/{mount}/data/{path}           {"data",{"options":{"cas"}}} -> new version; 400 on a cas mismatch
//	DELETE /v1/{mount}/data/{path}           soft-deletes the latest version; 204
//	GET    /v1/{mount}/metadata/{path}       key metadata with every kept version
//	POST   /v1/pki/issue/{role}              a real certificate and key from the double's CA (pki.go)
//
// PUT is accepted wherever POST is, as in Vault. While sealed every endpoint but sys/health
// answers 503 {"errors":["Vault is sealed"]}.
//
// Tokens: a missing token gets 403 {"errors":["permission denied"]}; an unknown, expired or
// revoked token gets 403 with Vault's (1.17 and later) two messages, "permission denied" and
// "invalid token", in one multi-error string. ACL policy documents are not evaluated: a token
// whose policies include anything besides "default" may use every KV path, while a token
// holding only "default" is refused KV access (403 "permission denied"), as Vault's built-in
// default policy grants no access to secrets engines. lookup-self and renew-self are open to
// every valid token, as under the default policy.
//
// Not modelled: other secrets engines and auth methods, KV v2 config, undelete, destroy,
// patch and list, custom metadata, wrapping, namespaces, batch and periodic tokens, token use
// counts, secret_id TTLs and CIDR bindings, entity aliases, and anything else the kit does
// not call.
package vaulttest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultTokenTTL is the TTL given to tokens when Options.TokenTTL is zero: Vault's default
// lease TTL (32 days), which is also its default system max TTL.
const DefaultTokenTTL = 768 * time.Hour

// Options configure a Server.
type Options struct {
	// Mount is the path of the KV v2 secrets engine (default "secret").
	Mount string
	// Now is the double's clock (default time.Now). Token expiry, remaining TTLs and KV
	// timestamps all follow it, so tests can move time forward without sleeping.
	Now func() time.Time
	// TokenTTL is the TTL of the root token and of tokens issued by AppRole login, and what
	// renew-self grants when no increment is asked for (default DefaultTokenTTL).
	TokenTTL time.Duration
}

// Server is the contract double: an http.Handler serving Vault's HTTP API for the endpoints
// listed in the package documentation. Its methods are safe for concurrent use.
type Server struct {
	mount    string
	now      func() time.Time
	tokenTTL time.Duration
	rootID   string

	mu       sync.Mutex
	sealed   bool
	tokens   map[string]*token   // by token ID
	roles    map[string]*appRole // by role name
	secrets  map[string]*kvKey   // by path inside the mount
	reads    map[string]int      // KV data reads by path
	logins   int
	renewals int
}

// New returns a Server with an unsealed Vault, an empty KV v2 mount and a root token.
func New(opts Options) *Server {
	s := &Server{
		mount:    strings.Trim(opts.Mount, "/"),
		now:      opts.Now,
		tokenTTL: opts.TokenTTL,
		tokens:   map[string]*token{},
		roles:    map[string]*appRole{},
		secrets:  map[string]*kvKey{},
		reads:    map[string]int{},
	}
	if s.mount == "" {
		s.mount = "secret"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = DefaultTokenTTL
	}
	root := s.newTokenLocked(s.tokenTTL, true, []string{"root"})
	root.displayName, root.path, root.orphan = "root", "auth/token/root", true
	s.rootID = root.id
	return s
}

// RootToken returns the token created with the Server: it holds the "root" policy (so it may
// read and write every KV path), is renewable, and lives for Options.TokenTTL by the
// double's clock. (Vault's own root token never expires and cannot be renewed; this one does
// both so that expiry and renewal can be tested with it too.)
func (s *Server) RootToken() string { return s.rootID }

// AddAppRole registers an AppRole named role that logs in with roleID and secretID and whose
// tokens carry policies plus "default" (sorted, as Vault reports them). With no policies the
// tokens hold only "default" and are refused KV access. Calling it again for the same role
// replaces its role_id, secret_id and policies, so a test can rotate the secret_id.
func (s *Server) AddAppRole(role, roleID, secretID string, policies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[role] = &appRole{
		name:     role,
		roleID:   roleID,
		secretID: secretID,
		policies: sanitizePolicies(append([]string{"default"}, policies...)),
		entityID: newUUID(),
	}
}

// IssueToken creates a token as the root token would through auth/token/create: it inherits
// the "root" policy and lives for ttl by the double's clock (ttl <= 0: it never expires, and
// so cannot be renewed, like Vault's root-policy tokens created without a TTL).
func (s *Server) IssueToken(ttl time.Duration, renewable bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ttl < 0 {
		ttl = 0
	}
	t := s.newTokenLocked(ttl, renewable, []string{"root"})
	return t.id
}

// Put writes a new version of the KV v2 secret at path (inside the mount, for example
// "gatehouse/github") directly, without HTTP, a token or a check-and-set, and returns the new
// version number. It works while sealed, does not count as a read, and panics if data cannot
// be encoded as JSON.
func (s *Server) Put(path string, data map[string]any) int {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("vaulttest: Put %q: %v", path, err))
	}
	if data == nil {
		raw = []byte("{}")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeVersionLocked(strings.Trim(path, "/"), raw).number
}

// Seal seals (true) or unseals (false) the double. While sealed every endpoint but
// sys/health answers 503 {"errors":["Vault is sealed"]}; tokens and secrets survive.
func (s *Server) Seal(sealed bool) {
	s.mu.Lock()
	s.sealed = sealed
	s.mu.Unlock()
}

// Reads reports how many KV data reads (GET {mount}/data/{path}, any version, found or not)
// reached the double for path (inside the mount, for example "gatehouse/github") with a
// token allowed to read it. Metadata reads and refused requests are not counted.
func (s *Server) Reads(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[strings.Trim(path, "/")]
}

// Logins reports how many AppRole logins succeeded.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Renewals reports how many renew-self calls renewed a token (refused ones are not counted).
func (s *Server) Renewals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewals
}

// maxBody bounds a request body, as Vault's max_request_size (32 MiB by default) does.
const maxBody = 32 << 20

// reply is a response computed under the lock and written after it is released.
type reply struct {
	status int
	body   any // nil: no body
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var rep reply
	switch {
	case err != nil:
		rep = errorReply(http.StatusBadRequest, "failed to read request body: "+err.Error())
	case len(body) > maxBody:
		rep = errorReply(http.StatusRequestEntityTooLarge, "http: request body too large")
	default:
		s.mu.Lock()
		rep = s.route(r, body)
		s.mu.Unlock()
	}
	write(w, r, rep)
}

// route dispatches one request; s.mu is held.
func (s *Server) route(r *http.Request, body []byte) reply {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		return errorReply(http.StatusNotFound, "")
	}
	if p == "sys/health" {
		return s.health(r)
	}
	if s.sealed {
		return errorReply(http.StatusServiceUnavailable, "Vault is sealed")
	}
	if p == "auth/approle/login" {
		return s.login(r, body)
	}
	tok, denied := s.authenticate(r)
	if denied != nil {
		return *denied
	}
	switch {
	case p == "auth/token/lookup-self":
		return s.lookupSelf(r, tok)
	case p == "auth/token/renew-self":
		return s.renewSelf(r, body, tok)
	case strings.HasPrefix(p, "pki/issue/") && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		return s.issue(strings.TrimPrefix(p, "pki/issue/"), tok, body) // pki.go
	case strings.HasPrefix(p, s.mount+"/"):
		return s.kv(r, body, tok, strings.TrimPrefix(p, s.mount+"/"))
	}
	return errorReply(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
}

// The three 403 bodies Vault sends: no token at all; a token Vault does not know (unknown,
// expired or revoked; since Vault 1.17 "invalid token" accompanies "permission denied"); a
// valid token whose policies do not allow the request.
var (
	errNoToken      = errorReply(http.StatusForbidden, "permission denied")
	errInvalidToken = errorReply(http.StatusForbidden, "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n")
	errPolicyDenied = errorReply(http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
)

// authenticate finds the request's live token; s.mu is held.
func (s *Server) authenticate(r *http.Request) (*token, *reply) {
	id := r.Header.Get("X-Vault-Token")
	if id == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			id = strings.TrimSpace(v)
		}
	}
	if id == "" {
		return nil, &errNoToken
	}
	t := s.tokens[id]
	if t == nil {
		return nil, &errInvalidToken
	}
	if t.expired(s.now()) {
		delete(s.tokens, id) // Vault revokes a token when its TTL runs out
		return nil, &errInvalidToken
	}
	return t, nil
}

// envelope is Vault's standard response body.
type envelope struct {
	RequestID     string     `json:"request_id"`
	LeaseID       string     `json:"lease_id"`
	Renewable     bool       `json:"renewable"`
	LeaseDuration int        `json:"lease_duration"`
	Data          any        `json:"data"`
	WrapInfo      any        `json:"wrap_info"`
	Warnings      []string   `json:"warnings"`
	Auth          *authBlock `json:"auth"`
	MountType     string     `json:"mount_type"`
}

func newEnvelope(mountType string, data any) *envelope {
	return &envelope{RequestID: newUUID(), Data: data, MountType: mountType}
}

// errorBody is Vault's error response body.
type errorBody struct {
	Errors []string `json:"errors"`
}

// errorReply is an error response; an empty msg gives {"errors":[]}, as Vault sends for a
// plain 404.
func errorReply(status int, msg string) reply {
	b := errorBody{Errors: []string{}}
	if msg != "" {
		b.Errors = append(b.Errors, msg)
	}
	return reply{status: status, body: b}
}

func write(w http.ResponseWriter, r *http.Request, rep reply) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if rep.body == nil || r.Method == http.MethodHead {
		if rep.body != nil {
			h.Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		return
	}
	b, err := json.Marshal(rep.body)
	if err != nil {
		b, _ = json.Marshal(errorBody{Errors: []string{"vaulttest: encoding the response: " + err.Error()}})
		rep.status = http.StatusInternalServerError
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeBody parses a JSON object body (empty: no fields), keeping numbers as json.Number.
func decodeBody(body []byte) (map[string]any, *reply) {
	m := map[string]any{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		rep := errorReply(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return nil, &rep
	}
	return m, nil
}

// unsupported is Vault's answer to a method a path does not serve.
func unsupported() reply {
	return errorReply(http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
}

func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Get("list") == ""
}

func isWrite(r *http.Request) bool {
	return r.Method == http.MethodPost || r.Method == http.MethodPut
}

// health answers GET/HEAD sys/health, which Vault serves sealed or not, without a token.
func (s *Server) health(r *http.Request) reply {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return unsupported()
	}
	q := r.URL.Query()
	param, def := "activecode", http.StatusOK
	if s.sealed {
		param, def = "sealedcode", http.StatusServiceUnavailable
	}
	status := def
	if v := q.Get(param); v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 100 || n > 999 {
			return errorReply(http.StatusBadRequest, fmt.Sprintf("bad code value %q for %s", v, param))
		}
		status = n
	}
	now := s.now()
	body := map[string]any{
		"initialized":                       true,
		"sealed":                            s.sealed,
		"standby":                           s.sealed, // a sealed node reports itself as standby
		"performance_standby":               false,
		"replication_performance_mode":      "disabled",
		"replication_dr_mode":               "disabled",
		"server_time_utc":                   now.Unix(),
		"version":                           "0.0.0-vaulttest",
		"enterprise":                        false,
		"echo_duration_ms":                  0,
		"clock_skew_ms":                     0,
		"replication_primary_canary_age_ms": 0,
		"removed_from_cluster":              false,
	}
	if !s.sealed {
		body["cluster_name"] = "vaulttest"
		body["cluster_id"] = "00000000-0000-4000-8000-00000000cafe"
	}
	return reply{status: status, body: body}
}

// sanitizePolicies trims, drops empty names, deduplicates and sorts, as Vault does.
func sanitizePolicies(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, p := range in {
		p = strings.TrimSpace(p)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// timestamp formats t as Vault does in KV metadata and token lookups.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n random base62 characters.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("vaulttest: crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b)
}

// newUUID returns a random (version 4) UUID, the form of Vault's request IDs and accessors.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("vaulttest: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
