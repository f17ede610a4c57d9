package sim

import (
	"fmt"
	"time"
)

// Approval is one sysapproval_approver row of a change, for test assertions.
type Approval struct {
	SysID    string
	Approver string // the approver's user_name
	State    string // requested, approved, rejected, not_required, ...
	// Stage is "assess" (the assignment group's manager) or "authorize"
	// (the CAB); empty for approvals not created by the change model.
	Stage    string
	Comments []string // oldest first
	Updated  time.Time
}

// JournalEntry is one work note or comment.
type JournalEntry struct {
	Element   string // work_notes or comments
	Value     string
	CreatedBy string // user_name
	CreatedOn time.Time
}

// Incident returns the stored field values of the incident with number
// (INC...), as the Table API returns them with sysparm_display_value=false.
func (s *Sim) Incident(number string) (map[string]string, bool) {
	return s.byNumber(tIncident, number)
}

// Change returns the stored field values of the change_request with number (CHG...).
func (s *Sim) Change(number string) (map[string]string, bool) {
	return s.byNumber(tChange, number)
}

func (s *Sim) byNumber(table, number string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(table, "number", number)
	if r == nil {
		return nil, false
	}
	return snapshot(r), true
}

// Record returns the stored field values of the record of table with sys_id.
func (s *Sim) Record(table, sysID string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := tables[table]; !ok {
		return nil, false
	}
	r := s.get(table, sysID)
	if r == nil {
		return nil, false
	}
	return snapshot(r), true
}

// Lookup returns the sys_id of the first record of table (or of its child
// tables) whose display value (number, name) is value; for sys_user the
// user_name matches too: Lookup("sys_user", "nina.neteng"), Lookup("cmdb_ci",
// "lon-b1-core-01"), Lookup("std_change_producer_version", "Update interface
// description").
func (s *Sim) Lookup(table, value string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := tables[table]; !ok {
		return "", false
	}
	for _, r := range s.all(table) {
		if s.displayOf(r) == value || (table == tUser && r.f["user_name"] == value) {
			return r.id(), true
		}
	}
	return "", false
}

// Approvals returns the approvals of the change with number, oldest first.
func (s *Sim) Approvals(changeNumber string) []Approval {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(tChange, "number", changeNumber)
	if c == nil {
		return nil
	}
	var out []Approval
	for _, a := range s.approvalsOf(c.id()) {
		ap := Approval{SysID: a.id(), State: a.f["state"], Stage: a.f["_stage"], Updated: parseStamp(a.f["sys_updated_on"])}
		if u := s.recs[a.f["approver"]]; u != nil {
			ap.Approver = u.f["user_name"]
		}
		for _, j := range s.journal(a.id(), "comments") {
			ap.Comments = append(ap.Comments, j.f["value"])
		}
		out = append(out, ap)
	}
	return out
}

// Journal returns the work notes and comments of the task record (incident,
// change, change task) with number, oldest first.
func (s *Sim) Journal(number string) []JournalEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(tTask, "number", number)
	if r == nil {
		return nil
	}
	var out []JournalEntry
	for _, j := range s.journal(r.id(), "") {
		out = append(out, JournalEntry{Element: j.f["element"], Value: j.f["value"],
			CreatedBy: j.f["sys_created_by"], CreatedOn: parseStamp(j.f["sys_created_on"])})
	}
	return out
}

// Approve decides the requested approval of approverUserName on the change
// with number, as that user would in the instance's UI: approve or reject,
// with an optional comment. The change's approval and state follow (see the
// package documentation). DenyWrites does not apply.
func (s *Sim) Approve(changeNumber, approverUserName string, approve bool, comment string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(tChange, "number", changeNumber)
	if c == nil {
		return fmt.Errorf("servicenow sim: no change %s", changeNumber)
	}
	u := s.find(tUser, "user_name", approverUserName)
	if u == nil {
		return fmt.Errorf("servicenow sim: no user %s", approverUserName)
	}
	var pending *record
	for _, a := range s.approvalsOf(c.id()) {
		if a.f["approver"] == u.id() && a.f["state"] == "requested" {
			pending = a
		}
	}
	if pending == nil {
		return fmt.Errorf("servicenow sim: %s has no requested approval on %s", approverUserName, changeNumber)
	}
	state := "rejected"
	if approve {
		state = "approved"
	}
	body := map[string]string{"state": state}
	if comment != "" {
		body["comments"] = comment
	}
	if _, _, herr := s.write(tApproval, pending, body, writer{user: approverUserName, now: s.opts.Now(), system: true}); herr != nil {
		return herr
	}
	return nil
}

func parseStamp(v string) time.Time {
	t, _ := time.Parse(timeFormat, v)
	return t
}
