package github

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
)

// Annotations. The reference policy requires MFA for every tool with destructiveHint, so
// Destructive: Yes is kept for what cannot be undone by another call of these tools.
var (
	readOnly = kit.Annotations{ReadOnly: kit.Yes, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// Each call adds a record (an issue, a comment, a pull request); repeating it adds another.
	creates = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.No, OpenWorld: kit.Yes}
	// Setting something to a given state: a repeat changes nothing more (create_branch
	// returns the existing branch at the same commit; review requests are a set).
	sets = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// create_or_update_file is Write and not destructive, a deliberate choice: an update
	// replaces a file's content, but (1) only the version the caller read, whose blob sha it
	// must pass (a stale sha is refused, never overwritten); (2) every write is a new commit
	// on a branch, so the previous content stays in the history and another commit restores
	// it; (3) protected branches (main of network-templates) refuse direct commits, so what
	// is deployed changes only by merging a pull request, which is destructive and needs
	// MFA. Marking every commit to a feature branch destructive would ask for MFA on a
	// developer's everyday work, and teach people to click through the prompt. A repeat
	// with the same content and sha finds the content already there and commits nothing,
	// so it is idempotent.
	commits = kit.Annotations{ReadOnly: kit.No, Destructive: kit.No, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// merge_pull_request changes the base branch (usually the default branch that
	// automation deploys from) in a way no tool here undoes: destructive. A merged pull
	// request cannot be merged again, so a repeat changes nothing more.
	merges = kit.Annotations{ReadOnly: kit.No, Destructive: kit.Yes, Idempotent: kit.Yes, OpenWorld: kit.Yes}
	// delete_branch removes a ref (and GitHub closes the pull requests from it). A repeat
	// could delete a branch someone re-created under the same name: not idempotent.
	deletes = kit.Annotations{ReadOnly: kit.No, Destructive: kit.Yes, Idempotent: kit.No, OpenWorld: kit.Yes}
)

// Register adds every GitHub tool to s. c may be nil when only the declarations are needed
// (the catalog command); the handlers are then never called.
func Register(s *kit.Server, c *Client) {
	kit.Add(s, kit.Tool[getFileArgs, File]{
		Name: "get_file_contents", Title: "Get file contents", Action: kit.Read, Annotations: readOnly,
		Description: "Read a file of a repository as text, at a branch or commit (default: the default branch). The result " +
			"has the file's blob sha, which create_or_update_file needs to update it. Long files are cut (max_bytes, default " +
			"32768) and say where to continue with offset; binary files are not shown.",
		Handle: func(ctx context.Context, a getFileArgs) (File, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return File{}, err
			}
			return c.GetFile(ctx, r, a.Path, a.Ref, a.Offset, a.MaxBytes)
		},
	})
	kit.Add(s, kit.Tool[listDirArgs, Directory]{
		Name: "list_directory", Title: "List a directory", Action: kit.Read, Annotations: readOnly,
		Description: "List the files and directories in a directory of a repository (the root when path is empty), at a " +
			"branch or commit.",
		Handle: func(ctx context.Context, a listDirArgs) (Directory, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return Directory{}, err
			}
			return c.ListDirectory(ctx, r, a.Path, a.Ref)
		},
	})
	kit.Add(s, kit.Tool[listBranchesArgs, BranchList]{
		Name: "list_branches", Title: "List branches", Action: kit.Read, Annotations: readOnly,
		Description: "List a repository's branches with the commit each points at and whether it is protected, and the " +
			"default branch. When next_page is set, call again with it.",
		Handle: func(ctx context.Context, a listBranchesArgs) (BranchList, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return BranchList{}, err
			}
			lo, err := page(a.Page, a.PerPage)
			if err != nil {
				return BranchList{}, err
			}
			return c.ListBranches(ctx, r, a.ProtectedOnly, lo)
		},
	})
	kit.Add(s, kit.Tool[listCommitsArgs, CommitList]{
		Name: "list_commits", Title: "List commits", Action: kit.Read, Annotations: readOnly,
		Description: "List commits, newest first, reachable from a branch or commit (default: the default branch), optionally " +
			"only those touching a path, by an author, or in a time range.",
		Handle: func(ctx context.Context, a listCommitsArgs) (CommitList, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return CommitList{}, err
			}
			lo, err := page(a.Page, a.PerPage)
			if err != nil {
				return CommitList{}, err
			}
			f := CommitFilter{Ref: a.Ref, Path: a.Path, Author: a.Author}
			if f.Since, err = optionalTime("since", a.Since); err != nil {
				return CommitList{}, err
			}
			if f.Until, err = optionalTime("until", a.Until); err != nil {
				return CommitList{}, err
			}
			return c.ListCommits(ctx, r, f, lo)
		},
	})
	kit.Add(s, kit.Tool[getCommitArgs, CommitDetail]{
		Name: "get_commit", Title: "Get a commit", Action: kit.Read, Annotations: readOnly,
		Description: "Get one commit (a sha, or a branch for its latest commit): message, author, the files it changed with " +
			"lines added and removed (patches with include_patch), and its checks (check runs and commit statuses).",
		Handle: func(ctx context.Context, a getCommitArgs) (CommitDetail, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return CommitDetail{}, err
			}
			return c.GetCommit(ctx, r, a.Ref, a.IncludePatch)
		},
	})
	kit.Add(s, kit.Tool[searchCodeArgs, CodeSearch]{
		Name: "search_code", Title: "Search code", Action: kit.Read, Annotations: readOnly,
		Description: "Search code on the default branches of the organisations this adapter is allowed to search, with " +
			"GitHub's code search syntax (words, \"phrases\", and qualifiers such as repo:owner/name, path:, filename:, " +
			"extension:, language:). Results give the matching lines.",
		Handle: func(ctx context.Context, a searchCodeArgs) (CodeSearch, error) {
			lo, err := page(a.Page, a.PerPage)
			if err != nil {
				return CodeSearch{}, err
			}
			return c.SearchCode(ctx, a.Query, lo)
		},
	})
	kit.Add(s, kit.Tool[listIssuesArgs, IssueList]{
		Name: "list_issues", Title: "List issues", Action: kit.Read, Annotations: readOnly,
		Description: "List a repository's issues, newest first: open (default), closed or all, optionally with all of some " +
			"labels, an assignee or a creator. Pull requests are left out (list_pull_requests).",
		Handle: func(ctx context.Context, a listIssuesArgs) (IssueList, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return IssueList{}, err
			}
			lo, err := page(a.Page, a.PerPage)
			if err != nil {
				return IssueList{}, err
			}
			return c.ListIssues(ctx, r, IssueFilter{State: a.State, Labels: a.Labels, Assignee: a.Assignee, Creator: a.Creator}, lo)
		},
	})
	kit.Add(s, kit.Tool[getIssueArgs, Issue]{
		Name: "get_issue", Title: "Get an issue", Action: kit.Read, Annotations: readOnly,
		Description: "Get one issue by number with its description and its latest comments (comments, default 10, up to 50).",
		Handle: func(ctx context.Context, a getIssueArgs) (Issue, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return Issue{}, err
			}
			n := a.Comments
			switch {
			case n == 0:
				n = 10
			case n < 0 || n > 50:
				return Issue{}, fmt.Errorf("comments must be 1 to 50, got %d", n)
			}
			return c.GetIssue(ctx, r, a.Number, n)
		},
	})
	kit.Add(s, kit.Tool[listPullsArgs, PullList]{
		Name: "list_pull_requests", Title: "List pull requests", Action: kit.Read, Annotations: readOnly,
		Description: "List a repository's pull requests, newest first: open (default), closed or all, optionally into a base " +
			"branch or from a head branch.",
		Handle: func(ctx context.Context, a listPullsArgs) (PullList, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return PullList{}, err
			}
			lo, err := page(a.Page, a.PerPage)
			if err != nil {
				return PullList{}, err
			}
			return c.ListPulls(ctx, r, PullFilter{State: a.State, Base: a.Base, Head: a.Head}, lo)
		},
	})
	kit.Add(s, kit.Tool[numberArgs, PullRequest]{
		Name: "get_pull_request", Title: "Get a pull request", Action: kit.Read, Annotations: readOnly,
		Description: "Get one pull request: state, whether and why it can be merged (mergeable_state), head and base, the " +
			"files it changes with lines added and removed (patches with include_patch), its checks, and its reviews.",
		Handle: func(ctx context.Context, a numberArgs) (PullRequest, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return PullRequest{}, err
			}
			return c.GetPull(ctx, r, a.Number, a.IncludePatch)
		},
	})
	kit.Add(s, kit.Tool[createBranchArgs, BranchResult]{
		Name: "create_branch", Title: "Create a branch", Action: kit.Write, Annotations: sets,
		Description: "Create a branch at the latest commit of another branch or at a commit (from; default: the default " +
			"branch). A branch that already exists at that commit is returned as it is.",
		Handle: func(ctx context.Context, a createBranchArgs) (BranchResult, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return BranchResult{}, err
			}
			return c.CreateBranch(ctx, r, a.Branch, a.From)
		},
	})
	kit.Add(s, kit.Tool[putFileArgs, FileWrite]{
		Name: "create_or_update_file", Title: "Create or update a file", Action: kit.Write, Annotations: commits,
		Description: "Commit one text file to a branch: create it, or replace it by passing the sha get_file_contents " +
			"returned. If the file changed since you read it, nothing is written and the error gives both shas. Protected " +
			"branches take changes only through pull requests: commit to a new branch and open one.",
		Handle: func(ctx context.Context, a putFileArgs) (FileWrite, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return FileWrite{}, err
			}
			return c.PutFile(ctx, r, a.Path, a.Branch, a.Content, a.Message, a.SHA)
		},
	})
	kit.Add(s, kit.Tool[createIssueArgs, Issue]{
		Name: "create_issue", Title: "Create an issue", Action: kit.Write, Annotations: creates,
		Description: "Open an issue with a title and a description (Markdown), optionally with labels and assignees " +
			"(collaborators' logins).",
		Handle: func(ctx context.Context, a createIssueArgs) (Issue, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return Issue{}, err
			}
			return c.CreateIssue(ctx, r, a.Title, a.Body, a.Labels, a.Assignees)
		},
	})
	kit.Add(s, kit.Tool[commentArgs, Comment]{
		Name: "add_issue_comment", Title: "Comment on an issue or pull request", Action: kit.Write, Annotations: creates,
		Description: "Add a comment (Markdown) to an issue's or a pull request's conversation.",
		Handle: func(ctx context.Context, a commentArgs) (Comment, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return Comment{}, err
			}
			return c.AddComment(ctx, r, a.Number, a.Body)
		},
	})
	kit.Add(s, kit.Tool[reviewCommentArgs, ReviewComment]{
		Name: "add_pull_request_review_comment", Title: "Comment on a line of a pull request", Action: kit.Write,
		Annotations: creates,
		Description: "Comment on one line of a file a pull request changes, at its latest commit: side RIGHT (default) " +
			"numbers lines in the new version, LEFT in the old one.",
		Handle: func(ctx context.Context, a reviewCommentArgs) (ReviewComment, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return ReviewComment{}, err
			}
			return c.AddReviewComment(ctx, r, a.Number, a.Path, a.Line, a.Side, a.Body)
		},
	})
	kit.Add(s, kit.Tool[createPullArgs, PullSummary]{
		Name: "create_pull_request", Title: "Create a pull request", Action: kit.Write, Annotations: creates,
		Description: "Open a pull request from a branch (head) into another (base; default: the default branch), with a " +
			"title and a description (Markdown); draft to open it as a draft.",
		Handle: func(ctx context.Context, a createPullArgs) (PullSummary, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return PullSummary{}, err
			}
			return c.CreatePull(ctx, r, NewPull{Title: a.Title, Head: a.Head, Base: a.Base, Body: a.Body, Draft: a.Draft})
		},
	})
	kit.Add(s, kit.Tool[requestReviewArgs, ReviewRequest]{
		Name: "request_pull_request_review", Title: "Request a pull request review", Action: kit.Write, Annotations: sets,
		Description: "Ask collaborators (logins) or teams (slugs) of the repository's organisation to review a pull request.",
		Handle: func(ctx context.Context, a requestReviewArgs) (ReviewRequest, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return ReviewRequest{}, err
			}
			return c.RequestReview(ctx, r, a.Number, a.Reviewers, a.TeamReviewers)
		},
	})
	kit.Add(s, kit.Tool[mergeArgs, MergeResult]{
		Name: "merge_pull_request", Title: "Merge a pull request", Action: kit.Execute, Annotations: merges,
		Description: "Merge a pull request into its base branch with a method: merge (a merge commit, the default), squash " +
			"or rebase. Give sha (the head get_pull_request showed) to merge only what you reviewed. When GitHub refuses, the " +
			"error says why: failing or pending checks, missing approvals, conflicts.",
		Handle: func(ctx context.Context, a mergeArgs) (MergeResult, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return MergeResult{}, err
			}
			return c.Merge(ctx, r, a.Number, a.Method, a.SHA, a.CommitTitle, a.CommitMessage)
		},
	})
	kit.Add(s, kit.Tool[deleteBranchArgs, DeleteResult]{
		Name: "delete_branch", Title: "Delete a branch", Action: kit.Execute, Annotations: deletes,
		Description: "Delete a branch (never the default branch; GitHub refuses protected ones). GitHub closes open pull " +
			"requests from it. The result names the commit it pointed at, from which create_branch can restore it.",
		Handle: func(ctx context.Context, a deleteBranchArgs) (DeleteResult, error) {
			r, err := NewRepo(a.Owner, a.Repo)
			if err != nil {
				return DeleteResult{}, err
			}
			return c.DeleteBranch(ctx, r, a.Branch)
		},
	})
}

// optionalTime parses an RFC 3339 time ("" is none).
func optionalTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time such as 2026-12-01T00:00:00Z, got %q", field, s)
	}
	return t, nil
}

type getFileArgs struct {
	Owner    string `json:"owner" jsonschema:"Repository owner: a user or organisation, e.g. gatehouse-net"`
	Repo     string `json:"repo" jsonschema:"Repository name, e.g. network-templates"`
	Path     string `json:"path" jsonschema:"File path in the repository, e.g. catalyst-center/Global-Services/NTP-Servers.vtl"`
	Ref      string `json:"ref,omitempty" jsonschema:"Branch or commit sha (default: the default branch)"`
	Offset   int    `json:"offset,omitempty" jsonschema:"Byte offset to start at, from next_offset of a cut read (default 0)"`
	MaxBytes int    `json:"max_bytes,omitempty" jsonschema:"At most this many bytes of text, 1 to 262144 (default 32768)"`
}

type listDirArgs struct {
	Owner string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo  string `json:"repo" jsonschema:"Repository name"`
	Path  string `json:"path,omitempty" jsonschema:"Directory path (default: the root)"`
	Ref   string `json:"ref,omitempty" jsonschema:"Branch or commit sha (default: the default branch)"`
}

type listBranchesArgs struct {
	Owner         string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo          string `json:"repo" jsonschema:"Repository name"`
	ProtectedOnly bool   `json:"protected_only,omitempty" jsonschema:"Only protected branches"`
	Page          int    `json:"page,omitempty" jsonschema:"Page, from next_page (default 1)"`
	PerPage       int    `json:"per_page,omitempty" jsonschema:"Results per page, 1 to 100 (default 30)"`
}

type listCommitsArgs struct {
	Owner   string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo    string `json:"repo" jsonschema:"Repository name"`
	Ref     string `json:"ref,omitempty" jsonschema:"Branch or commit sha to list from (default: the default branch)"`
	Path    string `json:"path,omitempty" jsonschema:"Only commits that changed this file or directory"`
	Author  string `json:"author,omitempty" jsonschema:"Only commits by this GitHub login or email"`
	Since   string `json:"since,omitempty" jsonschema:"Only commits after this RFC 3339 time"`
	Until   string `json:"until,omitempty" jsonschema:"Only commits before this RFC 3339 time"`
	Page    int    `json:"page,omitempty" jsonschema:"Page, from next_page (default 1)"`
	PerPage int    `json:"per_page,omitempty" jsonschema:"Results per page, 1 to 100 (default 30)"`
}

type getCommitArgs struct {
	Owner        string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo         string `json:"repo" jsonschema:"Repository name"`
	Ref          string `json:"ref" jsonschema:"Commit sha, or a branch for its latest commit"`
	IncludePatch bool   `json:"include_patch,omitempty" jsonschema:"Include each file's patch (cut at 4000 bytes)"`
}

type searchCodeArgs struct {
	Query   string `json:"query" jsonschema:"GitHub code search query, e.g. \"ntp server\" extension:vtl"`
	Page    int    `json:"page,omitempty" jsonschema:"Page, from next_page (default 1)"`
	PerPage int    `json:"per_page,omitempty" jsonschema:"Results per page, 1 to 100 (default 30)"`
}

type listIssuesArgs struct {
	Owner    string   `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo     string   `json:"repo" jsonschema:"Repository name"`
	State    string   `json:"state,omitempty" jsonschema:"open (default), closed or all"`
	Labels   []string `json:"labels,omitempty" jsonschema:"Only issues with all of these labels"`
	Assignee string   `json:"assignee,omitempty" jsonschema:"Only issues assigned to this login (none: unassigned; *: assigned)"`
	Creator  string   `json:"creator,omitempty" jsonschema:"Only issues opened by this login"`
	Page     int      `json:"page,omitempty" jsonschema:"Page, from next_page (default 1)"`
	PerPage  int      `json:"per_page,omitempty" jsonschema:"Results per page, 1 to 100 (default 30)"`
}

type getIssueArgs struct {
	Owner    string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo     string `json:"repo" jsonschema:"Repository name"`
	Number   int    `json:"number" jsonschema:"Issue number"`
	Comments int    `json:"comments,omitempty" jsonschema:"How many of the latest comments, 1 to 50 (default 10)"`
}

type listPullsArgs struct {
	Owner   string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo    string `json:"repo" jsonschema:"Repository name"`
	State   string `json:"state,omitempty" jsonschema:"open (default), closed or all"`
	Base    string `json:"base,omitempty" jsonschema:"Only pull requests into this branch"`
	Head    string `json:"head,omitempty" jsonschema:"Only pull requests from this branch"`
	Page    int    `json:"page,omitempty" jsonschema:"Page, from next_page (default 1)"`
	PerPage int    `json:"per_page,omitempty" jsonschema:"Results per page, 1 to 100 (default 30)"`
}

type numberArgs struct {
	Owner        string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo         string `json:"repo" jsonschema:"Repository name"`
	Number       int    `json:"number" jsonschema:"Pull request number"`
	IncludePatch bool   `json:"include_patch,omitempty" jsonschema:"Include each file's patch (cut at 4000 bytes)"`
}

type createBranchArgs struct {
	Owner  string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo   string `json:"repo" jsonschema:"Repository name"`
	Branch string `json:"branch" jsonschema:"Name of the new branch, e.g. feature/ntp-servers"`
	From   string `json:"from,omitempty" jsonschema:"Branch or commit sha to start from (default: the default branch)"`
}

type putFileArgs struct {
	Owner   string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo    string `json:"repo" jsonschema:"Repository name"`
	Path    string `json:"path" jsonschema:"File path in the repository"`
	Branch  string `json:"branch,omitempty" jsonschema:"Branch to commit to (default: the default branch, which is often protected)"`
	Content string `json:"content" jsonschema:"The file's complete new content (UTF-8 text)"`
	Message string `json:"message" jsonschema:"Commit message"`
	SHA     string `json:"sha,omitempty" jsonschema:"To update a file: its blob sha from get_file_contents (omit to create a new file)"`
}

type createIssueArgs struct {
	Owner     string   `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo      string   `json:"repo" jsonschema:"Repository name"`
	Title     string   `json:"title" jsonschema:"What the issue is about, in one line"`
	Body      string   `json:"body,omitempty" jsonschema:"Description (Markdown)"`
	Labels    []string `json:"labels,omitempty" jsonschema:"Labels (created if the repository has none of that name)"`
	Assignees []string `json:"assignees,omitempty" jsonschema:"Logins of collaborators to assign"`
}

type commentArgs struct {
	Owner  string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo   string `json:"repo" jsonschema:"Repository name"`
	Number int    `json:"number" jsonschema:"Issue or pull request number"`
	Body   string `json:"body" jsonschema:"The comment (Markdown)"`
}

type reviewCommentArgs struct {
	Owner  string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo   string `json:"repo" jsonschema:"Repository name"`
	Number int    `json:"number" jsonschema:"Pull request number"`
	Path   string `json:"path" jsonschema:"A file the pull request changes"`
	Line   int    `json:"line" jsonschema:"Line number in that file's new version (RIGHT) or old version (LEFT)"`
	Side   string `json:"side,omitempty" jsonschema:"RIGHT (default) or LEFT"`
	Body   string `json:"body" jsonschema:"The comment (Markdown)"`
}

type createPullArgs struct {
	Owner string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo  string `json:"repo" jsonschema:"Repository name"`
	Title string `json:"title" jsonschema:"What the pull request changes, in one line"`
	Head  string `json:"head" jsonschema:"The branch with the changes"`
	Base  string `json:"base,omitempty" jsonschema:"The branch to merge into (default: the default branch)"`
	Body  string `json:"body,omitempty" jsonschema:"Description (Markdown); Closes #N closes issue N when merged"`
	Draft bool   `json:"draft,omitempty" jsonschema:"Open as a draft"`
}

type requestReviewArgs struct {
	Owner         string   `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo          string   `json:"repo" jsonschema:"Repository name"`
	Number        int      `json:"number" jsonschema:"Pull request number"`
	Reviewers     []string `json:"reviewers,omitempty" jsonschema:"Logins of collaborators"`
	TeamReviewers []string `json:"team_reviewers,omitempty" jsonschema:"Slugs of teams of the repository's organisation"`
}

type mergeArgs struct {
	Owner         string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo          string `json:"repo" jsonschema:"Repository name"`
	Number        int    `json:"number" jsonschema:"Pull request number"`
	Method        string `json:"method,omitempty" jsonschema:"merge (default), squash or rebase"`
	SHA           string `json:"sha,omitempty" jsonschema:"Merge only if the head is still this commit (head_sha from get_pull_request)"`
	CommitTitle   string `json:"commit_title,omitempty" jsonschema:"Title of the merge or squash commit (default: GitHub's)"`
	CommitMessage string `json:"commit_message,omitempty" jsonschema:"Message of the merge or squash commit (default: GitHub's)"`
}

type deleteBranchArgs struct {
	Owner  string `json:"owner" jsonschema:"Repository owner: a user or organisation"`
	Repo   string `json:"repo" jsonschema:"Repository name"`
	Branch string `json:"branch" jsonschema:"The branch to delete"`
}
