package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Test controls that change the world the way GitHub's other users and CI would.

func (s *Sim) repoNamed(fullName string) (*repo, error) {
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil, fmt.Errorf("github sim: no repository %q", fullName)
	}
	return r, nil
}

func (s *Sim) commitNamed(r *repo, ref string) (*commit, error) {
	c := s.resolve(r, ref)
	if c == nil {
		return nil, fmt.Errorf("github sim: %s has no commit %q", r.fullName(), ref)
	}
	return c, nil
}

// SetCheckRun adds a check run named name on the commit ref (a branch or sha) of repo
// ("owner/name"), as a CI system would: conclusion success, failure, neutral, cancelled,
// skipped, timed_out or action_required completes it; "" leaves it in progress. The latest
// run of a name is the one that counts.
func (s *Sim) SetCheckRun(repo, ref, name, conclusion string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return err
	}
	c, err := s.commitNamed(r, ref)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	run := &checkRun{ID: s.nextID(), Name: name, HeadSHA: c.SHA, Status: "in_progress", Started: now}
	if conclusion != "" {
		run.Status, run.Conclusion, run.Completed = "completed", conclusion, now
		run.Title = name + ": " + conclusion
	}
	r.CheckRuns[c.SHA] = append(r.CheckRuns[c.SHA], run)
	return nil
}

// SetStatus adds a commit status (error, failure, pending, success) for context on ref.
func (s *Sim) SetStatus(repo, ref, context, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return err
	}
	c, err := s.commitNamed(r, ref)
	if err != nil {
		return err
	}
	r.Statuses[c.SHA] = append(r.Statuses[c.SHA], &status{ID: s.nextID(), Context: context, State: state,
		Creator: "dana-dev", Created: s.opts.Now()})
	return nil
}

// Approve submits an approving review of pull request number by reviewer (a seeded user).
func (s *Sim) Approve(repo string, number int, reviewer string) error {
	return s.submitReview(repo, number, reviewer, "APPROVE", "Looks good.")
}

// RequestChanges submits a review by reviewer that requests changes.
func (s *Sim) RequestChanges(repo string, number int, reviewer, body string) error {
	return s.submitReview(repo, number, reviewer, "REQUEST_CHANGES", body)
}

func (s *Sim) submitReview(repo string, number int, reviewer, event, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return err
	}
	if number < 1 || number > len(r.Items) || r.Items[number-1].PR == nil {
		return fmt.Errorf("github sim: %s has no pull request #%d", repo, number)
	}
	if s.users[strings.ToLower(reviewer)] == nil {
		return fmt.Errorf("github sim: no user %q", reviewer)
	}
	if _, aerr := s.review(r, r.Items[number-1], reviewer, event, body, ""); aerr != nil {
		msg := aerr.msg
		for _, e := range aerr.errs {
			msg += fmt.Sprintf(": %v", e["message"])
		}
		return errors.New("github sim: " + msg)
	}
	return nil
}

// Push commits files (path -> content; "" deletes) on branch as login, as someone pushing
// from elsewhere would, and returns the new commit's sha. The branch must exist.
func (s *Sim) Push(repo, branch, login, message string, files map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return "", err
	}
	tip, ok := r.Branches[branch]
	if !ok {
		return "", fmt.Errorf("github sim: %s has no branch %q", repo, branch)
	}
	u := s.users[strings.ToLower(login)]
	if u == nil {
		return "", fmt.Errorf("github sim: no user %q", login)
	}
	next := copyFiles(s.git.commits[tip].Files)
	for p, content := range files {
		if content == "" {
			delete(next, p)
			continue
		}
		next[p] = s.git.putBlob([]byte(content))
	}
	who := person{Name: u.Name, Email: u.Email, Login: u.Login, Date: s.opts.Now().UTC().Truncate(time.Second)}
	c := s.git.writeCommit(next, []string{tip}, who, who, message)
	r.Branches[branch] = c.SHA
	r.Pushed = s.opts.Now()
	return c.SHA, nil
}

// File reads a file at ref (a branch or sha): its content and blob sha.
func (s *Sim) File(repo, ref, path string) (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return "", "", false
	}
	c := s.resolve(r, ref)
	if c == nil {
		return "", "", false
	}
	sha, ok := c.Files[strings.Trim(path, "/")]
	if !ok {
		return "", "", false
	}
	return string(s.git.blobs[sha]), sha, true
}

// Branch reports the commit a branch points at.
func (s *Sim) Branch(repo, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil {
		return "", false
	}
	sha, ok := r.Branches[name]
	return sha, ok
}

// PullState is what tests read about a pull request.
type PullState struct {
	State          string // open, closed
	Merged         bool
	MergeCommit    string
	Head, HeadSHA  string
	MergeableState string
	Requested      []string
}

// PullRequest reads pull request number of repo.
func (s *Sim) PullRequest(repo string, number int) (PullState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil || number < 1 || number > len(r.Items) || r.Items[number-1].PR == nil {
		return PullState{}, false
	}
	it := r.Items[number-1]
	_, state, _ := s.mergeState(r, it)
	return PullState{State: it.State, Merged: it.PR.Merged, MergeCommit: it.PR.MergeCommit, Head: it.PR.Head,
		HeadSHA: s.headSHA(r, it), MergeableState: state, Requested: append([]string(nil), it.PR.Requested...)}, true
}

// IssueState reads the state (open, closed) of issue or pull request number.
func (s *Sim) IssueState(repo string, number int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoNamed(repo)
	if err != nil || number < 1 || number > len(r.Items) {
		return ""
	}
	return r.Items[number-1].State
}
