package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// changeOpts renders Change Management API records: every field as
// {"value", "display_value"}.
var changeOpts = renderOpts{mode: dvAll, noLink: true}

var changeTypes = []string{"normal", "standard", "emergency"}

// changeAPI serves /api/sn_chg_rest/change[/...]; args are the segments after "change".
func (s *Sim) changeAPI(w http.ResponseWriter, r *http.Request, args []string, user string) {
	get, post, patch := r.Method == http.MethodGet, r.Method == http.MethodPost, r.Method == http.MethodPatch
	typed := len(args) > 0 && slices.Contains(changeTypes, args[0])
	switch {
	case len(args) == 0:
		if !get {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		s.changeList(w, r, "")
	case len(args) == 1 && typed:
		switch {
		case get:
			s.changeList(w, r, args[0])
		case post && args[0] != "standard":
			s.changeCreate(w, r, args[0], "", user)
		case args[0] == "standard":
			methodNotAllowed(w, http.MethodGet)
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPost)
		}
	case len(args) == 2 && args[0] == "standard" && args[1] == "template":
		if !get {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		s.templateList(w, r)
	case len(args) == 2 && typed:
		switch {
		case post && args[0] == "standard":
			s.changeCreate(w, r, "standard", args[1], user)
		case get:
			s.changeGet(w, r, args[1], args[0])
		case patch:
			s.changePatch(w, r, args[1], args[0], user)
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPatch)
		}
	case len(args) == 1:
		switch {
		case get:
			s.changeGet(w, r, args[0], "")
		case patch:
			s.changePatch(w, r, args[0], "", user)
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPatch)
		}
	case len(args) == 2 && args[1] == "nextstate":
		if !get {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		s.changeNextState(w, args[0])
	case len(args) == 2 && args[1] == "approvals":
		if !get {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		s.changeApprovals(w, args[0])
	case len(args) == 2 && args[1] == "ci":
		switch {
		case get:
			s.changeCIs(w, args[0])
		case post:
			s.changeAddCIs(w, r, args[0], user)
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPost)
		}
	default:
		apiError(w, http.StatusBadRequest, "Requested URI does not represent any resource",
			"No Change Management API is exposed at "+r.URL.Path)
	}
}

// changeList lists changes (of one type when typ is set). Besides
// sysparm_query, any change_request field given as a query parameter is an
// equality filter.
func (s *Sim) changeList(w http.ResponseWriter, r *http.Request, typ string) {
	p, herr := parseList(r)
	if herr != nil {
		herr.write(w)
		return
	}
	var extra []string
	for k, vs := range r.URL.Query() {
		if _, ok := pathDef(tChange, k); ok && !strings.HasPrefix(k, "sysparm_") && len(vs) > 0 {
			extra = append(extra, k+"="+vs[0])
		}
	}
	if typ != "" {
		extra = append(extra, "type="+typ)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.filter(s.all(tChange), parseQuery(tChange, p.query))
	recs = s.filter(recs, parseQuery(tChange, strings.Join(extra, "^")))
	out := []any{}
	for _, rec := range paginate(w, r, recs, p.limit, p.offset) {
		out = append(out, s.render(rec, tChange, changeOpts))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Sim) templateList(w http.ResponseWriter, r *http.Request) {
	p, herr := parseList(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.filter(s.all(tTemplate), parseQuery(tTemplate, p.query))
	out := []any{}
	for _, rec := range paginate(w, r, recs, p.limit, p.offset) {
		out = append(out, s.render(rec, tTemplate, changeOpts))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// change returns the change with sys_id id (of type typ when set), or nil.
func (s *Sim) change(id, typ string) *record {
	c := s.get(tChange, id)
	if c == nil || (typ != "" && c.f["type"] != typ) {
		return nil
	}
	return c
}

func (s *Sim) changeGet(w http.ResponseWriter, _ *http.Request, id, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.change(id, typ)
	if c == nil {
		errNotFound().write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.render(c, tChange, changeOpts)})
}

func withMeta(rec map[string]any, ignored []string) map[string]any {
	if ignored == nil {
		ignored = []string{}
	}
	rec["__meta"] = map[string]any{"ignoredAttributes": ignored}
	return rec
}

func (s *Sim) changeCreate(w http.ResponseWriter, r *http.Request, typ, templateID, user string) {
	body, herr := readBody(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vals := map[string]string{}
	if templateID != "" {
		t := s.get(tTemplate, templateID)
		if t == nil {
			apiError(w, http.StatusNotFound, "No Record found",
				fmt.Sprintf("std_change_producer_version %s does not exist", templateID))
			return
		}
		if t.f["active"] != "true" {
			apiError(w, http.StatusBadRequest, "Standard change template is not active",
				fmt.Sprintf("%s (%s) is not an active template", t.f["name"], templateID))
			return
		}
		for _, f := range templateFields {
			if v := t.f[f]; v != "" {
				vals[f] = v
			}
		}
		vals["std_change_producer_version"] = templateID
	}
	for k, v := range body {
		vals[k] = v
	}
	delete(vals, "type")
	vals["type"] = typ
	rec, ignored, herr := s.write(tChange, nil, vals, writer{user: user, now: s.opts.Now()})
	if herr != nil {
		herr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": withMeta(s.render(rec, tChange, changeOpts), ignored)})
}

func (s *Sim) changePatch(w http.ResponseWriter, r *http.Request, id, typ, user string) {
	body, herr := readBody(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.change(id, typ)
	if c == nil {
		errNotFound().write(w)
		return
	}
	_, ignored, herr := s.write(tChange, c, body, writer{user: user, now: s.opts.Now()})
	if herr != nil {
		herr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": withMeta(s.render(c, tChange, changeOpts), ignored)})
}

func (s *Sim) changeNextState(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.change(id, "")
	if c == nil {
		errNotFound().write(w)
		return
	}
	from, typ := c.f["state"], c.f["type"]
	cands, open := s.nextStates(id, c.f)
	label := func(st string) string { return stateLabels(tChange, []string{st}) }
	transitions := []any{}
	for _, to := range cands {
		conds := s.changeConditions(id, c.f, to)
		cj := []any{}
		for _, cr := range conds {
			cj = append(cj, map[string]any{
				"condition": map[string]any{"name": cr.name, "description": cr.description,
					"sys_id": sysIDFor("condition:" + cr.name)},
				"passed": cr.passed,
			})
		}
		transitions = append(transitions, map[string]any{
			"sys_id":               sysIDFor(fmt.Sprintf("transition:%s:%s:%s", typ, from, to)),
			"from_state":           from,
			"to_state":             to,
			"display_value":        label(to),
			"transition_available": passed(conds),
			"automatic":            false,
			"conditions":           cj,
		})
	}
	labels := map[string]string{"4": label("4")}
	for st := range changeModels[typ] {
		labels[st] = label(st)
	}
	labels["3"], labels[from] = label("3"), label(from)
	writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{
		"available_states":  append([]string{from}, open...),
		"state_transitions": transitions,
		"state_label":       labels,
	}})
}

func (s *Sim) changeApprovals(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.change(id, "")
	if c == nil {
		errNotFound().write(w)
		return
	}
	out := []any{}
	for _, a := range s.approvalsOf(id) {
		out = append(out, s.render(a, tApproval, changeOpts))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Sim) taskCIs(taskID string) []*record {
	var out []*record
	for _, r := range s.all(tTaskCI) {
		if r.f["task"] == taskID {
			out = append(out, r)
		}
	}
	return out
}

func (s *Sim) changeCIs(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.change(id, "") == nil {
		errNotFound().write(w)
		return
	}
	out := []any{}
	rows := s.taskCIs(id)
	for _, tc := range rows {
		out = append(out, s.render(tc, tTaskCI, changeOpts))
	}
	w.Header().Set("X-Total-Count", fmt.Sprint(len(rows)))
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Sim) changeAddCIs(w http.ResponseWriter, r *http.Request, id, user string) {
	body, herr := readBody(r)
	if herr != nil {
		herr.write(w)
		return
	}
	assoc := body["association_type"]
	if assoc == "" {
		assoc = "affected"
	}
	if assoc != "affected" {
		apiError(w, http.StatusBadRequest, "Invalid association_type",
			fmt.Sprintf("association_type %q is not supported; use affected (impacted and offering are not simulated)", assoc))
		return
	}
	var ids []string
	for _, v := range strings.Split(body["cmdb_ci_sys_ids"], ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	if len(ids) == 0 {
		apiError(w, http.StatusBadRequest, "Missing cmdb_ci_sys_ids", "cmdb_ci_sys_ids must list at least one CI sys_id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.change(id, "")
	if c == nil {
		errNotFound().write(w)
		return
	}
	var unknown []string
	for _, ci := range ids {
		if s.get(tCI, ci) == nil {
			unknown = append(unknown, ci)
		}
	}
	if len(unknown) > 0 {
		apiError(w, http.StatusBadRequest, "Invalid CI", "No cmdb_ci record with sys_id "+strings.Join(unknown, ", "))
		return
	}
	wr := writer{user: user, now: s.opts.Now()}
	out := []any{}
	for _, ci := range ids {
		if slices.ContainsFunc(s.taskCIs(id), func(tc *record) bool { return tc.f["ci_item"] == ci }) {
			continue
		}
		tc, _, herr := s.write(tTaskCI, nil, map[string]string{"task": id, "ci_item": ci}, wr)
		if herr != nil {
			herr.write(w)
			return
		}
		out = append(out, s.render(tc, tTaskCI, changeOpts))
	}
	writeJSON(w, http.StatusCreated, map[string]any{"result": out})
}
