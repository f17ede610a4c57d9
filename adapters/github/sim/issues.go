package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	issuesDocs   = docsBase + "/issues/issues"
	commentsDocs = docsBase + "/issues/comments"
)

func (s *Sim) listIssues(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		return 0, nil, validation(issuesDocs+"#list-repository-issues", map[string]any{"resource": "Issue", "field": "state", "code": "invalid"})
	}
	var labels []string
	if v := q.Get("labels"); v != "" {
		labels = strings.Split(v, ",")
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			return 0, nil, validation(issuesDocs, map[string]any{"resource": "Issue", "field": "since", "code": "invalid"})
		}
	}
	var list []*item
	for _, it := range r.Items {
		if state != "all" && it.State != state {
			continue
		}
		if !hasAllLabels(it.Labels, labels) {
			continue
		}
		switch a := q.Get("assignee"); a {
		case "", "*":
			if a == "*" && len(it.Assignees) == 0 {
				continue
			}
		case "none":
			if len(it.Assignees) > 0 {
				continue
			}
		default:
			if !slices.ContainsFunc(it.Assignees, func(x string) bool { return strings.EqualFold(x, a) }) {
				continue
			}
		}
		if cr := q.Get("creator"); cr != "" && !strings.EqualFold(it.User, cr) {
			continue
		}
		if !since.IsZero() && it.Updated.Before(since) {
			continue
		}
		list = append(list, it)
	}
	sortItems(list, q.Get("sort"), q.Get("direction"))
	start, end := c.paginate(len(list))
	out := []any{}
	for _, it := range list[start:end] {
		out = append(out, s.issueJSON(c, r, it))
	}
	return http.StatusOK, out, nil
}

func hasAllLabels(have, want []string) bool {
	for _, w := range want {
		w = strings.TrimSpace(w)
		if w != "" && !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return false
		}
	}
	return true
}

// sortItems orders issues or pull requests by created (default), updated or comments,
// descending unless direction is asc; ties by number.
func sortItems(list []*item, by, direction string) {
	key := func(it *item) int64 {
		switch by {
		case "updated":
			return it.Updated.UnixNano()
		case "comments":
			return int64(len(it.Comments))
		}
		return it.Created.UnixNano()
	}
	sort.SliceStable(list, func(i, j int) bool {
		ki, kj := key(list[i]), key(list[j])
		if ki == kj {
			ki, kj = int64(list[i].Number), int64(list[j].Number)
		}
		if direction == "asc" {
			return ki < kj
		}
		return ki > kj
	})
}

// stringOrNumber decodes a JSON string or number as a string (GitHub accepts both for an
// issue title).
type stringOrNumber string

func (v *stringOrNumber) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = stringOrNumber(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*v = stringOrNumber(n.String())
	return nil
}

func (s *Sim) createIssue(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Title     stringOrNumber `json:"title"`
		Body      string         `json:"body"`
		Labels    []string       `json:"labels"`
		Assignee  string         `json:"assignee"`
		Assignees []string       `json:"assignees"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	doc := issuesDocs + "#create-an-issue"
	if strings.TrimSpace(string(body.Title)) == "" {
		return 0, nil, validation(doc, map[string]any{"resource": "Issue", "field": "title", "code": "missing_field"})
	}
	assignees := body.Assignees
	if body.Assignee != "" {
		assignees = append(assignees, body.Assignee)
	}
	labels := body.Labels
	if !r.isCollaborator(c.who.login) {
		// Only users with push access can set labels and assignees; GitHub drops them silently.
		labels, assignees = nil, nil
	}
	for _, a := range assignees {
		if !r.isCollaborator(a) || s.users[strings.ToLower(a)] == nil {
			return 0, nil, validation(doc, map[string]any{"resource": "Issue", "field": "assignees", "code": "invalid", "value": a})
		}
	}
	for _, l := range labels {
		if !slices.ContainsFunc(r.Labels, func(x string) bool { return strings.EqualFold(x, l) }) {
			r.Labels = append(r.Labels, l) // created on first use
		}
	}
	it := s.addItem(r, string(body.Title), body.Body, c.who.login, s.opts.Now())
	it.Labels, it.Assignees = labels, assignees
	c.header.Set("Location", fmt.Sprintf("%s/repos/%s/issues/%d", c.api, r.fullName(), it.Number))
	return http.StatusCreated, s.issueJSON(c, r, it), nil
}

// addItem appends an issue (or, once PR is set, a pull request) with the next number.
func (s *Sim) addItem(r *repo, title, body, user string, at time.Time) *item {
	it := &item{ID: s.nextID(), Number: len(r.Items) + 1, Title: title, Body: body, State: "open", User: user,
		Created: at, Updated: at}
	r.Items = append(r.Items, it)
	return it
}

func (s *Sim) getIssue(c *call) (int, any, error) {
	r, it, err := c.item(false)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.issueJSON(c, r, it), nil
}

func (s *Sim) listIssueComments(c *call) (int, any, error) {
	r, it, err := c.item(false)
	if err != nil {
		return 0, nil, err
	}
	start, end := c.paginate(len(it.Comments))
	out := []any{}
	for _, cm := range it.Comments[start:end] {
		out = append(out, s.commentJSON(c, r, it, cm))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) createIssueComment(c *call) (int, any, error) {
	r, it, err := c.item(false)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Body string `json:"body"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(body.Body) == "" {
		return 0, nil, validation(commentsDocs+"#create-an-issue-comment",
			map[string]any{"resource": "IssueComment", "field": "body", "code": "missing_field"})
	}
	cm := &comment{ID: s.nextID(), User: c.who.login, Body: body.Body, Created: s.opts.Now()}
	it.Comments = append(it.Comments, cm)
	it.Updated = cm.Created
	c.header.Set("Location", fmt.Sprintf("%s/repos/%s/issues/comments/%d", c.api, r.fullName(), cm.ID))
	return http.StatusCreated, s.commentJSON(c, r, it, cm), nil
}
