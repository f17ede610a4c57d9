package sim

import "slices"

// kind is a field's dictionary type, which decides how a value is written,
// compared and displayed.
type kind int

const (
	kString   kind = iota
	kInt           // integer, stored as its decimal string
	kBool          // "true" / "false"
	kDateTime      // "2006-01-02 15:04:05" UTC
	kRef           // sys_id of a record of fieldDef.ref
	kChoice        // stored value; the display value is the choice label
	kJournal       // work_notes / comments: writes append sys_journal_field rows
)

type choice struct{ value, label string }

type fieldDef struct {
	name    string
	kind    kind
	ref     string   // kRef: referenced table
	choices []choice // kChoice (kInt fields may carry labels too)
	system  bool     // sys_* fields and derived fields: never written from a request
}

func (f *fieldDef) label(v string) (string, bool) {
	for _, c := range f.choices {
		if c.value == v {
			return c.label, true
		}
	}
	return "", false
}

// tableDef is one table of the dictionary. Fields are inherited from parent;
// a child may redefine an inherited field (different choices), as a
// dictionary override does.
type tableDef struct {
	name, parent string
	display      string // field whose value is the record's display value
	number       string // number prefix ("INC"); empty for unnumbered tables
	numberStart  int    // first runtime number
	readOnly     bool   // the API may never insert or update rows
	own          []fieldDef

	fields []*fieldDef // resolved: system fields, inherited fields, own fields
	byName map[string]*fieldDef
}

func (t *tableDef) field(name string) (*fieldDef, bool) {
	f, ok := t.byName[name]
	return f, ok
}

func str(names ...string) []fieldDef {
	out := make([]fieldDef, 0, len(names))
	for _, n := range names {
		out = append(out, fieldDef{name: n})
	}
	return out
}

func ref(name, table string) fieldDef { return fieldDef{name: name, kind: kRef, ref: table} }
func dt(name string) fieldDef         { return fieldDef{name: name, kind: kDateTime} }
func boolean(name string) fieldDef    { return fieldDef{name: name, kind: kBool} }
func journal(name string) fieldDef    { return fieldDef{name: name, kind: kJournal} }
func integer(name string) fieldDef    { return fieldDef{name: name, kind: kInt} }

func choices(name string, k kind, pairs ...string) fieldDef {
	f := fieldDef{name: name, kind: k}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.choices = append(f.choices, choice{pairs[i], pairs[i+1]})
	}
	return f
}

// derived marks a field the simulator computes; request values are ignored.
func derived(f fieldDef) fieldDef { f.system = true; return f }

func concat(groups ...[]fieldDef) []fieldDef {
	var out []fieldDef
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// Choice lists, as in a base ServiceNow instance.
var (
	impactChoices   = []string{"1", "1 - High", "2", "2 - Medium", "3", "3 - Low"}
	priorityChoices = []string{"1", "1 - Critical", "2", "2 - High", "3", "3 - Moderate", "4", "4 - Low", "5", "5 - Planning"}
	approvalChoices = []string{"not requested", "Not Yet Requested", "requested", "Requested", "approved", "Approved",
		"rejected", "Rejected", "cancelled", "Cancelled", "not_required", "No Longer Required"}
	incidentStates = []string{"1", "New", "2", "In Progress", "3", "On Hold", "6", "Resolved", "7", "Closed", "8", "Canceled"}
	changeStates   = []string{"-5", "New", "-4", "Assess", "-3", "Authorize", "-2", "Scheduled", "-1", "Implement",
		"0", "Review", "3", "Closed", "4", "Canceled"}
)

// Table names the simulator serves.
const (
	tTask        = "task"
	tIncident    = "incident"
	tChange      = "change_request"
	tChangeTask  = "change_task"
	tCI          = "cmdb_ci"
	tNetGear     = "cmdb_ci_netgear"
	tRel         = "cmdb_rel_ci"
	tRelType     = "cmdb_rel_type"
	tUser        = "sys_user"
	tGroup       = "sys_user_group"
	tGroupMember = "sys_user_grmember"
	tCompany     = "core_company"
	tApproval    = "sysapproval_approver"
	tTaskCI      = "task_ci"
	tJournal     = "sys_journal_field"
	tTemplate    = "std_change_producer_version"
)

// tables is the simulated dictionary, built once.
var tables = buildTables()

func buildTables() map[string]*tableDef {
	defs := []*tableDef{
		{name: tTask, display: "number", number: "TASK", numberStart: 10001, own: concat(
			str("number", "short_description", "description", "close_notes", "correlation_id", "correlation_display"),
			[]fieldDef{
				choices("state", kInt, "-5", "Pending", "1", "Open", "2", "Work in Progress", "3", "Closed Complete",
					"4", "Closed Incomplete", "7", "Closed Skipped"),
				derived(boolean("active")),
				choices("impact", kInt, impactChoices...), choices("urgency", kInt, impactChoices...),
				choices("priority", kInt, priorityChoices...),
				ref("assignment_group", tGroup), ref("assigned_to", tUser), ref("cmdb_ci", tCI),
				dt("opened_at"), ref("opened_by", tUser), dt("closed_at"), ref("closed_by", tUser),
				dt("work_start"), dt("work_end"),
				choices("approval", kChoice, approvalChoices...),
				journal("work_notes"), journal("comments"),
			})},
		{name: tIncident, parent: tTask, number: "INC", numberStart: 10001, own: concat(
			str("subcategory"),
			[]fieldDef{
				choices("state", kInt, incidentStates...),
				ref("caller_id", tUser),
				choices("category", kChoice, "inquiry", "Inquiry / Help", "software", "Software", "hardware", "Hardware",
					"network", "Network", "database", "Database"),
				derived(choices("priority", kInt, priorityChoices...)), // from impact and urgency
				choices("hold_reason", kInt, "1", "Awaiting Caller", "3", "Awaiting Problem", "4", "Awaiting User Info",
					"5", "Awaiting Change"),
				choices("close_code", kChoice, "Solved (Work Around)", "Solved (Work Around)",
					"Solved (Permanently)", "Solved (Permanently)", "Solved Remotely (Work Around)", "Solved Remotely (Work Around)",
					"Solved Remotely (Permanently)", "Solved Remotely (Permanently)",
					"Not Solved (Not Reproducible)", "Not Solved (Not Reproducible)", "Not Solved (Too Costly)", "Not Solved (Too Costly)",
					"Closed/Resolved by Caller", "Closed/Resolved by Caller"),
				dt("resolved_at"), ref("resolved_by", tUser),
			})},
		{name: tChange, parent: tTask, number: "CHG", numberStart: 30001, own: concat(
			str("implementation_plan", "backout_plan", "test_plan", "justification", "on_hold_reason"),
			[]fieldDef{
				choices("state", kInt, changeStates...),
				choices("type", kChoice, "standard", "Standard", "normal", "Normal", "emergency", "Emergency"),
				choices("risk", kInt, "1", "Very High", "2", "High", "3", "Moderate", "4", "Low"),
				choices("impact", kInt, impactChoices...),
				choices("category", kChoice, "Hardware", "Hardware", "Software", "Software", "Network", "Network",
					"Service", "Service", "Other", "Other"),
				dt("start_date"), dt("end_date"),
				ref("requested_by", tUser),
				choices("close_code", kChoice, "successful", "Successful", "successful_issues", "Successful with issues",
					"unsuccessful", "Unsuccessful"),
				ref("std_change_producer_version", tTemplate),
				boolean("on_hold"),
				// Only the approval records move a change's approval.
				derived(choices("approval", kChoice, approvalChoices...)),
			})},
		{name: tChangeTask, parent: tTask, number: "CTASK", numberStart: 10001, own: []fieldDef{
			choices("state", kInt, "-5", "Pending", "1", "Open", "2", "In Progress", "3", "Closed", "4", "Canceled"),
			ref("change_request", tChange),
			choices("change_task_type", kChoice, "planning", "Planning", "implementation", "Implementation",
				"testing", "Testing", "review", "Review"),
			dt("planned_start_date"), dt("planned_end_date"),
			choices("close_code", kChoice, "successful", "Successful", "successful_issues", "Successful with issues",
				"unsuccessful", "Unsuccessful"),
		}},
		{name: tCI, display: "name", own: concat(
			str("name", "serial_number", "asset_tag", "ip_address", "mac_address", "model_number", "short_description",
				"category", "subcategory", "dns_domain"),
			[]fieldDef{
				ref("manufacturer", tCompany), ref("support_group", tGroup), ref("managed_by", tUser),
				choices("operational_status", kInt, "1", "Operational", "2", "Non-Operational", "3", "Repair in Progress",
					"4", "DR Standby", "5", "Ready", "6", "Retired"),
				choices("install_status", kInt, "1", "Installed", "2", "On Order", "3", "In Maintenance", "4", "Pending Install",
					"5", "Pending Repair", "6", "In Stock", "7", "Retired"),
			})},
		{name: tNetGear, parent: tCI, own: concat(str("device_type", "firmware_version"),
			[]fieldDef{integer("ports"), boolean("can_switch"), boolean("can_route")})},
		{name: tRelType, display: "name", own: str("name", "parent_descriptor", "child_descriptor")},
		{name: tRel, own: []fieldDef{ref("parent", tCI), ref("child", tCI), ref("type", tRelType)}},
		{name: tUser, display: "name", own: concat(str("user_name", "name", "first_name", "last_name", "email", "title"),
			[]fieldDef{boolean("active")})},
		{name: tGroup, display: "name", own: concat(str("name", "description", "email"),
			[]fieldDef{ref("manager", tUser), boolean("active")})},
		{name: tGroupMember, own: []fieldDef{ref("user", tUser), ref("group", tGroup)}},
		{name: tCompany, display: "name", own: concat(str("name"), []fieldDef{boolean("manufacturer")})},
		{name: tApproval, display: "sysapproval", own: concat(str("document_id", "source_table"), []fieldDef{
			ref("approver", tUser), ref("sysapproval", tTask),
			choices("state", kChoice, approvalChoices...),
			journal("comments"),
		})},
		{name: tTaskCI, own: []fieldDef{ref("task", tTask), ref("ci_item", tCI)}},
		{name: tJournal, readOnly: true, own: str("element_id", "name", "element", "value")},
		{name: tTemplate, display: "name", own: concat(
			str("name", "template", "short_description", "description", "implementation_plan", "backout_plan", "test_plan"),
			[]fieldDef{integer("version"), boolean("active"),
				choices("risk", kInt, "1", "Very High", "2", "High", "3", "Moderate", "4", "Low"),
				choices("impact", kInt, impactChoices...)})},
	}
	byName := map[string]*tableDef{}
	for _, d := range defs {
		byName[d.name] = d
	}
	var resolve func(d *tableDef) []*fieldDef
	resolve = func(d *tableDef) []*fieldDef {
		if d.fields != nil {
			return d.fields
		}
		var fields []*fieldDef
		if d.parent != "" {
			p := byName[d.parent]
			fields = slices.Clone(resolve(p))
			if d.display == "" {
				d.display = p.display
			}
		} else {
			fields = []*fieldDef{
				{name: "sys_id", system: true},
				{name: "sys_created_on", kind: kDateTime, system: true},
				{name: "sys_created_by", system: true},
				{name: "sys_updated_on", kind: kDateTime, system: true},
				{name: "sys_updated_by", system: true},
				{name: "sys_mod_count", kind: kInt, system: true},
			}
			if d.name == tTask || d.name == tCI {
				fields = append(fields, &fieldDef{name: "sys_class_name", system: true})
			}
		}
		for i := range d.own {
			f := &d.own[i]
			if j := slices.IndexFunc(fields, func(x *fieldDef) bool { return x.name == f.name }); j >= 0 {
				fields[j] = f
			} else {
				fields = append(fields, f)
			}
		}
		d.fields = fields
		d.byName = map[string]*fieldDef{}
		for _, f := range fields {
			d.byName[f.name] = f
		}
		return fields
	}
	for _, d := range defs {
		resolve(d)
	}
	return byName
}

// isA reports whether records of class belong to table (the class itself or
// one of its descendants), as a query on a base table returns its children.
func isA(class, table string) bool {
	for c := class; c != ""; c = tables[c].parent {
		if c == table {
			return true
		}
	}
	return false
}

// extensible reports whether the table's records carry sys_class_name.
func extensible(table string) bool {
	_, ok := tables[table].byName["sys_class_name"]
	return ok
}
