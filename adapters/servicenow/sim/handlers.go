package sim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// tableAPI serves /api/now/table/{table}[/{sys_id}]; args are the segments after "table".
func (s *Sim) tableAPI(w http.ResponseWriter, r *http.Request, args []string, user string) {
	table := args[0]
	if _, ok := tables[table]; !ok {
		apiError(w, http.StatusBadRequest, "Invalid table "+table, "The table does not exist or is not exposed to the REST API")
		return
	}
	if len(args) == 1 {
		switch r.Method {
		case http.MethodGet:
			s.tableList(w, r, table)
		case http.MethodPost:
			s.tableInsert(w, r, table, user)
		default:
			methodNotAllowed(w, http.MethodGet, http.MethodPost)
		}
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.tableGet(w, r, table, args[1])
	case http.MethodPatch, http.MethodPut:
		s.tableUpdate(w, r, table, args[1], user)
	default:
		methodNotAllowed(w, http.MethodGet, http.MethodPatch, http.MethodPut)
	}
}

func (s *Sim) tableList(w http.ResponseWriter, r *http.Request, table string) {
	p, herr := parseList(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.filter(s.all(table), parseQuery(table, p.query))
	out := []any{}
	for _, rec := range paginate(w, r, recs, p.limit, p.offset) {
		out = append(out, s.render(rec, table, p.opts))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Sim) tableGet(w http.ResponseWriter, r *http.Request, table, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.get(table, id)
	if rec == nil {
		errNotFound().write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.render(rec, table, renderOptions(r))})
}

func (s *Sim) tableInsert(w http.ResponseWriter, r *http.Request, table, user string) {
	body, herr := readBody(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, _, herr := s.write(table, nil, body, writer{user: user, now: s.opts.Now()})
	if herr != nil {
		herr.write(w)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/api/now/table/"+table+"/"+rec.id())
	writeJSON(w, http.StatusCreated, map[string]any{"result": s.render(rec, table, renderOptions(r))})
}

func (s *Sim) tableUpdate(w http.ResponseWriter, r *http.Request, table, id, user string) {
	body, herr := readBody(r)
	if herr != nil {
		herr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.get(table, id)
	if rec == nil {
		errNotFound().write(w)
		return
	}
	if _, _, herr := s.write(table, rec, body, writer{user: user, now: s.opts.Now()}); herr != nil {
		herr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.render(rec, table, renderOptions(r))})
}

// readBody decodes a JSON object of field values. Numbers and booleans are
// taken as their string form, null as "", and {"value": ...} as its value;
// other values are dropped (ServiceNow would ignore them).
func readBody(r *http.Request) (map[string]string, *httpError) {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, &httpError{http.StatusBadRequest, "Exception while reading request",
			"The payload is not a valid JSON object: " + err.Error()}
	}
	out := map[string]string{}
	for k, v := range raw {
		if s, ok := scalar(v); ok {
			out[k] = s
		}
	}
	return out, nil
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case map[string]any:
		if inner, ok := x["value"]; ok {
			return scalar(inner)
		}
	case []any:
		var parts []string
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}
