// Package devicecmd normalises device CLI commands and applies the adapters' hard floor.
//
// Normalise implements the rules of adapters/radkit/README.md ("Command normalisation"). The
// policy implements the same rules in Rego (cli_normalise in policies/commands.rego); both are
// checked against the vectors in testdata/normalise.json, and a test evaluates
// the Rego function through OPA to prove the two agree, reasons included. The policy decides
// which normalised commands a role may run; Floor is what an adapter refuses whatever the
// policy says, so a policy mistake cannot open a device.
//
// Adapters send the normalised command, so what runs on the device is what the policy
// checked: full keywords instead of abbreviations, single spaces. Keywords are lower case;
// every other word keeps its case (VRF, ACL and route-map names are case-sensitive), and the
// policy compares commands with its patterns without case.
package devicecmd

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MaxLength is the longest command accepted, in characters.
const MaxLength = 512

// Refusal codes: why a command could not be normalised.
const (
	CodeLineBreak = "line-break" // \r or \n: a second command
	CodeControl   = "control"    // another control character (Ctrl-Z leaves modes, Ctrl-C aborts)
	CodeNonASCII  = "non-ascii"  // look-alike letters and exotic spaces
	CodeTooLong   = "too-long"
	CodeChaining  = "chaining" // ; & < > ` ? $( : chains, redirects, help or variables
	CodeEmpty     = "empty"
	CodePipe      = "pipe" // an empty pipe segment or an output filter that is not allowed
)

// Refusal is a command that cannot be normalised. Reason is the same text the policy gives.
type Refusal struct {
	Command string
	Code    string
	Reason  string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("command %q is refused: %s", r.Command, r.Reason)
}

// The character classes, written once in RE2 syntax: the Rego side uses the same expressions.
var (
	lineBreak = regexp.MustCompile(`[\r\n]`)
	control   = regexp.MustCompile(`[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]`)
	nonASCII  = regexp.MustCompile(`[^\x00-\x7f]`)
	chaining  = regexp.MustCompile("[;&<>`?]|\\$\\(")
)

// Keywords lists, per context (the canonical words before a word, joined by spaces), the
// keywords a word may abbreviate. Only the first four words of a command are expanded.
// Compared without case, a word equal to a keyword becomes that keyword, and so does a word
// that begins exactly one keyword; anything else stays as typed. Only real IOS-XE keywords belong here: an expansion is sent
// to the device, so a keyword the device does not have would only make it answer with an
// error, never run something else. policies/commands.rego holds the same table (a test
// compares them).
var Keywords = map[string][]string{
	"": {"clear", "configure", "copy", "debug", "delete", "dir", "disable", "enable", "erase", "exit", "format",
		"install", "logout", "more", "ping", "reload", "request", "run", "send", "show", "ssh", "telnet", "terminal",
		"test", "traceroute", "undebug", "write"},
	"show": {"access-lists", "arp", "bgp", "boot", "cdp", "clock", "controllers", "environment", "etherchannel",
		"interfaces", "inventory", "ip", "ipv6", "license", "lldp", "logging", "mac", "memory", "module", "ntp",
		"platform", "power", "processes", "redundancy", "route", "running-config", "spanning-tree", "standby",
		"startup-config", "tech-support", "users", "version", "vlan", "vrf", "vtp"},
	"show interfaces":       {"counters", "description", "status", "summary", "trunk"},
	"show ip":               {"access-lists", "arp", "bgp", "cef", "dhcp", "eigrp", "interface", "nat", "ospf", "pim", "protocols", "route", "vrf"},
	"show ip interface":     {"brief"},
	"show ip route":         {"summary", "vrf"},
	"show ip bgp":           {"neighbors", "summary"},
	"show ip ospf":          {"database", "interface", "neighbor"},
	"show ipv6":             {"interface", "neighbors", "route"},
	"show ipv6 interface":   {"brief"},
	"show processes":        {"cpu", "memory"},
	"show processes cpu":    {"history", "sorted"},
	"show processes memory": {"sorted"},
	"show cdp":              {"interface", "neighbors"},
	"show cdp neighbors":    {"detail"},
	"show lldp":             {"interface", "neighbors"},
	"show lldp neighbors":   {"detail"},
	"show spanning-tree":    {"detail", "summary", "vlan"},
	"show mac":              {"address-table"},
	"show running-config":   {"all", "brief", "interface"},
	"configure":             {"memory", "network", "replace", "terminal"},
	"write":                 {"erase", "memory", "network", "terminal"},
	"show environment":      {"all"},
	"show platform":         {"resources", "software"},
	"show logging":          {"onboard"},
	"show redundancy":       {"states"},
	"show etherchannel":     {"summary"},
}

// Filters are the output filters a word after a pipe may abbreviate (IOS-XE's list).
var Filters = []string{"append", "begin", "count", "exclude", "format", "include", "redirect", "section", "tee"}

// AllowedFilters are the filters a command may use: they only select lines of the output.
// redirect, tee and append write files; format and other platforms' filters are refused.
var AllowedFilters = []string{"begin", "count", "exclude", "include", "section"}

// expandDepth is how many leading words are expanded from Keywords.
const expandDepth = 4

// Normalise returns the normal form of a command, or a *Refusal.
func Normalise(raw string) (string, error) {
	refuse := func(code, reason string) (string, error) {
		return "", &Refusal{Command: raw, Code: code, Reason: reason}
	}
	switch {
	case lineBreak.MatchString(raw):
		return refuse(CodeLineBreak, "it contains a line break; send each command as its own entry")
	case control.MatchString(raw):
		return refuse(CodeControl, "it contains a control character; only printable ASCII, spaces and tabs are accepted")
	case nonASCII.MatchString(raw):
		return refuse(CodeNonASCII, fmt.Sprintf("it contains the non-ASCII character %q; only printable ASCII, spaces and tabs are accepted", nonASCII.FindString(raw)))
	case len(raw) > MaxLength:
		return refuse(CodeTooLong, fmt.Sprintf("it is longer than %d characters", MaxLength))
	case chaining.MatchString(raw):
		return refuse(CodeChaining, fmt.Sprintf("it contains %q, which could chain, redirect or alter commands; send one plain command per entry", chaining.FindString(raw)))
	}
	s := collapse(raw)
	if s == "" {
		return refuse(CodeEmpty, "it is empty")
	}
	segs := strings.Split(s, "|")
	for i := range segs {
		segs[i] = collapse(segs[i])
		if segs[i] == "" {
			return refuse(CodePipe, "it has an empty pipe segment")
		}
	}
	words := strings.Split(segs[0], " ")
	canon := make([]string, 0, len(words))
	for i, w := range words {
		if i < expandDepth {
			w = expand(Keywords[strings.Join(canon, " ")], w)
		}
		canon = append(canon, w)
	}
	out := []string{strings.Join(canon, " ")}
	for _, seg := range segs[1:] {
		fw := strings.Split(seg, " ")
		kw := expand(Filters, fw[0])
		if !slices.Contains(AllowedFilters, kw) {
			return refuse(CodePipe, fmt.Sprintf("the output filter %q is not allowed (allowed: %s)", kw, strings.Join(AllowedFilters, ", ")))
		}
		out = append(out, strings.Join(append([]string{kw}, fw[1:]...), " "))
	}
	return strings.Join(out, " | "), nil
}

// collapse turns tabs into spaces, trims, and reduces runs of spaces to one.
func collapse(s string) string {
	var ws []string
	for _, w := range strings.Split(strings.ReplaceAll(s, "\t", " "), " ") {
		if w != "" {
			ws = append(ws, w)
		}
	}
	return strings.Join(ws, " ")
}

// expand returns the keyword tok stands for, compared without case: the keyword it equals,
// or the only keyword it begins; otherwise tok as typed.
func expand(keywords []string, tok string) string {
	low := strings.ToLower(tok)
	if slices.Contains(keywords, low) {
		return low
	}
	match := ""
	for _, k := range keywords {
		if strings.HasPrefix(k, low) {
			if match != "" {
				return tok
			}
			match = k
		}
	}
	if match != "" {
		return match
	}
	return tok
}

// Never are the commands the floor names when it refuses them: configuration, reloads, file
// and memory changes, clearing state, debugging, and platform requests and installs.
var Never = []string{"clear", "configure", "copy", "debug", "delete", "erase", "format", "install", "reload", "request", "undebug", "write"}

// Runs are the only commands the floor lets through.
var Runs = []string{"show", "ping", "traceroute"}

// FloorError is a normalised command the adapter never runs.
type FloorError struct {
	Command string
	Reason  string
}

func (e *FloorError) Error() string {
	return fmt.Sprintf("command %q is refused by the adapter: %s", e.Command, e.Reason)
}

// Floor refuses a normalised command that is not show, ping or traceroute, whatever the
// policy allowed. ping and traceroute need a target: without one, the device would start an
// interactive dialogue.
func Floor(normalised string) error {
	base, _, _ := strings.Cut(normalised, " | ")
	ws := strings.Split(base, " ")
	switch {
	case ws[0] == "show":
		return nil
	case ws[0] == "ping" || ws[0] == "traceroute":
		if !hasTarget(ws[1:]) {
			return &FloorError{normalised, ws[0] + " needs a target (ping 10.0.0.1); without one the device asks questions interactively"}
		}
		return nil
	case slices.Contains(Never, ws[0]):
		return &FloorError{normalised, fmt.Sprintf("the adapter never runs %s (nor %s)", ws[0], strings.Join(Never, ", "))}
	}
	return &FloorError{normalised, "the adapter runs only show, ping and traceroute commands"}
}

// hasTarget reports whether ping or traceroute arguments name a destination: something
// beyond an optional "vrf <name>" and an optional protocol word.
func hasTarget(args []string) bool {
	if len(args) > 0 && strings.EqualFold(args[0], "vrf") {
		if len(args) < 2 {
			return false
		}
		args = args[2:]
	}
	if len(args) > 0 && (strings.EqualFold(args[0], "ip") || strings.EqualFold(args[0], "ipv6")) {
		args = args[1:]
	}
	return len(args) > 0
}

// Check normalises raw and applies the floor: the command to send, or why not.
func Check(raw string) (string, error) {
	n, err := Normalise(raw)
	if err != nil {
		return "", err
	}
	return n, Floor(n)
}
