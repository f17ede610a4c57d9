package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/servicenow"
)

// DefaultChangeTemplate is the standard change template deployments open their change
// from: pre-approved by the change process, because Gatehouse's own approval (decided by
// policy) replaces the CAB. Its model is New → Scheduled → Implement → Review → Closed.
const DefaultChangeTemplate = "Deploy approved configuration template"

// ServiceNow is the ChangeSystem over the ServiceNow adapter's client. The client's
// exported calls open and move changes; work notes, the CI check and the journal look-up
// that makes notes idempotent use its Table API connection (API()).
type ServiceNow struct {
	C *servicenow.Client
	// Template is the standard change template (DefaultChangeTemplate when empty).
	Template string
	// AssignmentGroup, when set, is the change's assignment group.
	AssignmentGroup string
}

var _ ChangeSystem = ServiceNow{}

// MissingCIs implements ChangeSystem.
func (sn ServiceNow) MissingCIs(ctx context.Context, names []string) ([]string, error) {
	var out struct {
		Result []struct {
			Name string `json:"name"`
		} `json:"result"`
	}
	for _, n := range names {
		if strings.ContainsAny(n, ",^") {
			return nil, Permanent(fmt.Errorf("host name %q cannot be looked up in the CMDB", n))
		}
	}
	q := url.Values{"sysparm_query": {"nameIN" + strings.Join(names, ",")}, "sysparm_fields": {"name"},
		"sysparm_limit": {strconv.Itoa(len(names) * 4)}}
	if _, err := sn.C.API().Do(ctx, kit.Request{Method: http.MethodGet, Path: "/api/now/table/cmdb_ci", Query: q}, &out); err != nil {
		return nil, classify(err)
	}
	var missing []string
	for _, n := range names {
		if !slices.ContainsFunc(out.Result, func(r struct {
			Name string `json:"name"`
		}) bool {
			return strings.EqualFold(r.Name, n)
		}) {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// Create implements ChangeSystem: a standard change from the template. The client looks
// the correlation id up before it posts (and again after an uncertain failure), so a retry
// finds the change the first attempt created.
func (sn ServiceNow) Create(ctx context.Context, c NewChange) (ChangeRef, error) {
	tmpl := sn.Template
	if tmpl == "" {
		tmpl = DefaultChangeTemplate
	}
	ch, err := sn.C.CreateChange(ctx, servicenow.NewChange{
		Type: "standard", Template: tmpl, ShortDescription: c.ShortDescription, Description: c.Description,
		ConfigItems: c.ConfigItems, Start: c.Start, End: c.End, ImplementationPlan: c.ImplementationPlan,
		BackoutPlan: c.BackoutPlan, TestPlan: c.TestPlan, Assignment: sn.AssignmentGroup, RequestedBy: c.RequestedBy,
		RequestID: c.CorrelationID,
	})
	if err != nil {
		if errors.Is(err, servicenow.ErrNotFound) {
			return ChangeRef{}, Permanent(err)
		}
		return ChangeRef{}, classify(err)
	}
	return ChangeRef{Number: ch.Number, URL: ch.URL}, nil
}

// standardPath is the standard change model's way from New to Closed.
var standardPath = []string{"new", "scheduled", "implement", "review", "closed"}

// state reads a change's state (its name in the model, lower case).
func (sn ServiceNow) state(ctx context.Context, number string) (string, error) {
	ch, err := sn.C.GetChange(ctx, number)
	if errors.Is(err, servicenow.ErrNotFound) {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if err != nil {
		return "", classify(err)
	}
	return strings.ToLower(ch.State), nil
}

// walk moves a change along the standard model up to to (closing with code and notes).
func (sn ServiceNow) walk(ctx context.Context, number, to, code, notes string) error {
	cur, err := sn.state(ctx, number)
	if err != nil {
		return err
	}
	if cur == "canceled" || (cur == "closed" && to != "closed") {
		return Permanent(fmt.Errorf("change %s is %s in ServiceNow; it cannot move to %s", number, cur, to))
	}
	from, target := slices.Index(standardPath, cur), slices.Index(standardPath, to)
	if from < 0 {
		return Permanent(fmt.Errorf("change %s is in state %s, which the standard change model does not have", number, cur))
	}
	for _, st := range standardPath[from+1 : max(target+1, from+1)] {
		c, n := "", ""
		if st == "closed" {
			c, n = code, notes
		}
		if _, err := sn.C.MoveChange(ctx, number, st, c, n); err != nil {
			return classify(err)
		}
	}
	return nil
}

// Advance implements ChangeSystem.
func (sn ServiceNow) Advance(ctx context.Context, number, to string) error {
	if to != "scheduled" && to != "implement" {
		return Permanent(fmt.Errorf("a change is advanced to scheduled or implement, not %s", to))
	}
	return sn.walk(ctx, number, to, "", "")
}

// Close implements ChangeSystem: through Review to Closed with close code successful or
// unsuccessful.
func (sn ServiceNow) Close(ctx context.Context, number string, successful bool, notes string) error {
	code := "unsuccessful"
	if successful {
		code = "successful"
	}
	return sn.walk(ctx, number, "closed", code, notes)
}

// Cancel implements ChangeSystem: the notes go in a work note, then the change moves to
// Canceled.
func (sn ServiceNow) Cancel(ctx context.Context, number, notes string) error {
	cur, err := sn.state(ctx, number)
	if err != nil {
		return err
	}
	switch cur {
	case "canceled":
		return nil
	case "closed":
		return Permanent(fmt.Errorf("change %s is already closed; it cannot be canceled", number))
	}
	if err := sn.Note(ctx, number, "cancel:"+number, notes); err != nil {
		return err
	}
	if _, err := sn.C.MoveChange(ctx, number, "canceled", "", ""); err != nil {
		return classify(err)
	}
	return nil
}

// Note implements ChangeSystem. The key is written at the end of the note; a note with
// the key already in the change's journal is not written again.
func (sn ServiceNow) Note(ctx context.Context, number, key, text string) error {
	if strings.Contains(key, "^") {
		return Permanent(fmt.Errorf("note key %q may not contain ^", key))
	}
	id, err := sn.changeSysID(ctx, number)
	if err != nil {
		return err
	}
	marker := "[gatehouse:" + key + "]"
	var found struct {
		Result []struct {
			SysID string `json:"sys_id"`
		} `json:"result"`
	}
	q := url.Values{"sysparm_query": {"element_id=" + id + "^element=work_notes^valueLIKE" + marker},
		"sysparm_fields": {"sys_id"}, "sysparm_limit": {"1"}}
	if _, err := sn.C.API().Do(ctx, kit.Request{Method: http.MethodGet, Path: "/api/now/table/sys_journal_field", Query: q}, &found); err != nil {
		return classify(err)
	}
	if len(found.Result) > 0 {
		return nil
	}
	_, err = sn.C.API().Do(ctx, kit.Request{Method: http.MethodPatch, Path: "/api/now/table/change_request/" + url.PathEscape(id),
		Query: url.Values{"sysparm_fields": {"sys_id"}}, Body: map[string]string{"work_notes": text + "\n\n" + marker}}, nil)
	return classify(err)
}

func (sn ServiceNow) changeSysID(ctx context.Context, number string) (string, error) {
	var out struct {
		Result []struct {
			SysID string `json:"sys_id"`
		} `json:"result"`
	}
	q := url.Values{"sysparm_query": {"number=" + strings.ReplaceAll(number, "^", "^^")}, "sysparm_fields": {"sys_id"}, "sysparm_limit": {"1"}}
	if _, err := sn.C.API().Do(ctx, kit.Request{Method: http.MethodGet, Path: "/api/now/table/change_request", Query: q}, &out); err != nil {
		return "", classify(err)
	}
	if len(out.Result) == 0 {
		return "", fmt.Errorf("%w: no change request has the number %s", ErrNotFound, number)
	}
	return out.Result[0].SysID, nil
}
