package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// transport is the http.RoundTripper under go-github. It does for GitHub what kit.Client
// does for other upstreams, and a little more:
//
//   - credentials from a kit.Authenticator on every request, and one renewal and resend after
//     a 401 (GitHub did not process the request, so even a write may be resent);
//   - retries of reads (GET, HEAD) only, after a transport error, a 502/503/504, a secondary
//     rate limit (403 or 429 with Retry-After or GitHub's message) or an exhausted primary
//     budget whose reset is near, waiting Retry-After or until X-RateLimit-Reset when that is
//     at most maxRetryAfter and fits the call's deadline. Writes are sent once: whether a
//     write whose answer was lost happened is for the caller to find out (the contents
//     tool re-reads the file and compares; see updateFile);
//   - no request at all while GitHub has asked to wait (a secondary limit's Retry-After, a
//     primary budget until its reset): GitHub warns that continuing to send requests while
//     limited may get an integration banned;
//   - conditional requests: a GET whose earlier answer carried an ETag is sent with
//     If-None-Match, and a 304 is answered from the cache (etagCache);
//   - the kit's gatehouse_upstream_requests_total, per attempt.
//
// Why a RoundTripper rather than kit.Client, or go-github's own rate-limit handling:
// kit.Client takes JSON bodies and decodes answers itself, and turns every non-2xx answer
// into an UpstreamError without its headers or body, while go-github must see the raw
// response (it parses errors, Link pagination and rate headers). go-github's own rate-limit
// handling only refuses requests after a limit and sleeps on the wall clock, and it treats
// neither 429 nor the retry of reads; doing it here keeps one policy, on the adapter's
// clock (which tests control), and go-github's pre-emptive check is switched off
// (DisableRateLimitCheck). go-github still classifies the final answer (RateLimitError,
// AbuseRateLimitError, ErrorResponse), which errors.go puts into words.
type transport struct {
	base    http.RoundTripper
	auth    kit.Authenticator
	cache   *etagCache // nil: no conditional requests (the App endpoints)
	counter *prometheus.CounterVec
	log     zerolog.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error

	maxAttempts   int
	backoff       time.Duration // first retry's ceiling; doubles per retry
	maxBackoff    time.Duration
	maxRetryAfter time.Duration // longer waits are not waited for: the error says when to retry

	mu      sync.Mutex
	blocked map[string]time.Time // resource (core, search, code_search, or "secondary") -> until
}

func newTransport(base http.RoundTripper, auth kit.Authenticator, cache *etagCache, counter *prometheus.CounterVec,
	log zerolog.Logger, now func() time.Time, sleep func(context.Context, time.Duration) error) *transport {
	return &transport{base: base, auth: auth, cache: cache, counter: counter, log: log, now: now, sleep: sleep,
		maxAttempts: 3, backoff: 200 * time.Millisecond, maxBackoff: 5 * time.Second, maxRetryAfter: 30 * time.Second,
		blocked: map[string]time.Time{}}
}

// RateLimitError is a request the transport did not send, or a limit it gave up waiting
// for: GitHub asked the adapter to wait.
type RateLimitError struct {
	Secondary bool
	Resource  string    // core, search or code_search for a primary limit
	Limit     int       // the primary budget (X-RateLimit-Limit), when known
	Until     time.Time // when GitHub allows requests again
	At        time.Time // when this was decided (the adapter's clock)
	Sent      bool      // false: the adapter held the request back
	Attempts  int       // requests sent, including retries
	Status    int       // GitHub's answer (403 or 429) when sent
	Message   string    // GitHub's message
}

func (e *RateLimitError) Error() string { return describeLimit(e) }

// credentialError is a request not sent because no credentials could be had for it.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// resourceOf is the primary rate-limit resource a request counts against.
func resourceOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/search/code"):
		return "code_search"
	case strings.Contains(p, "/search/"):
		return "search"
	}
	return "core"
}

func (t *transport) count(status string) {
	if t.counter != nil {
		t.counter.WithLabelValues(ServerName, status).Inc()
	}
}

// held returns the time until which requests for resource are held back, if any.
func (t *transport) held(resource string) (time.Time, bool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if until, ok := t.blocked["secondary"]; ok && now.Before(until) {
		return until, true, true
	}
	if until, ok := t.blocked[resource]; ok && now.Before(until) {
		return until, false, true
	}
	return time.Time{}, false, false
}

func (t *transport) hold(key string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.blocked[key]) {
		t.blocked[key] = until
	}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	ctx := req.Context()
	resource := resourceOf(req)
	if until, secondary, ok := t.held(resource); ok {
		return nil, &RateLimitError{Secondary: secondary, Resource: resource, Until: until, At: t.now()}
	}
	read := req.Method == http.MethodGet || req.Method == http.MethodHead
	var key string
	var cached *cacheEntry
	if t.cache != nil && req.Method == http.MethodGet {
		key = cacheKey(req)
		cached = t.cache.get(key)
	}
	attempts := 1
	if read && (req.Body == nil || req.GetBody != nil) {
		attempts = t.maxAttempts
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		r := req.Clone(ctx)
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		} else if req.Body != nil && req.Body != http.NoBody && (attempt > 1 || refreshed) {
			return nil, errors.New("the request body cannot be sent again")
		}
		if cached != nil {
			r.Header.Set("If-None-Match", cached.etag)
		}
		if err := t.auth.Authorize(ctx, r); err != nil {
			return nil, &credentialError{fmt.Errorf("GitHub credentials: %w", err)}
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			t.count("error")
			if attempt < attempts && ctx.Err() == nil {
				if t.sleep(ctx, t.jitter(attempt)) == nil {
					continue
				}
			}
			return nil, err
		}
		t.count(strconv.Itoa(resp.StatusCode))
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// GitHub did not process the request: renew the credentials and send it again,
			// idempotent or not.
			discard(resp)
			refreshed = true
			if err := t.auth.Refresh(ctx); err != nil {
				return nil, &credentialError{fmt.Errorf("renewing the GitHub credentials after a 401: %w", err)}
			}
			attempt--
			continue
		}
		if resp.StatusCode == http.StatusNotModified && cached != nil {
			discard(resp)
			return cached.response(req, resp.Header), nil
		}
		if limit := t.limit(resp); limit != nil {
			wait := limit.Until.Sub(t.now())
			if attempt < attempts && wait <= t.maxRetryAfter && fits(ctx, wait) {
				discard(resp)
				t.log.Debug().Str("gatehouse.upstream", "GitHub").Int("http.response.status_code", resp.StatusCode).
					Dur("gatehouse.retry_in", wait).Bool("gatehouse.secondary_limit", limit.Secondary).Msg("GitHub rate limit; retrying")
				if err := t.sleep(ctx, max(wait, 0)); err != nil {
					return nil, err
				}
				continue
			}
			if limit.Secondary {
				t.hold("secondary", limit.Until)
			} else {
				t.hold(limit.Resource, limit.Until)
			}
			// Surfaced as an error rather than the response, so that the words are the
			// adapter's (on its clock) whatever go-github would make of a 429.
			discard(resp)
			limit.Attempts = attempt
			return nil, limit
		}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if attempt < attempts {
				wait := t.jitter(attempt)
				if fits(ctx, wait) {
					discard(resp)
					if err := t.sleep(ctx, wait); err != nil {
						return nil, err
					}
					continue
				}
			}
		case http.StatusOK:
			if key != "" && resp.Header.Get("ETag") != "" {
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return nil, err
				}
				t.cache.put(key, resp.Header.Get("ETag"), resp.Header, body)
				resp.Body = io.NopCloser(bytes.NewReader(body))
			}
		}
		return resp, nil
	}
}

// response builds the answer to a revalidated request from the cache: the cached status
// 200, headers and body, with the fresh answer's rate-limit headers.
func (e *cacheEntry) response(req *http.Request, fresh http.Header) *http.Response {
	h := e.header.Clone()
	for k, vs := range fresh {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit-") {
			h[k] = vs
		}
	}
	return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(e.body)), ContentLength: int64(len(e.body)), Request: req}
}

// limit recognises GitHub's rate-limit answers (docs: "Rate limits for the REST API"): a
// primary limit is a 403 or 429 with X-RateLimit-Remaining: 0 (wait until X-RateLimit-Reset);
// a secondary limit is a 403 or 429 with Retry-After, or with GitHub's "secondary rate
// limit" message (wait Retry-After, else at least a minute). Any other 403 is a permission
// refusal. The body of a 403 or 429 is read and put back.
func (t *transport) limit(resp *http.Response) *RateLimitError {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	now := t.now()
	reset := now.Add(time.Minute)
	if v, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		reset = time.Unix(v, 0)
	}
	retryAfter, hasRetryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	resource := resp.Header.Get("X-RateLimit-Resource")
	if resource == "" && resp.Request != nil {
		resource = resourceOf(resp.Request)
	}
	limit, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Limit"))
	e := &RateLimitError{Resource: resource, Limit: limit, At: now, Sent: true, Status: resp.StatusCode,
		Message: githubMessage(body)}
	switch {
	case resp.Header.Get("X-RateLimit-Remaining") == "0":
		e.Until = reset.Add(time.Second) // a second more: GitHub's clock and the adapter's differ
		if hasRetryAfter {
			e.Until = now.Add(retryAfter)
		}
	case hasRetryAfter:
		e.Secondary, e.Until = true, now.Add(retryAfter)
	case bytes.Contains(bytes.ToLower(body), []byte("secondary rate limit")), resp.StatusCode == http.StatusTooManyRequests:
		e.Secondary, e.Until = true, now.Add(time.Minute)
	default:
		return nil
	}
	return e
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), 24*time.Hour), true
	}
	return 0, false
}

// fits reports whether waiting d leaves the call's deadline (if any) a chance.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// jitter is full-jitter backoff: a random wait up to backoff·2^(attempt-1), capped.
func (t *transport) jitter(attempt int) time.Duration {
	ceiling := t.backoff << (attempt - 1)
	if ceiling <= 0 || ceiling > t.maxBackoff {
		ceiling = t.maxBackoff
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// upstreamCounter finds the kit's gatehouse_upstream_requests_total on the adapter's
// registry. The kit keeps its metrics unexported and counts only requests sent through
// kit.Client; registering an identical collector returns the existing one
// (prometheus.AlreadyRegisteredError), so GitHub's requests are counted in the same series
// as every other adapter's. A test checks the series appears.
func upstreamCounter(reg prometheus.Registerer, log zerolog.Logger) *prometheus.CounterVec {
	if reg == nil {
		return nil
	}
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_upstream_requests_total", Help: "Upstream HTTP requests by server and status (or error).",
	}, []string{"server", "status"})
	err := reg.Register(cv)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return cv
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	log.Warn().Err(err).Msg("GitHub requests are not counted in gatehouse_upstream_requests_total")
	return nil
}
