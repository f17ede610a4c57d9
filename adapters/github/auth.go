package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

const (
	// tokenMargin renews an installation token this long before it expires (GitHub issues
	// them for an hour), so a call never starts with a token that lapses on the way.
	tokenMargin = 5 * time.Minute
	// jwtLifetime is the App JWT's validity: GitHub accepts at most ten minutes, and iat is
	// set a minute in the past against clock drift, so exp is nine minutes ahead.
	jwtLifetime = 9 * time.Minute
	jwtBackdate = 60 * time.Second
)

// credentials is the kit.Authenticator of API requests. The secret "github" holds either
// token (a fine-grained personal access token, for small setups) or app_id and private_key
// (a GitHub App, PEM) with an optional installation_id; with both, the App is used. An App's installation token is
// minted with a JWT and renewed tokenMargin before it expires and once after a 401.
type credentials struct {
	secrets kit.SecretSource
	orgs    []string
	now     func() time.Time
	apps    *gh.Client // JWT-authenticated client for the /app endpoints

	mu           sync.Mutex
	token        string
	expires      time.Time // zero for a personal access token
	installation int64     // looked up when the secret has none
	installApp   string    // the app id installation belongs to
}

// Authorize implements kit.Authenticator.
func (c *credentials) Authorize(ctx context.Context, r *http.Request) error {
	tok, err := c.current(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh implements kit.Authenticator: GitHub answered 401. A personal access token may
// have been rotated, so the secret is read again; an installation token is minted anew.
func (c *credentials) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires.IsZero() {
		c.secrets.Invalidate(ServerName)
	}
	c.token = ""
	_, err := c.renew(ctx)
	return err
}

func (c *credentials) current(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && (c.expires.IsZero() || c.now().Before(c.expires.Add(-tokenMargin))) {
		return c.token, nil
	}
	return c.renew(ctx)
}

// renew reads the secret and sets c.token; c.mu is held.
func (c *credentials) renew(ctx context.Context) (string, error) {
	s, err := c.secrets.Get(ctx, ServerName)
	if err != nil {
		return "", fmt.Errorf("credentials for GitHub: %w", err)
	}
	if s["app_id"] == "" {
		tok, err := s.Field("token")
		if err != nil {
			return "", fmt.Errorf("credentials for GitHub: the secret %q has neither app_id and private_key (GitHub App) nor token: %w",
				ServerName, err)
		}
		c.token, c.expires = strings.TrimSpace(tok), time.Time{}
		return c.token, nil
	}
	id, err := c.installationID(ctx, s)
	if err != nil {
		return "", err
	}
	it, _, err := c.apps.Apps.CreateInstallationToken(ctx, id, nil)
	if err != nil {
		return "", fmt.Errorf("GitHub refused an installation token for installation %d: %w", id, describeAuth(err))
	}
	if it.GetToken() == "" {
		return "", errors.New("GitHub returned an empty installation token")
	}
	c.token, c.expires = it.GetToken(), it.GetExpiresAt().Time
	if c.expires.IsZero() {
		c.expires = c.now().Add(time.Hour)
	}
	return c.token, nil
}

// installationID is the secret's installation_id, or the installation of the App on the
// first configured organisation (GET /orgs/{org}/installation), or the App's only
// installation.
func (c *credentials) installationID(ctx context.Context, s kit.Secret) (int64, error) {
	if v := s["installation_id"]; v != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id <= 0 {
			return 0, fmt.Errorf("credentials for GitHub: installation_id %q is not a number", v)
		}
		return id, nil
	}
	if c.installation != 0 && c.installApp == s["app_id"] {
		return c.installation, nil
	}
	var id int64
	if len(c.orgs) > 0 {
		inst, _, err := c.apps.Apps.FindOrganizationInstallation(ctx, c.orgs[0])
		if err != nil {
			return 0, fmt.Errorf("finding the GitHub App's installation on %s (set installation_id in the secret to skip this): %w",
				c.orgs[0], describeAuth(err))
		}
		id = inst.GetID()
	} else {
		insts, _, err := c.apps.Apps.ListInstallations(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("listing the GitHub App's installations: %w", describeAuth(err))
		}
		if len(insts) != 1 {
			return 0, fmt.Errorf("the GitHub App has %d installations: set installation_id in the secret %q, or GITHUB_ORGS",
				len(insts), ServerName)
		}
		id = insts[0].GetID()
	}
	c.installation, c.installApp = id, s["app_id"]
	return id, nil
}

// describeAuth words an error of the App endpoints.
func describeAuth(err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := fmt.Sprintf("%d %s", er.Response.StatusCode, http.StatusText(er.Response.StatusCode))
		if er.Message != "" {
			msg += ": " + oneLine(er.Message)
		}
		if er.Response.StatusCode == http.StatusUnauthorized {
			msg += " (check app_id and private_key in the secret " + ServerName + ")"
		}
		return errors.New(msg)
	}
	return err
}

// appAuth signs the App JWTs of the /app endpoints. A JWT GitHub refuses (401) makes the
// transport call Refresh, which reads the secret again: the key may have been rotated.
type appAuth struct {
	secrets kit.SecretSource
	now     func() time.Time

	mu     sync.Mutex
	pemKey string
	key    *rsa.PrivateKey
}

// Authorize implements kit.Authenticator.
func (a *appAuth) Authorize(ctx context.Context, r *http.Request) error {
	s, err := a.secrets.Get(ctx, ServerName)
	if err != nil {
		return fmt.Errorf("credentials for GitHub: %w", err)
	}
	appID, err := s.Field("app_id")
	if err != nil {
		return fmt.Errorf("credentials for GitHub: %w", err)
	}
	key, err := a.parse(s["private_key"])
	if err != nil {
		return err
	}
	jwt, err := signJWT(appID, key, a.now())
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+jwt)
	return nil
}

// Refresh implements kit.Authenticator: GitHub refused the JWT.
func (a *appAuth) Refresh(context.Context) error {
	a.secrets.Invalidate(ServerName)
	return nil
}

// parse reads the App's private key (PKCS #1 as GitHub hands it out, or PKCS #8), keeping
// the last one parsed. A key stored with literal \n (as environment variables often carry
// it) is accepted too.
func (a *appAuth) parse(pemText string) (*rsa.PrivateKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.key != nil && pemText == a.pemKey {
		return a.key, nil
	}
	key, err := ParsePrivateKey(pemText)
	if err != nil {
		return nil, err
	}
	a.pemKey, a.key = pemText, key
	return key, nil
}

// ParsePrivateKey reads a GitHub App private key: PEM, PKCS #1 or PKCS #8, RSA.
func ParsePrivateKey(text string) (*rsa.PrivateKey, error) {
	if !strings.Contains(text, "\n") {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, errors.New("credentials for GitHub: private_key is not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("credentials for GitHub: private_key is neither a PKCS #1 nor a PKCS #8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("credentials for GitHub: private_key is not an RSA key (GitHub Apps use RSA)")
	}
	return rk, nil
}

// signJWT makes a GitHub App JWT (RS256): iss the App id, iat a minute ago, exp nine minutes
// ahead (GitHub accepts at most ten).
func signJWT(appID string, key *rsa.PrivateKey, now time.Time) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"iss": appID, "iat": now.Add(-jwtBackdate).Unix(),
		"exp": now.Add(jwtLifetime).Unix()})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the GitHub App JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
