package servicenow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

var (
	readOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Creating a record adds one; repeating the call adds another (unless request_id is
	// given, which the annotation cannot promise).
	creates = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.No, OpenWorld: kit.Yes}
	// A note is appended each time.
	appends = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.No, OpenWorld: kit.Yes}
	// Setting fields or a state to given values: repeating it changes nothing more, and the
	// record and its history are kept.
	sets = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
)

// Register adds every ServiceNow tool to s. c may be nil when only the declarations are
// needed (the catalog command); the handlers are then never called.
func Register(s *kit.Server, c *Client) {
	kit.Add(s, kit.Tool[searchIncidentsArgs, incidentsResult]{
		Name: "search_incidents", Title: "Search incidents", Action: kit.Read, Annotations: readOnly,
		Description: "Search incidents, newest first, by text in the description, state (open, new, in_progress, on_hold, " +
			"resolved, closed, canceled), priority (1 critical to 5 planning), assignment group, caller or configuration item. " +
			"When next_offset is set, call again with it for the next page.",
		Handle: func(ctx context.Context, a searchIncidentsArgs) (incidentsResult, error) {
			off, lim, err := paging(a.Offset, a.Limit)
			if err != nil {
				return incidentsResult{}, err
			}
			is, total, next, err := c.Incidents(ctx, IncidentFilter{Text: a.Text, State: a.State, Priority: a.Priority,
				AssignmentGroup: a.AssignmentGroup, Caller: a.Caller, ConfigItem: a.ConfigItem, Offset: off, Limit: lim})
			return incidentsResult{Incidents: is, Total: total, NextOffset: nextOffset(next)}, err
		},
	})
	kit.Add(s, kit.Tool[numberArgs, Incident]{
		Name: "get_incident", Title: "Get an incident", Action: kit.Read, Annotations: readOnly,
		Description: "Get one incident by number (INC0010001) with its latest work notes and comments.",
		Handle: func(ctx context.Context, a numberArgs) (Incident, error) {
			return c.GetIncident(ctx, a.Number)
		},
	})
	kit.Add(s, kit.Tool[myIncidentsArgs, incidentsResult]{
		Name: "list_my_incidents", Title: "My open incidents", Action: kit.Read, Annotations: readOnly,
		Description: "List the open incidents you raised: the ServiceNow user with your email address is the caller.",
		Handle: func(ctx context.Context, a myIncidentsArgs) (incidentsResult, error) {
			email := kit.Email(ctx)
			if email == "" {
				return incidentsResult{}, errors.New("your sign-in carries no email address, so your ServiceNow user cannot be found; " +
					"use search_incidents with caller instead")
			}
			_, lim, err := paging(0, a.Limit)
			if err != nil {
				return incidentsResult{}, err
			}
			is, err := c.MyIncidents(ctx, email, lim)
			return incidentsResult{Incidents: is, Total: len(is)}, err
		},
	})
	kit.Add(s, kit.Tool[createIncidentArgs, Incident]{
		Name: "create_incident", Title: "Create an incident", Action: kit.Write, Annotations: creates,
		Description: "Open an incident. The caller defaults to you (the ServiceNow user with your email). Priority 1 " +
			"(critical) to 5 (planning) sets impact and urgency accordingly. Give request_id to make a retried call " +
			"return the incident the first call created instead of a second one.",
		Handle: func(ctx context.Context, a createIncidentArgs) (Incident, error) {
			if strings.TrimSpace(a.ShortDescription) == "" {
				return Incident{}, errors.New("short_description must say what is wrong")
			}
			caller := a.Caller
			if caller == "" {
				caller = kit.Email(ctx)
			}
			return c.CreateIncident(ctx, NewIncident{ShortDescription: a.ShortDescription, Description: a.Description,
				Caller: caller, Category: a.Category, AssignmentGroup: a.AssignmentGroup, ConfigItem: a.ConfigItem,
				Priority: a.Priority, RequestID: a.RequestID})
		},
	})
	kit.Add(s, kit.Tool[addNoteArgs, Incident]{
		Name: "add_incident_note", Title: "Add a work note or comment", Action: kit.Write, Annotations: appends,
		Description: "Add a work note (kind work_note: internal, seen by support staff) or a comment (kind comment: " +
			"visible to the caller) to an incident.",
		Handle: func(ctx context.Context, a addNoteArgs) (Incident, error) {
			if strings.TrimSpace(a.Text) == "" {
				return Incident{}, errors.New("text must not be empty")
			}
			kind := a.Kind
			if kind == "" {
				kind = "work_note"
			}
			return c.AddNote(ctx, a.Number, kind, a.Text)
		},
	})
	kit.Add(s, kit.Tool[updateIncidentArgs, Incident]{
		Name: "update_incident", Title: "Change priority, assignment or state", Action: kit.Write, Annotations: sets,
		Description: "Change an incident's priority (1 critical to 5 planning), assignment group, assignee, or state " +
			"(in_progress, on_hold). Fields you leave out stay as they are.",
		Handle: func(ctx context.Context, a updateIncidentArgs) (Incident, error) {
			return c.UpdateIncident(ctx, a.Number, IncidentUpdate{Priority: a.Priority, AssignmentGroup: a.AssignmentGroup,
				AssignedTo: a.AssignedTo, State: a.State})
		},
	})
	kit.Add(s, kit.Tool[resolveArgs, Incident]{
		Name: "resolve_incident", Title: "Resolve an incident", Action: kit.Write, Annotations: sets,
		Description: "Resolve an incident with a resolution code (for example Solution provided, Workaround provided, " +
			"Resolved by change, Duplicate, User error) and notes that say what fixed it.",
		Handle: func(ctx context.Context, a resolveArgs) (Incident, error) {
			if a.CloseCode == "" || strings.TrimSpace(a.CloseNotes) == "" {
				return Incident{}, errors.New("resolving needs close_code and close_notes that say what fixed it")
			}
			return c.ResolveIncident(ctx, a.Number, a.CloseCode, a.CloseNotes)
		},
	})
	kit.Add(s, kit.Tool[numberArgs, Incident]{
		Name: "close_incident", Title: "Close a resolved incident", Action: kit.Write, Annotations: sets,
		Description: "Close an incident that is resolved. A closed incident can no longer be changed.",
		Handle: func(ctx context.Context, a numberArgs) (Incident, error) {
			return c.CloseIncident(ctx, a.Number)
		},
	})
	kit.Add(s, kit.Tool[searchChangesArgs, changesResult]{
		Name: "search_changes", Title: "Search change requests", Action: kit.Read, Annotations: readOnly,
		Description: "Search change requests, newest first, by text, state (open, new, assess, authorize, scheduled, " +
			"implement, review, closed, canceled), type (normal, standard, emergency) or configuration item.",
		Handle: func(ctx context.Context, a searchChangesArgs) (changesResult, error) {
			off, lim, err := paging(a.Offset, a.Limit)
			if err != nil {
				return changesResult{}, err
			}
			cs, total, next, err := c.Changes(ctx, ChangeFilter{Text: a.Text, State: a.State, Type: a.Type,
				ConfigItem: a.ConfigItem, Offset: off, Limit: lim})
			return changesResult{Changes: cs, Total: total, NextOffset: nextOffset(next)}, err
		},
	})
	kit.Add(s, kit.Tool[numberArgs, Change]{
		Name: "get_change", Title: "Get a change request", Action: kit.Read, Annotations: readOnly,
		Description: "Get one change request by number (CHG0030001) with its affected configuration items, approvals, " +
			"and the states it may move to now.",
		Handle: func(ctx context.Context, a numberArgs) (Change, error) {
			return c.GetChange(ctx, a.Number)
		},
	})
	kit.Add(s, kit.Tool[templatesArgs, templatesResult]{
		Name: "list_standard_change_templates", Title: "List standard change templates", Action: kit.Read, Annotations: readOnly,
		Description: "List the standard (pre-approved) change templates a standard change can be created from.",
		Handle: func(ctx context.Context, a templatesArgs) (templatesResult, error) {
			ts, err := c.Templates(ctx, a.Text, 100)
			return templatesResult{Templates: ts}, err
		},
	})
	kit.Add(s, kit.Tool[createChangeArgs, Change]{
		Name: "create_change", Title: "Create a change request", Action: kit.Write, Annotations: creates,
		Description: "Open a change request: type normal (needs approval; give implementation_plan and backout_plan) or " +
			"standard (pre-approved, from a template named in list_standard_change_templates). Name the affected " +
			"configuration items, the planned window (RFC 3339 times) and the risk (very_high, high, moderate, low). " +
			"Give request_id to make a retried call return the change the first call created.",
		Handle: func(ctx context.Context, a createChangeArgs) (Change, error) {
			start, err := parseTime("planned_start", a.PlannedStart)
			if err != nil {
				return Change{}, err
			}
			end, err := parseTime("planned_end", a.PlannedEnd)
			if err != nil {
				return Change{}, err
			}
			if strings.TrimSpace(a.ShortDescription) == "" {
				return Change{}, errors.New("short_description must say what will change")
			}
			return c.CreateChange(ctx, NewChange{Type: a.Type, Template: a.Template, ShortDescription: a.ShortDescription,
				Description: a.Description, ConfigItems: a.ConfigItems, Start: start, End: end, Risk: a.Risk,
				ImplementationPlan: a.ImplementationPlan, BackoutPlan: a.BackoutPlan, TestPlan: a.TestPlan,
				Assignment: a.AssignmentGroup, RequestedBy: kit.Email(ctx), RequestID: a.RequestID})
		},
	})
	kit.Add(s, kit.Tool[moveChangeArgs, Change]{
		Name: "move_change", Title: "Move a change to another state", Action: kit.Write, Annotations: sets,
		Description: "Move a change request through its states: assess → authorize → scheduled → implement → review → " +
			"closed (or canceled). A transition that is not allowed from the current state, or whose conditions " +
			"(such as approvals) are not met, is refused with the reason and the states that are allowed. Closing " +
			"needs close_code (successful, successful_issues, unsuccessful) and close_notes.",
		Handle: func(ctx context.Context, a moveChangeArgs) (Change, error) {
			return c.MoveChange(ctx, a.Number, a.To, a.CloseCode, a.CloseNotes)
		},
	})
	kit.Add(s, kit.Tool[numberArgs, approvalsResult]{
		Name: "list_change_approvals", Title: "List a change's approvals", Action: kit.Read, Annotations: readOnly,
		Description: "List who has to approve a change request and what each approver decided.",
		Handle: func(ctx context.Context, a numberArgs) (approvalsResult, error) {
			as, err := c.Approvals(ctx, a.Number)
			return approvalsResult{Number: strings.ToUpper(a.Number), Approvals: as}, err
		},
	})
	kit.Add(s, kit.Tool[findCIArgs, configItemsResult]{
		Name: "find_configuration_items", Title: "Find configuration items", Action: kit.Read, Annotations: readOnly,
		Description: "Look configuration items (network gear, servers, services) up in the CMDB by name (prefix), " +
			"IP address or serial number.",
		Handle: func(ctx context.Context, a findCIArgs) (configItemsResult, error) {
			_, lim, err := paging(0, a.Limit)
			if err != nil {
				return configItemsResult{}, err
			}
			cis, err := c.FindConfigItems(ctx, CIFilter{Name: a.Name, IP: a.IPAddress, Serial: a.SerialNumber, Limit: lim})
			return configItemsResult{ConfigItems: cis}, err
		},
	})
	kit.Add(s, kit.Tool[ciNameArgs, CIRelationships]{
		Name: "get_ci_relationships", Title: "A configuration item's relationships", Action: kit.Read, Annotations: readOnly,
		Description: "What a configuration item connects to and depends on, and what depends on it, from the CMDB.",
		Handle: func(ctx context.Context, a ciNameArgs) (CIRelationships, error) {
			return c.Relationships(ctx, a.Name)
		},
	})
}

type numberArgs struct {
	Number string `json:"number" jsonschema:"Record number, e.g. INC0010001 or CHG0030001"`
}

type searchIncidentsArgs struct {
	Text            string `json:"text,omitempty" jsonschema:"Words in the short description or description"`
	State           string `json:"state,omitempty" jsonschema:"open, new, in_progress, on_hold, resolved, closed or canceled"`
	Priority        int    `json:"priority,omitempty" jsonschema:"1 (critical) to 5 (planning)"`
	AssignmentGroup string `json:"assignment_group,omitempty" jsonschema:"Assignment group name"`
	Caller          string `json:"caller,omitempty" jsonschema:"Caller's user name, email or name"`
	ConfigItem      string `json:"configuration_item,omitempty" jsonschema:"Configuration item name"`
	Offset          int    `json:"offset,omitempty" jsonschema:"Records to skip (default 0)"`
	Limit           int    `json:"limit,omitempty" jsonschema:"Records per page, 1 to 100 (default 20)"`
}

type incidentsResult struct {
	Incidents  []Incident `json:"incidents"`
	Total      int        `json:"total"`
	NextOffset int        `json:"next_offset,omitempty"`
}

type myIncidentsArgs struct {
	Limit int `json:"limit,omitempty" jsonschema:"At most this many, 1 to 100 (default 20)"`
}

type createIncidentArgs struct {
	ShortDescription string `json:"short_description" jsonschema:"What is wrong, in one line"`
	Description      string `json:"description,omitempty" jsonschema:"Details: symptoms, since when, what was tried"`
	Caller           string `json:"caller,omitempty" jsonschema:"Who is affected: user name, email or name (default: you)"`
	Priority         int    `json:"priority,omitempty" jsonschema:"1 (critical) to 5 (planning); default from ServiceNow (4)"`
	Category         string `json:"category,omitempty" jsonschema:"Category, e.g. network, software, hardware, inquiry"`
	AssignmentGroup  string `json:"assignment_group,omitempty" jsonschema:"Assignment group name"`
	ConfigItem       string `json:"configuration_item,omitempty" jsonschema:"Affected configuration item name"`
	RequestID        string `json:"request_id,omitempty" jsonschema:"Your id for this request; a retry with the same id returns the same incident"`
}

type addNoteArgs struct {
	Number string `json:"number" jsonschema:"Incident number, e.g. INC0010001"`
	Text   string `json:"text" jsonschema:"The note"`
	Kind   string `json:"kind,omitempty" jsonschema:"work_note (internal, the default) or comment (visible to the caller)"`
}

type updateIncidentArgs struct {
	Number          string `json:"number" jsonschema:"Incident number, e.g. INC0010001"`
	Priority        int    `json:"priority,omitempty" jsonschema:"1 (critical) to 5 (planning)"`
	AssignmentGroup string `json:"assignment_group,omitempty" jsonschema:"Assignment group name"`
	AssignedTo      string `json:"assigned_to,omitempty" jsonschema:"Assignee's user name, email or name"`
	State           string `json:"state,omitempty" jsonschema:"in_progress or on_hold"`
}

type resolveArgs struct {
	Number     string `json:"number" jsonschema:"Incident number, e.g. INC0010001"`
	CloseCode  string `json:"close_code" jsonschema:"Resolution code, e.g. Solution provided, Workaround provided, Resolved by change, Duplicate, User error"`
	CloseNotes string `json:"close_notes" jsonschema:"What fixed it"`
}

type searchChangesArgs struct {
	Text       string `json:"text,omitempty" jsonschema:"Words in the short description or description"`
	State      string `json:"state,omitempty" jsonschema:"open, new, assess, authorize, scheduled, implement, review, closed or canceled"`
	Type       string `json:"type,omitempty" jsonschema:"normal, standard or emergency"`
	ConfigItem string `json:"configuration_item,omitempty" jsonschema:"Configuration item name"`
	Offset     int    `json:"offset,omitempty" jsonschema:"Records to skip (default 0)"`
	Limit      int    `json:"limit,omitempty" jsonschema:"Records per page, 1 to 100 (default 20)"`
}

type changesResult struct {
	Changes    []Change `json:"changes"`
	Total      int      `json:"total"`
	NextOffset int      `json:"next_offset,omitempty"`
}

type templatesArgs struct {
	Text string `json:"text,omitempty" jsonschema:"Words in the template name"`
}

type templatesResult struct {
	Templates []Template `json:"templates"`
}

type createChangeArgs struct {
	Type               string   `json:"type" jsonschema:"normal or standard"`
	Template           string   `json:"template,omitempty" jsonschema:"Standard changes: the template name (list_standard_change_templates)"`
	ShortDescription   string   `json:"short_description" jsonschema:"What will change, in one line"`
	Description        string   `json:"description,omitempty" jsonschema:"Why, and what is affected"`
	ConfigItems        []string `json:"configuration_items,omitempty" jsonschema:"Names of the affected configuration items; the first is the primary one"`
	PlannedStart       string   `json:"planned_start" jsonschema:"Start of the change window, RFC 3339 (2026-12-01T22:00:00Z)"`
	PlannedEnd         string   `json:"planned_end" jsonschema:"End of the change window, RFC 3339"`
	Risk               string   `json:"risk,omitempty" jsonschema:"very_high, high, moderate or low"`
	ImplementationPlan string   `json:"implementation_plan,omitempty" jsonschema:"How the change is made (required for normal changes)"`
	BackoutPlan        string   `json:"backout_plan,omitempty" jsonschema:"How it is undone if it fails (required for normal changes)"`
	TestPlan           string   `json:"test_plan,omitempty" jsonschema:"How success is verified"`
	AssignmentGroup    string   `json:"assignment_group,omitempty" jsonschema:"Group that implements it"`
	RequestID          string   `json:"request_id,omitempty" jsonschema:"Your id for this request; a retry with the same id returns the same change"`
}

type moveChangeArgs struct {
	Number     string `json:"number" jsonschema:"Change number, e.g. CHG0030001"`
	To         string `json:"to" jsonschema:"assess, authorize, scheduled, implement, review, closed or canceled"`
	CloseCode  string `json:"close_code,omitempty" jsonschema:"When closing: successful, successful_issues or unsuccessful"`
	CloseNotes string `json:"close_notes,omitempty" jsonschema:"When closing: the outcome"`
}

type approvalsResult struct {
	Number    string     `json:"number"`
	Approvals []Approval `json:"approvals"`
}

type findCIArgs struct {
	Name         string `json:"name,omitempty" jsonschema:"Name or the start of it, e.g. lon-"`
	IPAddress    string `json:"ip_address,omitempty" jsonschema:"IP address"`
	SerialNumber string `json:"serial_number,omitempty" jsonschema:"Serial number"`
	Limit        int    `json:"limit,omitempty" jsonschema:"At most this many, 1 to 100 (default 20)"`
}

type configItemsResult struct {
	ConfigItems []ConfigItem `json:"configuration_items"`
}

type ciNameArgs struct {
	Name string `json:"name" jsonschema:"Configuration item name"`
}

// paging checks offset and limit (0 = default 20, at most 100).
func paging(offset, limit int) (int, int, error) {
	if offset < 0 {
		return 0, 0, fmt.Errorf("offset must not be negative, got %d", offset)
	}
	switch {
	case limit == 0:
		limit = 20
	case limit < 0 || limit > 100:
		return 0, 0, fmt.Errorf("limit must be 1 to 100, got %d", limit)
	}
	return offset, limit, nil
}

func nextOffset(next int) int {
	if next < 0 {
		return 0
	}
	return next
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time such as 2026-12-01T22:00:00Z, got %q", field, s)
	}
	return t, nil
}
