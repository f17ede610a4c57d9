package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ---- inventory ------------------------------------------------------------

func (s *Sim) siteByID(id string) *site {
	for _, st := range s.inv.sites {
		if st.ID == id {
			return st
		}
	}
	return nil
}

// siteChain returns the site and its ancestors, root (Global) first.
func (s *Sim) siteChain(st *site) []*site {
	var chain []*site
	for cur := st; cur != nil; cur = s.siteByID(cur.ParentID) {
		chain = append([]*site{cur}, chain...)
	}
	return chain
}

func (s *Sim) siteNameHierarchy(st *site) string {
	var names []string
	for _, c := range s.siteChain(st) {
		names = append(names, c.Name)
	}
	return strings.Join(names, "/")
}

// inSubtree reports whether siteID is root or one of its descendants; site
// filters on assurance APIs cover the whole hierarchy below the given site.
func (s *Sim) inSubtree(siteID, root string) bool {
	for cur := s.siteByID(siteID); cur != nil; cur = s.siteByID(cur.ParentID) {
		if cur.ID == root {
			return true
		}
	}
	return false
}

func (s *Sim) deviceByID(id string) *device {
	for _, d := range s.inv.devices {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// upTimeString renders uptime the way the inventory reports it ("45 days, 3:12:09.00").
func upTimeString(secs int64) string {
	d, rem := secs/86400, secs%86400
	return fmt.Sprintf("%d days, %d:%02d:%02d.00", d, rem/3600, rem%3600/60, rem%60)
}

func (s *Sim) deviceJSON(d *device) map[string]any {
	last := seedEpoch.Add(-7 * time.Minute)
	boot := seedEpoch.Add(-time.Duration(d.UptimeSeconds) * time.Second)
	m := map[string]any{
		"id":                        d.ID,
		"instanceUuid":              d.ID,
		"instanceTenantId":          tenantID,
		"hostname":                  d.Hostname,
		"managementIpAddress":       d.MgmtIP,
		"platformId":                d.PlatformID,
		"type":                      d.Type,
		"series":                    d.Series,
		"family":                    d.Family,
		"softwareType":              nilIfEmpty(d.SoftwareType),
		"softwareVersion":           d.SoftwareVersion,
		"role":                      d.Role,
		"roleSource":                "AUTO",
		"reachabilityStatus":        d.Reachable,
		"reachabilityFailureReason": "",
		"serialNumber":              d.Serial,
		"macAddress":                d.MAC,
		"upTime":                    upTimeString(d.UptimeSeconds),
		"uptimeSeconds":             d.UptimeSeconds,
		"bootDateTime":              boot.Format("2006-01-02 15:04:05"),
		"lastUpdated":               last.Format("2006-01-02 15:04:05"),
		"lastUpdateTime":            millis(last),
		"collectionStatus":          "Managed",
		"collectionInterval":        "Global Default",
		"managementState":           "Managed",
		"inventoryStatusDetail":     "<status><general code=\"SUCCESS\"/></status>",
		"interfaceCount":            strconv.Itoa(len(d.Interfaces)),
		"lineCardCount":             "0",
		"lineCardId":                "",
		"memorySize":                "NA",
		"description":               d.Description,
		"snmpContact":               "noc@gatehouse.example",
		"snmpLocation":              s.siteNameHierarchy(s.siteByID(d.SiteID)),
		"location":                  nil,
		"locationName":              nil,
		"tagCount":                  "0",
		"deviceSupportLevel":        "Supported",
		"managedAtleastOnce":        true,
		"errorCode":                 nil,
		"errorDescription":          nil,
		"associatedWlcIp":           d.AssociatedWlcIP,
		"apManagerInterfaceIp":      "",
		"apEthernetMacAddress":      nil,
		"waasDeviceMode":            nil,
		"tunnelUdpPort":             nil,
	}
	if !d.reachable() {
		m["reachabilityFailureReason"] = "SNMP Connectivity Failed"
		m["collectionStatus"] = "Could Not Synchronize"
		m["errorCode"] = "DEV-UNREACHED"
		m["errorDescription"] = "SNMP timeouts are occurring with this device"
	}
	if d.Family == "Unified AP" {
		m["apEthernetMacAddress"] = d.MAC
		m["apManagerInterfaceIp"] = "10.10.0.20"
	}
	return m
}

func nilIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// matchAny reports whether value matches one of the filter values. Like the
// controller, a filter value may be a regular expression (hostname=lon-.*);
// matching is anchored and case-insensitive.
func matchAny(value string, filters []string) bool {
	for _, f := range filters {
		for _, f := range strings.Split(f, ",") {
			if strings.EqualFold(value, f) {
				return true
			}
			if re, err := regexp.Compile("(?i)^(?:" + f + ")$"); err == nil && re.MatchString(value) {
				return true
			}
		}
	}
	return false
}

// filterDevices applies the network-device query filters that Catalyst
// Center documents for GET /network-device (and /count).
func (s *Sim) filterDevices(r *http.Request) []*device {
	q := r.URL.Query()
	fields := map[string]func(*device) string{
		"hostname":            func(d *device) string { return d.Hostname },
		"managementIpAddress": func(d *device) string { return d.MgmtIP },
		"macAddress":          func(d *device) string { return d.MAC },
		"serialNumber":        func(d *device) string { return d.Serial },
		"platformId":          func(d *device) string { return d.PlatformID },
		"family":              func(d *device) string { return d.Family },
		"type":                func(d *device) string { return d.Type },
		"series":              func(d *device) string { return d.Series },
		"role":                func(d *device) string { return d.Role },
		"reachabilityStatus":  func(d *device) string { return d.Reachable },
		"softwareVersion":     func(d *device) string { return d.SoftwareVersion },
		"softwareType":        func(d *device) string { return d.SoftwareType },
		"collectionStatus": func(d *device) string {
			if d.reachable() {
				return "Managed"
			}
			return "Could Not Synchronize"
		},
		"associatedWlcIp": func(d *device) string { return d.AssociatedWlcIP },
		"id":              func(d *device) string { return d.ID },
	}
	var out []*device
	for _, d := range s.inv.devices {
		keep := true
		for name, get := range fields {
			if vals, ok := q[name]; ok && !matchAny(get(d), vals) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, d)
		}
	}
	return out
}

func (s *Sim) listDevices(w http.ResponseWriter, r *http.Request, _ []string) {
	offset, limit, ok := paging(w, r, maxPageLimit)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, d := range page(s.filterDevices(r), offset, limit) {
		out = append(out, s.deviceJSON(d))
	}
	writeJSON(w, http.StatusOK, envelope(out))
}

func (s *Sim) countDevices(w http.ResponseWriter, r *http.Request, _ []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope(len(s.filterDevices(r))))
}

func (s *Sim) getDevice(w http.ResponseWriter, _ *http.Request, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deviceByID(args[0])
	if d == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Network device not found",
			fmt.Sprintf("No network device with id %s", args[0]))
		return
	}
	writeJSON(w, http.StatusOK, envelope(s.deviceJSON(d)))
}

// ---- assurance --------------------------------------------------------------

// healthRole maps a device to the deviceRole vocabulary of /device-health.
func healthRole(d *device) string {
	switch d.Family {
	case "Routers":
		return "ROUTER"
	case "Wireless Controller":
		return "WLC"
	case "Unified AP":
		return "AP"
	}
	return d.Role
}

// healthBand maps a 1-10 score to the band names the health filter uses.
func healthBand(score int) string {
	switch {
	case score <= 0:
		return "NODATA"
	case score <= 3:
		return "POOR"
	case score <= 7:
		return "FAIR"
	}
	return "GOOD"
}

func (s *Sim) activeIssues(deviceID string) int {
	n := 0
	for _, is := range s.inv.issues {
		if is.DeviceID == deviceID && is.Status == "active" {
			n++
		}
	}
	return n
}

func (s *Sim) deviceHealth(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	role, band, siteID := strings.ToUpper(q.Get("deviceRole")), strings.ToUpper(q.Get("health")), q.Get("siteId")
	if role != "" && !slices.Contains([]string{"CORE", "ACCESS", "DISTRIBUTION", "ROUTER", "WLC", "AP"}, role) {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid deviceRole",
			"deviceRole must be one of CORE, ACCESS, DISTRIBUTION, ROUTER, WLC, AP")
		return
	}
	if band != "" && !slices.Contains([]string{"POOR", "FAIR", "GOOD", "NODATA"}, band) {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid health",
			"health must be one of POOR, FAIR, GOOD, NODATA")
		return
	}
	offset, limit, ok := paging(w, r, 50)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []map[string]any
	for _, d := range s.inv.devices {
		if (role != "" && healthRole(d) != role) || (band != "" && healthBand(d.Health) != band) ||
			(siteID != "" && !s.inSubtree(d.SiteID, siteID)) {
			continue
		}
		reach := "REACHABLE"
		if !d.reachable() {
			reach = "UNREACHABLE"
		}
		m := map[string]any{
			"name":                       d.Hostname,
			"model":                      d.PlatformID,
			"osVersion":                  d.SoftwareVersion,
			"ipAddress":                  d.MgmtIP,
			"overallHealth":              d.Health,
			"issueCount":                 s.activeIssues(d.ID),
			"location":                   s.siteNameHierarchy(s.siteByID(d.SiteID)),
			"deviceFamily":               strings.ToUpper(strings.ReplaceAll(d.Family, " ", "_")),
			"deviceType":                 d.Type,
			"macAddress":                 d.MAC,
			"interfaceLinkErrHealth":     10,
			"cpuUlitilization":           d.CPU, // sic: the real field name is misspelled
			"cpuHealth":                  scoreFromUtil(d.CPU, d.reachable()),
			"memoryUtilizationHealth":    scoreFromUtil(d.Mem, d.reachable()),
			"memoryUtilization":          d.Mem,
			"interDeviceLinkAvailHealth": 10,
			"reachabilityHealth":         reach,
		}
		if d.Family == "Unified AP" || d.Family == "Wireless Controller" {
			m["clientCount"] = map[string]any{"radio0": d.Clients / 3, "radio1": d.Clients - d.Clients/3,
				"Ghz24": d.Clients / 3, "Ghz50": d.Clients - d.Clients/3}
		}
		all = append(all, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": apiVersion, "totalCount": len(all),
		"response": orEmpty(page(all, offset, limit))})
}

// scoreFromUtil turns a utilization percentage into a 1-10 KPI score: fine
// below 75%, degraded below 90%, poor above.
func scoreFromUtil(util int, reachable bool) int {
	switch {
	case !reachable:
		return 0
	case util < 75:
		return 10
	case util < 90:
		return 5
	}
	return 1
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func pct(good, total int) any {
	if total == 0 {
		return nil
	}
	return int(math.Round(float64(good) * 100 / float64(total)))
}

func (s *Sim) siteHealth(w http.ResponseWriter, r *http.Request, _ []string) {
	siteType := strings.ToLower(r.URL.Query().Get("siteType"))
	if siteType != "" && siteType != "area" && siteType != "building" {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid siteType", "siteType must be AREA or BUILDING")
		return
	}
	offset, limit, ok := paging(w, r, 25)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, st := range s.inv.sites {
		if st.ParentID == "" || (siteType != "" && st.Type != siteType) {
			continue // Global is not reported as a site of its own
		}
		var good, total, wired, wireless int
		cat := map[string][2]int{}
		for _, d := range s.inv.devices {
			if !s.inSubtree(d.SiteID, st.ID) {
				continue
			}
			total++
			g := 0
			if d.Health >= 8 {
				good, g = good+1, 1
			}
			k := healthRole(d)
			c := cat[k]
			cat[k] = [2]int{c[0] + g, c[1] + 1}
		}
		for _, b := range s.inv.sites {
			if s.inSubtree(b.ID, st.ID) {
				wired, wireless = wired+b.WiredClients, wireless+b.WirelessClients
			}
		}
		wiredGood, wirelessGood := wired*94/100, wireless*88/100
		parent := s.siteByID(st.ParentID)
		m := map[string]any{
			"siteName":                           st.Name,
			"siteId":                             st.ID,
			"parentSiteId":                       parent.ID,
			"parentSiteName":                     parent.Name,
			"siteType":                           st.Type,
			"latitude":                           nil,
			"longitude":                          nil,
			"healthyNetworkDevicePercentage":     pct(good, total),
			"healthyClientsPercentage":           pct(wiredGood+wirelessGood, wired+wireless),
			"clientHealthWired":                  pct(wiredGood, wired),
			"clientHealthWireless":               pct(wirelessGood, wireless),
			"numberOfClients":                    wired + wireless,
			"numberOfNetworkDevice":              total,
			"networkHealthAverage":               pct(good, total),
			"networkHealthAccess":                pct(cat["ACCESS"][0], cat["ACCESS"][1]),
			"networkHealthCore":                  pct(cat["CORE"][0], cat["CORE"][1]),
			"networkHealthDistribution":          pct(cat["DISTRIBUTION"][0], cat["DISTRIBUTION"][1]),
			"networkHealthRouter":                pct(cat["ROUTER"][0], cat["ROUTER"][1]),
			"networkHealthWireless":              pct(cat["WLC"][0]+cat["AP"][0], cat["WLC"][1]+cat["AP"][1]),
			"networkHealthAP":                    pct(cat["AP"][0], cat["AP"][1]),
			"networkHealthWLC":                   pct(cat["WLC"][0], cat["WLC"][1]),
			"networkHealthSwitch":                pct(cat["ACCESS"][0]+cat["CORE"][0]+cat["DISTRIBUTION"][0], cat["ACCESS"][1]+cat["CORE"][1]+cat["DISTRIBUTION"][1]),
			"networkHealthOthers":                nil,
			"numberOfWiredClients":               wired,
			"numberOfWirelessClients":            wireless,
			"totalNumberOfConnectedWiredClients": wired,
			"totalNumberOfActiveWirelessClients": wireless,
			"wiredGoodClients":                   wiredGood,
			"wirelessGoodClients":                wirelessGood,
			"overallGoodDevices":                 good,
			"accessGoodCount":                    cat["ACCESS"][0],
			"accessTotalCount":                   cat["ACCESS"][1],
			"coreGoodCount":                      cat["CORE"][0],
			"coreTotalCount":                     cat["CORE"][1],
			"distributionGoodCount":              cat["DISTRIBUTION"][0],
			"distributionTotalCount":             cat["DISTRIBUTION"][1],
			"routerGoodCount":                    cat["ROUTER"][0],
			"routerTotalCount":                   cat["ROUTER"][1],
			"wirelessDeviceGoodCount":            cat["WLC"][0] + cat["AP"][0],
			"wirelessDeviceTotalCount":           cat["WLC"][1] + cat["AP"][1],
			"apDeviceGoodCount":                  cat["AP"][0],
			"apDeviceTotalCount":                 cat["AP"][1],
			"wlcDeviceGoodCount":                 cat["WLC"][0],
			"wlcDeviceTotalCount":                cat["WLC"][1],
			"applicationHealth":                  nil,
		}
		if st.Type == "building" {
			m["latitude"], m["longitude"] = st.Lat, st.Lon
		}
		out = append(out, m)
	}
	// The real site-health response carries no "version" member.
	writeJSON(w, http.StatusOK, map[string]any{"response": orEmpty(page(out, offset, limit))})
}

func (s *Sim) siteJSON(st *site) map[string]any {
	var ids []string
	for _, c := range s.siteChain(st) {
		ids = append(ids, c.ID)
	}
	info := []map[string]any{}
	switch st.Type {
	case "building":
		info = append(info, map[string]any{"nameSpace": "Location", "attributes": map[string]any{
			"country": st.Country, "address": st.Address, "type": "building", "addressInheritedFrom": st.ID,
			"latitude":  strconv.FormatFloat(st.Lat, 'f', -1, 64),
			"longitude": strconv.FormatFloat(st.Lon, 'f', -1, 64)}})
	case "area":
		if st.ParentID != "" {
			info = append(info, map[string]any{"nameSpace": "Location", "attributes": map[string]any{
				"addressInheritedFrom": st.ID, "type": "area"}})
		}
	}
	m := map[string]any{
		"id":                st.ID,
		"name":              st.Name,
		"siteHierarchy":     strings.Join(ids, "/"),
		"siteNameHierarchy": s.siteNameHierarchy(st),
		"instanceTenantId":  tenantID,
		"additionalInfo":    info,
	}
	if st.ParentID != "" {
		m["parentId"] = st.ParentID
	}
	return m
}

func (s *Sim) listSites(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	offset, limit, ok := paging(w, r, maxPageLimit)
	if !ok {
		return
	}
	name, id, typ := q.Get("name"), q.Get("siteId"), strings.ToLower(q.Get("type"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, st := range s.inv.sites {
		if (name != "" && !strings.EqualFold(s.siteNameHierarchy(st), name)) || (id != "" && st.ID != id) ||
			(typ != "" && st.Type != typ) {
			continue
		}
		out = append(out, s.siteJSON(st))
	}
	// GET /site returns only "response" on the real controller.
	writeJSON(w, http.StatusOK, map[string]any{"response": orEmpty(page(out, offset, limit))})
}

func (s *Sim) physicalTopology(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes := []map[string]any{}
	for _, d := range s.inv.devices {
		nodes = append(nodes, map[string]any{
			"id": d.ID, "label": d.Hostname, "ip": d.MgmtIP, "deviceType": d.Type, "family": d.Family,
			"platformId": d.PlatformID, "softwareVersion": d.SoftwareVersion, "role": d.Role,
			"roleSource": "AUTO", "nodeType": "device", "osType": nilIfEmpty(d.SoftwareType),
			"greyOut": !d.reachable(), "tags": []string{}, "customParam": map[string]any{},
			"additionalInfo": map[string]any{"macAddress": d.MAC, "siteid": d.SiteID},
		})
	}
	links := []map[string]any{}
	for _, l := range s.inv.links {
		status := "up"
		if !l.Up {
			status = "down"
		}
		links = append(links, map[string]any{
			"id":                   uuidFor("link:" + l.A + l.APort + l.B + l.BPort),
			"source":               l.A,
			"startPortID":          uuidFor("port:" + l.A + l.APort),
			"startPortName":        l.APort,
			"startPortIpv4Address": nilIfEmpty(l.AIP),
			"startPortIpv4Mask":    maskFor(l.AIP),
			"startPortSpeed":       l.Speed,
			"target":               l.B,
			"endPortID":            uuidFor("port:" + l.B + l.BPort),
			"endPortName":          l.BPort,
			"endPortIpv4Address":   nilIfEmpty(l.BIP),
			"endPortIpv4Mask":      maskFor(l.BIP),
			"endPortSpeed":         l.Speed,
			"linkStatus":           status,
			"greyOut":              !l.Up,
			"additionalInfo":       map[string]any{},
		})
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{"id": uuidFor("topology:physical"), "nodes": nodes, "links": links}))
}

func maskFor(ip string) any {
	if ip == "" {
		return nil
	}
	return "255.255.255.252"
}

func (s *Sim) listIssues(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	prio, status := strings.ToUpper(q.Get("priority")), strings.ToUpper(q.Get("issueStatus"))
	if prio != "" && !slices.Contains([]string{"P1", "P2", "P3", "P4"}, prio) {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid priority", "priority must be one of P1, P2, P3, P4")
		return
	}
	if status != "" && !slices.Contains([]string{"ACTIVE", "IGNORED", "RESOLVED"}, status) {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid issueStatus",
			"issueStatus must be one of ACTIVE, IGNORED, RESOLVED")
		return
	}
	siteID, deviceID := q.Get("siteId"), q.Get("deviceId")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, is := range s.inv.issues {
		if (prio != "" && is.Priority != prio) || (status != "" && !strings.EqualFold(is.Status, status)) ||
			(siteID != "" && !s.inSubtree(is.SiteID, siteID)) || (deviceID != "" && is.DeviceID != deviceID) {
			continue
		}
		out = append(out, map[string]any{
			"issueId": is.ID, "name": is.Name, "siteId": is.SiteID, "deviceId": is.DeviceID,
			"deviceRole": is.DeviceRole, "aiDriven": "No", "clientMac": nil,
			"issue_occurence_count": is.Occurrences, "status": is.Status, "priority": is.Priority,
			"category": is.Category, "last_occurence_time": millis(is.Last),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": apiVersion, "totalCount": len(out), "response": out})
}

// ---- configuration templates ---------------------------------------------------
//
// The v1 template-programmer GET/PUT endpoints answer with bare JSON (no
// response envelope) on the real controller; the simulator does the same.

func (s *Sim) projectByID(id string) *project {
	for _, p := range s.inv.projects {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// lookupTemplate resolves either a template id or the id of one of its
// committed versions.
func (s *Sim) lookupTemplate(id string) (*template, *tmplVersion) {
	for _, t := range s.inv.templates {
		if t.ID == id {
			return t, nil
		}
		for _, v := range t.Versions {
			if v.ID == id {
				return t, v
			}
		}
	}
	return nil, nil
}

func (s *Sim) listProjects(w http.ResponseWriter, r *http.Request, _ []string) {
	name := r.URL.Query().Get("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, p := range s.inv.projects {
		if name != "" && p.Name != name {
			continue
		}
		tmpls := []map[string]any{}
		for _, t := range s.inv.templates {
			if t.ProjectID == p.ID {
				tmpls = append(tmpls, map[string]any{"name": t.Name, "id": t.ID, "composite": false, "language": "VELOCITY"})
			}
		}
		out = append(out, map[string]any{"name": p.Name, "id": p.ID, "description": p.Description,
			"createTime": millis(p.Created), "lastUpdateTime": millis(p.Created), "tags": []any{}, "templates": tmpls})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) listTemplates(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	projectID, projectNames := q.Get("projectId"), q.Get("projectNames")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, t := range s.inv.templates {
		p := s.projectByID(t.ProjectID)
		if (projectID != "" && t.ProjectID != projectID) ||
			(projectNames != "" && !slices.Contains(strings.Split(projectNames, ","), p.Name)) {
			continue
		}
		versions := []map[string]any{}
		for _, v := range t.Versions {
			versions = append(versions, map[string]any{"id": v.ID, "version": strconv.Itoa(v.Number),
				"versionComment": v.Comment, "versionTime": millis(v.Created), "author": v.Author,
				"description": t.Description})
		}
		out = append(out, map[string]any{"name": t.Name, "templateId": t.ID, "projectId": p.ID,
			"projectName": p.Name, "composite": false, "versionsInfo": versions})
	}
	writeJSON(w, http.StatusOK, out)
}

var varRef = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// templateVars lists the variables a Velocity template references, in order
// of first use.
func templateVars(content string) []string {
	var names []string
	for _, m := range varRef.FindAllStringSubmatch(content, -1) {
		n := m[1] + m[2]
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// render substitutes $var and ${var}. Parameters without a value fall back to
// their default; required ones without either are reported as missing.
func render(t *template, v *tmplVersion, params map[string]any) (string, []string) {
	values := map[string]string{}
	var missing []string
	for _, name := range templateVars(v.Content) {
		if val, ok := params[name]; ok && val != nil && fmt.Sprint(val) != "" {
			values[name] = paramString(val)
			continue
		}
		if p, ok := t.param(name); ok && p.Default != "" {
			values[name] = p.Default
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) > 0 {
		return "", missing
	}
	return varRef.ReplaceAllStringFunc(v.Content, func(ref string) string {
		return values[strings.Trim(ref, "${}")]
	}), nil
}

func paramString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool, float64, int:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *Sim) templateJSON(t *template, v *tmplVersion, versioned bool) map[string]any {
	p := s.projectByID(t.ProjectID)
	params := []map[string]any{}
	for i, name := range templateVars(v.Content) {
		meta, _ := t.param(name)
		params = append(params, map[string]any{
			"id": uuidFor("param:" + t.ID + name), "parameterName": name, "dataType": orDefault(meta.DataType, "STRING"),
			"defaultValue": nilIfEmpty(meta.Default), "description": nilIfEmpty(meta.Description),
			"displayName": nilIfEmpty(meta.DisplayName), "required": meta.Required, "notParam": false,
			"paramArray": false, "order": i + 1, "customOrder": 0, "binding": "", "range": []any{},
		})
	}
	m := map[string]any{
		"id": t.ID, "name": t.Name, "projectId": p.ID, "projectName": p.Name, "description": t.Description,
		"author": v.Author, "composite": false, "language": "VELOCITY", "softwareType": t.SoftwareType,
		"softwareVariant": "XE", "deviceTypes": []map[string]any{{"productFamily": t.ProductFamily}},
		"templateContent": v.Content, "templateParams": params, "rollbackTemplateParams": []any{},
		"containingTemplates": []any{}, "tags": []any{}, "version": strconv.Itoa(v.Number),
		"createTime": millis(t.Created), "lastUpdateTime": millis(t.latest().Created),
		"latestVersionTime": millis(t.latest().Created), "customParamsOrder": false, "failurePolicy": nil,
	}
	if versioned {
		m["id"], m["parentTemplateId"], m["createTime"] = v.ID, t.ID, millis(v.Created)
	}
	return m
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (s *Sim) getTemplate(w http.ResponseWriter, r *http.Request, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, v := s.lookupTemplate(args[0])
	if t == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Template not found",
			fmt.Sprintf("No template or template version with id %s", args[0]))
		return
	}
	versioned := v != nil
	if v == nil {
		v = t.latest()
		versioned = r.URL.Query().Get("latestVersion") == "true"
	}
	writeJSON(w, http.StatusOK, s.templateJSON(t, v, versioned))
}

func (s *Sim) previewTemplate(w http.ResponseWriter, r *http.Request, _ []string) {
	var req struct {
		TemplateID string         `json:"templateId"`
		DeviceID   string         `json:"deviceId"`
		Params     map[string]any `json:"params"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, v := s.lookupTemplate(req.TemplateID)
	if t == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Template not found",
			fmt.Sprintf("No template with id %q", req.TemplateID))
		return
	}
	if req.DeviceID != "" && s.deviceByID(req.DeviceID) == nil {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid deviceId",
			fmt.Sprintf("No network device with id %s", req.DeviceID))
		return
	}
	if v == nil {
		v = t.latest()
	}
	out, missing := render(t, v, req.Params)
	resp := map[string]any{"templateId": req.TemplateID, "deviceId": nilIfEmpty(req.DeviceID),
		"cliPreview": out, "validationErrors": []any{}}
	if len(missing) > 0 {
		errs := []map[string]any{}
		for _, m := range missing {
			errs = append(errs, map[string]any{"type": "MISSING_PARAMETER",
				"message": fmt.Sprintf("Value for the required parameter '%s' is missing", m)})
		}
		resp["cliPreview"], resp["validationErrors"] = nil, errs
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeBody parses a JSON request body, keeping numbers exact so template
// params render as sent.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid request body",
			"The request body is not valid JSON for this API: "+err.Error())
		return false
	}
	return true
}
