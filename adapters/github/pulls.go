package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	gh "github.com/google/go-github/v75/github"
)

// PullSummary is a pull request in a list.
type PullSummary struct {
	Number    int    `json:"number"`
	Title     string `json:"title"`
	State     string `json:"state"`
	Draft     bool   `json:"draft,omitempty"`
	Merged    bool   `json:"merged,omitempty"`
	Author    string `json:"author"`
	Head      string `json:"head"`
	Base      string `json:"base"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	URL       string `json:"html_url"`
}

func summaryOf(p *gh.PullRequest) PullSummary {
	return PullSummary{Number: p.GetNumber(), Title: p.GetTitle(), State: p.GetState(), Draft: p.GetDraft(),
		Merged: p.GetMerged() || !p.GetMergedAt().IsZero(), Author: p.GetUser().GetLogin(), Head: p.GetHead().GetRef(),
		Base: p.GetBase().GetRef(), CreatedAt: stamp(p.GetCreatedAt()), UpdatedAt: stamp(p.GetUpdatedAt()), URL: p.GetHTMLURL()}
}

// PullList is a page of pull requests.
type PullList struct {
	Repository   string        `json:"repository"`
	PullRequests []PullSummary `json:"pull_requests"`
	NextPage     int           `json:"next_page,omitempty"`
}

// PullFilter narrows ListPulls.
type PullFilter struct {
	State string // open (default), closed, all
	Base  string
	Head  string // a branch of the repository
}

// ListPulls lists pull requests, newest first.
func (c *Client) ListPulls(ctx context.Context, r Repo, f PullFilter, lo gh.ListOptions) (PullList, error) {
	switch f.State {
	case "":
		f.State = "open"
	case "open", "closed", "all":
	default:
		return PullList{}, fmt.Errorf("state must be open, closed or all, got %q", f.State)
	}
	opts := &gh.PullRequestListOptions{State: f.State, Base: f.Base, ListOptions: lo}
	if f.Head != "" {
		if err := checkBranch(f.Head); err != nil {
			return PullList{}, err
		}
		opts.Head = r.owner + ":" + f.Head
	}
	if f.Base != "" {
		if err := checkBranch(f.Base); err != nil {
			return PullList{}, err
		}
	}
	ps, resp, err := c.gh.PullRequests.List(ctx, r.owner, r.name, opts)
	if err != nil {
		return PullList{}, c.notFoundRepo(r, c.describe(err))
	}
	out := PullList{Repository: r.String(), PullRequests: []PullSummary{}, NextPage: resp.NextPage}
	for _, p := range ps {
		out.PullRequests = append(out.PullRequests, summaryOf(p))
	}
	return out, nil
}

// Reviews summarises a pull request's reviews: each reviewer's latest decision.
type Reviews struct {
	ApprovedBy         []string `json:"approved_by"`
	ChangesRequestedBy []string `json:"changes_requested_by"`
	CommentedBy        []string `json:"commented_by,omitempty"`
	Requested          []string `json:"requested_reviewers"`
	RequestedTeams     []string `json:"requested_teams,omitempty"`
}

// PullRequest is one pull request with its diff summary, checks and reviews.
type PullRequest struct {
	Repository string `json:"repository"`
	Number     int    `json:"number"`
	Title      string `json:"title"`
	State      string `json:"state"`
	Draft      bool   `json:"draft,omitempty"`
	Merged     bool   `json:"merged"`
	// Mergeable is unset while GitHub computes it.
	Mergeable *bool `json:"mergeable,omitempty" jsonschema:"Whether GitHub can merge it; absent while GitHub computes it"`
	// MergeableState: clean, blocked (protection not satisfied), dirty (conflicts),
	// unstable (a check failed), behind, draft or unknown.
	MergeableState string       `json:"mergeable_state" jsonschema:"clean, blocked (branch protection not satisfied: checks or reviews), dirty (conflicts), unstable (a check failed), behind, draft or unknown"`
	Author         string       `json:"author"`
	Head           string       `json:"head"`
	HeadSHA        string       `json:"head_sha" jsonschema:"The head commit: pass it to merge_pull_request as sha to merge only what you reviewed"`
	Base           string       `json:"base"`
	BaseSHA        string       `json:"base_sha"`
	Body           string       `json:"body,omitempty"`
	Commits        int          `json:"commits"`
	Additions      int          `json:"additions"`
	Deletions      int          `json:"deletions"`
	ChangedFiles   int          `json:"changed_files"`
	Files          []FileChange `json:"files"`
	Checks         Checks       `json:"checks"`
	Reviews        Reviews      `json:"reviews"`
	MergeCommit    string       `json:"merge_commit_sha,omitempty"`
	MergedAt       string       `json:"merged_at,omitempty"`
	MergedBy       string       `json:"merged_by,omitempty"`
	Note           string       `json:"note,omitempty"`
	URL            string       `json:"html_url"`
}

// maxPullFiles bounds the files listed for one pull request (GitHub lists up to 3000).
const maxPullFiles = 300

// GetPull reads a pull request with its files (patches when withPatch), checks and reviews.
func (c *Client) GetPull(ctx context.Context, r Repo, number int, withPatch bool) (PullRequest, error) {
	p, err := c.pull(ctx, r, number)
	if err != nil {
		return PullRequest{}, err
	}
	out := PullRequest{Repository: r.String(), Number: p.GetNumber(), Title: p.GetTitle(), State: p.GetState(),
		Draft: p.GetDraft(), Merged: p.GetMerged(), Mergeable: p.Mergeable, MergeableState: p.GetMergeableState(),
		Author: p.GetUser().GetLogin(), Head: p.GetHead().GetRef(), HeadSHA: p.GetHead().GetSHA(), Base: p.GetBase().GetRef(),
		BaseSHA: p.GetBase().GetSHA(), Body: clip(p.GetBody(), maxBody), Commits: p.GetCommits(), Additions: p.GetAdditions(),
		Deletions: p.GetDeletions(), ChangedFiles: p.GetChangedFiles(), MergeCommit: p.GetMergeCommitSHA(),
		MergedAt: stamp(p.GetMergedAt()), MergedBy: p.GetMergedBy().GetLogin(), URL: p.GetHTMLURL()}
	if !out.Merged {
		out.MergeCommit = "" // GitHub fills it with a test merge for open pull requests
	}
	if p.Mergeable == nil && p.GetState() == "open" {
		out.Note = "GitHub is still computing whether this pull request can be merged; ask again in a few seconds"
	}
	var files []*gh.CommitFile
	for pageNo := 1; len(files) < maxPullFiles; pageNo++ {
		fs, resp, err := c.gh.PullRequests.ListFiles(ctx, r.owner, r.name, number, &gh.ListOptions{Page: pageNo, PerPage: 100})
		if err != nil {
			return PullRequest{}, c.describe(err)
		}
		files = append(files, fs...)
		if resp.NextPage == 0 {
			break
		}
	}
	out.Files = fileChanges(files, withPatch)
	if out.ChangedFiles > len(out.Files) {
		out.Note = strings.TrimPrefix(out.Note+fmt.Sprintf("; %d of %d files are listed", len(out.Files), out.ChangedFiles), "; ")
	}
	out.Checks = c.checks(ctx, r, out.HeadSHA)
	out.Reviews, err = c.reviews(ctx, r, p)
	if err != nil {
		return PullRequest{}, err
	}
	return out, nil
}

func (c *Client) pull(ctx context.Context, r Repo, number int) (*gh.PullRequest, error) {
	if number <= 0 {
		return nil, fmt.Errorf("number must be 1 or more, got %d", number)
	}
	p, _, err := c.gh.PullRequests.Get(ctx, r.owner, r.name, number)
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			return nil, fmt.Errorf("%s has no pull request #%d (or the adapter cannot see the repository): %w", r, number, err)
		}
		return nil, err
	}
	return p, nil
}

func (c *Client) reviews(ctx context.Context, r Repo, p *gh.PullRequest) (Reviews, error) {
	out := Reviews{ApprovedBy: []string{}, ChangesRequestedBy: []string{}, Requested: []string{}}
	for _, u := range p.RequestedReviewers {
		out.Requested = append(out.Requested, u.GetLogin())
	}
	for _, t := range p.RequestedTeams {
		out.RequestedTeams = append(out.RequestedTeams, t.GetSlug())
	}
	rs, _, err := c.gh.PullRequests.ListReviews(ctx, r.owner, r.name, p.GetNumber(), &gh.ListOptions{PerPage: 100})
	if err != nil {
		return Reviews{}, c.describe(err)
	}
	latest := map[string]string{}
	for _, rv := range rs {
		login := rv.GetUser().GetLogin()
		switch st := rv.GetState(); st {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			latest[login] = st
		case "COMMENTED":
			if _, ok := latest[login]; !ok {
				latest[login] = st
			}
		}
	}
	logins := make([]string, 0, len(latest))
	for l := range latest {
		logins = append(logins, l)
	}
	sort.Strings(logins)
	for _, l := range logins {
		switch latest[l] {
		case "APPROVED":
			out.ApprovedBy = append(out.ApprovedBy, l)
		case "CHANGES_REQUESTED":
			out.ChangesRequestedBy = append(out.ChangesRequestedBy, l)
		case "COMMENTED":
			out.CommentedBy = append(out.CommentedBy, l)
		}
	}
	return out, nil
}

// NewPull is what create_pull_request opens.
type NewPull struct {
	Title, Head, Base, Body string
	Draft                   bool
}

// CreatePull opens a pull request from a branch of the repository.
func (c *Client) CreatePull(ctx context.Context, r Repo, np NewPull) (PullSummary, error) {
	if strings.TrimSpace(np.Title) == "" {
		return PullSummary{}, errors.New("title must say what the pull request changes")
	}
	if err := checkBranch(np.Head); err != nil {
		return PullSummary{}, fmt.Errorf("head: %w", err)
	}
	if np.Base == "" {
		def, err := c.defaultBranch(ctx, r)
		if err != nil {
			return PullSummary{}, err
		}
		np.Base = def
	}
	if err := checkBranch(np.Base); err != nil {
		return PullSummary{}, fmt.Errorf("base: %w", err)
	}
	req := &gh.NewPullRequest{Title: gh.Ptr(np.Title), Head: gh.Ptr(np.Head), Base: gh.Ptr(np.Base), Draft: gh.Ptr(np.Draft)}
	if np.Body != "" {
		req.Body = gh.Ptr(np.Body)
	}
	p, _, err := c.gh.PullRequests.Create(ctx, r.owner, r.name, req)
	if err != nil {
		err = c.describe(err)
		switch {
		case statusOf(err) == http.StatusUnprocessableEntity:
			return PullSummary{}, fmt.Errorf("GitHub refused to open a pull request from %s into %s (the branches must exist, "+
				"differ, and have no open pull request between them): %w", np.Head, np.Base, err)
		case outcomeUnknown(err):
			return PullSummary{}, fmt.Errorf("%w; the pull request may or may not have been opened: list_pull_requests with "+
				"head %s shows whether it was", err, np.Head)
		}
		return PullSummary{}, c.notFoundRepo(r, err)
	}
	return summaryOf(p), nil
}

// ReviewRequest is the outcome of request_pull_request_review.
type ReviewRequest struct {
	Repository     string   `json:"repository"`
	Number         int      `json:"number"`
	Requested      []string `json:"requested_reviewers"`
	RequestedTeams []string `json:"requested_teams,omitempty"`
	URL            string   `json:"html_url"`
}

// RequestReview asks users and teams to review a pull request.
func (c *Client) RequestReview(ctx context.Context, r Repo, number int, users, teams []string) (ReviewRequest, error) {
	if number <= 0 {
		return ReviewRequest{}, fmt.Errorf("number must be 1 or more, got %d", number)
	}
	if len(users)+len(teams) == 0 {
		return ReviewRequest{}, errors.New("name at least one reviewer (a user login) or team (its slug)")
	}
	for _, u := range append(append([]string{}, users...), teams...) {
		if !ownerName.MatchString(u) {
			return ReviewRequest{}, fmt.Errorf("%q is not a GitHub login or team slug", u)
		}
	}
	p, _, err := c.gh.PullRequests.RequestReviewers(ctx, r.owner, r.name, number, gh.ReviewersRequest{Reviewers: users, TeamReviewers: teams})
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			return ReviewRequest{}, fmt.Errorf("%s has no pull request #%d: %w", r, number, err)
		}
		return ReviewRequest{}, err
	}
	out := ReviewRequest{Repository: r.String(), Number: p.GetNumber(), Requested: []string{}, URL: p.GetHTMLURL()}
	for _, u := range p.RequestedReviewers {
		out.Requested = append(out.Requested, u.GetLogin())
	}
	for _, t := range p.RequestedTeams {
		out.RequestedTeams = append(out.RequestedTeams, t.GetSlug())
	}
	return out, nil
}

// ReviewComment is a comment on a line of a pull request's diff.
type ReviewComment struct {
	ID     int64  `json:"id"`
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Side   string `json:"side"`
	Commit string `json:"commit_sha"`
	URL    string `json:"html_url"`
}

// AddReviewComment comments on a line of a file a pull request changes, at its head commit.
func (c *Client) AddReviewComment(ctx context.Context, r Repo, number int, path string, line int, side, body string) (ReviewComment, error) {
	path, err := cleanPath(path)
	if err != nil {
		return ReviewComment{}, err
	}
	switch side {
	case "":
		side = "RIGHT"
	case "RIGHT", "LEFT":
	default:
		return ReviewComment{}, fmt.Errorf("side must be RIGHT (the new version) or LEFT (the old one), got %q", side)
	}
	switch {
	case path == "":
		return ReviewComment{}, errors.New("path (a file the pull request changes) is required")
	case line <= 0:
		return ReviewComment{}, fmt.Errorf("line must be 1 or more, got %d", line)
	case strings.TrimSpace(body) == "":
		return ReviewComment{}, errors.New("body must not be empty")
	}
	p, err := c.pull(ctx, r, number)
	if err != nil {
		return ReviewComment{}, err
	}
	cm, _, err := c.gh.PullRequests.CreateComment(ctx, r.owner, r.name, number, &gh.PullRequestComment{Body: gh.Ptr(body),
		Path: gh.Ptr(path), Line: gh.Ptr(line), Side: gh.Ptr(side), CommitID: gh.Ptr(p.GetHead().GetSHA())})
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusUnprocessableEntity {
			return ReviewComment{}, fmt.Errorf("GitHub refused the comment: line %d of %s must be in the pull request's diff "+
				"(get_pull_request lists the changed files): %w", line, path, err)
		}
		return ReviewComment{}, err
	}
	return ReviewComment{ID: cm.GetID(), Path: cm.GetPath(), Line: cm.GetLine(), Side: cm.GetSide(), Commit: cm.GetCommitID(),
		URL: cm.GetHTMLURL()}, nil
}

// MergeResult is the outcome of merge_pull_request.
type MergeResult struct {
	Repository string `json:"repository"`
	Number     int    `json:"number"`
	Merged     bool   `json:"merged"`
	Method     string `json:"method"`
	SHA        string `json:"sha" jsonschema:"The merge commit (or the squash commit, or the last rebased commit) on the base branch"`
	Message    string `json:"message"`
	Note       string `json:"note,omitempty"`
}

// Merge merges a pull request with a method (merge, squash, rebase), optionally only if its
// head is still sha. GitHub's refusal is explained with the pull request's state: why it is
// not mergeable, which checks fail, which reviews are missing.
func (c *Client) Merge(ctx context.Context, r Repo, number int, method, sha, commitTitle, commitMessage string) (MergeResult, error) {
	if number <= 0 {
		return MergeResult{}, fmt.Errorf("number must be 1 or more, got %d", number)
	}
	switch method {
	case "":
		method = "merge"
	case "merge", "squash", "rebase":
	default:
		return MergeResult{}, fmt.Errorf("method must be merge, squash or rebase, got %q", method)
	}
	if sha != "" && !shaLike.MatchString(sha) {
		return MergeResult{}, fmt.Errorf("sha %q is not a commit sha", sha)
	}
	res, _, err := c.gh.PullRequests.Merge(ctx, r.owner, r.name, number, commitMessage, &gh.PullRequestOptions{
		CommitTitle: commitTitle, SHA: sha, MergeMethod: method})
	if err == nil {
		return MergeResult{Repository: r.String(), Number: number, Merged: res.GetMerged(), Method: method, SHA: res.GetSHA(),
			Message: res.GetMessage()}, nil
	}
	err = c.describe(err)
	switch status := statusOf(err); {
	case outcomeUnknown(err):
		// Did it merge? A merge is not sent twice; reading the pull request tells.
		if p, perr := c.pull(ctx, r, number); perr == nil && p.GetMerged() {
			return MergeResult{Repository: r.String(), Number: number, Merged: true, Method: method, SHA: p.GetMergeCommitSHA(),
				Message: "merged", Note: "GitHub's answer was lost, but the pull request is merged"}, nil
		}
		return MergeResult{}, fmt.Errorf("%w; the adapter could not confirm a merge and did not try again: get_pull_request "+
			"shows whether pull request #%d is merged", err, number)
	case status == http.StatusConflict:
		p, perr := c.pull(ctx, r, number)
		if perr != nil {
			return MergeResult{}, err
		}
		return MergeResult{}, fmt.Errorf("pull request #%d of %s was not merged: its head moved from %s to %s; review the new "+
			"commits and merge again with sha %s: %w", number, r, sha, p.GetHead().GetSHA(), p.GetHead().GetSHA(), err)
	case status == http.StatusMethodNotAllowed || status == http.StatusUnprocessableEntity:
		return MergeResult{}, c.notMergeable(ctx, r, number, err)
	}
	return MergeResult{}, err
}

// notMergeable explains a refused merge from the pull request's current state.
func (c *Client) notMergeable(ctx context.Context, r Repo, number int, err error) error {
	var ge *Error
	said := ""
	if errors.As(err, &ge) {
		said = strings.TrimSuffix(oneLine(ge.Message), ".")
	}
	pr, perr := c.GetPull(ctx, r, number, false)
	if perr != nil {
		return fmt.Errorf("GitHub refused to merge pull request #%d of %s: %w", number, r, err)
	}
	var why []string
	switch {
	case pr.Merged:
		return fmt.Errorf("pull request #%d of %s is already merged (merge commit %s)", number, r, pr.MergeCommit)
	case pr.State != "open":
		return fmt.Errorf("pull request #%d of %s is closed; reopen it before merging: %w", number, r, err)
	case pr.Draft:
		why = append(why, "it is a draft")
	case pr.MergeableState == "dirty":
		why = append(why, fmt.Sprintf("it conflicts with %s: update %s first", pr.Base, pr.Head))
	case pr.MergeableState == "behind":
		why = append(why, fmt.Sprintf("%s is behind %s, which must be merged in first", pr.Head, pr.Base))
	}
	var failing, pending []string
	for _, ch := range pr.Checks.Runs {
		switch ch.Result {
		case "failed":
			failing = append(failing, fmt.Sprintf("%s (%s)", ch.Name, strings.TrimSuffix(ch.Detail+": "+ch.Summary, ": ")))
		case "pending":
			pending = append(pending, ch.Name)
		}
	}
	if len(failing) > 0 {
		why = append(why, "failing checks: "+strings.Join(failing, ", "))
	}
	if len(pending) > 0 {
		why = append(why, "checks still running: "+strings.Join(pending, ", "))
	}
	if len(pr.Reviews.ChangesRequestedBy) > 0 {
		why = append(why, "changes requested by "+strings.Join(pr.Reviews.ChangesRequestedBy, ", "))
	}
	approvals := "no approving review"
	if n := len(pr.Reviews.ApprovedBy); n > 0 {
		approvals = fmt.Sprintf("approved by %s", strings.Join(pr.Reviews.ApprovedBy, ", "))
	}
	why = append(why, approvals)
	msg := fmt.Sprintf("GitHub refused to merge pull request #%d of %s into %s", number, r, pr.Base)
	if said != "" {
		msg += ": " + said
	}
	return fmt.Errorf("%s. Mergeable state: %s; head %s; %s", msg, pr.MergeableState, short(pr.HeadSHA), strings.Join(why, "; "))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
