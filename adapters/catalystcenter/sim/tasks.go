package sim

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Asynchronous operations (template deploy, command runner) answer 202 with a
// task id; GET /task/{id} reports "in progress" until the task's duration has
// elapsed on the simulator clock, then the final outcome.

type task struct {
	id, service, username string
	start                 time.Time
	dur                   time.Duration
	deploy                *deployment // set for template deploys
	fileID                string      // set for command runner reads
}

func (t *task) end() time.Time          { return t.start.Add(t.dur) }
func (t *task) done(now time.Time) bool { return !now.Before(t.end()) }

// taskAccepted is the 202 body of every asynchronous Intent API call.
func taskAccepted(t *task) map[string]any {
	return envelope(map[string]any{"taskId": t.id, "url": "/api/v1/task/" + t.id})
}

func (d *deployment) done(now time.Time) bool { return !now.Before(d.end) }

type deployment struct {
	id, taskID string
	tmpl       *template
	version    *tmplVersion
	force      bool
	targets    []*deployTarget
	failure    string // overall failure reason; empty on success
	start, end time.Time
}

type deployTarget struct {
	dev      *device
	kind     string // targetInfo type as sent
	ident    string // targetInfo id as sent
	version  *tmplVersion
	params   map[string]any
	rendered string
	ok       bool
	message  string
}

func (d *deployment) snapshot(now time.Time) Deployment {
	out := Deployment{DeploymentID: d.id, TaskID: d.taskID, TemplateID: d.tmpl.ID, TemplateName: d.tmpl.Name,
		TemplateVersion: d.version.Number, VersionedTemplateID: d.version.ID, ForcePushTemplate: d.force,
		Status: "IN_PROGRESS", Created: d.start}
	done := d.done(now)
	if done {
		out.Status, out.FailureReason = "SUCCESS", d.failure
		if d.failure != "" {
			out.Status = "FAILURE"
		}
	}
	for _, t := range d.targets {
		out.DeviceIDs = append(out.DeviceIDs, t.dev.ID)
		dt := DeploymentTarget{DeviceID: t.dev.ID, Hostname: t.dev.Hostname, TemplateVersion: t.version.Number,
			Params:   maps.Clone(t.params),
			Rendered: t.rendered, Status: "IN_PROGRESS", Message: "Provisioning in progress"}
		if done {
			dt.Status, dt.Message = "SUCCESS", t.message
			if !t.ok {
				dt.Status = "FAILURE"
			}
		}
		out.Targets = append(out.Targets, dt)
	}
	return out
}

type targetInfo struct {
	ID                  string         `json:"id"`
	Type                string         `json:"type"`
	HostName            string         `json:"hostName"`
	Params              map[string]any `json:"params"`
	VersionedTemplateID string         `json:"versionedTemplateId"`
}

// resolveTarget finds the managed device a targetInfo entry designates.
func (s *Sim) resolveTarget(ti targetInfo) (*device, error) {
	var match func(*device) bool
	switch ti.Type {
	case "MANAGED_DEVICE_UUID":
		match = func(d *device) bool { return d.ID == ti.ID }
	case "MANAGED_DEVICE_IP":
		match = func(d *device) bool { return d.MgmtIP == ti.ID }
	case "MANAGED_DEVICE_HOSTNAME":
		name := orDefault(ti.HostName, ti.ID)
		match = func(d *device) bool { return d.Hostname == name }
	default:
		return nil, fmt.Errorf("target type %q is not supported; use MANAGED_DEVICE_UUID, MANAGED_DEVICE_IP or MANAGED_DEVICE_HOSTNAME", ti.Type)
	}
	for _, d := range s.inv.devices {
		if match(d) {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no managed device matches target %s %q", ti.Type, ti.ID)
}

func (s *Sim) deployTemplate(w http.ResponseWriter, r *http.Request, _ []string) {
	var req struct {
		TemplateID        string       `json:"templateId"`
		ForcePushTemplate bool         `json:"forcePushTemplate"`
		TargetInfo        []targetInfo `json:"targetInfo"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.TemplateID == "" {
		apiError(w, http.StatusBadRequest, "BadRequest", "templateId is required",
			"The deployment request must name the template to deploy")
		return
	}
	if len(req.TargetInfo) == 0 {
		apiError(w, http.StatusBadRequest, "NCTP10028", "At least one device data should be provided",
			"targetInfo is empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, v := s.lookupTemplate(req.TemplateID)
	if t == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Template not found",
			fmt.Sprintf("No template with id %s", req.TemplateID))
		return
	}
	if v == nil {
		v = t.latest() // deploying a template id deploys its latest committed version
	}
	now := s.opts.Now()
	dep := &deployment{id: s.nextID("deployment"), tmpl: t, version: v, force: req.ForcePushTemplate,
		start: now, end: now.Add(deployDuration)}
	for _, ti := range req.TargetInfo {
		dev, err := s.resolveTarget(ti)
		if err != nil {
			apiError(w, http.StatusBadRequest, "BadRequest", "Invalid target device", err.Error())
			return
		}
		tv := v
		if ti.VersionedTemplateID != "" {
			vt, vv := s.lookupTemplate(ti.VersionedTemplateID)
			if vt != t || vv == nil {
				apiError(w, http.StatusBadRequest, "BadRequest", "Invalid versionedTemplateId",
					fmt.Sprintf("%s is not a committed version of template %s", ti.VersionedTemplateID, t.ID))
				return
			}
			tv = vv
		}
		tgt := &deployTarget{dev: dev, kind: ti.Type, ident: ti.ID, version: tv, params: ti.Params}
		if tgt.params == nil {
			tgt.params = map[string]any{}
		}
		out, missing := render(t, tv, tgt.params)
		switch {
		case len(missing) > 0:
			tgt.message = "Template params validation failed: missing value for required parameter(s): " +
				strings.Join(missing, ", ")
		case !dev.reachable():
			tgt.rendered, tgt.message = out, "Device is not reachable; configuration could not be pushed"
		default:
			tgt.rendered, tgt.ok, tgt.message = out, true, "Provisioning success for template "+t.Name
		}
		dep.targets = append(dep.targets, tgt)
	}
	if len(s.failNext) > 0 {
		dep.failure, s.failNext = s.failNext[0], s.failNext[1:]
		for _, tgt := range dep.targets {
			tgt.ok, tgt.message = false, dep.failure
		}
	}
	for _, tgt := range dep.targets {
		if !tgt.ok && dep.failure == "" {
			dep.failure = tgt.dev.Hostname + ": " + tgt.message
		}
	}
	tk := &task{id: s.nextID("task"), service: "NCTP", username: s.opts.Username,
		start: now, dur: deployDuration, deploy: dep}
	dep.taskID = tk.id
	s.tasks[tk.id] = tk
	s.deployments = append(s.deployments, dep)
	if s.loseNext > 0 {
		s.loseNext--
		apiError(w, http.StatusGatewayTimeout, "GatewayTimeout", "Gateway Timeout", "the upstream did not answer in time")
		return
	}
	writeJSON(w, http.StatusAccepted, taskAccepted(tk))
}

// deployStatus serves GET /template-programmer/template/deploy/status/{id},
// where the real controller reports per-device deployment results.
func (s *Sim) deployStatus(w http.ResponseWriter, _ *http.Request, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dep *deployment
	for _, d := range s.deployments {
		if d.id == args[0] {
			dep = d
		}
	}
	if dep == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Deployment not found",
			fmt.Sprintf("No template deployment with id %s", args[0]))
		return
	}
	now := s.opts.Now()
	snap := dep.snapshot(now)
	const layout = "Mon Jan 02 15:04:05 UTC 2006"
	endStr, dur := "", ""
	if dep.done(now) {
		endStr, dur = dep.end.UTC().Format(layout), fmt.Sprintf("%d seconds", int(deployDuration.Seconds()))
	}
	devices := []map[string]any{}
	for i, tgt := range snap.Targets {
		devices = append(devices, map[string]any{"deviceId": tgt.DeviceID, "name": tgt.Hostname,
			"ipAddress": dep.targets[i].dev.MgmtIP, "identifier": dep.targets[i].ident,
			"targetType": dep.targets[i].kind, "status": tgt.Status, "detailedStatusMessage": tgt.Message,
			"startTime": dep.start.UTC().Format(layout), "endTime": endStr, "duration": dur})
	}
	msg := "Deployment in progress"
	if snap.Status != "IN_PROGRESS" {
		msg = orDefault(snap.FailureReason, "Template deployed successfully")
	}
	writeJSON(w, http.StatusOK, map[string]any{"deploymentId": dep.id,
		"deploymentName": "Deployment of Template: " + dep.tmpl.Name, "templateName": dep.tmpl.Name,
		"templateVersion": fmt.Sprint(dep.version.Number), "projectName": s.projectByID(dep.tmpl.ProjectID).Name,
		"status": snap.Status, "statusMessage": msg, "startTime": dep.start.UTC().Format(layout),
		"endTime": endStr, "duration": dur, "devices": devices})
}

func (s *Sim) getTask(w http.ResponseWriter, _ *http.Request, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tk := s.tasks[args[0]]
	if tk == nil {
		apiError(w, http.StatusNotFound, "NotFound", "Task not found", fmt.Sprintf("No task with id %s", args[0]))
		return
	}
	writeJSON(w, http.StatusOK, envelope(tk.json(s.opts.Now())))
}

// listTasks serves GET /task, the controller's task search: filters startTime and endTime
// (epoch milliseconds, inclusive, on the task's start), serviceType, isError; offset (1-based)
// and limit (default 500); sorted by startTime, oldest first.
func (s *Sim) listTasks(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	num := func(name string, def int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "BadRequest", "Invalid query parameter", fmt.Sprintf("%s must be a non-negative integer, got %q", name, v))
			return 0, false
		}
		return n, true
	}
	from, ok1 := num("startTime", 0)
	to, ok2 := num("endTime", 1<<62)
	offset, ok3 := num("offset", 1)
	limit, ok4 := num("limit", 500)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return
	}
	if offset < 1 {
		offset = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var list []*task
	for _, tk := range s.tasks {
		st := millis(tk.start)
		if st < from || st > to || (q.Get("serviceType") != "" && tk.service != q.Get("serviceType")) {
			continue
		}
		list = append(list, tk)
	}
	slices.SortFunc(list, func(a, b *task) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out, n := []map[string]any{}, int64(0)
	for _, tk := range list {
		m := tk.json(now)
		if v := q.Get("isError"); v != "" && fmt.Sprint(m["isError"]) != v {
			continue
		}
		if n++; n >= offset && int64(len(out)) < limit {
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, envelope(out))
}

// json is the task as GET /task/{id} reports it at now.
func (tk *task) json(now time.Time) map[string]any {
	m := map[string]any{"id": tk.id, "rootId": tk.id, "serviceType": tk.service, "username": tk.username,
		"instanceTenantId": tenantID, "startTime": millis(tk.start), "version": millis(tk.start),
		"lastUpdate": millis(now), "isError": false}
	switch {
	case !tk.done(now) && tk.deploy != nil:
		m["progress"] = "Template deployment in progress"
	case !tk.done(now):
		m["progress"] = "CLI Runner request creation"
	case tk.deploy != nil:
		m["endTime"], m["lastUpdate"] = millis(tk.end()), millis(tk.end())
		// Sic: the controller really spells it "Deployemnt"; clients parse this string.
		m["progress"] = "Template Deployemnt Id: " + tk.deploy.id
		if tk.deploy.failure != "" {
			m["isError"], m["failureReason"] = true, tk.deploy.failure
			m["progress"] = fmt.Sprintf("Template Deployemnt Id: %s | failureReason: %s", tk.deploy.id, tk.deploy.failure)
		}
	default:
		m["endTime"], m["lastUpdate"] = millis(tk.end()), millis(tk.end())
		// The command runner reports its result file as a JSON document inside the progress string.
		m["progress"] = fmt.Sprintf(`{"fileId":"%s"}`, tk.fileID)
	}
	return m
}

// ---- command runner -----------------------------------------------------------------

type cliFile struct {
	id       string
	task     *task
	commands []string
	devices  []*device
	result   []map[string]any // built once, when first read after completion
}

func (s *Sim) legitReads(w http.ResponseWriter, _ *http.Request, _ []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope(s.inv.legit))
}

func (s *Sim) readRequest(w http.ResponseWriter, r *http.Request, _ []string) {
	var req struct {
		Commands    []string `json:"commands"`
		DeviceUUIDs []string `json:"deviceUuids"`
		Timeout     int      `json:"timeout"`
		Name        string   `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Commands) == 0 || len(req.DeviceUUIDs) == 0 {
		apiError(w, http.StatusBadRequest, "BadRequest", "Invalid command runner request",
			"commands and deviceUuids must both be non-empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &cliFile{commands: req.Commands}
	for _, id := range req.DeviceUUIDs {
		d := s.deviceByID(id)
		if d == nil {
			apiError(w, http.StatusBadRequest, "BadRequest", "Invalid device uuid",
				fmt.Sprintf("No network device with id %s", id))
			return
		}
		f.devices = append(f.devices, d)
	}
	f.id = s.nextID("file")
	tk := &task{id: s.nextID("task"), service: "Command Runner Service", username: s.opts.Username,
		start: s.opts.Now(), dur: readDuration, fileID: f.id}
	f.task = tk
	s.tasks[tk.id] = tk
	s.files[f.id] = f
	writeJSON(w, http.StatusAccepted, taskAccepted(tk))
}

func (s *Sim) getFile(w http.ResponseWriter, _ *http.Request, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[args[0]]
	if f == nil || !f.task.done(s.opts.Now()) {
		apiError(w, http.StatusNotFound, "NotFound", "File not found", fmt.Sprintf("No file with id %s", args[0]))
		return
	}
	if f.result == nil {
		f.result = s.runCommands(f)
	}
	writeJSON(w, http.StatusOK, f.result)
}

// runCommands builds the command runner result file as of the task's end.
func (s *Sim) runCommands(f *cliFile) []map[string]any {
	at := f.task.end()
	out := []map[string]any{}
	for _, d := range f.devices {
		ok, fail, black := map[string]string{}, map[string]string{}, map[string]string{}
		for _, cmd := range f.commands {
			word := strings.ToLower(strings.Fields(cmd + " x")[0])
			switch {
			case !slices.Contains(s.inv.legit, word):
				black[cmd] = "Command not allowed: only read-only commands (see legit-reads) can be run"
			case !d.reachable():
				fail[cmd] = "Device is not reachable: " + d.MgmtIP
			case d.Family == "Unified AP":
				fail[cmd] = "Command runner is not supported for device family Unified AP"
			default:
				if text, good := s.cliOutput(d, cmd, at); good {
					ok[cmd] = cmd + "\n" + text + "\n" + d.Hostname + "#"
				} else {
					fail[cmd] = cmd + "\n" + strings.Repeat(" ", len(d.Hostname)+1) + "^\n" +
						"% Invalid input detected at '^' marker.\n\n" + d.Hostname + "#"
				}
			}
		}
		out = append(out, map[string]any{"deviceUuid": d.ID,
			"commandResponses": map[string]any{"SUCCESS": ok, "FAILURE": fail, "BLACKLISTED": black}})
	}
	return out
}

// cliOutput produces plausible IOS-XE output for the read commands adapters use.
func (s *Sim) cliOutput(d *device, cmd string, at time.Time) (string, bool) {
	f := strings.Fields(strings.ToLower(cmd))
	line := strings.Join(f, " ")
	uptime := d.UptimeSeconds + int64(max(0, at.Sub(seedEpoch).Seconds()))
	switch {
	case line == "show version" || line == "show ver":
		return s.showVersion(d, uptime), true
	case line == "show clock":
		return at.UTC().Format("*15:04:05.000 UTC Mon Jan 2 2006"), true
	case strings.HasPrefix(line, "show ip int") && len(f) == 4 && strings.HasPrefix("brief", f[3]):
		var b strings.Builder
		fmt.Fprintf(&b, "%-27s%-16s%-4s%-7s%-22s%s", "Interface", "IP-Address", "OK?", "Method", "Status", "Protocol")
		for _, i := range d.Interfaces {
			method := "manual"
			if i.IP == "unassigned" {
				method = "unset"
			}
			fmt.Fprintf(&b, "\n%-27s%-16s%-4s%-7s%-22s%s", i.Name, i.IP, "YES", method, i.Status, i.Protocol)
		}
		return b.String(), true
	case line == "show running-config" || line == "show run":
		return s.runningConfig(d, at), true
	case len(f) == 2 && (f[0] == "ping" || f[0] == "traceroute") && net.ParseIP(f[1]) != nil:
		if f[0] == "ping" {
			return fmt.Sprintf("Type escape sequence to abort.\nSending 5, 100-byte ICMP Echos to %s, timeout is 2 seconds:\n"+
				"!!!!!\nSuccess rate is 100 percent (5/5), round-trip min/avg/max = 1/1/2 ms", f[1]), true
		}
		return fmt.Sprintf("Type escape sequence to abort.\nTracing the route to %s\nVRF info: (vrf in name/id, vrf out name/id)\n"+
			"  1 %s 1 msec 1 msec 1 msec", f[1], f[1]), true
	}
	return "", false
}

func (s *Sim) showVersion(d *device, uptime int64) string {
	days, hours, mins := uptime/86400, uptime%86400/3600, uptime%3600/60
	return fmt.Sprintf(`Cisco IOS XE Software, Version %[1]s
Cisco IOS Software [Cupertino], %[2]s Software, Version %[1]s, RELEASE SOFTWARE (fc2)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2024 by Cisco Systems, Inc.

ROM: IOS-XE ROMMON

%[3]s uptime is %[4]d days, %[5]d hours, %[6]d minutes
System returned to ROM by Reload Command
System image file is "bootflash:packages.conf"
Last reload reason: Reload Command

cisco %[7]s (X86) processor with 1863083K/6147K bytes of memory.
Processor board ID %[8]s
%[9]d Virtual Ethernet/IEEE 802.3 interfaces
32768K bytes of non-volatile configuration memory.

Base Ethernet MAC Address          : %[10]s
Model Number                       : %[7]s
System Serial Number               : %[8]s

Configuration register is 0x102`,
		d.SoftwareVersion, d.Series, d.Hostname, days, hours, mins, d.PlatformID, d.Serial, len(d.Interfaces), d.MAC)
}

// runningConfig includes the CLI of every template deployment that succeeded
// on the device before at, which is how deploys become observable state.
func (s *Sim) runningConfig(d *device, at time.Time) string {
	var b strings.Builder
	b.WriteString("Building configuration...\n\n!\nversion " + majorMinor(d.SoftwareVersion) + "\n")
	b.WriteString("service timestamps debug datetime msec\nservice timestamps log datetime msec\n!\n")
	b.WriteString("hostname " + d.Hostname + "\n!\n")
	for _, i := range d.Interfaces {
		b.WriteString("interface " + i.Name + "\n")
		if i.IP == "unassigned" {
			b.WriteString(" no ip address\n")
		} else {
			mask := "255.255.255.0"
			if strings.HasPrefix(i.Name, "Loopback") {
				mask = "255.255.255.255"
			}
			b.WriteString(" ip address " + i.IP + " " + mask + "\n")
		}
		if i.Status == "administratively down" {
			b.WriteString(" shutdown\n")
		}
		b.WriteString("!\n")
	}
	for _, dep := range s.deployments {
		if !dep.done(at) {
			continue
		}
		for _, tgt := range dep.targets {
			if tgt.ok && tgt.dev == d {
				b.WriteString(strings.TrimRight(tgt.rendered, "\n") + "\n!\n")
			}
		}
	}
	b.WriteString("end")
	return b.String()
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
