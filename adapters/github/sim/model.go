package sim

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type user struct {
	ID    int64
	Login string
	Name  string
	Email string
	Type  string // User, Bot
}

type org struct {
	ID    int64
	Login string
	Teams map[string][]string // team slug -> member logins
}

// protection is a branch's protection rules.
type protection struct {
	Contexts  []string // required status checks
	Approvals int      // required approving reviews
	RequirePR bool     // direct commits refused
}

type repo struct {
	ID            int64
	Owner, Name   string
	Private       bool
	Description   string
	DefaultBranch string
	Created       time.Time
	Pushed        time.Time
	Branches      map[string]string // name -> commit sha
	Protection    map[string]*protection
	Collaborators []string // logins with write access
	Labels        []string
	Items         []*item // issues and pull requests; Items[n-1] is number n
	CheckRuns     map[string][]*checkRun
	Statuses      map[string][]*status
}

func (r *repo) fullName() string { return r.Owner + "/" + r.Name }

func (r *repo) isCollaborator(login string) bool {
	return login == BotLogin || slices.ContainsFunc(r.Collaborators, func(c string) bool { return strings.EqualFold(c, login) })
}

// item is an issue or, with PR set, a pull request.
type item struct {
	ID          int64
	Number      int
	Title, Body string
	State       string // open, closed
	StateReason string
	User        string
	Labels      []string
	Assignees   []string
	Created     time.Time
	Updated     time.Time
	Closed      time.Time
	ClosedBy    string
	Comments    []*comment
	PR          *pull
}

type pull struct {
	Head, Base     string // branch names
	HeadSHA        string // the head when it was last seen (frozen once closed)
	BaseSHA        string
	Draft          bool
	Merged         bool
	MergedAt       time.Time
	MergedBy       string
	MergeCommit    string
	Requested      []string
	RequestedTeams []string
	Reviews        []*review
	ReviewComments []*comment
}

type comment struct {
	ID       int64
	User     string
	Body     string
	Created  time.Time
	Path     string // review comments
	Line     int
	Side     string
	CommitID string
}

type review struct {
	ID        int64
	User      string
	State     string // APPROVED, CHANGES_REQUESTED, COMMENTED
	Body      string
	CommitID  string
	Submitted time.Time
}

type checkRun struct {
	ID                  int64
	Name                string
	HeadSHA             string
	Status, Conclusion  string
	Started, Completed  time.Time
	Title, Summary, URL string
}

type status struct {
	ID                              int64
	Context, State                  string
	Description, TargetURL, Creator string
	Created                         time.Time
}

// ts formats a time as GitHub does.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// ---- lookups ----------------------------------------------------------------------------------

// repoOf finds the request's repository, or 404 when it does not exist or the caller
// cannot see it.
func (c *call) repoOf() (*repo, error) {
	r := c.s.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))]
	if r == nil || !c.who.canSee(r) {
		return nil, notFound(docsBase + "/repos/repos#get-a-repository")
	}
	return r, nil
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// resolve finds the commit a ref names in r: a branch, a full sha or a unique prefix.
func (s *Sim) resolve(r *repo, ref string) *commit {
	if ref == "" {
		ref = r.DefaultBranch
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	if sha, ok := r.Branches[ref]; ok {
		return s.git.commits[sha]
	}
	if !hexSHA.MatchString(ref) {
		return nil
	}
	if c := s.git.commits[ref]; c != nil && s.reachable(r, c.SHA) {
		return c
	}
	var found *commit
	for sha, c := range s.git.commits {
		if strings.HasPrefix(sha, ref) && s.reachable(r, sha) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

// reachable reports whether a commit belongs to the repository (is reachable from one of
// its branches or pull requests).
func (s *Sim) reachable(r *repo, sha string) bool {
	var tips []string
	for _, b := range r.Branches {
		tips = append(tips, b)
	}
	for _, it := range r.Items {
		if it.PR != nil {
			tips = append(tips, it.PR.HeadSHA, it.PR.MergeCommit)
		}
	}
	for _, t := range tips {
		if t != "" && slices.Contains(s.git.ancestors(t), sha) {
			return true
		}
	}
	return false
}

// item finds the repository of the call and the issue or pull request its {number}
// parameter names (wantPR: only a pull request).
func (c *call) item(wantPR bool) (*repo, *item, error) {
	r, err := c.repoOf()
	if err != nil {
		return nil, nil, err
	}
	n, err := strconv.Atoi(c.param("number"))
	if err != nil || n < 1 || n > len(r.Items) || (wantPR && r.Items[n-1].PR == nil) {
		return nil, nil, notFound(docsBase)
	}
	return r, r.Items[n-1], nil
}

// ---- pagination -------------------------------------------------------------------------------

// paginate returns the bounds of the requested page of n items and sets the Link header
// (first, prev, next, last) with absolute URLs, as GitHub does.
func (c *call) paginate(n int) (int, int) {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max((n+per-1)/per, 1)
	link := func(p int, rel string) string {
		v := c.r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u := url.URL{Path: c.s.opts.PathPrefix + c.r.URL.Path, RawQuery: v.Encode()}
		return fmt.Sprintf(`<%s%s>; rel="%s"`, strings.TrimSuffix(c.api, c.s.opts.PathPrefix), u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		c.header.Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*per, n)
	return start, min(start+per, n)
}

// ---- JSON ---------------------------------------------------------------------------------------

func (s *Sim) userJSON(c *call, login string) any {
	if login == "" {
		return nil
	}
	if o := s.orgs[strings.ToLower(login)]; o != nil {
		return map[string]any{"login": o.Login, "id": o.ID, "node_id": nodeID("O", o.ID), "type": "Organization",
			"url": c.api + "/orgs/" + o.Login, "html_url": c.html + "/" + o.Login, "site_admin": false}
	}
	u := s.users[strings.ToLower(login)]
	if u == nil {
		return map[string]any{"login": login, "type": "User"}
	}
	return map[string]any{"login": u.Login, "id": u.ID, "node_id": nodeID("U", u.ID), "type": u.Type,
		"url": c.api + "/users/" + url.PathEscape(u.Login), "html_url": c.html + "/" + url.PathEscape(u.Login), "site_admin": false}
}

func (s *Sim) usersJSON(c *call, logins []string) []any {
	out := []any{}
	for _, l := range logins {
		out = append(out, s.userJSON(c, l))
	}
	return out
}

func nodeID(kind string, id int64) string { return fmt.Sprintf("%s_sim%d", kind, id) }

func (s *Sim) repoJSON(c *call, r *repo) map[string]any {
	base := c.api + "/repos/" + r.fullName()
	push := r.isCollaborator(c.who.login)
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return map[string]any{"id": r.ID, "node_id": nodeID("R", r.ID), "name": r.Name, "full_name": r.fullName(),
		"private": r.Private, "visibility": visibility, "owner": s.userJSON(c, r.Owner), "description": r.Description,
		"fork": false, "url": base, "html_url": c.html + "/" + r.fullName(), "default_branch": r.DefaultBranch,
		"created_at": ts(r.Created), "updated_at": ts(r.Pushed), "pushed_at": ts(r.Pushed), "archived": false,
		"disabled": false, "has_issues": true, "allow_merge_commit": true, "allow_squash_merge": true,
		"allow_rebase_merge": true, "delete_branch_on_merge": false,
		"permissions": map[string]bool{"admin": false, "maintain": false, "push": push, "triage": push, "pull": true}}
}

func personJSON(p person) map[string]any {
	return map[string]any{"name": p.Name, "email": p.Email, "date": ts(p.Date)}
}

func (s *Sim) commitJSON(c *call, r *repo, cm *commit, full bool) map[string]any {
	base := c.api + "/repos/" + r.fullName()
	parents := []any{}
	for _, p := range cm.Parents {
		parents = append(parents, map[string]any{"sha": p, "url": base + "/commits/" + p,
			"html_url": c.html + "/" + r.fullName() + "/commit/" + p})
	}
	out := map[string]any{
		"sha": cm.SHA, "node_id": "C_" + cm.SHA[:12], "url": base + "/commits/" + cm.SHA,
		"html_url": c.html + "/" + r.fullName() + "/commit/" + cm.SHA, "comments_url": base + "/commits/" + cm.SHA + "/comments",
		"commit": map[string]any{"author": personJSON(cm.Author), "committer": personJSON(cm.Committer),
			"message": strings.TrimSuffix(cm.Message, "\n"), "tree": map[string]any{"sha": cm.Tree, "url": base + "/git/trees/" + cm.Tree},
			"url": base + "/git/commits/" + cm.SHA, "comment_count": 0,
			"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil}},
		"author": s.userJSON(c, cm.Author.Login), "committer": s.userJSON(c, cm.Committer.Login), "parents": parents,
	}
	if full {
		var from map[string]string
		if len(cm.Parents) > 0 {
			from = s.git.commits[cm.Parents[0]].Files
		}
		changes := s.git.diffFiles(from, cm.Files)
		adds, dels := 0, 0
		for _, f := range changes {
			adds += f.Additions
			dels += f.Deletes
		}
		out["stats"] = map[string]int{"total": adds + dels, "additions": adds, "deletions": dels}
		out["files"] = s.filesJSON(c, r, cm.SHA, changes)
	}
	return out
}

func (s *Sim) filesJSON(c *call, r *repo, ref string, changes []fileChange) []any {
	out := []any{}
	for _, f := range changes {
		sha := f.NewBlob
		if sha == "" {
			sha = f.OldBlob
		}
		m := map[string]any{"sha": sha, "filename": f.Path, "status": f.Status, "additions": f.Additions,
			"deletions": f.Deletes, "changes": f.Additions + f.Deletes,
			"blob_url":     c.html + "/" + r.fullName() + "/blob/" + ref + "/" + escapePath(f.Path),
			"raw_url":      c.html + "/" + r.fullName() + "/raw/" + ref + "/" + escapePath(f.Path),
			"contents_url": c.api + "/repos/" + r.fullName() + "/contents/" + escapePath(f.Path) + "?ref=" + ref}
		if f.Patch != "" {
			m["patch"] = f.Patch
		}
		out = append(out, m)
	}
	return out
}

// escapePath escapes each segment of a repository path for a URL.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func (s *Sim) labelsJSON(r *repo, names []string) []any {
	out := []any{}
	for _, n := range names {
		id := int64(0)
		for i, l := range r.Labels {
			if strings.EqualFold(l, n) {
				id = r.ID*1000 + int64(i) + 1
			}
		}
		out = append(out, map[string]any{"id": id, "node_id": nodeID("LA", id), "name": n, "color": "ededed",
			"description": nil, "default": false})
	}
	return out
}

func (s *Sim) issueJSON(c *call, r *repo, it *item) map[string]any {
	base := c.api + "/repos/" + r.fullName()
	kind := "issues"
	if it.PR != nil {
		kind = "pull"
	}
	n := strconv.Itoa(it.Number)
	var assignee any
	if len(it.Assignees) > 0 {
		assignee = s.userJSON(c, it.Assignees[0])
	}
	out := map[string]any{
		"id": it.ID, "node_id": nodeID("I", it.ID), "url": base + "/issues/" + n, "repository_url": base,
		"comments_url": base + "/issues/" + n + "/comments", "html_url": c.html + "/" + r.fullName() + "/" + kind + "/" + n,
		"number": it.Number, "state": it.State, "state_reason": nilIfEmpty(it.StateReason), "title": it.Title,
		"body": nilIfEmpty(it.Body), "user": s.userJSON(c, it.User), "labels": s.labelsJSON(r, it.Labels),
		"assignee": assignee, "assignees": s.usersJSON(c, it.Assignees), "milestone": nil, "locked": false,
		"comments": len(it.Comments), "created_at": ts(it.Created), "updated_at": ts(it.Updated),
		"closed_at": tsOrNil(it.Closed), "author_association": s.association(r, it.User),
	}
	if it.ClosedBy != "" {
		out["closed_by"] = s.userJSON(c, it.ClosedBy)
	}
	if it.PR != nil {
		out["pull_request"] = map[string]any{"url": base + "/pulls/" + n, "html_url": c.html + "/" + r.fullName() + "/pull/" + n,
			"diff_url": c.html + "/" + r.fullName() + "/pull/" + n + ".diff", "patch_url": c.html + "/" + r.fullName() + "/pull/" + n + ".patch",
			"merged_at": tsOrNil(it.PR.MergedAt)}
		out["draft"] = it.PR.Draft
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Sim) association(r *repo, login string) string {
	switch {
	case strings.EqualFold(login, r.Owner):
		return "OWNER"
	case r.isCollaborator(login):
		return "MEMBER"
	}
	return "NONE"
}

func (s *Sim) commentJSON(c *call, r *repo, it *item, cm *comment) map[string]any {
	base := c.api + "/repos/" + r.fullName()
	kind := "issues"
	if it.PR != nil {
		kind = "pull"
	}
	return map[string]any{"id": cm.ID, "node_id": nodeID("IC", cm.ID), "url": fmt.Sprintf("%s/issues/comments/%d", base, cm.ID),
		"html_url":  fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", c.html, r.fullName(), kind, it.Number, cm.ID),
		"issue_url": fmt.Sprintf("%s/issues/%d", base, it.Number), "body": cm.Body, "user": s.userJSON(c, cm.User),
		"created_at": ts(cm.Created), "updated_at": ts(cm.Created), "author_association": s.association(r, cm.User)}
}

// checkSummary is the state of a commit's checks for branch protection and mergeable_state.
type checkSummary struct {
	passed, failed map[string]bool // by check name or status context
}

func (s *Sim) checks(r *repo, sha string) checkSummary {
	cs := checkSummary{passed: map[string]bool{}, failed: map[string]bool{}}
	latestRun := map[string]*checkRun{}
	for _, run := range r.CheckRuns[sha] {
		latestRun[run.Name] = run
	}
	for name, run := range latestRun {
		if run.Status != "completed" {
			continue
		}
		switch run.Conclusion {
		case "success", "neutral", "skipped":
			cs.passed[name] = true
		default:
			cs.failed[name] = true
		}
	}
	for ctx, st := range latestStatuses(r.Statuses[sha]) {
		switch st.State {
		case "success":
			cs.passed[ctx] = true
		case "failure", "error":
			cs.failed[ctx] = true
		}
	}
	return cs
}

// latestStatuses is the most recent status per context.
func latestStatuses(all []*status) map[string]*status {
	out := map[string]*status{}
	for _, st := range all {
		out[st.Context] = st
	}
	return out
}

// unmet lists the protection rules a pull request does not satisfy, in GitHub's words.
func (s *Sim) unmet(r *repo, it *item) []string {
	p := r.Protection[it.PR.Base]
	if p == nil {
		return nil
	}
	var out []string
	cs := s.checks(r, s.headSHA(r, it))
	for _, ctx := range p.Contexts {
		switch {
		case cs.passed[ctx]:
		case cs.failed[ctx]:
			out = append(out, fmt.Sprintf("Required status check %q is failing.", ctx))
		default:
			out = append(out, fmt.Sprintf("Required status check %q is expected.", ctx))
		}
	}
	if p.Approvals > 0 {
		if n := approvals(it.PR); n < p.Approvals {
			noun := "review is"
			if p.Approvals > 1 {
				noun = "reviews are"
			}
			out = append(out, fmt.Sprintf("At least %d approving %s required by reviewers with write access.", p.Approvals, noun))
		}
	}
	return out
}

// approvals counts reviewers whose latest deciding review approves.
func approvals(p *pull) int {
	latest := map[string]string{}
	for _, rv := range p.Reviews {
		if rv.State == "APPROVED" || rv.State == "CHANGES_REQUESTED" {
			latest[strings.ToLower(rv.User)] = rv.State
		}
	}
	n := 0
	for _, st := range latest {
		if st == "APPROVED" {
			n++
		}
	}
	return n
}

// headSHA is a pull request's head commit: the branch's tip while it is open and the branch
// exists, else the head it had when last seen.
func (s *Sim) headSHA(r *repo, it *item) string {
	if it.State == "open" {
		if sha, ok := r.Branches[it.PR.Head]; ok {
			it.PR.HeadSHA = sha
		}
	}
	return it.PR.HeadSHA
}

func (s *Sim) baseSHA(r *repo, it *item) string {
	if it.State == "open" {
		if sha, ok := r.Branches[it.PR.Base]; ok {
			it.PR.BaseSHA = sha
		}
	}
	return it.PR.BaseSHA
}

// mergeState computes mergeable and mergeable_state, and the merged tree when clean.
func (s *Sim) mergeState(r *repo, it *item) (bool, string, map[string]string) {
	if it.State != "open" {
		return false, "unknown", nil
	}
	head, base := s.headSHA(r, it), s.baseSHA(r, it)
	hc, bc := s.git.commits[head], s.git.commits[base]
	if hc == nil || bc == nil {
		return false, "unknown", nil
	}
	mb := s.git.commits[s.git.mergeBase(head, base)]
	var mbFiles map[string]string
	if mb != nil {
		mbFiles = mb.Files
	}
	merged, conflicts := threeWay(mbFiles, bc.Files, hc.Files)
	switch {
	case len(conflicts) > 0:
		return false, "dirty", nil
	case it.PR.Draft:
		return true, "draft", merged
	case len(s.unmet(r, it)) > 0:
		return true, "blocked", merged
	case len(s.checks(r, head).failed) > 0:
		return true, "unstable", merged
	}
	return true, "clean", merged
}

func (s *Sim) branchJSON(c *call, r *repo, name string) map[string]any {
	sha := r.Branches[name]
	base := c.api + "/repos/" + r.fullName()
	return map[string]any{"name": name, "commit": map[string]any{"sha": sha, "url": base + "/commits/" + sha},
		"protected": r.Protection[name] != nil}
}

func (s *Sim) prJSON(c *call, r *repo, it *item, full bool) map[string]any {
	p := it.PR
	base := c.api + "/repos/" + r.fullName()
	n := strconv.Itoa(it.Number)
	side := func(branch, sha string) map[string]any {
		return map[string]any{"label": r.Owner + ":" + branch, "ref": branch, "sha": sha, "user": s.userJSON(c, r.Owner),
			"repo": s.repoJSON(c, r)}
	}
	state := it.State
	out := map[string]any{
		"url": base + "/pulls/" + n, "id": it.ID, "node_id": nodeID("PR", it.ID),
		"html_url": c.html + "/" + r.fullName() + "/pull/" + n, "diff_url": c.html + "/" + r.fullName() + "/pull/" + n + ".diff",
		"patch_url": c.html + "/" + r.fullName() + "/pull/" + n + ".patch", "issue_url": base + "/issues/" + n,
		"commits_url": base + "/pulls/" + n + "/commits", "review_comments_url": base + "/pulls/" + n + "/comments",
		"comments_url": base + "/issues/" + n + "/comments", "statuses_url": base + "/statuses/" + s.headSHA(r, it),
		"number": it.Number, "state": state, "locked": false, "title": it.Title, "user": s.userJSON(c, it.User),
		"body": nilIfEmpty(it.Body), "labels": s.labelsJSON(r, it.Labels), "milestone": nil, "created_at": ts(it.Created),
		"updated_at": ts(it.Updated), "closed_at": tsOrNil(it.Closed), "merged_at": tsOrNil(p.MergedAt),
		"merge_commit_sha": nilIfEmpty(p.MergeCommit), "assignee": nil, "assignees": s.usersJSON(c, it.Assignees),
		"requested_reviewers": s.usersJSON(c, p.Requested), "requested_teams": s.teamsJSON(c, r, p.RequestedTeams),
		"head": side(p.Head, s.headSHA(r, it)), "base": side(p.Base, s.baseSHA(r, it)), "draft": p.Draft,
		"author_association": s.association(r, it.User), "auto_merge": nil,
	}
	if full {
		mergeable, mstate, _ := s.mergeState(r, it)
		var mergeableJSON any = mergeable
		if it.State != "open" {
			mergeableJSON = nil
		}
		commits := s.git.commitsBetween(s.git.mergeBase(s.headSHA(r, it), s.baseSHA(r, it)), s.headSHA(r, it))
		adds, dels, files := 0, 0, 0
		for _, f := range s.prChanges(r, it) {
			adds += f.Additions
			dels += f.Deletes
			files++
		}
		out["merged"] = p.Merged
		out["mergeable"] = mergeableJSON
		out["rebaseable"] = mergeableJSON
		out["mergeable_state"] = mstate
		out["merged_by"] = s.userJSON(c, p.MergedBy)
		out["comments"] = len(it.Comments)
		out["review_comments"] = len(p.ReviewComments)
		out["maintainer_can_modify"] = false
		out["commits"] = len(commits)
		out["additions"] = adds
		out["deletions"] = dels
		out["changed_files"] = files
	}
	return out
}

// prChanges is a pull request's diff: its head against the merge base with its base.
func (s *Sim) prChanges(r *repo, it *item) []fileChange {
	head := s.headSHA(r, it)
	var baseFiles map[string]string
	if it.PR.Merged && len(s.git.commits[it.PR.MergeCommit].Parents) > 0 {
		// Once merged, the diff is what the merge brought in.
		baseFiles = s.git.commits[s.git.commits[it.PR.MergeCommit].Parents[0]].Files
		return s.git.diffFiles(baseFiles, s.git.commits[it.PR.MergeCommit].Files)
	}
	if mb := s.git.commits[s.git.mergeBase(head, s.baseSHA(r, it))]; mb != nil {
		baseFiles = mb.Files
	}
	hc := s.git.commits[head]
	if hc == nil {
		return nil
	}
	return s.git.diffFiles(baseFiles, hc.Files)
}

func (s *Sim) teamsJSON(c *call, r *repo, slugs []string) []any {
	out := []any{}
	for _, slug := range slugs {
		out = append(out, map[string]any{"name": slug, "slug": slug, "url": c.api + "/orgs/" + r.Owner + "/teams/" + slug,
			"html_url": c.html + "/orgs/" + r.Owner + "/teams/" + slug})
	}
	return out
}

func (s *Sim) reviewJSON(c *call, r *repo, it *item, rv *review) map[string]any {
	return map[string]any{"id": rv.ID, "node_id": nodeID("PRR", rv.ID), "user": s.userJSON(c, rv.User), "body": rv.Body,
		"state": rv.State, "commit_id": rv.CommitID, "submitted_at": ts(rv.Submitted),
		"html_url":           fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", c.html, r.fullName(), it.Number, rv.ID),
		"pull_request_url":   fmt.Sprintf("%s/repos/%s/pulls/%d", c.api, r.fullName(), it.Number),
		"author_association": s.association(r, rv.User)}
}

func (s *Sim) reviewCommentJSON(c *call, r *repo, it *item, cm *comment) map[string]any {
	return map[string]any{"id": cm.ID, "node_id": nodeID("PRRC", cm.ID), "body": cm.Body, "user": s.userJSON(c, cm.User),
		"path": cm.Path, "line": cm.Line, "original_line": cm.Line, "side": cm.Side, "commit_id": cm.CommitID,
		"original_commit_id": cm.CommitID, "subject_type": "line", "created_at": ts(cm.Created), "updated_at": ts(cm.Created),
		"url":                fmt.Sprintf("%s/repos/%s/pulls/comments/%d", c.api, r.fullName(), cm.ID),
		"html_url":           fmt.Sprintf("%s/%s/pull/%d#discussion_r%d", c.html, r.fullName(), it.Number, cm.ID),
		"pull_request_url":   fmt.Sprintf("%s/repos/%s/pulls/%d", c.api, r.fullName(), it.Number),
		"author_association": s.association(r, cm.User)}
}

// actor is the person a commit made by the caller is authored by.
func (s *Sim) actor(c *call) person {
	u := s.users[strings.ToLower(c.who.login)]
	if u == nil {
		return person{Name: "ghost", Email: "ghost@users.noreply.github.com", Date: s.opts.Now()}
	}
	email := u.Email
	if u.Type == "Bot" {
		email = fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)
	}
	return person{Name: u.Login, Email: email, Login: u.Login, Date: s.opts.Now().UTC().Truncate(time.Second)}
}

// webFlow is the committer of commits made through the API, as on GitHub.
func (s *Sim) webFlow() person {
	return person{Name: "GitHub", Email: "noreply@github.com", Login: "web-flow", Date: s.opts.Now().UTC().Truncate(time.Second)}
}
