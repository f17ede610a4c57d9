package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/internal/tracing"
)

// Authenticator adds credentials to upstream requests and renews them after a 401.
type Authenticator interface {
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh is called once after an upstream 401; the request is then sent again.
	Refresh(ctx context.Context) error
}

// Client calls one upstream API: pooled keep-alive connections, the call's deadline from its
// context, retries with jittered backoff only where a retry cannot repeat a side effect, and
// errors that say what failed.
type Client struct {
	Server string // platform server name, for metrics and messages
	Label  string // the upstream's name in messages ("Catalyst Center")
	Base   *url.URL
	HTTP   *http.Client
	Auth   Authenticator
	Log    zerolog.Logger
	// MaxAttempts bounds tries of an idempotent request (default 3).
	MaxAttempts int
	// Backoff is the first retry's backoff ceiling; it doubles per retry up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a Retry-After may make the client wait (default 30s).
	MaxRetryAfter time.Duration
	metrics       *Metrics
	sleep         func(context.Context, time.Duration) error
	transport     *http.Transport // under HTTP's tracing wrapper; UseTLS configures it
}

// NewClient returns a client for base with sensible pools and timeouts.
func NewClient(server, label, base string, auth Authenticator, m *Metrics, log zerolog.Logger) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q is not absolute", base)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Client{
		Server: server, Label: label, Base: u, Auth: auth, Log: log, metrics: m,
		// Each attempt is a client span of the tool call's trace (when tracing is on).
		HTTP:        &http.Client{Transport: tracing.Transport(tr, label), Timeout: 2 * time.Minute},
		transport:   tr,
		MaxAttempts: 3, Backoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxRetryAfter: 30 * time.Second,
		sleep: sleepCtx,
	}, nil
}

// Request is one upstream call.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   any // JSON-encoded when not nil
	// Form is sent as application/x-www-form-urlencoded instead of Body (OAuth token
	// endpoints); like every body, it is never logged.
	Form   url.Values
	Header http.Header
	// Idempotent marks a non-GET request as safe to retry (a read expressed as POST).
	// GET, HEAD, PUT, DELETE and OPTIONS are idempotent by HTTP's definition.
	Idempotent bool
	// NoAuth skips the Authenticator (the login request itself).
	NoAuth bool
	// BasicAuth, when set, is sent instead ([user, password]); never logged.
	BasicAuth *[2]string
}

func (r Request) idempotent() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return r.Idempotent
}

// Response is an upstream answer with a 2xx status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// UpstreamError is an upstream call that did not succeed. Its message is shown to the caller
// as the tool's error result, so it names the upstream, the call and the outcome, and never
// carries credentials.
type UpstreamError struct {
	Label      string
	Method     string
	Path       string
	Status     int // 0 when no HTTP answer came back
	Attempts   int
	RetryAfter time.Duration
	Detail     string // a short, single-line excerpt of the upstream's error body
	Err        error  // transport error, when Status is 0
}

func (e *UpstreamError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s ", e.Label, e.Method, e.Path)
	if e.Status == 0 {
		fmt.Fprintf(&b, "failed: %v", e.Err)
	} else {
		fmt.Fprintf(&b, "answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	switch e.Status {
	case http.StatusTooManyRequests:
		b.WriteString(" (rate limited")
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, "; retry in %s", e.RetryAfter.Round(time.Second))
		}
		b.WriteString(")")
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(" (the adapter's upstream credentials were refused)")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// Do sends req and, for a 2xx answer, decodes its JSON body into out (if not nil).
func (c *Client) Do(ctx context.Context, req Request, out any) (*Response, error) {
	var body []byte
	switch {
	case req.Form != nil:
		body = []byte(req.Form.Encode())
	case req.Body != nil:
		b, err := json.Marshal(req.Body)
		if err != nil {
			return nil, fmt.Errorf("encode %s request: %w", c.Label, err)
		}
		body = b
	}
	attempts := 1
	if req.idempotent() && c.MaxAttempts > 1 {
		attempts = c.MaxAttempts
	}
	refreshed := false
	var last *UpstreamError
	for attempt := 1; attempt <= attempts; attempt++ {
		resp, err := c.once(ctx, req, body)
		if err != nil {
			last = &UpstreamError{Label: c.Label, Method: req.Method, Path: req.Path, Attempts: attempt, Err: err}
			c.metrics.upstream.WithLabelValues(c.Server, "error").Inc()
			if ctx.Err() != nil || attempt == attempts {
				return nil, last
			}
			if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
				return nil, last
			}
			continue
		}
		c.metrics.upstream.WithLabelValues(c.Server, strconv.Itoa(resp.Status)).Inc()
		if resp.Status >= 200 && resp.Status < 300 {
			if out != nil && len(resp.Body) > 0 {
				if err := json.Unmarshal(resp.Body, out); err != nil {
					return nil, &UpstreamError{Label: c.Label, Method: req.Method, Path: req.Path, Status: resp.Status,
						Attempts: attempt, Detail: "unexpected response body: " + err.Error()}
				}
			}
			return resp, nil
		}
		last = &UpstreamError{Label: c.Label, Method: req.Method, Path: req.Path, Status: resp.Status, Attempts: attempt,
			Detail: excerpt(resp.Body), RetryAfter: retryAfter(resp.Header)}
		if resp.Status == http.StatusUnauthorized && !req.NoAuth && c.Auth != nil && !refreshed {
			// A 401 means the request was not processed: refresh credentials and send it once
			// more, idempotent or not.
			refreshed = true
			if err := c.Auth.Refresh(ctx); err != nil {
				return nil, fmt.Errorf("%s: renewing credentials after a 401: %w", c.Label, err)
			}
			attempt--
			continue
		}
		retryable := resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable
		if !retryable || attempt == attempts {
			return nil, last
		}
		wait := c.backoff(attempt)
		if last.RetryAfter > 0 {
			if last.RetryAfter > c.MaxRetryAfter {
				return nil, last // waiting that long would outlive any reasonable call
			}
			wait = last.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, last
		}
		c.Log.Debug().Str("gatehouse.upstream", c.Label).Int("http.response.status_code", resp.Status).
			Dur("gatehouse.retry_in", wait).Msg("retrying upstream request")
		if err := c.sleep(ctx, wait); err != nil {
			return nil, last
		}
	}
	return nil, last
}

func (c *Client) once(ctx context.Context, req Request, body []byte) (*Response, error) {
	u := c.Base.JoinPath(req.Path)
	if req.Query != nil {
		u.RawQuery = req.Query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	hr.Header.Set("Accept", "application/json")
	switch {
	case req.Form != nil:
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case body != nil:
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case req.BasicAuth != nil:
		hr.SetBasicAuth(req.BasicAuth[0], req.BasicAuth[1])
	case !req.NoAuth && c.Auth != nil:
		if err := c.Auth.Authorize(ctx, hr); err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
	}
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// backoff is full jitter: a random wait up to Backoff·2^(attempt-1), capped at MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.Backoff << (attempt - 1)
	if ceiling <= 0 || ceiling > c.MaxBackoff {
		ceiling = c.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// excerpt is a short, single-line piece of an error body for messages.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
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

// IsStatus reports whether err is an UpstreamError with the given HTTP status.
func IsStatus(err error, status int) bool {
	var ue *UpstreamError
	return errors.As(err, &ue) && ue.Status == status
}
