package sim

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit/devicecmd"
)

// run returns what d's CLI prints for cmd (without the echo and the prompt), with "\n" line
// ends. Commands are read the way the device would: abbreviations expand (through the same
// normaliser the adapters use), output filters apply. What the simulated CLIs answer:
//
//	show version, show interfaces [name], show ip interface brief, show inventory, show clock,
//	show running-config, show logging, show processes cpu [sorted], show cdp neighbors,
//	ping, traceroute, terminal length 0
//
// in IOS-XE, NX-OS or IOS-XR form. Anything else is "% Invalid input detected".
func (n *network) run(d *Device, raw string, now time.Time) string {
	norm, err := devicecmd.Normalise(raw)
	if err != nil {
		return invalid(0)
	}
	parts := strings.Split(norm, " | ")
	out, ok := n.command(d, parts[0], now)
	if !ok {
		return invalid(len(strings.Fields(parts[0])[0]) + 1)
	}
	for _, f := range parts[1:] {
		out = filter(out, f)
	}
	if d.Type == IOSXR && strings.HasPrefix(parts[0], "show") {
		out = xrStamp(now) + "\n" + out
	}
	return out
}

func invalid(col int) string {
	return strings.Repeat(" ", col+len("router#")) + "^\n% Invalid input detected at '^' marker.\n"
}

func (n *network) command(d *Device, c string, now time.Time) (string, bool) {
	w := strings.Fields(c)
	switch {
	case c == "terminal length 0" || c == "terminal width 511":
		return "", true
	case c == "show version":
		return showVersion(d, now), true
	case c == "show interfaces":
		return showInterfaces(d, d.Interfaces), true
	case len(w) == 3 && w[0] == "show" && w[1] == "interfaces":
		i := findInterface(d, w[2])
		if i == nil {
			return "", false
		}
		return showInterfaces(d, []Interface{*i}), true
	case c == "show ip interface brief":
		return ipIntBrief(d), true
	case c == "show inventory":
		return inventory(d), true
	case c == "show clock":
		return clock(d, now), true
	case c == "show running-config":
		return runningConfig(d, now), true
	case c == "show logging":
		return logging(d, now), true
	case c == "show processes cpu" || c == "show processes cpu sorted":
		return processes(d), true
	case c == "show cdp neighbors":
		return n.cdp(d), true
	case w[0] == "ping" && len(w) > 1:
		return n.ping(d, w[1:], now), true
	case w[0] == "traceroute" && len(w) > 1:
		return n.traceroute(d, w[1:], now), true
	}
	return "", false
}

// filter applies one output filter (include, exclude, begin, section, count) the way IOS does:
// the argument is a regular expression.
func filter(out, f string) string {
	kw, arg, _ := strings.Cut(f, " ")
	re, err := regexp.Compile(arg)
	if err != nil {
		return "% Invalid regular expression\n"
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var keep []string
	switch kw {
	case "include":
		for _, l := range lines {
			if re.MatchString(l) {
				keep = append(keep, l)
			}
		}
	case "exclude":
		for _, l := range lines {
			if !re.MatchString(l) {
				keep = append(keep, l)
			}
		}
	case "begin":
		for i, l := range lines {
			if re.MatchString(l) {
				keep = lines[i:]
				break
			}
		}
	case "section":
		in := false
		for _, l := range lines {
			top := !strings.HasPrefix(l, " ")
			if top {
				in = re.MatchString(l)
			}
			if in {
				keep = append(keep, l)
			}
		}
	case "count":
		c := 0
		for _, l := range lines {
			if re.MatchString(l) {
				c++
			}
		}
		return fmt.Sprintf("Number of lines which match regexp = %d\n", c)
	}
	if len(keep) == 0 {
		return ""
	}
	return strings.Join(keep, "\n") + "\n"
}

// num is a stable pseudo-random number for a device and a name (counters, serials).
func num(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func uptime(s int64, sep string) string {
	units := []struct {
		n    int64
		name string
	}{{365 * 86400, "year"}, {7 * 86400, "week"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}}
	var parts []string
	for _, u := range units {
		if v := s / u.n; v > 0 {
			s -= v * u.n
			name := u.name
			if v != 1 {
				name += "s"
			}
			parts = append(parts, fmt.Sprintf("%d %s", v, name))
		}
	}
	if len(parts) == 0 {
		return "0 minutes"
	}
	return strings.Join(parts, sep)
}

// padded is IOS-XE's zero-padded version: 17.9.4a → 17.09.04a.
func padded(v string) string {
	p := strings.Split(v, ".")
	for i := 1; i < len(p); i++ {
		if len(p[i]) > 0 && (len(p[i]) == 1 || p[i][1] < '0' || p[i][1] > '9') {
			p[i] = "0" + p[i]
		}
	}
	return strings.Join(p, ".")
}

func release(v string) string {
	switch {
	case strings.HasPrefix(v, "17.6."):
		return "Bengaluru"
	case strings.HasPrefix(v, "17.12."):
		return "Dublin"
	}
	return "Cupertino"
}

func isSwitch(d *Device) bool {
	return strings.HasPrefix(d.Platform, "C9") && !strings.HasPrefix(d.Platform, "C9800")
}

func dottedMAC(mac string, offset uint64) string {
	h := strings.ReplaceAll(mac, ":", "")
	v, _ := strconv.ParseUint(h, 16, 64)
	h = fmt.Sprintf("%012x", v+offset)
	return h[0:4] + "." + h[4:8] + "." + h[8:12]
}

func showVersion(d *Device, now time.Time) string {
	switch d.Type {
	case NXOS:
		return nxosVersion(d, now)
	case IOSXR:
		return xrVersion(d)
	}
	var b strings.Builder
	image, family := "X86_64_LINUX_IOSD-UNIVERSALK9-M", "ISR Software"
	switch {
	case isSwitch(d):
		image, family = "CAT9K_IOSXE", "Catalyst L3 Switch Software"
	case strings.HasPrefix(d.Platform, "C9800"):
		image, family = "C9800_IOSXE-K9", "C9800 Software"
	case strings.HasPrefix(d.Platform, "C8300"):
		family = "c8000be Software"
	}
	restarted := now.Add(-time.Duration(d.UptimeSeconds) * time.Second).UTC()
	fmt.Fprintf(&b, "Cisco IOS XE Software, Version %s\n", padded(d.Version))
	fmt.Fprintf(&b, "Cisco IOS Software [%s], %s (%s), Version %s, RELEASE SOFTWARE (fc2)\n", release(d.Version), family, image, d.Version)
	b.WriteString("Technical Support: http://www.cisco.com/techsupport\nCopyright (c) 1986-2023 by Cisco Systems, Inc.\n")
	b.WriteString("Compiled Fri 20-Oct-23 10:44 by mcpre\n\n\n")
	b.WriteString("Cisco IOS-XE software, Copyright (c) 2005-2023 by cisco Systems, Inc.\n")
	b.WriteString("All rights reserved.  Certain components of Cisco IOS-XE software are\n")
	b.WriteString("licensed under the GNU General Public License (\"GPL\") Version 2.0.  The\n")
	b.WriteString("software code licensed under GPL Version 2.0 is free software that comes\n")
	b.WriteString("with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such\n")
	b.WriteString("GPL code under the terms of GPL Version 2.0.  For more details, see the\n")
	b.WriteString("documentation or \"License Notice\" file accompanying the IOS-XE software,\n")
	b.WriteString("or the applicable URL provided on the flyer accompanying the IOS-XE\nsoftware.\n\n\n")
	b.WriteString("ROM: IOS-XE ROMMON\n")
	if isSwitch(d) {
		b.WriteString("BOOTLDR: System Bootstrap, Version 17.9.1r[FC2], RELEASE SOFTWARE (P)\n")
	}
	fmt.Fprintf(&b, "\n%s uptime is %s\n", d.Name, uptime(d.UptimeSeconds, ", "))
	fmt.Fprintf(&b, "Uptime for this control processor is %s\n", uptime(d.UptimeSeconds-120, ", "))
	b.WriteString("System returned to ROM by Reload Command\n")
	fmt.Fprintf(&b, "System restarted at %s\n", restarted.Format("15:04:05 MST Mon Jan 2 2006"))
	if isSwitch(d) {
		b.WriteString("System image file is \"flash:packages.conf\"\n")
	} else {
		fmt.Fprintf(&b, "System image file is \"bootflash:packages.conf\"\n")
	}
	b.WriteString("Last reload reason: Reload Command\n\n\n\n")
	b.WriteString("This product contains cryptographic features and is subject to United\n")
	b.WriteString("States and local country laws governing import, export, transfer and\nuse. Delivery of Cisco cryptographic products does not imply\n")
	b.WriteString("third-party authority to import, export, distribute or use encryption.\n\n")
	b.WriteString("Technology Package License Information:\n\n")
	b.WriteString("------------------------------------------------------------------------------\n")
	b.WriteString("Technology-package                                     Technology-package\n")
	b.WriteString("Current                        Type                       Next reboot\n")
	b.WriteString("------------------------------------------------------------------------------\n")
	b.WriteString("network-advantage       Smart License                 network-advantage\n")
	b.WriteString("dna-advantage           Subscription Smart License    dna-advantage\n\n\n")
	b.WriteString("Smart Licensing Status: Smart Licensing Using Policy\n\n")
	switch {
	case isSwitch(d):
		fmt.Fprintf(&b, "cisco %s (X86) processor with 1331521K/6147K bytes of memory.\n", d.Platform)
	case strings.HasPrefix(d.Platform, "C9800"):
		fmt.Fprintf(&b, "cisco %s (KATAR) processor (revision KATAR) with 4016888K/6147K bytes of memory.\n", d.Platform)
	default:
		fmt.Fprintf(&b, "cisco %s (2RU) processor with 1795979K/6147K bytes of memory.\n", d.Platform)
	}
	fmt.Fprintf(&b, "Processor board ID %s\n", d.Serial)
	if !isSwitch(d) {
		b.WriteString("Router operating mode: Autonomous\n")
	}
	counts := map[string]int{}
	var order []string
	for _, i := range d.Interfaces {
		kind := ifaceKind(i.Name)
		if kind == "" {
			continue
		}
		if counts[kind] == 0 {
			order = append(order, kind)
		}
		counts[kind]++
	}
	for _, k := range order {
		fmt.Fprintf(&b, "%d %s interfaces\n", counts[k], k)
	}
	b.WriteString("2048K bytes of non-volatile configuration memory.\n16777216K bytes of physical memory.\n")
	b.WriteString("11161600K bytes of Bootflash at bootflash:.\n\n")
	if isSwitch(d) {
		fmt.Fprintf(&b, "Base Ethernet MAC Address          : %s\n", d.MAC)
		b.WriteString("Motherboard Assembly Number        : 73-17953-06\n")
		fmt.Fprintf(&b, "Motherboard Serial Number          : FOC%08d\n", num(d.Name)%100000000)
		b.WriteString("Model Revision Number              : B0\nMotherboard Revision Number        : A0\n")
		fmt.Fprintf(&b, "Model Number                       : %s\n", d.Platform)
		fmt.Fprintf(&b, "System Serial Number               : %s\n", d.Serial)
		b.WriteString("CLEI Code Number                   : \n\n\n")
		b.WriteString("Switch Ports Model              SW Version        SW Image              Mode   \n")
		b.WriteString("------ ----- -----              ----------        ----------            ----   \n")
		ports := 0
		for _, i := range d.Interfaces {
			if ifaceKind(i.Name) != "" && !strings.HasPrefix(i.Name, "Vlan") {
				ports++
			}
		}
		fmt.Fprintf(&b, "*    1 %-5d %-18s %-17s %-21s INSTALL\n", ports, d.Platform, padded(d.Version), "CAT9K_IOSXE")
	}
	b.WriteString("\n\nConfiguration register is 0x102\n")
	return b.String()
}

func ifaceKind(name string) string {
	for prefix, kind := range map[string]string{
		"GigabitEthernet": "Gigabit Ethernet", "TenGigabitEthernet": "Ten Gigabit Ethernet",
		"TwentyFiveGigE": "Twenty Five Gigabit Ethernet", "HundredGigE": "Hundred Gigabit Ethernet",
		"Vlan": "Virtual Ethernet",
	} {
		if strings.HasPrefix(name, prefix) {
			return kind
		}
	}
	return ""
}

func nxosVersion(d *Device, now time.Time) string {
	var b strings.Builder
	b.WriteString("Cisco Nexus Operating System (NX-OS) Software\nTAC support: http://www.cisco.com/tac\n")
	b.WriteString("Copyright (C) 2002-2023, Cisco and/or its affiliates.\nAll rights reserved.\n\n")
	b.WriteString("Software\n  BIOS: version 05.47\n")
	fmt.Fprintf(&b, "  NXOS: version %s [Maintenance Release]\n", d.Version)
	b.WriteString("  BIOS compile time:  04/28/2022\n")
	fmt.Fprintf(&b, "  NXOS image file is: bootflash:///nxos64-cs.%s.M.bin\n", strings.NewReplacer("(", ".", ")", "").Replace(d.Version))
	b.WriteString("  NXOS compile time:  8/10/2023 14:00:00 [08/10/2023 21:23:39]\n\n")
	fmt.Fprintf(&b, "Hardware\n  cisco Nexus9000 %s Chassis \n", strings.TrimPrefix(d.Platform, "N9K-"))
	b.WriteString("  Intel(R) Xeon(R) CPU D-1528 @ 1.90GHz with 32836088 kB of memory.\n")
	fmt.Fprintf(&b, "  Processor Board ID %s\n\n  Device name: %s\n  bootflash: 115805708 kB\n\n", d.Serial, d.Name)
	s := d.UptimeSeconds
	fmt.Fprintf(&b, "Kernel uptime is %d day(s), %d hour(s), %d minute(s), %d second(s)\n\n", s/86400, s%86400/3600, s%3600/60, s%60)
	fmt.Fprintf(&b, "Last reset at 482113 usecs after %s\n", now.Add(-time.Duration(s)*time.Second).UTC().Format("Mon Jan  2 15:04:05 2006"))
	b.WriteString("  Reason: Reset Requested by CLI command reload\n")
	return b.String()
}

func xrVersion(d *Device) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cisco IOS XR Software, Version %s\nCopyright (c) 2013-2023 by Cisco Systems, Inc.\n\n", d.Version)
	b.WriteString("Build Information:\n Built By     : sjc-builder\n Built On     : Wed Jun 14 02:15:12 PDT 2023\n")
	fmt.Fprintf(&b, " Version      : %s\n Label        : %s\n\n", d.Version, d.Version)
	fmt.Fprintf(&b, "cisco ASR9K (%s) processor\n", d.Platform)
	fmt.Fprintf(&b, "System uptime is %s\n", uptime(d.UptimeSeconds, " "))
	return b.String()
}

func xrStamp(now time.Time) string { return now.UTC().Format("Mon Jan _2 15:04:05.000 MST") }

// findInterface resolves an interface name as the CLI does: gi1/0/1, Gig1/0/1 and
// GigabitEthernet1/0/1 are the same interface.
func findInterface(d *Device, name string) *Interface {
	alpha, rest := splitName(name)
	if alpha == "" {
		return nil
	}
	for k := range d.Interfaces {
		fa, fr := splitName(d.Interfaces[k].Name)
		if strings.HasPrefix(strings.ToLower(fa), strings.ToLower(alpha)) && strings.EqualFold(fr, rest) {
			return &d.Interfaces[k]
		}
	}
	return nil
}

// splitName splits an interface name before its first digit: GigabitEthernet, 1/0/1.
func splitName(name string) (string, string) {
	i := strings.IndexAny(name, "0123456789")
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

func hardware(name string) string {
	switch {
	case strings.HasPrefix(name, "Vlan"):
		return "Ethernet SVI"
	case strings.HasPrefix(name, "Loopback"):
		return "Loopback"
	case strings.HasPrefix(name, "TenGigabitEthernet"):
		return "Ten Gigabit Ethernet"
	case strings.HasPrefix(name, "TwentyFiveGigE"):
		return "Twenty Five Gigabit Ethernet"
	case strings.HasPrefix(name, "HundredGigE"):
		return "Hundred Gigabit Ethernet"
	}
	return "Gigabit Ethernet"
}

func showInterfaces(d *Device, ifs []Interface) string {
	var b strings.Builder
	for k, i := range ifs {
		switch d.Type {
		case NXOS:
			nxosInterface(&b, d, i, uint64(k))
		case IOSXR:
			xrInterface(&b, d, i, uint64(k))
		default:
			iosInterface(&b, d, i, uint64(k))
		}
	}
	return b.String()
}

type counters struct {
	inPkts, inBytes, outPkts, outBytes, inRate, outRate, inPPS, outPPS, bcast, mcast, resets, crc uint64
}

func countersFor(d *Device, i Interface) counters {
	if i.Protocol != "up" {
		return counters{}
	}
	n := num(d.Name, i.Name)
	c := counters{inPkts: n%90000000 + 100000, outPkts: (n>>20)%90000000 + 100000}
	c.inBytes, c.outBytes = c.inPkts*412, c.outPkts*538
	c.inRate, c.outRate = (n>>8)%900000+1000, (n>>16)%900000+1000
	c.inPPS, c.outPPS = c.inRate/3300+1, c.outRate/4300+1
	c.bcast, c.mcast = c.inPkts/97, c.inPkts/131
	c.resets = (n >> 30) % 4
	if strings.Contains(i.Description, "Uplink") {
		c.crc = (n >> 40) % 20
	}
	return c
}

func iosInterface(b *strings.Builder, d *Device, i Interface, k uint64) {
	state := ""
	if isSwitch(d) && i.IP == "" && !strings.HasPrefix(i.Name, "Vlan") {
		switch {
		case i.Status == "up":
			state = " (connected)"
		case i.Status == "administratively down":
			state = " (disabled)"
		default:
			state = " (notconnect)"
		}
	}
	fmt.Fprintf(b, "%s is %s, line protocol is %s%s \n", i.Name, i.Status, i.Protocol, state)
	hw := hardware(i.Name)
	if hw == "Loopback" {
		b.WriteString("  Hardware is Loopback\n")
	} else {
		mac := dottedMAC(d.MAC, k+1)
		fmt.Fprintf(b, "  Hardware is %s, address is %s (bia %s)\n", hw, mac, mac)
	}
	if i.Description != "" {
		fmt.Fprintf(b, "  Description: %s\n", i.Description)
	}
	if i.IP != "" {
		fmt.Fprintf(b, "  Internet address is %s\n", i.IP)
	}
	bw := i.SpeedMbps * 1000
	switch {
	case hw == "Loopback":
		b.WriteString("  MTU 1514 bytes, BW 8000000 Kbit/sec, DLY 5000 usec, \n")
	case hw == "Ethernet SVI":
		b.WriteString("  MTU 1500 bytes, BW 1000000 Kbit/sec, DLY 10 usec, \n")
	default:
		fmt.Fprintf(b, "  MTU 1500 bytes, BW %d Kbit/sec, DLY 10 usec, \n", bw)
	}
	c := countersFor(d, i)
	fmt.Fprintf(b, "     reliability 255/255, txload %d/255, rxload %d/255\n", c.outRate*255/uint64(max(bw, 1000000)*1000)+1, c.inRate*255/uint64(max(bw, 1000000)*1000)+1)
	if hw == "Loopback" {
		b.WriteString("  Encapsulation LOOPBACK, loopback not set\n")
	} else {
		b.WriteString("  Encapsulation ARPA, loopback not set\n")
	}
	b.WriteString("  Keepalive set (10 sec)\n")
	if hw != "Loopback" && hw != "Ethernet SVI" {
		duplex, speed := "Full-duplex", fmt.Sprintf("%dMb/s", i.SpeedMbps)
		if i.Status != "up" {
			duplex, speed = "Auto-duplex", "Auto-speed"
		}
		media := "10/100/1000BaseTX"
		if i.SpeedMbps >= 10000 {
			media = map[int]string{10000: "SFP-10GBase-SR", 25000: "SFP-25GBase-SR", 100000: "QSFP 100G SR4"}[i.SpeedMbps]
		}
		fmt.Fprintf(b, "  %s, %s, link type is auto, media type is %s\n", duplex, speed, media)
		b.WriteString("  input flow-control is on, output flow-control is unsupported \n")
	}
	b.WriteString("  ARP type: ARPA, ARP Timeout 04:00:00\n")
	if i.Protocol == "up" {
		b.WriteString("  Last input 00:00:00, output 00:00:01, output hang never\n")
	} else {
		b.WriteString("  Last input never, output never, output hang never\n")
	}
	b.WriteString("  Last clearing of \"show interface\" counters never\n")
	b.WriteString("  Input queue: 0/2000/0/0 (size/max/drops/flushes); Total output drops: 0\n")
	b.WriteString("  Queueing strategy: fifo\n  Output queue: 0/40 (size/max)\n")
	fmt.Fprintf(b, "  5 minute input rate %d bits/sec, %d packets/sec\n", c.inRate, c.inPPS)
	fmt.Fprintf(b, "  5 minute output rate %d bits/sec, %d packets/sec\n", c.outRate, c.outPPS)
	fmt.Fprintf(b, "     %d packets input, %d bytes, 0 no buffer\n", c.inPkts, c.inBytes)
	fmt.Fprintf(b, "     Received %d broadcasts (%d multicasts)\n", c.bcast, c.mcast)
	b.WriteString("     0 runts, 0 giants, 0 throttles \n")
	fmt.Fprintf(b, "     %d input errors, %d CRC, 0 frame, 0 overrun, 0 ignored\n", c.crc, c.crc)
	fmt.Fprintf(b, "     0 watchdog, %d multicast, 0 pause input\n", c.mcast)
	b.WriteString("     0 input packets with dribble condition detected\n")
	fmt.Fprintf(b, "     %d packets output, %d bytes, 0 underruns\n", c.outPkts, c.outBytes)
	fmt.Fprintf(b, "     Output %d broadcasts (0 multicasts)\n", c.outPkts/211)
	fmt.Fprintf(b, "     0 output errors, 0 collisions, %d interface resets\n", c.resets)
	b.WriteString("     0 unknown protocol drops\n     0 babbles, 0 late collision, 0 deferred\n")
	b.WriteString("     0 lost carrier, 0 no carrier, 0 pause output\n")
	b.WriteString("     0 output buffer failures, 0 output buffers swapped out\n")
}

func nxosInterface(b *strings.Builder, d *Device, i Interface, k uint64) {
	fmt.Fprintf(b, "%s is %s\n", i.Name, i.Status)
	fmt.Fprintf(b, "admin state is %s, Dedicated Interface\n", map[bool]string{true: "down", false: "up"}[i.Status == "administratively down"])
	mac := dottedMAC(d.MAC, k+1)
	fmt.Fprintf(b, "  Hardware: 100/1000/10000/25000 Ethernet, address: %s (bia %s)\n", mac, mac)
	if i.Description != "" {
		fmt.Fprintf(b, "  Description: %s\n", i.Description)
	}
	if i.IP != "" {
		fmt.Fprintf(b, "  Internet Address is %s\n", i.IP)
	}
	c := countersFor(d, i)
	fmt.Fprintf(b, "  MTU 1500 bytes, BW %d Kbit , DLY 10 usec\n", max(i.SpeedMbps, 1000)*1000)
	fmt.Fprintf(b, "  30 seconds input rate %d bits/sec, %d packets/sec\n", c.inRate, c.inPPS)
	fmt.Fprintf(b, "  30 seconds output rate %d bits/sec, %d packets/sec\n", c.outRate, c.outPPS)
	fmt.Fprintf(b, "  RX\n    %d unicast packets  %d multicast packets  %d broadcast packets\n", c.inPkts, c.mcast, c.bcast)
	fmt.Fprintf(b, "    %d input packets  %d bytes\n", c.inPkts, c.inBytes)
	fmt.Fprintf(b, "  TX\n    %d unicast packets  0 multicast packets  0 broadcast packets\n", c.outPkts)
	fmt.Fprintf(b, "    %d output packets  %d bytes\n\n", c.outPkts, c.outBytes)
}

func xrInterface(b *strings.Builder, d *Device, i Interface, k uint64) {
	fmt.Fprintf(b, "%s is %s, line protocol is %s \n  Interface state transitions: 1\n", i.Name, i.Status, i.Protocol)
	mac := dottedMAC(d.MAC, k+1)
	fmt.Fprintf(b, "  Hardware is %s, address is %s (bia %s)\n", strings.TrimRight(i.Name, "0123456789/"), mac, mac)
	if i.Description != "" {
		fmt.Fprintf(b, "  Description: %s\n", i.Description)
	}
	if i.IP != "" {
		fmt.Fprintf(b, "  Internet address is %s\n", i.IP)
	}
	c := countersFor(d, i)
	bw := max(i.SpeedMbps, 1000) * 1000
	fmt.Fprintf(b, "  MTU 1514 bytes, BW %d Kbit (Max: %d Kbit)\n", bw, bw)
	fmt.Fprintf(b, "  5 minute input rate %d bits/sec, %d packets/sec\n", c.inRate, c.inPPS)
	fmt.Fprintf(b, "  5 minute output rate %d bits/sec, %d packets/sec\n", c.outRate, c.outPPS)
	fmt.Fprintf(b, "     %d packets input, %d bytes, 0 total input drops\n", c.inPkts, c.inBytes)
	fmt.Fprintf(b, "     %d packets output, %d bytes, 0 total output drops\n\n", c.outPkts, c.outBytes)
}

func ipIntBrief(d *Device) string {
	var b strings.Builder
	switch d.Type {
	case NXOS:
		b.WriteString("IP Interface Status for VRF \"default\"(1)\n")
		b.WriteString("Interface            IP Address      Interface Status\n")
		for _, i := range d.Interfaces {
			if i.IP != "" && i.Name != "mgmt0" {
				fmt.Fprintf(&b, "%-20s %-15s protocol-%s/link-%s/admin-%s \n", strings.Replace(i.Name, "Ethernet", "Eth", 1), addrOf(i.IP), i.Protocol, i.Protocol, map[bool]string{true: "down", false: "up"}[i.Status == "administratively down"])
			}
		}
		return b.String()
	case IOSXR:
		b.WriteString("\nInterface                      IP-Address      Status          Protocol Vrf-Name\n")
		for _, i := range d.Interfaces {
			ip := "unassigned"
			if i.IP != "" {
				ip = addrOf(i.IP)
			}
			status := i.Status
			if status == "administratively down" {
				status = "Shutdown"
			} else {
				status = strings.ToUpper(status[:1]) + status[1:]
			}
			fmt.Fprintf(&b, "%-30s %-15s %-15s %-8s default \n", i.Name, ip, status, strings.ToUpper(i.Protocol[:1])+i.Protocol[1:])
		}
		return b.String()
	}
	b.WriteString("Interface              IP-Address      OK? Method Status                Protocol\n")
	for _, i := range d.Interfaces {
		ip, method := "unassigned", "unset"
		if i.IP != "" || strings.HasPrefix(i.Name, "Vlan") {
			method = "NVRAM"
		}
		if i.IP != "" {
			ip = addrOf(i.IP)
		}
		fmt.Fprintf(&b, "%-22s %-15s YES %-6s %-21s %s    \n", i.Name, ip, method, i.Status, i.Protocol)
	}
	return b.String()
}

func inventory(d *Device) string {
	var b strings.Builder
	entry := func(name, descr, pid, vid, sn string) {
		fmt.Fprintf(&b, "NAME: \"%s\", DESCR: \"%s\"\nPID: %-18s, VID: %-5s, SN: %s\n\n", name, descr, pid, vid, sn)
	}
	switch {
	case d.Type == NXOS:
		entry("Chassis", "Nexus9000 "+strings.TrimPrefix(d.Platform, "N9K-")+" Chassis", d.Platform, "V04", d.Serial)
	case d.Type == IOSXR:
		entry("Rack 0", "ASR-9901 AC Chassis", d.Platform, "V02", d.Serial)
	case isSwitch(d):
		stack := "c" + d.Platform[1:3] + "xx Stack"
		entry(stack, stack, d.Platform, "V02", d.Serial)
		entry("Switch 1", d.Platform, d.Platform, "V02", d.Serial)
	default:
		entry("Chassis", d.Series+" Chassis", d.Platform, "V07", d.Serial)
	}
	for _, m := range d.Modules {
		entry(m.Name, m.Descr, m.PID, m.VID, m.Serial)
	}
	return b.String()
}

func clock(d *Device, now time.Time) string {
	t := now.UTC()
	switch d.Type {
	case NXOS:
		return t.Format("15:04:05.000 MST Mon Jan 02 2006") + "\nTime source is NTP\n"
	case IOSXR:
		return t.Format("15:04:05.000 MST Mon Jan 2 2006") + "\n"
	}
	return "*" + t.Format("15:04:05.000 MST Mon Jan 2 2006") + "\n"
}

func runningConfig(d *Device, now time.Time) string {
	var b strings.Builder
	b.WriteString("!\n")
	fmt.Fprintf(&b, "! Last configuration change at %s by netops\n!\n", now.Add(-47*time.Minute).UTC().Format("15:04:05 MST Mon Jan 2 2006"))
	v := strings.Join(strings.Split(d.Version, ".")[:2], ".")
	fmt.Fprintf(&b, "version %s\nservice timestamps debug datetime msec\nservice timestamps log datetime msec\n", v)
	b.WriteString("service password-encryption\n!\n")
	fmt.Fprintf(&b, "hostname %s\n!\n", d.Name)
	b.WriteString("enable secret 9 $9$4Ghs2Vd8Lk9Mpj$Zx8sTq1Hn2YkWfGvUeQxA3pRcD5bNmL7oKjIhGfEdCb\n!\n")
	b.WriteString("aaa new-model\n!\nusername netops privilege 15 secret 9 $9$Q7e1r3T5y7U9i1$Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7Ab9\n!\n")
	for _, i := range d.Interfaces {
		fmt.Fprintf(&b, "interface %s\n", i.Name)
		if i.Description != "" {
			fmt.Fprintf(&b, " description %s\n", i.Description)
		}
		if i.IP != "" {
			fmt.Fprintf(&b, " ip address %s %s\n", addrOf(i.IP), mask(i.IP))
		} else {
			b.WriteString(" no ip address\n")
		}
		if i.Status == "administratively down" {
			b.WriteString(" shutdown\n")
		}
		b.WriteString("!\n")
	}
	b.WriteString("ntp server 10.0.0.123 prefer\n!\nline vty 0 4\n transport input ssh\nline vty 5 15\n transport input ssh\n!\nend\n")
	body := b.String()
	return fmt.Sprintf("Building configuration...\n\nCurrent configuration : %d bytes\n", len(body)) + body
}

func mask(cidr string) string {
	_, l, _ := strings.Cut(cidr, "/")
	n, _ := strconv.Atoi(l)
	m := ^uint32(0) << (32 - n)
	if n == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&255, m>>8&255, m&255)
}

func logging(d *Device, now time.Time) string {
	var b strings.Builder
	b.WriteString("Syslog logging: enabled (0 messages dropped, 2 messages rate-limited, 0 flushes, 0 overruns, xml disabled, filtering disabled)\n\n")
	b.WriteString("No Active Message Discriminator.\n\n\n\nNo Inactive Message Discriminator.\n\n\n")
	b.WriteString("    Console logging: disabled\n    Monitor logging: level debugging, 0 messages logged, xml disabled,\n")
	b.WriteString("    Buffer logging:  level debugging, 112 messages logged, xml disabled,\n")
	b.WriteString("                     filtering disabled\n    Trap logging: level informational, 115 message lines logged\n")
	b.WriteString("        Logging to 10.0.0.51  (udp port 514, audit disabled,\n              link up),\n\n")
	b.WriteString("Log Buffer (102400 bytes):\n\n")
	t := now.Add(-3 * time.Hour).UTC()
	stamp := func() string {
		t = t.Add(17*time.Minute + 3*time.Second)
		return t.Format("Jan _2 15:04:05.000")
	}
	fmt.Fprintf(&b, "%s: %%SYS-5-CONFIG_I: Configured from console by netops on vty0 (10.99.0.5)\n", stamp())
	for _, i := range d.Interfaces {
		if i.Status == "up" && i.Protocol == "down" {
			fmt.Fprintf(&b, "%s: %%LINEPROTO-5-UPDOWN: Line protocol on Interface %s, changed state to down\n", stamp(), i.Name)
		}
		if i.Status == "down" && i.IP != "" {
			fmt.Fprintf(&b, "%s: %%LINK-3-UPDOWN: Interface %s, changed state to down\n", stamp(), i.Name)
		}
	}
	fmt.Fprintf(&b, "%s: %%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: netops] [Source: 10.99.0.5] [localport: 22]\n", stamp())
	fmt.Fprintf(&b, "%s: %%SSH-5-SSH2_SESSION: SSH2 Session request from 10.99.0.5 (tty = 0) using crypto cipher 'aes256-gcm'\n", stamp())
	return b.String()
}

func processes(d *Device) string {
	n := num(d.Name, "cpu")
	five := n%20 + 3
	var b strings.Builder
	fmt.Fprintf(&b, "CPU utilization for five seconds: %d%%/0%%; one minute: %d%%; five minutes: %d%%\n", five, five-1, five-2)
	b.WriteString(" PID Runtime(ms)     Invoked      uSecs   5Sec   1Min   5Min TTY Process \n")
	for k, p := range []string{"IOSD ipc task", "Crypto IKMP", "ARP Input", "CDP Protocol", "IP Input", "SSH Process", "Check heaps"} {
		fmt.Fprintf(&b, "%4d %11d %11d %10d  %4.2f%%  %4.2f%%  %4.2f%%   0 %s \n", 100+k*37, (n>>uint(k))%9000000, (n>>uint(k+3))%900000, (n>>uint(k+5))%2000,
			float64(7-k)*0.31, float64(7-k)*0.27, float64(7-k)*0.25, p)
	}
	return b.String()
}

func short(name string) string {
	for long, s := range map[string]string{"TwentyFiveGigE": "Twe ", "HundredGigE": "Hun ", "TenGigabitEthernet": "Ten ",
		"GigabitEthernet": "Gig ", "TenGigE": "Te", "Ethernet": "Eth"} {
		if strings.HasPrefix(name, long) {
			return s + strings.TrimPrefix(name, long)
		}
	}
	return name
}

func (n *network) cdp(d *Device) string {
	var b strings.Builder
	b.WriteString("Capability Codes: R - Router, T - Trans Bridge, B - Source Route Bridge\n")
	b.WriteString("                  S - Switch, H - Host, I - IGMP, r - Repeater, P - Phone, \n")
	b.WriteString("                  D - Remote, C - CVTA, M - Two-port Mac Relay \n\n")
	b.WriteString("Device ID        Local Intrfce     Holdtme    Capability  Platform  Port ID\n")
	count := 0
	for _, l := range links {
		var other string
		switch d.Name {
		case l[0]:
			other = l[1]
		case l[1]:
			other = l[0]
		default:
			continue
		}
		o := n.byName(other)
		if o == nil || o.Unreachable {
			continue
		}
		local, remote := linkPort(d, o), linkPort(o, d)
		capab := "S I"
		if o.Role == "border" || o.Type == IOSXR {
			capab = "R B"
		}
		fmt.Fprintf(&b, "%-16s %-17s %-10d %-11s %-9s %s\n", o.Name, short(local), 120+num(d.Name, o.Name)%60, capab, o.Platform, short(remote))
		count++
	}
	fmt.Fprintf(&b, "\nTotal cdp entries displayed : %d\n", count)
	return b.String()
}

// linkPort is d's interface towards o (its description names o).
func linkPort(d, o *Device) string {
	for _, i := range d.Interfaces {
		if strings.HasPrefix(i.Description, o.Name) || strings.HasPrefix(i.Description, "Uplink "+o.Name) {
			return i.Name
		}
	}
	return d.Interfaces[len(d.Interfaces)-1].Name
}

// pingArgs reads ping and traceroute arguments in any of the three syntaxes.
func pingArgs(args []string) (target, vrf, source string, count int) {
	count = 5
	for i := 0; i < len(args); i++ {
		switch strings.ToLower(args[i]) {
		case "vrf", "source", "source-interface", "repeat", "count", "size", "timeout":
			if i+1 < len(args) {
				v := args[i+1]
				switch strings.ToLower(args[i]) {
				case "vrf":
					vrf = v
				case "source", "source-interface":
					source = v
				case "repeat", "count":
					if c, err := strconv.Atoi(v); err == nil && c > 0 {
						count = c
					}
				}
				i++
			}
		case "ip", "ipv6", "numeric":
		default:
			if target == "" {
				target = args[i]
			}
		}
	}
	return
}

// reach resolves target (an address or a device name) and says whether it answers from d.
func (n *network) reach(d *Device, target string) (addr string, dest *Device, ok bool) {
	addr = target
	if t := n.byName(target); t != nil {
		addr = t.Host
	}
	dest = n.owner(addr)
	if dest == nil || dest.Unreachable {
		return addr, dest, false
	}
	return addr, dest, dest == d || n.path(d.Name, dest.Name) != nil
}

func (n *network) ping(d *Device, args []string, now time.Time) string {
	target, _, source, count := pingArgs(args)
	addr, _, ok := n.reach(d, target)
	var b strings.Builder
	if d.Type == NXOS {
		fmt.Fprintf(&b, "PING %s (%s): 56 data bytes\n", addr, addr)
		recv := 0
		for s := 0; s < count; s++ {
			if ok {
				fmt.Fprintf(&b, "64 bytes from %s: icmp_seq=%d ttl=254 time=%.3f ms\n", addr, s, 0.6+float64(s%3)*0.1)
				recv++
			} else {
				fmt.Fprintf(&b, "Request %d timed out\n", s)
			}
		}
		fmt.Fprintf(&b, "\n--- %s ping statistics ---\n%d packets transmitted, %d packets received, %.2f%% packet loss\n", addr, count, recv, 100*float64(count-recv)/float64(count))
		if recv > 0 {
			b.WriteString("round-trip min/avg/max = 0.600/0.680/0.800 ms\n")
		}
		return b.String()
	}
	if d.Type == IOSXR {
		b.WriteString(xrStamp(now) + "\n")
	}
	if t := n.byName(target); t != nil {
		fmt.Fprintf(&b, "Translating \"%s\"...domain server (10.0.0.53) [OK]\n\n", target)
	}
	fmt.Fprintf(&b, "Type escape sequence to abort.\nSending %d, 100-byte ICMP Echos to %s, timeout is 2 seconds:\n", count, addr)
	if source != "" {
		if i := findInterface(d, strings.ToLower(source)); i != nil && i.IP != "" {
			fmt.Fprintf(&b, "Packet sent with a source address of %s \n", addrOf(i.IP))
		}
	}
	if ok {
		b.WriteString(strings.Repeat("!", count) + "\n")
		fmt.Fprintf(&b, "Success rate is 100 percent (%d/%d), round-trip min/avg/max = 1/1/2 ms\n", count, count)
	} else {
		b.WriteString(strings.Repeat(".", count) + "\n")
		fmt.Fprintf(&b, "Success rate is 0 percent (0/%d)\n", count)
	}
	return b.String()
}

func (n *network) traceroute(d *Device, args []string, now time.Time) string {
	target, _, _, _ := pingArgs(args)
	addr, dest, ok := n.reach(d, target)
	var hops []string
	if ok && dest != d {
		p := n.path(d.Name, dest.Name)
		for k := 1; k < len(p); k++ {
			hops = append(hops, n.ingress(n.byName(p[k-1]), n.byName(p[k])))
		}
		hops[len(hops)-1] = addr
	} else if ok {
		hops = []string{addr}
	}
	var b strings.Builder
	switch d.Type {
	case NXOS:
		fmt.Fprintf(&b, "traceroute to %s (%s), 30 hops max, 40 byte packets\n", addr, addr)
		for k, h := range hops {
			fmt.Fprintf(&b, "%2d  %s (%s)  %.3f ms  %.3f ms  %.3f ms\n", k+1, h, h, 0.8+float64(k), 0.6+float64(k), 0.6+float64(k))
		}
		for k := len(hops); !ok && k < 3; k++ {
			fmt.Fprintf(&b, "%2d  * * *\n", k+1)
		}
		return b.String()
	case IOSXR:
		b.WriteString(xrStamp(now) + "\n\n")
	}
	fmt.Fprintf(&b, "Type escape sequence to abort.\nTracing the route to %s\nVRF info: (vrf in name/id, vrf out name/id)\n", addr)
	for k, h := range hops {
		fmt.Fprintf(&b, "  %d %s %d msec %d msec %d msec\n", k+1, h, k+1, k+1, k+2)
	}
	for k := len(hops); !ok && k < 3; k++ {
		fmt.Fprintf(&b, "  %d  *  *  * \n", k+1)
	}
	return b.String()
}

// Run returns what d prints for cmd, in the seeded network (ping and traceroute reach the
// seed's devices), at time now.
func Run(d Device, cmd string, now time.Time) string {
	n := newNetwork(append(Seed(), d))
	return n.run(&d, cmd, now)
}
