package github

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // git blob ids are SHA-1 by definition
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v75/github"
)

// File is a file's content as text, for reading and then updating.
type File struct {
	Repository string `json:"repository"`
	Path       string `json:"path"`
	Ref        string `json:"ref"`
	// SHA is the blob sha: pass it to create_or_update_file to replace this version.
	SHA       string `json:"sha" jsonschema:"The file's blob sha: pass it to create_or_update_file to replace this version"`
	Size      int    `json:"size"`
	Text      string `json:"text,omitempty"`
	Offset    int    `json:"offset,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// NextOffset continues a truncated read.
	NextOffset int    `json:"next_offset,omitempty" jsonschema:"When the text was cut: the offset to read on from"`
	Binary     bool   `json:"binary,omitempty"`
	Note       string `json:"note,omitempty"`
	URL        string `json:"html_url"`
}

// Entry is one entry of a directory.
type Entry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"` // file, dir, symlink, submodule
	Size int    `json:"size,omitempty"`
	SHA  string `json:"sha"`
}

// Directory is a directory's entries.
type Directory struct {
	Repository string  `json:"repository"`
	Path       string  `json:"path"`
	Ref        string  `json:"ref"`
	Entries    []Entry `json:"entries"`
}

// blobSHA is git's blob id of content (what GitHub calls a file's sha).
func blobSHA(content []byte) string {
	h := sha1.New() //nolint:gosec // see import
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// contents reads a path at ref: a file or a directory.
func (c *Client) contents(ctx context.Context, r Repo, path, ref string) (*gh.RepositoryContent, []*gh.RepositoryContent, error) {
	var opts *gh.RepositoryContentGetOptions
	if ref != "" {
		opts = &gh.RepositoryContentGetOptions{Ref: ref}
	}
	f, dir, _, err := c.gh.Repositories.GetContents(ctx, r.owner, r.name, path, opts)
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			where := "the default branch"
			if ref != "" {
				where = ref
			}
			if path == "" {
				return nil, nil, fmt.Errorf("%s or its ref %s was not found (or the adapter cannot see it): %w", r, where, err)
			}
			return nil, nil, fmt.Errorf("%s has no %s on %s (or the adapter cannot see the repository): %w", r, path, where, err)
		}
		return nil, nil, err
	}
	return f, dir, nil
}

// Default and largest amounts of text get_file_contents returns.
const (
	defaultMaxBytes = 32 << 10
	largestMaxBytes = 256 << 10
)

// GetFile reads a file as text: at most maxBytes from offset, cut at a line end when one is
// near, with the truncation stated.
func (c *Client) GetFile(ctx context.Context, r Repo, path, ref string, offset, maxBytes int) (File, error) {
	path, err := cleanPath(path)
	if err != nil {
		return File{}, err
	}
	if path == "" {
		return File{}, errors.New("path is required (use list_directory for the repository's root)")
	}
	if err := checkRef(ref); err != nil {
		return File{}, err
	}
	switch {
	case maxBytes == 0:
		maxBytes = defaultMaxBytes
	case maxBytes < 1 || maxBytes > largestMaxBytes:
		return File{}, fmt.Errorf("max_bytes must be 1 to %d, got %d", largestMaxBytes, maxBytes)
	}
	if offset < 0 {
		return File{}, fmt.Errorf("offset must not be negative, got %d", offset)
	}
	f, dir, err := c.contents(ctx, r, path, ref)
	if err != nil {
		return File{}, err
	}
	if f == nil {
		return File{}, fmt.Errorf("%s is a directory in %s with %d entries: use list_directory", path, r, len(dir))
	}
	out := File{Repository: r.String(), Path: f.GetPath(), Ref: refOrDefault(ref), SHA: f.GetSHA(), Size: f.GetSize(),
		URL: f.GetHTMLURL()}
	if f.GetType() != "file" {
		out.Note = fmt.Sprintf("%s is a %s, not a file", path, f.GetType())
		return out, nil
	}
	if f.GetEncoding() == "none" || (f.Content == nil && f.GetSize() > 0) {
		out.Note = "the file is larger than 1 MB: GitHub's contents API does not return its content"
		return out, nil
	}
	content, err := f.GetContent()
	if err != nil {
		return File{}, fmt.Errorf("GitHub returned %s in an encoding the adapter cannot read: %w", path, err)
	}
	data := []byte(content)
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 || !utf8.Valid(data) {
		out.Binary = true
		out.Note = "the file is binary; its content is not shown"
		return out, nil
	}
	if offset > len(data) {
		return File{}, fmt.Errorf("offset %d is past the end of %s (%d bytes)", offset, path, len(data))
	}
	out.Offset = offset
	text := data[offset:]
	if len(text) > maxBytes {
		cut := maxBytes
		if nl := bytes.LastIndexByte(text[:cut], '\n'); nl >= 0 && cut-nl < 1024 {
			cut = nl + 1
		}
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
		out.Truncated = true
		out.NextOffset = offset + cut
		out.Note = fmt.Sprintf("showing bytes %d to %d of %d; call again with offset %d for more", offset, offset+cut, len(data), out.NextOffset)
	}
	out.Text = string(text)
	return out, nil
}

func refOrDefault(ref string) string {
	if ref == "" {
		return "(default branch)"
	}
	return ref
}

// ListDirectory lists a directory at ref ("" path is the root).
func (c *Client) ListDirectory(ctx context.Context, r Repo, path, ref string) (Directory, error) {
	path, err := cleanPath(path)
	if err != nil {
		return Directory{}, err
	}
	if err := checkRef(ref); err != nil {
		return Directory{}, err
	}
	f, dir, err := c.contents(ctx, r, path, ref)
	if err != nil {
		return Directory{}, err
	}
	if f != nil {
		return Directory{}, fmt.Errorf("%s is a file in %s (%d bytes, sha %s): use get_file_contents", path, r, f.GetSize(), f.GetSHA())
	}
	out := Directory{Repository: r.String(), Path: "/" + path, Ref: refOrDefault(ref), Entries: []Entry{}}
	for _, e := range dir {
		out.Entries = append(out.Entries, Entry{Name: e.GetName(), Path: e.GetPath(), Type: e.GetType(), Size: e.GetSize(), SHA: e.GetSHA()})
	}
	return out, nil
}

// FileWrite is the outcome of create_or_update_file.
type FileWrite struct {
	Repository string `json:"repository"`
	Path       string `json:"path"`
	Branch     string `json:"branch"`
	// SHA is the file's new blob sha (for the next update).
	SHA       string `json:"sha" jsonschema:"The file's new blob sha, for the next update"`
	Commit    string `json:"commit_sha,omitempty"`
	CommitURL string `json:"commit_url,omitempty"`
	Created   bool   `json:"created"`
	// Unchanged: the file already had this content; nothing was committed.
	Unchanged bool   `json:"unchanged,omitempty" jsonschema:"The file already had this content: nothing was committed"`
	Note      string `json:"note,omitempty"`
}

// maxWrite bounds a file written through the contents API by the adapter.
const maxWrite = 1 << 20

// PutFile creates or updates one file on a branch with a commit. Updating needs the blob
// sha the caller read: GitHub refuses a stale one (409), and the adapter then reports both
// shas rather than overwriting. A write whose answer is lost (no answer, 5xx) is never simply
// sent again: the adapter re-reads the file and compares. If the file has the new content,
// the write happened; if it still has the version the caller read, the write is sent once
// more (the sha guards it); otherwise someone else changed it, which is a conflict.
func (c *Client) PutFile(ctx context.Context, r Repo, path, branch, content, message, sha string) (FileWrite, error) {
	path, err := cleanPath(path)
	if err != nil {
		return FileWrite{}, err
	}
	switch {
	case path == "":
		return FileWrite{}, errors.New("path is required")
	case strings.TrimSpace(message) == "":
		return FileWrite{}, errors.New("message (the commit message) is required")
	case len(content) > maxWrite:
		return FileWrite{}, fmt.Errorf("content has %d bytes; the adapter writes at most %d", len(content), maxWrite)
	case !utf8.ValidString(content):
		return FileWrite{}, errors.New("content must be UTF-8 text")
	case sha != "" && !shaLike.MatchString(sha):
		return FileWrite{}, fmt.Errorf("sha %q is not a blob sha (get_file_contents gives it)", sha)
	}
	if branch == "" {
		if branch, err = c.defaultBranch(ctx, r); err != nil {
			return FileWrite{}, err
		}
	}
	if err := checkBranch(branch); err != nil {
		return FileWrite{}, err
	}
	want := blobSHA([]byte(content))
	opts := &gh.RepositoryContentFileOptions{Message: gh.Ptr(message), Content: []byte(content), Branch: gh.Ptr(branch)}
	if sha != "" {
		opts.SHA = gh.Ptr(sha)
	}
	out := FileWrite{Repository: r.String(), Path: path, Branch: branch, Created: sha == ""}
	for attempt := 1; ; attempt++ {
		res, _, err := c.gh.Repositories.UpdateFile(ctx, r.owner, r.name, escapePath(path), opts)
		if err == nil {
			out.SHA, out.Commit, out.CommitURL = res.GetContent().GetSHA(), res.GetSHA(), res.GetHTMLURL()
			return out, nil
		}
		err = c.describe(err)
		status := statusOf(err)
		var current string
		var cerr error
		if outcomeUnknown(err) || status == http.StatusConflict || status == http.StatusUnprocessableEntity {
			current, cerr = c.currentBlob(ctx, r, path, branch)
		}
		switch {
		case outcomeUnknown(err):
			if cerr != nil {
				return FileWrite{}, fmt.Errorf("%w; whether %s was written is unknown, and reading it back failed: %v", err, path, cerr)
			}
			switch {
			case current == want:
				out.SHA = current
				out.Commit, out.CommitURL = c.lastCommit(ctx, r, path, branch)
				out.Note = "GitHub's answer was lost, but the file has the new content: the write happened"
				return out, nil
			case current == sha && attempt == 1:
				continue // unchanged since the caller read it: sending it again cannot overwrite anything
			case current == sha:
				return FileWrite{}, fmt.Errorf("%w (twice); %s on %s is unchanged, so nothing was written: try again later",
					err, path, branch)
			}
			return FileWrite{}, fmt.Errorf("%w; %s on %s now has sha %s, neither the version you read (%s) nor your content, "+
				"so the adapter did not send it again: read it with get_file_contents and retry", err, path, branch, orNone(current), orNone(sha))
		case status == http.StatusConflict && strings.Contains(err.Error(), "through a pull request"):
			return FileWrite{}, fmt.Errorf("branch %s of %s is protected: changes must go through a pull request. Create a branch "+
				"(create_branch), commit there and open a pull request: %w", branch, r, err)
		case status == http.StatusNotFound && strings.Contains(err.Error(), "Branch"):
			return FileWrite{}, fmt.Errorf("%s has no branch %s (create it with create_branch): %w", r, branch, err)
		case (status == http.StatusConflict || status == http.StatusUnprocessableEntity) && cerr == nil && current == want:
			// A repeated call, or someone made the same change: nothing to do.
			out.SHA, out.Unchanged, out.Created = current, true, false
			out.Note = "the file already has this content on " + branch + "; nothing was committed"
			return out, nil
		case status == http.StatusConflict:
			return FileWrite{}, fmt.Errorf("the file changed since you read it: your sha %s, current %s; read it again "+
				"(get_file_contents on %s) and retry with the current sha: %w", orNone(sha), orNone(current), branch, err)
		case status == http.StatusUnprocessableEntity && sha == "" && current != "":
			return FileWrite{}, fmt.Errorf("%s already exists on %s (sha %s): read it with get_file_contents and pass its sha "+
				"to replace it: %w", path, branch, current, err)
		}
		return FileWrite{}, err
	}
}

func orNone(sha string) string {
	if sha == "" {
		return "(none: the file does not exist)"
	}
	return sha
}

// currentBlob is the blob sha of path on branch ("" when the file does not exist).
func (c *Client) currentBlob(ctx context.Context, r Repo, path, branch string) (string, error) {
	f, _, err := c.contents(ctx, r, path, branch)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return "", nil
		}
		return "", err
	}
	if f == nil {
		return "", fmt.Errorf("%s is a directory", path)
	}
	return f.GetSHA(), nil
}

// lastCommit is the newest commit on branch that touched path.
func (c *Client) lastCommit(ctx context.Context, r Repo, path, branch string) (string, string) {
	cs, _, err := c.gh.Repositories.ListCommits(ctx, r.owner, r.name, &gh.CommitsListOptions{SHA: branch, Path: path,
		ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil || len(cs) == 0 {
		return "", ""
	}
	return cs[0].GetSHA(), cs[0].GetHTMLURL()
}

// defaultBranch is the repository's default branch.
func (c *Client) defaultBranch(ctx context.Context, r Repo) (string, error) {
	repo, _, err := c.gh.Repositories.Get(ctx, r.owner, r.name)
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			return "", fmt.Errorf("repository %s was not found (or the adapter cannot see it): %w", r, err)
		}
		return "", err
	}
	return repo.GetDefaultBranch(), nil
}

// Branch is one branch.
type Branch struct {
	Name      string `json:"name"`
	SHA       string `json:"sha"`
	Protected bool   `json:"protected"`
}

// BranchList is a page of branches.
type BranchList struct {
	Repository    string   `json:"repository"`
	DefaultBranch string   `json:"default_branch"`
	Branches      []Branch `json:"branches"`
	NextPage      int      `json:"next_page,omitempty"`
}

// ListBranches lists branches, optionally only protected ones.
func (c *Client) ListBranches(ctx context.Context, r Repo, protectedOnly bool, lo gh.ListOptions) (BranchList, error) {
	def, err := c.defaultBranch(ctx, r)
	if err != nil {
		return BranchList{}, err
	}
	opts := &gh.BranchListOptions{ListOptions: lo}
	if protectedOnly {
		opts.Protected = gh.Ptr(true)
	}
	bs, resp, err := c.gh.Repositories.ListBranches(ctx, r.owner, r.name, opts)
	if err != nil {
		return BranchList{}, c.describe(err)
	}
	out := BranchList{Repository: r.String(), DefaultBranch: def, Branches: []Branch{}, NextPage: resp.NextPage}
	for _, b := range bs {
		out.Branches = append(out.Branches, Branch{Name: b.GetName(), SHA: b.GetCommit().GetSHA(), Protected: b.GetProtected()})
	}
	return out, nil
}

// BranchResult is the outcome of create_branch.
type BranchResult struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	SHA        string `json:"sha"`
	From       string `json:"from"`
	// Created is false when the branch already existed at that commit.
	Created bool   `json:"created" jsonschema:"False when the branch already existed at that commit"`
	Note    string `json:"note,omitempty"`
}

// branchSHA is the commit a branch points at, or ok false when there is no such branch.
func (c *Client) branchSHA(ctx context.Context, r Repo, branch string) (string, bool, error) {
	ref, _, err := c.gh.Git.GetRef(ctx, r.owner, r.name, "heads/"+branch)
	if err != nil {
		err = c.describe(err)
		if statusOf(err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, err
	}
	return ref.GetObject().GetSHA(), true, nil
}

// resolveCommit finds the commit "from" names: a branch, else a commit sha.
func (c *Client) resolveCommit(ctx context.Context, r Repo, from string) (string, error) {
	if sha, ok, err := c.branchSHA(ctx, r, from); err != nil || ok {
		return sha, err
	}
	if shaLike.MatchString(from) {
		cm, _, err := c.gh.Repositories.GetCommit(ctx, r.owner, r.name, from, nil)
		if err == nil {
			return cm.GetSHA(), nil
		}
		if err = c.describe(err); statusOf(err) != http.StatusNotFound && statusOf(err) != http.StatusUnprocessableEntity {
			return "", err
		}
	}
	return "", fmt.Errorf("%s has no branch or commit %q", r, from)
}

// CreateBranch creates branch at from (a branch or commit; default the default branch).
// A branch that already exists at that commit is not an error: the call is idempotent.
func (c *Client) CreateBranch(ctx context.Context, r Repo, branch, from string) (BranchResult, error) {
	if err := checkBranch(branch); err != nil {
		return BranchResult{}, err
	}
	if from == "" {
		def, err := c.defaultBranch(ctx, r)
		if err != nil {
			return BranchResult{}, err
		}
		from = def
	}
	if err := checkRef(from); err != nil {
		return BranchResult{}, err
	}
	sha, err := c.resolveCommit(ctx, r, from)
	if err != nil {
		return BranchResult{}, err
	}
	out := BranchResult{Repository: r.String(), Branch: branch, SHA: sha, From: from, Created: true}
	_, _, err = c.gh.Git.CreateRef(ctx, r.owner, r.name, gh.CreateRef{Ref: "refs/heads/" + branch, SHA: sha})
	if err == nil {
		return out, nil
	}
	err = c.describe(err)
	if statusOf(err) == http.StatusUnprocessableEntity || outcomeUnknown(err) {
		existing, ok, gerr := c.branchSHA(ctx, r, branch)
		switch {
		case gerr == nil && ok && existing == sha:
			out.Created = false
			out.Note = "the branch already exists at this commit"
			if outcomeUnknown(err) {
				out.Created, out.Note = true, "GitHub's answer was lost, but the branch exists at this commit"
			}
			return out, nil
		case gerr == nil && ok:
			return BranchResult{}, fmt.Errorf("branch %s already exists in %s at %s, not at %s (%s): %w", branch, r, existing, sha, from, err)
		}
	}
	return BranchResult{}, err
}

// DeleteResult is the outcome of delete_branch.
type DeleteResult struct {
	Repository string `json:"repository"`
	Deleted    string `json:"deleted"`
	// WasAt is the commit the branch pointed at: create_branch from it restores the branch.
	WasAt string `json:"was_at" jsonschema:"The commit the branch pointed at: create_branch from it restores the branch"`
}

// DeleteBranch deletes a branch (never the default branch; GitHub refuses protected ones).
func (c *Client) DeleteBranch(ctx context.Context, r Repo, branch string) (DeleteResult, error) {
	if err := checkBranch(branch); err != nil {
		return DeleteResult{}, err
	}
	def, err := c.defaultBranch(ctx, r)
	if err != nil {
		return DeleteResult{}, err
	}
	if branch == def {
		return DeleteResult{}, fmt.Errorf("%s is the default branch of %s: the adapter does not delete it", branch, r)
	}
	sha, ok, err := c.branchSHA(ctx, r, branch)
	if err != nil {
		return DeleteResult{}, err
	}
	if !ok {
		return DeleteResult{}, fmt.Errorf("%s has no branch %s", r, branch)
	}
	out := DeleteResult{Repository: r.String(), Deleted: branch, WasAt: sha}
	if _, err := c.gh.Git.DeleteRef(ctx, r.owner, r.name, "heads/"+branch); err != nil {
		err = c.describe(err)
		if outcomeUnknown(err) {
			if _, still, gerr := c.branchSHA(ctx, r, branch); gerr == nil && !still {
				return out, nil
			}
		}
		if statusOf(err) == http.StatusUnprocessableEntity {
			return DeleteResult{}, fmt.Errorf("GitHub refused to delete branch %s of %s (a protected branch cannot be deleted): %w", branch, r, err)
		}
		return DeleteResult{}, err
	}
	return out, nil
}

// CommitSummary is one commit of a list.
type CommitSummary struct {
	SHA    string `json:"sha"`
	Title  string `json:"title"` // the message's first line
	Author string `json:"author"`
	Date   string `json:"date"`
	URL    string `json:"html_url"`
}

// CommitList is a page of commits.
type CommitList struct {
	Repository string          `json:"repository"`
	Ref        string          `json:"ref"`
	Commits    []CommitSummary `json:"commits"`
	NextPage   int             `json:"next_page,omitempty"`
}

func authorOf(rc *gh.RepositoryCommit) string {
	if l := rc.GetAuthor().GetLogin(); l != "" {
		return l
	}
	return rc.GetCommit().GetAuthor().GetName()
}

func title(message string) string {
	t, _, _ := strings.Cut(message, "\n")
	return strings.TrimSpace(t)
}

// CommitFilter narrows ListCommits.
type CommitFilter struct {
	Ref, Path, Author string
	Since, Until      time.Time
}

// ListCommits lists commits reachable from a ref, newest first.
func (c *Client) ListCommits(ctx context.Context, r Repo, f CommitFilter, lo gh.ListOptions) (CommitList, error) {
	if err := checkRef(f.Ref); err != nil {
		return CommitList{}, err
	}
	p, err := cleanPath(f.Path)
	if err != nil {
		return CommitList{}, err
	}
	cs, resp, err := c.gh.Repositories.ListCommits(ctx, r.owner, r.name, &gh.CommitsListOptions{SHA: f.Ref, Path: p,
		Author: f.Author, Since: f.Since, Until: f.Until, ListOptions: lo})
	if err != nil {
		return CommitList{}, c.describe(err)
	}
	out := CommitList{Repository: r.String(), Ref: refOrDefault(f.Ref), Commits: []CommitSummary{}, NextPage: resp.NextPage}
	for _, rc := range cs {
		out.Commits = append(out.Commits, CommitSummary{SHA: rc.GetSHA(), Title: title(rc.GetCommit().GetMessage()),
			Author: authorOf(rc), Date: rc.GetCommit().GetCommitter().GetDate().UTC().Format(time.RFC3339), URL: rc.GetHTMLURL()})
	}
	return out, nil
}

// FileChange is one file of a commit's or pull request's diff.
type FileChange struct {
	Filename         string `json:"filename"`
	Status           string `json:"status"` // added, removed, modified, renamed, ...
	Additions        int    `json:"additions"`
	Deletions        int    `json:"deletions"`
	PreviousFilename string `json:"previous_filename,omitempty"`
	Patch            string `json:"patch,omitempty"`
	PatchTruncated   bool   `json:"patch_truncated,omitempty"`
}

// maxPatch bounds each file's patch in a result.
const maxPatch = 4000

func fileChanges(files []*gh.CommitFile, withPatch bool) []FileChange {
	out := []FileChange{}
	for _, f := range files {
		fc := FileChange{Filename: f.GetFilename(), Status: f.GetStatus(), Additions: f.GetAdditions(),
			Deletions: f.GetDeletions(), PreviousFilename: f.GetPreviousFilename()}
		if withPatch {
			fc.Patch = f.GetPatch()
			if len(fc.Patch) > maxPatch {
				cut := maxPatch
				for cut > 0 && !utf8.RuneStart(fc.Patch[cut]) {
					cut--
				}
				fc.Patch, fc.PatchTruncated = fc.Patch[:cut], true
			}
		}
		out = append(out, fc)
	}
	return out
}

// CommitDetail is one commit with its diff summary and checks.
type CommitDetail struct {
	Repository string       `json:"repository"`
	SHA        string       `json:"sha"`
	Message    string       `json:"message"`
	Author     string       `json:"author"`
	Date       string       `json:"date"`
	Parents    []string     `json:"parents"`
	Additions  int          `json:"additions"`
	Deletions  int          `json:"deletions"`
	Files      []FileChange `json:"files"`
	Checks     Checks       `json:"checks"`
	URL        string       `json:"html_url"`
}

// GetCommit reads one commit (a sha or a branch's tip) with its files and checks.
func (c *Client) GetCommit(ctx context.Context, r Repo, ref string, withPatch bool) (CommitDetail, error) {
	if ref == "" {
		return CommitDetail{}, errors.New("ref (a commit sha or branch) is required")
	}
	if err := checkRef(ref); err != nil {
		return CommitDetail{}, err
	}
	rc, _, err := c.gh.Repositories.GetCommit(ctx, r.owner, r.name, ref, &gh.ListOptions{PerPage: 100})
	if err != nil {
		err = c.describe(err)
		if s := statusOf(err); s == http.StatusNotFound || s == http.StatusUnprocessableEntity {
			return CommitDetail{}, fmt.Errorf("%s has no commit or branch %q: %w", r, ref, err)
		}
		return CommitDetail{}, err
	}
	out := CommitDetail{Repository: r.String(), SHA: rc.GetSHA(), Message: rc.GetCommit().GetMessage(), Author: authorOf(rc),
		Date: rc.GetCommit().GetAuthor().GetDate().UTC().Format(time.RFC3339), Parents: []string{},
		Additions: rc.GetStats().GetAdditions(), Deletions: rc.GetStats().GetDeletions(), Files: fileChanges(rc.Files, withPatch),
		URL: rc.GetHTMLURL()}
	for _, p := range rc.Parents {
		out.Parents = append(out.Parents, p.GetSHA())
	}
	out.Checks = c.checks(ctx, r, rc.GetSHA())
	return out, nil
}

// Checks summarises a commit's check runs and commit statuses.
type Checks struct {
	// State: success, failure, pending, or none (no checks reported).
	State   string  `json:"state" jsonschema:"success, failure, pending, or none (no checks reported)"`
	Total   int     `json:"total"`
	Passed  int     `json:"passed"`
	Failed  int     `json:"failed"`
	Pending int     `json:"pending"`
	Runs    []Check `json:"runs"`
	Note    string  `json:"note,omitempty"`
}

// Check is one check run or commit status.
type Check struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // check_run or status
	Result  string `json:"result" jsonschema:"passed, failed or pending"`
	Detail  string `json:"detail,omitempty"`
	Summary string `json:"summary,omitempty"`
	URL     string `json:"url,omitempty"`
}

// checks reads the check runs (latest per name) and the combined status of a commit. A
// failure to read them is a note, not an error: the rest of the answer is still useful.
func (c *Client) checks(ctx context.Context, r Repo, sha string) Checks {
	out := Checks{Runs: []Check{}}
	var notes []string
	runs, _, err := c.gh.Checks.ListCheckRunsForRef(ctx, r.owner, r.name, sha, &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 100}})
	if err != nil {
		notes = append(notes, "check runs could not be read: "+c.describe(err).Error())
	} else {
		for _, run := range runs.CheckRuns {
			ch := Check{Name: run.GetName(), Kind: "check_run", Detail: run.GetStatus(), URL: run.GetHTMLURL(),
				Summary: oneLine(run.GetOutput().GetTitle())}
			switch {
			case run.GetStatus() != "completed":
				ch.Result = "pending"
			case run.GetConclusion() == "success" || run.GetConclusion() == "neutral" || run.GetConclusion() == "skipped":
				ch.Result, ch.Detail = "passed", run.GetConclusion()
			default:
				ch.Result, ch.Detail = "failed", run.GetConclusion()
			}
			if s := oneLine(run.GetOutput().GetSummary()); s != "" && ch.Result == "failed" {
				ch.Summary = strings.TrimPrefix(ch.Summary+": "+s, ": ")
			}
			out.Runs = append(out.Runs, ch)
		}
	}
	st, _, err := c.gh.Repositories.GetCombinedStatus(ctx, r.owner, r.name, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		notes = append(notes, "commit statuses could not be read: "+c.describe(err).Error())
	} else {
		for _, s := range st.Statuses {
			ch := Check{Name: s.GetContext(), Kind: "status", Detail: s.GetState(), Summary: oneLine(s.GetDescription()),
				URL: s.GetTargetURL()}
			switch s.GetState() {
			case "success":
				ch.Result = "passed"
			case "failure", "error":
				ch.Result = "failed"
			default:
				ch.Result = "pending"
			}
			out.Runs = append(out.Runs, ch)
		}
	}
	for _, ch := range out.Runs {
		switch ch.Result {
		case "passed":
			out.Passed++
		case "failed":
			out.Failed++
		default:
			out.Pending++
		}
	}
	out.Total = len(out.Runs)
	switch {
	case out.Failed > 0:
		out.State = "failure"
	case out.Pending > 0:
		out.State = "pending"
	case out.Total == 0:
		out.State = "none"
	default:
		out.State = "success"
	}
	out.Note = strings.Join(notes, "; ")
	return out
}

// CodeHit is one file that matches a code search.
type CodeHit struct {
	Repository string   `json:"repository"`
	Path       string   `json:"path"`
	SHA        string   `json:"sha"`
	URL        string   `json:"html_url"`
	Fragments  []string `json:"fragments,omitempty"`
}

// CodeSearch is a page of code search results.
type CodeSearch struct {
	// Query is what was sent to GitHub: the caller's query, scoped to the allowed
	// organisations.
	Query      string    `json:"query" jsonschema:"The query sent to GitHub: yours, confined to the allowed organisations"`
	Total      int       `json:"total_count"`
	Incomplete bool      `json:"incomplete_results,omitempty"`
	Items      []CodeHit `json:"items"`
	NextPage   int       `json:"next_page,omitempty"`
}

// SearchCode searches code in the configured organisations only (see ScopeQuery).
func (c *Client) SearchCode(ctx context.Context, query string, lo gh.ListOptions) (CodeSearch, error) {
	if len(c.orgs) == 0 {
		return CodeSearch{}, errors.New("code search is not configured: the adapter's GITHUB_ORGS names no organisation to search")
	}
	scoped, err := ScopeQuery(query, c.orgs)
	if err != nil {
		return CodeSearch{}, err
	}
	res, resp, err := c.gh.Search.Code(ctx, scoped, &gh.SearchOptions{TextMatch: true, ListOptions: lo})
	if err != nil {
		return CodeSearch{}, c.describe(err)
	}
	out := CodeSearch{Query: scoped, Total: res.GetTotal(), Incomplete: res.GetIncompleteResults(), Items: []CodeHit{},
		NextPage: resp.NextPage}
	for _, h := range res.CodeResults {
		hit := CodeHit{Repository: h.GetRepository().GetFullName(), Path: h.GetPath(), SHA: h.GetSHA(), URL: h.GetHTMLURL()}
		for _, tm := range h.TextMatches {
			if len(hit.Fragments) < 3 && tm.GetFragment() != "" {
				frag := tm.GetFragment()
				if len(frag) > 300 {
					cut := 300
					for cut > 0 && !utf8.RuneStart(frag[cut]) {
						cut--
					}
					frag = frag[:cut] + "…"
				}
				hit.Fragments = append(hit.Fragments, frag)
			}
		}
		out.Items = append(out.Items, hit)
	}
	return out, nil
}

// scopeQualifiers are the qualifiers that choose where GitHub searches.
var scopeQualifiers = []string{"org", "user", "owner", "repo"}

// ScopeQuery confines a code search query to orgs: a positive org:, user:, owner: or repo:
// qualifier must name one of them (a negated one, -org:x, only narrows and is kept), and a
// query without one gets "org:<o>" for each of orgs (GitHub ORs repeated org qualifiers).
// Quotes and parentheses around a qualifier do not hide it.
func ScopeQuery(query string, orgs []string) (string, error) {
	q := strings.TrimSpace(query)
	switch {
	case q == "":
		return "", errors.New("query is required")
	case len(q) > 256:
		return "", fmt.Errorf("query has %d characters; GitHub accepts at most 256", len(q))
	}
	allowed := func(owner string) bool {
		for _, o := range orgs {
			if strings.EqualFold(o, owner) {
				return true
			}
		}
		return false
	}
	scoped, terms := false, 0
	for _, field := range strings.Fields(q) {
		tok := strings.Trim(field, `"()'`)
		negated := strings.HasPrefix(tok, "-")
		tok = strings.Trim(strings.TrimLeft(tok, "-"), `"()'`)
		name, value, isQualifier := strings.Cut(tok, ":")
		name = strings.ToLower(name)
		value = strings.Trim(value, `"()'`)
		isScope := false
		for _, s := range scopeQualifiers {
			if isQualifier && name == s {
				isScope = true
			}
		}
		if !isScope {
			if !isQualifier && tok != "" && !strings.EqualFold(tok, "AND") && !strings.EqualFold(tok, "OR") && !strings.EqualFold(tok, "NOT") {
				terms++
			} else if isQualifier && name != "" && value == "" {
				return "", fmt.Errorf("qualifier %q has no value", field)
			}
			continue
		}
		switch {
		case value == "":
			return "", fmt.Errorf("qualifier %q has no value", field)
		case strings.ContainsAny(value, ",|"):
			return "", fmt.Errorf("qualifier %q names more than one owner: give one per qualifier", field)
		}
		if negated {
			continue
		}
		owner := value
		if name == "repo" {
			owner, _, _ = strings.Cut(value, "/")
		}
		if !allowed(owner) {
			return "", fmt.Errorf("code search is confined to the organisations %s; %q is outside them", strings.Join(orgs, ", "), field)
		}
		scoped = true
	}
	if terms == 0 {
		return "", errors.New("the query needs at least one search term besides qualifiers")
	}
	if !scoped {
		for _, o := range orgs {
			q += " org:" + o
		}
	}
	return q, nil
}
