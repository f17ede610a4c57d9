package sim

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Encoded queries (sysparm_query). Supported:
//
//	field=value  field!=value  fieldLIKEvalue  fieldNOT LIKEvalue  fieldSTARTSWITHvalue
//	fieldENDSWITHvalue  fieldINa,b,c  fieldNOT INa,b  fieldISEMPTY  fieldISNOTEMPTY
//	field<value  field<=value  field>value  field>=value  fieldANYTHING
//	cond^cond (AND)  cond^ORcond (OR with the previous condition)  query^NQquery (OR of queries)
//	ORDERBYfield  ORDERBYDESCfield  EQ (ignored)
//
// A caret inside a value is written "^^".
// Field names may dot-walk through references (caller_id.user_name,
// cmdb_ci.name). String comparisons ignore case, as ServiceNow's database
// collation does; <, <=, >, >= compare numerically when both sides are
// numbers and as strings otherwise (date-times compare correctly as strings).

type cond struct {
	path, op, val string
}

type orderKey struct {
	path string
	desc bool
}

type query struct {
	// any of groups; each group is an AND of OR-lists of conditions.
	groups  [][][]cond
	order   []orderKey
	invalid bool // a condition named an unknown field or operator
}

// operators in match order: longer operators before their prefixes.
var operators = []string{"ISNOTEMPTY", "ISEMPTY", "NOT LIKE", "NOT IN", "STARTSWITH", "ENDSWITH", "ANYTHING",
	"LIKE", "IN", "!=", "<=", ">=", "=", "<", ">"}

func parseQuery(table, raw string) query {
	var q query
	if raw == "" {
		return q
	}
	// "^^" is a literal caret inside a value; hide it while splitting.
	raw = strings.ReplaceAll(raw, "^^", "\x00")
	for _, part := range strings.Split(raw, "^NQ") {
		var group [][]cond
		for _, tok := range strings.Split(part, "^") {
			tok = strings.ReplaceAll(tok, "\x00", "^")
			switch {
			case tok == "" || tok == "EQ":
				continue
			case strings.HasPrefix(tok, "ORDERBYDESC"):
				q.addOrder(table, strings.TrimPrefix(tok, "ORDERBYDESC"), true)
				continue
			case strings.HasPrefix(tok, "ORDERBY"):
				q.addOrder(table, strings.TrimPrefix(tok, "ORDERBY"), false)
				continue
			}
			or := false
			if strings.HasPrefix(tok, "OR") && len(group) > 0 {
				or, tok = true, strings.TrimPrefix(tok, "OR")
			}
			c, ok := parseCond(table, tok)
			if !ok {
				q.invalid = true
				continue
			}
			if or {
				group[len(group)-1] = append(group[len(group)-1], c)
			} else {
				group = append(group, []cond{c})
			}
		}
		q.groups = append(q.groups, group)
	}
	return q
}

// addOrder records an ORDERBY; ServiceNow ignores ordering by an unknown field.
func (q *query) addOrder(table, path string, desc bool) {
	if _, ok := pathDef(table, path); ok {
		q.order = append(q.order, orderKey{path, desc})
	}
}

func parseCond(table, tok string) (cond, bool) {
	i := strings.IndexFunc(tok, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.')
	})
	if i <= 0 {
		return cond{}, false
	}
	path, rest := tok[:i], tok[i:]
	if _, ok := pathDef(table, path); !ok {
		return cond{}, false
	}
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			return cond{path: path, op: op, val: rest[len(op):]}, true
		}
	}
	return cond{}, false
}

// filter returns the records matching q, ordered. With an invalid query it
// returns nothing, as an instance with glide.invalid_query.returns_no_rows
// set does.
func (s *Sim) filter(recs []*record, q query) []*record {
	if q.invalid {
		return nil
	}
	var out []*record
	for _, r := range recs {
		if s.matches(r, q) {
			out = append(out, r)
		}
	}
	if len(q.order) > 0 {
		slices.SortStableFunc(out, func(a, b *record) int {
			for _, k := range q.order {
				va, _ := s.walk(a, k.path)
				vb, _ := s.walk(b, k.path)
				c := compareValues(va, vb)
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	return out
}

func (s *Sim) matches(r *record, q query) bool {
	if len(q.groups) == 0 {
		return true
	}
	for _, g := range q.groups {
		if s.matchGroup(r, g) {
			return true
		}
	}
	return false
}

func (s *Sim) matchGroup(r *record, g [][]cond) bool {
	for _, ors := range g {
		ok := false
		for _, c := range ors {
			if s.matchCond(r, c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Sim) matchCond(r *record, c cond) bool {
	v, _ := s.walk(r, c.path)
	lv, lval := strings.ToLower(v), strings.ToLower(c.val)
	in := func() bool {
		for _, x := range strings.Split(c.val, ",") {
			if strings.EqualFold(strings.TrimSpace(x), v) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case "=":
		return lv == lval
	case "!=":
		return lv != lval
	case "LIKE":
		return strings.Contains(lv, lval)
	case "NOT LIKE":
		return !strings.Contains(lv, lval)
	case "STARTSWITH":
		return strings.HasPrefix(lv, lval)
	case "ENDSWITH":
		return strings.HasSuffix(lv, lval)
	case "IN":
		return in()
	case "NOT IN":
		return !in()
	case "ISEMPTY":
		return v == ""
	case "ISNOTEMPTY":
		return v != ""
	case "ANYTHING":
		return true
	}
	if v == "" {
		return false // an empty value is never less or greater than anything
	}
	cmpv := compareValues(v, c.val)
	switch c.op {
	case "<":
		return cmpv < 0
	case "<=":
		return cmpv <= 0
	case ">":
		return cmpv > 0
	case ">=":
		return cmpv >= 0
	}
	return false
}

// compareValues compares numerically when both are numbers, else as
// case-insensitive strings.
func compareValues(a, b string) int {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(fa, fb)
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}
