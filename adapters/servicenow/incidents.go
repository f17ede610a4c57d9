package servicenow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Incident is what a person acts on in an incident: display values for references, and a
// link to the record.
type Incident struct {
	Number           string `json:"number"`
	ShortDescription string `json:"short_description"`
	Description      string `json:"description,omitempty"`
	State            string `json:"state"`
	Priority         string `json:"priority"`
	Impact           string `json:"impact,omitempty"`
	Urgency          string `json:"urgency,omitempty"`
	Caller           string `json:"caller,omitempty"`
	AssignmentGroup  string `json:"assignment_group,omitempty"`
	AssignedTo       string `json:"assigned_to,omitempty"`
	ConfigItem       string `json:"configuration_item,omitempty"`
	Category         string `json:"category,omitempty"`
	Opened           string `json:"opened_at,omitempty"`
	Updated          string `json:"updated_at,omitempty"`
	CloseCode        string `json:"close_code,omitempty"`
	CloseNotes       string `json:"close_notes,omitempty"`
	// Notes are the latest work notes and comments, newest first (get_incident only).
	Notes []Note `json:"notes,omitempty"`
	URL   string `json:"url"`
}

// Note is one journal entry of a record.
type Note struct {
	Kind    string `json:"kind"` // work_note (internal) or comment (visible to the caller)
	Author  string `json:"author"`
	Created string `json:"created_at"`
	Text    string `json:"text"`
}

var incidentFields = []string{"sys_id", "number", "short_description", "description", "state", "priority", "impact",
	"urgency", "caller_id", "assignment_group", "assigned_to", "cmdb_ci", "category", "opened_at", "sys_updated_on",
	"close_code", "close_notes"}

func (c *Client) incident(r record) Incident {
	return Incident{
		Number: r.v("number"), ShortDescription: r.v("short_description"), Description: r.v("description"),
		State: r.d("state"), Priority: r.d("priority"), Impact: r.d("impact"), Urgency: r.d("urgency"),
		Caller: r.d("caller_id"), AssignmentGroup: r.d("assignment_group"), AssignedTo: r.d("assigned_to"),
		ConfigItem: r.d("cmdb_ci"), Category: r.d("category"), Opened: r.v("opened_at"), Updated: r.v("sys_updated_on"),
		CloseCode: r.d("close_code"), CloseNotes: r.v("close_notes"), URL: c.recordURL("incident", r.v("sys_id")),
	}
}

// Incident states (the incident table's state choices).
var incidentStates = map[string]string{
	"new": "1", "in_progress": "2", "on_hold": "3", "resolved": "6", "closed": "7", "canceled": "8",
}

// priorityImpactUrgency maps a priority to the impact and urgency that give it under
// ServiceNow's default priority lookup (priority is derived; writing it has no effect).
var priorityImpactUrgency = map[int][2]string{
	1: {"1", "1"}, 2: {"1", "2"}, 3: {"2", "2"}, 4: {"2", "3"}, 5: {"3", "3"},
}

// IncidentFilter narrows search_incidents.
type IncidentFilter struct {
	Text, State, AssignmentGroup, Caller, ConfigItem string
	Priority                                         int
	Offset, Limit                                    int
}

// Incidents lists incidents, newest first.
func (c *Client) Incidents(ctx context.Context, f IncidentFilter) ([]Incident, int, int, error) {
	var q []string
	if f.Text != "" {
		q = append(q, "short_descriptionLIKE"+quote(f.Text)+"^ORdescriptionLIKE"+quote(f.Text))
	}
	switch f.State {
	case "":
	case "open":
		q = append(q, "stateIN1,2,3")
	default:
		st, ok := incidentStates[f.State]
		if !ok {
			return nil, 0, -1, fmt.Errorf("state %q is not one of open, new, in_progress, on_hold, resolved, closed, canceled", f.State)
		}
		q = append(q, "state="+st)
	}
	if f.Priority != 0 {
		q = append(q, "priority="+strconv.Itoa(f.Priority))
	}
	for _, ref := range []struct{ table, field, text string }{
		{"sys_user_group", "assignment_group", f.AssignmentGroup},
		{"sys_user", "caller_id", f.Caller},
		{"cmdb_ci", "cmdb_ci", f.ConfigItem},
	} {
		if ref.text == "" {
			continue
		}
		id, err := c.refValue(ctx, ref.table, ref.text)
		if err != nil {
			return nil, 0, -1, err
		}
		q = append(q, ref.field+"="+id)
	}
	q = append(q, "ORDERBYDESCopened_at")
	p, err := c.list(ctx, "incident", tableQuery{Query: strings.Join(q, "^"), Fields: incidentFields, Limit: f.Limit, Offset: f.Offset})
	if err != nil {
		return nil, 0, -1, err
	}
	out := make([]Incident, 0, len(p.Records))
	for _, r := range p.Records {
		out = append(out, c.incident(r))
	}
	return out, p.Total, p.Next, nil
}

// incidentRecord finds an incident by number.
func (c *Client) incidentRecord(ctx context.Context, number string) (record, error) {
	return c.first(ctx, "incident", "number="+quote(strings.ToUpper(number)), "no incident has the number "+number)
}

// GetIncident returns an incident with its latest notes.
func (c *Client) GetIncident(ctx context.Context, number string) (Incident, error) {
	r, err := c.incidentRecord(ctx, number)
	if err != nil {
		return Incident{}, err
	}
	inc := c.incident(r)
	inc.Notes, err = c.notes(ctx, r.v("sys_id"), 10)
	return inc, err
}

// notes reads the latest journal entries of a record.
func (c *Client) notes(ctx context.Context, sysID string, n int) ([]Note, error) {
	p, err := c.list(ctx, "sys_journal_field", tableQuery{
		Query:  "element_id=" + sysID + "^elementINwork_notes,comments^ORDERBYDESCsys_created_on",
		Fields: []string{"element", "value", "sys_created_by", "sys_created_on"}, Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]Note, 0, len(p.Records))
	for _, r := range p.Records {
		kind := "comment"
		if r.v("element") == "work_notes" {
			kind = "work_note"
		}
		out = append(out, Note{Kind: kind, Author: r.d("sys_created_by"), Created: r.v("sys_created_on"), Text: r.v("value")})
	}
	return out, nil
}

// NewIncident is what create_incident sends.
type NewIncident struct {
	ShortDescription, Description, Caller, Category, AssignmentGroup, ConfigItem string
	Priority                                                                     int
	// RequestID makes the create safe to retry (the correlation id).
	RequestID string
}

// CreateIncident opens an incident.
func (c *Client) CreateIncident(ctx context.Context, n NewIncident) (Incident, error) {
	fields := map[string]string{"short_description": n.ShortDescription}
	if n.Description != "" {
		fields["description"] = n.Description
	}
	if n.Category != "" {
		fields["category"] = n.Category
	}
	if n.Priority != 0 {
		iu, ok := priorityImpactUrgency[n.Priority]
		if !ok {
			return Incident{}, fmt.Errorf("priority must be 1 (critical) to 5 (planning), got %d", n.Priority)
		}
		fields["impact"], fields["urgency"] = iu[0], iu[1]
	}
	for _, ref := range []struct{ table, field, text string }{
		{"sys_user", "caller_id", n.Caller},
		{"sys_user_group", "assignment_group", n.AssignmentGroup},
		{"cmdb_ci", "cmdb_ci", n.ConfigItem},
	} {
		if ref.text == "" {
			continue
		}
		id, err := c.refValue(ctx, ref.table, ref.text)
		if err != nil {
			return Incident{}, err
		}
		fields[ref.field] = id
	}
	r, err := c.create(ctx, "incident", tablePath+"incident", fields, correlationID(n.RequestID), n.RequestID != "")
	if err != nil {
		return Incident{}, err
	}
	return c.incident(r), nil
}

// AddNote adds a work note (internal) or a comment (visible to the caller).
func (c *Client) AddNote(ctx context.Context, number, kind, text string) (Incident, error) {
	field := map[string]string{"work_note": "work_notes", "comment": "comments"}[kind]
	if field == "" {
		return Incident{}, fmt.Errorf("kind must be work_note or comment, got %q", kind)
	}
	r, err := c.incidentRecord(ctx, number)
	if err != nil {
		return Incident{}, err
	}
	u, err := c.update(ctx, "incident", r.v("sys_id"), map[string]string{field: text})
	if err != nil {
		return Incident{}, writeRefused(err, "incident "+r.v("number"), r.d("state"))
	}
	return c.incident(u), nil
}

// IncidentUpdate is what update_incident changes; empty fields stay as they are.
type IncidentUpdate struct {
	Priority                    int
	AssignmentGroup, AssignedTo string
	State                       string // in_progress or on_hold
}

// UpdateIncident changes priority, assignment or a working state.
func (c *Client) UpdateIncident(ctx context.Context, number string, u IncidentUpdate) (Incident, error) {
	fields := map[string]string{}
	if u.Priority != 0 {
		iu, ok := priorityImpactUrgency[u.Priority]
		if !ok {
			return Incident{}, fmt.Errorf("priority must be 1 (critical) to 5 (planning), got %d", u.Priority)
		}
		fields["impact"], fields["urgency"] = iu[0], iu[1]
	}
	switch u.State {
	case "":
	case "in_progress", "on_hold", "new":
		fields["state"] = incidentStates[u.State]
		if u.State == "on_hold" {
			fields["hold_reason"] = "1" // awaiting caller
		}
	default:
		return Incident{}, fmt.Errorf("state %q cannot be set here: use in_progress or on_hold (resolve_incident and close_incident end an incident)", u.State)
	}
	for _, ref := range []struct{ table, field, text string }{
		{"sys_user_group", "assignment_group", u.AssignmentGroup},
		{"sys_user", "assigned_to", u.AssignedTo},
	} {
		if ref.text == "" {
			continue
		}
		id, err := c.refValue(ctx, ref.table, ref.text)
		if err != nil {
			return Incident{}, err
		}
		fields[ref.field] = id
	}
	if len(fields) == 0 {
		return Incident{}, errors.New("nothing to change: give priority, assignment_group, assigned_to or state")
	}
	r, err := c.incidentRecord(ctx, number)
	if err != nil {
		return Incident{}, err
	}
	out, err := c.update(ctx, "incident", r.v("sys_id"), fields)
	if err != nil {
		return Incident{}, writeRefused(err, "incident "+r.v("number"), r.d("state"))
	}
	return c.incident(out), nil
}

// ResolveIncident resolves an incident with a resolution code and notes.
func (c *Client) ResolveIncident(ctx context.Context, number, code, notes string) (Incident, error) {
	r, err := c.incidentRecord(ctx, number)
	if err != nil {
		return Incident{}, err
	}
	switch r.v("state") {
	case "6":
		return c.incident(r), nil // already resolved: nothing to do
	case "7", "8":
		return Incident{}, fmt.Errorf("incident %s is %s; it cannot be resolved again", r.v("number"), r.d("state"))
	}
	out, err := c.update(ctx, "incident", r.v("sys_id"), map[string]string{"state": "6", "close_code": code, "close_notes": notes})
	if err != nil {
		return Incident{}, writeRefused(err, "incident "+r.v("number"), r.d("state"))
	}
	return c.incident(out), nil
}

// CloseIncident closes a resolved incident.
func (c *Client) CloseIncident(ctx context.Context, number string) (Incident, error) {
	r, err := c.incidentRecord(ctx, number)
	if err != nil {
		return Incident{}, err
	}
	switch r.v("state") {
	case "7":
		return c.incident(r), nil
	case "6":
	default:
		return Incident{}, fmt.Errorf("incident %s is %s; only a resolved incident can be closed: resolve it first with resolve_incident",
			r.v("number"), r.d("state"))
	}
	out, err := c.update(ctx, "incident", r.v("sys_id"), map[string]string{"state": "7"})
	if err != nil {
		return Incident{}, writeRefused(err, "incident "+r.v("number"), r.d("state"))
	}
	return c.incident(out), nil
}

// MyIncidents lists the open incidents whose caller has the given email.
func (c *Client) MyIncidents(ctx context.Context, email string, limit int) ([]Incident, error) {
	u, err := c.userByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	p, err := c.list(ctx, "incident", tableQuery{Query: "caller_id=" + u.v("sys_id") + "^active=true^ORDERBYDESCopened_at",
		Fields: incidentFields, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Incident, 0, len(p.Records))
	for _, r := range p.Records {
		out = append(out, c.incident(r))
	}
	return out, nil
}
