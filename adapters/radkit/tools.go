package radkit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

var (
	readOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Running commands on a device is an execute action, but show, ping and traceroute (all the
	// floor lets through) change nothing, and repeating them changes nothing more.
	runsReadOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
)

// DiagnosticCommands is the fixed bundle collect_diagnostics runs. The policy knows the same
// list (gatehouse.commands.diagnostics.radkit.collect_diagnostics in policies/data.json; a test
// keeps them equal), so that a role may collect it only if it may run every command in it.
var DiagnosticCommands = []string{"show version", "show clock", "show inventory", "show interfaces", "show ip interface brief",
	"show processes cpu", "show logging", "show cdp neighbors"}

// Options tune the tools.
type Options struct {
	// Parallel bounds how many devices one call works on at once (default DefaultParallel).
	Parallel int
	// CallTimeout bounds one tool call (default DefaultCallTimeout); devices not done by then
	// say so in their result.
	CallTimeout time.Duration
}

type tools struct {
	a    DeviceAccess
	opts Options
}

// Register adds every RADKit tool to s with default Options. a may be nil when only the
// declarations are needed (the catalog command); the handlers are then never called.
func Register(s *kit.Server, a DeviceAccess) { RegisterWith(s, a, Options{}) }

// RegisterWith adds every RADKit tool to s.
func RegisterWith(s *kit.Server, a DeviceAccess, o Options) {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	t := &tools{a: a, opts: o}
	kit.Add(s, kit.Tool[listArgs, listResult]{
		Name: "list_devices", Title: "List network devices", Action: kit.Read, Annotations: readOnly,
		Description: "List the devices RADKit can reach: name, management address, device type (IOS_XE, NXOS, IOS_XR), " +
			"platform, site and labels. Filter by part of the name, device type, site or label.",
		Handle: t.list,
	})
	kit.Add(s, kit.Tool[deviceArgs, Device]{
		Name: "get_device", Title: "Get device attributes", Action: kit.Read, Annotations: readOnly,
		Description: "Get one device by name with its attributes (serial number, software version, role, access methods).",
		Handle: func(ctx context.Context, a deviceArgs) (Device, error) {
			if a.Device == "" {
				return Device{}, errors.New("device must name a device (from list_devices)")
			}
			return t.a.Device(ctx, a.Device)
		},
	})
	kit.Add(s, kit.Tool[runArgs, runResult]{
		Name: "run_commands", Title: "Run show commands on devices", Action: kit.Execute, Annotations: runsReadOnly,
		Description: "Run read-only CLI commands (show …, ping <target>, traceroute <target>) on one or many devices in parallel " +
			"and return each device's output per command. Abbreviations (sh ip int br) and output filters (| include, exclude, " +
			"begin, section, count) are accepted; configuration, reload, write, copy, delete, clear, debug and chained commands " +
			"are refused before any device is contacted. Which commands you may run is decided by policy. With parse true, " +
			"show version, show interfaces, show ip interface brief and show inventory come back as JSON (IOS-XE). " +
			"Output longer than max_lines is cut and says so; one device failing does not affect the others.",
		Handle: t.run,
	})
	kit.Add(s, kit.Tool[pingArgs, pingResult]{
		Name: "ping_from_device", Title: "Ping from a device", Action: kit.Execute, Annotations: runsReadOnly,
		Description: "Ping a target (IP address or host name) from a device, optionally in a VRF, from a source interface, " +
			"with a packet count (default 5). Returns sent, received, success rate and round-trip times, and the raw output.",
		Handle: t.ping,
	})
	kit.Add(s, kit.Tool[traceArgs, traceResult]{
		Name: "traceroute_from_device", Title: "Traceroute from a device", Action: kit.Execute, Annotations: runsReadOnly,
		Description: "Trace the route from a device to a target (IP address or host name), optionally in a VRF or from a " +
			"source interface. Returns the hops with their addresses and round-trip times, whether the target was reached, " +
			"and the raw output.",
		Handle: t.trace,
	})
	kit.Add(s, kit.Tool[diagArgs, deviceResult]{
		Name: "collect_diagnostics", Title: "Collect a diagnostic bundle", Action: kit.Execute, Annotations: runsReadOnly,
		Description: "Collect a fixed diagnostic bundle from one device: " + strings.Join(DiagnosticCommands, ", ") +
			". Well-known outputs come back parsed (IOS-XE), the rest raw.",
		Handle: t.diagnostics,
	})
}

type listArgs struct {
	Name       string `json:"name,omitempty" jsonschema:"Part of the device name, e.g. lon-b1"`
	DeviceType string `json:"device_type,omitempty" jsonschema:"IOS_XE, NXOS or IOS_XR"`
	Site       string `json:"site,omitempty" jsonschema:"Site, e.g. lon-b1"`
	Label      string `json:"label,omitempty" jsonschema:"Label, e.g. core or wan"`
}

type listResult struct {
	Devices []Device `json:"devices"`
	Count   int      `json:"count"`
}

func (t *tools) list(ctx context.Context, a listArgs) (listResult, error) {
	ds, err := t.a.Devices(ctx, Filter{Name: a.Name, Type: a.DeviceType, Site: a.Site, Label: a.Label})
	if err != nil {
		return listResult{}, err
	}
	if ds == nil {
		ds = []Device{}
	}
	return listResult{Devices: ds, Count: len(ds)}, nil
}

type deviceArgs struct {
	Device string `json:"device" jsonschema:"Device name (from list_devices)"`
}

type runArgs struct {
	Devices        []string `json:"devices" jsonschema:"Device names (from list_devices), 1 to 250"`
	Commands       []string `json:"commands" jsonschema:"Commands, 1 to 20, each a single command such as show ip interface brief or show run | include hostname"`
	TimeoutSeconds int      `json:"timeout_seconds,omitempty" jsonschema:"Seconds each command may take (default 30, at most 120)"`
	MaxLines       int      `json:"max_lines,omitempty" jsonschema:"Lines of output kept per command (default 1000, at most 20000)"`
	Parse          bool     `json:"parse,omitempty" jsonschema:"Return show version, show interfaces, show ip interface brief and show inventory as JSON (IOS-XE devices)"`
}

// commandOutcome is one command's result as the tools return it.
type commandOutcome struct {
	Command   string `json:"command"`
	Status    string `json:"status" jsonschema:"ok, device_error, timeout, failed or not_run"`
	Output    string `json:"output,omitempty"`
	Parsed    any    `json:"parsed,omitempty" jsonschema:"The output as JSON, when parse was asked for and a parser knows the command"`
	Lines     int    `json:"lines" jsonschema:"Lines of output the device printed"`
	Truncated bool   `json:"truncated,omitempty"`
	Note      string `json:"note,omitempty"`
	Error     string `json:"error,omitempty"`
}

type deviceResult struct {
	Device   string           `json:"device"`
	Status   string           `json:"status" jsonschema:"ok (every command ran), partial (some did not) or failed (none could run)"`
	Error    string           `json:"error,omitempty"`
	Commands []commandOutcome `json:"commands,omitempty"`
}

type runResult struct {
	Summary string         `json:"summary"`
	Devices []deviceResult `json:"devices"`
}

func (t *tools) run(ctx context.Context, a runArgs) (runResult, error) {
	if len(a.Devices) == 0 || len(a.Devices) > 250 {
		return runResult{}, fmt.Errorf("devices must name 1 to 250 devices, got %d", len(a.Devices))
	}
	if len(a.Commands) == 0 || len(a.Commands) > 20 {
		return runResult{}, fmt.Errorf("commands must hold 1 to 20 commands, got %d", len(a.Commands))
	}
	cmds, err := checkCommands(a.Commands)
	if err != nil {
		return runResult{}, err
	}
	req, err := execRequest(cmds, a.TimeoutSeconds, a.MaxLines)
	if err != nil {
		return runResult{}, err
	}
	var names []string
	for _, d := range a.Devices {
		if !slices.Contains(names, d) {
			names = append(names, d)
		}
	}
	res := t.runMany(ctx, names, req, a.Parse)
	return runResult{Summary: summarise(res, len(cmds)), Devices: res}, nil
}

// checkCommands normalises every command and applies the floor; one refusal refuses the call
// before any device is contacted.
func checkCommands(raw []string) ([]string, error) {
	out := make([]string, 0, len(raw))
	var errs []error
	for _, c := range raw {
		n, err := devicecmd.Check(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, n)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing was run: %w", errors.Join(errs...))
	}
	return out, nil
}

func execRequest(cmds []string, timeoutS, maxLines int) (ExecRequest, error) {
	timeout := DefaultCommandTimeout
	switch {
	case timeoutS < 0 || time.Duration(timeoutS)*time.Second > MaxCommandTimeout:
		return ExecRequest{}, fmt.Errorf("timeout_seconds must be 1 to %d, got %d", int(MaxCommandTimeout.Seconds()), timeoutS)
	case timeoutS > 0:
		timeout = time.Duration(timeoutS) * time.Second
	}
	switch {
	case maxLines < 0 || maxLines > MaxMaxLines:
		return ExecRequest{}, fmt.Errorf("max_lines must be 1 to %d, got %d", MaxMaxLines, maxLines)
	case maxLines == 0:
		maxLines = DefaultMaxLines
	}
	return ExecRequest{Commands: cmds, Timeout: timeout, MaxLines: maxLines}, nil
}

// runMany runs req on every device, Parallel at a time, within CallTimeout. Each device's
// outcome is its own: an unknown, unreachable or failing device does not affect the others.
func (t *tools) runMany(ctx context.Context, names []string, req ExecRequest, parse bool) []deviceResult {
	ctx, cancel := context.WithTimeout(ctx, t.opts.CallTimeout)
	defer cancel()
	types := map[string]string{}
	inv, invErr := t.a.Devices(ctx, Filter{})
	for _, d := range inv {
		types[d.Name] = d.Type
	}
	out := make([]deviceResult, len(names))
	sem := make(chan struct{}, t.opts.Parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		out[i] = deviceResult{Device: name}
		if invErr != nil {
			out[i].Status, out[i].Error = "failed", "the inventory could not be read, so nothing was run: "+invErr.Error()
			continue
		}
		typ, ok := types[name]
		if !ok {
			out[i].Status, out[i].Error = "failed", fmt.Sprintf("no device %q in the inventory (see list_devices); nothing was run", name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				out[i].Status = "failed"
				out[i].Error = fmt.Sprintf("not started: the call's time (%s) ran out first; call again with fewer devices", t.opts.CallTimeout)
				return
			}
			out[i] = t.runOne(ctx, name, typ, req, parse)
		}()
	}
	wg.Wait()
	return out
}

func (t *tools) runOne(ctx context.Context, name, typ string, req ExecRequest, parse bool) deviceResult {
	r := deviceResult{Device: name}
	results, err := t.a.Exec(ctx, name, req)
	if err != nil {
		r.Status, r.Error = "failed", err.Error()
		if ctx.Err() != nil && !strings.Contains(r.Error, "time ran out") {
			r.Error += fmt.Sprintf(" (the call's time, %s, ran out)", t.opts.CallTimeout)
		}
		return r
	}
	r.Status = "ok"
	for i, c := range req.Commands {
		var o commandOutcome
		if i < len(results) {
			o = outcome(results[i], typ, parse, req.MaxLines)
		} else {
			o = commandOutcome{Command: c, Status: StatusNotRun, Error: "the device returned no result for this command"}
		}
		if o.Status != StatusOK {
			r.Status = "partial"
		}
		r.Commands = append(r.Commands, o)
	}
	return r
}

// outcome turns a backend's result into the tool's: device errors recognised, truncation
// stated, well-known output parsed when asked.
func outcome(cr CommandResult, typ string, parse bool, maxLines int) commandOutcome {
	o := commandOutcome{Command: cr.Command, Status: cr.Status, Output: cr.Output, Lines: cr.Lines, Truncated: cr.Truncated, Error: cr.Error}
	if o.Status == StatusOK {
		if line, bad := deviceError(cr.Output); bad {
			o.Status, o.Error = StatusDeviceError, "the device refused the command: "+line
		}
	}
	if o.Truncated {
		o.Note = fmt.Sprintf("output cut to the first %d of %d lines (max_lines); narrow it with | include or | section, or raise max_lines", maxLines, cr.Lines)
	}
	if !parse || o.Status != StatusOK {
		return o
	}
	if typ != "IOS_XE" {
		if _, known, _ := Parse(cr.Command, ""); known {
			o.Note = joinNote(o.Note, "not parsed: parsers read IOS-XE output, this is "+typ)
		}
		return o
	}
	if o.Truncated {
		if _, known, _ := Parse(cr.Command, ""); known {
			o.Note = joinNote(o.Note, "not parsed because the output was cut")
		}
		return o
	}
	p, known, err := Parse(cr.Command, cr.Output)
	switch {
	case !known:
	case err != nil:
		o.Note = joinNote(o.Note, describe(cr.Command, err))
	default:
		o.Parsed, o.Output = p, ""
	}
	return o
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func summarise(rs []deviceResult, commands int) string {
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []string{"ok", "partial", "failed"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return fmt.Sprintf("%d devices × %d commands: %s", len(rs), commands, strings.Join(parts, ", "))
}

var (
	targetRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$`)
	vrfRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$`)
	sourceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9/._:-]{0,63}$`)
)

type pingArgs struct {
	Device string `json:"device" jsonschema:"Device to ping from (from list_devices)"`
	Target string `json:"target" jsonschema:"IP address or host name to ping"`
	VRF    string `json:"vrf,omitempty" jsonschema:"VRF to ping in"`
	Source string `json:"source,omitempty" jsonschema:"Source interface, e.g. Loopback0"`
	Count  int    `json:"count,omitempty" jsonschema:"Packets to send, 1 to 100 (default 5)"`
}

type pingResult struct {
	Device  string      `json:"device"`
	Command string      `json:"command"`
	Status  string      `json:"status"`
	Result  *PingResult `json:"result,omitempty"`
	Output  string      `json:"output,omitempty"`
	Error   string      `json:"error,omitempty"`
}

type traceArgs struct {
	Device string `json:"device" jsonschema:"Device to trace from (from list_devices)"`
	Target string `json:"target" jsonschema:"IP address or host name to trace to"`
	VRF    string `json:"vrf,omitempty" jsonschema:"VRF to trace in"`
	Source string `json:"source,omitempty" jsonschema:"Source interface, e.g. Loopback0"`
}

type traceResult struct {
	Device  string `json:"device"`
	Command string `json:"command"`
	Status  string `json:"status"`
	Result  *Trace `json:"result,omitempty"`
	Output  string `json:"output,omitempty"`
	Error   string `json:"error,omitempty"`
}

// probe is what ping and traceroute have in common.
type probe struct {
	kind, device, target, vrf, source string
	count                             int
}

// canonical is the command in IOS-XE form, as the policy builds it from the same arguments
// (cli_generated in policies/commands.rego): ping [vrf V] TARGET [source S] [repeat N].
func (p probe) canonical() string {
	w := []string{p.kind}
	if p.vrf != "" {
		w = append(w, "vrf", p.vrf)
	}
	w = append(w, p.target)
	if p.source != "" {
		w = append(w, "source", p.source)
	}
	if p.count > 0 {
		w = append(w, "repeat", fmt.Sprint(p.count))
	}
	return strings.Join(w, " ")
}

// render is the same command in the device's own syntax.
func (p probe) render(typ string) string {
	if typ == "IOS_XE" || typ == "" {
		return p.canonical()
	}
	w := []string{p.kind}
	if typ == "IOS_XR" && p.vrf != "" {
		w = append(w, "vrf", p.vrf)
	}
	w = append(w, p.target)
	if typ == "NXOS" && p.vrf != "" {
		w = append(w, "vrf", p.vrf)
	}
	if p.source != "" {
		kw := "source"
		if typ == "NXOS" {
			kw = "source-interface"
		}
		w = append(w, kw, p.source)
	}
	if p.count > 0 {
		w = append(w, "count", fmt.Sprint(p.count))
	}
	return strings.Join(w, " ")
}

// probe runs a ping or traceroute: arguments checked, the canonical command through the floor, the
// platform's command on the device. It returns the device-syntax command and its outcome.
func (t *tools) probe(ctx context.Context, p probe) (string, commandOutcome, error) {
	switch {
	case p.device == "":
		return "", commandOutcome{}, errors.New("device must name a device (from list_devices)")
	case !targetRE.MatchString(p.target):
		return "", commandOutcome{}, fmt.Errorf("target %q is not an IP address or host name", p.target)
	case p.vrf != "" && !vrfRE.MatchString(p.vrf):
		return "", commandOutcome{}, fmt.Errorf("vrf %q is not a VRF name", p.vrf)
	case p.source != "" && !sourceRE.MatchString(p.source):
		return "", commandOutcome{}, fmt.Errorf("source %q is not an interface name", p.source)
	case p.count < 0 || p.count > 100:
		return "", commandOutcome{}, fmt.Errorf("count must be 1 to 100, got %d", p.count)
	}
	if _, err := devicecmd.Check(p.canonical()); err != nil {
		return "", commandOutcome{}, err
	}
	d, err := t.a.Device(ctx, p.device)
	if err != nil {
		return "", commandOutcome{}, err
	}
	cmd, err := devicecmd.Check(p.render(d.Type))
	if err != nil {
		return "", commandOutcome{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.CallTimeout)
	defer cancel()
	// A ping of 100 packets to a silent target takes 200 s on IOS; allow for it.
	timeout := min(MaxCommandTimeout, time.Duration(max(p.count, 5))*2*time.Second+10*time.Second)
	if p.kind == "traceroute" {
		timeout = MaxCommandTimeout
	}
	rs, err := t.a.Exec(ctx, p.device, ExecRequest{Commands: []string{cmd}, Timeout: timeout, MaxLines: 500})
	if err != nil {
		return cmd, commandOutcome{}, err
	}
	if len(rs) == 0 {
		return cmd, commandOutcome{}, fmt.Errorf("%s returned no result", p.device)
	}
	return cmd, outcome(rs[0], d.Type, false, 500), nil
}

func (t *tools) ping(ctx context.Context, a pingArgs) (pingResult, error) {
	cmd, o, err := t.probe(ctx, probe{kind: "ping", device: a.Device, target: a.Target, vrf: a.VRF, source: a.Source, count: a.Count})
	if err != nil {
		return pingResult{}, err
	}
	r := pingResult{Device: a.Device, Command: cmd, Status: o.Status, Output: o.Output, Error: o.Error}
	if o.Status == StatusOK {
		p, err := ParsePing(o.Output)
		if err != nil {
			r.Error = err.Error()
		}
		r.Result = p
	}
	return r, nil
}

func (t *tools) trace(ctx context.Context, a traceArgs) (traceResult, error) {
	cmd, o, err := t.probe(ctx, probe{kind: "traceroute", device: a.Device, target: a.Target, vrf: a.VRF, source: a.Source})
	if err != nil {
		return traceResult{}, err
	}
	r := traceResult{Device: a.Device, Command: cmd, Status: o.Status, Output: o.Output, Error: o.Error}
	if o.Status == StatusOK {
		tr, err := ParseTraceroute(o.Output)
		if err != nil {
			r.Error = err.Error()
		}
		r.Result = tr
	}
	return r, nil
}

type diagArgs struct {
	Device         string `json:"device" jsonschema:"Device name (from list_devices)"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty" jsonschema:"Seconds each command may take (default 30, at most 120)"`
	MaxLines       int    `json:"max_lines,omitempty" jsonschema:"Lines of output kept per command (default 1000, at most 20000)"`
}

func (t *tools) diagnostics(ctx context.Context, a diagArgs) (deviceResult, error) {
	if a.Device == "" {
		return deviceResult{}, errors.New("device must name a device (from list_devices)")
	}
	cmds, err := checkCommands(DiagnosticCommands)
	if err != nil {
		return deviceResult{}, err
	}
	req, err := execRequest(cmds, a.TimeoutSeconds, a.MaxLines)
	if err != nil {
		return deviceResult{}, err
	}
	return t.runMany(ctx, []string{a.Device}, req, true)[0], nil
}
