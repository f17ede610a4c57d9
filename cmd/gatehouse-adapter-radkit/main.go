// Command gatehouse-adapter-radkit serves the RADKit MCP tools at /mcp, over one of two
// backends.
//
// RADKit bridge (the default): the upstream is the bridge's base URL, and the Vault secret
// gatehouse/radkit holds its bearer token (field bridge_token; with --secrets env,
// GATEHOUSE_SECRET_RADKIT_BRIDGE_TOKEN). The contract is docs/radkit-bridge.md.
//
//	RADKIT_URL=https://radkit-bridge:8443 VAULT_ADDR=... VAULT_TOKEN=... gatehouse-adapter-radkit
//
// Direct SSH (--backend ssh): the upstream is the inventory file (a path or file:// URL, format
// in adapters/radkit/README.md); each device's login is the secret radkit-ssh/<credentials>
// (username, and password and/or private_key); host keys are pinned by --known-hosts, or else
// by the field known_hosts of the secret radkit.
//
//	gatehouse-adapter-radkit --backend ssh --upstream /etc/gatehouse/radkit-inventory.json --known-hosts /etc/gatehouse/known_hosts
//
// Besides the kit's flags: --backend (RADKIT_BACKEND), --known-hosts (RADKIT_KNOWN_HOSTS),
// --per-device (RADKIT_PER_DEVICE, sessions per device, default 2), --parallel
// (RADKIT_PARALLEL, devices worked on at once per call, default 32) and --call-timeout
// (RADKIT_CALL_TIMEOUT, default 110s).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/radkit"
)

var version = "dev"

type config struct {
	backend     string
	knownHosts  string
	perDevice   int
	parallel    int
	callTimeout time.Duration
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parse reads this adapter's own flags out of args and returns the rest for the kit.
func parse(args []string) (config, []string, error) {
	var c config
	fs := flag.NewFlagSet("gatehouse-adapter-radkit", flag.ContinueOnError)
	fs.StringVar(&c.backend, "backend", env("RADKIT_BACKEND", "bridge"), "bridge or ssh (RADKIT_BACKEND)")
	fs.StringVar(&c.knownHosts, "known-hosts", os.Getenv("RADKIT_KNOWN_HOSTS"), "known_hosts file pinning the devices' SSH host keys (RADKIT_KNOWN_HOSTS); default: secret radkit, field known_hosts")
	fs.IntVar(&c.perDevice, "per-device", 0, "sessions per device at once (RADKIT_PER_DEVICE, default 2)")
	fs.IntVar(&c.parallel, "parallel", 0, "devices worked on at once in one call (RADKIT_PARALLEL, default 32)")
	fs.DurationVar(&c.callTimeout, "call-timeout", 0, "time one tool call may take (RADKIT_CALL_TIMEOUT, default 110s)")
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || fs.Lookup(name) == nil {
			rest = append(rest, a)
			continue
		}
		own = append(own, a)
		if !hasValue && i+1 < len(args) {
			own = append(own, args[i+1])
			i++
		}
	}
	for _, e := range []struct {
		name string
		v    *int
	}{{"RADKIT_PER_DEVICE", &c.perDevice}, {"RADKIT_PARALLEL", &c.parallel}} {
		if s := os.Getenv(e.name); s != "" {
			if _, err := fmt.Sscan(s, e.v); err != nil {
				return c, nil, fmt.Errorf("%s: %q is not a number", e.name, s)
			}
		}
	}
	if s := os.Getenv("RADKIT_CALL_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return c, nil, fmt.Errorf("RADKIT_CALL_TIMEOUT: %v", err)
		}
		c.callTimeout = d
	}
	if err := fs.Parse(own); err != nil {
		return c, nil, err
	}
	if c.backend != "bridge" && c.backend != "ssh" {
		return c, nil, fmt.Errorf("--backend must be bridge or ssh, got %q", c.backend)
	}
	return c, rest, nil
}

func setup(c config) func(context.Context, *kit.Server, kit.Upstream) error {
	return func(_ context.Context, s *kit.Server, up kit.Upstream) error {
		var access radkit.DeviceAccess
		switch c.backend {
		case "ssh":
			inv, err := os.ReadFile(strings.TrimPrefix(up.URL, "file://"))
			if err != nil {
				return fmt.Errorf("the SSH backend's upstream is its inventory file: %w", err)
			}
			devices, err := radkit.ParseSSHInventory(inv)
			if err != nil {
				return err
			}
			o := radkit.SSHOptions{Devices: devices, Secrets: up.Secrets, PerDevice: c.perDevice, Log: up.Log}
			if c.knownHosts != "" {
				b, err := os.ReadFile(c.knownHosts)
				if err != nil {
					return fmt.Errorf("--known-hosts: %w", err)
				}
				o.KnownHosts = string(b)
			}
			if access, err = radkit.NewSSH(o); err != nil {
				return err
			}
		default:
			b, err := radkit.NewBridge(up.URL, up.Secrets, c.perDevice, s.Metrics, up.Log)
			if err != nil {
				return err
			}
			b.API().UseTLS(up.TLS)
			access = b
		}
		radkit.RegisterWith(s, access, radkit.Options{Parallel: c.parallel, CallTimeout: c.callTimeout})
		if r, ok := access.(interface{ Ready(context.Context) error }); ok {
			s.SetReady(r.Ready) // /readyz: the bridge answers, or the SSH inventory and secrets read
		}
		return nil
	}
}

func main() {
	c, rest, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, radkit.ServerName+":", err)
		os.Exit(2)
	}
	os.Args = append(os.Args[:1], rest...)
	kit.Main(kit.Adapter{Name: radkit.ServerName, Version: version, UpstreamEnv: "RADKIT_URL", Setup: setup(c)})
}
