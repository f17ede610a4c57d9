package worker_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/workflows/worker"
)

func TestMainFlags(t *testing.T) {
	t.Setenv("CATALYST_CENTER_URL", "")
	t.Setenv("SERVICENOW_URL", "")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{nil, 2, "--catalyst-center-url (CATALYST_CENTER_URL) and --servicenow-url (SERVICENOW_URL) are required"},
		{[]string{"--catalyst-center-url", "http://x", "--servicenow-url", "http://y", "--secrets", "file"}, 2, "--secrets must be vault or env"},
		{[]string{"--catalyst-center-url", "http://x", "--servicenow-url", "http://y", "--temporal-tls-cert", "c.pem"}, 1, "give both the client certificate and its key"},
		{[]string{"--log-level", "loud"}, 2, "log level"},
	} {
		var out, errb bytes.Buffer
		if code := worker.Main("test", tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}
