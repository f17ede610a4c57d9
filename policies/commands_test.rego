# Tests of commands.rego: the command allowlists per role, the commands tools build
# themselves, and the evasions normalisation must defeat.
package gatehouse.authz_test

import rego.v1

import data.gatehouse.authz

cmd_call(groups, srv, name, args) := {
	"subject": subject(groups),
	"mcp": {"server": srv, "kind": "request", "method": "tools/call", "name": name, "arguments": args, "via": "mcp"},
	"tool": show_tool,
}

run(groups, commands) := cmd_call(groups, "radkit", "run_commands", {"devices": ["lon-b1-core-01"], "commands": commands})

cc_run(groups, commands) := cmd_call(groups, "catalyst-center", "run_show_commands", {"device_ids": ["d1"], "commands": commands})

# The service desk has no execute grant on radkit or catalyst-center in the reference RBAC;
# these grants show what its command allowlist permits once a team gives it one.
sd_execute := object.union(data.gatehouse.rbac.roles, {"service-desk": {"radkit": ["execute"], "catalyst-center": ["read", "execute"]}})

not_allowed(name, c, n, roles, srv, patterns) := sprintf("%s: command %q (normal form %q) is not allowed for your roles %v on server %q, whose command patterns are %v; ask your security team to add a pattern to gatehouse.commands.allow", [name, c, n, roles, srv, patterns])

ne_patterns := ["ping *", "show *", "traceroute *"]

sd_patterns := ["show interfaces *", "show ip interface brief", "show version"]

# network engineers: show, ping and traceroute, with abbreviations and output filters

test_cmd_network_engineer_runs_show_ping_traceroute if {
	authz.allow with input as run(["network-engineers"], [
		"show version", "sh ip int br", "SH RUN | i hostname", "ping 10.10.0.11", "traceroute 172.16.1.2",
		"show run | sec interface", "show ip int br | ex unassigned | count",
	])
}

test_cmd_network_engineer_catalyst_center if {
	authz.allow with input as cc_run(["network-engineers"], ["show version", "ping 10.20.0.1"])
	inp := cc_run(["network-engineers"], ["dir flash:"])
	not authz.allow with input as inp
	authz.reasons == {not_allowed("run_show_commands", "dir flash:", "dir flash:", ["network-engineers"], "catalyst-center", ne_patterns)} with input as inp
}

test_cmd_network_engineer_never_configures if {
	inp := run(["network-engineers"], ["show clock", "conf t", "wr mem"])
	not authz.allow with input as inp
	authz.reasons == {
		not_allowed("run_commands", "conf t", "configure terminal", ["network-engineers"], "radkit", ne_patterns),
		not_allowed("run_commands", "wr mem", "write memory", ["network-engineers"], "radkit", ne_patterns),
	} with input as inp
}

# service desk: show version, show interfaces, show ip interface brief

test_cmd_service_desk_allowlist if {
	authz.allow with input as run(["service-desk"], ["show version", "SH VER", "show   version", "sh ip int br", "sh int", "show interfaces Gi1/0/1", "show int | inc line protocol"])
		with data.gatehouse.rbac.roles as sd_execute
	authz.allow with input as cc_run(["service-desk"], ["show version", "show ip interface brief"])
		with data.gatehouse.rbac.roles as sd_execute
}

test_cmd_service_desk_denied_other_commands if {
	inp := run(["service-desk"], ["show run | include password", "ping 10.0.0.1", "show ip route"])
	not authz.allow with input as inp with data.gatehouse.rbac.roles as sd_execute
	authz.reasons == {
		not_allowed("run_commands", "show run | include password", "show running-config | include password", ["service-desk"], "radkit", sd_patterns),
		not_allowed("run_commands", "ping 10.0.0.1", "ping 10.0.0.1", ["service-desk"], "radkit", sd_patterns),
		not_allowed("run_commands", "show ip route", "show ip route", ["service-desk"], "radkit", sd_patterns),
	} with input as inp
		with data.gatehouse.rbac.roles as sd_execute
}

test_cmd_service_desk_still_needs_execute if {
	inp := cc_run(["service-desk"], ["show version"])
	not authz.allow with input as inp
	authz.reasons == {`tool "run_show_commands" on server "catalyst-center" needs "execute" access; your roles ["service-desk"] grant ["read"] there`} with input as inp
}

# admin: the network engineers' list on every server; the adapters refuse the rest anyway

test_cmd_admin if {
	authz.allow with input as run(["admin"], ["show tech-support", "ping 10.0.0.1"])
	authz.allow with input as cc_run(["admin"], ["traceroute 10.0.0.1"])
	inp := run(["admin"], ["reload"])
	not authz.allow with input as inp
	authz.reasons == {not_allowed("run_commands", "reload", "reload", ["admin"], "radkit", ne_patterns)} with input as inp
}

# developers: no grant and no patterns

test_cmd_developers if {
	inp := run(["developers"], ["show version"])
	not authz.allow with input as inp
	authz.reasons == {
		`tool "run_commands" on server "radkit" needs "execute" access; your roles ["developers"] grant [] there`,
		not_allowed("run_commands", "show version", "show version", ["developers"], "radkit", []),
	} with input as inp
}

# evasions: each is refused for every role, with a reason naming the command

refused(c, reason) := sprintf("run_commands: command %q is refused: %s", [c, reason])

chaining(ch) := sprintf("it contains %q, which could chain, redirect or alter commands; send one plain command per entry", [ch])

ascii_only(ch) := sprintf("it contains the non-ASCII character %q; only printable ASCII, spaces and tabs are accepted", [ch])

test_cmd_evasions if {
	every c, reason in {
		"show version ; reload": chaining(";"),
		"show version;reload": chaining(";"),
		"show clock && reload": chaining("&"),
		"show run > bootflash:run.txt": chaining(">"),
		"show `reload`": chaining("`"),
		"show $(reload)": chaining("$("),
		"show ?": chaining("?"),
		"show version\nreload": "it contains a line break; send each command as its own entry",
		"show version\r\nreload": "it contains a line break; send each command as its own entry",
		"show version\u001a": "it contains a control character; only printable ASCII, spaces and tabs are accepted",
		"\u0455how version": ascii_only("\u0455"),
		"show\u00a0version": ascii_only("\u00a0"),
		"\uff53\uff48\uff4f\uff57 version": ascii_only("\uff53"),
		"show run | redirect flash:run.txt": `the output filter "redirect" is not allowed (allowed: begin, count, exclude, include, section)`,
		"show run | tee flash:run.txt": `the output filter "tee" is not allowed (allowed: begin, count, exclude, include, section)`,
		"show run | append flash:run.txt": `the output filter "append" is not allowed (allowed: begin, count, exclude, include, section)`,
		"show run | r flash:run.txt": `the output filter "redirect" is not allowed (allowed: begin, count, exclude, include, section)`,
		"show run |": "it has an empty pipe segment",
		"": "it is empty",
		" \t ": "it is empty",
	} {
		inp := run(["admin"], [c])
		not authz.allow with input as inp
		authz.reasons == {refused(c, reason)} with input as inp
	}
}

test_cmd_too_long if {
	c := concat("", ["show ", concat("", ["a" | some _ in numbers.range(1, 600)])])
	inp := run(["admin"], [c])
	not authz.allow with input as inp
	authz.reasons == {refused(c, "it is longer than 512 characters")} with input as inp
}

test_cmd_tabs_and_spaces if {
	authz.allow with input as run(["service-desk"], ["show\tversion", "  show version  ", "\tsh\t\tver\t", "show\tip interface\t brief"])
		with data.gatehouse.rbac.roles as sd_execute
}

# malformed arguments: refused by the policy too, not only by the adapter's schema check

test_cmd_malformed_arguments if {
	inp := cmd_call(["network-engineers"], "radkit", "run_commands", {"devices": ["x"], "commands": "show version ; reload"})
	not authz.allow with input as inp
	authz.reasons == {"run_commands: commands must be a list of commands, one command per entry"} with input as inp
	inp2 := run(["network-engineers"], ["show version", 7])
	not authz.allow with input as inp2
	authz.reasons == {"run_commands: every command must be a string; got 7"} with input as inp2
}

# tools that build their commands: the built command is checked like any other

ping(groups, args) := cmd_call(groups, "radkit", "ping_from_device", args)

test_cmd_ping_built_from_arguments if {
	authz.cli_generated("ping", {"device": "d", "target": "10.0.0.1"}) == "ping 10.0.0.1"
	authz.cli_generated("ping", {"device": "d", "target": "10.0.0.1", "vrf": "MGMT", "source": "Loopback0", "count": 5}) == "ping vrf MGMT 10.0.0.1 source Loopback0 repeat 5"
	authz.cli_generated("ping", {"device": "d", "target": "10.0.0.1", "vrf": "", "count": 0}) == "ping 10.0.0.1"
	authz.cli_generated("traceroute", {"device": "d", "target": "10.0.0.1", "source": "Vlan100"}) == "traceroute 10.0.0.1 source Vlan100"
	authz.allow with input as ping(["network-engineers"], {"device": "lon-b1-core-01", "target": "10.20.0.1", "vrf": "MGMT", "count": 3})
	authz.allow with input as cmd_call(["network-engineers"], "radkit", "traceroute_from_device", {"device": "lon-b1-core-01", "target": "10.20.0.1"})
}

test_cmd_ping_denied_to_service_desk if {
	inp := ping(["service-desk"], {"device": "lon-b1-core-01", "target": "10.20.0.1"})
	not authz.allow with input as inp with data.gatehouse.rbac.roles as sd_execute
	authz.reasons == {not_allowed("ping_from_device", "ping 10.20.0.1", "ping 10.20.0.1", ["service-desk"], "radkit", sd_patterns)} with input as inp with data.gatehouse.rbac.roles as sd_execute
}

test_cmd_ping_target_cannot_chain if {
	inp := ping(["network-engineers"], {"device": "lon-b1-core-01", "target": "10.20.0.1\nreload"})
	not authz.allow with input as inp
	authz.reasons == {sprintf("ping_from_device: command %q is refused: it contains a line break; send each command as its own entry", ["ping 10.20.0.1\nreload"])} with input as inp
	not authz.allow with input as ping(["network-engineers"], {"device": "lon-b1-core-01", "target": "10.20.0.1;reload"})
}

test_cmd_diagnostics_bundle if {
	authz.allow with input as cmd_call(["network-engineers"], "radkit", "collect_diagnostics", {"device": "lon-b1-core-01"})
	inp := cmd_call(["service-desk"], "radkit", "collect_diagnostics", {"device": "lon-b1-core-01"})
	not authz.allow with input as inp with data.gatehouse.rbac.roles as sd_execute
	authz.reasons == {not_allowed("collect_diagnostics", c, c, ["service-desk"], "radkit", sd_patterns) |
		some c in ["show clock", "show inventory", "show processes cpu", "show logging", "show cdp neighbors"]
	} with input as inp with data.gatehouse.rbac.roles as sd_execute
}

# tools that run no commands are not concerned

test_cmd_other_tools if {
	count(authz.call_commands) == 0 with input as cmd_call(["network-engineers"], "radkit", "list_devices", {"name": "lon"})
	count(authz.refusals) == 0 with input as cmd_call(["network-engineers"], "radkit", "list_devices", {"name": "lon"})
	count(authz.refusals) == 0 with input as {"subject": subject(["network-engineers"]), "mcp": {"server": "radkit", "kind": "request", "method": "tools/call", "name": "run_commands", "via": "mcp"}, "tool": show_tool}
	count(authz.refusals) == 0 with input as {"subject": subject(["network-engineers"]), "mcp": {"server": "radkit", "kind": "request", "method": "tools/list", "via": "mcp"}}
}

# patterns: a last word "*" matches the rest (or nothing); case and spaces do not matter

test_cmd_patterns if {
	authz.cli_pattern_matches("show interfaces *", "show interfaces")
	authz.cli_pattern_matches("show interfaces *", "show interfaces gi1/0/1 counters")
	authz.cli_pattern_matches("*", "show version")
	authz.cli_pattern_matches("Show  Version", "show version")
	authz.cli_pattern_matches("show interfaces gi1/0/1", "show interfaces Gi1/0/1")
	authz.cli_pattern_matches("show ip route vrf *", "show ip route vrf MGMT")
	not authz.cli_pattern_matches("show version", "show version detail")
	not authz.cli_pattern_matches("show ip interface *", "show ip")
	not authz.cli_pattern_matches("show *", "ping 10.0.0.1")
}

# Normalisation vectors: a hand copy of part of adapters/kit/devicecmd/testdata/normalise.json,
# which the Go normaliser and (through OPA, in adapters/kit/devicecmd) this Rego one are both
# checked against in full.
test_cli_normalise_vectors if {
	every input_cmd, want in {
		"show version": "show version",
		"SH VER": "show version",
		"show   version": "show version",
		"  show version  ": "show version",
		"show\tversion": "show version",
		"sh ip int br": "show ip interface brief",
		"show interface": "show interfaces",
		"sh int Gi1/0/1": "show interfaces Gi1/0/1",
		"show run | inc Password": "show running-config | include Password",
		"show run|include  ip  address": "show running-config | include ip address",
		"show ip int br | ex unassigned | count": "show ip interface brief | exclude unassigned | count",
		"sh proc cpu sort": "show processes cpu sorted",
		"show cdp nei det": "show cdp neighbors detail",
		"show in": "show in",
		"sh ver extra words here": "show version extra words here",
		"pi vrf MGMT 10.10.0.1": "ping vrf MGMT 10.10.0.1",
		"SHOW RUN | INCLUDE Hostname": "show running-config | include Hostname",
		"trace 172.16.1.2": "traceroute 172.16.1.2",
		"conf t": "configure terminal",
		"u all": "undebug all",
		"c": "c",
	} {
		authz.cli_normalise(input_cmd) == {"normalised": want}
	}
	every input_cmd, code in {
		"show running-config | redirect flash:x": "pipe",
		"show run | file disk0:x": "pipe",
		"| include x": "pipe",
		"show version ; reload": "chaining",
		"show clock && reload": "chaining",
		"show version\nreload": "line-break",
		"show version\u0003": "control",
		"show version\u2028reload": "non-ascii",
		"\t": "empty",
	} {
		authz.cli_normalise(input_cmd).refused == code
	}
}
