package sim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	pullsDocs     = docsBase + "/pulls/pulls"
	reviewsDocs   = docsBase + "/pulls/reviews"
	reviewerDocs  = docsBase + "/pulls/review-requests"
	revCommentDoc = docsBase + "/pulls/comments"
)

func (s *Sim) listPulls(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var list []*item
	for _, it := range r.Items {
		if it.PR == nil || (state != "all" && it.State != state) {
			continue
		}
		if h := q.Get("head"); h != "" {
			owner, branch, ok := strings.Cut(h, ":")
			if !ok || !strings.EqualFold(owner, r.Owner) || branch != it.PR.Head {
				continue
			}
		}
		if b := q.Get("base"); b != "" && b != it.PR.Base {
			continue
		}
		list = append(list, it)
	}
	sortBy := q.Get("sort")
	if sortBy == "popularity" || sortBy == "long-running" {
		sortBy = "comments"
	}
	sortItems(list, sortBy, q.Get("direction"))
	start, end := c.paginate(len(list))
	out := []any{}
	for _, it := range list[start:end] {
		out = append(out, s.prJSON(c, r, it, false))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) createPull(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	doc := pullsDocs + "#create-a-pull-request"
	invalid := func(field, code string) error {
		return validation(doc, map[string]any{"resource": "PullRequest", "field": field, "code": code})
	}
	if strings.TrimSpace(body.Title) == "" {
		return 0, nil, invalid("title", "missing_field")
	}
	head := body.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, r.Owner) {
			return 0, nil, invalid("head", "invalid") // forks are not simulated
		}
		head = branch
	}
	headSHA, ok := r.Branches[head]
	if !ok {
		return 0, nil, invalid("head", "invalid")
	}
	baseSHA, ok := r.Branches[body.Base]
	if !ok {
		return 0, nil, invalid("base", "invalid")
	}
	for _, it := range r.Items {
		if it.PR != nil && it.State == "open" && it.PR.Head == head && it.PR.Base == body.Base {
			return 0, nil, validation(doc, map[string]any{"resource": "PullRequest", "code": "custom",
				"message": fmt.Sprintf("A pull request already exists for %s:%s.", r.Owner, head)})
		}
	}
	if len(s.git.commitsBetween(baseSHA, headSHA)) == 0 {
		return 0, nil, validation(doc, map[string]any{"resource": "PullRequest", "code": "custom",
			"message": fmt.Sprintf("No commits between %s and %s", body.Base, head)})
	}
	it := s.addItem(r, body.Title, body.Body, c.who.login, s.opts.Now())
	it.PR = &pull{Head: head, Base: body.Base, HeadSHA: headSHA, BaseSHA: baseSHA, Draft: body.Draft}
	c.header.Set("Location", fmt.Sprintf("%s/repos/%s/pulls/%d", c.api, r.fullName(), it.Number))
	return http.StatusCreated, s.prJSON(c, r, it, true), nil
}

func (s *Sim) getPull(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.prJSON(c, r, it, true), nil
}

func (s *Sim) listPullFiles(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	changes := s.prChanges(r, it)
	start, end := c.paginate(len(changes))
	return http.StatusOK, s.filesJSON(c, r, s.headSHA(r, it), changes[start:end]), nil
}

func (s *Sim) listPullCommits(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	base := s.baseSHA(r, it)
	if it.PR.Merged {
		base = s.git.commits[it.PR.MergeCommit].Parents[0]
	}
	commits := s.git.commitsBetween(base, s.headSHA(r, it))
	start, end := c.paginate(len(commits))
	out := []any{}
	for _, cm := range commits[start:end] {
		out = append(out, s.commitJSON(c, r, cm, false))
	}
	return http.StatusOK, out, nil
}

// closesRef finds the issues a pull request body closes when merged ("Closes #2").
var closesRef = regexp.MustCompile(`(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+#(\d+)`)

func (s *Sim) mergePull(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	doc := pullsDocs + "#merge-a-pull-request"
	method := body.MergeMethod
	if method == "" {
		method = "merge"
	}
	if !slices.Contains([]string{"merge", "squash", "rebase"}, method) {
		return 0, nil, validation(doc, map[string]any{"resource": "PullRequest", "field": "merge_method", "code": "invalid"})
	}
	if it.State != "open" {
		return 0, nil, errorf(http.StatusMethodNotAllowed, doc, "Pull Request is not mergeable")
	}
	head, base := s.headSHA(r, it), s.baseSHA(r, it)
	if body.SHA != "" && body.SHA != head {
		return 0, nil, errorf(http.StatusConflict, doc, "Head branch was modified. Review and try the merge again.")
	}
	mergeable, state, merged := s.mergeState(r, it)
	switch {
	case !mergeable || state == "draft":
		return 0, nil, errorf(http.StatusMethodNotAllowed, doc, "Pull Request is not mergeable")
	case state == "blocked":
		return 0, nil, errorf(http.StatusMethodNotAllowed, doc, "%s", strings.Join(s.unmet(r, it), "\n"))
	}
	actor, committer := s.actor(c), s.webFlow()
	var result *commit
	switch method {
	case "merge":
		title := body.CommitTitle
		if title == "" {
			title = fmt.Sprintf("Merge pull request #%d from %s/%s", it.Number, r.Owner, it.PR.Head)
		}
		msg := body.CommitMessage
		if msg == "" {
			msg = it.Title
		}
		result = s.git.writeCommit(merged, []string{base, head}, actor, committer, title+"\n\n"+msg)
	case "squash":
		title := body.CommitTitle
		if title == "" {
			title = fmt.Sprintf("%s (#%d)", it.Title, it.Number)
		}
		msg := body.CommitMessage
		if msg == "" {
			var lines []string
			for _, cm := range s.git.commitsBetween(s.git.mergeBase(head, base), head) {
				lines = append(lines, "* "+strings.TrimSpace(cm.Message))
			}
			msg = strings.Join(lines, "\n\n")
		}
		author := actor
		if u := s.users[strings.ToLower(it.User)]; u != nil {
			author = person{Name: u.Name, Email: u.Email, Login: u.Login, Date: actor.Date}
		}
		result = s.git.writeCommit(merged, []string{base}, author, committer, title+"\n\n"+msg)
	case "rebase":
		tip := s.git.commits[base]
		for _, cm := range s.git.commitsBetween(s.git.mergeBase(head, base), head) {
			var parent map[string]string
			if len(cm.Parents) > 0 {
				parent = s.git.commits[cm.Parents[0]].Files
			}
			files, conflicts := threeWay(parent, tip.Files, cm.Files)
			if len(conflicts) > 0 {
				return 0, nil, errorf(http.StatusMethodNotAllowed, doc, "This branch can't be rebased")
			}
			tip = s.git.writeCommit(files, []string{tip.SHA}, cm.Author, committer, cm.Message)
		}
		result = tip
	}
	now := s.opts.Now()
	r.Branches[it.PR.Base] = result.SHA
	r.Pushed = now
	it.PR.Merged, it.PR.MergedAt, it.PR.MergedBy, it.PR.MergeCommit = true, now, c.who.login, result.SHA
	it.State, it.Closed, it.ClosedBy, it.Updated = "closed", now, c.who.login, now
	if it.PR.Base == r.DefaultBranch {
		for _, m := range closesRef.FindAllStringSubmatch(it.Body, -1) {
			n, _ := strconv.Atoi(m[1])
			if n >= 1 && n <= len(r.Items) && r.Items[n-1].PR == nil && r.Items[n-1].State == "open" {
				issue := r.Items[n-1]
				issue.State, issue.StateReason, issue.Closed, issue.ClosedBy, issue.Updated = "closed", "completed", now, c.who.login, now
			}
		}
	}
	return http.StatusOK, map[string]any{"sha": result.SHA, "merged": true, "message": "Pull Request successfully merged"}, nil
}

func (s *Sim) getRequestedReviewers(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"users": s.usersJSON(c, it.PR.Requested), "teams": s.teamsJSON(c, r, it.PR.RequestedTeams)}, nil
}

func (s *Sim) requestReviewers(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	doc := reviewerDocs + "#request-reviewers-for-a-pull-request"
	notCollaborator := errorf(http.StatusUnprocessableEntity, doc, "Reviews may only be requested from collaborators. One or more "+
		"of the users or teams you specified is not a collaborator of the %s repository.", r.fullName())
	for _, login := range body.Reviewers {
		switch {
		case strings.EqualFold(login, it.User):
			return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Review cannot be requested from pull request author.")
		case s.users[strings.ToLower(login)] == nil || !r.isCollaborator(login) || login == BotLogin:
			return 0, nil, notCollaborator
		}
	}
	o := s.orgs[strings.ToLower(r.Owner)]
	for _, slug := range body.TeamReviewers {
		if o == nil || o.Teams[slug] == nil {
			return 0, nil, notCollaborator
		}
	}
	for _, login := range body.Reviewers {
		if u := s.users[strings.ToLower(login)]; !slices.Contains(it.PR.Requested, u.Login) {
			it.PR.Requested = append(it.PR.Requested, u.Login)
		}
	}
	for _, slug := range body.TeamReviewers {
		if !slices.Contains(it.PR.RequestedTeams, slug) {
			it.PR.RequestedTeams = append(it.PR.RequestedTeams, slug)
		}
	}
	it.Updated = s.opts.Now()
	return http.StatusCreated, s.prJSON(c, r, it, false), nil
}

func (s *Sim) listReviews(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	start, end := c.paginate(len(it.PR.Reviews))
	out := []any{}
	for _, rv := range it.PR.Reviews[start:end] {
		out = append(out, s.reviewJSON(c, r, it, rv))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) createReview(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Body     string `json:"body"`
		Event    string `json:"event"`
		CommitID string `json:"commit_id"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	rv, aerr := s.review(r, it, c.who.login, body.Event, body.Body, body.CommitID)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, s.reviewJSON(c, r, it, rv), nil
}

// review records a submitted review (the API and the Approve control share it).
func (s *Sim) review(r *repo, it *item, login, event, body, commitID string) (*review, *apiError) {
	doc := reviewsDocs + "#create-a-review-for-a-pull-request"
	states := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
	state, ok := states[event]
	switch {
	case !ok:
		return nil, validation(doc, map[string]any{"resource": "PullRequestReview", "field": "event", "code": "invalid"})
	case it.State != "open":
		return nil, errorf(http.StatusUnprocessableEntity, doc, "Pull request is closed")
	case strings.EqualFold(login, it.User) && event != "COMMENT":
		verb := "approve"
		if event == "REQUEST_CHANGES" {
			verb = "request changes on"
		}
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", doc: doc,
			errs: []map[string]any{{"message": "Can not " + verb + " your own pull request"}}}
	case event != "APPROVE" && strings.TrimSpace(body) == "":
		return nil, validation(doc, map[string]any{"resource": "PullRequestReview", "field": "body", "code": "missing_field"})
	}
	if commitID == "" {
		commitID = s.headSHA(r, it)
	}
	u := s.users[strings.ToLower(login)]
	if u != nil {
		login = u.Login
	}
	rv := &review{ID: s.nextID(), User: login, State: state, Body: body, CommitID: commitID, Submitted: s.opts.Now()}
	it.PR.Reviews = append(it.PR.Reviews, rv)
	it.PR.Requested = slices.DeleteFunc(it.PR.Requested, func(x string) bool { return strings.EqualFold(x, login) })
	it.Updated = rv.Submitted
	return rv, nil
}

func (s *Sim) listReviewComments(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	start, end := c.paginate(len(it.PR.ReviewComments))
	out := []any{}
	for _, cm := range it.PR.ReviewComments[start:end] {
		out = append(out, s.reviewCommentJSON(c, r, it, cm))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) createReviewComment(c *call) (int, any, error) {
	r, it, err := c.item(true)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Body     string `json:"body"`
		CommitID string `json:"commit_id"`
		Path     string `json:"path"`
		Line     int    `json:"line"`
		Side     string `json:"side"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	doc := revCommentDoc + "#create-a-review-comment-for-a-pull-request"
	missing := func(field string) error {
		return validation(doc, map[string]any{"resource": "PullRequestReviewComment", "field": field, "code": "missing_field"})
	}
	switch {
	case strings.TrimSpace(body.Body) == "":
		return 0, nil, missing("body")
	case body.CommitID == "":
		return 0, nil, missing("commit_id")
	case body.Path == "":
		return 0, nil, missing("path")
	case body.Line <= 0:
		return 0, nil, missing("line")
	}
	if body.Side == "" {
		body.Side = "RIGHT"
	}
	notInDiff := validation(doc, map[string]any{"resource": "PullRequestReviewComment", "code": "custom",
		"field": "pull_request_review_thread.line", "message": "pull_request_review_thread.line must be part of the diff"})
	var change *fileChange
	for _, f := range s.prChanges(r, it) {
		if f.Path == body.Path {
			change = &f
			break
		}
	}
	if change == nil {
		return 0, nil, validation(doc, map[string]any{"resource": "PullRequestReviewComment", "code": "custom",
			"field": "pull_request_review_thread.path", "message": "pull_request_review_thread.path must be part of the diff"})
	}
	blob := change.NewBlob
	if body.Side == "LEFT" {
		blob = change.OldBlob
	}
	if body.Side != "LEFT" && body.Side != "RIGHT" {
		return 0, nil, validation(doc, map[string]any{"resource": "PullRequestReviewComment", "field": "side", "code": "invalid"})
	}
	if body.Line > len(splitLines(s.git.blobs[blob])) {
		return 0, nil, notInDiff
	}
	if s.git.commits[body.CommitID] == nil || !s.reachable(r, body.CommitID) {
		return 0, nil, validation(doc, map[string]any{"resource": "PullRequestReviewComment", "field": "commit_id", "code": "invalid"})
	}
	cm := &comment{ID: s.nextID(), User: c.who.login, Body: body.Body, Created: s.opts.Now(), Path: body.Path,
		Line: body.Line, Side: body.Side, CommitID: body.CommitID}
	it.PR.ReviewComments = append(it.PR.ReviewComments, cm)
	it.Updated = cm.Created
	return http.StatusCreated, s.reviewCommentJSON(c, r, it, cm), nil
}
