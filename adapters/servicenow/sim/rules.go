package sim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// writer is who writes, and when.
type writer struct {
	user string
	now  time.Time
	// system writes (test helpers acting for another user) are not subject
	// to DenyWrites.
	system bool
}

type journalEntry struct{ element, value string }

// write validates and applies an insert (rec == nil) or an update of a
// record seen through table, running the business rules of the record's
// class. Nothing changes when it returns an error. It returns the record and
// the names of the body fields that were ignored.
func (s *Sim) write(table string, rec *record, body map[string]string, wr writer) (*record, []string, *httpError) {
	insert := rec == nil
	class := table
	if !insert {
		class = rec.class
	}
	t := tables[class]
	if t.readOnly || tables[table].readOnly {
		return nil, nil, errACL(insert)
	}
	if !wr.system && (s.denied[table] || s.denied[class]) {
		return nil, nil, errACL(insert)
	}
	if !insert && s.locked(rec) {
		return nil, nil, errACL(false)
	}

	next := map[string]string{}
	if insert {
		for _, fd := range t.fields {
			switch fd.kind {
			case kBool:
				next[fd.name] = "false"
			case kJournal:
			default:
				next[fd.name] = ""
			}
		}
	} else {
		maps.Copy(next, rec.f)
	}
	var notes []journalEntry
	var ignored []string
	for _, k := range slices.Sorted(maps.Keys(body)) {
		v := body[k]
		fd, ok := t.field(k)
		if !ok || fd.system || k == "number" || (!insert && class == tChange && k == "type") {
			ignored = append(ignored, k)
			continue
		}
		switch fd.kind {
		case kJournal:
			if strings.TrimSpace(v) != "" {
				notes = append(notes, journalEntry{k, v})
			}
		case kRef:
			next[k] = s.resolveRef(fd.ref, strings.TrimSpace(v))
		case kBool:
			next[k] = boolString(v)
		case kDateTime:
			d, ok := parseDateTime(v)
			if !ok {
				ignored = append(ignored, k)
				continue
			}
			next[k] = d
		default:
			next[k] = v
		}
	}

	if insert && isA(class, tTask) {
		next["active"] = "true"
		next["opened_at"] = stamp(wr.now)
		if u := s.find(tUser, "user_name", wr.user); u != nil {
			next["opened_by"] = u.id()
		}
		if next["approval"] == "" {
			next["approval"] = "not requested"
		}
	}
	var after func(*record)
	var herr *httpError
	switch class {
	case tIncident:
		herr = s.incidentRules(rec, next, wr)
	case tChange:
		after, herr = s.changeRules(rec, next, wr)
	case tApproval:
		after, herr = s.approvalRules(rec, next, wr)
	case tChangeTask, tTask:
		if next["state"] == "" {
			next["state"] = "1"
		}
		next["active"] = strconv.FormatBool(!slices.Contains([]string{"3", "4", "7"}, next["state"]))
	}
	if herr != nil {
		return nil, nil, herr
	}

	if insert {
		rec = s.insert(class, "", next, wr.user, wr.now)
	} else {
		changed := false
		for k, v := range next {
			if rec.f[k] != v {
				rec.f[k], changed = v, true
			}
		}
		if changed || len(notes) > 0 {
			s.touch(rec, wr)
		}
	}
	for _, n := range notes {
		s.addJournal(rec, n.element, n.value, wr.user, wr.now)
	}
	if after != nil {
		after(rec)
	}
	return rec, ignored, nil
}

// touch records an update of r.
func (s *Sim) touch(r *record, wr writer) {
	r.f["sys_updated_on"] = stamp(wr.now)
	r.f["sys_updated_by"] = wr.user
	n, _ := strconv.Atoi(r.f["sys_mod_count"])
	r.f["sys_mod_count"] = strconv.Itoa(n + 1)
}

// locked reports whether a record is read only because of its state.
func (s *Sim) locked(r *record) bool {
	switch r.class {
	case tIncident:
		return r.f["state"] == "7" || r.f["state"] == "8"
	case tChange:
		return r.f["state"] == "3" || r.f["state"] == "4"
	}
	return false
}

func boolString(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return "true"
	}
	return "false"
}

func parseDateTime(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", true
	}
	if t, err := time.Parse(timeFormat, v); err == nil {
		return stamp(t), true
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return stamp(t), true
	}
	return "", false
}

func (s *Sim) userID(userName string) string {
	if u := s.find(tUser, "user_name", userName); u != nil {
		return u.id()
	}
	return ""
}

// stateLabels joins the labels of states of class.
func stateLabels(class string, states []string) string {
	if len(states) == 0 {
		return "none"
	}
	fd, _ := tables[class].field("state")
	var out []string
	for _, st := range states {
		if l, ok := fd.label(st); ok {
			out = append(out, l)
		} else {
			out = append(out, st)
		}
	}
	return strings.Join(out, ", ")
}

func missingClose(vals map[string]string) []string {
	var missing []string
	for _, f := range []string{"close_code", "close_notes"} {
		if strings.TrimSpace(vals[f]) == "" {
			missing = append(missing, f)
		}
	}
	return missing
}

// ---- incidents -------------------------------------------------------------------

// derivePriority is the default priority lookup: impact + urgency - 1, or
// 5 - Planning when either is out of range.
func derivePriority(impact, urgency string) string {
	i, err1 := strconv.Atoi(impact)
	u, err2 := strconv.Atoi(urgency)
	if err1 != nil || err2 != nil || i < 1 || i > 3 || u < 1 || u > 3 {
		return "5"
	}
	return strconv.Itoa(i + u - 1)
}

// incidentNext lists the states an incident in state from may move to.
func incidentNext(from string) []string {
	var out []string
	for _, st := range []string{"1", "2", "3", "6", "8"} {
		if st != from {
			out = append(out, st)
		}
	}
	if from == "6" {
		out = append(out, "7")
	}
	return out
}

func (s *Sim) incidentRules(old *record, next map[string]string, wr writer) *httpError {
	from, number := "1", "new incident"
	if old != nil {
		from, number = old.f["state"], old.f["number"]
	}
	if next["state"] == "" {
		next["state"] = from
	}
	to := next["state"]
	for _, f := range []string{"impact", "urgency"} {
		if next[f] == "" {
			next[f] = "3"
		}
	}
	next["priority"] = derivePriority(next["impact"], next["urgency"])
	if to != from {
		if allowed := incidentNext(from); !slices.Contains(allowed, to) {
			why := "not an incident state"
			if to == "7" {
				why = "an incident can be closed only once it is Resolved"
			}
			return errTransition(fmt.Sprintf("%s cannot move from %s to %s: %s; allowed next states are %s",
				number, stateLabels(tIncident, []string{from}), stateLabels(tIncident, []string{to}), why,
				stateLabels(tIncident, allowed)))
		}
		if to == "6" || to == "7" {
			if missing := missingClose(next); len(missing) > 0 {
				return errDataPolicy(missing...)
			}
		}
		switch {
		case to == "6":
			next["resolved_at"], next["resolved_by"] = stamp(wr.now), s.userID(wr.user)
		case to == "7":
			next["closed_at"], next["closed_by"] = stamp(wr.now), s.userID(wr.user)
		case from == "6" && to != "8":
			next["resolved_at"], next["resolved_by"] = "", "" // reopened
		}
	}
	next["active"] = strconv.FormatBool(to != "7" && to != "8")
	return nil
}

// ---- changes -----------------------------------------------------------------------

// changeModels maps a change type to its state model: state -> next states.
var changeModels = map[string]map[string][]string{
	"normal": {"-5": {"-4", "4"}, "-4": {"-3", "4"}, "-3": {"-2", "4"}, "-2": {"-1", "4"}, "-1": {"0", "4"},
		"0": {"3", "4"}},
	"emergency": {"-5": {"-3", "4"}, "-3": {"-2", "4"}, "-2": {"-1", "4"}, "-1": {"0", "4"}, "0": {"3", "4"}},
	"standard":  {"-5": {"-2", "4"}, "-2": {"-1", "4"}, "-1": {"0", "4"}, "0": {"3", "4"}},
}

// cabGroup is the group whose members approve a change in Authorize.
const cabGroup = "Change Advisory Board"

const (
	condNotOnHold   = "Change is not on hold"
	condGroup       = "Assignment group with a manager"
	condAssess      = "All Assess approvals approved"
	condCAB         = "All CAB approvals approved"
	condCloseFields = "Close code and close notes set"
)

type condResult struct {
	name, description string
	passed            bool
}

// changeConditions evaluates the conditions of moving the change (with
// field values vals) to state to.
func (s *Sim) changeConditions(id string, vals map[string]string, to string) []condResult {
	typ := vals["type"]
	var out []condResult
	if to != "4" {
		c := condResult{name: condNotOnHold, description: "the change is not on hold", passed: vals["on_hold"] != "true"}
		if !c.passed {
			c.description = "the change is on hold"
			if r := vals["on_hold_reason"]; r != "" {
				c.description += ": " + r
			}
		}
		out = append(out, c)
	}
	progress := func(name, stage string) condResult {
		ok, total := s.approvalProgress(id, vals["_round"], stage)
		c := condResult{name: name, passed: total > 0 && ok == total}
		switch {
		case total == 0:
			c.description = "no approvals were requested"
		case c.passed:
			c.description = fmt.Sprintf("%d of %d approved", ok, total)
		default:
			c.description = fmt.Sprintf("approvals pending: %d of %d approved", ok, total)
		}
		return c
	}
	switch {
	case typ == "normal" && to == "-4":
		c := condResult{name: condGroup, description: "set assignment_group to a group that has a manager"}
		if g := s.get(tGroup, vals["assignment_group"]); g != nil {
			if m := s.get(tUser, g.f["manager"]); m != nil {
				c.passed = true
				c.description = fmt.Sprintf("the Assess approval goes to %s, manager of %s", m.f["name"], g.f["name"])
			} else {
				c.description = g.f["name"] + " has no manager to approve the change"
			}
		}
		out = append(out, c)
	case typ == "normal" && to == "-3":
		out = append(out, progress(condAssess, "assess"))
	case (typ == "normal" || typ == "emergency") && to == "-2":
		out = append(out, progress(condCAB, "authorize"))
	case to == "3":
		c := condResult{name: condCloseFields, passed: true, description: "close_code and close_notes are set"}
		if missing := missingClose(vals); len(missing) > 0 {
			c.passed, c.description = false, "missing: "+strings.Join(missing, ", ")
		}
		out = append(out, c)
	}
	return out
}

func passed(conds []condResult) bool {
	for _, c := range conds {
		if !c.passed {
			return false
		}
	}
	return true
}

// nextStates returns the candidate next states of a change and, of those,
// the ones whose conditions pass.
func (s *Sim) nextStates(id string, vals map[string]string) (cands, open []string) {
	cands = changeModels[vals["type"]][vals["state"]]
	for _, st := range cands {
		if passed(s.changeConditions(id, vals, st)) {
			open = append(open, st)
		}
	}
	return cands, open
}

func (s *Sim) approvalsOf(changeID string) []*record {
	var out []*record
	for _, r := range s.order {
		if r.class == tApproval && r.f["sysapproval"] == changeID {
			out = append(out, r)
		}
	}
	return out
}

// approvalProgress counts the approved and all live approvals of one round
// and stage of a change.
func (s *Sim) approvalProgress(changeID, round, stage string) (approved, total int) {
	for _, a := range s.approvalsOf(changeID) {
		if a.f["_round"] != round || a.f["_stage"] != stage || a.f["state"] == "not_required" {
			continue
		}
		total++
		if a.f["state"] == "approved" {
			approved++
		}
	}
	return approved, total
}

func (s *Sim) changeRules(old *record, next map[string]string, wr writer) (func(*record), *httpError) {
	if old == nil {
		if next["type"] == "" {
			next["type"] = "normal"
		}
		if _, ok := changeModels[next["type"]]; !ok {
			return nil, &httpError{http.StatusBadRequest, "Invalid change type",
				fmt.Sprintf("type must be normal, standard or emergency, got %q", next["type"])}
		}
		next["state"] = "-5"
		next["approval"] = "not requested"
		if next["type"] == "standard" {
			next["approval"] = "approved"
		}
		if next["requested_by"] == "" {
			next["requested_by"] = s.userID(wr.user)
		}
		if next["impact"] == "" {
			next["impact"] = "3"
		}
		next["_round"] = "0"
		return nil, nil
	}
	from := old.f["state"]
	if next["state"] == "" {
		next["state"] = from
	}
	to := next["state"]
	if to == from {
		return nil, nil
	}
	id, number, typ := old.id(), old.f["number"], old.f["type"]
	cur := maps.Clone(next)
	cur["state"] = from
	cands, open := s.nextStates(id, cur)
	label := func(st string) string { return stateLabels(tChange, []string{st}) }
	if !slices.Contains(cands, to) {
		return nil, errTransition(fmt.Sprintf("%s cannot move from %s to %s: the %s change model does not allow it; allowed next states are %s",
			number, label(from), label(to), typ, stateLabels(tChange, open)))
	}
	for _, c := range s.changeConditions(id, cur, to) {
		if c.passed {
			continue
		}
		if c.name == condCloseFields {
			return nil, errDataPolicy(missingClose(next)...)
		}
		return nil, errTransition(fmt.Sprintf("%s cannot move from %s to %s: %s (%s); allowed next states are %s",
			number, label(from), label(to), c.name, c.description, stateLabels(tChange, open)))
	}

	var after func(*record)
	round, _ := strconv.Atoi(old.f["_round"])
	switch to {
	case "-4":
		next["_round"] = strconv.Itoa(round + 1)
		next["approval"] = "requested"
		after = func(chg *record) {
			g := s.get(tGroup, chg.f["assignment_group"])
			s.requestApproval(chg, g.f["manager"], "assess", wr)
		}
	case "-3":
		if typ == "emergency" {
			next["_round"] = strconv.Itoa(round + 1)
		}
		next["approval"] = "requested"
		after = func(chg *record) {
			for _, u := range s.members(cabGroup) {
				s.requestApproval(chg, u, "authorize", wr)
			}
		}
	case "-1":
		if next["work_start"] == "" {
			next["work_start"] = stamp(wr.now)
		}
	case "0":
		if next["work_end"] == "" {
			next["work_end"] = stamp(wr.now)
		}
	case "3":
		next["closed_at"], next["closed_by"] = stamp(wr.now), s.userID(wr.user)
		next["active"] = "false"
	case "4":
		next["active"] = "false"
		after = func(chg *record) { s.retireApprovals(chg, wr) }
	}
	return after, nil
}

// members returns the sys_ids of the users in the named group.
func (s *Sim) members(group string) []string {
	g := s.find(tGroup, "name", group)
	if g == nil {
		return nil
	}
	var out []string
	for _, m := range s.all(tGroupMember) {
		if m.f["group"] == g.id() {
			out = append(out, m.f["user"])
		}
	}
	return out
}

func (s *Sim) requestApproval(chg *record, userID, stage string, wr writer) {
	s.insert(tApproval, "", map[string]string{
		"approver": userID, "sysapproval": chg.id(), "document_id": chg.id(), "source_table": tChange,
		"state": "requested", "_stage": stage, "_round": chg.f["_round"],
	}, wr.user, wr.now)
}

// retireApprovals marks a change's pending approvals No Longer Required.
func (s *Sim) retireApprovals(chg *record, wr writer) {
	for _, a := range s.approvalsOf(chg.id()) {
		if a.f["state"] == "requested" {
			a.f["state"] = "not_required"
			s.touch(a, wr)
		}
	}
}

// ---- approvals --------------------------------------------------------------------

func (s *Sim) approvalRules(old *record, next map[string]string, wr writer) (func(*record), *httpError) {
	if old == nil {
		if next["state"] == "" {
			next["state"] = "requested"
		}
		return nil, nil
	}
	from := old.f["state"]
	if next["state"] == "" {
		next["state"] = from
	}
	to := next["state"]
	if to == from {
		return nil, nil
	}
	fd, _ := tables[tApproval].field("state")
	label := func(v string) string {
		if l, ok := fd.label(v); ok {
			return l
		}
		return v
	}
	if from != "requested" || (to != "approved" && to != "rejected") {
		what := "approval " + old.id()
		if chg := s.recs[old.f["sysapproval"]]; chg != nil {
			what = fmt.Sprintf("the approval of %s by %s", chg.f["number"], s.display(old, tables[tApproval].byName["approver"], old.f["approver"]))
		}
		return nil, errTransition(fmt.Sprintf("%s is %s and cannot become %s: only a Requested approval can be approved or rejected",
			what, label(from), label(to)))
	}
	return func(a *record) { s.approvalDecided(a, wr) }, nil
}

// approvalDecided updates the change after one of its approvals was decided.
func (s *Sim) approvalDecided(a *record, wr writer) {
	chg := s.get(tChange, a.f["sysapproval"])
	if chg == nil {
		return
	}
	if a.f["state"] == "rejected" {
		s.retireApprovals(chg, wr)
		chg.f["approval"], chg.f["state"] = "rejected", "-5"
		s.touch(chg, wr)
		return
	}
	if ok, total := s.approvalProgress(chg.id(), a.f["_round"], a.f["_stage"]); total > 0 && ok == total &&
		a.f["_round"] == chg.f["_round"] {
		chg.f["approval"] = "approved"
		s.touch(chg, wr)
	}
}
