package radkit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

// Secrets of the SSH backend.
const (
	// CredentialsSecretPrefix + a device's credentials set ("default" when the inventory names
	// none) is the secret with its login: username, and password and/or private_key (PEM, with
	// passphrase when it is encrypted).
	CredentialsSecretPrefix = "radkit-ssh/"
	// KnownHostsField is the field of the secret "radkit" with known_hosts content, read when
	// no known_hosts file is configured.
	KnownHostsField = "known_hosts"
)

// SSHDevice is one device of the SSH backend's inventory.
type SSHDevice struct {
	Device
	// Address is host:port to dial (default Host:22).
	Address string `json:"address,omitempty"`
	// Credentials names the credentials set (secret radkit-ssh/<Credentials>); devices of a
	// group share one, a device with its own set has its own.
	Credentials string `json:"credentials,omitempty"`
}

// ParseSSHInventory reads the SSH backend's inventory file: {"devices": [{name, host,
// address, device_type, platform, site, labels, description, credentials, attributes}]}.
func ParseSSHInventory(b []byte) ([]SSHDevice, error) {
	var f struct {
		Devices []SSHDevice `json:"devices"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	seen := map[string]bool{}
	for i, d := range f.Devices {
		switch {
		case d.Name == "":
			return nil, fmt.Errorf("inventory: device %d has no name", i+1)
		case seen[d.Name]:
			return nil, fmt.Errorf("inventory: device %q is listed twice", d.Name)
		case d.Type != "IOS_XE" && d.Type != "NXOS" && d.Type != "IOS_XR":
			return nil, fmt.Errorf("inventory: device %q: device_type must be IOS_XE, NXOS or IOS_XR, got %q", d.Name, d.Type)
		case d.Address == "" && d.Host == "":
			return nil, fmt.Errorf("inventory: device %q has neither address nor host", d.Name)
		}
		seen[d.Name] = true
		if d.Address == "" {
			f.Devices[i].Address = net.JoinHostPort(d.Host, "22")
		}
	}
	return f.Devices, nil
}

// SSHOptions configure the SSH backend.
type SSHOptions struct {
	Devices []SSHDevice
	Secrets kit.SecretSource
	// KnownHosts is known_hosts content (from a file). When empty, the secret "radkit", field
	// known_hosts, is read for every new connection, so a re-pinned key takes effect without a
	// restart.
	KnownHosts string
	// PerDevice bounds the connections to one device (default DefaultPerDevice).
	PerDevice int
	// DialTimeout bounds connecting, logging in and getting the first prompt (default 10s).
	DialTimeout time.Duration
	// IdleTimeout closes a pooled connection unused for this long (default 90s).
	IdleTimeout time.Duration
	Log         zerolog.Logger
}

// SSH is a DeviceAccess that logs in to the devices over SSH (golang.org/x/crypto/ssh). It
// keeps up to PerDevice interactive sessions per device and reuses them; every session starts
// with "terminal length 0" and finds the device's prompt (IOS-XE and NX-OS hostname#, IOS-XR
// RP/0/RSP0/CPU0:hostname#); a host key that is not pinned, or that changed, is refused.
type SSH struct {
	opts    SSHOptions
	devices map[string]SSHDevice
	order   []string
	pinned  *knownHosts // when KnownHosts is set

	mu    sync.Mutex
	pools map[string]*pool
	stop  chan struct{}
	once  sync.Once
}

type pool struct {
	slots chan struct{}
	mu    sync.Mutex
	idle  []*session
}

// NewSSH returns the SSH backend. Close it to close its connections.
func NewSSH(o SSHOptions) (*SSH, error) {
	o.PerDevice = cmp.Or(o.PerDevice, DefaultPerDevice)
	o.DialTimeout = cmp.Or(o.DialTimeout, 10*time.Second)
	o.IdleTimeout = cmp.Or(o.IdleTimeout, 90*time.Second)
	s := &SSH{opts: o, devices: map[string]SSHDevice{}, pools: map[string]*pool{}, stop: make(chan struct{})}
	for _, d := range o.Devices {
		if _, dup := s.devices[d.Name]; dup {
			return nil, fmt.Errorf("device %q is listed twice", d.Name)
		}
		if d.Address == "" {
			d.Address = net.JoinHostPort(d.Host, "22")
		}
		s.devices[d.Name] = d
		s.order = append(s.order, d.Name)
	}
	if o.KnownHosts != "" {
		k, err := parseKnownHosts(o.KnownHosts)
		if err != nil {
			return nil, err
		}
		s.pinned = k
	}
	go s.janitor()
	return s, nil
}

// Close closes every pooled connection; sessions in use close when their call ends.
func (s *SSH) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		p.mu.Lock()
		for _, c := range p.idle {
			c.close()
		}
		p.idle = nil
		p.mu.Unlock()
	}
	return nil
}

func (s *SSH) janitor() {
	t := time.NewTicker(max(s.opts.IdleTimeout/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		pools := make([]*pool, 0, len(s.pools))
		for _, p := range s.pools {
			pools = append(pools, p)
		}
		s.mu.Unlock()
		for _, p := range pools {
			p.mu.Lock()
			keep := p.idle[:0]
			for _, c := range p.idle {
				if c.dead() || time.Since(c.lastUsed) > s.opts.IdleTimeout {
					c.close()
					continue
				}
				keep = append(keep, c)
			}
			p.idle = keep
			p.mu.Unlock()
		}
	}
}

// Ready checks that known_hosts can be read.
func (s *SSH) Ready(ctx context.Context) error {
	_, err := s.knownHosts(ctx)
	return err
}

// Devices implements DeviceAccess.
func (s *SSH) Devices(_ context.Context, f Filter) ([]Device, error) {
	out := []Device{}
	for _, name := range s.order {
		d := s.devices[name].Device
		d.Attributes = nil
		if f.Match(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Device implements DeviceAccess.
func (s *SSH) Device(_ context.Context, name string) (Device, error) {
	d, ok := s.devices[name]
	if !ok {
		return Device{}, fmt.Errorf("%w: %q", ErrUnknownDevice, name)
	}
	dev := d.Device
	attrs := map[string]string{"access": "ssh", "address": d.Address, "credentials": cmp.Or(d.Credentials, "default")}
	for k, v := range d.Attributes {
		attrs[k] = v
	}
	dev.Attributes = attrs
	return dev, nil
}

func (s *SSH) pool(name string) *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pools[name]
	if !ok {
		p = &pool{slots: make(chan struct{}, s.opts.PerDevice)}
		s.pools[name] = p
	}
	return p
}

// Exec implements DeviceAccess.
func (s *SSH) Exec(ctx context.Context, name string, req ExecRequest) ([]CommandResult, error) {
	for _, c := range req.Commands {
		if n, err := devicecmd.Check(c); err != nil || n != c {
			return nil, fmt.Errorf("refusing to send %q to %s: %v", c, name, err)
		}
	}
	d, ok := s.devices[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDevice, name)
	}
	p := s.pool(name)
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for one of the %d SSH sessions to %s: %w", s.opts.PerDevice, name, ctx.Err())
	}
	defer func() { <-p.slots }()

	var sess *session
	defer func() {
		if sess != nil {
			s.putBack(p, sess)
		}
	}()
	out := make([]CommandResult, 0, len(req.Commands))
	retried := false
	for i := 0; i < len(req.Commands); i++ {
		cmd := req.Commands[i]
		if sess == nil {
			var err error
			if sess, err = s.get(ctx, p, d); err != nil {
				if i == 0 {
					return nil, err
				}
				out = append(out, notRun(req.Commands[i:], err)...)
				return out, nil
			}
		}
		r, err := sess.run(ctx, cmd, req.Timeout, req.MaxLines)
		switch {
		case errors.Is(err, errSessionLost) && !retried:
			// The device closed the session (a stale pooled connection, a vty reset): a show
			// command can be sent again on a fresh one.
			retried = true
			sess.close()
			sess = nil
			i--
			continue
		case errors.Is(err, errSessionLost):
			sess.close()
			sess = nil
			r = CommandResult{Command: cmd, Status: StatusFailed,
				Error: fmt.Sprintf("%s closed the SSH session while running %q, twice", name, cmd)}
		case err != nil: // timeout or the call's deadline: the session's state is unknown
			sess.close()
			sess = nil
		}
		out = append(out, r)
		if ctx.Err() != nil {
			out = append(out, notRun(req.Commands[i+1:], ctx.Err())...)
			return out, nil
		}
	}
	return out, nil
}

func notRun(cmds []string, why error) []CommandResult {
	out := make([]CommandResult, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, CommandResult{Command: c, Status: StatusNotRun, Error: "not run: " + why.Error()})
	}
	return out
}

// get takes an idle session of the pool or opens one.
func (s *SSH) get(ctx context.Context, p *pool, d SSHDevice) (*session, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.dead() || time.Since(c.lastUsed) > s.opts.IdleTimeout {
			c.close()
			continue
		}
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return s.dial(ctx, d)
}

func (s *SSH) putBack(p *pool, c *session) {
	if c.dead() {
		c.close()
		return
	}
	c.lastUsed = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-s.stop:
		c.close()
	default:
		p.idle = append(p.idle, c)
	}
}

func (s *SSH) knownHosts(ctx context.Context) (*knownHosts, error) {
	if s.pinned != nil {
		return s.pinned, nil
	}
	sec, err := s.opts.Secrets.Get(ctx, ServerName)
	if err != nil {
		return nil, fmt.Errorf("known_hosts (secret %s, field %s): %w", ServerName, KnownHostsField, err)
	}
	content, err := sec.Field(KnownHostsField)
	if err != nil {
		return nil, fmt.Errorf("known_hosts (secret %s): %w", ServerName, err)
	}
	return parseKnownHosts(content)
}

// auth reads a device's credentials set.
func (s *SSH) auth(ctx context.Context, d SSHDevice) (string, []ssh.AuthMethod, string, error) {
	name := CredentialsSecretPrefix + cmp.Or(d.Credentials, "default")
	sec, err := s.opts.Secrets.Get(ctx, name)
	if err != nil {
		return "", nil, name, fmt.Errorf("credentials for %s (secret %s): %w", d.Name, name, err)
	}
	user, err := sec.Field("username")
	if err != nil {
		return "", nil, name, fmt.Errorf("credentials for %s (secret %s): %w", d.Name, name, err)
	}
	var methods []ssh.AuthMethod
	if pem := sec["private_key"]; pem != "" {
		var signer ssh.Signer
		if pp := sec["passphrase"]; pp != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(pem), []byte(pp))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(pem))
		}
		if err != nil {
			return "", nil, name, fmt.Errorf("credentials for %s (secret %s): private_key: %w", d.Name, name, err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if pw := sec["password"]; pw != "" {
		methods = append(methods, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			ans := make([]string, len(qs))
			for i := range qs {
				ans[i] = pw
			}
			return ans, nil
		}))
	}
	if len(methods) == 0 {
		return "", nil, name, fmt.Errorf("credentials for %s (secret %s): neither password nor private_key", d.Name, name)
	}
	return user, methods, name, nil
}

// dial connects, logs in, opens a shell, finds the prompt and turns paging off.
func (s *SSH) dial(ctx context.Context, d SSHDevice) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	kh, err := s.knownHosts(ctx)
	if err != nil {
		return nil, err
	}
	user, methods, secretName, err := s.auth(ctx, d)
	if err != nil {
		return nil, err
	}
	cb, algos := kh.pin(d.Name, d.Address)
	cfg := &ssh.ClientConfig{User: user, Auth: methods, HostKeyCallback: cb, HostKeyAlgorithms: algos, Timeout: s.opts.DialTimeout}
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.Address)
	if err != nil {
		return nil, fmt.Errorf("%s is unreachable at %s: %v", d.Name, d.Address, err)
	}
	dl, _ := ctx.Deadline()
	_ = nc.SetDeadline(dl)
	cc, chans, reqs, err := ssh.NewClientConn(nc, d.Address, cfg)
	if err != nil {
		nc.Close()
		var herr *HostKeyError
		switch {
		case errors.As(err, &herr):
			return nil, herr
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("%s refused the login of user %q (credentials from secret %s)", d.Name, user, secretName)
		}
		return nil, fmt.Errorf("SSH to %s at %s failed: %v", d.Name, d.Address, err)
	}
	_ = nc.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	sess, err := newSession(ctx, client, d)
	if err != nil {
		client.Close()
		return nil, err
	}
	s.opts.Log.Debug().Str("gatehouse.device", d.Name).Str("gatehouse.prompt", sess.prompt).Msg("SSH session opened")
	return sess, nil
}

// Prompts: IOS-XE and NX-OS show hostname# (hostname> before enable), IOS-XR
// RP/0/RSP0/CPU0:hostname#. A prompt in configuration mode, hostname(config)#, is refused.
var (
	promptIOS = regexp.MustCompile(`(?:^|\n)([A-Za-z0-9][A-Za-z0-9._-]{0,62}(?:\([a-z0-9-]+\))?[>#]) ?$`)
	promptXR  = regexp.MustCompile(`(?:^|\n)((?:RP|LC)/\d+/(?:RS?P)?\d+/CPU\d+:[A-Za-z0-9._-]{1,63}(?:\([a-z0-9-]+\))?[>#]) ?$`)
)

func promptFor(typ string) *regexp.Regexp {
	if typ == "IOS_XR" {
		return promptXR
	}
	return promptIOS
}

var errSessionLost = errors.New("the device closed the session")

// session is one interactive CLI session on one device.
type session struct {
	device   string
	client   *ssh.Client
	sess     *ssh.Session
	stdin    io.Writer
	out      chan []byte
	prompt   string
	lastUsed time.Time
	done     chan struct{}
	closed   sync.Once
	gone     atomic.Bool
}

func newSession(ctx context.Context, client *ssh.Client, d SSHDevice) (*session, error) {
	ss, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("SSH session to %s: %v", d.Name, err)
	}
	// A wide terminal keeps long commands on one echo line.
	if err := ss.RequestPty("vt100", 200, 511, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		return nil, fmt.Errorf("SSH terminal on %s: %v", d.Name, err)
	}
	stdin, err := ss.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := ss.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := ss.Shell(); err != nil {
		return nil, fmt.Errorf("SSH shell on %s: %v", d.Name, err)
	}
	c := &session{device: d.Name, client: client, sess: ss, stdin: stdin, out: make(chan []byte, 64), done: make(chan struct{})}
	go c.pump(stdout)
	// The first prompt, then paging off (the prompt after it is the one to wait for).
	buf, _, _, err := c.readUntil(ctx, func(b string) bool { return promptFor(d.Type).MatchString(b) }, 64<<10)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("no %s CLI prompt from %s in time: %v", d.Type, d.Name, err)
	}
	m := promptFor(d.Type).FindStringSubmatch(buf[max(len(buf)-1024, 0):])
	c.prompt = m[1]
	if strings.Contains(c.prompt, "(") {
		c.close()
		return nil, fmt.Errorf("%s is in a configuration mode (prompt %q); refusing to send it commands", d.Name, c.prompt)
	}
	if _, err := io.WriteString(c.stdin, "terminal length 0\n"); err != nil {
		c.close()
		return nil, fmt.Errorf("SSH to %s: %v", d.Name, err)
	}
	if _, _, _, err := c.readUntil(ctx, c.atPrompt, 64<<10); err != nil {
		c.close()
		return nil, fmt.Errorf("%s did not accept terminal length 0: %v", d.Name, err)
	}
	return c, nil
}

func (c *session) pump(r io.Reader) {
	defer close(c.out)
	defer c.gone.Store(true)
	for {
		b := make([]byte, 32<<10)
		n, err := r.Read(b)
		if n > 0 {
			select {
			case c.out <- b[:n]:
			case <-c.done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// dead reports whether the session is closed or the device has closed the connection.
func (c *session) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return c.gone.Load()
	}
}

func (c *session) close() {
	c.closed.Do(func() {
		close(c.done)
		_ = c.sess.Close()
		_ = c.client.Close()
	})
}

func (c *session) atPrompt(b string) bool {
	return strings.HasSuffix(b, "\n"+c.prompt) || strings.HasSuffix(b, "\n"+c.prompt+" ") || b == c.prompt
}

// readUntil collects output until done says it is complete (done sees the last KiB). It keeps
// the first limit bytes; lines counts every line received, kept or not.
func (c *session) readUntil(ctx context.Context, done func(string) bool, limit int) (text string, lines int, capped bool, err error) {
	var head strings.Builder
	tail := ""
	for {
		select {
		case b, ok := <-c.out:
			if !ok {
				return head.String(), lines, capped, errSessionLost
			}
			s := strings.ReplaceAll(string(b), "\r", "")
			lines += strings.Count(s, "\n")
			if room := limit - head.Len(); room >= len(s) {
				head.WriteString(s)
			} else {
				head.WriteString(s[:max(room, 0)])
				capped = true
			}
			tail += s
			if len(tail) > 1024 {
				tail = tail[len(tail)-1024:]
			}
			if strings.HasSuffix(tail, "--More-- ") {
				// Paging was not turned off after all: ask for the rest.
				_, _ = io.WriteString(c.stdin, " ")
				continue
			}
			if done(tail) {
				return head.String(), lines, capped, nil
			}
		case <-ctx.Done():
			return head.String(), lines, capped, ctx.Err()
		}
	}
}

// drain drops output that arrived while the session was idle (log messages on the terminal).
func (c *session) drain() error {
	for {
		select {
		case _, ok := <-c.out:
			if !ok {
				return errSessionLost
			}
		default:
			return nil
		}
	}
}

// run sends one command and reads its output up to the prompt.
func (c *session) run(ctx context.Context, cmd string, timeout time.Duration, maxLines int) (CommandResult, error) {
	r := CommandResult{Command: cmd}
	if err := c.drain(); err != nil {
		return r, err
	}
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return r, errSessionLost
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	buf, lines, capped, err := c.readUntil(cctx, c.atPrompt, maxOutputBytes)
	out := buf
	if err == nil && !capped {
		out = strings.TrimSuffix(strings.TrimSuffix(buf, c.prompt+" "), c.prompt)
	}
	// The first line is the device echoing the command.
	if first, rest, ok := strings.Cut(out, "\n"); ok && strings.TrimSpace(first) == cmd {
		out, lines = rest, lines-1
	} else if !ok && strings.TrimSpace(out) == cmd {
		out = ""
	}
	r.Output, r.Lines, r.Truncated = truncate(out, maxLines)
	if capped {
		r.Truncated, r.Lines = true, max(lines, r.Lines)
	}
	switch {
	case errors.Is(err, errSessionLost):
		return r, errSessionLost
	case err != nil && ctx.Err() != nil:
		r.Status = StatusTimeout
		r.Error = fmt.Sprintf("the call's time ran out after %s while %s was still answering", time.Since(start).Round(time.Millisecond), c.device)
		return r, err
	case err != nil:
		r.Status = StatusTimeout
		r.Error = fmt.Sprintf("no prompt from %s within %s; the output so far is shown and the session was closed", c.device, timeout)
		return r, err
	}
	r.Status = StatusOK
	return r, nil
}
