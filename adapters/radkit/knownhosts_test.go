package radkit

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testKey(t *testing.T, seed string) ssh.PublicKey {
	t.Helper()
	sum := sha256.Sum256([]byte(seed))
	k, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(sum[:]).Public())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func line(patterns string, k ssh.PublicKey) string {
	return patterns + " " + string(ssh.MarshalAuthorizedKey(k))
}

func hashed(host string) string {
	salt := []byte("0123456789abcdef0123")
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return "|1|" + base64.StdEncoding.EncodeToString(salt) + "|" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestKnownHosts(t *testing.T) {
	core, acc, dist, old, rogue := testKey(t, "core"), testKey(t, "acc"), testKey(t, "dist"), testKey(t, "old"), testKey(t, "rogue")
	kh, err := parseKnownHosts(strings.Join([]string{
		"# pinned by netops",
		line("lon-b1-core-01,10.10.0.1", core),
		line("[127.0.0.1]:2202", acc),
		line(hashed("nyc-hq-dist-01"), dist),
		line("lab-sw-*,!lab-sw-099", core),
		"@revoked " + line("*", old),
		"@cert-authority " + line("*.example.com", rogue),
		"",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		device, addr string
		key          ssh.PublicKey
		want         string // "" accepted, else the HostKeyError kind
	}{
		{"lon-b1-core-01", "127.0.0.1:2201", core, ""},
		{"core-by-address", "10.10.0.1:22", core, ""},
		{"lon-b1-core-01", "127.0.0.1:2201", rogue, "changed"},
		{"lon-b1-acc-01", "127.0.0.1:2202", acc, ""},
		{"lon-b1-acc-01", "127.0.0.1:2203", acc, "unknown"},
		{"nyc-hq-dist-01", "127.0.0.1:2204", dist, ""},
		{"nyc-hq-dist-01", "127.0.0.1:2204", rogue, "changed"},
		{"lab-sw-001", "10.99.0.2:22", core, ""},
		{"lab-sw-099", "10.99.0.99:22", core, "unknown"},
		{"lon-b1-core-01", "127.0.0.1:2201", old, "revoked"},
		{"www.example.com", "192.0.2.1:22", rogue, "unknown"},
	} {
		cb, algos := kh.pin(c.device, c.addr)
		err := cb(c.addr, nil, c.key)
		var herr *HostKeyError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s at %s: %v", c.device, c.addr, err)
		case c.want != "" && (!errors.As(err, &herr) || herr.Kind != c.want):
			t.Errorf("%s at %s: %v, want %s", c.device, c.addr, err, c.want)
		case c.want == "" && (len(algos) != 1 || algos[0] != ssh.KeyAlgoED25519):
			t.Errorf("%s: algorithms %v", c.device, algos)
		}
	}
	cb, _ := kh.pin("lon-b1-core-01", "127.0.0.1:2201")
	msg := cb("", nil, rogue).Error()
	for _, want := range []string{"lon-b1-core-01 (127.0.0.1:2201)", "CHANGED", "known_hosts pins ssh-ed25519 " + ssh.FingerprintSHA256(core),
		"the device offered ssh-ed25519 " + ssh.FingerprintSHA256(rogue)} {
		if !strings.Contains(msg, want) {
			t.Errorf("changed-key message lacks %q: %s", want, msg)
		}
	}
	if _, err := parseKnownHosts("not a known_hosts line\n"); err == nil {
		t.Error("garbage parsed")
	}
	if got := hostKeyAlgorithms([]ssh.PublicKey{testRSA(t)}); strings.Join(got, ",") != "rsa-sha2-512,rsa-sha2-256,ssh-rsa" {
		t.Errorf("RSA algorithms: %v", got)
	}
}

// testRSA is a fixed RSA public key (ssh-rsa), parsed from authorized_keys form.
func testRSA(t *testing.T) ssh.PublicKey {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7vbqajDhA8YQ1S6jB7ktsdK6xSLzb0ntq6QcKoLgZOfMcTPsqPPIXJ3Xt6C3BtyYWmsT5qScjV6GLd4BAAkG7sX5Ldh2YHBnBQfYaJ3bM0ScVzN0fQ+ZCmOo7hV8HX1uFHgJP6hgYbOcUrEYSB4eTw6G/j7ARbXgrA3lWoAnwtQ== test"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseSSHInventory(t *testing.T) {
	devs, err := ParseSSHInventory([]byte(`{"devices": [
		{"name": "a", "host": "10.0.0.1", "device_type": "IOS_XE", "credentials": "campus"},
		{"name": "b", "address": "127.0.0.1:2222", "device_type": "NXOS"}]}`))
	if err != nil || len(devs) != 2 || devs[0].Address != "10.0.0.1:22" || devs[1].Credentials != "" {
		t.Fatalf("%+v %v", devs, err)
	}
	for _, bad := range []string{
		`{"devices": [{"host": "10.0.0.1", "device_type": "IOS_XE"}]}`,
		`{"devices": [{"name": "a", "host": "h", "device_type": "IOS_XE"}, {"name": "a", "host": "h", "device_type": "IOS_XE"}]}`,
		`{"devices": [{"name": "a", "host": "h", "device_type": "JUNOS"}]}`,
		`{"devices": [{"name": "a", "device_type": "IOS_XE"}]}`,
		`{"devices": [{"name": "a", "host": "h", "device_type": "IOS_XE", "password": "x"}]}`,
	} {
		if _, err := ParseSSHInventory([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in    string
		max   int
		out   string
		lines int
		cut   bool
	}{
		{"", 5, "", 0, false},
		{"a\r\nb\r\n", 5, "a\nb\n", 2, false},
		{"a\nb\nc\nd\n", 2, "a\nb\n", 4, true},
		{"a\nb", 2, "a\nb\n", 2, false},
	} {
		out, lines, cut := truncate(c.in, c.max)
		if out != c.out || lines != c.lines || cut != c.cut {
			t.Errorf("truncate(%q, %d) = %q, %d, %v", c.in, c.max, out, lines, cut)
		}
	}
}

func TestPrompts(t *testing.T) {
	for typ, cases := range map[string]map[string]bool{
		"IOS_XE": {"\nlon-b1-core-01#": true, "\nlon-b1-core-01>": true, "\nlon-b1-core-01(config)#": true, "\nshow version": false,
			"\nlon-b1-core-01# ": true, "Building configuration...\n": false},
		"IOS_XR": {"\nRP/0/RSP0/CPU0:sjc-b-pe-01#": true, "\nRP/0/RP0/CPU0:pe2#": true, "\nsjc-b-pe-01#": false},
	} {
		for in, want := range cases {
			if got := promptFor(typ).MatchString(in); got != want {
				t.Errorf("%s prompt %q: %v", typ, in, got)
			}
		}
	}
}
