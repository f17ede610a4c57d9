package sim

import (
	"crypto/sha1"
	"fmt"
	"time"
)

// seedEpoch anchors every timestamp in the seed so that responses are
// byte-for-byte reproducible regardless of when the tests run.
var seedEpoch = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// tenantID mimics the 24-hex instanceTenantId every Catalyst Center object carries.
const tenantID = "65f1c2a94e0b7d3a1c8e5f20"

// uuidFor derives a stable, well-formed UUID (version 5 layout) from a name so
// the seed and runtime objects get realistic ids without random state.
func uuidFor(name string) string {
	h := sha1.Sum([]byte("gatehouse-catalyst-sim:" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

type site struct {
	ID, ParentID, Name, Type      string // Type is "area" or "building" (Global is an area)
	Address, Country              string
	Lat, Lon                      float64
	WiredClients, WirelessClients int
}

type iface struct {
	Name, IP, Status, Protocol string
}

type device struct {
	ID, Hostname, MgmtIP, PlatformID, Type, Series, Family string
	SoftwareType, SoftwareVersion, Role, Reachable         string
	Serial, MAC, SiteID, AssociatedWlcIP, Description      string
	UptimeSeconds                                          int64
	Health, CPU, Mem                                       int // Health uses the 1-10 assurance scale
	Clients                                                int
	Interfaces                                             []iface
}

func (d *device) reachable() bool { return d.Reachable == "Reachable" }

type issue struct {
	ID, Name, SiteID, DeviceID, DeviceRole, Priority, Status, Category string
	Occurrences                                                        int
	Last                                                               time.Time
}

type project struct {
	ID, Name, Description string
	Created               time.Time
}

type tmplParam struct {
	Name, DataType, Default, Description, DisplayName string
	Required                                          bool
}

type tmplVersion struct {
	ID       string
	Number   int
	Content  string
	Comment  string
	Author   string
	Created  time.Time
	Template *template
}

type template struct {
	ID, ProjectID, Name, Description string
	SoftwareType, ProductFamily      string
	Created                          time.Time
	Params                           []tmplParam // metadata for the variables the content may reference
	Versions                         []*tmplVersion
}

func (t *template) latest() *tmplVersion { return t.Versions[len(t.Versions)-1] }

func (t *template) param(name string) (tmplParam, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return tmplParam{}, false
}

// inventory is the mutable world the simulator serves. It is rebuilt for every
// New so tests never share state.
type inventory struct {
	sites     []*site
	devices   []*device
	issues    []*issue
	links     []link
	projects  []*project
	templates []*template
	legit     []string
}

type link struct {
	A, APort, AIP, B, BPort, BIP, Speed string
	Up                                  bool
}

func seedInventory() *inventory {
	inv := &inventory{}

	// Sites: Global > region > city > building, three buildings in total.
	addSite := func(path, parent, typ, addr, country string, lat, lon float64, wired, wireless int) *site {
		s := &site{ID: uuidFor("site:" + path), ParentID: parent, Name: lastSegment(path), Type: typ,
			Address: addr, Country: country, Lat: lat, Lon: lon, WiredClients: wired, WirelessClients: wireless}
		inv.sites = append(inv.sites, s)
		return s
	}
	global := addSite("Global", "", "area", "", "", 0, 0, 0, 0)
	emea := addSite("Global/EMEA", global.ID, "area", "", "", 0, 0, 0, 0)
	london := addSite("Global/EMEA/London", emea.ID, "area", "", "", 0, 0, 0, 0)
	b1 := addSite("Global/EMEA/London/Building-1", london.ID, "building",
		"1 Canada Square, London E14 5AB, United Kingdom", "United Kingdom", 51.5049, -0.0195, 212, 348)
	amer := addSite("Global/Americas", global.ID, "area", "", "", 0, 0, 0, 0)
	nyc := addSite("Global/Americas/NYC", amer.ID, "area", "", "", 0, 0, 0, 0)
	hq := addSite("Global/Americas/NYC/HQ", nyc.ID, "building",
		"200 Park Avenue, New York, NY 10166, United States", "United States", 40.7536, -73.9765, 96, 0)
	sj := addSite("Global/Americas/San Jose", amer.ID, "area", "", "", 0, 0, 0, 0)
	sjcb := addSite("Global/Americas/San Jose/SJC-B", sj.ID, "building",
		"170 W Tasman Dr, San Jose, CA 95134, United States", "United States", 37.4089, -121.9539, 41, 0)

	cat9kIfaces := func(vlanIP, up1 string) []iface {
		return []iface{
			{"Vlan1", "unassigned", "administratively down", "down"},
			{"Vlan100", vlanIP, "up", "up"},
			{"GigabitEthernet0/0", "unassigned", "down", "down"},
			{"TenGigabitEthernet1/1/1", up1, "up", "up"},
			{"GigabitEthernet1/0/1", "unassigned", "up", "up"},
			{"GigabitEthernet1/0/2", "unassigned", "down", "down"},
		}
	}
	add := func(d *device) *device {
		d.ID = uuidFor("device:" + d.Hostname)
		inv.devices = append(inv.devices, d)
		return d
	}
	core := add(&device{Hostname: "lon-b1-core-01", MgmtIP: "10.10.0.1", PlatformID: "C9500-24Y4C",
		Type: "Cisco Catalyst 9500 Switch", Series: "Cisco Catalyst 9500 Series Switches", Family: "Switches and Hubs",
		SoftwareType: "IOS-XE", SoftwareVersion: "17.9.4a", Role: "CORE", Reachable: "Reachable",
		Serial: "FCW2231G0AB", MAC: "70:0f:6a:3e:11:00", SiteID: b1.ID, UptimeSeconds: 8553600 + 7312,
		Health: 10, CPU: 7, Mem: 41, Interfaces: []iface{
			{"Loopback0", "10.10.255.1", "up", "up"},
			{"Vlan100", "10.10.0.1", "up", "up"},
			{"TwentyFiveGigE1/0/1", "10.10.1.1", "up", "up"},
			{"TwentyFiveGigE1/0/2", "10.10.1.5", "up", "down"},
			{"TwentyFiveGigE1/0/3", "10.10.1.9", "up", "up"},
			{"HundredGigE1/0/25", "172.16.0.1", "up", "up"},
		}})
	acc1 := add(&device{Hostname: "lon-b1-acc-01", MgmtIP: "10.10.0.11", PlatformID: "C9300-48P",
		Type: "Cisco Catalyst 9300 Switch", Series: "Cisco Catalyst 9300 Series Switches", Family: "Switches and Hubs",
		SoftwareType: "IOS-XE", SoftwareVersion: "17.9.4a", Role: "ACCESS", Reachable: "Reachable",
		Serial: "FOC2318X1QZ", MAC: "00:a3:d1:4b:22:80", SiteID: b1.ID, UptimeSeconds: 3888000 + 52011,
		Health: 9, CPU: 12, Mem: 55, Interfaces: cat9kIfaces("10.10.0.11", "10.10.1.2")})
	acc2 := add(&device{Hostname: "lon-b1-acc-02", MgmtIP: "10.10.0.12", PlatformID: "C9300-48P",
		Type: "Cisco Catalyst 9300 Switch", Series: "Cisco Catalyst 9300 Series Switches", Family: "Switches and Hubs",
		SoftwareType: "IOS-XE", SoftwareVersion: "17.6.5", Role: "ACCESS", Reachable: "Unreachable",
		Serial: "FOC2318X2RA", MAC: "00:a3:d1:4b:35:00", SiteID: b1.ID, UptimeSeconds: 604800 + 3600,
		Health: 2, CPU: 0, Mem: 0, Interfaces: cat9kIfaces("10.10.0.12", "10.10.1.6")})
	wlc := add(&device{Hostname: "lon-b1-wlc-01", MgmtIP: "10.10.0.20", PlatformID: "C9800-40-K9",
		Type: "Cisco Catalyst 9800-40 Wireless Controller", Series: "Cisco Catalyst 9800 Series Wireless Controllers",
		Family: "Wireless Controller", SoftwareType: "IOS-XE", SoftwareVersion: "17.9.4a", Role: "ACCESS",
		Reachable: "Reachable", Serial: "TTM2413017K", MAC: "f4:bd:9e:57:c0:0b", SiteID: b1.ID,
		UptimeSeconds: 2592000 + 1204, Health: 8, CPU: 21, Mem: 63, Clients: 348, Interfaces: []iface{
			{"GigabitEthernet0", "unassigned", "administratively down", "down"},
			{"TenGigabitEthernet0/0/0", "10.10.1.10", "up", "up"},
			{"TenGigabitEthernet0/0/1", "unassigned", "down", "down"},
			{"Vlan100", "10.10.0.20", "up", "up"},
		}})
	ap := add(&device{Hostname: "lon-b1-ap-01", MgmtIP: "10.10.50.21", PlatformID: "C9130AXI-E",
		Type: "Cisco Catalyst 9130AXI Unified Access Point", Series: "Cisco Catalyst 9130AX Series Unified Access Points",
		Family: "Unified AP", SoftwareType: "", SoftwareVersion: "17.9.4.27", Role: "ACCESS", Reachable: "Reachable",
		Serial: "FJC24231XYZ", MAC: "0c:d0:f8:94:a2:60", SiteID: b1.ID, AssociatedWlcIP: "10.10.0.20",
		UptimeSeconds: 1209600 + 433, Health: 6, CPU: 18, Mem: 72, Clients: 57, Interfaces: []iface{
			{"GigabitEthernet0", "10.10.50.21", "up", "up"},
			{"Dot11Radio0", "unassigned", "up", "up"},
			{"Dot11Radio1", "unassigned", "up", "up"},
		}})
	rtr := add(&device{Hostname: "nyc-hq-rtr-01", MgmtIP: "10.20.0.1", PlatformID: "ISR4451-X/K9",
		Type: "Cisco 4451 Integrated Services Router", Series: "Cisco 4400 Series Integrated Services Routers",
		Family: "Routers", SoftwareType: "IOS-XE", SoftwareVersion: "17.6.5", Role: "BORDER ROUTER",
		Reachable: "Reachable", Serial: "FGL2149923D", MAC: "00:27:90:bb:d3:60", SiteID: hq.ID,
		UptimeSeconds: 11232000 + 29, Health: 9, CPU: 9, Mem: 38, Interfaces: []iface{
			{"GigabitEthernet0/0/0", "172.16.0.2", "up", "up"},
			{"GigabitEthernet0/0/1", "10.20.1.1", "up", "up"},
			{"GigabitEthernet0/0/2", "172.16.1.1", "up", "up"},
			{"GigabitEthernet0/0/3", "unassigned", "administratively down", "down"},
			{"GigabitEthernet0", "10.20.0.1", "up", "up"},
			{"Loopback0", "10.20.255.1", "up", "up"},
		}})
	dist := add(&device{Hostname: "nyc-hq-dist-01", MgmtIP: "10.20.0.2", PlatformID: "C9407R",
		Type: "Cisco Catalyst 9407R Switch", Series: "Cisco Catalyst 9400 Series Switches", Family: "Switches and Hubs",
		SoftwareType: "IOS-XE", SoftwareVersion: "17.9.4a", Role: "DISTRIBUTION", Reachable: "Reachable",
		Serial: "FXS2202Q1LM", MAC: "2c:ab:eb:5d:91:c0", SiteID: hq.ID, UptimeSeconds: 5184000 + 9000,
		Health: 7, CPU: 46, Mem: 68, Interfaces: []iface{
			{"Vlan1", "unassigned", "administratively down", "down"},
			{"Vlan200", "10.20.0.2", "up", "up"},
			{"TenGigabitEthernet1/0/1", "10.20.1.2", "up", "up"},
			{"TenGigabitEthernet1/0/2", "unassigned", "down", "down"},
			{"GigabitEthernet2/0/1", "unassigned", "up", "up"},
		}})
	sjr := add(&device{Hostname: "sjc-b-rtr-01", MgmtIP: "10.30.0.1", PlatformID: "C8300-1N1S-6T",
		Type: "Cisco Catalyst 8300-1N1S-6T Edge Platform", Series: "Cisco Catalyst 8300 Series Edge Platforms",
		Family: "Routers", SoftwareType: "IOS-XE", SoftwareVersion: "17.12.2", Role: "BORDER ROUTER",
		Reachable: "Reachable", Serial: "FDO2540M0PQ", MAC: "34:88:18:6e:0a:40", SiteID: sjcb.ID,
		UptimeSeconds: 950400 + 12, Health: 10, CPU: 4, Mem: 29, Interfaces: []iface{
			{"GigabitEthernet0/0/0", "172.16.1.2", "up", "up"},
			{"GigabitEthernet0/0/1", "10.30.1.1", "up", "up"},
			{"GigabitEthernet0/0/2", "unassigned", "administratively down", "down"},
			{"Loopback0", "10.30.255.1", "up", "up"},
		}})
	for _, d := range inv.devices {
		if d.Family == "Unified AP" {
			d.Description = fmt.Sprintf("Cisco AP Software, (ap1g7), C9130, RELEASE SOFTWARE, Version: %s", d.SoftwareVersion)
			continue
		}
		d.Description = fmt.Sprintf("Cisco IOS Software [Cupertino], %s Software, Version %s, RELEASE SOFTWARE (fc2)",
			d.Series, d.SoftwareVersion)
	}

	inv.links = []link{
		{core.ID, "TwentyFiveGigE1/0/1", "10.10.1.1", acc1.ID, "TenGigabitEthernet1/1/1", "10.10.1.2", "25000000", true},
		{core.ID, "TwentyFiveGigE1/0/2", "10.10.1.5", acc2.ID, "TenGigabitEthernet1/1/1", "10.10.1.6", "25000000", false},
		{core.ID, "TwentyFiveGigE1/0/3", "10.10.1.9", wlc.ID, "TenGigabitEthernet0/0/0", "10.10.1.10", "10000000", true},
		{acc1.ID, "GigabitEthernet1/0/1", "", ap.ID, "GigabitEthernet0", "", "1000000", true},
		{core.ID, "HundredGigE1/0/25", "172.16.0.1", rtr.ID, "GigabitEthernet0/0/0", "172.16.0.2", "1000000", true},
		{rtr.ID, "GigabitEthernet0/0/1", "10.20.1.1", dist.ID, "TenGigabitEthernet1/0/1", "10.20.1.2", "1000000", true},
		{rtr.ID, "GigabitEthernet0/0/2", "172.16.1.1", sjr.ID, "GigabitEthernet0/0/0", "172.16.1.2", "1000000", true},
	}

	addIssue := func(key, name string, s *site, d *device, prio, status, cat string, n int, ago time.Duration) {
		inv.issues = append(inv.issues, &issue{ID: uuidFor("issue:" + key), Name: name, SiteID: s.ID,
			DeviceID: d.ID, DeviceRole: d.Role, Priority: prio, Status: status, Category: cat,
			Occurrences: n, Last: seedEpoch.Add(-ago)})
	}
	addIssue("acc2-unreachable", "Network Device 10.10.0.12 Is Unreachable From Controller", b1, acc2,
		"P1", "active", "Availability", 14, 20*time.Minute)
	addIssue("dist-te102-down", "Interface TenGigabitEthernet1/0/2 is down on network device nyc-hq-dist-01", hq, dist,
		"P2", "active", "Connectivity", 3, 2*time.Hour)
	addIssue("ap-5ghz-util", "Radio 5 GHz on AP lon-b1-ap-01 is experiencing high channel utilization", b1, ap,
		"P3", "active", "Utilization", 27, 35*time.Minute)
	addIssue("dist-cpu", "High CPU utilization on network device nyc-hq-dist-01", hq, dist,
		"P4", "active", "Device", 5, 5*time.Hour)
	addIssue("sjc-bgp-flap", "BGP tunnel connectivity lost between sjc-b-rtr-01 and 172.16.1.1", sjcb, sjr,
		"P2", "resolved", "Connectivity", 1, 26*time.Hour)
	addIssue("wlc-ha", "Wireless controller lon-b1-wlc-01 redundancy peer is unreachable", b1, wlc,
		"P3", "resolved", "Availability", 2, 72*time.Hour)

	// Configuration templates: two projects, each template with committed versions.
	campus := &project{ID: uuidFor("project:Campus-Access"), Name: "Campus-Access",
		Description: "Day-N access layer changes", Created: seedEpoch.Add(-90 * 24 * time.Hour)}
	services := &project{ID: uuidFor("project:Global-Services"), Name: "Global-Services",
		Description: "Shared services applied to every site", Created: seedEpoch.Add(-120 * 24 * time.Hour)}
	inv.projects = []*project{campus, services}

	addTemplate := func(p *project, name, desc, family string, params []tmplParam, versions ...string) {
		t := &template{ID: uuidFor("template:" + name), ProjectID: p.ID, Name: name, Description: desc,
			SoftwareType: "IOS-XE", ProductFamily: family, Created: p.Created.Add(24 * time.Hour), Params: params}
		for i, content := range versions {
			t.Versions = append(t.Versions, &tmplVersion{ID: uuidFor(fmt.Sprintf("template:%s:v%d", name, i+1)),
				Number: i + 1, Content: content, Comment: fmt.Sprintf("Version %d committed via API", i+1),
				Author: "netops", Created: t.Created.Add(time.Duration(i+1) * 7 * 24 * time.Hour), Template: t})
		}
		inv.templates = append(inv.templates, t)
	}
	addTemplate(campus, "Interface-Description", "Sets the description of one access port", "Switches and Hubs",
		[]tmplParam{
			{Name: "interface", DataType: "STRING", Description: "Interface name, e.g. GigabitEthernet1/0/10",
				DisplayName: "Interface", Required: true},
			{Name: "description", DataType: "STRING", Description: "Free text description",
				DisplayName: "Description", Required: true},
		},
		"interface $interface\n description $description\n",
		"interface ${interface}\n description ${description}\n no shutdown\n")
	addTemplate(services, "NTP-Servers", "Points the device at the corporate NTP servers", "Switches and Hubs",
		[]tmplParam{
			{Name: "ntp_primary", DataType: "IPADDRESS", Description: "Preferred NTP server",
				DisplayName: "Primary NTP server", Required: true},
			{Name: "ntp_secondary", DataType: "IPADDRESS", Description: "Backup NTP server",
				DisplayName: "Secondary NTP server", Required: true},
			{Name: "timezone", DataType: "STRING", Default: "UTC", Description: "Clock timezone name",
				DisplayName: "Timezone"},
		},
		"ntp server $ntp_primary prefer\nntp server $ntp_secondary\n",
		"clock timezone ${timezone} 0 0\nntp server ${ntp_primary} prefer\nntp server ${ntp_secondary}\n",
		"clock timezone ${timezone} 0 0\nntp server ${ntp_primary} prefer\nntp server ${ntp_secondary}\nntp update-calendar\n")
	addTemplate(services, "Login-Banner", "Legal login banner", "Switches and Hubs",
		[]tmplParam{{Name: "company", DataType: "STRING", Default: "Gatehouse Corp",
			Description: "Company named in the banner", DisplayName: "Company"}},
		"banner login ^C\nAuthorized access to $company systems only.\n^C\n")

	inv.legit = []string{"cat", "dir", "help", "more", "ping", "pwd", "show", "systat", "traceroute",
		"verify", "where", "who", "whoami"}
	return inv
}

func lastSegment(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}
