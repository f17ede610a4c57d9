package radkit

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Parsers turn the output of well-known IOS-XE show commands into JSON an agent can read
// without scraping text: show version, show interfaces [name], show ip interface brief and show
// inventory. They read what IOS-XE 16.x and 17.x print (testdata/show holds samples of each);
// a line they do not know is skipped, never guessed at. Other commands, other platforms and
// filtered output (| include …) stay raw.

// Parse returns the structured form of a normalised command's IOS-XE output. ok is false when
// no parser knows the command; err says why known output could not be read.
func Parse(command, output string) (parsed any, ok bool, err error) {
	if strings.Contains(command, "|") {
		return nil, false, nil
	}
	w := strings.Fields(command)
	switch {
	case command == "show version":
		v, err := ParseShowVersion(output)
		return v, true, err
	case command == "show interfaces" || (len(w) == 3 && w[0] == "show" && w[1] == "interfaces" && !isInterfacesSubcommand(w[2])):
		v, err := ParseShowInterfaces(output)
		return v, true, err
	case command == "show ip interface brief":
		v, err := ParseIPInterfaceBrief(output)
		return v, true, err
	case command == "show inventory":
		v, err := ParseInventory(output)
		return v, true, err
	}
	return nil, false, nil
}

func isInterfacesSubcommand(w string) bool {
	switch w {
	case "counters", "description", "status", "summary", "trunk":
		return true
	}
	return false
}

// lines splits output into lines without carriage returns.
func lines(out string) []string {
	return strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
}

// Version is show version.
type Version struct {
	Hostname         string        `json:"hostname"`
	Version          string        `json:"version"`
	XEVersion        string        `json:"xe_version,omitempty"`
	Release          string        `json:"release,omitempty"`
	Image            string        `json:"image,omitempty"`
	Uptime           string        `json:"uptime"`
	UptimeSeconds    int64         `json:"uptime_seconds"`
	RestartedAt      string        `json:"restarted_at,omitempty"`
	LastReloadReason string        `json:"last_reload_reason,omitempty"`
	SystemImage      string        `json:"system_image,omitempty"`
	Model            string        `json:"model,omitempty"`
	ProcessorBoardID string        `json:"processor_board_id,omitempty"`
	MemoryKB         int64         `json:"memory_kb,omitempty"`
	BaseMAC          string        `json:"base_mac,omitempty"`
	SerialNumber     string        `json:"serial_number,omitempty"`
	ConfigRegister   string        `json:"config_register,omitempty"`
	Switches         []StackMember `json:"switches,omitempty"`
}

// StackMember is one row of a Catalyst switch's (or stack's) software table.
type StackMember struct {
	Switch  int    `json:"switch"`
	Active  bool   `json:"active"`
	Ports   int    `json:"ports"`
	Model   string `json:"model"`
	Version string `json:"version"`
	Image   string `json:"image"`
	Mode    string `json:"mode"`
}

var (
	verXE        = regexp.MustCompile(`^Cisco IOS XE Software, Version (\S+)`)
	verIOS       = regexp.MustCompile(`^Cisco IOS Software(?: \[([^\]]+)\])?, .*\(([^)]+)\), Version ([^,\s]+)`)
	verUptime    = regexp.MustCompile(`^(\S+) uptime is (.+)$`)
	verRestarted = regexp.MustCompile(`^System restarted at (.+)$`)
	verReload    = regexp.MustCompile(`^Last reload reason: (.+)$`)
	verImage     = regexp.MustCompile(`^System image file is "([^"]*)"`)
	verModel     = regexp.MustCompile(`^cisco (\S+) \(.*\) processor.* with (\d+)K/\d+K bytes of memory`)
	verBoard     = regexp.MustCompile(`^Processor board ID (\S+)`)
	verKV        = regexp.MustCompile(`^([A-Za-z][A-Za-z ]*[a-z])\s+: (.*)$`)
	verRegister  = regexp.MustCompile(`^Configuration register is (\S+)`)
	verSwitchRow = regexp.MustCompile(`^(\*)?\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$`)
)

// ParseShowVersion reads IOS-XE show version.
func ParseShowVersion(out string) (*Version, error) {
	v := &Version{}
	inSwitches := false
	for _, l := range lines(out) {
		t := strings.TrimRight(l, " ")
		if m := verXE.FindStringSubmatch(t); m != nil {
			v.XEVersion = m[1]
			continue
		}
		if m := verIOS.FindStringSubmatch(t); m != nil && v.Version == "" {
			v.Release, v.Image, v.Version = m[1], m[2], m[3]
			continue
		}
		if m := verUptime.FindStringSubmatch(t); m != nil && v.Hostname == "" && !strings.HasPrefix(t, "Uptime for") {
			v.Hostname, v.Uptime = m[1], m[2]
			v.UptimeSeconds = uptimeSeconds(m[2])
			continue
		}
		if m := verRestarted.FindStringSubmatch(t); m != nil {
			v.RestartedAt = m[1]
			continue
		}
		if m := verReload.FindStringSubmatch(t); m != nil {
			v.LastReloadReason = m[1]
			continue
		}
		if m := verImage.FindStringSubmatch(t); m != nil {
			v.SystemImage = m[1]
			continue
		}
		if m := verModel.FindStringSubmatch(t); m != nil {
			v.Model = m[1]
			v.MemoryKB, _ = strconv.ParseInt(m[2], 10, 64)
			continue
		}
		if m := verBoard.FindStringSubmatch(t); m != nil {
			v.ProcessorBoardID = m[1]
			continue
		}
		if m := verRegister.FindStringSubmatch(t); m != nil {
			v.ConfigRegister = m[1]
			continue
		}
		if strings.HasPrefix(t, "------ -----") {
			inSwitches = true
			continue
		}
		if inSwitches {
			if m := verSwitchRow.FindStringSubmatch(t); m != nil {
				sw, _ := strconv.Atoi(m[2])
				ports, _ := strconv.Atoi(m[3])
				v.Switches = append(v.Switches, StackMember{Switch: sw, Active: m[1] == "*", Ports: ports, Model: m[4],
					Version: m[5], Image: m[6], Mode: m[7]})
				continue
			}
			if t != "" {
				inSwitches = false
			}
		}
		if m := verKV.FindStringSubmatch(t); m != nil {
			// The first block is the active switch's; later ones ("Switch 02") are members'.
			val := strings.TrimSpace(m[2])
			switch strings.TrimSpace(m[1]) {
			case "Base Ethernet MAC Address":
				v.BaseMAC = cmp.Or(v.BaseMAC, val)
			case "System Serial Number":
				v.SerialNumber = cmp.Or(v.SerialNumber, val)
			case "Model Number":
				v.Model = cmp.Or(v.Model, val)
			}
		}
	}
	if v.Version == "" {
		return nil, errors.New("not IOS-XE show version output: no \"Cisco IOS Software …, Version\" line")
	}
	if v.SerialNumber == "" {
		v.SerialNumber = v.ProcessorBoardID
	}
	return v, nil
}

var uptimePart = regexp.MustCompile(`(\d+)\s+(year|week|day|hour|minute|second)s?`)

// uptimeSeconds reads "14 weeks, 1 day, 2 hours, 1 minute".
func uptimeSeconds(s string) int64 {
	unit := map[string]int64{"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
	var total int64
	for _, m := range uptimePart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 1e6 {
			continue
		}
		total += n * unit[m[2]]
	}
	return total
}

// Interface is one interface of show interfaces.
type Interface struct {
	Name            string `json:"name"`
	Status          string `json:"status"`
	Protocol        string `json:"protocol"`
	PortState       string `json:"port_state,omitempty"`
	Hardware        string `json:"hardware,omitempty"`
	MAC             string `json:"mac,omitempty"`
	Description     string `json:"description,omitempty"`
	IPAddress       string `json:"ip_address,omitempty"`
	MTU             int    `json:"mtu,omitempty"`
	BandwidthKbps   int64  `json:"bandwidth_kbps,omitempty"`
	Duplex          string `json:"duplex,omitempty"`
	Speed           string `json:"speed,omitempty"`
	MediaType       string `json:"media_type,omitempty"`
	LastInput       string `json:"last_input,omitempty"`
	LastOutput      string `json:"last_output,omitempty"`
	InputRateBps    int64  `json:"input_rate_bps"`
	OutputRateBps   int64  `json:"output_rate_bps"`
	InputPackets    int64  `json:"input_packets"`
	InputBytes      int64  `json:"input_bytes"`
	OutputPackets   int64  `json:"output_packets"`
	OutputBytes     int64  `json:"output_bytes"`
	InputErrors     int64  `json:"input_errors"`
	CRCErrors       int64  `json:"crc_errors"`
	OutputErrors    int64  `json:"output_errors"`
	Collisions      int64  `json:"collisions"`
	InterfaceResets int64  `json:"interface_resets"`
	OutputDrops     int64  `json:"output_drops"`
}

// Interfaces is show interfaces.
type Interfaces struct {
	Interfaces []Interface `json:"interfaces"`
}

var (
	ifHeader   = regexp.MustCompile(`^(\S+) is ([a-z][a-z -]*?),\s+line protocol is ([a-z]+)(?:\s*\(([^)]+)\))?\s*(?:,.*)?$`)
	ifHardware = regexp.MustCompile(`^\s+Hardware is ([^,]+?)(?:, address is ([0-9a-f.]+))?(?: \(bia [0-9a-f.]+\))?\s*$`)
	ifDescr    = regexp.MustCompile(`^\s+Description: (.*)$`)
	ifInternet = regexp.MustCompile(`^\s+Internet address is (\S+)`)
	ifMTU      = regexp.MustCompile(`^\s+MTU (\d+) bytes, BW (\d+) Kbit`)
	ifDuplex   = regexp.MustCompile(`^\s+([A-Za-z-]+-duplex), ([^,]+)(?:, link type is [^,]+)?(?:, media type is (.+?))?\s*$`)
	ifLast     = regexp.MustCompile(`^\s+Last input ([^,]+), output ([^,]+),`)
	ifRate     = regexp.MustCompile(`^\s+\d+ (?:minute|second)s? (input|output) rate (\d+) bits/sec`)
	ifPackets  = regexp.MustCompile(`^\s+(\d+) packets (input|output), (\d+) bytes`)
	ifInErr    = regexp.MustCompile(`^\s+(\d+) input errors, (\d+) CRC`)
	ifOutErr   = regexp.MustCompile(`^\s+(\d+) output errors, (?:(\d+) collisions, )?(\d+) interface resets`)
	ifDrops    = regexp.MustCompile(`Total output drops: (\d+)`)
)

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// ParseShowInterfaces reads IOS-XE show interfaces (all interfaces or one).
func ParseShowInterfaces(out string) (*Interfaces, error) {
	res := &Interfaces{Interfaces: []Interface{}}
	var cur *Interface
	for _, l := range lines(out) {
		if m := ifHeader.FindStringSubmatch(l); m != nil {
			res.Interfaces = append(res.Interfaces, Interface{Name: m[1], Status: m[2], Protocol: m[3], PortState: m[4]})
			cur = &res.Interfaces[len(res.Interfaces)-1]
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case ifHardware.MatchString(l):
			m := ifHardware.FindStringSubmatch(l)
			cur.Hardware, cur.MAC = m[1], m[2]
		case ifDescr.MatchString(l):
			cur.Description = strings.TrimRight(ifDescr.FindStringSubmatch(l)[1], " ")
		case ifInternet.MatchString(l):
			cur.IPAddress = ifInternet.FindStringSubmatch(l)[1]
		case ifMTU.MatchString(l):
			m := ifMTU.FindStringSubmatch(l)
			cur.MTU, _ = strconv.Atoi(m[1])
			cur.BandwidthKbps = atoi64(m[2])
		case ifDuplex.MatchString(l):
			m := ifDuplex.FindStringSubmatch(l)
			cur.Duplex, cur.Speed, cur.MediaType = m[1], m[2], m[3]
		case ifLast.MatchString(l):
			m := ifLast.FindStringSubmatch(l)
			cur.LastInput, cur.LastOutput = m[1], m[2]
		case ifRate.MatchString(l):
			m := ifRate.FindStringSubmatch(l)
			if m[1] == "input" {
				cur.InputRateBps = atoi64(m[2])
			} else {
				cur.OutputRateBps = atoi64(m[2])
			}
		case ifPackets.MatchString(l):
			m := ifPackets.FindStringSubmatch(l)
			if m[2] == "input" {
				cur.InputPackets, cur.InputBytes = atoi64(m[1]), atoi64(m[3])
			} else {
				cur.OutputPackets, cur.OutputBytes = atoi64(m[1]), atoi64(m[3])
			}
		case ifInErr.MatchString(l):
			m := ifInErr.FindStringSubmatch(l)
			cur.InputErrors, cur.CRCErrors = atoi64(m[1]), atoi64(m[2])
		case ifOutErr.MatchString(l):
			m := ifOutErr.FindStringSubmatch(l)
			cur.OutputErrors, cur.Collisions, cur.InterfaceResets = atoi64(m[1]), atoi64(m[2]), atoi64(m[3])
		}
		if m := ifDrops.FindStringSubmatch(l); m != nil {
			cur.OutputDrops = atoi64(m[1])
		}
	}
	if len(res.Interfaces) == 0 {
		return nil, errors.New("not IOS-XE show interfaces output: no \"<interface> is …, line protocol is …\" line")
	}
	return res, nil
}

// BriefInterface is one row of show ip interface brief.
type BriefInterface struct {
	Interface string `json:"interface"`
	IPAddress string `json:"ip_address"`
	OK        string `json:"ok"`
	Method    string `json:"method"`
	Status    string `json:"status"`
	Protocol  string `json:"protocol"`
}

// IPInterfaceBrief is show ip interface brief.
type IPInterfaceBrief struct {
	Interfaces []BriefInterface `json:"interfaces"`
}

var briefHeader = regexp.MustCompile(`^Interface\s+IP-Address\s+OK\?\s+Method\s+Status\s+Protocol\s*$`)

// ParseIPInterfaceBrief reads IOS-XE show ip interface brief.
func ParseIPInterfaceBrief(out string) (*IPInterfaceBrief, error) {
	res := &IPInterfaceBrief{Interfaces: []BriefInterface{}}
	header := false
	for _, l := range lines(out) {
		if briefHeader.MatchString(l) {
			header = true
			continue
		}
		f := strings.Fields(l)
		if !header || len(f) < 6 {
			continue
		}
		if f[2] != "YES" && f[2] != "NO" {
			continue
		}
		res.Interfaces = append(res.Interfaces, BriefInterface{Interface: f[0], IPAddress: f[1], OK: f[2], Method: f[3],
			Status: strings.Join(f[4:len(f)-1], " "), Protocol: f[len(f)-1]})
	}
	if !header {
		return nil, errors.New("not IOS-XE show ip interface brief output: no \"Interface IP-Address OK? Method Status Protocol\" header")
	}
	return res, nil
}

// InventoryItem is one entry of show inventory.
type InventoryItem struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	PID         string `json:"pid"`
	VID         string `json:"vid"`
	Serial      string `json:"serial"`
}

// Inventory is show inventory.
type Inventory struct {
	Items []InventoryItem `json:"items"`
}

var (
	invName = regexp.MustCompile(`^NAME: "(.*)",\s*DESCR: "(.*)"\s*$`)
	invPID  = regexp.MustCompile(`^PID: ?(.*?)\s*,\s*VID: ?(.*?)\s*,\s*SN: ?(.*?)\s*$`)
)

// ParseInventory reads IOS-XE show inventory.
func ParseInventory(out string) (*Inventory, error) {
	res := &Inventory{Items: []InventoryItem{}}
	var cur *InventoryItem
	for _, l := range lines(out) {
		if m := invName.FindStringSubmatch(l); m != nil {
			res.Items = append(res.Items, InventoryItem{Name: m[1], Description: m[2]})
			cur = &res.Items[len(res.Items)-1]
			continue
		}
		if m := invPID.FindStringSubmatch(l); m != nil && cur != nil {
			cur.PID, cur.VID, cur.Serial = m[1], m[2], m[3]
			cur = nil
		}
	}
	if len(res.Items) == 0 {
		return nil, errors.New("not IOS-XE show inventory output: no NAME:/DESCR: entry")
	}
	return res, nil
}

// PingResult is the summary of a ping (IOS-XE, IOS-XR or NX-OS).
type PingResult struct {
	Target         string  `json:"target,omitempty"`
	Sent           int     `json:"sent"`
	Received       int     `json:"received"`
	SuccessPercent float64 `json:"success_percent"`
	RTTMinMs       float64 `json:"rtt_min_ms,omitempty"`
	RTTAvgMs       float64 `json:"rtt_avg_ms,omitempty"`
	RTTMaxMs       float64 `json:"rtt_max_ms,omitempty"`
}

var (
	pingIOS     = regexp.MustCompile(`Success rate is (\d+) percent \((\d+)/(\d+)\)`)
	pingNX      = regexp.MustCompile(`(\d+) packets transmitted, (\d+) packets received`)
	pingRTT     = regexp.MustCompile(`round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms`)
	pingSending = regexp.MustCompile(`(?:Echos to|^PING) (\S+?),? `)
)

// ParsePing reads the summary of a ping.
func ParsePing(out string) (*PingResult, error) {
	r := &PingResult{}
	if m := pingSending.FindStringSubmatch(out); m != nil {
		r.Target = m[1]
	}
	switch m1, m2 := pingIOS.FindStringSubmatch(out), pingNX.FindStringSubmatch(out); {
	case m1 != nil:
		r.Received, _ = strconv.Atoi(m1[2])
		r.Sent, _ = strconv.Atoi(m1[3])
	case m2 != nil:
		r.Sent, _ = strconv.Atoi(m2[1])
		r.Received, _ = strconv.Atoi(m2[2])
	default:
		return nil, errors.New("no ping summary (\"Success rate is …\" or \"… packets transmitted\") in the output")
	}
	if r.Sent > 0 {
		r.SuccessPercent = float64(int(1000*float64(r.Received)/float64(r.Sent))) / 10
	}
	if m := pingRTT.FindStringSubmatch(out); m != nil {
		r.RTTMinMs, _ = strconv.ParseFloat(m[1], 64)
		r.RTTAvgMs, _ = strconv.ParseFloat(m[2], 64)
		r.RTTMaxMs, _ = strconv.ParseFloat(m[3], 64)
	}
	return r, nil
}

// Hop is one line of a traceroute.
type Hop struct {
	Hop      int       `json:"hop"`
	Address  string    `json:"address,omitempty"`
	RTTMs    []float64 `json:"rtt_ms,omitempty"`
	Timeouts int       `json:"timeouts,omitempty"`
}

// Trace is a traceroute.
type Trace struct {
	Target  string `json:"target,omitempty"`
	Hops    []Hop  `json:"hops"`
	Reached bool   `json:"reached"`
}

var (
	traceTo  = regexp.MustCompile(`(?:Tracing the route to|traceroute to) (\S+)`)
	traceHop = regexp.MustCompile(`^\s*(\d+)\s+(.*)$`)
)

// ParseTraceroute reads a traceroute (IOS-XE, IOS-XR or NX-OS).
func ParseTraceroute(out string) (*Trace, error) {
	t := &Trace{Hops: []Hop{}}
	started := false
	for _, l := range lines(out) {
		if m := traceTo.FindStringSubmatch(l); m != nil {
			t.Target = m[1]
			started = true
			continue
		}
		m := traceHop.FindStringSubmatch(l)
		if !started || m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		h := Hop{Hop: n}
		f := strings.Fields(m[2])
		for i := 0; i < len(f); i++ {
			w := f[i]
			switch {
			case w == "*":
				h.Timeouts++
			case strings.HasPrefix(w, "[") || strings.HasPrefix(w, "("):
				for i < len(f) && !strings.HasSuffix(f[i], "]") && !strings.HasSuffix(f[i], ")") {
					i++
				}
			case i+1 < len(f) && (f[i+1] == "msec" || f[i+1] == "ms"):
				if v, err := strconv.ParseFloat(w, 64); err == nil {
					h.RTTMs = append(h.RTTMs, v)
				}
				i++
			case h.Address == "" && (net.ParseIP(w) != nil || hostname(w)):
				h.Address = w
			}
		}
		t.Hops = append(t.Hops, h)
	}
	if !started {
		return nil, errors.New("no \"Tracing the route to\" or \"traceroute to\" line in the output")
	}
	if n := len(t.Hops); n > 0 && t.Hops[n-1].Address != "" && t.Hops[n-1].Address == t.Target {
		t.Reached = true
	}
	return t, nil
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.-]*$`)

func hostname(w string) bool { return hostnameRE.MatchString(w) && w != "msec" && w != "ms" }

// deviceError reports whether output is the CLI refusing a command (% Invalid input …).
var deviceErrorRE = regexp.MustCompile(`(?m)^\s*% ?(Invalid|Incomplete|Ambiguous|Unknown|Unrecognized|Bad|Syntax error)`)

func deviceError(out string) (string, bool) {
	loc := deviceErrorRE.FindStringIndex(out)
	if loc == nil {
		return "", false
	}
	line, _, _ := strings.Cut(out[loc[0]:], "\n")
	return strings.TrimSpace(line), true
}

// describe is an error for a parser that could not read known output.
func describe(command string, err error) string {
	return fmt.Sprintf("the output of %q could not be parsed (%v); it is returned raw", command, err)
}
