package servicenow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// Change is what a person acts on in a change request.
type Change struct {
	Number             string     `json:"number"`
	Type               string     `json:"type"`
	State              string     `json:"state"`
	ShortDescription   string     `json:"short_description"`
	Description        string     `json:"description,omitempty"`
	Risk               string     `json:"risk,omitempty"`
	Approval           string     `json:"approval,omitempty"`
	ConfigItem         string     `json:"configuration_item,omitempty"`
	AssignmentGroup    string     `json:"assignment_group,omitempty"`
	RequestedBy        string     `json:"requested_by,omitempty"`
	PlannedStart       string     `json:"planned_start,omitempty"`
	PlannedEnd         string     `json:"planned_end,omitempty"`
	ImplementationPlan string     `json:"implementation_plan,omitempty"`
	BackoutPlan        string     `json:"backout_plan,omitempty"`
	TestPlan           string     `json:"test_plan,omitempty"`
	CloseCode          string     `json:"close_code,omitempty"`
	CloseNotes         string     `json:"close_notes,omitempty"`
	AffectedCIs        []string   `json:"affected_cis,omitempty"` // get_change and create_change
	Approvals          []Approval `json:"approvals,omitempty"`    // get_change
	// NextStates are the states the change may move to now (get_change and move_change).
	NextStates []string `json:"next_states,omitempty"`
	URL        string   `json:"url"`
}

// Approval is one approver's decision on a change.
type Approval struct {
	Approver string `json:"approver"`
	State    string `json:"state"`
	Comments string `json:"comments,omitempty"`
	Updated  string `json:"updated_at,omitempty"`
}

var changeFields = []string{"sys_id", "number", "type", "state", "short_description", "description", "risk", "approval",
	"cmdb_ci", "assignment_group", "requested_by", "start_date", "end_date", "implementation_plan", "backout_plan",
	"test_plan", "close_code", "close_notes"}

func (c *Client) change(r record) Change {
	return Change{
		Number: r.v("number"), Type: r.d("type"), State: r.d("state"), ShortDescription: r.v("short_description"),
		Description: r.v("description"), Risk: r.d("risk"), Approval: r.d("approval"), ConfigItem: r.d("cmdb_ci"),
		AssignmentGroup: r.d("assignment_group"), RequestedBy: r.d("requested_by"), PlannedStart: r.v("start_date"),
		PlannedEnd: r.v("end_date"), ImplementationPlan: r.v("implementation_plan"), BackoutPlan: r.v("backout_plan"),
		TestPlan: r.v("test_plan"), CloseCode: r.d("close_code"), CloseNotes: r.v("close_notes"),
		URL: c.recordURL("change_request", r.v("sys_id")),
	}
}

// Change states of the change model (the state field's values).
var changeStates = []struct{ name, value, display string }{
	{"new", "-5", "New"}, {"assess", "-4", "Assess"}, {"authorize", "-3", "Authorize"}, {"scheduled", "-2", "Scheduled"},
	{"implement", "-1", "Implement"}, {"review", "0", "Review"}, {"closed", "3", "Closed"}, {"canceled", "4", "Canceled"},
}

func changeState(name string) (value, display string, ok bool) {
	for _, s := range changeStates {
		if s.name == name {
			return s.value, s.display, true
		}
	}
	return "", "", false
}

func changeStateName(value string) string {
	for _, s := range changeStates {
		if s.value == value {
			return s.name
		}
	}
	return value
}

// ChangeFilter narrows search_changes.
type ChangeFilter struct {
	Text, State, Type, ConfigItem string
	Offset, Limit                 int
}

// Changes lists change requests, newest first.
func (c *Client) Changes(ctx context.Context, f ChangeFilter) ([]Change, int, int, error) {
	var q []string
	if f.Text != "" {
		q = append(q, "short_descriptionLIKE"+quote(f.Text)+"^ORdescriptionLIKE"+quote(f.Text))
	}
	switch f.State {
	case "":
	case "open":
		q = append(q, "stateIN-5,-4,-3,-2,-1,0")
	default:
		v, _, ok := changeState(f.State)
		if !ok {
			return nil, 0, -1, fmt.Errorf("state %q is not one of open, new, assess, authorize, scheduled, implement, review, closed, canceled", f.State)
		}
		q = append(q, "state="+v)
	}
	if f.Type != "" {
		q = append(q, "type="+quote(f.Type))
	}
	if f.ConfigItem != "" {
		id, err := c.refValue(ctx, "cmdb_ci", f.ConfigItem)
		if err != nil {
			return nil, 0, -1, err
		}
		q = append(q, "cmdb_ci="+id)
	}
	q = append(q, "ORDERBYDESCsys_created_on")
	p, err := c.list(ctx, "change_request", tableQuery{Query: strings.Join(q, "^"), Fields: changeFields, Limit: f.Limit, Offset: f.Offset})
	if err != nil {
		return nil, 0, -1, err
	}
	out := make([]Change, 0, len(p.Records))
	for _, r := range p.Records {
		out = append(out, c.change(r))
	}
	return out, p.Total, p.Next, nil
}

func (c *Client) changeRecord(ctx context.Context, number string) (record, error) {
	return c.first(ctx, "change_request", "number="+quote(strings.ToUpper(number)), "no change request has the number "+number)
}

// GetChange returns a change with its affected CIs, approvals and possible next states.
func (c *Client) GetChange(ctx context.Context, number string) (Change, error) {
	r, err := c.changeRecord(ctx, number)
	if err != nil {
		return Change{}, err
	}
	ch := c.change(r)
	id := r.v("sys_id")
	if ch.AffectedCIs, err = c.affectedCIs(ctx, id); err != nil {
		return Change{}, err
	}
	if ch.Approvals, err = c.approvals(ctx, id); err != nil {
		return Change{}, err
	}
	ns, err := c.nextStates(ctx, id)
	if err != nil {
		return Change{}, err
	}
	ch.NextStates = ns.allowed()
	return ch, nil
}

func (c *Client) affectedCIs(ctx context.Context, changeID string) ([]string, error) {
	p, err := c.list(ctx, "task_ci", tableQuery{Query: "task=" + changeID, Fields: []string{"ci_item"}, Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range p.Records {
		out = append(out, r.d("ci_item"))
	}
	return out, nil
}

func (c *Client) approvals(ctx context.Context, changeID string) ([]Approval, error) {
	var out struct {
		Result []record `json:"result"`
	}
	if _, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: changePath + "/" + url.PathEscape(changeID) + "/approvals"}, &out); err != nil {
		return nil, err
	}
	as := make([]Approval, 0, len(out.Result))
	for _, r := range out.Result {
		as = append(as, Approval{Approver: r.d("approver"), State: r.d("state"), Comments: r.d("comments"), Updated: r.v("sys_updated_on")})
	}
	return as, nil
}

// Approvals lists the approvals of a change.
func (c *Client) Approvals(ctx context.Context, number string) ([]Approval, error) {
	r, err := c.changeRecord(ctx, number)
	if err != nil {
		return nil, err
	}
	return c.approvals(ctx, r.v("sys_id"))
}

// transitions is the Change Management API's nextstate answer.
type transitions struct {
	Available []string `json:"available_states"`
	List      []struct {
		To         string `json:"to_state"`
		Display    string `json:"display_value"`
		Conditions []struct {
			Condition struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			} `json:"condition"`
			Passed bool `json:"passed"`
		} `json:"conditions"`
	} `json:"state_transitions"`
}

// allowed names the states a change can move to now: a transition whose conditions all pass.
func (t transitions) allowed() []string {
	var out []string
	for _, tr := range t.List {
		ok := true
		for _, c := range tr.Conditions {
			ok = ok && c.Passed
		}
		if ok {
			out = append(out, changeStateName(tr.To))
		}
	}
	return out
}

func (c *Client) nextStates(ctx context.Context, changeID string) (transitions, error) {
	var out struct {
		Result transitions `json:"result"`
	}
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: changePath + "/" + url.PathEscape(changeID) + "/nextstate"}, &out)
	return out.Result, err
}

// NewChange is what create_change sends.
type NewChange struct {
	Type                                                  string // normal or standard
	Template                                              string // standard: the template's name
	ShortDescription, Description                         string
	ConfigItems                                           []string
	Start, End                                            time.Time
	Risk                                                  string // high, moderate, low
	ImplementationPlan, BackoutPlan, TestPlan, Assignment string
	RequestedBy                                           string // an email, when known
	RequestID                                             string
}

var riskValues = map[string]string{"very_high": "1", "high": "2", "moderate": "3", "low": "4"}

// CreateChange opens a normal change, or a standard change from a template, and associates
// the affected CIs.
func (c *Client) CreateChange(ctx context.Context, n NewChange) (Change, error) {
	if !n.End.After(n.Start) {
		return Change{}, fmt.Errorf("the planned end (%s) must be after the planned start (%s)", n.End.Format(time.RFC3339), n.Start.Format(time.RFC3339))
	}
	cis := make([]string, 0, len(n.ConfigItems))
	for _, name := range n.ConfigItems {
		id, err := c.refValue(ctx, "cmdb_ci", name)
		if err != nil {
			return Change{}, err
		}
		cis = append(cis, id)
	}
	fields := map[string]string{
		"short_description": n.ShortDescription,
		"start_date":        n.Start.UTC().Format(time.DateTime),
		"end_date":          n.End.UTC().Format(time.DateTime),
	}
	for k, v := range map[string]string{"description": n.Description, "implementation_plan": n.ImplementationPlan,
		"backout_plan": n.BackoutPlan, "test_plan": n.TestPlan} {
		if v != "" {
			fields[k] = v
		}
	}
	if n.Risk != "" {
		v, ok := riskValues[n.Risk]
		if !ok {
			return Change{}, fmt.Errorf("risk must be very_high, high, moderate or low, got %q", n.Risk)
		}
		fields["risk"] = v
	}
	if len(cis) > 0 {
		fields["cmdb_ci"] = cis[0]
	}
	if n.Assignment != "" {
		id, err := c.refValue(ctx, "sys_user_group", n.Assignment)
		if err != nil {
			return Change{}, err
		}
		fields["assignment_group"] = id
	}
	if n.RequestedBy != "" {
		if u, err := c.userByEmail(ctx, n.RequestedBy); err == nil {
			fields["requested_by"] = u.v("sys_id")
		}
	}
	var path string
	switch n.Type {
	case "normal":
		if n.ImplementationPlan == "" || n.BackoutPlan == "" {
			return Change{}, errors.New("a normal change needs an implementation_plan and a backout_plan")
		}
		path = changePath + "/normal"
	case "standard":
		if n.Template == "" {
			return Change{}, errors.New("a standard change needs a template: list them with list_standard_change_templates")
		}
		t, err := c.first(ctx, "std_change_producer_version", "name="+quote(n.Template)+"^ORnameLIKE"+quote(n.Template),
			"no standard change template is named "+n.Template+"; list them with list_standard_change_templates")
		if err != nil {
			return Change{}, err
		}
		path = changePath + "/standard/" + url.PathEscape(t.v("sys_id"))
	default:
		return Change{}, fmt.Errorf("type must be normal or standard, got %q", n.Type)
	}
	r, err := c.create(ctx, "change_request", path, fields, correlationID(n.RequestID), n.RequestID != "")
	if err != nil {
		return Change{}, writeRefused(err, "the change request", "")
	}
	ch := c.change(r)
	if len(cis) > 0 {
		body := map[string]string{"cmdb_ci_sys_ids": strings.Join(cis, ","), "association_type": "affected"}
		// Associating the same CIs again is harmless, so this write may be retried.
		if _, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: changePath + "/" + url.PathEscape(r.v("sys_id")) + "/ci",
			Body: body, Idempotent: true}, nil); err != nil {
			return ch, fmt.Errorf("change %s was created, but its affected CIs could not be recorded: %w", ch.Number, err)
		}
		ch.AffectedCIs = n.ConfigItems
	}
	return ch, nil
}

// MoveChange moves a change to another state of the change model. A transition the model
// does not allow from the current state is refused before anything is written, naming the
// states that are allowed and the conditions that are not met.
func (c *Client) MoveChange(ctx context.Context, number, to, closeCode, closeNotes string) (Change, error) {
	value, display, ok := changeState(to)
	if !ok {
		return Change{}, fmt.Errorf("state %q is not one of assess, authorize, scheduled, implement, review, closed, canceled", to)
	}
	r, err := c.changeRecord(ctx, number)
	if err != nil {
		return Change{}, err
	}
	id := r.v("sys_id")
	if r.v("state") == value {
		ch := c.change(r)
		return ch, nil
	}
	if to == "closed" {
		if closeCode == "" || closeNotes == "" {
			return Change{}, errors.New("closing a change needs close_code (successful, successful_issues or unsuccessful) and close_notes")
		}
		// The close fields are a condition of the transition: record them first, so that the
		// transition check below sees them.
		if _, err := c.patchChange(ctx, id, map[string]string{"close_code": closeCode, "close_notes": closeNotes}); err != nil {
			return Change{}, writeRefused(err, "change "+r.v("number"), r.d("state"))
		}
	}
	ns, err := c.nextStates(ctx, id)
	if err != nil {
		return Change{}, err
	}
	if err := ns.explain(r.v("number"), r.d("state"), value, display); err != nil {
		return Change{}, err
	}
	out, err := c.patchChange(ctx, id, map[string]string{"state": value})
	if err != nil {
		return Change{}, writeRefused(err, "change "+r.v("number"), r.d("state"))
	}
	ch := c.change(out)
	if after, err := c.nextStates(ctx, id); err == nil {
		ch.NextStates = after.allowed()
	}
	return ch, nil
}

// patchChange updates a change through the Change Management API (which applies the state
// model). Like every write, it is sent once.
func (c *Client) patchChange(ctx context.Context, sysID string, fields map[string]string) (record, error) {
	var out struct {
		Result record `json:"result"`
	}
	_, err := c.api.Do(ctx, kit.Request{Method: http.MethodPatch, Path: changePath + "/" + url.PathEscape(sysID), Body: fields}, &out)
	return out.Result, err
}

// explain returns nil when the change may move to the state value, and otherwise an error
// that says why not.
func (t transitions) explain(number, from, value, display string) error {
	for _, tr := range t.List {
		if tr.To != value {
			continue
		}
		var unmet []string
		for _, c := range tr.Conditions {
			if !c.Passed {
				text := c.Condition.Name
				if c.Condition.Description != "" {
					text += " (" + c.Condition.Description + ")"
				}
				unmet = append(unmet, text)
			}
		}
		if len(unmet) == 0 {
			return nil
		}
		return fmt.Errorf("change %s cannot move from %s to %s yet: %s", number, from, display, strings.Join(unmet, "; "))
	}
	allowed := t.allowed()
	slices.Sort(allowed)
	next := "none (the change is finished)"
	if len(allowed) > 0 {
		next = strings.Join(allowed, ", ")
	}
	return fmt.Errorf("change %s cannot move from %s to %s: the change model does not allow that transition; from %s it may move to %s",
		number, from, display, from, next)
}

// Template is a standard change template.
type Template struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Templates lists the standard change templates.
func (c *Client) Templates(ctx context.Context, text string, limit int) ([]Template, error) {
	q := "ORDERBYname"
	if text != "" {
		q = "nameLIKE" + quote(text) + "^" + q
	}
	p, err := c.list(ctx, "std_change_producer_version", tableQuery{Query: q, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Template, 0, len(p.Records))
	for _, r := range p.Records {
		desc := r.v("short_description")
		if desc == "" {
			desc = r.v("description")
		}
		out = append(out, Template{Name: r.v("name"), Description: desc})
	}
	return out, nil
}
