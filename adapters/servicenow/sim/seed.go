package sim

import (
	"strconv"
	"strings"
	"time"
)

// seedEpoch anchors every timestamp in the seed so that responses are
// reproducible regardless of when the tests run (the Catalyst Center
// simulator uses the same instant).
var seedEpoch = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// templateFields are the change fields a standard change template sets.
var templateFields = []string{"short_description", "description", "implementation_plan", "backout_plan", "test_plan",
	"risk", "impact"}

// netDevice is a network device as the Catalyst Center simulator knows it.
type netDevice struct {
	name, ip, serial, mac, platform, typ, software, deviceType string
	ports                                                      int
	routes                                                     bool
}

// catalystDevices copies the inventory of the Catalyst Center simulator
// (adapters/catalystcenter/sim/seed.go, seedInventory): hostname, management
// IP, serial number, MAC, platform id, type and software version must stay
// identical so that a CI found in ServiceNow names the device Catalyst Center
// manages. TestCISeedMatchesCatalystCenter checks it.
var catalystDevices = []netDevice{
	{"lon-b1-core-01", "10.10.0.1", "FCW2231G0AB", "70:0f:6a:3e:11:00", "C9500-24Y4C", "Cisco Catalyst 9500 Switch", "17.9.4a", "Switch", 28, true},
	{"lon-b1-acc-01", "10.10.0.11", "FOC2318X1QZ", "00:a3:d1:4b:22:80", "C9300-48P", "Cisco Catalyst 9300 Switch", "17.9.4a", "Switch", 52, false},
	{"lon-b1-acc-02", "10.10.0.12", "FOC2318X2RA", "00:a3:d1:4b:35:00", "C9300-48P", "Cisco Catalyst 9300 Switch", "17.6.5", "Switch", 52, false},
	{"lon-b1-wlc-01", "10.10.0.20", "TTM2413017K", "f4:bd:9e:57:c0:0b", "C9800-40-K9", "Cisco Catalyst 9800-40 Wireless Controller", "17.9.4a", "Wireless Controller", 4, false},
	{"lon-b1-ap-01", "10.10.50.21", "FJC24231XYZ", "0c:d0:f8:94:a2:60", "C9130AXI-E", "Cisco Catalyst 9130AXI Unified Access Point", "17.9.4.27", "Access Point", 1, false},
	{"nyc-hq-rtr-01", "10.20.0.1", "FGL2149923D", "00:27:90:bb:d3:60", "ISR4451-X/K9", "Cisco 4451 Integrated Services Router", "17.6.5", "Router", 4, true},
	{"nyc-hq-dist-01", "10.20.0.2", "FXS2202Q1LM", "2c:ab:eb:5d:91:c0", "C9407R", "Cisco Catalyst 9407R Switch", "17.9.4a", "Switch", 96, true},
	{"sjc-b-rtr-01", "10.30.0.1", "FDO2540M0PQ", "34:88:18:6e:0a:40", "C8300-1N1S-6T", "Cisco Catalyst 8300-1N1S-6T Edge Platform", "17.12.2", "Router", 6, true},
}

// seedID is the sys_id of a seeded record: derived from its class and key
// (user_name, name or number).
func seedID(class, key string) string { return sysIDFor(class + ":" + key) }

// userEmail is a seeded user's email. Sam and Nina share theirs with the development issuer's
// demo users sam and nina (internal/dev/issuer), so that "my incidents" finds them when the
// simulator runs behind `gatehouse-dev`.
func userEmail(userName string) string {
	switch userName {
	case "sam.servicedesk":
		return "sam@example.com"
	case "nina.neteng":
		return "nina@example.com"
	}
	return userName + "@gatehouse.example"
}

// seed fills a new simulator with a small, deterministic instance.
func (s *Sim) seed() {
	ago := func(d time.Duration) time.Time { return seedEpoch.Add(-d) }
	const day = 24 * time.Hour
	add := func(class, key string, vals map[string]string, by string, at time.Time) *record {
		return s.insert(class, seedID(class, key), vals, by, at)
	}
	id := func(class, key string) string { return seedID(class, key) }

	// Users and groups.
	type user struct{ userName, first, last, title string }
	for _, u := range []user{
		{"gatehouse.integration", "Gatehouse", "Integration", "Integration user"},
		{"sam.servicedesk", "Sam", "Okafor", "Service Desk Analyst"},
		{"nina.neteng", "Nina", "Petrova", "Network Engineer"},
		{"olga.oncall", "Olga", "Novak", "Network Engineer (on call)"},
		{"carl.cab", "Carl", "Berg", "Change Manager"},
		{"maria.manager", "Maria", "Lopez", "Network Operations Manager"},
		{"ian.inactive", "Ian", "Former", "Network Engineer (left the company)"},
	} {
		add(tUser, u.userName, map[string]string{
			"user_name": u.userName, "first_name": u.first, "last_name": u.last, "name": u.first + " " + u.last,
			"email": userEmail(u.userName), "title": u.title,
			"active": strconv.FormatBool(u.userName != "ian.inactive"),
		}, "admin", ago(400*day))
	}
	userID := func(name string) string { return id(tUser, name) }
	type group struct {
		name, desc, manager string
		members             []string
	}
	for _, g := range []group{
		{"Service Desk", "First line support for every user request and incident", "maria.manager",
			[]string{"sam.servicedesk"}},
		{"Network Operations", "Campus, WAN and wireless networks", "maria.manager",
			[]string{"nina.neteng", "olga.oncall", "maria.manager"}},
		{cabGroup, "Approves normal and emergency changes", "carl.cab",
			[]string{"carl.cab", "maria.manager"}},
	} {
		add(tGroup, g.name, map[string]string{"name": g.name, "description": g.desc, "manager": userID(g.manager),
			"email": strings.ReplaceAll(strings.ToLower(g.name), " ", "-") + "@gatehouse.example", "active": "true"},
			"admin", ago(400*day))
		for _, m := range g.members {
			add(tGroupMember, g.name+":"+m, map[string]string{"group": id(tGroup, g.name), "user": userID(m)},
				"admin", ago(400*day))
		}
	}
	groupID := func(name string) string { return id(tGroup, name) }

	// CMDB: the Catalyst Center devices, WAN circuits and the business service.
	cisco := add(tCompany, "Cisco", map[string]string{"name": "Cisco", "manufacturer": "true"}, "admin", ago(400*day))
	for _, d := range catalystDevices {
		add(tNetGear, d.name, map[string]string{
			"name": d.name, "ip_address": d.ip, "serial_number": d.serial, "mac_address": d.mac,
			"manufacturer": cisco.id(), "model_number": d.platform, "short_description": d.typ,
			"firmware_version": d.software, "device_type": d.deviceType, "ports": strconv.Itoa(d.ports),
			"can_switch": strconv.FormatBool(d.deviceType == "Switch"), "can_route": strconv.FormatBool(d.routes),
			"category": "Network", "subcategory": d.deviceType, "operational_status": "1", "install_status": "1",
			"support_group": groupID("Network Operations"), "managed_by": userID("nina.neteng"),
			"dns_domain": "gatehouse.example",
		}, "admin", ago(200*day))
	}
	for _, c := range []struct{ name, desc, category, subcategory string }{
		{"wan-lon-nyc-01", "MPLS circuit London Building-1 to NYC HQ, 1 Gbps", "Network", "WAN circuit"},
		{"wan-nyc-sjc-01", "MPLS circuit NYC HQ to San Jose SJC-B, 1 Gbps", "Network", "WAN circuit"},
		{"Corporate Network", "Business service: connectivity for every office", "Business Service", "Network"},
	} {
		add(tCI, c.name, map[string]string{"name": c.name, "short_description": c.desc, "category": c.category,
			"subcategory": c.subcategory, "operational_status": "1", "install_status": "1",
			"support_group": groupID("Network Operations")}, "admin", ago(200*day))
	}
	ciID := func(name string) string {
		if r := s.find(tCI, "name", name); r != nil {
			return r.id()
		}
		panic("servicenow sim: seed references unknown CI " + name)
	}
	for _, t := range [][3]string{
		{"Depends on::Used by", "Depends on", "Used by"},
		{"Connects to::Connected by", "Connects to", "Connected by"},
		{"Runs on::Runs", "Runs on", "Runs"},
		{"Contains::Contained by", "Contains", "Contained by"},
	} {
		add(tRelType, t[0], map[string]string{"name": t[0], "parent_descriptor": t[1], "child_descriptor": t[2]},
			"admin", ago(400*day))
	}
	for _, rel := range [][3]string{
		{"lon-b1-acc-01", "Connects to::Connected by", "lon-b1-core-01"},
		{"lon-b1-acc-02", "Connects to::Connected by", "lon-b1-core-01"},
		{"lon-b1-wlc-01", "Connects to::Connected by", "lon-b1-core-01"},
		{"lon-b1-ap-01", "Connects to::Connected by", "lon-b1-acc-01"},
		{"nyc-hq-dist-01", "Connects to::Connected by", "nyc-hq-rtr-01"},
		{"lon-b1-core-01", "Depends on::Used by", "wan-lon-nyc-01"},
		{"nyc-hq-rtr-01", "Depends on::Used by", "wan-lon-nyc-01"},
		{"nyc-hq-rtr-01", "Depends on::Used by", "wan-nyc-sjc-01"},
		{"sjc-b-rtr-01", "Depends on::Used by", "wan-nyc-sjc-01"},
		{"Corporate Network", "Depends on::Used by", "lon-b1-core-01"},
		{"Corporate Network", "Depends on::Used by", "nyc-hq-rtr-01"},
		{"Corporate Network", "Depends on::Used by", "sjc-b-rtr-01"},
	} {
		add(tRel, rel[0]+" "+rel[1]+" "+rel[2], map[string]string{
			"parent": ciID(rel[0]), "type": id(tRelType, rel[1]), "child": ciID(rel[2]),
		}, "admin", ago(200*day))
	}

	// Standard change templates.
	for _, t := range []struct {
		name, desc, impl, backout, test, risk string
		active                                bool
	}{
		{"Update interface description",
			"Set the description of one access port with the Catalyst Center Interface-Description template.",
			"1. Render the Interface-Description template for the port.\n2. Deploy it with Catalyst Center.\n3. Check 'show interfaces <port> description'.",
			"Deploy the previous description with the same template.",
			"'show interfaces <port> description' shows the new text.", "4", true},
		{"Deploy approved configuration template",
			"Deploy a committed Catalyst Center template version approved for standard use (NTP servers, login banner).",
			"1. Preview the committed template version for every target device.\n2. Deploy it with Catalyst Center.\n3. Check the deployment status of every device.",
			"Deploy the previously committed template version.",
			"Every target reports SUCCESS and 'show running-config' contains the rendered lines.", "4", true},
		{"Reload access point",
			"Reload one access point during a maintenance window (retired: use a normal change).",
			"Reload the AP from its wireless controller.", "None: the AP returns after the reload.",
			"The AP joins its controller again.", "3", false},
	} {
		vals := map[string]string{"name": t.name, "short_description": t.name, "description": t.desc,
			"implementation_plan": t.impl, "backout_plan": t.backout, "test_plan": t.test, "risk": t.risk, "impact": "3",
			"version": "1", "active": strconv.FormatBool(t.active)}
		var enc []string
		for _, f := range templateFields {
			enc = append(enc, f+"="+vals[f])
		}
		vals["template"] = strings.Join(append(enc, "EQ"), "^")
		add(tTemplate, t.name, vals, "carl.cab", ago(120*day))
	}

	// Incidents.
	type incident struct {
		number, short, desc, caller, category, impact, urgency, state, group, assignee, ci string
		closeCode, closeNotes, holdReason, correlation                                     string
		opened                                                                             time.Duration
	}
	for _, in := range []incident{
		{number: "INC0000001", short: "Switch lon-b1-acc-02 unreachable from Catalyst Center",
			desc:   "Catalyst Center reports lon-b1-acc-02 (10.10.0.12) unreachable; users on London Building-1 floor 2 have no wired network.",
			caller: "sam.servicedesk", category: "network", impact: "2", urgency: "1", state: "2",
			group: "Network Operations", assignee: "nina.neteng", ci: "lon-b1-acc-02",
			correlation: "catalyst-center:lon-b1-acc-02:unreachable", opened: 50 * time.Minute},
		{number: "INC0000002", short: "High CPU on nyc-hq-dist-01",
			desc:   "CPU utilisation above 45% for five hours on nyc-hq-dist-01.",
			caller: "olga.oncall", category: "network", impact: "3", urgency: "2", state: "1",
			group: "Network Operations", ci: "nyc-hq-dist-01", opened: 5 * time.Hour},
		{number: "INC0000003", short: "Slow Wi-Fi near access point lon-b1-ap-01",
			desc:   "Several users on floor 3 report slow wireless; 5 GHz channel utilisation is high.",
			caller: "sam.servicedesk", category: "network", impact: "3", urgency: "3", state: "3", holdReason: "1",
			group: "Service Desk", assignee: "sam.servicedesk", ci: "lon-b1-ap-01", opened: 26 * time.Hour},
		{number: "INC0000004", short: "BGP session to sjc-b-rtr-01 flapped",
			desc:   "The BGP session between nyc-hq-rtr-01 and sjc-b-rtr-01 dropped twice.",
			caller: "olga.oncall", category: "network", impact: "2", urgency: "2", state: "6",
			group: "Network Operations", assignee: "nina.neteng", ci: "sjc-b-rtr-01",
			closeCode: "Solved (Permanently)", closeNotes: "The carrier replaced a faulty optic on the NYC-SJC circuit.",
			opened: 30 * time.Hour},
		{number: "INC0000005", short: "Wireless controller redundancy peer unreachable",
			desc:   "lon-b1-wlc-01 lost its HA peer.",
			caller: "nina.neteng", category: "network", impact: "2", urgency: "3", state: "7",
			group: "Network Operations", assignee: "olga.oncall", ci: "lon-b1-wlc-01",
			closeCode: "Solved (Work Around)", closeNotes: "HA peer link re-seated; RMA requested for the SFP.",
			opened: 80 * time.Hour},
		{number: "INC0000006", short: "lon-b1-acc-02 down (duplicate)",
			desc:   "Duplicate of INC0000001.",
			caller: "sam.servicedesk", category: "network", impact: "3", urgency: "3", state: "8",
			group: "Service Desk", ci: "lon-b1-acc-02", opened: 45 * time.Minute},
	} {
		opened := ago(in.opened)
		vals := map[string]string{
			"number": in.number, "short_description": in.short, "description": in.desc,
			"caller_id": userID(in.caller), "category": in.category, "impact": in.impact, "urgency": in.urgency,
			"priority": derivePriority(in.impact, in.urgency), "state": in.state, "hold_reason": in.holdReason,
			"assignment_group": groupID(in.group), "cmdb_ci": ciID(in.ci), "correlation_id": in.correlation,
			"close_code": in.closeCode, "close_notes": in.closeNotes, "approval": "not requested",
			"active":    strconv.FormatBool(in.state != "7" && in.state != "8"),
			"opened_at": stamp(opened), "opened_by": userID(in.caller),
		}
		if in.assignee != "" {
			vals["assigned_to"] = userID(in.assignee)
		}
		if in.state == "6" || in.state == "7" {
			vals["resolved_at"], vals["resolved_by"] = stamp(opened.Add(2*time.Hour)), userID(in.assignee)
		}
		if in.state == "7" {
			vals["closed_at"], vals["closed_by"] = stamp(opened.Add(26*time.Hour)), userID(in.assignee)
		}
		rec := add(tIncident, in.number, vals, in.caller, opened)
		if in.state != "1" {
			rec.f["sys_updated_on"], rec.f["sys_mod_count"] = stamp(opened.Add(20*time.Minute)), "2"
		}
	}
	inc1 := s.find(tIncident, "number", "INC0000001")
	s.addJournal(inc1, "comments", "Users on floor 2 report no wired network since 08:10.", "sam.servicedesk", ago(50*time.Minute))
	s.addJournal(inc1, "work_notes", "Device stopped answering SNMP at 08:40; checking uplink TenGigabitEthernet1/1/1 towards lon-b1-core-01.",
		"nina.neteng", ago(30*time.Minute))

	// Changes: a normal change that is Scheduled (approved by the assignment
	// group's manager and the CAB) and a closed standard change.
	chg1Opened := ago(6 * day)
	chg1 := add(tChange, "CHG0000001", map[string]string{
		"number": "CHG0000001", "type": "normal", "state": "-2", "approval": "approved", "active": "true",
		"short_description": "Upgrade IOS-XE on lon-b1-acc-02 to 17.9.4a",
		"description":       "lon-b1-acc-02 runs 17.6.5; align it with the rest of London Building-1 on 17.9.4a.",
		"cmdb_ci":           ciID("lon-b1-acc-02"), "risk": "3", "impact": "2", "priority": "3", "category": "Network",
		"assignment_group": groupID("Network Operations"), "assigned_to": userID("nina.neteng"),
		"requested_by": userID("nina.neteng"), "opened_by": userID("nina.neteng"), "opened_at": stamp(chg1Opened),
		"start_date": stamp(seedEpoch.Add(7*day + 13*time.Hour)), "end_date": stamp(seedEpoch.Add(7*day + 15*time.Hour)),
		"implementation_plan": "1. Copy 17.9.4a to flash.\n2. Install add-file activate commit.\n3. Verify the uplink and client ports.",
		"backout_plan":        "Install rollback to the 17.6.5 committed image.",
		"test_plan":           "show version; show interfaces status; ping lon-b1-core-01.",
		"_round":              "1",
	}, "nina.neteng", chg1Opened)
	approvals := []struct{ approver, stage, comment string }{
		{"maria.manager", "assess", "Technical plan reviewed."},
		{"carl.cab", "authorize", "Approved at the weekly CAB."},
		{"maria.manager", "authorize", ""},
	}
	for i, a := range approvals {
		at := chg1Opened.Add(time.Duration(i+1) * 12 * time.Hour)
		ap := add(tApproval, "CHG0000001:"+a.approver+":"+a.stage, map[string]string{
			"approver": userID(a.approver), "sysapproval": chg1.id(), "document_id": chg1.id(),
			"source_table": tChange, "state": "approved", "_stage": a.stage, "_round": "1",
		}, "nina.neteng", at.Add(-time.Hour))
		ap.f["sys_updated_on"], ap.f["sys_updated_by"], ap.f["sys_mod_count"] = stamp(at), a.approver, "1"
		if a.comment != "" {
			s.addJournal(ap, "comments", a.comment, a.approver, at)
		}
	}
	chg1.f["sys_updated_on"], chg1.f["sys_mod_count"] = stamp(chg1Opened.Add(40*time.Hour)), "5"
	add(tTaskCI, "CHG0000001:lon-b1-acc-02", map[string]string{"task": chg1.id(), "ci_item": ciID("lon-b1-acc-02")},
		"nina.neteng", chg1Opened)
	add(tChangeTask, "CTASK0000001", map[string]string{
		"number": "CTASK0000001", "change_request": chg1.id(), "state": "1", "active": "true",
		"short_description": "Pre-upgrade checks on lon-b1-acc-02", "change_task_type": "planning",
		"assignment_group": groupID("Network Operations"), "assigned_to": userID("nina.neteng"),
		"approval": "not requested", "opened_at": stamp(chg1Opened), "opened_by": userID("nina.neteng"),
	}, "nina.neteng", chg1Opened)

	tmpl := s.find(tTemplate, "name", "Update interface description")
	chg2Opened := ago(10 * day)
	chg2 := map[string]string{
		"number": "CHG0000002", "type": "standard", "state": "3", "approval": "approved", "active": "false",
		"cmdb_ci": ciID("lon-b1-acc-01"), "category": "Network", "priority": "4",
		"assignment_group": groupID("Network Operations"), "assigned_to": userID("nina.neteng"),
		"requested_by": userID("nina.neteng"), "opened_by": userID("nina.neteng"), "opened_at": stamp(chg2Opened),
		"std_change_producer_version": tmpl.id(),
		"start_date":                  stamp(chg2Opened.Add(4 * time.Hour)), "end_date": stamp(chg2Opened.Add(5 * time.Hour)),
		"work_start": stamp(chg2Opened.Add(4 * time.Hour)), "work_end": stamp(chg2Opened.Add(4*time.Hour + 10*time.Minute)),
		"close_code": "successful", "close_notes": "Gi1/0/10 described as 'Printer floor 2'.",
		"closed_at": stamp(chg2Opened.Add(5 * time.Hour)), "closed_by": userID("nina.neteng"), "_round": "0",
	}
	for _, f := range templateFields {
		chg2[f] = tmpl.f[f]
	}
	chg2["short_description"] = "Update interface description: lon-b1-acc-01 Gi1/0/10"
	c2 := add(tChange, "CHG0000002", chg2, "nina.neteng", chg2Opened)
	c2.f["sys_updated_on"], c2.f["sys_mod_count"] = chg2["closed_at"], "4"
	add(tTaskCI, "CHG0000002:lon-b1-acc-01", map[string]string{"task": c2.id(), "ci_item": ciID("lon-b1-acc-01")},
		"nina.neteng", chg2Opened)
}
