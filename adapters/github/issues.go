package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v75/github"
)

// Issue is an issue (or, with PullRequest set, the issue side of a pull request).
type Issue struct {
	Repository  string    `json:"repository"`
	Number      int       `json:"number"`
	Title       string    `json:"title"`
	State       string    `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	Author      string    `json:"author"`
	Labels      []string  `json:"labels"`
	Assignees   []string  `json:"assignees"`
	Comments    int       `json:"comments"`
	CreatedAt   string    `json:"created_at"`
	UpdatedAt   string    `json:"updated_at"`
	ClosedAt    string    `json:"closed_at,omitempty"`
	Body        string    `json:"body,omitempty"`
	PullRequest bool      `json:"pull_request,omitempty"`
	Recent      []Comment `json:"recent_comments,omitempty"`
	Note        string    `json:"note,omitempty"`
	URL         string    `json:"html_url"`
}

// Comment is a comment on an issue or pull request.
type Comment struct {
	ID        int64  `json:"id"`
	Author    string `json:"author"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
	URL       string `json:"html_url"`
}

// maxBody bounds an issue's, pull request's or comment's text in a result.
const maxBody = 4000

// clip cuts text to max bytes at a rune boundary, saying so.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… [%d more bytes not shown]", len(s)-cut)
}

func stamp(t gh.Timestamp) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func issueOf(r Repo, i *gh.Issue, withBody bool) Issue {
	out := Issue{Repository: r.String(), Number: i.GetNumber(), Title: i.GetTitle(), State: i.GetState(),
		StateReason: i.GetStateReason(), Author: i.GetUser().GetLogin(), Labels: []string{}, Assignees: []string{},
		Comments: i.GetComments(), CreatedAt: stamp(i.GetCreatedAt()), UpdatedAt: stamp(i.GetUpdatedAt()),
		ClosedAt: stamp(i.GetClosedAt()), PullRequest: i.IsPullRequest(), URL: i.GetHTMLURL()}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	for _, a := range i.Assignees {
		out.Assignees = append(out.Assignees, a.GetLogin())
	}
	if withBody {
		out.Body = clip(i.GetBody(), maxBody)
	}
	return out
}

// IssueFilter narrows ListIssues.
type IssueFilter struct {
	State    string // open (default), closed, all
	Labels   []string
	Assignee string
	Creator  string
}

// IssueList is a page of issues.
type IssueList struct {
	Repository string  `json:"repository"`
	Issues     []Issue `json:"issues"`
	NextPage   int     `json:"next_page,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// ListIssues lists issues, newest first. GitHub lists pull requests with issues; they are
// left out (list_pull_requests has them), so a page may hold fewer than per_page.
func (c *Client) ListIssues(ctx context.Context, r Repo, f IssueFilter, lo gh.ListOptions) (IssueList, error) {
	switch f.State {
	case "":
		f.State = "open"
	case "open", "closed", "all":
	default:
		return IssueList{}, fmt.Errorf("state must be open, closed or all, got %q", f.State)
	}
	is, resp, err := c.gh.Issues.ListByRepo(ctx, r.owner, r.name, &gh.IssueListByRepoOptions{State: f.State, Labels: f.Labels,
		Assignee: f.Assignee, Creator: f.Creator, ListOptions: lo})
	if err != nil {
		return IssueList{}, c.notFoundRepo(r, c.describe(err))
	}
	out := IssueList{Repository: r.String(), Issues: []Issue{}, NextPage: resp.NextPage}
	skipped := 0
	for _, i := range is {
		if i.IsPullRequest() {
			skipped++
			continue
		}
		out.Issues = append(out.Issues, issueOf(r, i, false))
	}
	if skipped > 0 {
		out.Note = fmt.Sprintf("%d pull request(s) on this page are left out: list_pull_requests lists them", skipped)
	}
	return out, nil
}

func (c *Client) notFoundRepo(r Repo, err error) error {
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("repository %s was not found (or the adapter cannot see it): %w", r, err)
	}
	return err
}

// GetIssue reads an issue with its body and its latest comments (at most recent).
func (c *Client) GetIssue(ctx context.Context, r Repo, number, recent int) (Issue, error) {
	if number <= 0 {
		return Issue{}, fmt.Errorf("number must be 1 or more, got %d", number)
	}
	i, _, err := c.gh.Issues.Get(ctx, r.owner, r.name, number)
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			return Issue{}, fmt.Errorf("%s has no issue #%d (or the adapter cannot see the repository): %w", r, number, err)
		}
		return Issue{}, err
	}
	out := issueOf(r, i, true)
	if out.PullRequest {
		out.Note = "this is a pull request: get_pull_request has its files, checks and reviews"
	}
	if recent > 0 && i.GetComments() > 0 {
		cs, err := c.lastComments(ctx, r, number, i.GetComments(), recent)
		if err != nil {
			return Issue{}, err
		}
		out.Recent = cs
	}
	return out, nil
}

// lastComments reads the newest n of an issue's total comments, oldest first.
func (c *Client) lastComments(ctx context.Context, r Repo, number, total, n int) ([]Comment, error) {
	last := (total + n - 1) / n
	var got []*gh.IssueComment
	for p := last; p >= 1 && len(got) < n; p-- {
		cs, _, err := c.gh.Issues.ListComments(ctx, r.owner, r.name, number, &gh.IssueListCommentsOptions{
			ListOptions: gh.ListOptions{Page: p, PerPage: n}})
		if err != nil {
			return nil, c.describe(err)
		}
		got = append(cs, got...)
	}
	if len(got) > n {
		got = got[len(got)-n:]
	}
	out := []Comment{}
	for _, cm := range got {
		out = append(out, commentOf(cm))
	}
	return out, nil
}

func commentOf(cm *gh.IssueComment) Comment {
	return Comment{ID: cm.GetID(), Author: cm.GetUser().GetLogin(), Body: clip(cm.GetBody(), maxBody),
		CreatedAt: stamp(cm.GetCreatedAt()), URL: cm.GetHTMLURL()}
}

// CreateIssue opens an issue.
func (c *Client) CreateIssue(ctx context.Context, r Repo, title, body string, labels, assignees []string) (Issue, error) {
	if strings.TrimSpace(title) == "" {
		return Issue{}, errors.New("title must say what the issue is about")
	}
	req := &gh.IssueRequest{Title: gh.Ptr(title)}
	if body != "" {
		req.Body = gh.Ptr(body)
	}
	if len(labels) > 0 {
		req.Labels = &labels
	}
	if len(assignees) > 0 {
		req.Assignees = &assignees
	}
	i, _, err := c.gh.Issues.Create(ctx, r.owner, r.name, req)
	if err != nil {
		err = c.describe(err)
		if outcomeUnknown(err) {
			return Issue{}, fmt.Errorf("%w; the issue may or may not have been created: list_issues shows whether it was "+
				"before you try again", err)
		}
		return Issue{}, c.notFoundRepo(r, err)
	}
	return issueOf(r, i, false), nil
}

// AddComment comments on an issue or a pull request's conversation.
func (c *Client) AddComment(ctx context.Context, r Repo, number int, body string) (Comment, error) {
	if number <= 0 {
		return Comment{}, fmt.Errorf("number must be 1 or more, got %d", number)
	}
	if strings.TrimSpace(body) == "" {
		return Comment{}, errors.New("body must not be empty")
	}
	cm, _, err := c.gh.Issues.CreateComment(ctx, r.owner, r.name, number, &gh.IssueComment{Body: gh.Ptr(body)})
	if err != nil {
		err = c.describe(err)
		switch {
		case statusOf(err) == http.StatusNotFound:
			return Comment{}, fmt.Errorf("%s has no issue or pull request #%d: %w", r, number, err)
		case outcomeUnknown(err):
			return Comment{}, fmt.Errorf("%w; the comment may or may not have been added: get_issue shows the latest comments", err)
		}
		return Comment{}, err
	}
	return commentOf(cm), nil
}
