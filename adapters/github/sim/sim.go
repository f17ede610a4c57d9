// Package sim is a stateful, in-process simulator of the parts of GitHub's REST API
// (https://docs.github.com/rest, API version 2022-11-28) that the Gatehouse GitHub adapter
// uses: repository contents, branches and refs, commits, git trees and blobs, issues and
// comments, pull requests with files, reviews, review comments, requested reviewers and
// merges, check runs and commit statuses, code search, GitHub App authentication, and the
// primary and secondary rate limits.
//
// Adapter tests and the local dev platform talk to it over real HTTP so that the adapter
// exercises the wire contract it meets in production. It was written from GitHub's
// published REST documentation; where the documentation leaves a behaviour open, the
// choice made is listed below so an adapter author knows what is simulated and what is a
// guess.
//
// # Layout
//
// The simulator serves the api.github.com layout at its root (/repos/..., /search/code,
// /app/...). With Options.PathPrefix "/api/v3" it serves the GitHub Enterprise Server
// layout instead (<host>/api/v3/repos/...). html_url values point at the simulator's own
// host (https://github.com/<owner>/<repo>/... becomes http://<sim host>/<owner>/<repo>/...);
// nothing is served there.
//
// # Authentication
//
// "Authorization: Bearer <credential>" (or "token <credential>") carries one of:
//
//   - A GitHub App JWT (RS256) signed with the App's private key (Options.AppKey; a fresh
//     2048-bit key when nil, see AppSecret). Its "iss" is the App id (DefaultAppID, as a
//     number or a string) or its client id (DefaultClientID). "iat" must not be in the
//     future and "exp" must be after the simulator's now and at most ten minutes after it.
//     A JWT is accepted only by GET /app, GET /app/installations, GET
//     /app/installations/{id}, POST /app/installations/{id}/access_tokens, GET
//     /orgs/{org}/installation and GET /repos/{owner}/{repo}/installation; anywhere else it
//     is 403 "Resource not accessible by integration". A malformed or wrongly signed JWT is
//     401 "A JSON web token could not be decoded"; an expired one 401 "'Expiration time'
//     claim ('exp') must be a numeric value representing the future time at which the
//     assertion expires"; one valid for too long 401 "'Expiration time' claim ('exp') is too
//     far in the future"; one issued in the future 401 "'Issued at' claim ('iat') must be an
//     Integer representing the time that the assertion was issued"; an unknown issuer 401
//     "Integration not found".
//   - An installation access token (ghs_...) from POST
//     /app/installations/{id}/access_tokens: 201 {"token", "expires_at" (Options.TokenTTL,
//     default one hour, on the simulator's clock), "permissions", "repository_selection":
//     "all"}. The request body (repository and permission narrowing) is ignored. The
//     installation (DefaultInstallationID) is on the organisation gatehouse-net and sees
//     its repositories only; it acts as the user gatehouse-adapter[bot].
//   - The fine-grained personal access token Options.Token (default DefaultToken), which
//     acts as dana-dev and sees every repository.
//
// An unknown, expired or revoked token is 401 {"message": "Bad credentials"}. Requests
// without credentials are anonymous: they see no (private) repository. A repository that
// the caller cannot see is 404 "Not Found", as on GitHub.
//
// # Errors
//
// Every error is {"message", "documentation_url", "status": "<code>"}, with "errors":
// [{"resource", "field", "code", "message"?}] for 422 "Validation Failed".
//
// # Rate limits and conditional requests
//
// Every authenticated response carries X-RateLimit-Limit, -Remaining, -Used, -Reset (Unix
// seconds on the simulator's clock) and -Resource. Budgets are per principal (installation,
// user, or client address when anonymous) and resource: core 5000 an hour (anonymous 60),
// search 30 a minute, code_search 10 a minute (Options.CoreLimit and friends); the window
// starts at a principal's first request. GET /rate_limit does not count. An exhausted
// budget answers 403 "API rate limit exceeded for ..." with X-RateLimit-Remaining: 0 (GitHub
// may also answer 429; the simulator always uses 403).
//
// SecondaryLimit makes the next requests answer a secondary rate limit: 403 (or 429) with
// Retry-After and {"message": "You have exceeded a secondary rate limit. Please wait a few
// minutes before you try again. ...", "documentation_url":
// "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"},
// without doing anything else.
//
// A 200 GET carries a weak ETag (W/"<sha-256 of the body>") and Cache-Control: private,
// max-age=60, s-maxage=60 and Vary: Accept, Authorization. A GET whose If-None-Match names
// the current ETag (weak comparison, or "*") answers 304 with no body and does not count
// against the primary budget, as GitHub documents. The ETag depends on the body only, so
// a renewed token still gets 304s.
//
// # Repositories
//
// Repositories are real git object graphs: blob, tree and commit ids are git's SHA-1s
// (a seeded file's sha is what `git hash-object` prints). Only branches are refs (no tags).
// A ref argument (?ref=, /commits/{ref}) is a branch, a full commit sha or a unique prefix of
// at least seven hex digits.
//
//   - GET /repos/{owner}/{repo}; GET .../contents/{path}?ref= (a file: base64 content in
//     60-character lines; a directory: its entries; the root with no path). Files over 1 MB
//     are not simulated.
//   - PUT .../contents/{path} {"message", "content" (base64), "sha", "branch", "author",
//     "committer"} commits one file: 201 when created, 200 when updated, with "content" and
//     "commit". Updating needs the file's current blob sha: a different one is 409 "is at
//     <current> but expected <given>" (GitHub Enterprise's wording, seen in the wild; the
//     documentation gives none), none is 422 "Invalid request.\n\n\"sha\" wasn't
//     supplied.", and a sha for a file that does not exist is 409 "<path> does not exist but
//     expected <sha>". A branch that requires pull requests refuses direct commits with 409
//     "Changes must be made through a pull request." An unknown branch is 404 "Branch <name>
//     not found".
//   - GET .../branches (protected=true filters; paginated), GET .../branches/{branch} (with
//     "protection"), GET .../git/ref/{ref}, GET .../git/matching-refs/{ref}, POST
//     .../git/refs {"ref": "refs/heads/...", "sha"} (422 "Reference already exists", 422
//     "Object does not exist", 422 "Reference name is invalid" for anything but refs/heads/),
//     DELETE .../git/refs/heads/{branch} (204; 422 "Reference does not exist"; the default
//     branch and protected branches are refused with 422 "Cannot delete this protected
//     branch" and "Cannot delete the default branch", wordings the documentation does not
//     give).
//   - GET .../commits (sha, path, author = login or email, since, until; paginated; newest
//     first by committer date), GET .../commits/{ref} (with "stats" and "files": status
//     added/removed/modified, additions, deletions and a "patch"), GET .../git/trees/{sha}
//     (recursive=1), GET .../git/blobs/{sha}. A patch is one hunk spanning the whole file
//     (full context) rather than git's three lines of context.
//   - GET .../commits/{ref}/check-runs (the latest run of each name, or every run with
//     filter=all; check_name), GET .../commits/{ref}/status (combined: failure if any status
//     is failure or error, pending if any is pending or there are none, else success), GET
//     .../commits/{ref}/statuses and POST .../statuses/{sha} (the personal access token
//     only: the simulated App may read statuses and checks, not write them). Tests set them
//     with SetCheckRun and SetStatus; check runs cannot be created over the API. A ref in
//     these paths may contain slashes (a branch such as feature/x).
//
// Branch protection (the seeded main of network-templates): required status checks (a
// context is passed by a completed check run of that name with conclusion success, neutral
// or skipped, or by a commit status of that context in state success; the latest of each
// counts), a number of approving reviews (each reviewer's latest APPROVED or
// CHANGES_REQUESTED review counts, whatever commit it was for: stale reviews are not
// dismissed), and pull requests required for changes.
//
// # Issues and pull requests
//
// Issues and pull requests share one number sequence per repository. GET .../issues lists
// both (pull requests carry "pull_request"), filtered by state (open, closed, all), labels
// (all must match), assignee, creator; sorted by created (or updated, comments), newest
// first; paginated. POST .../issues creates labels that do not exist yet; an assignee who
// is not a collaborator is 422. GET/POST .../issues/{n}/comments work for pull requests too.
//
// GET .../pulls (state, head "owner:branch", base; paginated), GET .../pulls/{n} (with
// "mergeable", "mergeable_state", "merged", counts; mergeability is computed at once: the
// null GitHub answers while it computes is not simulated), GET .../pulls/{n}/files, GET
// .../pulls/{n}/commits, POST .../pulls {"title", "head", "base", "body", "draft"} (head is
// a branch of the same repository, "branch" or "owner:branch"; forks are not simulated; 422
// when the head or base is missing, when there are no commits between them, or when an
// open pull request exists for the head and base), POST/GET .../pulls/{n}/requested_reviewers
// (422 for a reviewer who is not a collaborator or is the author), GET/POST
// .../pulls/{n}/reviews (event APPROVE, REQUEST_CHANGES, COMMENT; 422 for approving one's
// own pull request), GET/POST .../pulls/{n}/comments (review comments on a line: path must
// be a changed file and line within its new version for side RIGHT or its old version for
// LEFT, else 422 "pull_request_review_thread.line must be part of the diff").
//
// mergeable_state is "dirty" when a file changed on both sides since the merge base
// (mergeable false), "draft" for a draft, "blocked" when the base branch's protection is
// not satisfied, "unstable" when a check that is not required failed, else "clean" (a base
// that moved on is not "behind": the simulator does not require up-to-date branches).
// PUT .../pulls/{n}/merge {"merge_method": merge (default), squash or rebase, "sha",
// "commit_title", "commit_message"} answers 200 {"sha", "merged": true, "message": "Pull
// Request successfully merged"}; 409 "Head branch was modified. Review and try the merge
// again." when sha is not the head; 405 "Pull Request is not mergeable" for a closed,
// merged, draft or conflicting pull request; 405 with the unmet protection rules, one per
// line ("Required status check \"<name>\" is failing." or "... is expected." and "At least
// <n> approving review(s) is required by reviewers with write access."); 422 for an unknown
// merge method. A merge commit has the base and head as parents; squash makes one commit on
// the base; rebase replays each commit on the base. The head branch is kept.
//
// # Code search
//
// GET /search/code?q= searches the default branches of the repositories the caller can
// see (the legacy code search). Terms are ANDed, case-insensitive substrings of a file's
// content (or of its path with in:path; in:file,path for both, the default); "quoted
// phrases" are one term. Qualifiers: org:, user: and repo: (several of one kind are ORed),
// path: (a path prefix), filename:, extension:, language: (from the extension; vtl is
// "Velocity Template Language", j2 "Jinja"). A query without a term is 422. Results are
// ordered by repository and path, score 1; with Accept
// application/vnd.github.text-match+json each item has "text_matches" whose fragment is the
// first matching line.
//
// # Seed
//
// New seeds the same world every time (see seed.go): the organisations gatehouse-net and
// acme-corp; the users dana-dev, nina-neteng, maria-lead and the App's bot
// gatehouse-adapter[bot]; the team gatehouse-net/network-engineers; the repositories
// gatehouse-net/network-templates (the Catalyst Center simulator's templates, with a
// protected main, issues #1 and #2 and pull request #3 whose required check fails),
// gatehouse-net/automation and acme-corp/firewall-rules (visible to the personal access
// token only).
//
// # Test controls
//
// SetCheckRun, SetStatus, Approve, RequestChanges, Push, SecondaryLimit, SetRateLimit,
// FailNext, LoseNextWrite, ExpireInstallationTokens and RotateAppKey change the world or
// inject faults; Requests, NotModified, RateUsed, TokensIssued, File, Branch, PullRequest
// and IssueState read it. Faults apply to API requests after authentication, never to the
// App endpoints.
//
// # Credentials for the dev platform
//
// Nothing here is a real secret. AppSecret returns app_id, installation_id and the App's
// private key (generated by New unless Options.AppKey is set), which is what the adapter's
// secret "github" holds in production; TokenSecret returns the fixed token DefaultToken.
package sim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a simulator. The zero value is usable.
type Options struct {
	// Now is the clock for token expiry, rate-limit windows and timestamps; tests inject a
	// fake clock so they never sleep. Defaults to time.Now.
	Now func() time.Time
	// AppKey is the GitHub App's private key; JWTs must be signed with it. Nil generates a
	// fresh 2048-bit key (AppSecret hands it out).
	AppKey *rsa.PrivateKey
	// Token is the fine-grained personal access token accepted for dana-dev. Default
	// DefaultToken.
	Token string
	// TokenTTL is an installation token's lifetime. Default one hour, GitHub's.
	TokenTTL time.Duration
	// CoreLimit, SearchLimit and CodeSearchLimit are the primary rate-limit budgets: core
	// requests an hour (default 5000), search and code search requests a minute (default
	// 30 and 10).
	CoreLimit, SearchLimit, CodeSearchLimit int
	// PathPrefix serves the API under a prefix: "/api/v3" for the GitHub Enterprise Server
	// layout. Default none (the api.github.com layout).
	PathPrefix string
}

// Identities of the simulated GitHub App and the token user.
const (
	DefaultAppID          = 1054321
	DefaultClientID       = "Iv23liGatehouseSim01"
	DefaultInstallationID = 60512345
	AppSlug               = "gatehouse-adapter"
	BotLogin              = "gatehouse-adapter[bot]"
	// DefaultToken is the fine-grained personal access token of dana-dev (not a secret:
	// it is valid for the simulator only).
	DefaultToken = "github_pat_11GATEHOUSE0SIMULATOR0TOKEN0dana0dev0not0a0secret"
	// Org is the organisation the App is installed on; TemplatesRepo its repository of
	// network templates.
	Org           = "gatehouse-net"
	TemplatesRepo = "network-templates"
)

const docsBase = "https://docs.github.com/rest"

// Sim is the simulator. It is an http.Handler and safe for concurrent use.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	git      *store
	users    map[string]*user
	orgs     map[string]*org
	repos    map[string]*repo // lower-case "owner/name"
	seq      int64            // ids for issues, comments, reviews, runs
	appKey   *rsa.PrivateKey
	tokens   map[string]*instToken
	issued   int
	rate     map[string]*bucket
	requests map[string]int // "METHOD /path" -> count
	notMod   int

	secondaryLeft   int
	secondaryStatus int
	secondaryWait   time.Duration
	failLeft        int
	failStatus      int
	loseWrite       bool
}

type instToken struct {
	installation int64
	expires      time.Time
}

type bucket struct {
	limit, used int
	reset       time.Time
}

// New returns a simulator seeded with a deterministic world (see the package comment).
func New(opts Options) *Sim {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.CoreLimit <= 0 {
		opts.CoreLimit = 5000
	}
	if opts.SearchLimit <= 0 {
		opts.SearchLimit = 30
	}
	if opts.CodeSearchLimit <= 0 {
		opts.CodeSearchLimit = 10
	}
	opts.PathPrefix = strings.TrimRight(opts.PathPrefix, "/")
	key := opts.AppKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic("github sim: generating the App key: " + err.Error())
		}
	}
	s := &Sim{opts: opts, git: newStore(), users: map[string]*user{}, orgs: map[string]*org{},
		repos: map[string]*repo{}, appKey: key, tokens: map[string]*instToken{}, rate: map[string]*bucket{},
		requests: map[string]int{}}
	s.seed()
	s.routes()
	return s
}

// ---- credentials handed to an adapter ---------------------------------------------------

// AppPrivateKeyPEM is the App's private key as GitHub hands it out (PKCS #1 PEM).
func (s *Sim) AppPrivateKeyPEM() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.appKey)}))
}

// AppSecret is the adapter secret for App authentication: app_id, installation_id and
// private_key (the fields of the Vault secret gatehouse/github).
func (s *Sim) AppSecret() map[string]string {
	return map[string]string{"app_id": strconv.Itoa(DefaultAppID),
		"installation_id": strconv.Itoa(DefaultInstallationID), "private_key": s.AppPrivateKeyPEM()}
}

// TokenSecret is the adapter secret for token authentication: token.
func (s *Sim) TokenSecret() map[string]string { return map[string]string{"token": s.opts.Token} }

// ---- test controls -------------------------------------------------------------------------

// SecondaryLimit makes the next n API requests answer a secondary rate limit with status
// (403 or 429) and Retry-After (whole seconds, rounded up; none when retryAfter is 0).
func (s *Sim) SecondaryLimit(status, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondaryStatus, s.secondaryLeft, s.secondaryWait = status, n, retryAfter
}

// SetRateLimit changes a primary budget (resource core, search or code_search) and starts
// a fresh window for every principal.
func (s *Sim) SetRateLimit(resource string, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch resource {
	case "core":
		s.opts.CoreLimit = limit
	case "search":
		s.opts.SearchLimit = limit
	case "code_search":
		s.opts.CodeSearchLimit = limit
	}
	s.rate = map[string]*bucket{}
}

// FailNext makes the next n API requests answer status with a GitHub error body, without
// doing anything.
func (s *Sim) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, n
}

// LoseNextWrite makes the next write (POST, PUT, PATCH, DELETE) take effect but answer 502
// Bad Gateway, as when a proxy loses the answer: the caller cannot know it succeeded.
func (s *Sim) LoseNextWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseWrite = true
}

// ExpireInstallationTokens revokes every installation token issued so far.
func (s *Sim) ExpireInstallationTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]*instToken{}
}

// RotateAppKey replaces the App's key (as regenerating it in the App's settings does): JWTs
// signed with the old key are refused from now on.
func (s *Sim) RotateAppKey(key *rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appKey = key
}

// Requests counts the requests (of any outcome) with method (any when empty) on a path
// (without PathPrefix) starting with pathPrefix.
func (s *Sim) Requests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.requests {
		m, p, _ := strings.Cut(k, " ")
		if (method == "" || m == method) && strings.HasPrefix(p, pathPrefix) {
			n += c
		}
	}
	return n
}

// NotModified counts the 304 answers served.
func (s *Sim) NotModified() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notMod
}

// RateUsed is how much of the primary budget of resource (core, search, code_search) all
// principals have used in their current windows.
func (s *Sim) RateUsed(resource string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, b := range s.rate {
		if strings.HasSuffix(k, "|"+resource) && s.opts.Now().Before(b.reset) {
			n += b.used
		}
	}
	return n
}

// TokensIssued counts the installation tokens issued.
func (s *Sim) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ---- HTTP ------------------------------------------------------------------------------------

// apiError is an error answer.
type apiError struct {
	status int
	msg    string
	doc    string
	errs   []map[string]any
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, doc, format string, a ...any) *apiError {
	return &apiError{status: status, doc: doc, msg: fmt.Sprintf(format, a...)}
}

func notFound(doc string) *apiError { return errorf(http.StatusNotFound, doc, "Not Found") }

func validation(doc string, errs ...map[string]any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed", doc: doc, errs: errs}
}

func (e *apiError) body() map[string]any {
	b := map[string]any{"message": e.msg, "documentation_url": e.doc, "status": strconv.Itoa(e.status)}
	if e.doc == "" {
		b["documentation_url"] = docsBase
	}
	if len(e.errs) > 0 {
		b["errors"] = e.errs
	}
	return b
}

// call is one request being answered.
type call struct {
	s      *Sim
	r      *http.Request
	who    principal
	header http.Header
	api    string // the API's base URL as the client sees it, no trailing slash
	html   string // where html_url values point
}

func (c *call) param(name string) string { return c.r.PathValue(name) }

// handler answers one route: a status and a JSON body, or an error. It runs with s.mu held.
type handler func(c *call) (int, any, error)

// route registers a handler; app routes take a JWT, every other route an installation or
// user token.
func (s *Sim) route(pattern string, h handler) { s.handle(pattern, h, false) }

func (s *Sim) appRoute(pattern string, h handler) { s.handle(pattern, h, true) }

func (s *Sim) handle(pattern string, h handler, app bool) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, h, app) })
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.PathPrefix != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, s.opts.PathPrefix)
		if !ok || (rest != "" && rest[0] != '/') {
			writeJSON(w, http.StatusNotFound, notFound("").body())
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		if r2.URL.Path == "" {
			r2.URL.Path = "/"
		}
		r = r2
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, notFound(docsBase).body())
		return
	}
	s.mux.ServeHTTP(w, r) // sets the path values the handlers read
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request, h handler, app bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.Method+" "+r.URL.Path]++
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &call{s: s, r: r, header: w.Header(), api: scheme + "://" + r.Host + s.opts.PathPrefix, html: scheme + "://" + r.Host}
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	who, aerr := s.authenticate(r)
	if aerr != nil {
		writeJSON(w, aerr.status, aerr.body())
		return
	}
	c.who = who
	switch {
	case app && who.kind != kindApp:
		e := errorf(http.StatusUnauthorized, docsBase+"/apps/apps", "A JSON web token could not be decoded")
		writeJSON(w, e.status, e.body())
		return
	case !app && who.kind == kindApp:
		e := errorf(http.StatusForbidden, docsBase, "Resource not accessible by integration")
		writeJSON(w, e.status, e.body())
		return
	}
	resource := "core"
	switch {
	case strings.HasPrefix(r.URL.Path, "/search/code"):
		resource = "code_search"
	case strings.HasPrefix(r.URL.Path, "/search/"):
		resource = "search"
	}
	counted := r.URL.Path != "/rate_limit"
	var b *bucket
	if counted {
		b = s.bucket(who, resource)
		s.rateHeaders(w.Header(), b, resource)
		if b.used >= b.limit {
			e := errorf(http.StatusForbidden, docsBase+"/overview/rate-limits-for-the-rest-api#about-rate-limits",
				"API rate limit exceeded for %s.", who.rateName())
			writeJSON(w, e.status, e.body())
			return
		}
	}
	if !app {
		if s.secondaryLeft > 0 {
			s.secondaryLeft--
			if s.secondaryWait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((s.secondaryWait+time.Second-1)/time.Second)))
			}
			e := errorf(s.secondaryStatus, docsBase+"/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
				"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "+
					"to GitHub Support for help, please include the request ID %s.", requestID(r))
			writeJSON(w, e.status, e.body())
			return
		}
		if s.failLeft > 0 {
			s.failLeft--
			e := errorf(s.failStatus, docsBase, "%s", http.StatusText(s.failStatus))
			writeJSON(w, e.status, e.body())
			return
		}
	}
	if counted {
		b.used++
		s.rateHeaders(w.Header(), b, resource)
	}
	status, body, err := h(c)
	if err != nil {
		e, ok := err.(*apiError)
		if !ok {
			e = errorf(http.StatusInternalServerError, docsBase, "%s", err.Error())
		}
		writeJSON(w, e.status, e.body())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && s.loseWrite && !app {
		s.loseWrite = false
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
		return
	}
	if status == http.StatusNoContent || body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorf(500, docsBase, "%s", err.Error()).body())
		return
	}
	if r.Method == http.MethodGet && status == http.StatusOK {
		sum := sha256.Sum256(data)
		etag := `W/"` + hex.EncodeToString(sum[:]) + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
		w.Header().Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
			// A 304 does not count against the primary rate limit.
			if counted {
				b.used--
				s.rateHeaders(w.Header(), b, resource)
			}
			s.notMod++
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func requestID(r *http.Request) string {
	sum := sha256.Sum256([]byte(r.Method + r.URL.String() + r.RemoteAddr))
	return strings.ToUpper(hex.EncodeToString(sum[:4])) + ":" + strings.ToUpper(hex.EncodeToString(sum[4:8]))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// etagMatches reports whether an If-None-Match header value (a comma-separated list of
// entity tags, or "*") matches etag, comparing weakly (RFC 9110 section 13.1.2: a W/ prefix is
// ignored on both sides).
func etagMatches(ifNoneMatch, etag string) bool {
	want := strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	for _, tag := range splitETags(ifNoneMatch) {
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// splitETags splits an If-None-Match value into its entity tags. Commas inside a quoted
// tag do not split; a malformed remainder is returned as one element (that matches nothing).
func splitETags(v string) []string {
	var out []string
	for {
		v = strings.TrimLeft(v, " \t\r\n,")
		if v == "" {
			return out
		}
		start := 0
		if strings.HasPrefix(v, "W/") {
			start = 2
		}
		if len(v) > start && v[start] == '"' {
			end := strings.IndexByte(v[start+1:], '"')
			if end < 0 {
				return append(out, v)
			}
			out = append(out, v[:start+end+2])
			v = v[start+end+2:]
			continue
		}
		tag, rest, _ := strings.Cut(v, ",")
		if tag = strings.TrimSpace(tag); tag != "" {
			out = append(out, tag)
		}
		v = rest
	}
}

// ---- rate limits ------------------------------------------------------------------------------

func (s *Sim) bucket(who principal, resource string) *bucket {
	key := who.rateKey() + "|" + resource
	now := s.opts.Now()
	b := s.rate[key]
	if b == nil || !now.Before(b.reset) {
		limit, window := s.opts.CoreLimit, time.Hour
		switch {
		case resource == "search":
			limit, window = s.opts.SearchLimit, time.Minute
		case resource == "code_search":
			limit, window = s.opts.CodeSearchLimit, time.Minute
		case who.kind == kindAnonymous:
			limit = 60
		}
		b = &bucket{limit: limit, reset: now.Add(window)}
		s.rate[key] = b
	}
	return b
}

func (s *Sim) rateHeaders(h http.Header, b *bucket, resource string) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(b.limit-b.used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(b.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(b.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", resource)
}

func (s *Sim) rateLimitHandler(c *call) (int, any, error) {
	res := map[string]any{}
	for _, r := range []string{"core", "search", "code_search"} {
		b := s.bucket(c.who, r)
		res[r] = map[string]any{"limit": b.limit, "used": b.used, "remaining": max(b.limit-b.used, 0), "reset": b.reset.Unix()}
	}
	return http.StatusOK, map[string]any{"resources": res, "rate": res["core"]}, nil
}

// ---- authentication -------------------------------------------------------------------------

type principalKind int

const (
	kindAnonymous principalKind = iota
	kindApp
	kindInstallation
	kindUser
)

// principal is who a request acts as.
type principal struct {
	kind         principalKind
	login        string // the acting user (the bot for an installation)
	installation int64
	addr         string
}

func (p principal) rateKey() string {
	switch p.kind {
	case kindInstallation:
		return "installation:" + strconv.FormatInt(p.installation, 10)
	case kindUser:
		return "user:" + p.login
	case kindApp:
		return "app"
	}
	return "ip:" + p.addr
}

func (p principal) rateName() string {
	switch p.kind {
	case kindInstallation:
		return "installation ID " + strconv.FormatInt(p.installation, 10)
	case kindUser:
		return "user " + p.login
	case kindApp:
		return "app ID " + strconv.Itoa(DefaultAppID)
	}
	return p.addr
}

func (s *Sim) authenticate(r *http.Request) (principal, *apiError) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return principal{kind: kindAnonymous, addr: host}, nil
	}
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return principal{}, errorf(http.StatusUnauthorized, docsBase, "Bad credentials")
	}
	cred = strings.TrimSpace(cred)
	if strings.Count(cred, ".") == 2 {
		if err := s.verifyJWT(cred); err != nil {
			return principal{}, err
		}
		return principal{kind: kindApp, login: BotLogin}, nil
	}
	if t, ok := s.tokens[cred]; ok && s.opts.Now().Before(t.expires) {
		return principal{kind: kindInstallation, login: BotLogin, installation: t.installation}, nil
	}
	if cred == s.opts.Token {
		return principal{kind: kindUser, login: "dana-dev"}, nil
	}
	return principal{}, errorf(http.StatusUnauthorized, docsBase, "Bad credentials")
}

// canSee reports whether the principal may read the repository.
func (who principal) canSee(r *repo) bool {
	switch who.kind {
	case kindUser:
		return true
	case kindInstallation:
		return strings.EqualFold(r.Owner, Org)
	}
	return !r.Private
}

// ---- routes -------------------------------------------------------------------------------------

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	s.route("GET /rate_limit", s.rateLimitHandler)
	s.route("GET /{$}", func(c *call) (int, any, error) {
		return http.StatusOK, map[string]any{"current_user_url": c.api + "/user", "code_search_url": c.api + "/search/code?q={query}"}, nil
	})
	s.route("GET /user", s.currentUser)

	s.appRoute("GET /app", s.getApp)
	s.appRoute("GET /app/installations", s.listInstallations)
	s.appRoute("GET /app/installations/{id}", s.getInstallation)
	s.appRoute("POST /app/installations/{id}/access_tokens", s.createInstallationToken)
	s.appRoute("GET /orgs/{org}/installation", s.orgInstallation)
	s.appRoute("GET /repos/{owner}/{repo}/installation", s.repoInstallation)

	s.route("GET /repos/{owner}/{repo}", s.getRepo)
	s.route("GET /repos/{owner}/{repo}/contents", s.getContents)
	s.route("GET /repos/{owner}/{repo}/contents/{path...}", s.getContents)
	s.route("PUT /repos/{owner}/{repo}/contents/{path...}", s.putContents)
	s.route("GET /repos/{owner}/{repo}/branches", s.listBranches)
	s.route("GET /repos/{owner}/{repo}/branches/{branch...}", s.getBranch)
	s.route("GET /repos/{owner}/{repo}/git/ref/{ref...}", s.getRef)
	s.route("GET /repos/{owner}/{repo}/git/matching-refs/{ref...}", s.matchingRefs)
	s.route("POST /repos/{owner}/{repo}/git/refs", s.createRef)
	s.route("DELETE /repos/{owner}/{repo}/git/refs/{ref...}", s.deleteRef)
	s.route("GET /repos/{owner}/{repo}/git/trees/{sha}", s.getTree)
	s.route("GET /repos/{owner}/{repo}/git/blobs/{sha}", s.getBlob)
	s.route("GET /repos/{owner}/{repo}/commits", s.listCommits)
	// A ref may contain slashes (feature/x), so one route takes them all.
	s.route("GET /repos/{owner}/{repo}/commits/{ref...}", s.commitsByRef)
	s.route("POST /repos/{owner}/{repo}/statuses/{sha}", s.createStatus)

	s.route("GET /repos/{owner}/{repo}/issues", s.listIssues)
	s.route("POST /repos/{owner}/{repo}/issues", s.createIssue)
	s.route("GET /repos/{owner}/{repo}/issues/{number}", s.getIssue)
	s.route("GET /repos/{owner}/{repo}/issues/{number}/comments", s.listIssueComments)
	s.route("POST /repos/{owner}/{repo}/issues/{number}/comments", s.createIssueComment)

	s.route("GET /repos/{owner}/{repo}/pulls", s.listPulls)
	s.route("POST /repos/{owner}/{repo}/pulls", s.createPull)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}", s.getPull)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}/files", s.listPullFiles)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}/commits", s.listPullCommits)
	s.route("PUT /repos/{owner}/{repo}/pulls/{number}/merge", s.mergePull)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}/requested_reviewers", s.getRequestedReviewers)
	s.route("POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers", s.requestReviewers)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}/reviews", s.listReviews)
	s.route("POST /repos/{owner}/{repo}/pulls/{number}/reviews", s.createReview)
	s.route("GET /repos/{owner}/{repo}/pulls/{number}/comments", s.listReviewComments)
	s.route("POST /repos/{owner}/{repo}/pulls/{number}/comments", s.createReviewComment)

	s.route("GET /search/code", s.searchCode)
}

// decode reads a JSON request body into v (400 "Problems parsing JSON" otherwise).
func decode(c *call, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, c.r.Body, 10<<20))
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, docsBase, "Problems parsing JSON")
	}
	return nil
}

// nextID hands out ids for issues, comments, reviews, check runs and statuses.
func (s *Sim) nextID() int64 {
	s.seq++
	return s.seq
}
