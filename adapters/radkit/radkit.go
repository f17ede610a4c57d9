// Package radkit is the Gatehouse adapter for network devices reached through Cisco RADKit:
// MCP tools that list the inventory, read device attributes, run show commands on many devices
// at once (parsing the well-known ones into JSON), ping and traceroute from a device, and
// collect a diagnostic bundle.
//
// Devices are reached through a DeviceAccess, with two implementations: Bridge speaks the HTTP
// contract of a RADKit bridge (docs/radkit-bridge.md; RADKit's client is a Python SDK, and
// tools/radkit-bridge is a reference bridge on it), and SSH connects to the devices directly
// with credentials from the kit's SecretSource and pinned host keys.
//
// Which commands a caller may run is the policy's decision (policies/commands.rego), made on
// the call's arguments before the adapter sees it. The adapter keeps a hard floor of its own
// (package cli): only show, ping and traceroute, never configuration, reload, write and the
// like, no chaining, no line breaks; it is applied before any device is contacted.
package radkit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// ServerName is the adapter's name in gatehouse.yaml and the secret it reads.
const ServerName = "radkit"

// DeviceAccess reaches devices. Implementations are safe for concurrent use and bound how many
// sessions each device gets at once.
type DeviceAccess interface {
	// Devices lists the inventory, filtered.
	Devices(ctx context.Context, f Filter) ([]Device, error)
	// Device returns one device with its attributes, or an error wrapping ErrUnknownDevice.
	Device(ctx context.Context, name string) (Device, error)
	// Exec runs commands on one device, in order. Each command is in normal form and has
	// passed the floor (implementations check again); each gets req.Timeout, and its output is
	// cut after req.MaxLines lines. An error means nothing could run (an unknown or unreachable
	// device, refused credentials or host key); a command that failed on its own has a result
	// with its status.
	Exec(ctx context.Context, device string, req ExecRequest) ([]CommandResult, error)
}

// Filter selects devices: Name is a case-insensitive substring of the name; Type (IOS_XE,
// NXOS, IOS_XR), Site and Label must match exactly (case-insensitive). Empty fields match all.
type Filter struct {
	Name, Type, Site, Label string
}

// Match reports whether d passes the filter.
func (f Filter) Match(d Device) bool {
	if f.Name != "" && !strings.Contains(strings.ToLower(d.Name), strings.ToLower(f.Name)) {
		return false
	}
	if f.Type != "" && !strings.EqualFold(d.Type, f.Type) {
		return false
	}
	if f.Site != "" && !strings.EqualFold(d.Site, f.Site) {
		return false
	}
	if f.Label != "" {
		found := false
		for _, l := range d.Labels {
			found = found || strings.EqualFold(l, f.Label)
		}
		return found
	}
	return true
}

// Device is one inventory entry.
type Device struct {
	Name        string            `json:"name"`
	Host        string            `json:"host"`
	Type        string            `json:"device_type"`
	Platform    string            `json:"platform,omitempty"`
	Site        string            `json:"site,omitempty"`
	Labels      []string          `json:"labels,omitempty"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// ExecRequest is what Exec runs.
type ExecRequest struct {
	Commands []string
	Timeout  time.Duration // per command
	MaxLines int
}

// Command statuses.
const (
	StatusOK          = "ok"           // the command ran; Output is what the device printed
	StatusDeviceError = "device_error" // the device's CLI refused it (% Invalid input …)
	StatusTimeout     = "timeout"      // no prompt within the timeout; Output is what came before
	StatusFailed      = "failed"       // the session broke while it ran
	StatusNotRun      = "not_run"      // an earlier failure or the call's deadline stopped it
)

// CommandResult is one command's outcome on one device.
type CommandResult struct {
	Command   string `json:"command"`
	Status    string `json:"status"`
	Output    string `json:"output,omitempty"`
	Lines     int    `json:"lines"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ErrUnknownDevice is a device name the inventory does not have.
var ErrUnknownDevice = errors.New("no device of that name in the inventory")

// Defaults and bounds.
const (
	DefaultCommandTimeout = 30 * time.Second
	MaxCommandTimeout     = 120 * time.Second
	DefaultMaxLines       = 1000
	MaxMaxLines           = 20000
	DefaultPerDevice      = 2
	DefaultParallel       = 32
	DefaultCallTimeout    = 110 * time.Second
	// maxOutputBytes bounds what is kept of one command's output, whatever its line count.
	maxOutputBytes = 4 << 20
)

// truncate keeps the first limit lines of out. It returns the kept text, the number of lines
// out has, and whether anything was cut.
func truncate(out string, limit int) (string, int, bool) {
	out = strings.TrimRight(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	if out == "" {
		return "", 0, false
	}
	total := strings.Count(out, "\n") + 1
	if limit <= 0 || total <= limit {
		return out + "\n", total, false
	}
	idx := 0
	for range limit {
		idx += strings.IndexByte(out[idx:], '\n') + 1
	}
	return out[:idx], total, true
}

// limiter bounds concurrent sessions per device.
type limiter struct {
	per int
	mu  sync.Mutex
	m   map[string]chan struct{}
}

func newLimiter(per int) *limiter {
	if per <= 0 {
		per = DefaultPerDevice
	}
	return &limiter{per: per, m: map[string]chan struct{}{}}
}

// acquire waits for a session slot on device name; release gives it back.
func (l *limiter) acquire(ctx context.Context, name string) (release func(), err error) {
	l.mu.Lock()
	s, ok := l.m[name]
	if !ok {
		s = make(chan struct{}, l.per)
		l.m[name] = s
	}
	l.mu.Unlock()
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
