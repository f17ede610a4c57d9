package radkit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a device whose SSH host key is not the pinned one. The adapter never
// connects to such a device: a replaced device is re-pinned by a person, after checking the
// new key out of band.
type HostKeyError struct {
	Device  string
	Address string
	Kind    string // unknown, changed or revoked
	Offered string // type and SHA256 fingerprint of the key the device offered
	Pinned  []string
}

func (e *HostKeyError) Error() string {
	switch e.Kind {
	case "changed":
		return fmt.Sprintf("the SSH host key of %s (%s) has CHANGED: known_hosts pins %s, the device offered %s. "+
			"Refusing to connect: this is a replaced device or someone in the middle. Update known_hosts only after "+
			"checking the new key on the device's console", e.Device, e.Address, strings.Join(e.Pinned, ", "), e.Offered)
	case "revoked":
		return fmt.Sprintf("the SSH host key of %s (%s), %s, is marked @revoked in known_hosts; refusing to connect",
			e.Device, e.Address, e.Offered)
	}
	return fmt.Sprintf("the SSH host key of %s (%s) is not pinned: the device offered %s and known_hosts has no key for %s. "+
		"Refusing to connect; add the key to known_hosts after checking it on the device's console (show crypto key "+
		"mypubkey rsa, or the fingerprint at first login)", e.Device, e.Address, e.Offered, e.Device)
}

// knownHosts is a parsed OpenSSH known_hosts file: plain, wildcard (*, ?), negated (!) and
// hashed (|1|) host patterns, and the @revoked marker. @cert-authority lines are ignored
// (devices do not present host certificates).
type knownHosts struct {
	entries []khEntry
}

type khEntry struct {
	marker   string
	patterns []string
	key      ssh.PublicKey
}

func parseKnownHosts(content string) (*knownHosts, error) {
	k := &knownHosts{}
	rest := []byte(content)
	for len(bytes.TrimSpace(rest)) > 0 {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		rest = next
		if marker == "cert-authority" {
			continue
		}
		k.entries = append(k.entries, khEntry{marker: marker, patterns: hosts, key: key})
	}
	return k, nil
}

// matches reports whether an entry's patterns select any of the host names.
func (e khEntry) matches(names []string) bool {
	hit := false
	for _, p := range e.patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		for _, n := range names {
			if hostMatch(p, n) {
				if neg {
					return false
				}
				hit = true
			}
		}
	}
	return hit
}

func hostMatch(pattern, name string) bool {
	if strings.HasPrefix(pattern, "|1|") {
		parts := strings.Split(pattern[3:], "|")
		if len(parts) != 2 {
			return false
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[0])
		want, err2 := base64.StdEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(name))
		return hmac.Equal(mac.Sum(nil), want)
	}
	return wildcard(strings.ToLower(pattern), strings.ToLower(name))
}

// wildcard matches * (any run) and ? (one character); nothing else is special, so [host]:port
// patterns match literally.
func wildcard(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildcard(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

func describeKey(k ssh.PublicKey) string { return k.Type() + " " + ssh.FingerprintSHA256(k) }

// hostKeyAlgorithms are the algorithms to ask a device for, given its pinned keys, so that it
// presents a pinned key rather than another of its keys.
func hostKeyAlgorithms(keys []ssh.PublicKey) []string {
	var out []string
	add := func(a ...string) {
		for _, x := range a {
			if !containsString(out, x) {
				out = append(out, x)
			}
		}
	}
	for _, k := range keys {
		if k.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			continue
		}
		add(k.Type())
	}
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// pin returns the host key callback for one device and the algorithms to offer. The device is
// looked up under its inventory name and under the address dialled ([host]:port, or host
// for port 22).
func (k *knownHosts) pin(device, addr string) (ssh.HostKeyCallback, []string) {
	names := []string{device, knownhosts.Normalize(addr)}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		names = append(names, h)
	}
	var pinned, revoked []ssh.PublicKey
	for _, e := range k.entries {
		if !e.matches(names) {
			continue
		}
		if e.marker == "revoked" {
			revoked = append(revoked, e.key)
		} else {
			pinned = append(pinned, e.key)
		}
	}
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		herr := &HostKeyError{Device: device, Address: addr, Offered: describeKey(key)}
		for _, r := range revoked {
			if bytes.Equal(r.Marshal(), key.Marshal()) {
				herr.Kind = "revoked"
				return herr
			}
		}
		for _, p := range pinned {
			if bytes.Equal(p.Marshal(), key.Marshal()) {
				return nil
			}
		}
		herr.Kind = "unknown"
		if len(pinned) > 0 {
			herr.Kind = "changed"
			for _, p := range pinned {
				herr.Pinned = append(herr.Pinned, describeKey(p))
			}
		}
		return herr
	}
	return cb, hostKeyAlgorithms(pinned)
}
