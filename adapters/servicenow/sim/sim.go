// Package sim is a stateful, in-process simulator of the ServiceNow REST APIs
// that the Gatehouse ServiceNow adapter uses: OAuth 2.0 (/oauth_token.do),
// the Table API (/api/now/table) and the Change Management API
// (/api/sn_chg_rest/change).
//
// Adapter tests and the local dev mode talk to it over real HTTP so that the
// adapter exercises the wire contract it meets in production. It was written
// from ServiceNow's published REST API documentation; where the documentation
// leaves a behaviour open, the choice made is listed below so an adapter
// author knows what is simulated and what is a guess.
//
// # Authentication
//
// POST /oauth_token.do takes application/x-www-form-urlencoded parameters
// (client credentials in the form or as HTTP Basic) and supports the grants
// client_credentials (the token acts as the integration user, like an OAuth
// application user on a real instance), password (also returns a
// refresh_token) and refresh_token (a new access token; the same refresh
// token). It answers 200 {"access_token", "refresh_token"?, "scope":
// "useraccount", "token_type": "Bearer", "expires_in": TokenTTL-1s}. A wrong
// client id or secret is 401 {"error": "invalid_client"}; wrong user
// credentials or an unknown, expired or revoked refresh token is 401
// {"error": "access_denied"}; an unknown grant_type is 400
// {"error": "unsupported_grant_type"}; a missing parameter 400
// {"error": "invalid_request"} (all with "error_description").
//
// Every /api request needs "Authorization: Bearer <token>" or Basic
// credentials; otherwise 401 {"error": {"message": "User Not Authenticated",
// "detail": "Required to provide Auth information"}, "status": "failure"}.
// Defaults: user gatehouse.integration / gatehouse-sn, OAuth client
// gatehouse-adapter / gatehouse-sn-secret (see Options). Other seeded users
// can sign in once a test gives them a password with SetPassword.
//
// # Errors
//
// Every /api error is {"error": {"message", "detail"}, "status": "failure"}
// with a string detail: 400 "Invalid table <name>", 400 "Requested URI does
// not represent any resource", 400 "Exception while reading request" (bad
// JSON), 404 "No Record found" / "Record doesn't exist or ACL restricts the
// record retrieval", 403 "Operation Failed" / "ACL Exception Insert|Update
// Failed due to security constraints", 405 "Method not Supported", 429 "Rate
// limit exceeded", and the simulator's business rule errors below.
//
// # Table API
//
// GET/POST /api/now/table/{table} and GET/PUT/PATCH
// /api/now/table/{table}/{sys_id} (a /v1 or /v2 version segment after
// /api/now is accepted) for task, incident, change_request, change_task,
// cmdb_ci, cmdb_ci_netgear, cmdb_rel_ci, cmdb_rel_type, sys_user,
// sys_user_group, sys_user_grmember, core_company, sysapproval_approver,
// task_ci, sys_journal_field (read only) and std_change_producer_version.
// Tables inherit as on an instance: incident, change_request and change_task
// extend task; cmdb_ci_netgear extends cmdb_ci, so a query on cmdb_ci returns
// the network gear too (with only cmdb_ci's fields and sys_class_name).
//
// Parameters: sysparm_query (below), sysparm_fields (dot-walked names such as
// caller_id.user_name allowed; unknown names left out), sysparm_display_value
// (false, true, all), sysparm_exclude_reference_link, sysparm_limit (default
// 10000) and sysparm_offset. Lists answer {"result": [...]} with X-Total-Count
// and a Link header (rel first, prev when offset > 0, next when more rows
// follow, last), absolute URLs on the request's Host. Every value is a
// string; date-times are "2006-01-02 15:04:05" UTC. A non-empty reference is
// {"link", "value"} ({"display_value", "link"} with display values, all three
// with all); an empty reference is "" (with all: {"display_value": "",
// "value": ""}).
//
// Encoded queries support the operators =, !=, LIKE, NOT LIKE, STARTSWITH,
// ENDSWITH, IN, NOT IN, ISEMPTY, ISNOTEMPTY, ANYTHING, <, <=, >, >= (numeric
// when both sides are numbers, else string order, which sorts date-times
// correctly), ^ (AND), ^OR (OR with the previous condition), ^NQ (OR of
// whole queries), ORDERBY<field>, ORDERBYDESC<field>, and "^^" for a caret
// in a value. Fields may dot-walk references (caller_id.user_name,
// cmdb_ci.name, task.number); string comparisons ignore case. An unknown
// field or operator makes the whole query return no rows, as an instance
// with glide.invalid_query.returns_no_rows=true does (a default instance
// ignores the condition and returns everything); an ORDERBY on an unknown
// field is ignored. Without ORDERBY, rows come in insertion order.
//
// Writes: POST answers 201 with a Location header; PUT and PATCH answer 200;
// sysparm_fields and sysparm_display_value shape the returned record. Unknown
// field names, system fields (sys_*), number, active and the incident's
// priority are ignored, as ServiceNow ignores them; so is a change's
// approval, which only its approval records move (an instance would let an
// admin write it). A reference accepts a
// sys_id or a display value (a user's name or user_name, a group's or CI's
// name); an unmatched value is stored as written (a broken reference), as on
// an instance. A date-time that is not "2006-01-02 15:04:05" or "2006-01-02"
// is ignored. work_notes and comments are journal fields: a write appends a
// sys_journal_field row (element_id, name, element, value, sys_created_by,
// sys_created_on); reading them gives "" as a value and, as a display value,
// the whole journal newest first ("<when> - <name> (Work notes)\n<text>\n\n").
// The comments of a sysapproval_approver row are a journal as well.
// Runtime numbers continue above the seed: INC0010001, CHG0030001,
// CTASK0010001; the seed uses INC0000001, CHG0000001, CTASK0000001.
//
// # Incidents
//
// priority is derived from impact and urgency with the default lookup
// (1/1→1; 1/2, 2/1→2; 1/3, 2/2, 3/1→3; 2/3, 3/2→4; 3/3→5). States 1 New,
// 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled. Resolving
// needs close_code and close_notes (on the record or in the same write);
// otherwise 400 {"message": "Data Policy Exception", "detail": "The following
// fields are mandatory: close_code, close_notes"} (a real instance may answer
// 403 "Operation Failed" with the data policy text in detail). Closed is
// reachable only from Resolved (400 "Invalid state transition" otherwise).
// A Closed or Canceled incident is read only: any write is 403 "Operation
// Failed" / "ACL Exception Update Failed due to security constraints".
// resolved_at/resolved_by and closed_at/closed_by are set on entering
// Resolved and Closed; active is false once Closed or Canceled.
//
// # Changes
//
// States -5 New, -4 Assess, -3 Authorize, -2 Scheduled, -1 Implement,
// 0 Review, 3 Closed, 4 Canceled. The models, enforced on every write through
// both APIs (creation always starts in New):
//
//	normal:    New → Assess → Authorize → Scheduled → Implement → Review → Closed
//	emergency: New → Authorize → Scheduled → Implement → Review → Closed
//	standard:  New → Scheduled → Implement → Review → Closed (pre-approved: approval=approved)
//
// and Canceled from any open state. Entering Assess requires an assignment
// group with a manager and creates a requested sysapproval_approver row for
// that manager; entering Authorize creates one for every member of the
// "Change Advisory Board" group; the change's approval field is then
// "requested". Authorize (normal) needs every Assess approval approved;
// Scheduled (normal, emergency) needs every CAB approval approved (approval
// is "approved" then). A change that is on hold cannot move on except to
// Canceled. Transitions are never automatic: the caller moves the change
// once its approvals are in (an instance's workflow would move it itself).
// A rejection sets approval=rejected, returns the change to New and marks
// the other pending approvals not_required ("No Longer Required"); moving
// it to Assess again starts a new round of approvals. Review → Closed needs
// close_code and close_notes (400 Data Policy Exception, as for incidents).
// Closed and Canceled changes are read only (403 as for incidents). The
// type of an existing change cannot be changed (a written type is ignored).
// A refused transition is the simulator's own shape: 400 {"message":
// "Invalid state transition", "detail": "<number> cannot move from <From> to
// <To>: <why>; allowed next states are <A, B>"}.
//
// An approval is decided by a PATCH of sysapproval_approver/{sys_id} with
// state approved or rejected (and comments) by any authenticated caller, or
// by Approve in tests. Only a requested approval can be decided (400 Invalid
// state transition otherwise).
//
// # Change Management API
//
// Records are {"result": {...}} where every field is {"value",
// "display_value"} (no links). GET /api/sn_chg_rest/change (sysparm_query,
// sysparm_limit, sysparm_offset, and field=value query parameters),
// GET /change/{normal|standard|emergency} (that type only),
// GET/PATCH /change/{sys_id} and /change/{type}/{sys_id}, POST /change/normal, POST /change/emergency and
// POST /change/standard/{std_change_producer_version sys_id} (the template's
// values, then the body's) answer 200; writes add "__meta": {"ignoredAttributes":
// [...]} naming the body fields that were ignored. GET
// /change/standard/template lists the templates. GET /change/{sys_id}/nextstate
// answers {"available_states": [current state, then every next state whose
// conditions pass], "state_transitions": [{"from_state", "to_state",
// "display_value", "transition_available", "automatic": false, "conditions":
// [{"condition": {"name", "description"}, "passed"}]}], "state_label": {...}}
// where a failing condition's description says why ("approvals pending:
// 1 of 2 approved"). GET /change/{sys_id}/approvals lists the change's
// approvals. POST /change/{sys_id}/ci with {"cmdb_ci_sys_ids": "id1,id2",
// "association_type": "affected"} creates task_ci rows synchronously (201,
// the new rows; already associated CIs are skipped; an unknown CI sys_id
// refuses the whole request with 400; other association types are 400) and
// GET /change/{sys_id}/ci lists them.
//
// # Seed
//
// New seeds the same instance every time (timestamps before 2025-03-03
// 09:00 UTC). A seeded record's sys_id is the first 16 bytes, in hex, of
// SHA-1("gatehouse-servicenow-sim:<class>:<key>") with key its user_name,
// name or number (Lookup finds it by display value):
//
//   - sys_user: gatehouse.integration (the integration user), sam.servicedesk,
//     nina.neteng, olga.oncall, carl.cab, maria.manager and the inactive
//     ian.inactive, each <user_name>@gatehouse.example.
//   - sys_user_group (manager: members): Service Desk (maria.manager:
//     sam.servicedesk), Network Operations (maria.manager: nina.neteng,
//     olga.oncall, maria.manager), Change Advisory Board (carl.cab: carl.cab,
//     maria.manager).
//   - cmdb_ci_netgear: the eight devices of the Catalyst Center simulator with
//     the same hostname (name), management IP (ip_address), serial_number,
//     mac_address, platform (model_number) and software (firmware_version),
//     manufacturer Cisco (core_company); cmdb_ci: wan-lon-nyc-01,
//     wan-nyc-sjc-01 and the business service "Corporate Network";
//     cmdb_rel_ci: access, wireless and distribution gear "Connects
//     to::Connected by" its core or router, the London core and the routers
//     "Depends on::Used by" the WAN circuits, "Corporate Network" "Depends
//     on::Used by" the core and the routers.
//   - incident: INC0000001 In Progress (priority 2, lon-b1-acc-02, with a
//     comment and a work note), INC0000002 New, INC0000003 On Hold,
//     INC0000004 Resolved, INC0000005 Closed, INC0000006 Canceled.
//   - change_request: CHG0000001 normal, Scheduled, approved by maria.manager
//     (Assess) and carl.cab and maria.manager (CAB), with change task
//     CTASK0000001 and CI lon-b1-acc-02; CHG0000002 standard, Closed, from
//     "Update interface description".
//   - std_change_producer_version: "Update interface description" and "Deploy
//     approved configuration template" (active, risk Low) and "Reload access
//     point" (inactive).
//
// # Test controls
//
// FailNext, Throttle, ExpireTokens, ExpireAccessTokens, DenyWrites and
// AllowWrites inject faults; Requests and Logins count traffic; Incident,
// Change, Record, Lookup, Approvals and Journal read state; Approve decides
// approvals. Throttling and injected failures apply to /api requests after
// authentication (ServiceNow rate limits per user), never to /oauth_token.do.
package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a simulator. The zero value is usable.
type Options struct {
	// Username and Password are the integration user's credentials, accepted
	// as HTTP Basic on /api and by the OAuth password grant. Username must be a
	// seeded user (its user_name is written to sys_created_by). Default
	// gatehouse.integration / gatehouse-sn.
	Username, Password string
	// ClientID and ClientSecret identify the OAuth application (the
	// oauth_entity of an instance). Default gatehouse-adapter /
	// gatehouse-sn-secret.
	ClientID, ClientSecret string
	// Now is the clock for token expiry and record timestamps; tests inject a
	// fake clock so they never sleep. Defaults to time.Now.
	Now func() time.Time
	// TokenTTL is an access token's lifetime. Default 30 minutes, an
	// instance's default (expires_in 1799).
	TokenTTL time.Duration
	// RefreshTokenTTL is a refresh token's lifetime. Default 100 days, an
	// instance's default.
	RefreshTokenTTL time.Duration
}

// Default credentials (see Options).
const (
	DefaultUsername     = "gatehouse.integration"
	DefaultPassword     = "gatehouse-sn"
	DefaultClientID     = "gatehouse-adapter"
	DefaultClientSecret = "gatehouse-sn-secret"
)

const (
	tokenPath    = "/oauth_token.do"
	defaultLimit = 10000
	// rateLimit is the X-RateLimit-Limit a throttled response reports.
	rateLimit = 100
)

type token struct {
	user    string
	expires time.Time
	refresh bool
}

type reqKey struct{ method, path string }

// Sim is the simulator. It is an http.Handler and safe for concurrent use.
type Sim struct {
	opts Options

	mu        sync.Mutex
	recs      map[string]*record // sys_id -> record
	order     []*record          // insertion order
	seq       int
	numbers   map[string]int    // table -> next runtime number
	passwords map[string]string // user_name -> password
	tokens    map[string]*token
	logins    int
	requests  map[reqKey]int

	throttleLeft int
	throttleWait time.Duration
	failLeft     int
	failStatus   int
	// failWritesOnly limits the injected failures to writes (FailNextWrites).
	failWritesOnly bool
	denied         map[string]bool // tables the integration user may not write
}

// New returns a simulator seeded with a deterministic instance: users,
// groups, network CIs matching the Catalyst Center simulator's devices and
// their relationships, incidents, changes with approvals and standard change
// templates (see seed.go).
func New(opts Options) *Sim {
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = DefaultUsername, DefaultPassword
	}
	if opts.ClientID == "" && opts.ClientSecret == "" {
		opts.ClientID, opts.ClientSecret = DefaultClientID, DefaultClientSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 30 * time.Minute
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = 100 * 24 * time.Hour
	}
	s := &Sim{
		opts:      opts,
		recs:      map[string]*record{},
		numbers:   map[string]int{},
		passwords: map[string]string{opts.Username: opts.Password},
		tokens:    map[string]*token{},
		requests:  map[reqKey]int{},
		denied:    map[string]bool{},
	}
	s.seed()
	return s
}

// ---- test controls -------------------------------------------------------------

// FailNext makes the next n /api requests (after authentication) answer
// status with a ServiceNow error body, whatever they asked for; the request
// has no effect. Use a 5xx to test write faults.
func (s *Sim) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft, s.failWritesOnly = status, n, false
}

// FailNextWrites is FailNext for writes only: the next n POST, PUT, PATCH or DELETE /api
// requests fail, while reads pass (an adapter reads a record before it writes it).
func (s *Sim) FailNextWrites(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft, s.failWritesOnly = status, n, true
}

// Throttle makes the next n /api requests answer 429 Too Many Requests with
// Retry-After (whole seconds, rounded up) and the X-RateLimit-* headers.
func (s *Sim) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleLeft, s.throttleWait = n, retryAfter
}

// ExpireTokens revokes every access and refresh token issued so far; the
// next API call with one of them gets 401 and a refresh grant is refused.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]*token{}
}

// ExpireAccessTokens revokes every access token but keeps refresh tokens,
// so an adapter's refresh_token grant path can be tested.
func (s *Sim) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		if !t.refresh {
			delete(s.tokens, k)
		}
	}
}

// DenyWrites takes write access to table away from every caller (an ACL
// change): inserts and updates answer 403 until AllowWrites.
func (s *Sim) DenyWrites(table string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[table] = true
}

// AllowWrites undoes DenyWrites.
func (s *Sim) AllowWrites(table string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, table)
}

// SetPassword lets a seeded user sign in (Basic or the password grant) with
// password, so a test can act as someone other than the integration user.
func (s *Sim) SetPassword(userName, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(tUser, "user_name", userName) == nil {
		return fmt.Errorf("servicenow sim: no user %q", userName)
	}
	s.passwords[userName] = password
	return nil
}

// Requests reports how many requests (of any outcome) used method (any
// method when empty) on a path starting with pathPrefix.
func (s *Sim) Requests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.requests {
		if (method == "" || k.method == method) && strings.HasPrefix(k.path, pathPrefix) {
			n += c
		}
	}
	return n
}

// Logins reports how many tokens /oauth_token.do issued (all grants).
func (s *Sim) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// ---- HTTP ------------------------------------------------------------------------

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	s.mu.Lock()
	s.requests[reqKey{r.Method, path}]++
	s.mu.Unlock()

	if path == tokenPath {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only")
			return
		}
		s.handleToken(w, r)
		return
	}
	user, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `BASIC realm="Service-now"`)
		apiError(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return
	}
	if s.fault(w, r) {
		return
	}
	s.route(w, r, path, user)
}

// fault answers a throttled or injected-failure request.
func (s *Sim) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	throttled, wait := s.throttleLeft > 0, s.throttleWait
	if throttled {
		s.throttleLeft--
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	failing, status := !throttled && s.failLeft > 0 && (write || !s.failWritesOnly), s.failStatus
	if failing {
		s.failLeft--
	}
	now := s.opts.Now()
	s.mu.Unlock()
	switch {
	case throttled:
		secs := int(math.Ceil(wait.Seconds()))
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Duration(secs)*time.Second).Unix(), 10))
		apiError(w, http.StatusTooManyRequests, "Rate limit exceeded",
			fmt.Sprintf("The rate limit of %d requests per hour for this user was exceeded; retry after %d seconds",
				rateLimit, secs))
		return true
	case failing:
		apiError(w, status, http.StatusText(status), "Simulated failure (FailNext)")
		return true
	}
	return false
}

func (s *Sim) route(w http.ResponseWriter, r *http.Request, path, user string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	// Accept versioned URLs: /api/now/v2/table, /api/sn_chg_rest/v1/change.
	if len(segs) > 2 && len(segs[2]) > 1 && segs[2][0] == 'v' && isDigits(segs[2][1:]) {
		segs = append(segs[:2:2], segs[3:]...)
	}
	switch {
	case len(segs) >= 4 && len(segs) <= 5 && segs[0] == "api" && segs[1] == "now" && segs[2] == "table":
		s.tableAPI(w, r, segs[3:], user)
	case len(segs) >= 3 && segs[0] == "api" && segs[1] == "sn_chg_rest" && segs[2] == "change":
		s.changeAPI(w, r, segs[3:], user)
	default:
		apiError(w, http.StatusBadRequest, "Requested URI does not represent any resource",
			"No REST API is exposed at "+r.URL.Path)
	}
}

func isDigits(v string) bool {
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return v != ""
}

// ---- authentication --------------------------------------------------------------

func (s *Sim) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.tokens[tok]
		if t == nil || t.refresh {
			return "", false
		}
		if !s.opts.Now().Before(t.expires) {
			delete(s.tokens, tok)
			return "", false
		}
		return t.user, true
	}
	if user, pass, ok := r.BasicAuth(); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p, known := s.passwords[user]; known && p != "" && p == pass {
			return user, true
		}
	}
	return "", false
}

func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not form-encoded")
		return
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	grant := f.Get("grant_type")
	switch grant {
	case "client_credentials", "password", "refresh_token":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type "+grant)
		return
	}
	if id != s.opts.ClientID || secret != s.opts.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var user, refresh string
	switch grant {
	case "client_credentials":
		user = s.opts.Username
	case "password":
		user = f.Get("username")
		if user == "" || f.Get("password") == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
			return
		}
		if p, ok := s.passwords[user]; !ok || p != f.Get("password") {
			oauthError(w, http.StatusUnauthorized, "access_denied", "Invalid username or password")
			return
		}
		refresh = newToken()
		s.tokens[refresh] = &token{user: user, expires: now.Add(s.opts.RefreshTokenTTL), refresh: true}
	case "refresh_token":
		refresh = f.Get("refresh_token")
		t := s.tokens[refresh]
		if refresh == "" || t == nil || !t.refresh || !now.Before(t.expires) {
			oauthError(w, http.StatusUnauthorized, "access_denied", "The refresh token is invalid, expired or revoked")
			return
		}
		user = t.user
	}
	access := newToken()
	s.tokens[access] = &token{user: user, expires: now.Add(s.opts.TokenTTL)}
	s.logins++
	body := map[string]any{
		"access_token": access,
		"scope":        "useraccount",
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL/time.Second) - 1,
	}
	if refresh != "" {
		body["refresh_token"] = refresh
	}
	writeJSON(w, http.StatusOK, body)
}

// newToken returns an opaque token shaped like an instance's (86 URL-safe characters).
func newToken() string {
	var b [64]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

// ---- responses -----------------------------------------------------------------

// writeJSON writes v as the response body with the content type an instance sends.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// apiError writes the error shape every ServiceNow REST API uses.
func apiError(w http.ResponseWriter, status int, message, detail string) {
	writeJSON(w, status, map[string]any{
		"error":  map[string]any{"message": message, "detail": detail},
		"status": "failure",
	})
}

// httpError is an error that knows its ServiceNow response.
type httpError struct {
	status          int
	message, detail string
}

func (e *httpError) Error() string { return e.message + ": " + e.detail }

func (e *httpError) write(w http.ResponseWriter) { apiError(w, e.status, e.message, e.detail) }

func errNotFound() *httpError {
	return &httpError{http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"}
}

func errACL(insert bool) *httpError {
	op := "Update"
	if insert {
		op = "Insert"
	}
	return &httpError{http.StatusForbidden, "Operation Failed", "ACL Exception " + op + " Failed due to security constraints"}
}

func errTransition(detail string) *httpError {
	return &httpError{http.StatusBadRequest, "Invalid state transition", detail}
}

func errDataPolicy(fields ...string) *httpError {
	return &httpError{http.StatusBadRequest, "Data Policy Exception",
		"The following fields are mandatory: " + strings.Join(fields, ", ")}
}

func methodNotAllowed(w http.ResponseWriter, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	apiError(w, http.StatusMethodNotAllowed, "Method not Supported",
		"Supported methods: "+strings.Join(allowed, ", "))
}

// baseURL is scheme://host of the request, for links and Location headers.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// listParams are the paging and shaping parameters of a list request.
type listParams struct {
	query         string
	limit, offset int
	opts          renderOpts
}

func parseList(r *http.Request) (listParams, *httpError) {
	q := r.URL.Query()
	p := listParams{query: q.Get("sysparm_query"), limit: defaultLimit, opts: renderOptions(r)}
	for name, dst := range map[string]*int{"sysparm_limit": &p.limit, "sysparm_offset": &p.offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return p, &httpError{http.StatusBadRequest, "Invalid " + name,
					fmt.Sprintf("%s must be a non-negative integer, got %q", name, v)}
			}
			*dst = n
		}
	}
	if p.limit == 0 {
		p.limit = defaultLimit
	}
	return p, nil
}

func renderOptions(r *http.Request) renderOpts {
	q := r.URL.Query()
	o := renderOpts{base: baseURL(r)}
	switch strings.ToLower(q.Get("sysparm_display_value")) {
	case "true":
		o.mode = dvTrue
	case "all":
		o.mode = dvAll
	}
	o.noLink = strings.EqualFold(q.Get("sysparm_exclude_reference_link"), "true")
	if f := q.Get("sysparm_fields"); f != "" {
		o.fields = []string{}
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.fields = append(o.fields, name)
			}
		}
	}
	return o
}

// paginate sets X-Total-Count and the Link header and returns the page.
func paginate(w http.ResponseWriter, r *http.Request, recs []*record, limit, offset int) []*record {
	total := len(recs)
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	link := func(off int, rel string) string {
		u := url.URL{Path: r.URL.Path}
		q := r.URL.Query()
		q.Set("sysparm_limit", strconv.Itoa(limit))
		q.Set("sysparm_offset", strconv.Itoa(off))
		u.RawQuery = q.Encode()
		return "<" + baseURL(r) + u.String() + `>;rel="` + rel + `"`
	}
	last := 0
	if total > 0 {
		last = (total - 1) / limit * limit
	}
	links := []string{link(0, "first")}
	if offset > 0 {
		links = append(links, link(max(offset-limit, 0), "prev"))
	}
	if offset+limit < total {
		links = append(links, link(offset+limit, "next"))
	}
	links = append(links, link(last, "last"))
	w.Header().Set("Link", strings.Join(links, ","))
	if offset >= total {
		return nil
	}
	return recs[offset:min(offset+limit, total)]
}
