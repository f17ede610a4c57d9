package issuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/dev/issuer"
)

const resource = "http://127.0.0.1:8080/mcp/catalyst-center"

func newIssuer(t *testing.T) (*issuer.Issuer, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	iss, err := issuer.New(issuer.Options{URL: "http://" + srv.Listener.Addr().String(), Resources: []string{resource}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return iss, srv
}

func token(t *testing.T, srv *httptest.Server, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestTokenEndpointRefusals(t *testing.T) {
	iss, srv := newIssuer(t)
	iss.AddClient("agent", "agent-secret", "network-engineers")
	cases := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		err    string
	}{
		{"wrong password", url.Values{"grant_type": {"password"}, "client_id": {issuer.CLIClient}, "username": {"nina"}, "password": {"nope"}}, nil, 400, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "client_id": {issuer.CLIClient}, "username": {"eve"}, "password": {"gatehouse"}}, nil, 400, "invalid_grant"},
		{"unknown resource", url.Values{"grant_type": {"password"}, "client_id": {issuer.CLIClient}, "username": {"nina"}, "password": {"gatehouse"}, "resource": {"http://elsewhere/mcp/x"}}, nil, 400, "invalid_target"},
		{"unknown client", url.Values{"grant_type": {"password"}, "client_id": {"who"}, "username": {"nina"}, "password": {"gatehouse"}}, nil, 401, "invalid_client"},
		{"public client credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {issuer.CLIClient}}, nil, 401, "invalid_client"},
		{"wrong client secret", url.Values{"grant_type": {"client_credentials"}}, []string{"agent", "wrong"}, 401, "invalid_client"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "client_id": {issuer.CLIClient}, "code": {"x"}}, nil, 400, "invalid_grant"},
		{"unknown grant", url.Values{"grant_type": {"implicit"}, "client_id": {issuer.CLIClient}}, nil, 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		status, out := token(t, srv, c.form, c.basic...)
		if status != c.status || out["error"] != c.err {
			t.Errorf("%s: %d %v", c.name, status, out)
		}
	}
	status, out := token(t, srv, url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}, "agent", "agent-secret")
	if status != 200 || out["access_token"] == nil {
		t.Fatalf("client credentials: %d %v", status, out)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	_, srv := newIssuer(t)
	base := url.Values{"response_type": {"code"}, "client_id": {issuer.CLIClient}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"code_challenge": {"abc"}, "code_challenge_method": {"S256"}}
	get := func(q url.Values) int {
		resp, err := http.Get(srv.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(base); code != 200 {
		t.Fatalf("valid request: %d", code)
	}
	for name, mod := range map[string]func(url.Values){
		"plain PKCE":       func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no PKCE":          func(q url.Values) { q.Del("code_challenge") },
		"unknown client":   func(q url.Values) { q.Set("client_id", "nobody") },
		"token flow":       func(q url.Values) { q.Set("response_type", "token") },
		"unknown resource": func(q url.Values) { q.Set("resource", "http://evil/mcp/x") },
	} {
		q := url.Values{}
		for k, v := range base {
			q[k] = append([]string(nil), v...)
		}
		mod(q)
		if code := get(q); code != 400 {
			t.Errorf("%s: %d", name, code)
		}
	}
	// Registration only for loopback or https redirect URIs.
	resp, _ := http.Post(srv.URL+"/register", "application/json", strings.NewReader(`{"redirect_uris":["http://evil.example/cb"]}`))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("non-loopback http redirect registered: %d", resp.StatusCode)
	}
}
