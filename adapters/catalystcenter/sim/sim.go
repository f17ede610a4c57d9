// Package sim is a stateful, in-process simulator of the Cisco Catalyst Center
// (formerly DNA Center) Intent API.
//
// Adapter tests and the local dev mode talk to it over real HTTP so that the
// adapter exercises exactly the wire contract it will meet in production:
// X-Auth-Token authentication with expiring tokens, the {"response", "version"}
// envelope, 1-based offset pagination capped at 500, asynchronous tasks that
// complete over (test-clock) time, and the command runner file flow. Test
// controls let a test force token expiry, throttling and deploy failures
// without sleeping or reaching a real controller.
package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a simulator. The zero value is usable.
type Options struct {
	// Username and Password are the HTTP Basic credentials the token endpoint
	// accepts. They default to admin / C1sco12345 (the DevNet sandbox pair) so a
	// dev-mode adapter can log in without extra configuration.
	Username, Password string
	// Now is the clock used for token expiry and task progress; tests inject a
	// fake clock so they never sleep. Defaults to time.Now.
	Now func() time.Time
	// TokenTTL is how long an issued token stays valid. Defaults to 60 minutes,
	// the lifetime of a real Catalyst Center token.
	TokenTTL time.Duration
}

// Deployment is what the simulator recorded for one template deploy request, so
// tests can assert on exactly what the adapter pushed.
type Deployment struct {
	DeploymentID        string
	TaskID              string
	TemplateID          string // the template's (unversioned) id
	TemplateName        string
	TemplateVersion     int    // committed version that was deployed
	VersionedTemplateID string // id of that committed version
	ForcePushTemplate   bool
	DeviceIDs           []string
	Targets             []DeploymentTarget
	// Status is IN_PROGRESS until the task completes on the test clock, then
	// SUCCESS or FAILURE.
	Status        string
	FailureReason string
	Created       time.Time
}

// DeploymentTarget is one device of a Deployment with the parameters it got.
type DeploymentTarget struct {
	DeviceID        string
	Hostname        string
	TemplateVersion int            // differs from the deployment's when targetInfo named a versionedTemplateId
	Params          map[string]any // as sent in targetInfo; JSON numbers arrive as json.Number
	Rendered        string         // CLI after variable substitution; empty when rendering failed
	Status          string         // per-device outcome, same vocabulary as Deployment.Status
	Message         string
}

const (
	tokenPath    = "/dna/system/api/v1/auth/token"
	apiVersion   = "1.0"
	maxPageLimit = 500
	// deployDuration and readDuration are how much test-clock time a template
	// deploy task and a command runner task spend "In progress".
	deployDuration = 5 * time.Second
	readDuration   = 3 * time.Second
)

// Sim is the simulator. It is an http.Handler and safe for concurrent use.
type Sim struct {
	opts   Options
	routes []route

	mu           sync.Mutex
	inv          *inventory
	tokens       map[string]time.Time // token -> expiry
	logins       int
	requests     map[string]int // path -> hits
	throttleLeft int
	throttleWait time.Duration
	failNext     []string // queued FailNextDeploy reasons
	loseNext     int      // LoseNextDeployAnswer calls not yet used
	seq          int      // for deterministic runtime ids
	tasks        map[string]*task
	deployments  []*deployment
	files        map[string]*cliFile
}

// New returns a simulator seeded with a deterministic inventory: a Global >
// region > city > building site tree with three buildings, eight devices
// (switches, routers, a WLC and an AP), health, topology, assurance issues and
// two template projects.
func New(opts Options) *Sim {
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = "admin", "C1sco12345"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 60 * time.Minute
	}
	s := &Sim{
		opts:     opts,
		inv:      seedInventory(),
		tokens:   map[string]time.Time{},
		requests: map[string]int{},
		tasks:    map[string]*task{},
		files:    map[string]*cliFile{},
	}
	s.routes = s.buildRoutes()
	return s
}

// ExpireTokens invalidates every token issued so far, as a controller restart
// or token revocation would; the next API call with one of them gets 401.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// Throttle makes the next n non-token requests fail with 429 Too Many Requests
// and a Retry-After header of retryAfter (whole seconds, rounded up), so retry
// and back-off logic can be tested deterministically.
func (s *Sim) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleLeft, s.throttleWait = n, retryAfter
}

// FailNextDeploy makes the next template deploy task end in failure with the
// given reason (calls queue up: two calls fail the next two deploys).
func (s *Sim) FailNextDeploy(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, reason)
}

// LoseNextDeployAnswer makes the next template deploy request start its deployment as usual
// but answer 504 Gateway Timeout, as when a proxy in front of the controller gives up on a
// slow answer: the client cannot know the deployment started. Calls queue up.
func (s *Sim) LoseNextDeployAnswer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext++
}

// Requests reports how many requests (of any outcome) hit a path starting with
// pathPrefix, so tests can assert how often an adapter retried.
func (s *Sim) Requests(pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.requests {
		if strings.HasPrefix(p, pathPrefix) {
			n += c
		}
	}
	return n
}

// Logins reports how many tokens were successfully issued, so tests can check
// that an adapter caches its token and re-authenticates only when needed.
func (s *Sim) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Deployments returns every template deploy received so far, oldest first,
// with Status evaluated against the current test clock.
func (s *Sim) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	out := make([]Deployment, 0, len(s.deployments))
	for _, d := range s.deployments {
		out = append(out, d.snapshot(now))
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	s.mu.Lock()
	s.requests[path]++
	s.mu.Unlock()

	if path == tokenPath {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		s.handleToken(w, r)
		return
	}
	if wait, ok := s.takeThrottle(); ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		apiError(w, http.StatusTooManyRequests, "TooManyRequests",
			"Rate limit exceeded", fmt.Sprintf("Too many requests; retry after %d seconds", secs))
		return
	}
	if !s.validToken(r.Header.Get("X-Auth-Token")) {
		apiError(w, http.StatusUnauthorized, "Unauthorized",
			"Authentication failed", "The X-Auth-Token header is missing, invalid or expired")
		return
	}

	// Only the most specific patterns for this path (fewest wildcards) compete
	// on method, so PUT .../template/preview never falls through to
	// GET .../template/{id}.
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	best := -1
	for _, rt := range s.routes {
		if args, ok := rt.match(segs); ok && (best == -1 || len(args) < best) {
			best = len(args)
		}
	}
	var allowed []string
	for _, rt := range s.routes {
		args, ok := rt.match(segs)
		if !ok || len(args) != best {
			continue
		}
		if rt.method == r.Method {
			rt.handle(w, r, args)
			return
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		methodNotAllowed(w, allowed...)
		return
	}
	apiError(w, http.StatusNotFound, "NotFound", "Resource not found",
		fmt.Sprintf("No API is exposed at %s", r.URL.Path))
}

func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.opts.Username || pass != s.opts.Password {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": "Authentication has failed. Please provide valid credentials."})
		return
	}
	var b [48]byte
	_, _ = rand.Read(b[:])
	tok := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.logins++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"Token": tok})
}

func (s *Sim) validToken(tok string) bool {
	if tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if !ok {
		return false
	}
	if !s.opts.Now().Before(exp) {
		delete(s.tokens, tok)
		return false
	}
	return true
}

func (s *Sim) takeThrottle() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttleLeft <= 0 {
		return 0, false
	}
	s.throttleLeft--
	return s.throttleWait, true
}

// nextID returns a deterministic, unique UUID for runtime objects.
func (s *Sim) nextID(kind string) string {
	s.seq++
	return uuidFor(fmt.Sprintf("%s:%d", kind, s.seq))
}

// route is one API operation. Pattern segments written "{}" match any single
// non-empty path segment and are passed to the handler in order.
type route struct {
	method  string
	pattern []string
	handle  func(w http.ResponseWriter, r *http.Request, args []string)
}

func (rt route) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var args []string
	for i, p := range rt.pattern {
		switch {
		case p == "{}" && segs[i] != "":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

func (s *Sim) buildRoutes() []route {
	const v1 = "/dna/intent/api/v1"
	table := []struct {
		method, path string
		h            func(w http.ResponseWriter, r *http.Request, args []string)
	}{
		// Literal paths precede wildcard siblings so "count" is never taken for an id.
		{http.MethodGet, v1 + "/network-device", s.listDevices},
		{http.MethodGet, v1 + "/network-device/count", s.countDevices},
		{http.MethodGet, v1 + "/network-device/{}", s.getDevice},
		{http.MethodGet, v1 + "/device-health", s.deviceHealth},
		{http.MethodGet, v1 + "/site-health", s.siteHealth},
		{http.MethodGet, v1 + "/site", s.listSites},
		{http.MethodGet, v1 + "/topology/physical-topology", s.physicalTopology},
		{http.MethodGet, v1 + "/issues", s.listIssues},
		{http.MethodGet, v1 + "/template-programmer/project", s.listProjects},
		{http.MethodGet, v1 + "/template-programmer/template", s.listTemplates},
		{http.MethodPut, v1 + "/template-programmer/template/preview", s.previewTemplate},
		{http.MethodGet, v1 + "/template-programmer/template/deploy/status/{}", s.deployStatus},
		{http.MethodGet, v1 + "/template-programmer/template/{}", s.getTemplate},
		{http.MethodPost, "/dna/intent/api/v2/template-programmer/template/deploy", s.deployTemplate},
		{http.MethodGet, v1 + "/task", s.listTasks},
		{http.MethodGet, v1 + "/task/{}", s.getTask},
		{http.MethodGet, v1 + "/network-device-poller/cli/legit-reads", s.legitReads},
		{http.MethodPost, v1 + "/network-device-poller/cli/read-request", s.readRequest},
		{http.MethodGet, v1 + "/file/{}", s.getFile},
	}
	routes := make([]route, 0, len(table))
	for _, e := range table {
		routes = append(routes, route{method: e.method, pattern: strings.Split(strings.TrimPrefix(e.path, "/"), "/"), handle: e.h})
	}
	return routes
}

// writeJSON writes v as the response body. HTML escaping is off because the
// real API returns CLI text ("<", ">") verbatim.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// envelope wraps a payload the way most Intent API endpoints do.
func envelope(v any) map[string]any { return map[string]any{"response": v, "version": apiVersion} }

// apiError writes the error shape Intent API services use: the error details
// inside the usual response envelope.
func apiError(w http.ResponseWriter, status int, code, message, detail string) {
	writeJSON(w, status, envelope(map[string]any{"errorCode": code, "message": message, "detail": detail}))
}

func methodNotAllowed(w http.ResponseWriter, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	apiError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Request method not supported",
		"Supported methods: "+strings.Join(allowed, ", "))
}

// paging parses the 1-based offset and limit query parameters. Catalyst
// Center rejects offset < 1 and limit outside 1..500 with 400.
func paging(w http.ResponseWriter, r *http.Request, defLimit int) (offset, limit int, ok bool) {
	q := r.URL.Query()
	offset, limit = 1, defLimit
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "BadRequest", "Invalid offset",
				fmt.Sprintf("offset must be an integer >= 1, got %q", v))
			return 0, 0, false
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			apiError(w, http.StatusBadRequest, "BadRequest", "Invalid limit",
				fmt.Sprintf("limit must be an integer between 1 and %d, got %q", maxPageLimit, v))
			return 0, 0, false
		}
		limit = n
	}
	return offset, limit, true
}

// page returns the window of items selected by a 1-based offset and a limit.
func page[T any](items []T, offset, limit int) []T {
	start := offset - 1
	if start >= len(items) {
		return []T{}
	}
	end := min(start+limit, len(items))
	return items[start:end]
}

func millis(t time.Time) int64 { return t.UnixMilli() }
