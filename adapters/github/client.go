// Package github is the Gatehouse adapter for GitHub: MCP tools for repository contents,
// branches, commits, code search, issues and pull requests (with their files, checks and
// reviews, and merges), over GitHub's REST API through go-github. It works with github.com
// and GitHub Enterprise Server. Credentials (a GitHub App or a fine-grained token) come from
// the kit's SecretSource; the adapter has no authorization code of its own.
package github

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// ServerName is the adapter's name in gatehouse.yaml and the secret it reads.
const ServerName = "github"

// DefaultURL is github.com's API.
const DefaultURL = "https://api.github.com"

// Config is what NewClient needs. Only Secrets is required.
type Config struct {
	// URL is the API's base URL: https://api.github.com (the default), a GitHub Enterprise
	// Server's https://<host>/api/v3, or a simulator serving the api.github.com layout.
	URL string
	// Orgs are the organisations code search is confined to, and where a GitHub App's
	// installation is looked up when the secret names none (the first).
	Orgs    []string
	Secrets kit.SecretSource
	// Registry is the adapter's metrics registry (kit.Server.Registry), where upstream
	// requests are counted in gatehouse_upstream_requests_total.
	Registry prometheus.Registerer
	Log      zerolog.Logger
	// TLS carries a private CA for a GitHub Enterprise Server (kit.Upstream.TLS).
	TLS *tls.Config
	// UserAgent identifies the adapter to GitHub, which requires one.
	UserAgent string
	// Now and Sleep are the clock and the wait between retries; tests move a fake clock.
	// Defaults: time.Now and a timer.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// Client calls GitHub as the configured App installation or token owner.
type Client struct {
	gh    *gh.Client
	orgs  []string
	creds *credentials
	now   func() time.Time
}

// cache bounds: an idle adapter stays within its memory budget.
const (
	cacheEntries  = 256
	cacheBytes    = 4 << 20
	cacheMaxEntry = 512 << 10
)

// NewClient returns a client for cfg.URL.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Secrets == nil {
		return nil, errors.New("github: a secret source is required")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gatehouse-adapter-github"
	}
	base, upload, err := apiURLs(cfg.URL)
	if err != nil {
		return nil, err
	}
	var orgs []string
	for _, o := range cfg.Orgs {
		if o = strings.TrimSpace(o); o != "" {
			if !ownerName.MatchString(o) {
				return nil, fmt.Errorf("github: organisation %q is not a GitHub login", o)
			}
			orgs = append(orgs, o)
		}
	}
	// The kit's pooled HTTP transport (timeouts, keep-alive, proxy from the environment,
	// the upstream CA) carries every request.
	kc, err := kit.NewClient(ServerName, "GitHub", base.String(), nil, nil, cfg.Log)
	if err != nil {
		return nil, err
	}
	kc.UseTLS(cfg.TLS)
	counter := upstreamCounter(cfg.Registry, cfg.Log)
	app := &appAuth{secrets: cfg.Secrets, now: cfg.Now}
	appClient := newGitHub(newTransport(kc.HTTP.Transport, app, nil, counter, cfg.Log, cfg.Now, cfg.Sleep), base, upload, cfg.UserAgent)
	creds := &credentials{secrets: cfg.Secrets, orgs: orgs, now: cfg.Now, apps: appClient}
	tr := newTransport(kc.HTTP.Transport, creds, newETagCache(cacheEntries, cacheBytes, cacheMaxEntry), counter, cfg.Log, cfg.Now, cfg.Sleep)
	return &Client{gh: newGitHub(tr, base, upload, cfg.UserAgent), orgs: orgs, creds: creds, now: cfg.Now}, nil
}

func newGitHub(tr http.RoundTripper, base, upload *url.URL, agent string) *gh.Client {
	c := gh.NewClient(&http.Client{Transport: tr, Timeout: 2 * time.Minute})
	c.BaseURL, c.UploadURL = base, upload
	c.UserAgent = agent
	// The transport handles rate limits on the adapter's clock (see transport).
	c.DisableRateLimitCheck = true
	return c
}

// apiURLs derives go-github's BaseURL and UploadURL: a URL ending in /api/v3 is a GitHub
// Enterprise Server (uploads at /api/uploads/); api.github.com uploads to
// uploads.github.com; anything else (a simulator) serves both at its root.
func apiURLs(raw string) (*url.URL, *url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("github: the API URL %q is not an absolute URL", raw)
	}
	base := *u
	base.Path = strings.TrimRight(u.Path, "/") + "/"
	upload := base
	switch {
	case strings.HasSuffix(u.Path, "/api/v3"):
		upload.Path = strings.TrimSuffix(u.Path, "/api/v3") + "/api/uploads/"
	case u.Host == "api.github.com":
		upload.Host, upload.Path = "uploads.github.com", "/"
	}
	return &base, &upload, nil
}

// Ready checks that credentials are readable (not that GitHub is up: an adapter whose
// upstream is down should still answer, with errors that say so).
func (c *Client) Ready(ctx context.Context) error {
	s, err := c.creds.secrets.Get(ctx, ServerName)
	if err != nil {
		return err
	}
	if s["app_id"] != "" {
		if _, err := s.Field("private_key"); err != nil {
			return fmt.Errorf("credentials for GitHub: %w", err)
		}
		return nil
	}
	_, err = s.Field("token")
	return err
}

// Orgs are the organisations code search is confined to.
func (c *Client) Orgs() []string { return append([]string(nil), c.orgs...) }

// ---- argument checks ------------------------------------------------------------------------
//
// Owner, repository, branch and path values end up in URL paths (go-github formats them into
// "repos/%v/%v/..."), so they are checked before any request: a "/" or ".." in an owner
// would otherwise address another endpoint.

var (
	ownerName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	shaLike   = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)
)

// Repo names a repository; NewRepo makes one from checked names.
type Repo struct{ owner, name string }

func (r Repo) String() string { return r.owner + "/" + r.name }

// NewRepo checks an owner and a repository name: they end up in URL paths.
func NewRepo(owner, repo string) (Repo, error) {
	switch {
	case !ownerName.MatchString(owner):
		return Repo{}, fmt.Errorf("owner %q is not a GitHub user or organisation name", owner)
	case !repoName.MatchString(repo) || repo == "." || repo == "..":
		return Repo{}, fmt.Errorf("repo %q is not a repository name", repo)
	}
	return Repo{owner: owner, name: strings.TrimSuffix(repo, ".git")}, nil
}

// checkBranch applies git's rules for branch names (git check-ref-format).
func checkBranch(name string) error {
	bad := name == "" || name == "@" || len(name) > 255 || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.HasPrefix(name, "-") || strings.Contains(name, "..") ||
		strings.Contains(name, "//") || strings.Contains(name, "@{")
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			bad = true
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%q is not a valid branch name", name)
	}
	return nil
}

// checkRef accepts a branch name or a commit sha ("" is the default branch).
func checkRef(ref string) error {
	if ref == "" || shaLike.MatchString(ref) {
		return nil
	}
	if err := checkBranch(strings.TrimPrefix(ref, "refs/heads/")); err != nil {
		return fmt.Errorf("ref %q is neither a branch name nor a commit sha", ref)
	}
	return nil
}

// cleanPath checks a repository path and returns it without leading or trailing slashes.
func cleanPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if len(p) > 4096 {
		return "", errors.New("path is too long")
	}
	for part := range strings.SplitSeq(p, "/") {
		if p != "" && (part == "" || part == "." || part == "..") {
			return "", fmt.Errorf("path %q has an empty, . or .. segment", p)
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("path %q has a control character", p)
		}
	}
	return p, nil
}

// escapePath escapes each segment of a repository path for a URL (go-github does not for
// contents writes).
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// page checks page and per_page (0 = defaults 1 and 30; per_page at most 100).
func page(pageNo, perPage int) (gh.ListOptions, error) {
	switch {
	case pageNo < 0:
		return gh.ListOptions{}, fmt.Errorf("page must be 1 or more, got %d", pageNo)
	case perPage < 0 || perPage > 100:
		return gh.ListOptions{}, fmt.Errorf("per_page must be 1 to 100, got %d", perPage)
	}
	if pageNo == 0 {
		pageNo = 1
	}
	if perPage == 0 {
		perPage = 30
	}
	return gh.ListOptions{Page: pageNo, PerPage: perPage}, nil
}
