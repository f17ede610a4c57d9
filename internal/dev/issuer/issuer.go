// Package issuer is the development OpenID Connect issuer that `gatehouse-dev` runs: discovery
// (OIDC and RFC 8414), a JWKS, RFC 9068 access tokens with RFC 8707 resource audiences, the
// authorization-code flow with PKCE and a local login page (pick a demo user), dynamic client
// registration (RFC 7591) so MCP clients can sign in on their own, and the password and
// client-credentials grants for scripts and tests. It is for local development only: users
// and clients live in memory, passwords are known, and nothing is persisted.
package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is a demo user.
type User struct {
	Name     string
	Email    string
	Password string
	Groups   []string
	AMR      []string
}

// DefaultPassword is every demo user's password.
const DefaultPassword = "gatehouse"

// DefaultUsers has one user per role of the default policy.
func DefaultUsers() []User {
	return []User{
		{Name: "admin", Email: "admin@example.com", Password: DefaultPassword, Groups: []string{"admin"}, AMR: []string{"pwd", "mfa"}},
		{Name: "nina", Email: "nina@example.com", Password: DefaultPassword, Groups: []string{"network-engineers"}, AMR: []string{"pwd", "mfa"}},
		{Name: "sam", Email: "sam@example.com", Password: DefaultPassword, Groups: []string{"service-desk"}, AMR: []string{"pwd"}},
		{Name: "dana", Email: "dana@example.com", Password: DefaultPassword, Groups: []string{"developers"}, AMR: []string{"pwd"}},
		{Name: "carl", Email: "carl@example.com", Password: DefaultPassword, Groups: []string{"change-approvers"}, AMR: []string{"pwd", "mfa"}},
	}
}

// Options configure the issuer.
type Options struct {
	// URL is the issuer identifier (http://127.0.0.1:8090): tokens carry it as iss.
	URL   string
	Users []User
	// Resources are the resource URIs tokens may be issued for (the MCP servers). A request
	// without a resource parameter gets all of them as audience.
	Resources []string
	TokenTTL  time.Duration
	Now       func() time.Time
}

type client struct {
	groups       []string // client_credentials tokens carry these
	id           string
	secret       string // empty: a public client (PKCE required)
	redirectURIs []string
	name         string
}

type pendingCode struct {
	client, redirect, challenge, user string
	resources                         []string
	scope                             string
	expires                           time.Time
}

// Issuer is the development issuer.
type Issuer struct {
	opts Options
	key  *rsa.PrivateKey
	kid  string

	mu      sync.Mutex
	clients map[string]*client
	codes   map[string]*pendingCode
}

// CLIClient is a public client pre-registered for `gatehouse-dev token` and tests.
const CLIClient = "gatehouse-cli"

// New makes an issuer with a fresh signing key.
func New(opts Options) (*Issuer, error) {
	if opts.URL == "" {
		return nil, errors.New("issuer URL is required")
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	if len(opts.Users) == 0 {
		opts.Users = DefaultUsers()
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 8 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	i := &Issuer{opts: opts, key: key, kid: "dev-" + randomString(6),
		clients: map[string]*client{CLIClient: {id: CLIClient, name: "gatehouse CLI"}},
		codes:   map[string]*pendingCode{}}
	return i, nil
}

// URL is the issuer identifier.
func (i *Issuer) URL() string { return i.opts.URL }

// Handler serves every endpoint.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.metadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.metadata)
	mux.HandleFunc("GET /jwks", i.jwks)
	mux.HandleFunc("GET /authorize", i.authorizePage)
	mux.HandleFunc("POST /authorize", i.authorizeSubmit)
	mux.HandleFunc("POST /token", i.token)
	mux.HandleFunc("POST /register", i.register)
	return cors(mux)
}

// cors lets browser-based MCP clients (the Inspector) use discovery, registration and the
// token endpoint; none of them relies on cookies.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Headers", "authorization, content-type, mcp-protocol-version")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (i *Issuer) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.opts.URL,
		"authorization_endpoint":                i.opts.URL + "/authorize",
		"token_endpoint":                        i.opts.URL + "/token",
		"jwks_uri":                              i.opts.URL + "/jwks",
		"registration_endpoint":                 i.opts.URL + "/register",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "password"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "groups"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.key.Public(), KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}})
}

func (i *Issuer) user(name string) (User, bool) {
	for _, u := range i.opts.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// resources validates requested resource indicators (RFC 8707): each must be one of the MCP
// servers; none means all of them.
func (i *Issuer) resources(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return i.opts.Resources, nil
	}
	for _, r := range requested {
		if !slices.Contains(i.opts.Resources, strings.TrimRight(r, "/")) {
			return nil, fmt.Errorf("unknown resource %q", r)
		}
	}
	return requested, nil
}

// Mint issues an access token for user, for the given resources (all when empty).
func (i *Issuer) Mint(user string, resources []string) (string, error) {
	return i.MintWith(user, resources, nil)
}

// MintWith is Mint with claims replaced or added (tests: a token that expires soon, one
// without MFA).
func (i *Issuer) MintWith(user string, resources []string, claims map[string]any) (string, error) {
	u, ok := i.user(user)
	if !ok {
		return "", fmt.Errorf("no demo user %q", user)
	}
	res, err := i.resources(resources)
	if err != nil {
		return "", err
	}
	extra := map[string]any{"email": u.Email, "groups": u.Groups, "amr": u.AMR, "scope": "openid email groups"}
	for k, v := range claims {
		extra[k] = v
	}
	return i.sign(u.Name, CLIClient, res, extra)
}

func (i *Issuer) sign(sub, clientID string, audience []string, extra map[string]any) (string, error) {
	now := i.opts.Now()
	claims := map[string]any{
		"iss": i.opts.URL, "sub": sub, "client_id": clientID, "jti": randomString(16),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(i.opts.TokenTTL).Unix(),
	}
	if len(audience) == 1 {
		claims["aud"] = audience[0]
	} else {
		claims["aud"] = audience
	}
	for k, v := range extra {
		claims[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", i.kid))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Gatehouse dev sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;color:#222}
button{display:block;width:100%;margin:.5rem 0;padding:.8rem;font-size:1rem;text-align:left;cursor:pointer}
small{color:#666}</style></head><body>
<h1>Gatehouse dev sign-in</h1>
<p><b>{{.Client}}</b> asks to act for you. This is the local development issuer: pick a demo user.</p>
<form method="post" action="/authorize">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
{{range .Users}}<button name="user" value="{{.Name}}">{{.Name}} <small>{{.Email}} · {{range .Groups}}{{.}} {{end}}</small></button>{{end}}
</form></body></html>`))

type hidden struct{ Name, Value string }

func (i *Issuer) checkAuthorizeRequest(q url.Values) (*client, error) {
	if q.Get("response_type") != "code" {
		return nil, errors.New("response_type must be code")
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		return nil, errors.New("PKCE with code_challenge_method S256 is required")
	}
	i.mu.Lock()
	c, ok := i.clients[q.Get("client_id")]
	i.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown client_id %q (register it at /register)", q.Get("client_id"))
	}
	if len(c.redirectURIs) > 0 && !slices.Contains(c.redirectURIs, q.Get("redirect_uri")) {
		return nil, errors.New("redirect_uri is not registered for this client")
	}
	if _, err := i.resources(q["resource"]); err != nil {
		return nil, err
	}
	return c, nil
}

func (i *Issuer) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := i.checkAuthorizeRequest(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var hs []hidden
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope"} {
		hs = append(hs, hidden{k, q.Get(k)})
	}
	for _, res := range q["resource"] {
		hs = append(hs, hidden{"resource", res})
	}
	name := c.name
	if name == "" {
		name = c.id
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{"Client": name, "Hidden": hs, "Users": i.opts.Users})
}

func (i *Issuer) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	if _, err := i.checkAuthorizeRequest(f); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, ok := i.user(f.Get("user")); !ok {
		http.Error(w, "pick a demo user", http.StatusBadRequest)
		return
	}
	res, _ := i.resources(f["resource"])
	code := randomString(24)
	i.mu.Lock()
	i.codes[code] = &pendingCode{client: f.Get("client_id"), redirect: f.Get("redirect_uri"), challenge: f.Get("code_challenge"),
		user: f.Get("user"), resources: res, scope: f.Get("scope"), expires: i.opts.Now().Add(2 * time.Minute)}
	i.mu.Unlock()
	u, err := url.Parse(f.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	rq := u.Query()
	rq.Set("code", code)
	if s := f.Get("state"); s != "" {
		rq.Set("state", s)
	}
	rq.Set("iss", i.opts.URL)
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f := r.PostForm
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	i.mu.Lock()
	c, known := i.clients[clientID]
	i.mu.Unlock()
	if !known || (c.secret != "" && subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	var (
		sub   string
		user  User
		res   []string
		scope = f.Get("scope")
		err   error
	)
	switch f.Get("grant_type") {
	case "authorization_code":
		i.mu.Lock()
		pc, ok := i.codes[f.Get("code")]
		delete(i.codes, f.Get("code")) // single use
		i.mu.Unlock()
		if !ok || pc.client != clientID || pc.redirect != f.Get("redirect_uri") || i.opts.Now().After(pc.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, expired or mismatched authorization code")
			return
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != pc.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		user, _ = i.user(pc.user)
		sub, res, scope = user.Name, pc.resources, pc.scope
		if len(f["resource"]) > 0 {
			res, err = i.resources(f["resource"])
		}
	case "password":
		u, ok := i.user(f.Get("username"))
		if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(f.Get("password"))) != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "wrong username or password")
			return
		}
		user, sub = u, u.Name
		res, err = i.resources(f["resource"])
	case "client_credentials":
		if c.secret == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client_credentials needs a confidential client")
			return
		}
		sub = clientID
		res, err = i.resources(f["resource"])
		if len(c.groups) > 0 {
			user.Groups = c.groups
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "use authorization_code, password or client_credentials")
		return
	}
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_target", err.Error())
		return
	}
	extra := map[string]any{"scope": scope}
	if user.Name != "" {
		extra["email"], extra["amr"] = user.Email, user.AMR
	}
	if len(user.Groups) > 0 {
		extra["groups"] = user.Groups
	}
	tok, err := i.sign(sub, clientID, res, extra)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(i.opts.TokenTTL.Seconds()), "scope": scope})
}

// register is RFC 7591 dynamic client registration for public clients on loopback or https
// redirect URIs, which is what MCP clients do before their first sign-in.
func (i *Issuer) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURIs []string `json:"redirect_uris"`
		ClientName   string   `json:"client_name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
		return
	}
	if len(req.RedirectURIs) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "at least one redirect_uri is required")
		return
	}
	for _, ru := range req.RedirectURIs {
		u, err := url.Parse(ru)
		if err != nil || !(u.Scheme == "https" || (u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1"))) {
			oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "redirect URIs must be https or http on loopback: "+ru)
			return
		}
	}
	c := &client{id: "dyn-" + randomString(12), redirectURIs: req.RedirectURIs, name: req.ClientName}
	i.mu.Lock()
	i.clients[c.id] = c
	i.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"client_id": c.id, "client_id_issued_at": i.opts.Now().Unix(),
		"client_name": req.ClientName, "redirect_uris": req.RedirectURIs, "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code"}, "response_types": []string{"code"}})
}

// AddClient registers a confidential client for the client-credentials grant (agents); its
// tokens carry groups, so the policy can grant it a role.
func (i *Issuer) AddClient(id, secret string, groups ...string) {
	i.mu.Lock()
	i.clients[id] = &client{id: id, secret: secret, name: id, groups: groups}
	i.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
