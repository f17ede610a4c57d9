package vaulttest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// token is a Vault service token.
type token struct {
	id, accessor string
	displayName  string // "root", "token", "approle"
	path         string // the path that created it
	policies     []string
	meta         map[string]string
	orphan       bool
	entityID     string
	issued       time.Time
	creationTTL  time.Duration // 0: never expires
	maxTTL       time.Duration // renewals never reach past issued+maxTTL
	expire       time.Time     // zero: never expires
	renewable    bool
	lastRenewal  time.Time
}

func (t *token) expired(now time.Time) bool {
	return !t.expire.IsZero() && !now.Before(t.expire)
}

// mayUseKV reports whether the token's policies give it KV access: anything besides the
// built-in "default" policy does (policy documents are not modelled).
func (t *token) mayUseKV() bool {
	for _, p := range t.policies {
		if p != "default" {
			return true
		}
	}
	return false
}

// remaining is the token's TTL left at now, in whole seconds as Vault reports it.
func (t *token) remaining(now time.Time) int {
	if t.expire.IsZero() {
		return 0
	}
	return int(t.expire.Sub(now) / time.Second)
}

// newTokenLocked stores a fresh token; s.mu is held (or s is not yet shared).
func (s *Server) newTokenLocked(ttl time.Duration, renewable bool, policies []string) *token {
	now := s.now()
	t := &token{
		id:          "hvs." + randomString(24),
		accessor:    randomString(24),
		displayName: "token",
		path:        "auth/token/create",
		policies:    sanitizePolicies(policies),
		issued:      now,
		creationTTL: ttl,
		maxTTL:      max(DefaultTokenTTL, ttl),
		renewable:   renewable,
	}
	if ttl > 0 {
		t.expire = now.Add(ttl)
	}
	s.tokens[t.id] = t
	return t
}

// authBlock is the "auth" object of a login or renewal response.
type authBlock struct {
	ClientToken      string            `json:"client_token"`
	Accessor         string            `json:"accessor"`
	Policies         []string          `json:"policies"`
	TokenPolicies    []string          `json:"token_policies"`
	IdentityPolicies []string          `json:"identity_policies"`
	Metadata         map[string]string `json:"metadata"`
	LeaseDuration    int               `json:"lease_duration"`
	Renewable        bool              `json:"renewable"`
	EntityID         string            `json:"entity_id"`
	TokenType        string            `json:"token_type"`
	Orphan           bool              `json:"orphan"`
	MFARequirement   any               `json:"mfa_requirement"`
	NumUses          int               `json:"num_uses"`
}

func (t *token) auth(now time.Time) *authBlock {
	return &authBlock{
		ClientToken:   t.id,
		Accessor:      t.accessor,
		Policies:      t.policies,
		TokenPolicies: t.policies,
		Metadata:      t.meta,
		LeaseDuration: t.remaining(now),
		Renewable:     t.renewable,
		EntityID:      t.entityID,
		TokenType:     "service",
		Orphan:        t.orphan,
	}
}

// appRole is one AppRole with a single secret_id.
type appRole struct {
	name, roleID, secretID string
	policies               []string // including "default"
	entityID               string
}

// login answers POST auth/approle/login (no token needed). The messages and the 400 status
// are those of Vault's approle backend: an unknown role_id and a wrong secret_id are both
// "invalid role or secret ID".
func (s *Server) login(r *http.Request, body []byte) reply {
	if !isWrite(r) {
		return unsupported()
	}
	m, bad := decodeBody(body)
	if bad != nil {
		return *bad
	}
	roleID := strings.TrimSpace(stringField(m["role_id"]))
	if roleID == "" {
		return errorReply(http.StatusBadRequest, "missing role_id")
	}
	var role *appRole
	for _, ar := range s.roles {
		if ar.roleID == roleID {
			role = ar
			break
		}
	}
	if role == nil {
		return errorReply(http.StatusBadRequest, "invalid role or secret ID")
	}
	secretID := strings.TrimSpace(stringField(m["secret_id"]))
	if secretID == "" {
		return errorReply(http.StatusBadRequest, "missing secret_id")
	}
	if secretID != role.secretID {
		return errorReply(http.StatusBadRequest, "invalid role or secret ID")
	}
	t := s.newTokenLocked(s.tokenTTL, true, role.policies)
	t.displayName, t.path, t.orphan = "approle", "auth/approle/login", true
	t.meta = map[string]string{"role_name": role.name}
	t.entityID = role.entityID
	s.logins++
	env := newEnvelope("approle", nil)
	env.Auth = t.auth(s.now())
	return reply{status: http.StatusOK, body: env}
}

// lookupSelf answers GET (or POST) auth/token/lookup-self.
func (s *Server) lookupSelf(r *http.Request, t *token) reply {
	if !isRead(r) && !isWrite(r) {
		return unsupported()
	}
	now := s.now()
	var meta any
	if t.meta != nil {
		meta = t.meta
	}
	var expire any
	if !t.expire.IsZero() {
		expire = timestamp(t.expire)
	}
	data := map[string]any{
		"accessor":         t.accessor,
		"creation_time":    t.issued.Unix(),
		"creation_ttl":     int(t.creationTTL / time.Second),
		"display_name":     t.displayName,
		"entity_id":        t.entityID,
		"expire_time":      expire,
		"explicit_max_ttl": 0,
		"id":               t.id,
		"issue_time":       timestamp(t.issued),
		"meta":             meta,
		"num_uses":         0,
		"orphan":           t.orphan,
		"path":             t.path,
		"policies":         t.policies,
		"renewable":        t.renewable,
		"ttl":              t.remaining(now),
		"type":             "service",
	}
	if !t.lastRenewal.IsZero() {
		data["last_renewal"] = timestamp(t.lastRenewal)
		data["last_renewal_time"] = t.lastRenewal.Unix()
	}
	return reply{status: http.StatusOK, body: newEnvelope("token", data)}
}

// renewSelf answers POST auth/token/renew-self {"increment": "1h" | 3600}. Without an
// increment the token gets its original TTL again; either way the new expiry is capped at
// the token's max TTL (32 days from issue, or its own TTL if longer), with a warning, as
// Vault caps renewals. A non-renewable or non-expiring token gets Vault's 400 "lease is not
// renewable".
func (s *Server) renewSelf(r *http.Request, body []byte, t *token) reply {
	if !isWrite(r) {
		return unsupported()
	}
	m, bad := decodeBody(body)
	if bad != nil {
		return *bad
	}
	increment, err := durationSecond(m["increment"])
	if err != nil {
		return errorReply(http.StatusBadRequest, fmt.Sprintf("error converting input %v for field %q: %v", m["increment"], "increment", err))
	}
	if !t.renewable || t.expire.IsZero() {
		return errorReply(http.StatusBadRequest, "lease is not renewable")
	}
	now := s.now()
	ttl := t.creationTTL
	if increment > 0 {
		ttl = increment
	}
	env := newEnvelope("token", nil)
	expire, limit := now.Add(ttl), t.issued.Add(t.maxTTL)
	if expire.After(limit) {
		expire = limit
		env.Warnings = []string{fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", ttl.String(), limit.Sub(now).Truncate(time.Second).String())}
	}
	t.expire, t.lastRenewal = expire, now
	s.renewals++
	env.Auth = t.auth(now)
	return reply{status: http.StatusOK, body: env}
}

// stringField reads a string parameter the way Vault's TypeString does: strings as they are,
// numbers in their JSON form, anything else as absent.
func stringField(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer: // json.Number
		return x.String()
	}
	return ""
}

// durationSecond reads a TypeDurationSecond parameter: a JSON number of seconds, a string of
// digits (seconds), or a duration string such as "1h", "90m" or "2d".
func durationSecond(v any) (time.Duration, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		s = strings.TrimSpace(x)
	case fmt.Stringer: // json.Number
		s = x.String()
	case bool:
		return 0, fmt.Errorf("not a duration: %v", x)
	default:
		return 0, fmt.Errorf("not a duration: %T", v)
	}
	if s == "" {
		return 0, nil
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * time.Second, err
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok && isDigits(days) {
		n, err := strconv.ParseInt(days, 10, 64)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
