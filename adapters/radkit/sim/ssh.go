package sim

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

// Development credentials of the simulated devices, by credentials group: campus and
// datacenter devices accept DefaultUsername/DefaultPassword, wan devices WANUsername/WANPassword.
const (
	DefaultUsername = "gatehouse"
	DefaultPassword = "gatehouse-ssh-dev"
	WANUsername     = "netops-wan"
	WANPassword     = "gatehouse-wan-dev"
)

// Credential is a username and password a device accepts.
type Credential struct{ Username, Password string }

// DefaultCredentials are the credentials per device group of Seed and Synthetic devices.
func DefaultCredentials() map[string]Credential {
	return map[string]Credential{
		"campus":     {DefaultUsername, DefaultPassword},
		"datacenter": {DefaultUsername, DefaultPassword},
		"wan":        {WANUsername, WANPassword},
	}
}

// SSHOptions configure an SSHServer.
type SSHOptions struct {
	// Credentials per device group (default DefaultCredentials).
	Credentials map[string]Credential
	// Now is the devices' clock (default time.Now).
	Now func() time.Time
}

// SSHServer emulates the devices' SSH command lines, one listener per device on 127.0.0.1,
// each with its own ed25519 host key (derived from the device name, so known_hosts content is
// stable across runs). A session with a shell gets the device's prompt (hostname# on IOS-XE and
// NX-OS, RP/0/RSP0/CPU0:hostname# on IOS-XR), echoes each command line, prints its output and
// the prompt again; output longer than a screen stops at --More-- until "terminal length 0".
// Test controls: SetDelay (a slow device), DropNext and DropAlways (the device closes the
// connection when a command arrives), WrongHostKey (the device presents another key).
// Unreachable devices refuse connections.
type SSHServer struct {
	opts  SSHOptions
	net   *network
	devs  map[string]*sshDevice
	order []string
}

type sshDevice struct {
	dev    *Device
	srv    *gliderssh.Server
	addr   string
	key    gossh.Signer
	wrong  gossh.Signer
	signer *switchSigner

	mu        sync.Mutex
	delay     time.Duration
	dropNext  int
	dropAll   bool
	active    int
	maxActive int
	dials     int
	commands  []string
}

// HostKeySigner derives a device's host key from its name (stable known_hosts entries).
func HostKeySigner(name string) gossh.Signer {
	return seededSigner("gatehouse-radkit-sim:" + name)
}

func seededSigner(seed string) gossh.Signer {
	sum := sha256.Sum256([]byte(seed))
	s, err := gossh.NewSignerFromKey(ed25519.NewKeyFromSeed(sum[:]))
	if err != nil {
		panic(err)
	}
	return s
}

// switchSigner is a host key that a test can swap between connections.
type switchSigner struct {
	mu  sync.Mutex
	cur gossh.Signer
}

func (s *switchSigner) get() gossh.Signer { s.mu.Lock(); defer s.mu.Unlock(); return s.cur }
func (s *switchSigner) set(k gossh.Signer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = k
}
func (s *switchSigner) PublicKey() gossh.PublicKey { return s.get().PublicKey() }
func (s *switchSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return s.get().Sign(r, data)
}

// NewSSHServer starts listeners for devices. Close stops them.
func NewSSHServer(devices []Device, opts SSHOptions) (*SSHServer, error) {
	if opts.Credentials == nil {
		opts.Credentials = DefaultCredentials()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &SSHServer{opts: opts, net: newNetwork(append([]Device(nil), devices...)), devs: map[string]*sshDevice{}}
	for _, d := range s.net.devices {
		sd := &sshDevice{dev: d, key: HostKeySigner(d.Name), wrong: seededSigner("gatehouse-radkit-sim:impostor:" + d.Name)}
		sd.signer = &switchSigner{cur: sd.key}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, err
		}
		sd.addr = l.Addr().String()
		s.devs[d.Name] = sd
		s.order = append(s.order, d.Name)
		if d.Unreachable {
			l.Close() // connections to this address are refused
			continue
		}
		sd.srv = &gliderssh.Server{
			Handler:     func(sess gliderssh.Session) { s.session(sd, sess) },
			HostSigners: []gliderssh.Signer{sd.signer},
			Version:     "Cisco-1.25",
			PasswordHandler: func(ctx gliderssh.Context, pw string) bool {
				return s.accepts(d, ctx.User(), pw)
			},
			KeyboardInteractiveHandler: func(ctx gliderssh.Context, ch gossh.KeyboardInteractiveChallenge) bool {
				ans, err := ch(ctx.User(), "", []string{"Password: "}, []bool{false})
				return err == nil && len(ans) == 1 && s.accepts(d, ctx.User(), ans[0])
			},
			ConnCallback: func(_ gliderssh.Context, c net.Conn) net.Conn { return sd.track(c) },
		}
		go func() { _ = sd.srv.Serve(l) }()
	}
	return s, nil
}

func (s *SSHServer) accepts(d *Device, user, pw string) bool {
	c, ok := s.opts.Credentials[d.Group]
	return ok && user == c.Username && pw == c.Password
}

// Close stops every listener and closes every connection.
func (s *SSHServer) Close() error {
	for _, d := range s.devs {
		if d.srv != nil {
			_ = d.srv.Close()
		}
	}
	return nil
}

func (s *SSHServer) dev(name string) *sshDevice {
	d, ok := s.devs[name]
	if !ok {
		panic("sim: no device " + name)
	}
	return d
}

// Addr is the host:port a device listens on.
func (s *SSHServer) Addr(name string) string { return s.dev(name).addr }

// HostKey is the key a device presents (unless WrongHostKey).
func (s *SSHServer) HostKey(name string) gossh.PublicKey { return s.dev(name).key.PublicKey() }

// KnownHosts is an OpenSSH known_hosts file pinning every device's key under its name and its
// address.
func (s *SSHServer) KnownHosts() string {
	var b strings.Builder
	for _, name := range s.order {
		d := s.devs[name]
		host, port, _ := net.SplitHostPort(d.addr)
		fmt.Fprintf(&b, "%s,[%s]:%s %s", name, host, port, gossh.MarshalAuthorizedKey(d.key.PublicKey()))
	}
	return b.String()
}

// InventoryEntry is one device of the SSH backend's inventory file (adapters/radkit README).
type InventoryEntry struct {
	Name        string   `json:"name"`
	Host        string   `json:"host"`
	Address     string   `json:"address"`
	DeviceType  string   `json:"device_type"`
	Platform    string   `json:"platform,omitempty"`
	Site        string   `json:"site,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	Description string   `json:"description,omitempty"`
	Credentials string   `json:"credentials"`
}

// Inventory is the SSH backend's inventory for these devices: names, types and sites as the
// bridge shows them, with the emulator's addresses and the devices' credential groups.
func (s *SSHServer) Inventory() []InventoryEntry {
	out := make([]InventoryEntry, 0, len(s.order))
	for _, name := range s.order {
		d := s.devs[name]
		out = append(out, InventoryEntry{Name: name, Host: d.dev.Host, Address: d.addr, DeviceType: d.dev.Type,
			Platform: d.dev.Platform, Site: d.dev.Site, Labels: slices.Clone(d.dev.Labels), Description: d.dev.Series,
			Credentials: d.dev.Group})
	}
	return out
}

// InventoryJSON is Inventory as the inventory file: {"devices": [...]}.
func (s *SSHServer) InventoryJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"devices": s.Inventory()}, "", "  ")
	return b
}

// SetDelay makes every command on a device take d before its output comes (not the terminal
// setup a session starts with: a slow device is slow to answer, not to log in).
func (s *SSHServer) SetDelay(name string, d time.Duration) {
	sd := s.dev(name)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.delay = d
}

// DropNext makes the device close the connection when each of its next n commands arrives.
func (s *SSHServer) DropNext(name string, n int) {
	sd := s.dev(name)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.dropNext = n
}

// DropAlways makes the device close every connection as soon as a command arrives.
func (s *SSHServer) DropAlways(name string, on bool) {
	sd := s.dev(name)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.dropAll = on
}

// WrongHostKey makes the device present another host key to new connections (a replaced
// device, or someone in the middle).
func (s *SSHServer) WrongHostKey(name string, on bool) {
	sd := s.dev(name)
	if on {
		sd.signer.set(sd.wrong)
	} else {
		sd.signer.set(sd.key)
	}
}

// Connections reports how many TCP connections a device accepted in all and the most it had
// open at once.
func (s *SSHServer) Connections(name string) (total, maxConcurrent int) {
	sd := s.dev(name)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.dials, sd.maxActive
}

// Commands lists the command lines a device received, in order.
func (s *SSHServer) Commands(name string) []string {
	sd := s.dev(name)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return slices.Clone(sd.commands)
}

type trackedConn struct {
	net.Conn
	once sync.Once
	d    *sshDevice
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.active--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

func (d *sshDevice) track(c net.Conn) net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials++
	d.active++
	d.maxActive = max(d.maxActive, d.active)
	return &trackedConn{Conn: c, d: d}
}

func (s *SSHServer) prompt(d *Device) string {
	if d.Type == IOSXR {
		return "RP/0/RSP0/CPU0:" + d.Name + "#"
	}
	return d.Name + "#"
}

// pageLines is how many lines fit a screen before --More--.
const pageLines = 23

// session runs one shell (or exec) session.
func (s *SSHServer) session(sd *sshDevice, sess gliderssh.Session) {
	d := sd.dev
	if raw := sess.RawCommand(); raw != "" {
		if sd.record(raw, false) {
			drop(sess)
			return
		}
		_, _ = io.WriteString(sess, crlf(s.net.run(d, raw, s.opts.Now())))
		return
	}
	prompt := s.prompt(d)
	paging := true
	w := bufio.NewWriter(sess)
	write := func(str string) bool {
		_, _ = w.WriteString(str)
		return w.Flush() == nil
	}
	if !write("\r\n" + prompt) {
		return
	}
	r := &lineReader{r: bufio.NewReader(sess)}
	for {
		line, err := r.line()
		if err != nil {
			return
		}
		n, _ := devicecmd.Normalise(strings.TrimSpace(line))
		setup := n == "terminal length 0"
		if sd.record(line, setup) {
			drop(sess)
			return
		}
		if !write(line + "\r\n") {
			return
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			write(prompt)
			continue
		case n == "exit" || n == "logout" || trimmed == "quit":
			return
		case setup:
			paging = false
		}
		sd.mu.Lock()
		delay := sd.delay
		sd.mu.Unlock()
		if setup {
			delay = 0 // slow devices are slow to answer commands, not to set up the terminal
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-sess.Context().Done():
				return
			}
		}
		out := strings.Split(strings.TrimSuffix(s.net.run(d, trimmed, s.opts.Now()), "\n"), "\n")
		if len(out) == 1 && out[0] == "" {
			out = nil
		}
		for len(out) > 0 {
			if !paging || len(out) <= pageLines {
				write(strings.Join(out, "\r\n") + "\r\n")
				break
			}
			write(strings.Join(out[:pageLines], "\r\n") + "\r\n --More-- ")
			out = out[pageLines:]
			key, err := r.ReadByte()
			if err != nil {
				return
			}
			write("\r          \r")
			if key == 'q' || key == 'Q' {
				out = nil
			}
		}
		if !write(prompt) {
			return
		}
	}
}

// record logs a command line and says whether the device drops the connection on it (never
// on the terminal setup a session starts with).
func (sd *sshDevice) record(line string, setup bool) bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.commands = append(sd.commands, line)
	if setup || strings.TrimSpace(line) == "" {
		return false
	}
	if sd.dropAll {
		return true
	}
	if sd.dropNext > 0 {
		sd.dropNext--
		return true
	}
	return false
}

// drop closes the whole SSH connection at once, as a device that reloads or loses its vty.
func drop(sess gliderssh.Session) {
	if c, ok := sess.Context().Value(gliderssh.ContextKeyConn).(*gossh.ServerConn); ok {
		_ = c.Close()
	}
}

// lineReader reads command lines ended by \r, \n or \r\n.
type lineReader struct {
	r      *bufio.Reader
	lastCR bool
}

func (l *lineReader) ReadByte() (byte, error) { return l.r.ReadByte() }

func (l *lineReader) line() (string, error) {
	var b strings.Builder
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' && l.lastCR && b.Len() == 0 {
			l.lastCR = false
			continue
		}
		l.lastCR = c == '\r'
		if c == '\n' || c == '\r' {
			return b.String(), nil
		}
		b.WriteByte(c)
		if b.Len() > 4096 {
			return "", errors.New("line too long")
		}
	}
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
