package sim

import "fmt"

// Device types, as RADKit names them.
const (
	IOSXE = "IOS_XE"
	NXOS  = "NXOS"
	IOSXR = "IOS_XR"
)

// Device is one device the simulators serve: its inventory entry and what its CLI shows.
type Device struct {
	Name     string // inventory name and hostname
	Host     string // management address as the inventory shows it
	Type     string // IOS_XE, NXOS or IOS_XR
	Platform string // product id, e.g. C9500-24Y4C
	Series   string
	Version  string // software version as the CLI's main version line shows it, e.g. 17.9.4a
	Serial   string
	MAC      string
	Site     string
	Role     string
	Labels   []string
	// Group names the SSH credentials the device accepts (Credentials).
	Group string
	// Unreachable devices have no listener: connections are refused.
	Unreachable   bool
	UptimeSeconds int64
	Interfaces    []Interface
	Modules       []Module // show inventory, after the chassis
}

// Interface is one interface of a device.
type Interface struct {
	Name        string
	IP          string // address/prefix length, or "" (unassigned)
	Status      string // up, down, administratively down
	Protocol    string // up, down
	Description string
	SpeedMbps   int
}

// Module is one show inventory entry beyond the chassis.
type Module struct {
	Name, Descr, PID, VID, Serial string
}

// Seed returns the simulated network: the Catalyst Center simulator's devices with the same
// hostnames, addresses, platforms, serials and interfaces (its access point, which has no
// RADKit CLI, is left out), and a Nexus data-centre switch and an IOS-XR provider edge router,
// which Catalyst Center does not manage, so that all three CLIs are exercised. lon-b1-acc-02
// is unreachable, as it is in Catalyst Center. Every call returns fresh copies.
func Seed() []Device {
	c9k := func(vlanIP, uplinkIP string) []Interface {
		return []Interface{
			{Name: "Vlan1", Status: "administratively down", Protocol: "down"},
			{Name: "Vlan100", IP: vlanIP + "/24", Status: "up", Protocol: "up", Description: "Management"},
			{Name: "GigabitEthernet0/0", Status: "down", Protocol: "down", SpeedMbps: 1000},
			{Name: "TenGigabitEthernet1/1/1", IP: uplinkIP + "/30", Status: "up", Protocol: "up", Description: "Uplink lon-b1-core-01", SpeedMbps: 10000},
			{Name: "GigabitEthernet1/0/1", Status: "up", Protocol: "up", Description: "AP lon-b1-ap-01", SpeedMbps: 1000},
			{Name: "GigabitEthernet1/0/2", Status: "down", Protocol: "down", SpeedMbps: 1000},
		}
	}
	psu := func(serial string) Module {
		return Module{Name: "Switch 1 - Power Supply A", Descr: "Switch 1 - Power Supply A", PID: "PWR-C1-715WAC-P", VID: "V02", Serial: serial}
	}
	return []Device{
		{Name: "lon-b1-core-01", Host: "10.10.0.1", Type: IOSXE, Platform: "C9500-24Y4C", Series: "Cisco Catalyst 9500 Series Switches",
			Version: "17.9.4a", Serial: "FCW2231G0AB", MAC: "70:0f:6a:3e:11:00", Site: "lon-b1", Role: "core", Labels: []string{"core", "campus"},
			Group: "campus", UptimeSeconds: 8553600 + 7312, Interfaces: []Interface{
				{Name: "Loopback0", IP: "10.10.255.1/32", Status: "up", Protocol: "up", Description: "Router ID"},
				{Name: "Vlan100", IP: "10.10.0.1/24", Status: "up", Protocol: "up", Description: "Management"},
				{Name: "TwentyFiveGigE1/0/1", IP: "10.10.1.1/30", Status: "up", Protocol: "up", Description: "lon-b1-acc-01 Te1/1/1", SpeedMbps: 25000},
				{Name: "TwentyFiveGigE1/0/2", IP: "10.10.1.5/30", Status: "up", Protocol: "down", Description: "lon-b1-acc-02 Te1/1/1", SpeedMbps: 25000},
				{Name: "TwentyFiveGigE1/0/3", IP: "10.10.1.9/30", Status: "up", Protocol: "up", Description: "lon-b1-wlc-01 Te0/0/0", SpeedMbps: 25000},
				{Name: "HundredGigE1/0/25", IP: "172.16.0.1/30", Status: "up", Protocol: "up", Description: "nyc-hq-rtr-01 Gi0/0/0", SpeedMbps: 100000},
			}, Modules: []Module{
				{Name: "Slot 1 Power Supply 0", Descr: "Cisco Catalyst 9500 650W AC Power Supply", PID: "C9K-PWR-650WAC-R", VID: "V01", Serial: "ART2233F1ZK"},
				{Name: "TwentyFiveGigE1/0/1", Descr: "SFP-25GBase-SR", PID: "SFP-25G-SR-S", VID: "V01", Serial: "AVD2232K1XP"},
			}},
		{Name: "lon-b1-acc-01", Host: "10.10.0.11", Type: IOSXE, Platform: "C9300-48P", Series: "Cisco Catalyst 9300 Series Switches",
			Version: "17.9.4a", Serial: "FOC2318X1QZ", MAC: "00:a3:d1:4b:22:80", Site: "lon-b1", Role: "access", Labels: []string{"access", "campus"},
			Group: "campus", UptimeSeconds: 3888000 + 52011, Interfaces: c9k("10.10.0.11", "10.10.1.2"),
			Modules: []Module{psu("LIT2236AB1C"), {Name: "Te1/1/1", Descr: "SFP-10GBase-SR", PID: "SFP-10G-SR", VID: "V03", Serial: "FNS22120PQR"}}},
		{Name: "lon-b1-acc-02", Host: "10.10.0.12", Type: IOSXE, Platform: "C9300-48P", Series: "Cisco Catalyst 9300 Series Switches",
			Version: "17.6.5", Serial: "FOC2318X2RA", MAC: "00:a3:d1:4b:35:00", Site: "lon-b1", Role: "access", Labels: []string{"access", "campus"},
			Group: "campus", Unreachable: true, UptimeSeconds: 604800 + 3600, Interfaces: c9k("10.10.0.12", "10.10.1.6"),
			Modules: []Module{psu("LIT2236AB2D")}},
		{Name: "lon-b1-wlc-01", Host: "10.10.0.20", Type: IOSXE, Platform: "C9800-40-K9", Series: "Cisco Catalyst 9800 Series Wireless Controllers",
			Version: "17.9.4a", Serial: "TTM2413017K", MAC: "f4:bd:9e:57:c0:0b", Site: "lon-b1", Role: "wlc", Labels: []string{"wireless", "campus"},
			Group: "campus", UptimeSeconds: 2592000 + 1204, Interfaces: []Interface{
				{Name: "GigabitEthernet0", Status: "administratively down", Protocol: "down", SpeedMbps: 1000},
				{Name: "TenGigabitEthernet0/0/0", IP: "10.10.1.10/30", Status: "up", Protocol: "up", Description: "lon-b1-core-01 Twe1/0/3", SpeedMbps: 10000},
				{Name: "TenGigabitEthernet0/0/1", Status: "down", Protocol: "down", SpeedMbps: 10000},
				{Name: "Vlan100", IP: "10.10.0.20/24", Status: "up", Protocol: "up", Description: "Management"},
			}, Modules: []Module{{Name: "Power Supply Module 0", Descr: "Cisco Catalyst 9800-40 750W AC Power Supply", PID: "C9800-AC-750W", VID: "V01", Serial: "DTM24090ZZ1"}}},
		{Name: "nyc-hq-rtr-01", Host: "10.20.0.1", Type: IOSXE, Platform: "ISR4451-X/K9", Series: "Cisco 4400 Series Integrated Services Routers",
			Version: "17.6.5", Serial: "FGL2149923D", MAC: "00:27:90:bb:d3:60", Site: "nyc-hq", Role: "border", Labels: []string{"border", "wan"},
			Group: "wan", UptimeSeconds: 11232000 + 29, Interfaces: []Interface{
				{Name: "GigabitEthernet0/0/0", IP: "172.16.0.2/30", Status: "up", Protocol: "up", Description: "lon-b1-core-01 Hu1/0/25", SpeedMbps: 1000},
				{Name: "GigabitEthernet0/0/1", IP: "10.20.1.1/30", Status: "up", Protocol: "up", Description: "nyc-hq-dist-01 Te1/0/1", SpeedMbps: 1000},
				{Name: "GigabitEthernet0/0/2", IP: "172.16.1.1/30", Status: "up", Protocol: "up", Description: "sjc-b-rtr-01 Gi0/0/0", SpeedMbps: 1000},
				{Name: "GigabitEthernet0/0/3", Status: "administratively down", Protocol: "down", SpeedMbps: 1000},
				{Name: "GigabitEthernet0", IP: "10.20.0.1/24", Status: "up", Protocol: "up", Description: "Management", SpeedMbps: 1000},
				{Name: "Loopback0", IP: "10.20.255.1/32", Status: "up", Protocol: "up", Description: "Router ID"},
			}, Modules: []Module{
				{Name: "Power Supply Module 0", Descr: "450W AC Power Supply for Cisco ISR 4450, ISR 4350", PID: "PWR-4450-AC", VID: "V03", Serial: "DCA2146X0AB"},
				{Name: "module 0", Descr: "Cisco ISR4451 Built-In NIM controller", PID: "ISR4451-X-4x1GE", VID: "", Serial: ""},
			}},
		{Name: "nyc-hq-dist-01", Host: "10.20.0.2", Type: IOSXE, Platform: "C9407R", Series: "Cisco Catalyst 9400 Series Switches",
			Version: "17.9.4a", Serial: "FXS2202Q1LM", MAC: "2c:ab:eb:5d:91:c0", Site: "nyc-hq", Role: "distribution", Labels: []string{"distribution", "campus"},
			Group: "campus", UptimeSeconds: 5184000 + 9000, Interfaces: []Interface{
				{Name: "Vlan1", Status: "administratively down", Protocol: "down"},
				{Name: "Vlan200", IP: "10.20.0.2/24", Status: "up", Protocol: "up", Description: "Management"},
				{Name: "TenGigabitEthernet1/0/1", IP: "10.20.1.2/30", Status: "up", Protocol: "up", Description: "nyc-hq-rtr-01 Gi0/0/1", SpeedMbps: 10000},
				{Name: "TenGigabitEthernet1/0/2", Status: "down", Protocol: "down", SpeedMbps: 10000},
				{Name: "GigabitEthernet2/0/1", Status: "up", Protocol: "up", SpeedMbps: 1000},
			}, Modules: []Module{
				{Name: "Slot 1 Supervisor", Descr: "Cisco Catalyst 9400 Series Supervisor 1 Module", PID: "C9400-SUP-1", VID: "V02", Serial: "JAE221703AB"},
				{Name: "Slot 2 Linecard", Descr: "Cisco Catalyst 9400 Series 48-Port UPOE 10/100/1000 (RJ-45)", PID: "C9400-LC-48U", VID: "V01", Serial: "JAE2218089X"},
			}},
		{Name: "sjc-b-rtr-01", Host: "10.30.0.1", Type: IOSXE, Platform: "C8300-1N1S-6T", Series: "Cisco Catalyst 8300 Series Edge Platforms",
			Version: "17.12.2", Serial: "FDO2540M0PQ", MAC: "34:88:18:6e:0a:40", Site: "sjc-b", Role: "border", Labels: []string{"border", "wan"},
			Group: "wan", UptimeSeconds: 950400 + 12, Interfaces: []Interface{
				{Name: "GigabitEthernet0/0/0", IP: "172.16.1.2/30", Status: "up", Protocol: "up", Description: "nyc-hq-rtr-01 Gi0/0/2", SpeedMbps: 1000},
				{Name: "GigabitEthernet0/0/1", IP: "10.30.1.1/30", Status: "up", Protocol: "up", Description: "sjc-b-pe-01 Te0/0/0/0", SpeedMbps: 1000},
				{Name: "GigabitEthernet0/0/2", Status: "administratively down", Protocol: "down", SpeedMbps: 1000},
				{Name: "Loopback0", IP: "10.30.255.1/32", Status: "up", Protocol: "up", Description: "Router ID"},
			}, Modules: []Module{{Name: "PowerSupply Module 0", Descr: "Cisco Catalyst 8300 250W AC Power Supply", PID: "PWR-CC1-250WAC", VID: "V01", Serial: "QCS2539P0WX"}}},
		{Name: "nyc-hq-dc-01", Host: "10.20.0.10", Type: NXOS, Platform: "N9K-C93180YC-FX", Series: "Cisco Nexus 9300 Series Switches",
			Version: "10.3(4a)", Serial: "FDO23450ABC", MAC: "70:6b:b9:11:22:33", Site: "nyc-hq", Role: "datacenter", Labels: []string{"datacenter"},
			Group: "datacenter", UptimeSeconds: 3467525, Interfaces: []Interface{
				{Name: "mgmt0", IP: "10.20.0.10/24", Status: "up", Protocol: "up", Description: "Management", SpeedMbps: 1000},
				{Name: "Ethernet1/1", IP: "10.20.2.1/30", Status: "up", Protocol: "up", Description: "nyc-hq-dist-01", SpeedMbps: 10000},
				{Name: "Ethernet1/2", Status: "down", Protocol: "down", SpeedMbps: 10000},
				{Name: "loopback0", IP: "10.20.255.10/32", Status: "up", Protocol: "up", Description: "Router ID"},
			}, Modules: []Module{{Name: "Slot 1", Descr: "48x10/25G + 6x40/100G Ethernet Module", PID: "N9K-C93180YC-FX", VID: "V04", Serial: "FDO23450ABC"}}},
		{Name: "sjc-b-pe-01", Host: "10.30.0.5", Type: IOSXR, Platform: "ASR-9901", Series: "Cisco ASR 9000 Series Aggregation Services Routers",
			Version: "7.9.2", Serial: "FOC2412N1AB", MAC: "00:bc:60:aa:01:02", Site: "sjc-b", Role: "provider-edge", Labels: []string{"wan", "pe"},
			Group: "wan", UptimeSeconds: 13014120, Interfaces: []Interface{
				{Name: "MgmtEth0/RSP0/CPU0/0", IP: "10.30.0.5/24", Status: "up", Protocol: "up", Description: "Management", SpeedMbps: 1000},
				{Name: "TenGigE0/0/0/0", IP: "10.30.1.2/30", Status: "up", Protocol: "up", Description: "sjc-b-rtr-01", SpeedMbps: 10000},
				{Name: "TenGigE0/0/0/1", Status: "administratively down", Protocol: "down", SpeedMbps: 10000},
				{Name: "Loopback0", IP: "10.30.255.5/32", Status: "up", Protocol: "up", Description: "Router ID"},
			}, Modules: []Module{{Name: "0/RSP0/CPU0", Descr: "ASR 9901 Route Switch Processor", PID: "A99-RSP-SE", VID: "V01", Serial: "FOC2412N1AB"}}},
	}
}

// Synthetic returns n more IOS-XE access switches, lab-sw-001 …, for scale tests.
func Synthetic(n int) []Device {
	out := make([]Device, 0, n)
	for i := 1; i <= n; i++ {
		ip := fmt.Sprintf("10.99.%d.%d", i/250, i%250+1)
		out = append(out, Device{Name: fmt.Sprintf("lab-sw-%03d", i), Host: ip, Type: IOSXE, Platform: "C9300-24T",
			Series: "Cisco Catalyst 9300 Series Switches", Version: "17.9.4a", Serial: fmt.Sprintf("FOC25%05dX", i),
			MAC: fmt.Sprintf("00:a3:d1:99:%02x:%02x", i/256, i%256), Site: "lab", Role: "access", Labels: []string{"lab"},
			Group: "campus", UptimeSeconds: 86400 * int64(i), Interfaces: []Interface{
				{Name: "Vlan100", IP: ip + "/16", Status: "up", Protocol: "up", Description: "Management"},
				{Name: "GigabitEthernet1/0/1", Status: "up", Protocol: "up", SpeedMbps: 1000},
				{Name: "GigabitEthernet1/0/2", Status: "down", Protocol: "down", SpeedMbps: 1000},
			}})
	}
	return out
}

// links are the seed's cabling, as in the Catalyst Center simulator (traceroute follows them).
var links = [][2]string{
	{"lon-b1-core-01", "lon-b1-acc-01"}, {"lon-b1-core-01", "lon-b1-acc-02"}, {"lon-b1-core-01", "lon-b1-wlc-01"},
	{"lon-b1-core-01", "nyc-hq-rtr-01"}, {"nyc-hq-rtr-01", "nyc-hq-dist-01"}, {"nyc-hq-rtr-01", "sjc-b-rtr-01"},
	{"nyc-hq-dist-01", "nyc-hq-dc-01"}, {"sjc-b-rtr-01", "sjc-b-pe-01"},
}

// network answers reachability questions across a set of devices.
type network struct {
	devices []*Device
}

func newNetwork(ds []Device) *network {
	n := &network{}
	for i := range ds {
		n.devices = append(n.devices, &ds[i])
	}
	return n
}

func (n *network) byName(name string) *Device {
	for _, d := range n.devices {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// owner is the device that has address ip (on an interface or as its management host).
func (n *network) owner(ip string) *Device {
	for _, d := range n.devices {
		if d.Host == ip {
			return d
		}
		for _, i := range d.Interfaces {
			if addrOf(i.IP) == ip {
				return d
			}
		}
	}
	return nil
}

// path returns the devices from a to b over the links (breadth first), or nil.
func (n *network) path(a, b string) []string {
	prev := map[string]string{a: ""}
	queue := []string{a}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == b {
			var p []string
			for x := b; x != ""; x = prev[x] {
				p = append([]string{x}, p...)
			}
			return p
		}
		for _, l := range links {
			next := ""
			switch cur {
			case l[0]:
				next = l[1]
			case l[1]:
				next = l[0]
			}
			if _, seen := prev[next]; next != "" && !seen && n.byName(next) != nil {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// ingress is the address b answers with when a packet arrives from a: its interface whose
// description names a, else its management address.
func (n *network) ingress(from, to *Device) string {
	for _, i := range to.Interfaces {
		if i.IP != "" && len(i.Description) >= len(from.Name) && i.Description[:len(from.Name)] == from.Name {
			return addrOf(i.IP)
		}
	}
	return to.Host
}

func addrOf(cidr string) string {
	for i := 0; i < len(cidr); i++ {
		if cidr[i] == '/' {
			return cidr[:i]
		}
	}
	return cidr
}
