package edge

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"/mcp/github":                           "/mcp/github",
		"//mcp///github":                        "/mcp/github",
		"/.well-known/../mcp/github":            "/mcp/github",
		"/mcp/%2e%2e/mcp/github":                "/mcp/github",
		"/mcp/./github/":                        "/mcp/github/",
		"/../../etc/passwd":                     "/etc/passwd",
		"/":                                     "/",
		"/mcp/catalyst-center/../../mcp/github": "/mcp/github",
		"/%25":                                  "/%25",
		"/a%2fb":                                "/a%2Fb", // refused earlier, but kept encoded here
		"/%7euser/%41":                          "/~user/A",
	} {
		if got, ok := normalize(in); !ok || got != want {
			t.Errorf("normalize(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "mcp", "/a\x00b", "/a\\b", "/%zz", "/%2"} {
		if _, ok := normalize(bad); ok {
			t.Errorf("normalize(%q) accepted", bad)
		}
	}
}

// FuzzNormalize: the result is canonical (what the authz service accepts) and stable.
// Run: go test ./proxy/edge -run '^$' -fuzz FuzzNormalize
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/mcp/x", "//a/../b/", "/%2e%2e/x", "/a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := normalize(in)
		if !ok {
			return
		}
		if !strings.HasPrefix(out, "/") || strings.Contains(out, "//") {
			t.Fatalf("normalize(%q) = %q is not canonical", in, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalize(%q) = %q keeps a dot segment", in, out)
			}
		}
		if again, ok := normalize(out); !ok || again != out {
			t.Fatalf("not stable: %q -> %q -> %q", in, out, again)
		}
	})
}
