package sim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// timeFormat is how ServiceNow's REST APIs write date-times: UTC for the
// integration user's default (GMT) time zone.
const timeFormat = "2006-01-02 15:04:05"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

// sysIDFor derives a stable sys_id (32 lower-case hex characters, like every
// ServiceNow sys_id) from a name, so seed and runtime records get realistic
// ids without random state.
func sysIDFor(name string) string {
	h := sha1.Sum([]byte("gatehouse-servicenow-sim:" + name))
	return hex.EncodeToString(h[:16])
}

// record is one row. f holds every stored field value as a string, the way
// ServiceNow stores and returns them; keys starting with "_" are the
// simulator's own bookkeeping and never rendered.
type record struct {
	class string // the table the row was inserted into (sys_class_name)
	seq   int    // insertion order: the default sort order of lists
	f     map[string]string
}

func (r *record) id() string { return r.f["sys_id"] }

// insert adds a record of class with the given (already normalised) values
// and fills in the system fields. id is used when non-empty (seed data).
func (s *Sim) insert(class, id string, vals map[string]string, by string, at time.Time) *record {
	s.seq++
	if id == "" {
		id = sysIDFor(fmt.Sprintf("%s:runtime:%d", class, s.seq))
	}
	t := tables[class]
	r := &record{class: class, seq: s.seq, f: map[string]string{}}
	for _, fd := range t.fields {
		switch fd.kind {
		case kBool:
			r.f[fd.name] = "false"
		case kJournal:
			continue
		default:
			r.f[fd.name] = ""
		}
	}
	for k, v := range vals {
		r.f[k] = v
	}
	r.f["sys_id"] = id
	r.f["sys_created_on"], r.f["sys_updated_on"] = stamp(at), stamp(at)
	r.f["sys_created_by"], r.f["sys_updated_by"] = by, by
	r.f["sys_mod_count"] = "0"
	if extensible(class) {
		r.f["sys_class_name"] = class
	}
	if t.number != "" && r.f["number"] == "" {
		r.f["number"] = s.nextNumber(class)
	}
	s.recs[id] = r
	s.order = append(s.order, r)
	return r
}

// nextNumber returns the next runtime number of a numbered table: new
// records continue from numberStart (INC0010001, CHG0030001, CTASK0010001)
// the way a fresh instance does above its demo data.
func (s *Sim) nextNumber(class string) string {
	t := tables[class]
	n, ok := s.numbers[class]
	if !ok {
		n = t.numberStart
	}
	s.numbers[class] = n + 1
	return fmt.Sprintf("%s%07d", t.number, n)
}

// get returns the record with sys_id id if it belongs to table.
func (s *Sim) get(table, id string) *record {
	r := s.recs[id]
	if r == nil || !isA(r.class, table) {
		return nil
	}
	return r
}

// all returns the records of table (and its child tables), in insertion order.
func (s *Sim) all(table string) []*record {
	var out []*record
	for _, r := range s.order {
		if isA(r.class, table) {
			out = append(out, r)
		}
	}
	return out
}

// find returns the first record of table whose field equals value.
func (s *Sim) find(table, field, value string) *record {
	for _, r := range s.order {
		if isA(r.class, table) && r.f[field] == value {
			return r
		}
	}
	return nil
}

// displayOf is a record's display value: its number, name, ...
func (s *Sim) displayOf(r *record) string {
	t := tables[r.class]
	fd, ok := t.field(t.display)
	if !ok {
		return ""
	}
	if fd.kind == kRef {
		if target := s.recs[r.f[fd.name]]; target != nil {
			return s.displayOf(target)
		}
		return ""
	}
	return r.f[fd.name]
}

// display is the display value of one field of owner holding v.
func (s *Sim) display(owner *record, fd *fieldDef, v string) string {
	switch fd.kind {
	case kRef:
		if target := s.recs[v]; target != nil {
			return s.displayOf(target)
		}
		return ""
	case kJournal:
		if owner == nil {
			return ""
		}
		return s.journalText(owner.id(), fd.name)
	}
	if l, ok := fd.label(v); ok {
		return l
	}
	return v
}

// resolveRef turns a written reference value into a sys_id: a sys_id of the
// referenced table, else the display value of one of its records (for
// sys_user also the user_name). Like ServiceNow, an unmatched value is kept
// as written, which leaves a broken reference.
func (s *Sim) resolveRef(table, v string) string {
	if v == "" || s.get(table, v) != nil {
		return v
	}
	for _, r := range s.order {
		if !isA(r.class, table) {
			continue
		}
		if s.displayOf(r) == v || (table == tUser && r.f["user_name"] == v) {
			return r.id()
		}
	}
	return v
}

// userName returns the display name of a user_name (for journal headers).
func (s *Sim) userName(userName string) string {
	if u := s.find(tUser, "user_name", userName); u != nil && u.f["name"] != "" {
		return u.f["name"]
	}
	return userName
}

// addJournal appends a work note or comment to a record as a sys_journal_field row.
func (s *Sim) addJournal(owner *record, element, value, by string, at time.Time) {
	s.insert(tJournal, "", map[string]string{
		"element_id": owner.id(), "name": owner.class, "element": element, "value": value,
	}, by, at)
}

func (s *Sim) journal(id, element string) []*record {
	var out []*record
	for _, r := range s.order {
		if r.class == tJournal && r.f["element_id"] == id && (element == "" || r.f["element"] == element) {
			out = append(out, r)
		}
	}
	return out
}

// journalText renders a journal field the way its display value reads:
// newest entry first, each with a "<when> - <who> (Work notes)" header.
func (s *Sim) journalText(id, element string) string {
	entries := s.journal(id, element)
	label := map[string]string{"work_notes": "Work notes", "comments": "Additional comments"}[element]
	var b strings.Builder
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		fmt.Fprintf(&b, "%s - %s (%s)\n%s\n\n", e.f["sys_created_on"], s.userName(e.f["sys_created_by"]), label, e.f["value"])
	}
	return b.String()
}

// ---- rendering ---------------------------------------------------------------

type dispMode int

const (
	dvFalse dispMode = iota // plain values
	dvTrue                  // display values
	dvAll                   // {"display_value", "value"}
)

type renderOpts struct {
	mode   dispMode
	noLink bool     // sysparm_exclude_reference_link=true
	base   string   // scheme://host for reference links
	fields []string // sysparm_fields; nil means every field of the table
}

// pathDef validates a (possibly dot-walked) field name against table's
// dictionary and returns the definition of its last segment.
func pathDef(table, path string) (*fieldDef, bool) {
	segs := strings.Split(path, ".")
	t := tables[table]
	for i, seg := range segs {
		fd, ok := t.field(seg)
		if !ok {
			return nil, false
		}
		if i == len(segs)-1 {
			return fd, true
		}
		if fd.kind != kRef {
			return nil, false
		}
		t = tables[fd.ref]
	}
	return nil, false
}

// walk returns the value at path (already validated) and the record that
// holds its last segment (nil when a reference on the way is empty or broken).
func (s *Sim) walk(r *record, path string) (string, *record) {
	segs := strings.Split(path, ".")
	cur := r
	for _, seg := range segs[:len(segs)-1] {
		cur = s.recs[cur.f[seg]]
		if cur == nil {
			return "", nil
		}
	}
	return cur.f[segs[len(segs)-1]], cur
}

// render turns a record into its Table API JSON object as seen through view
// (the table the caller asked for).
func (s *Sim) render(r *record, view string, o renderOpts) map[string]any {
	out := map[string]any{}
	names := o.fields
	if names == nil {
		for _, fd := range tables[view].fields {
			names = append(names, fd.name)
		}
	}
	for _, name := range names {
		fd, ok := pathDef(view, name)
		if !ok {
			continue // ServiceNow leaves unknown sysparm_fields out
		}
		v, owner := s.walk(r, name)
		if owner != nil {
			// Choice labels follow the record's own class (a dictionary override).
			last := name[strings.LastIndex(name, ".")+1:]
			if cfd, ok := tables[owner.class].field(last); ok {
				fd = cfd
			}
		}
		out[name] = s.fieldJSON(owner, fd, v, o)
	}
	return out
}

func (s *Sim) fieldJSON(owner *record, fd *fieldDef, v string, o renderOpts) any {
	if fd.kind == kRef && v != "" && !o.noLink {
		link := o.base + "/api/now/table/" + fd.ref + "/" + v
		switch o.mode {
		case dvTrue:
			return map[string]any{"display_value": s.display(owner, fd, v), "link": link}
		case dvAll:
			return map[string]any{"display_value": s.display(owner, fd, v), "value": v, "link": link}
		}
		return map[string]any{"value": v, "link": link}
	}
	switch o.mode {
	case dvTrue:
		return s.display(owner, fd, v)
	case dvAll:
		return map[string]any{"display_value": s.display(owner, fd, v), "value": v}
	}
	return v
}

// snapshot copies a record's stored values (no bookkeeping keys).
func snapshot(r *record) map[string]string {
	out := make(map[string]string, len(r.f))
	for k, v := range r.f {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}
