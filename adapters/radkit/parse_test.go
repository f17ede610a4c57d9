package radkit

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/radkit/sim"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "show", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseShowVersion(t *testing.T) {
	for _, c := range []struct {
		file string
		want Version
	}{
		{"version_c9300_stack.txt", Version{Hostname: "bld2-flr3-acc-07", Version: "17.9.4a", XEVersion: "17.09.04a", Release: "Cupertino",
			Image: "CAT9K_IOSXE", Uptime: "1 year, 12 weeks, 3 days, 22 hours, 41 minutes",
			UptimeSeconds: 365*86400 + 12*7*86400 + 3*86400 + 22*3600 + 41*60, RestartedAt: "10:17:42 CET Tue Dec 5 2023",
			LastReloadReason: "PowerOn", SystemImage: "flash:packages.conf", Model: "C9300-48UXM", ProcessorBoardID: "FOC2238L0KT",
			MemoryKB: 1338934, BaseMAC: "70:b3:17:2a:4c:80", SerialNumber: "FOC2238L0KT", ConfigRegister: "0x102",
			Switches: []StackMember{
				{Switch: 1, Active: true, Ports: 52, Model: "C9300-48UXM", Version: "17.09.04a", Image: "CAT9K_IOSXE", Mode: "INSTALL"},
				{Switch: 2, Ports: 52, Model: "C9300-48UXM", Version: "17.09.04a", Image: "CAT9K_IOSXE", Mode: "INSTALL"},
			}}},
		{"version_isr4451.txt", Version{Hostname: "wan-edge-02", Version: "17.6.5", XEVersion: "17.06.05", Release: "Bengaluru",
			Image: "X86_64_LINUX_IOSD-UNIVERSALK9-M", Uptime: "6 days, 5 minutes", UptimeSeconds: 6*86400 + 300,
			RestartedAt: "03:15:38 UTC Sat Feb 22 2025", LastReloadReason: "Reload Command",
			SystemImage: "bootflash:isr4400-universalk9.17.06.05.SPA.bin", Model: "ISR4451-X/K9", ProcessorBoardID: "FGL2149923D",
			MemoryKB: 1795979, SerialNumber: "FGL2149923D", ConfigRegister: "0x2102"}},
	} {
		got, err := ParseShowVersion(sample(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, *got, c.want)
		}
	}
	if _, err := ParseShowVersion("Cisco Nexus Operating System (NX-OS) Software\n"); err == nil {
		t.Error("NX-OS output parsed as IOS-XE")
	}
}

func TestParseShowInterfaces(t *testing.T) {
	got, err := ParseShowInterfaces(sample(t, "interfaces_c9300.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Interfaces) != 6 {
		t.Fatalf("%d interfaces: %+v", len(got.Interfaces), got)
	}
	want := map[string]Interface{
		"Vlan20": {Name: "Vlan20", Status: "up", Protocol: "up", Hardware: "Ethernet SVI", MAC: "70b3.172a.4cc7",
			Description: "Users floor 3", IPAddress: "10.44.20.2/23", MTU: 1500, BandwidthKbps: 1000000, LastInput: "00:00:00",
			LastOutput: "00:00:00", InputRateBps: 18000, OutputRateBps: 9000, InputPackets: 82455130, InputBytes: 7823395271,
			OutputPackets: 35178226, OutputBytes: 3345167302, InterfaceResets: 2},
		"TwoGigabitEthernet1/0/1": {Name: "TwoGigabitEthernet1/0/1", Status: "up", Protocol: "up", PortState: "connected",
			Hardware: "Two Gigabit Ethernet", MAC: "70b3.172a.4c81", Description: "desk 3.101", MTU: 1500, BandwidthKbps: 1000000,
			Duplex: "Full-duplex", Speed: "1000Mb/s", MediaType: "100/1000/2.5G/5G/10GBaseTX", LastInput: "never", LastOutput: "00:00:01",
			InputRateBps: 2000, OutputRateBps: 41000, InputPackets: 2209761, InputBytes: 411530094, OutputPackets: 39904471,
			OutputBytes: 5176282922, InputErrors: 3, CRCErrors: 3, InterfaceResets: 1, OutputDrops: 1843},
		"TwoGigabitEthernet1/0/2": {Name: "TwoGigabitEthernet1/0/2", Status: "down", Protocol: "down", PortState: "err-disabled",
			Hardware: "Two Gigabit Ethernet", MAC: "70b3.172a.4c82", Description: "desk 3.102", MTU: 1500, BandwidthKbps: 10000,
			Duplex: "Auto-duplex", Speed: "Auto-speed", MediaType: "100/1000/2.5G/5G/10GBaseTX", LastInput: "3d04h", LastOutput: "3d04h",
			InputPackets: 120344, InputBytes: 19823117, OutputPackets: 1844019, OutputBytes: 233901875, InterfaceResets: 4},
		"TenGigabitEthernet1/1/1": {Name: "TenGigabitEthernet1/1/1", Status: "up", Protocol: "up", PortState: "connected",
			Hardware: "Ten Gigabit Ethernet", MAC: "70b3.172a.4cb5", Description: "Uplink bld2-dist-01 Te1/0/7", MTU: 9198,
			BandwidthKbps: 10000000, Duplex: "Full-duplex", Speed: "10Gb/s", MediaType: "SFP-10GBase-SR", LastInput: "00:00:00",
			LastOutput: "00:00:00", InputRateBps: 31223000, OutputRateBps: 91876000, InputPackets: 61233107734,
			InputBytes: 48102939188231, OutputPackets: 133209781241, OutputBytes: 151209880137216},
		"Loopback0": {Name: "Loopback0", Status: "up", Protocol: "up", Hardware: "Loopback", IPAddress: "10.44.255.7/32", MTU: 1514,
			BandwidthKbps: 8000000, LastInput: "never", LastOutput: "never"},
	}
	for _, i := range got.Interfaces {
		w, ok := want[i.Name]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(i, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", i.Name, i, w)
		}
	}
	if got.Interfaces[3].Status != "administratively down" || got.Interfaces[3].PortState != "disabled" {
		t.Errorf("admin down: %+v", got.Interfaces[3])
	}
}

func TestParseIPInterfaceBrief(t *testing.T) {
	got, err := ParseIPInterfaceBrief(sample(t, "ip_interface_brief_c9300.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Interfaces) != 11 {
		t.Fatalf("%d rows", len(got.Interfaces))
	}
	for i, w := range map[int]BriefInterface{
		0:  {"Vlan1", "unassigned", "YES", "NVRAM", "administratively down", "down"},
		2:  {"Vlan99", "10.44.99.7", "YES", "DHCP", "up", "up"},
		4:  {"TwoGigabitEthernet1/0/1", "unassigned", "YES", "unset", "up", "up"},
		6:  {"TwoGigabitEthernet1/0/3", "unassigned", "YES", "unset", "administratively down", "down"},
		10: {"Tunnel10", "unassigned", "NO", "unset", "up", "down"},
	} {
		if got.Interfaces[i] != w {
			t.Errorf("row %d: got %+v, want %+v", i, got.Interfaces[i], w)
		}
	}
	if _, err := ParseIPInterfaceBrief("Interface IP Address Interface Status\n"); err == nil {
		t.Error("NX-OS header accepted")
	}
}

func TestParseInventory(t *testing.T) {
	got, err := ParseInventory(sample(t, "inventory_c9300_stack.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 9 {
		t.Fatalf("%d items: %+v", len(got.Items), got.Items)
	}
	for i, w := range map[int]InventoryItem{
		0: {"c93xx Stack", "c93xx Stack", "C9300-48UXM", "V02", "FOC2238L0KT"},
		3: {"Switch 1 - Power Supply B", "Switch 1 - Power Supply B", "PWR-C1-1100WAC-P", "V02", "ART2334F0Z1"},
		5: {"Te1/1/1", "SFP-10GBase-SR", "SFP-10G-SR", "V03", "FNS22180VZ4"},
		8: {"Switch 2 FRU Uplink Module 1", "8x10G Uplink Module", "C9300-NM-8X", "V02", ""},
	} {
		if got.Items[i] != w {
			t.Errorf("item %d: got %+v, want %+v", i, got.Items[i], w)
		}
	}
}

func TestParsePingAndTraceroute(t *testing.T) {
	p, err := ParsePing(sample(t, "ping_iosxe.txt"))
	if err != nil || *p != (PingResult{Target: "10.44.99.1", Sent: 10, Received: 9, SuccessPercent: 90, RTTMinMs: 1, RTTAvgMs: 2, RTTMaxMs: 7}) {
		t.Errorf("IOS-XE ping: %+v %v", p, err)
	}
	p, err = ParsePing(sample(t, "ping_nxos.txt"))
	if err != nil || *p != (PingResult{Target: "10.20.0.1", Sent: 5, Received: 4, SuccessPercent: 80, RTTMinMs: 0.611, RTTAvgMs: 0.705, RTTMaxMs: 0.874}) {
		t.Errorf("NX-OS ping: %+v %v", p, err)
	}
	tr, err := ParseTraceroute(sample(t, "traceroute_iosxe.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Trace{Target: "192.0.2.10", Reached: true, Hops: []Hop{
		{Hop: 1, Address: "10.44.20.1", RTTMs: []float64{1, 1, 1}},
		{Hop: 2, Address: "10.0.12.1", RTTMs: []float64{3, 2, 2}},
		{Hop: 3, Address: "172.31.0.9", RTTMs: []float64{9, 9}, Timeouts: 1},
		{Hop: 4, Timeouts: 3},
		{Hop: 5, Address: "192.0.2.10", RTTMs: []float64{12, 11, 12}},
	}}
	if !reflect.DeepEqual(tr, want) {
		t.Errorf("traceroute:\n got %+v\nwant %+v", tr, want)
	}
	if _, err := ParsePing("% Invalid input"); err == nil {
		t.Error("no summary parsed")
	}
}

// The simulated devices' IOS-XE output parses back into what the simulator was seeded with.
func TestParseSimulatorOutput(t *testing.T) {
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	for _, d := range sim.Seed() {
		if d.Type != sim.IOSXE {
			continue
		}
		v, err := ParseShowVersion(sim.Run(d, "show version", now))
		if err != nil || v.Hostname != d.Name || v.Version != d.Version || v.ProcessorBoardID != d.Serial || v.Model != d.Platform ||
			v.UptimeSeconds != d.UptimeSeconds/60*60 {
			t.Errorf("%s show version: %+v %v", d.Name, v, err)
		}
		ifs, err := ParseShowInterfaces(sim.Run(d, "show interfaces", now))
		if err != nil || len(ifs.Interfaces) != len(d.Interfaces) {
			t.Fatalf("%s show interfaces: %+v %v", d.Name, ifs, err)
		}
		brief, err := ParseIPInterfaceBrief(sim.Run(d, "show ip interface brief", now))
		if err != nil || len(brief.Interfaces) != len(d.Interfaces) {
			t.Fatalf("%s brief: %+v %v", d.Name, brief, err)
		}
		for k, i := range d.Interfaces {
			p, b := ifs.Interfaces[k], brief.Interfaces[k]
			if p.Name != i.Name || p.Status != i.Status || p.Protocol != i.Protocol || p.IPAddress != i.IP || p.Description != i.Description ||
				b.Interface != i.Name || b.Status != i.Status || b.Protocol != i.Protocol {
				t.Errorf("%s %s: parsed %+v / %+v", d.Name, i.Name, p, b)
			}
		}
		inv, err := ParseInventory(sim.Run(d, "show inventory", now))
		if err != nil || inv.Items[len(inv.Items)-1].PID != d.Modules[len(d.Modules)-1].PID {
			t.Errorf("%s inventory: %+v %v", d.Name, inv, err)
		}
	}
}

func TestParseDispatch(t *testing.T) {
	for cmd, want := range map[string]bool{
		"show version": true, "show interfaces": true, "show interfaces gi1/0/1": true, "show ip interface brief": true,
		"show inventory": true, "show interfaces status": false, "show version | include uptime": false, "show clock": false,
	} {
		_, ok, _ := Parse(cmd, "")
		if ok != want {
			t.Errorf("Parse(%q) known = %v, want %v", cmd, ok, want)
		}
	}
	if _, ok := deviceError("show foo\n        ^\n% Invalid input detected at '^' marker.\n"); !ok {
		t.Error("invalid input not recognised")
	}
	if line, ok := deviceError("% Incomplete command.\n"); !ok || line != "% Incomplete command." {
		t.Errorf("incomplete: %q", line)
	}
	if _, ok := deviceError(sample(t, "version_isr4451.txt")); ok {
		t.Error("show version read as an error")
	}
}

// FuzzParse: no parser panics or loops on any input, and what they return is well-formed.
func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "show"))
	for _, e := range entries {
		f.Add(sample(f, e.Name()))
	}
	f.Add("Interface IP-Address OK? Method Status Protocol\nx y YES z a b c\n")
	f.Add("NAME: \"a\", DESCR: \"b\"\nPID: , VID: , SN:\n")
	f.Fuzz(func(t *testing.T, out string) {
		if v, err := ParseShowVersion(out); err == nil && v.Version == "" {
			t.Fatal("version without a version")
		}
		if v, err := ParseShowInterfaces(out); err == nil {
			for _, i := range v.Interfaces {
				if i.Name == "" || strings.ContainsAny(i.Name, " \n") {
					t.Fatalf("interface name %q", i.Name)
				}
			}
		}
		if v, err := ParseIPInterfaceBrief(out); err == nil {
			for _, i := range v.Interfaces {
				if i.Interface == "" || i.Protocol == "" {
					t.Fatalf("brief row %+v", i)
				}
			}
		}
		if v, err := ParseInventory(out); err == nil && len(v.Items) == 0 {
			t.Fatal("inventory without items")
		}
		if p, err := ParsePing(out); err == nil && (p.SuccessPercent < 0 || (p.Sent > 0 && p.SuccessPercent > 100*float64(p.Received)/float64(p.Sent)+0.1)) {
			t.Fatalf("ping %+v", p)
		}
		_, _ = ParseTraceroute(out)
		_, _, _ = Parse("show version", out)
	})
}
