// Package servicenow is the Gatehouse adapter for ServiceNow: MCP tools for incidents, change
// requests and the CMDB, over the Table API (/api/now/table) and the Change Management API
// (/api/sn_chg_rest/change). Credentials come from the kit's SecretSource; the adapter has no
// authorization code of its own.
package servicenow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// ServerName is the adapter's name in gatehouse.yaml and the secret it reads.
const ServerName = "servicenow"

const (
	tokenPath  = "/oauth_token.do"
	tablePath  = "/api/now/table/"
	changePath = "/api/sn_chg_rest/change"
	// refreshMargin renews an OAuth token this long before it expires, so a call never
	// starts with a token that lapses on the way.
	refreshMargin = time.Minute
)

// Client calls a ServiceNow instance as its integration user. The secret "servicenow" holds
// either client_id and client_secret (OAuth 2.0 client credentials; with username and
// password too, the password grant) or only username and password (Basic). OAuth tokens
// are renewed before they expire and once after a 401; when the token endpoint refuses the
// stored credentials, the secret is read again first, so a rotation in Vault is picked up.
type Client struct {
	api     *kit.Client
	secrets kit.SecretSource
	now     func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	basic   *[2]string // Basic credentials when the secret has no OAuth client
}

// NewClient returns a client for the instance at base (https://<instance>.service-now.com).
func NewClient(base string, secrets kit.SecretSource, m *kit.Metrics, log zerolog.Logger) (*Client, error) {
	c := &Client{secrets: secrets, now: time.Now}
	api, err := kit.NewClient(ServerName, "ServiceNow", base, c, m, log)
	if err != nil {
		return nil, err
	}
	c.api = api
	return c, nil
}

// API exposes the underlying kit client (timeouts, transport) for configuration.
func (c *Client) API() *kit.Client { return c.api }

// SetClock replaces the clock used for token expiry (tests).
func (c *Client) SetClock(now func() time.Time) { c.now = now }

// Authorize implements kit.Authenticator.
func (c *Client) Authorize(ctx context.Context, r *http.Request) error {
	c.mu.Lock()
	tok, exp, basic := c.token, c.expires, c.basic
	c.mu.Unlock()
	switch {
	case basic != nil:
		r.SetBasicAuth(basic[0], basic[1])
		return nil
	case tok == "" || c.now().After(exp.Add(-refreshMargin)):
		if err := c.login(ctx); err != nil {
			return err
		}
		return c.Authorize(ctx, r)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh implements kit.Authenticator: the instance answered 401.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	c.basic = nil // a refused Basic password may have been rotated: read the secret again
	c.mu.Unlock()
	c.secrets.Invalidate(ServerName)
	return c.login(ctx)
}

func (c *Client) login(ctx context.Context) error {
	err := c.loginWithSecret(ctx)
	if kit.IsStatus(err, http.StatusUnauthorized) || kit.IsStatus(err, http.StatusBadRequest) {
		// The token endpoint refused the stored client: it may have been rotated.
		c.secrets.Invalidate(ServerName)
		err = c.loginWithSecret(ctx)
	}
	return err
}

func (c *Client) loginWithSecret(ctx context.Context) error {
	s, err := c.secrets.Get(ctx, ServerName)
	if err != nil {
		return fmt.Errorf("credentials for ServiceNow: %w", err)
	}
	if s["client_id"] == "" {
		user, err := s.Field("username")
		if err != nil {
			return fmt.Errorf("credentials for ServiceNow: neither client_id (OAuth) nor username (Basic): %w", err)
		}
		pass, err := s.Field("password")
		if err != nil {
			return fmt.Errorf("credentials for ServiceNow: %w", err)
		}
		c.mu.Lock()
		c.basic = &[2]string{user, pass}
		c.mu.Unlock()
		return nil
	}
	secret, err := s.Field("client_secret")
	if err != nil {
		return fmt.Errorf("credentials for ServiceNow: %w", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s["client_id"]}, "client_secret": {secret}}
	if s["username"] != "" {
		form.Set("grant_type", "password")
		form.Set("username", s["username"])
		form.Set("password", s["password"])
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if _, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: tokenPath, NoAuth: true, Idempotent: true,
		Form: form}, &out); err != nil {
		return err
	}
	if out.AccessToken == "" {
		return errors.New("the ServiceNow token endpoint returned no access token")
	}
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 1800
	}
	c.mu.Lock()
	c.token, c.expires, c.basic = out.AccessToken, c.now().Add(time.Duration(out.ExpiresIn)*time.Second), nil
	c.mu.Unlock()
	return nil
}

// Ready checks that credentials are available (not that the instance is up: an adapter
// whose upstream is down should still answer, with errors that say so).
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.secrets.Get(ctx, ServerName)
	return err
}

// Base is the instance's base URL, for links to records.
func (c *Client) Base() string { return strings.TrimRight(c.api.Base.String(), "/") }

// field is one field of a record read with sysparm_display_value=all: the stored value and
// what a person sees (for references, the referenced record's name).
type field struct {
	Value   string `json:"value"`
	Display string `json:"display_value"`
}

// UnmarshalJSON also accepts a plain string (a field returned without display values).
func (f *field) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &f.Value)
	}
	type plain field
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*f = field(p)
	return nil
}

// record is a row as the Table API or the Change Management API returns it.
type record map[string]field

func (r record) v(name string) string { return r[name].Value }

// d is the display value, falling back to the value.
func (r record) d(name string) string {
	if f := r[name]; f.Display != "" {
		return f.Display
	}
	return r[name].Value
}

// tableQuery is one Table API list request.
type tableQuery struct {
	Query  string   // encoded query
	Fields []string // sysparm_fields; nil for all
	Limit  int
	Offset int
}

// page is one page of a list.
type page struct {
	Records []record
	Total   int // X-Total-Count
	// Next is the offset of the next page, or -1 when this is the last.
	Next int
}

func (c *Client) list(ctx context.Context, table string, q tableQuery) (page, error) {
	v := url.Values{
		"sysparm_display_value":          {"all"},
		"sysparm_exclude_reference_link": {"true"},
		"sysparm_limit":                  {strconv.Itoa(q.Limit)},
		"sysparm_offset":                 {strconv.Itoa(q.Offset)},
	}
	if q.Query != "" {
		v.Set("sysparm_query", q.Query)
	}
	if len(q.Fields) > 0 {
		v.Set("sysparm_fields", strings.Join(q.Fields, ","))
	}
	var out struct {
		Result []record `json:"result"`
	}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: tablePath + table, Query: v}, &out)
	if err != nil {
		return page{}, err
	}
	p := page{Records: out.Result, Next: -1}
	p.Total, _ = strconv.Atoi(resp.Header.Get("X-Total-Count"))
	if hasNextLink(resp.Header.Values("Link")) {
		p.Next = q.Offset + len(out.Result)
	}
	return p, nil
}

// hasNextLink reports whether a Link header has rel="next" (RFC 8288).
func hasNextLink(links []string) bool {
	for _, l := range links {
		for part := range strings.SplitSeq(l, ",") {
			if strings.Contains(strings.ReplaceAll(part, " ", ""), `rel="next"`) {
				return true
			}
		}
	}
	return false
}

// first returns the one record a query finds, or ErrNotFound.
func (c *Client) first(ctx context.Context, table, query, what string) (record, error) {
	p, err := c.list(ctx, table, tableQuery{Query: query, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(p.Records) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return p.Records[0], nil
}

// ErrNotFound means no record matched.
var ErrNotFound = errors.New("not found in ServiceNow")

// update PATCHes a record. PATCH is not retried: a write is sent once.
func (c *Client) update(ctx context.Context, table, sysID string, fields map[string]string) (record, error) {
	var out struct {
		Result record `json:"result"`
	}
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodPatch, Path: tablePath + table + "/" + url.PathEscape(sysID),
		Query: url.Values{"sysparm_display_value": {"all"}, "sysparm_exclude_reference_link": {"true"}},
		Body:  fields}, &out)
	return out.Result, err
}

// create POSTs a record guarded by a correlation id: POST is not idempotent, so it is never
// simply retried. When it fails in a way that leaves its outcome unknown (no answer, 429,
// 5xx), the adapter looks the correlation id up; if the record exists, it was created and is
// returned; otherwise the POST is sent again, up to three times in all. A caller's request
// id is looked up before the first POST too, so a repeated tool call returns the record the
// first one created.
func (c *Client) create(ctx context.Context, table, path string, fields map[string]string, correlation string, callerID bool) (record, error) {
	fields["correlation_id"] = correlation
	if callerID {
		existing, err := c.first(ctx, table, "correlation_id="+quote(correlation), "")
		if err == nil {
			return existing, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		var out struct {
			Result record `json:"result"`
		}
		_, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: path,
			Query: url.Values{"sysparm_display_value": {"all"}, "sysparm_exclude_reference_link": {"true"}},
			Body:  fields}, &out)
		if err == nil {
			return out.Result, nil
		}
		lastErr = err
		if !outcomeUnknown(err) || ctx.Err() != nil {
			return nil, err
		}
		existing, lerr := c.first(ctx, table, "correlation_id="+quote(correlation), "")
		if lerr == nil {
			return existing, nil
		}
		if !errors.Is(lerr, ErrNotFound) {
			return nil, fmt.Errorf("%w (and checking whether it was created failed: %v)", err, lerr)
		}
	}
	return nil, lastErr
}

// outcomeUnknown reports whether a write may or may not have happened.
func outcomeUnknown(err error) bool {
	var ue *kit.UpstreamError
	if !errors.As(err, &ue) {
		return false
	}
	return ue.Status == 0 || ue.Status == http.StatusTooManyRequests || ue.Status >= 500
}

// quote escapes a value for an encoded query: "^" separates conditions, so a value cannot
// carry one (ServiceNow has no escape for it; "^^" is the documented literal).
func quote(s string) string { return strings.ReplaceAll(s, "^", "^^") }

// recordURL links to a record in the instance's UI.
func (c *Client) recordURL(table, sysID string) string {
	return c.Base() + "/nav_to.do?uri=" + url.QueryEscape(table+".do?sys_id="+sysID)
}

// userByEmail finds the ServiceNow user with an email address.
func (c *Client) userByEmail(ctx context.Context, email string) (record, error) {
	return c.first(ctx, "sys_user", "active=true^email="+quote(email), "no active ServiceNow user has the email "+email)
}

// refValue resolves what a caller typed for a reference field: a sys_id as is, otherwise the
// record whose name (or user name or email, for users) matches.
func (c *Client) refValue(ctx context.Context, table, text string) (string, error) {
	if isSysID(text) {
		return text, nil
	}
	var q, what string
	switch table {
	case "sys_user":
		q = "user_name=" + quote(text) + "^ORemail=" + quote(text) + "^ORname=" + quote(text)
		what = "no ServiceNow user has the user name, email or name " + strconv.Quote(text)
	case "sys_user_group":
		q = "name=" + quote(text)
		what = "no ServiceNow group is named " + strconv.Quote(text)
	default:
		q = "name=" + quote(text)
		what = "no configuration item is named " + strconv.Quote(text)
	}
	r, err := c.first(ctx, table, q, what)
	if err != nil {
		return "", err
	}
	return r.v("sys_id"), nil
}

func isSysID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// correlationID is what a create carries in correlation_id so that an uncertain create can
// be looked up before it is sent again: the caller's request id when given (a client that
// retries a whole tool call with the same request id gets the first record back), else a
// fresh random id.
func correlationID(requestID string) string {
	if requestID != "" {
		return "gatehouse:" + requestID
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "gatehouse:" + hex.EncodeToString(b[:])
}

// writeRefused explains a refused write: ServiceNow answers 403 when an ACL forbids the
// integration user the change (a closed record is read-only, a table not granted), and 400
// when a data policy wants more fields.
func writeRefused(err error, what, state string) error {
	var ue *kit.UpstreamError
	if !errors.As(err, &ue) {
		return err
	}
	switch ue.Status {
	case http.StatusForbidden:
		msg := fmt.Sprintf("ServiceNow refused to change %s: the integration user is not allowed to (an ACL denies it)", what)
		if state != "" {
			msg += fmt.Sprintf("; the record is %s", state)
		}
		return fmt.Errorf("%s. ServiceNow said: %s", msg, upstreamDetail(ue))
	case http.StatusBadRequest:
		return fmt.Errorf("ServiceNow refused the change to %s: %s", what, upstreamDetail(ue))
	}
	return err
}

// upstreamDetail is the message and detail of a ServiceNow error body, or the excerpt.
func upstreamDetail(ue *kit.UpstreamError) string {
	var body struct {
		Error struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(strings.TrimSuffix(ue.Detail, "…")), &body) == nil && body.Error.Message != "" {
		if body.Error.Detail != "" {
			return body.Error.Message + ": " + body.Error.Detail
		}
		return body.Error.Message
	}
	return ue.Detail
}
