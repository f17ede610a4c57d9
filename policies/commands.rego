# Command allowlists for the tools that run device CLI commands (radkit, catalyst-center):
# which commands a role may run is decided here, from the tool call's arguments, never by an
# adapter. Security teams edit gatehouse.commands in data.json:
#
#   tools        server → tool → how the tool names its commands: "commands" (the commands
#                argument, a list of strings), "ping" and "traceroute" (the tool builds the
#                command from target, vrf, source and count), "diagnostics" (a fixed list in
#                diagnostics[server][tool])
#   allow        role → server ("*" = every server) → patterns
#
# A pattern is a command in normal form, compared word by word and without case; a last word
# "*" matches the rest of the command, including nothing ("show interfaces *" matches "show interfaces" and "show interfaces
# gi1/0/1"). Output filters (| include, exclude, begin, section, count) do not count: a command
# with filters is allowed when the part before the first pipe is. Every command is normalised
# first (cli_normalise, below; the rules are in adapters/radkit/README.md, "Command
# normalisation"), and a command that cannot be normalised (line breaks, chaining, redirection,
# control or non-ASCII characters) is refused whatever the patterns say. The adapters keep
# their own floor (show, ping and traceroute only), so a pattern written too wide here cannot
# open a device.
package gatehouse.authz

import rego.v1

# How this tool call names its commands, when it runs any.
command_tool := data.gatehouse.commands.tools[server][input.mcp.name] if method_class == "tool"

# The commands the call would run, as the caller wrote them or as the tool builds them.
call_commands contains c if {
	command_tool == "commands"
	some c in input.mcp.arguments.commands
}

call_commands contains cli_generated(command_tool, input.mcp.arguments) if command_tool in {"ping", "traceroute"}

call_commands contains c if {
	command_tool == "diagnostics"
	some c in data.gatehouse.commands.diagnostics[server][input.mcp.name]
}

# The allowlist patterns of the caller's roles on this server.
command_patterns contains p if {
	some role in roles
	some target in [server, "*"]
	some p in object.get(data.gatehouse.commands, ["allow", role, target], [])
}

refusals contains msg if {
	command_tool == "commands"
	not is_array(object.get(object.get(input.mcp, "arguments", {}), "commands", []))
	msg := sprintf("%s: commands must be a list of commands, one command per entry", [input.mcp.name])
}

refusals contains msg if {
	some c in call_commands
	not is_string(c)
	msg := sprintf("%s: every command must be a string; got %v", [input.mcp.name, c])
}

refusals contains msg if {
	some c in call_commands
	is_string(c)
	r := cli_normalise(c)
	r.refused
	msg := sprintf("%s: command %q is refused: %s", [input.mcp.name, c, r.reason])
}

refusals contains msg if {
	some c in call_commands
	is_string(c)
	n := cli_normalise(c).normalised
	not command_allowed(n)
	msg := sprintf("%s: command %q (normal form %q) is not allowed for your roles %v on server %q, whose command patterns are %v; ask your security team to add a pattern to gatehouse.commands.allow", [input.mcp.name, c, n, sort(roles), server, sort(command_patterns)])
}

command_allowed(n) if {
	base := split(n, " | ")[0]
	some p in command_patterns
	cli_pattern_matches(p, base)
}

cli_pattern_matches(p, cmd) if cli_collapse(lower(p)) == lower(cmd)

cli_pattern_matches(p, cmd) if {
	pw := split(cli_collapse(lower(p)), " ")
	k := count(pw) - 1
	pw[k] == "*"
	cw := split(lower(cmd), " ")
	count(cw) >= k
	array.slice(cw, 0, k) == array.slice(pw, 0, k)
}

# The command a ping or traceroute tool builds, in IOS-XE form (the adapter sends NX-OS and
# IOS-XR devices the same arguments in their syntax): ping [vrf V] TARGET [source S] [repeat N].
cli_generated(kind, args) := concat(" ", [w |
	some part in [[kind], cli_option(args, "vrf", "vrf"), [object.get(args, "target", "")], cli_option(args, "source", "source"), cli_option(args, "count", "repeat")]
	some w in part
])

cli_option(args, key, word) := [word, sprintf("%v", [v])] if {
	v := object.get(args, key, "")
	not v in {"", 0, null, false}
} else := []

# Command normalisation: adapters/radkit/README.md ("Command normalisation"), the same rules
# as the adapters' Go code (adapters/kit/devicecmd), checked against the same vectors
# (adapters/kit/devicecmd/testdata/normalise.json). {"normalised": n} or {"refused": code, "reason": why}.
cli_normalise(raw) := cli_refusal("line-break", "it contains a line break; send each command as its own entry") if {
	regex.match(`[\r\n]`, raw)
} else := cli_refusal("control", "it contains a control character; only printable ASCII, spaces and tabs are accepted") if {
	regex.match(`[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]`, raw)
} else := cli_refusal("non-ascii", sprintf("it contains the non-ASCII character %q; only printable ASCII, spaces and tabs are accepted", [regex.find_n(`[^\x00-\x7f]`, raw, 1)[0]])) if {
	regex.match(`[^\x00-\x7f]`, raw)
} else := cli_refusal("too-long", "it is longer than 512 characters") if {
	count(raw) > 512
} else := cli_refusal("chaining", sprintf("it contains %q, which could chain, redirect or alter commands; send one plain command per entry", [regex.find_n("[;&<>`?]|\\$\\(", raw, 1)[0]])) if {
	regex.match("[;&<>`?]|\\$\\(", raw)
} else := cli_refusal("empty", "it is empty") if {
	cli_collapse(raw) == ""
} else := cli_pipeline(split(cli_collapse(raw), "|"))

cli_refusal(code, reason) := {"refused": code, "reason": reason}

cli_pipeline(segs) := cli_refusal("pipe", "it has an empty pipe segment") if {
	some seg in segs
	cli_collapse(seg) == ""
} else := cli_refusal("pipe", sprintf("the output filter %q is not allowed (allowed: %s)", [bad[0], concat(", ", cli_allowed_filters)])) if {
	bad := [kw |
		some seg in array.slice(segs, 1, count(segs))
		kw := cli_filter_word(seg)
		not kw in cli_allowed_filters
	]
	count(bad) > 0
} else := {"normalised": concat(" | ", array.concat([cli_command(segs[0])], [cli_filter(seg) | some seg in array.slice(segs, 1, count(segs))]))}

cli_collapse(s) := concat(" ", [w | some w in split(replace(s, "\t", " "), " "); w != ""])

cli_filter_word(seg) := cli_expand(cli_filters, split(cli_collapse(seg), " ")[0])

cli_filter(seg) := concat(" ", array.concat([cli_filter_word(seg)], array.slice(ws, 1, count(ws)))) if {
	ws := split(cli_collapse(seg), " ")
}

cli_command(seg) := concat(" ", [cli_word(ws, i) | some i, _ in ws]) if {
	ws := split(cli_collapse(seg), " ")
}

# The first four words are expanded in the context of the canonical words before them.
cli_word(ws, i) := cli_c0(ws) if {
	i == 0
} else := cli_c1(ws) if {
	i == 1
} else := cli_c2(ws) if {
	i == 2
} else := cli_c3(ws) if {
	i == 3
} else := ws[i]

cli_c0(ws) := cli_expand(object.get(cli_keywords, "", []), ws[0])

cli_c1(ws) := cli_expand(object.get(cli_keywords, cli_c0(ws), []), ws[1])

cli_c2(ws) := cli_expand(object.get(cli_keywords, concat(" ", [cli_c0(ws), cli_c1(ws)]), []), ws[2])

cli_c3(ws) := cli_expand(object.get(cli_keywords, concat(" ", [cli_c0(ws), cli_c1(ws), cli_c2(ws)]), []), ws[3])

# Compared without case, a word equal to a keyword becomes it, and so does a word that begins
# exactly one keyword; any other word keeps its case (VRF and ACL names are case-sensitive).
cli_expand(keywords, tok) := lower(tok) if {
	lower(tok) in keywords
} else := m[0] if {
	m := [k | some k in keywords; startswith(k, lower(tok))]
	count(m) == 1
} else := tok

# The keyword table (context → keywords), identical to adapters/kit/devicecmd.Keywords (a test
# compares them).
cli_keywords := {
	"": [
		"clear", "configure", "copy", "debug", "delete", "dir", "disable", "enable", "erase", "exit", "format",
		"install", "logout", "more", "ping", "reload", "request", "run", "send", "show", "ssh", "telnet", "terminal",
		"test", "traceroute", "undebug", "write",
	],
	"show": [
		"access-lists", "arp", "bgp", "boot", "cdp", "clock", "controllers", "environment", "etherchannel",
		"interfaces", "inventory", "ip", "ipv6", "license", "lldp", "logging", "mac", "memory", "module", "ntp",
		"platform", "power", "processes", "redundancy", "route", "running-config", "spanning-tree", "standby",
		"startup-config", "tech-support", "users", "version", "vlan", "vrf", "vtp",
	],
	"show interfaces": ["counters", "description", "status", "summary", "trunk"],
	"show ip": ["access-lists", "arp", "bgp", "cef", "dhcp", "eigrp", "interface", "nat", "ospf", "pim", "protocols", "route", "vrf"],
	"show ip interface": ["brief"],
	"show ip route": ["summary", "vrf"],
	"show ip bgp": ["neighbors", "summary"],
	"show ip ospf": ["database", "interface", "neighbor"],
	"show ipv6": ["interface", "neighbors", "route"],
	"show ipv6 interface": ["brief"],
	"show processes": ["cpu", "memory"],
	"show processes cpu": ["history", "sorted"],
	"show processes memory": ["sorted"],
	"show cdp": ["interface", "neighbors"],
	"show cdp neighbors": ["detail"],
	"show lldp": ["interface", "neighbors"],
	"show lldp neighbors": ["detail"],
	"show spanning-tree": ["detail", "summary", "vlan"],
	"show mac": ["address-table"],
	"show running-config": ["all", "brief", "interface"],
	"configure": ["memory", "network", "replace", "terminal"],
	"write": ["erase", "memory", "network", "terminal"],
	"show environment": ["all"],
	"show platform": ["resources", "software"],
	"show logging": ["onboard"],
	"show redundancy": ["states"],
	"show etherchannel": ["summary"],
}

# Output filters (IOS-XE's) a word after a pipe may abbreviate, and the ones allowed: those
# that only select lines. redirect, tee and append write files.
cli_filters := ["append", "begin", "count", "exclude", "format", "include", "redirect", "section", "tee"]

cli_allowed_filters := ["begin", "count", "exclude", "include", "section"]
