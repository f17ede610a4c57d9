package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"
)

// Error is a GitHub API call that did not succeed. Its message is shown to the caller as
// the tool's error result: it names the call and GitHub's answer, never credentials.
type Error struct {
	Method  string
	Path    string // API path, without the base (/repos/o/r/pulls/3/merge)
	Status  int    // 0 when no answer came back
	Message string // GitHub's message
	Details []string
	Err     error // transport error, when Status is 0
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GitHub: %s %s ", e.Method, e.Path)
	if e.Status == 0 {
		fmt.Fprintf(&b, "failed: %v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "answered %d %s", e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusUnauthorized:
		b.WriteString(" (the adapter's GitHub credentials were refused)")
	case http.StatusForbidden:
		b.WriteString(" (the adapter's GitHub App or token may not do this)")
	case http.StatusNotFound:
		b.WriteString(" (it does not exist, or the adapter's GitHub App or token cannot see it)")
	}
	if msg := e.detail(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return b.String()
}

// detail is GitHub's message with its validation details, on one line.
func (e *Error) detail() string {
	parts := []string{}
	if m := oneLine(e.Message); m != "" && !strings.EqualFold(m, http.StatusText(e.Status)) {
		parts = append(parts, m)
	}
	for _, d := range e.Details {
		if d = oneLine(d); d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, "; ")
}

func (e *Error) Unwrap() error { return e.Err }

// oneLine joins a message's lines and trims it to 300 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// statusOf is the HTTP status of a failed call (0 when there was no answer).
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// outcomeUnknown reports whether a failed write may nevertheless have happened: no answer,
// or a 5xx from GitHub or a proxy in front of it.
func outcomeUnknown(err error) bool {
	var e *Error
	var rl *RateLimitError
	var ce *credentialError
	switch {
	case errors.As(err, &rl):
		return false // GitHub refused the request
	case errors.As(err, &ce):
		return false // never sent
	case errors.As(err, &e):
		return e.Status == 0 || e.Status >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// describe turns what go-github returned into an error that says what went wrong in words.
func (c *Client) describe(err error) error {
	if err == nil {
		return nil
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl
	}
	var er *gh.ErrorResponse
	var ghRate *gh.RateLimitError
	var ghAbuse *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &er):
		e := &Error{Status: 0, Message: er.Message}
		if er.Response != nil {
			e.Status = er.Response.StatusCode
			e.Method, e.Path = c.callOf(er.Response.Request)
		}
		for _, d := range er.Errors {
			switch {
			case d.Message != "":
				e.Details = append(e.Details, d.Message)
			case d.Field != "":
				e.Details = append(e.Details, fmt.Sprintf("%s %s is %s", d.Resource, d.Field, strings.ReplaceAll(d.Code, "_", " ")))
			}
		}
		return e
	case errors.As(err, &ghRate):
		return &RateLimitError{Resource: ghRate.Rate.Resource, Limit: ghRate.Rate.Limit, Until: ghRate.Rate.Reset.Time,
			At: c.now(), Sent: true, Status: http.StatusForbidden, Message: ghRate.Message}
	case errors.As(err, &ghAbuse):
		return &RateLimitError{Secondary: true, Until: c.now().Add(ghAbuse.GetRetryAfter()), At: c.now(), Sent: true,
			Status: http.StatusForbidden, Message: ghAbuse.Message}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		method, path := ue.Op, ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			path = c.apiPath(u)
		}
		return &Error{Method: strings.ToUpper(method), Path: path, Err: ue.Err}
	}
	return err
}

// callOf names a request as the API knows it: method and path below the base URL.
func (c *Client) callOf(r *http.Request) (string, string) {
	if r == nil {
		return "", ""
	}
	return r.Method, c.apiPath(r.URL)
}

func (c *Client) apiPath(u *url.URL) string {
	p := strings.TrimPrefix(u.Path, strings.TrimSuffix(c.gh.BaseURL.Path, "/"))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// describeLimit puts a rate limit into words, with when to retry on the adapter's clock.
func describeLimit(e *RateLimitError) string {
	in := e.Until.Sub(e.At).Round(time.Second)
	when := fmt.Sprintf("%s (in %s)", e.Until.UTC().Format("15:04:05 MST"), max(in, time.Second))
	var b strings.Builder
	switch {
	case !e.Sent && e.Secondary:
		fmt.Fprintf(&b, "not sent to GitHub: its secondary rate limit asked the adapter to wait until %s", when)
	case !e.Sent:
		fmt.Fprintf(&b, "not sent to GitHub: the adapter's %s rate limit is used up until %s", e.Resource, when)
	case e.Secondary:
		fmt.Fprintf(&b, "GitHub's secondary rate limit refused the request (%d %s: too many requests in a short time)",
			e.Status, http.StatusText(e.Status))
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " %d times", e.Attempts)
		}
		fmt.Fprintf(&b, "; retry after %s", when)
	default:
		fmt.Fprintf(&b, "GitHub's primary rate limit for %s requests", e.Resource)
		if e.Limit > 0 {
			fmt.Fprintf(&b, " (%d per window)", e.Limit)
		}
		fmt.Fprintf(&b, " is used up; it resets at %s", when)
	}
	if m := oneLine(e.Message); m != "" {
		b.WriteString(". GitHub said: ")
		b.WriteString(m)
	}
	return b.String()
}

// githubMessage is the "message" of a GitHub error body, if it has one.
func githubMessage(body []byte) string {
	var v struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.Message
}
