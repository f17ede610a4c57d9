package sim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxJWTLifetime is how far in the future a JWT's exp may be (GitHub: ten minutes).
const maxJWTLifetime = 10 * time.Minute

const appDocs = docsBase + "/apps/apps"

// verifyJWT checks an App JWT against the App's public key and the simulator's clock.
func (s *Sim) verifyJWT(raw string) *apiError {
	undecodable := errorf(http.StatusUnauthorized, appDocs, "A JSON web token could not be decoded")
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return undecodable
	}
	var claims struct {
		Issuer json.RawMessage  `json:"iss"`
		Issued *jwt.NumericDate `json:"iat"`
		Expiry *jwt.NumericDate `json:"exp"`
	}
	if err := tok.Claims(&s.appKey.PublicKey, &claims); err != nil {
		return undecodable
	}
	now := s.opts.Now()
	switch {
	case claims.Expiry == nil || !claims.Expiry.Time().After(now):
		return errorf(http.StatusUnauthorized, appDocs, "'Expiration time' claim ('exp') must be a numeric value "+
			"representing the future time at which the assertion expires")
	case claims.Expiry.Time().After(now.Add(maxJWTLifetime)):
		return errorf(http.StatusUnauthorized, appDocs, "'Expiration time' claim ('exp') is too far in the future")
	case claims.Issued == nil || claims.Issued.Time().After(now):
		return errorf(http.StatusUnauthorized, appDocs, "'Issued at' claim ('iat') must be an Integer representing "+
			"the time that the assertion was issued")
	}
	var iss string
	if err := json.Unmarshal(claims.Issuer, &iss); err != nil {
		var n json.Number
		if err := json.Unmarshal(claims.Issuer, &n); err != nil {
			return errorf(http.StatusUnauthorized, appDocs, "Integration not found")
		}
		iss = n.String()
	}
	if iss != strconv.Itoa(DefaultAppID) && iss != DefaultClientID {
		return errorf(http.StatusUnauthorized, appDocs, "Integration not found")
	}
	return nil
}

func (s *Sim) appJSON(c *call) map[string]any {
	return map[string]any{"id": DefaultAppID, "slug": AppSlug, "client_id": DefaultClientID, "name": "Gatehouse adapter",
		"owner": s.userJSON(c, Org), "html_url": c.html + "/apps/" + AppSlug, "permissions": appPermissions(),
		"events": []string{}, "created_at": ts(seedEpoch), "updated_at": ts(seedEpoch)}
}

func appPermissions() map[string]string {
	return map[string]string{"contents": "write", "issues": "write", "pull_requests": "write", "checks": "read",
		"statuses": "read", "metadata": "read"}
}

func (s *Sim) installationJSON(c *call) map[string]any {
	return map[string]any{"id": DefaultInstallationID, "app_id": DefaultAppID, "app_slug": AppSlug,
		"account": s.userJSON(c, Org), "target_type": "Organization", "target_id": s.orgs[Org].ID,
		"repository_selection": "all", "permissions": appPermissions(), "events": []string{},
		"access_tokens_url": fmt.Sprintf("%s/app/installations/%d/access_tokens", c.api, DefaultInstallationID),
		"repositories_url":  c.api + "/installation/repositories",
		"html_url":          fmt.Sprintf("%s/organizations/%s/settings/installations/%d", c.html, Org, DefaultInstallationID),
		"created_at":        ts(seedEpoch), "updated_at": ts(seedEpoch)}
}

func (s *Sim) getApp(c *call) (int, any, error) { return http.StatusOK, s.appJSON(c), nil }

func (s *Sim) listInstallations(c *call) (int, any, error) {
	return http.StatusOK, []any{s.installationJSON(c)}, nil
}

func (s *Sim) getInstallation(c *call) (int, any, error) {
	if c.param("id") != strconv.Itoa(DefaultInstallationID) {
		return 0, nil, notFound(appDocs + "#get-an-installation-for-the-authenticated-app")
	}
	return http.StatusOK, s.installationJSON(c), nil
}

func (s *Sim) orgInstallation(c *call) (int, any, error) {
	if !strings.EqualFold(c.param("org"), Org) {
		return 0, nil, notFound(appDocs + "#get-an-organization-installation-for-the-authenticated-app")
	}
	return http.StatusOK, s.installationJSON(c), nil
}

func (s *Sim) repoInstallation(c *call) (int, any, error) {
	if !strings.EqualFold(c.param("owner"), Org) || s.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))] == nil {
		return 0, nil, notFound(appDocs + "#get-a-repository-installation-for-the-authenticated-app")
	}
	return http.StatusOK, s.installationJSON(c), nil
}

func (s *Sim) createInstallationToken(c *call) (int, any, error) {
	if c.param("id") != strconv.Itoa(DefaultInstallationID) {
		return 0, nil, notFound(appDocs + "#create-an-installation-access-token-for-an-app")
	}
	tok := "ghs_" + randomToken(36)
	exp := s.opts.Now().Add(s.opts.TokenTTL).UTC().Truncate(time.Second)
	s.tokens[tok] = &instToken{installation: DefaultInstallationID, expires: exp}
	s.issued++
	return http.StatusCreated, map[string]any{"token": tok, "expires_at": ts(exp), "permissions": appPermissions(),
		"repository_selection": "all"}, nil
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

func (s *Sim) currentUser(c *call) (int, any, error) {
	if c.who.kind == kindAnonymous {
		return 0, nil, errorf(http.StatusUnauthorized, docsBase+"/users/users#get-the-authenticated-user", "Requires authentication")
	}
	if c.who.kind == kindInstallation {
		return 0, nil, errorf(http.StatusForbidden, docsBase+"/users/users#get-the-authenticated-user", "Resource not accessible by integration")
	}
	return http.StatusOK, s.userJSON(c, c.who.login), nil
}
