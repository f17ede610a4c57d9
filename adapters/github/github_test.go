package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/gatehouse-mcp/gatehouse/adapters/github"
	"github.com/gatehouse-mcp/gatehouse/adapters/github/sim"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/adapters/kit/kittest"
	"github.com/gatehouse-mcp/gatehouse/internal/dev/stack"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// clock is the simulator's and the adapter's time, moved by tests (tokens expire on it, and
// the adapter's waits for rate limits advance it instead of sleeping).
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep is the adapter's wait: it moves the clock instead of sleeping.
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func (c *clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// secrets is a SecretSource that caches like Vault's: a changed secret is seen after
// Invalidate.
type secrets struct {
	mu          sync.Mutex
	secret      kit.Secret
	served      kit.Secret
	invalidated int
}

func (s *secrets) Get(context.Context, string) (kit.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served == nil {
		s.served = maps.Clone(s.secret)
	}
	return s.served, nil
}

func (s *secrets) Invalidate(string) { s.mu.Lock(); s.invalidated++; s.served = nil; s.mu.Unlock() }

func (s *secrets) set(secret kit.Secret) { s.mu.Lock(); s.secret = secret; s.mu.Unlock() }

func (s *secrets) invalidations() int { s.mu.Lock(); defer s.mu.Unlock(); return s.invalidated }

// appKey is one App key for the whole test binary (generating one takes a while).
var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const (
	org   = sim.Org
	repo  = sim.TemplatesRepo
	full  = org + "/" + repo
	ntp   = sim.NTPServersPath
	start = "2026-11-30T09:00:00Z"
)

type env struct {
	sim     *sim.Sim
	clock   *clock
	secrets *secrets
	server  *kit.Server
	base    string
	mcpURL  string            // the adapter's /mcp, or the dev edge's /mcp/github
	headers map[string]string // what connect sends
}

type options struct {
	secret     func(*sim.Sim) kit.Secret // default: the App with its installation id
	orgs       []string
	pathPrefix string // the simulator's, and the adapter's URL suffix
	// viaEdge puts the adapter behind the development platform (dev edge, authz service, the
	// repository's policies) and connects as admin (MFA) with a real token.
	viaEdge bool
}

func startEnv(t *testing.T, o options) *env {
	t.Helper()
	now, _ := time.Parse(time.RFC3339, start)
	clk := &clock{now: now}
	simulator := sim.New(sim.Options{Now: clk.Now, AppKey: appKey(), PathPrefix: o.pathPrefix})
	up := httptest.NewServer(simulator)
	t.Cleanup(up.Close)
	secret := kit.Secret(simulator.AppSecret())
	if o.secret != nil {
		secret = o.secret(simulator)
	}
	sec := &secrets{secret: secret}
	if o.orgs == nil {
		o.orgs = []string{org}
	}
	s := kit.NewServer(kit.Options{Name: github.ServerName, Version: "test", Logger: zerolog.Nop()})
	c, err := github.NewClient(github.Config{URL: up.URL + o.pathPrefix, Orgs: o.orgs, Secrets: sec, Registry: s.Registry,
		Log: zerolog.Nop(), Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	github.Register(s, c)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, l, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	e := &env{sim: simulator, clock: clk, secrets: sec, server: s, base: "http://" + l.Addr().String()}
	e.mcpURL, e.headers = e.base+kit.Path, map[string]string{"X-Gatehouse-Email": "dana@gatehouse.example"}
	if o.viaEdge {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stack.Start(ctx, stack.Options{PolicyDir: testkit.Root("policies"), Log: zerolog.Nop(),
			Extra: map[string]http.Handler{github.ServerName: s.Handler()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Stop)
		tok, err := st.Token("admin")
		if err != nil {
			t.Fatal(err)
		}
		e.mcpURL, e.headers = st.ServerURL(github.ServerName), map[string]string{"Authorization": "Bearer " + tok}
	}
	return e
}

func (e *env) connect(t *testing.T, version string) *client.Client {
	return kittest.Connect(t, e.mcpURL, version, e.headers)
}

// call is kittest.Call: a tool call that must (or must not) be an error result.
var call = kittest.Call

// in adds the repository to a tool's arguments.
func in(args map[string]any) map[string]any {
	out := map[string]any{"owner": org, "repo": repo}
	maps.Copy(out, args)
	return out
}

func hasEntry(es []github.Entry, name, typ string) bool {
	for _, e := range es {
		if e.Name == name && e.Type == typ {
			return true
		}
	}
	return false
}

// Every tool, called through an mcp-go client against the simulator, on every revision:
// read the templates, branch, commit, open an issue and a pull request, comment, request a
// review, see the merge refused until the check passes and a review approves, merge, and
// delete the branch.
// TestEveryTool runs every tool through an mcp-go client on all three revisions, straight to
// the adapter and through the dev edge with a real token (admin: merging needs MFA).
func TestEveryTool(t *testing.T) {
	for _, edge := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "edge"}[edge], func(t *testing.T) { everyTool(t, edge) })
	}
}

func everyTool(t *testing.T, viaEdge bool) {
	e := startEnv(t, options{viaEdge: viaEdge})
	for i, v := range []string{"2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			c := e.connect(t, v)
			tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(tools.Tools) != 19 {
				t.Fatalf("tools/list: %v, %d tools", err, len(tools.Tools))
			}

			// Reads.
			var f github.File
			call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), &f, false)
			content, sha, _ := e.sim.File(full, "main", ntp)
			if f.Text != content || f.SHA != sha || f.SHA != sim.BlobSHA([]byte(content)) || f.Truncated || f.Size != len(content) {
				t.Fatalf("get_file_contents: %+v", f)
			}
			var dir github.Directory
			call(t, c, "list_directory", in(nil), &dir, false)
			if !hasEntry(dir.Entries, "README.md", "file") || !hasEntry(dir.Entries, "catalyst-center", "dir") {
				t.Fatalf("list_directory: %+v", dir)
			}
			call(t, c, "list_directory", in(map[string]any{"path": "catalyst-center/Global-Services"}), &dir, false)
			if !hasEntry(dir.Entries, "NTP-Servers.vtl", "file") || !hasEntry(dir.Entries, "Login-Banner.vtl", "file") {
				t.Fatalf("list_directory: %+v", dir)
			}
			var branches github.BranchList
			call(t, c, "list_branches", in(nil), &branches, false)
			if branches.DefaultBranch != "main" || len(branches.Branches) < 2 || branches.Branches[1].Name != "main" ||
				!branches.Branches[1].Protected {
				t.Fatalf("list_branches: %+v", branches)
			}
			var commits github.CommitList
			call(t, c, "list_commits", in(map[string]any{"path": ntp, "until": "2025-03-01T00:00:00Z"}), &commits, false)
			if len(commits.Commits) != 3 || commits.Commits[0].Title != "NTP-Servers v3: ntp update-calendar" ||
				commits.Commits[0].Author != "nina-neteng" {
				t.Fatalf("list_commits: %+v", commits)
			}
			var cm github.CommitDetail
			call(t, c, "get_commit", in(map[string]any{"ref": commits.Commits[0].SHA, "include_patch": true}), &cm, false)
			if len(cm.Files) != 1 || cm.Files[0].Filename != ntp || cm.Files[0].Additions != 1 || cm.Checks.State != "success" ||
				!strings.Contains(cm.Files[0].Patch, "+ntp update-calendar") {
				t.Fatalf("get_commit: %+v", cm)
			}
			var hits github.CodeSearch
			call(t, c, "search_code", map[string]any{"query": `"ntp server" extension:vtl`}, &hits, false)
			if hits.Total != 1 || hits.Items[0].Path != ntp || hits.Items[0].Repository != full ||
				!strings.HasSuffix(hits.Query, "org:"+org) || len(hits.Items[0].Fragments) == 0 {
				t.Fatalf("search_code: %+v", hits)
			}
			var issues github.IssueList
			call(t, c, "list_issues", in(nil), &issues, false)
			if len(issues.Issues) != 1 || issues.Issues[0].Number != 2 || !strings.Contains(issues.Note, "1 pull request(s)") {
				t.Fatalf("list_issues: %+v", issues)
			}
			var legal github.IssueList
			call(t, c, "list_issues", in(map[string]any{"labels": []string{"legal"}, "state": "all"}), &legal, false)
			if len(legal.Issues) != 1 || legal.Issues[0].Number != 2 || legal.Note != "" {
				t.Fatalf("list_issues: %+v", legal)
			}
			var issue github.Issue
			call(t, c, "get_issue", in(map[string]any{"number": 2}), &issue, false)
			if issue.Author != "maria-lead" || len(issue.Recent) != 1 || issue.Recent[0].Body != "Opened #3 for this." {
				t.Fatalf("get_issue: %+v", issue)
			}
			var pulls github.PullList
			call(t, c, "list_pull_requests", in(map[string]any{"head": sim.BannerBranch}), &pulls, false)
			if len(pulls.PullRequests) != 1 || pulls.PullRequests[0].Number != 3 {
				t.Fatalf("list_pull_requests: %+v", pulls)
			}
			var pr github.PullRequest
			call(t, c, "get_pull_request", in(map[string]any{"number": 3}), &pr, false)
			if pr.MergeableState != "blocked" || pr.Checks.State != "failure" || len(pr.Files) != 1 ||
				pr.Files[0].Filename != sim.LoginBannerPath || pr.Files[0].Additions != 1 || pr.Reviews.Requested[0] != "nina-neteng" {
				t.Fatalf("get_pull_request: %+v", pr)
			}

			// Writes: a branch, a commit, an issue, a pull request.
			branch := "agent/ntp-" + v
			var br github.BranchResult
			call(t, c, "create_branch", in(map[string]any{"branch": branch}), &br, false)
			main, _ := e.sim.Branch(full, "main")
			if !br.Created || br.SHA != main {
				t.Fatalf("create_branch: %+v", br)
			}
			call(t, c, "create_branch", in(map[string]any{"branch": branch}), &br, false)
			if br.Created {
				t.Fatalf("create_branch again: %+v", br)
			}
			newContent := f.Text + "! reviewed on " + v + "\n"
			var w github.FileWrite
			call(t, c, "create_or_update_file", in(map[string]any{"path": ntp, "branch": branch, "content": newContent,
				"message": "NTP-Servers: note the review", "sha": f.SHA}), &w, false)
			if got, gotSHA, _ := e.sim.File(full, branch, ntp); got != newContent || w.SHA != gotSHA || w.Created || w.Commit == "" {
				t.Fatalf("create_or_update_file: %+v", w)
			}
			var created github.Issue
			call(t, c, "create_issue", in(map[string]any{"title": "Review NTP servers (" + v + ")", "body": "Check the NTP servers.",
				"labels": []string{"templates"}, "assignees": []string{"nina-neteng"}}), &created, false)
			if created.Number < 4 || created.State != "open" || created.Author != sim.BotLogin || created.Assignees[0] != "nina-neteng" {
				t.Fatalf("create_issue: %+v", created)
			}
			var comment github.Comment
			call(t, c, "add_issue_comment", in(map[string]any{"number": created.Number, "body": "Working on it."}), &comment, false)
			if comment.ID == 0 || comment.Author != sim.BotLogin {
				t.Fatalf("add_issue_comment: %+v", comment)
			}
			var opened github.PullSummary
			call(t, c, "create_pull_request", in(map[string]any{"title": "NTP-Servers: note the review", "head": branch,
				"body": "Closes #" + itoa(created.Number)}), &opened, false)
			if opened.Number != created.Number+1 || opened.Base != "main" || opened.Head != branch {
				t.Fatalf("create_pull_request: %+v", opened)
			}
			var rc github.ReviewComment
			call(t, c, "add_pull_request_review_comment", in(map[string]any{"number": opened.Number, "path": ntp, "line": 5,
				"body": "Is this line needed?"}), &rc, false)
			if rc.Line != 5 || rc.Side != "RIGHT" || rc.Commit != w.Commit {
				t.Fatalf("add_pull_request_review_comment: %+v", rc)
			}
			var rr github.ReviewRequest
			call(t, c, "request_pull_request_review", in(map[string]any{"number": opened.Number, "reviewers": []string{"nina-neteng"},
				"team_reviewers": []string{"network-engineers"}}), &rr, false)
			if len(rr.Requested) != 1 || rr.Requested[0] != "nina-neteng" || rr.RequestedTeams[0] != "network-engineers" {
				t.Fatalf("request_pull_request_review: %+v", rr)
			}

			// Execute: refused until the required check passes and a review approves.
			text := call(t, c, "merge_pull_request", in(map[string]any{"number": opened.Number}), nil, true)
			if !strings.Contains(text, `Required status check "templates/lint" is expected.`) ||
				!strings.Contains(text, "no approving review") || !strings.Contains(text, "Mergeable state: blocked") {
				t.Fatalf("merge before checks: %s", text)
			}
			if err := e.sim.SetCheckRun(full, branch, sim.LintCheck, "success"); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.Approve(full, opened.Number, "nina-neteng"); err != nil {
				t.Fatal(err)
			}
			method := []string{"merge", "squash", "rebase"}[i]
			var merged github.MergeResult
			call(t, c, "merge_pull_request", in(map[string]any{"number": opened.Number, "method": method, "sha": w.Commit}), &merged, false)
			main, _ = e.sim.Branch(full, "main")
			if !merged.Merged || merged.SHA != main || merged.Method != method {
				t.Fatalf("merge_pull_request: %+v", merged)
			}
			if got, _, _ := e.sim.File(full, "main", ntp); got != newContent {
				t.Fatalf("main after the merge has %q", got)
			}
			if st := e.sim.IssueState(full, created.Number); st != "closed" {
				t.Fatalf("the merge did not close #%d: %s", created.Number, st)
			}
			var del github.DeleteResult
			call(t, c, "delete_branch", in(map[string]any{"branch": branch}), &del, false)
			if del.Deleted != branch || del.WasAt != w.Commit {
				t.Fatalf("delete_branch: %+v", del)
			}
			if _, ok := e.sim.Branch(full, branch); ok {
				t.Fatal("the branch is still there")
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A stale sha is a conflict that names both shas, never an overwrite; the same content
// again is not a new commit; a file that exists needs its sha; a protected branch takes no
// direct commits.
func TestStaleSHAConflict(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	call(t, c, "create_branch", in(map[string]any{"branch": "agent/banner"}), nil, false)
	var f github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": sim.LoginBannerPath, "ref": "agent/banner"}), &f, false)

	// Someone else changes the file after it was read.
	if _, err := e.sim.Push(full, "agent/banner", "nina-neteng", "Banner: company name", map[string]string{
		sim.LoginBannerPath: strings.Replace(f.Text, "$company", "${company}", 1)}); err != nil {
		t.Fatal(err)
	}
	_, current, _ := e.sim.File(full, "agent/banner", sim.LoginBannerPath)
	puts := e.sim.Requests("PUT", "/repos/"+full+"/contents/")
	mine := f.Text + "Unauthorised use is prohibited.\n"
	text := call(t, c, "create_or_update_file", in(map[string]any{"path": sim.LoginBannerPath, "branch": "agent/banner",
		"content": mine, "message": "Banner: prohibit", "sha": f.SHA}), nil, true)
	want := "the file changed since you read it: your sha " + f.SHA + ", current " + current + "; read it again"
	if !strings.Contains(text, want) || !strings.Contains(text, "409") {
		t.Fatalf("stale sha:\n%s\nwant %q", text, want)
	}
	if n := e.sim.Requests("PUT", "/repos/"+full+"/contents/") - puts; n != 1 {
		t.Fatalf("%d PUTs for a stale sha, want 1", n)
	}
	if got, _, _ := e.sim.File(full, "agent/banner", sim.LoginBannerPath); strings.Contains(got, "prohibited") {
		t.Fatal("a stale sha overwrote the file")
	}

	// With the current sha it is written; the same call again commits nothing more.
	var w github.FileWrite
	call(t, c, "create_or_update_file", in(map[string]any{"path": sim.LoginBannerPath, "branch": "agent/banner",
		"content": mine, "message": "Banner: prohibit", "sha": current}), &w, false)
	tip, _ := e.sim.Branch(full, "agent/banner")
	var again github.FileWrite
	call(t, c, "create_or_update_file", in(map[string]any{"path": sim.LoginBannerPath, "branch": "agent/banner",
		"content": mine, "message": "Banner: prohibit", "sha": current}), &again, false)
	if tip2, _ := e.sim.Branch(full, "agent/banner"); !again.Unchanged || again.SHA != w.SHA || tip2 != tip {
		t.Fatalf("repeated write: %+v (tip %s -> %s)", again, tip, tip2)
	}

	// Creating a file that exists needs its sha.
	text = call(t, c, "create_or_update_file", in(map[string]any{"path": sim.LoginBannerPath, "branch": "agent/banner",
		"content": "banner login ^C\nHi\n^C\n", "message": "Banner: short"}), nil, true)
	if !strings.Contains(text, "already exists on agent/banner (sha "+w.SHA+")") {
		t.Fatalf("create over an existing file: %s", text)
	}
	// A new file is created without a sha.
	call(t, c, "create_or_update_file", in(map[string]any{"path": "catalyst-center/Global-Services/SNMP.vtl", "branch": "agent/banner",
		"content": "snmp-server community $community RO\n", "message": "SNMP template"}), &w, false)
	if !w.Created {
		t.Fatalf("new file: %+v", w)
	}
	// main is protected: changes go through pull requests.
	text = call(t, c, "create_or_update_file", in(map[string]any{"path": "README.md", "content": "# templates\n",
		"message": "Shorter README", "sha": sim.BlobSHA([]byte(mustFile(t, e, "main", "README.md")))}), nil, true)
	if !strings.Contains(text, "branch main of "+full+" is protected") || !strings.Contains(text, "pull request") {
		t.Fatalf("protected main: %s", text)
	}
}

func mustFile(t *testing.T, e *env, ref, path string) string {
	t.Helper()
	content, _, ok := e.sim.File(full, ref, path)
	if !ok {
		t.Fatalf("no %s on %s", path, ref)
	}
	return content
}

// The seeded pull request #3 fails its required check and has no approval: the merge is
// refused with the reasons. Once CI passes and a reviewer approves, it merges; a head that
// moved since it was reviewed is refused too.
func TestMergeRefusedThenSucceeds(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2026-07-28")
	var pr github.PullRequest
	call(t, c, "get_pull_request", in(map[string]any{"number": 3}), &pr, false)
	text := call(t, c, "merge_pull_request", in(map[string]any{"number": 3, "method": "squash", "sha": pr.HeadSHA}), nil, true)
	for _, want := range []string{"GitHub refused to merge pull request #3 of " + full + " into main",
		`Required status check "templates/lint" is failing.`, "At least 1 approving review is required",
		"failing checks: templates/lint (failure: 1 template failed lint", "no approving review"} {
		if !strings.Contains(text, want) {
			t.Fatalf("refused merge lacks %q:\n%s", want, text)
		}
	}
	if st, _ := e.sim.PullRequest(full, 3); st.Merged {
		t.Fatal("merged anyway")
	}

	// CI fixes the banner and passes; nina approves.
	head, err := e.sim.Push(full, sim.BannerBranch, "dana-dev", "Banner: shorter lines", map[string]string{
		sim.LoginBannerPath: "banner login ^C\nAuthorized access to $company systems only.\nActivity is monitored.\n^C\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetCheckRun(full, head, sim.LintCheck, "success"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Approve(full, 3, "nina-neteng"); err != nil {
		t.Fatal(err)
	}
	// The head moved since pr.HeadSHA was read: refused, naming the new head.
	text = call(t, c, "merge_pull_request", in(map[string]any{"number": 3, "method": "squash", "sha": pr.HeadSHA}), nil, true)
	if !strings.Contains(text, "its head moved from "+pr.HeadSHA+" to "+head) {
		t.Fatalf("moved head: %s", text)
	}
	var merged github.MergeResult
	call(t, c, "merge_pull_request", in(map[string]any{"number": 3, "method": "squash", "sha": head}), &merged, false)
	st, _ := e.sim.PullRequest(full, 3)
	main, _ := e.sim.Branch(full, "main")
	if !merged.Merged || !st.Merged || st.MergeCommit != main || merged.SHA != main {
		t.Fatalf("merge: %+v, sim %+v", merged, st)
	}
	if e.sim.IssueState(full, 2) != "closed" {
		t.Fatal("Closes #2 did not close issue #2")
	}
	text = call(t, c, "merge_pull_request", in(map[string]any{"number": 3}), nil, true)
	if !strings.Contains(text, "already merged (merge commit "+main+")") {
		t.Fatalf("merging twice: %s", text)
	}
}

// An installation token is renewed five minutes before its hour is up, and again when
// GitHub drops it mid-session (401); a JWT GitHub refuses after the App's key was rotated
// makes the adapter read the secret again. Without installation_id, the installation is
// found on the configured organisation.
func TestInstallationTokenRenewed(t *testing.T) {
	e := startEnv(t, options{secret: func(s *sim.Sim) kit.Secret {
		sec := s.AppSecret()
		delete(sec, "installation_id")
		return sec
	}})
	c := e.connect(t, "2025-11-25")
	read := func() {
		t.Helper()
		call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), nil, false)
	}
	read()
	if n := e.sim.TokensIssued(); n != 1 || e.sim.Requests("GET", "/orgs/"+org+"/installation") != 1 {
		t.Fatalf("%d tokens, %d installation lookups after the first call", n, e.sim.Requests("GET", "/orgs/"+org+"/installation"))
	}
	e.clock.Advance(50 * time.Minute)
	read()
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens at 50 minutes, want 1", n)
	}
	// Within five minutes of expiry, a new token is minted before the call: GitHub sees no
	// expired token.
	e.clock.Advance(6 * time.Minute)
	read()
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens at 56 minutes, want 2", n)
	}
	// GitHub drops the token mid-session: the 401 leads to one new token and the call works.
	unauthorized := e.sim.Requests("GET", "/repos/")
	e.sim.ExpireInstallationTokens()
	read()
	if n := e.sim.TokensIssued(); n != 3 {
		t.Fatalf("%d tokens after GitHub dropped them, want 3", n)
	}
	if n := e.sim.Requests("GET", "/repos/") - unauthorized; n != 2 {
		t.Fatalf("%d GETs for one read across a 401, want 2", n)
	}
	// The App's key is rotated in GitHub and in Vault: the old JWT is refused, the secret is
	// read again, and the new key works.
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.RotateAppKey(newKey)
	e.sim.ExpireInstallationTokens()
	sec := kit.Secret(e.sim.AppSecret())
	delete(sec, "installation_id")
	e.secrets.set(sec)
	before := e.secrets.invalidations()
	read()
	if e.secrets.invalidations() == before || e.sim.TokensIssued() != 4 {
		t.Fatalf("after the key rotation: %d invalidations, %d tokens", e.secrets.invalidations()-before, e.sim.TokensIssued())
	}
}

// Without installation_id or organisations, the App's only installation is used.
func TestInstallationFromTheAppsList(t *testing.T) {
	e := startEnv(t, options{orgs: []string{}, secret: func(s *sim.Sim) kit.Secret {
		sec := s.AppSecret()
		delete(sec, "installation_id")
		return sec
	}})
	c := e.connect(t, "2025-11-25")
	call(t, c, "list_pull_requests", in(nil), nil, false)
	if e.sim.Requests("GET", "/app/installations") != 1 || e.sim.TokensIssued() != 1 {
		t.Fatalf("%d installation lists, %d tokens", e.sim.Requests("GET", "/app/installations"), e.sim.TokensIssued())
	}
}

// Broken credentials are reported as such, and a write that was never sent is not called
// uncertain.
func TestBrokenCredentials(t *testing.T) {
	e := startEnv(t, options{secret: func(*sim.Sim) kit.Secret {
		return kit.Secret{"app_id": itoa(sim.DefaultAppID), "installation_id": itoa(sim.DefaultInstallationID), "private_key": "nope"}
	}})
	c := e.connect(t, "2025-11-25")
	text := call(t, c, "create_issue", in(map[string]any{"title": "x"}), nil, true)
	if !strings.Contains(text, "private_key is not a PEM block") || strings.Contains(text, "may or may not") {
		t.Fatalf("broken key: %s", text)
	}
	e.secrets.set(kit.Secret{"app_id": itoa(sim.DefaultAppID), "private_key": e.sim.AppPrivateKeyPEM(), "installation_id": "42"})
	e.secrets.Invalidate(github.ServerName)
	text = call(t, c, "list_issues", in(nil), nil, true)
	if !strings.Contains(text, "GitHub refused an installation token for installation 42: 404 Not Found") {
		t.Fatalf("unknown installation: %s", text)
	}
}

// A fine-grained token works too; a wrong one is refused in words, and a rotated one is
// read again after the 401.
func TestPersonalAccessToken(t *testing.T) {
	e := startEnv(t, options{secret: func(*sim.Sim) kit.Secret { return kit.Secret{"token": "github_pat_wrong"} }})
	c := e.connect(t, "2025-06-18")
	text := call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), nil, true)
	if !strings.Contains(text, "401") || !strings.Contains(text, "credentials were refused") || !strings.Contains(text, "Bad credentials") {
		t.Fatalf("wrong token: %s", text)
	}
	e.secrets.set(kit.Secret{"token": sim.DefaultToken})
	var issue github.Issue
	call(t, c, "create_issue", in(map[string]any{"title": "From a token"}), &issue, false)
	if issue.Author != "dana-dev" {
		t.Fatalf("issue by %s, want dana-dev", issue.Author)
	}
}

// A secondary rate limit on a read is waited out (Retry-After) and retried; when it
// persists it is surfaced in words, and the adapter then holds requests back until
// Retry-After has passed. A write is never retried.
func TestSecondaryRateLimit(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	read := map[string]any{"path": ntp}
	call(t, c, "get_file_contents", in(read), nil, false) // token minted
	gets := e.sim.Requests("GET", "/repos/")
	e.sim.SecondaryLimit(http.StatusForbidden, 1, 3*time.Second)
	call(t, c, "get_file_contents", in(read), nil, false)
	if n := e.sim.Requests("GET", "/repos/") - gets; n != 2 || len(e.clock.Slept()) != 1 || e.clock.Slept()[0] != 3*time.Second {
		t.Fatalf("one secondary limit: %d GETs, waits %v", n, e.clock.Slept())
	}

	e.sim.SecondaryLimit(http.StatusTooManyRequests, 3, 2*time.Second)
	text := call(t, c, "get_file_contents", in(read), nil, true)
	for _, want := range []string{"GitHub's secondary rate limit refused the request (429 Too Many Requests", "3 times",
		"retry after", "(in 2s)", "You have exceeded a secondary rate limit"} {
		if !strings.Contains(text, want) {
			t.Fatalf("persistent secondary limit lacks %q: %s", want, text)
		}
	}
	gets = e.sim.Requests("", "/repos/")
	text = call(t, c, "list_branches", in(nil), nil, true)
	if !strings.Contains(text, "not sent to GitHub: its secondary rate limit asked the adapter to wait") ||
		e.sim.Requests("", "/repos/") != gets {
		t.Fatalf("held back: %s (%d requests)", text, e.sim.Requests("", "/repos/")-gets)
	}
	e.clock.Advance(3 * time.Second)
	call(t, c, "list_branches", in(nil), nil, false)

	posts := e.sim.Requests("POST", "/repos/"+full+"/issues")
	e.sim.SecondaryLimit(http.StatusForbidden, 1, time.Second)
	text = call(t, c, "create_issue", in(map[string]any{"title": "Not twice"}), nil, true)
	if n := e.sim.Requests("POST", "/repos/"+full+"/issues") - posts; n != 1 || !strings.Contains(text, "secondary rate limit") {
		t.Fatalf("a rate-limited write was sent %d times: %s", n, text)
	}
}

// An exhausted primary budget is surfaced with its reset time, and nothing more is sent to
// GitHub for that resource until then.
func TestPrimaryRateLimit(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	e.sim.SetRateLimit("core", 2)
	call(t, c, "list_branches", in(nil), nil, false) // GET /repos, GET /branches
	text := call(t, c, "get_issue", in(map[string]any{"number": 2}), nil, true)
	if !strings.Contains(text, "GitHub's primary rate limit for core requests (2 per window) is used up; it resets at") ||
		!strings.Contains(text, "API rate limit exceeded for installation ID") {
		t.Fatalf("exhausted: %s", text)
	}
	n := e.sim.Requests("", "/repos/")
	text = call(t, c, "get_issue", in(map[string]any{"number": 2}), nil, true)
	if !strings.Contains(text, "not sent to GitHub: the adapter's core rate limit is used up") || e.sim.Requests("", "/repos/") != n {
		t.Fatalf("held back: %s", text)
	}
	e.clock.Advance(time.Hour + time.Minute)
	call(t, c, "get_issue", in(map[string]any{"number": 2}), nil, false)
}

// A repeated read is a conditional request: GitHub answers 304, which does not count
// against the rate limit, and the result is the same.
func TestConditionalRequests(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	var first, second github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), &first, false)
	used := e.sim.RateUsed("core")
	before := e.sim.NotModified()
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), &second, false)
	if e.sim.NotModified() != before+1 || second != first {
		t.Fatalf("repeat: %d 304s, %+v vs %+v", e.sim.NotModified()-before, second, first)
	}
	if got := e.sim.RateUsed("core"); got != used {
		t.Fatalf("a 304 counted against the rate limit: used %d -> %d", used, got)
	}
	// A change makes the next read a 200 with the new content.
	if _, err := e.sim.Push(full, sim.BannerBranch, "dana-dev", "touch", map[string]string{"x.txt": "x\n"}); err != nil {
		t.Fatal(err)
	}
	var branches github.BranchList
	call(t, c, "list_branches", in(nil), &branches, false)
	before = e.sim.NotModified()
	call(t, c, "list_branches", in(nil), &branches, false)
	if e.sim.NotModified() != before+2 { // the repository and its branches
		t.Fatalf("%d 304s for a repeated list_branches, want 2", e.sim.NotModified()-before)
	}
}

// A write whose answer is lost is not sent again blindly: the file is read back, and the
// write found done; a merge whose answer is lost is found merged.
func TestLostAnswers(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	call(t, c, "create_branch", in(map[string]any{"branch": "agent/lost"}), nil, false)
	var f github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp, "ref": "agent/lost"}), &f, false)
	puts := func() int { return e.sim.Requests("PUT", "/repos/"+full+"/contents/") }
	n := puts()
	e.sim.LoseNextWrite()
	var w github.FileWrite
	call(t, c, "create_or_update_file", in(map[string]any{"path": ntp, "branch": "agent/lost", "content": f.Text + "! lost\n",
		"message": "lost answer", "sha": f.SHA}), &w, false)
	_, cur, _ := e.sim.File(full, "agent/lost", ntp)
	tip, _ := e.sim.Branch(full, "agent/lost")
	if puts()-n != 1 || w.SHA != cur || w.Commit != tip || !strings.Contains(w.Note, "answer was lost") {
		t.Fatalf("lost answer: %d PUTs, %+v", puts()-n, w)
	}
	// A 502 before GitHub did anything: the file is unchanged, so the sha-guarded write is
	// sent once more.
	n = puts()
	e.sim.FailNext(http.StatusBadGateway, 1)
	var w2 github.FileWrite
	call(t, c, "create_or_update_file", in(map[string]any{"path": ntp, "branch": "agent/lost", "content": f.Text + "! again\n",
		"message": "after a 502", "sha": cur}), &w2, false)
	if puts()-n != 2 || w2.Note != "" || w2.SHA == cur {
		t.Fatalf("after a 502: %d PUTs, %+v", puts()-n, w2)
	}
	// The read-back meets a 502 too: reads are retried.
	n = puts()
	e.sim.FailNext(http.StatusBadGateway, 2)
	var w3 github.FileWrite
	call(t, c, "create_or_update_file", in(map[string]any{"path": ntp, "branch": "agent/lost", "content": f.Text + "! third\n",
		"message": "after two 502s", "sha": w2.SHA}), &w3, false)
	if puts()-n != 2 || w3.Note != "" {
		t.Fatalf("after two 502s: %d PUTs, %+v", puts()-n, w3)
	}

	var opened github.PullSummary
	call(t, c, "create_pull_request", in(map[string]any{"title": "Lost merge", "head": "agent/lost"}), &opened, false)
	if err := e.sim.SetCheckRun(full, "agent/lost", sim.LintCheck, "success"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Approve(full, opened.Number, "maria-lead"); err != nil {
		t.Fatal(err)
	}
	e.sim.LoseNextWrite()
	var merged github.MergeResult
	call(t, c, "merge_pull_request", in(map[string]any{"number": opened.Number}), &merged, false)
	if main, _ := e.sim.Branch(full, "main"); !merged.Merged || merged.SHA != main || !strings.Contains(merged.Note, "answer was lost") {
		t.Fatalf("lost merge: %+v", merged)
	}
	if e.sim.Requests("PUT", "/repos/"+full+"/pulls/") != 1 {
		t.Fatal("the merge was sent twice")
	}
}

// Code search stays inside the configured organisations, even with a token that sees more.
func TestCodeSearchConfined(t *testing.T) {
	e := startEnv(t, options{secret: func(s *sim.Sim) kit.Secret { return kit.Secret(s.TokenSecret()) }})
	c := e.connect(t, "2025-11-25")
	var hits github.CodeSearch
	call(t, c, "search_code", map[string]any{"query": "ntp server"}, &hits, false)
	if hits.Total == 0 {
		t.Fatal("no hits")
	}
	for _, h := range hits.Items {
		if !strings.HasPrefix(h.Repository, org+"/") {
			t.Fatalf("a hit outside %s: %+v", org, h)
		}
	}
	for _, q := range []string{"ntp org:acme-corp", "ntp repo:acme-corp/firewall-rules", `ntp "user:acme-corp"`, "ntp (org:acme-corp)"} {
		text := call(t, c, "search_code", map[string]any{"query": q}, nil, true)
		if !strings.Contains(text, "code search is confined to the organisations "+org) {
			t.Fatalf("%s: %s", q, text)
		}
	}
	call(t, c, "search_code", map[string]any{"query": "deploy repo:gatehouse-net/automation"}, &hits, false)
	if hits.Total != 1 || hits.Items[0].Path != "deploy_templates.py" {
		t.Fatalf("repo-scoped search: %+v", hits)
	}

	none := startEnv(t, options{orgs: []string{}})
	text := call(t, none.connect(t, "2025-11-25"), "search_code", map[string]any{"query": "ntp"}, nil, true)
	if !strings.Contains(text, "GITHUB_ORGS") {
		t.Fatalf("no organisations: %s", text)
	}
}

// A GitHub Enterprise Server URL (…/api/v3) is served under /api/v3.
func TestEnterpriseServerURL(t *testing.T) {
	e := startEnv(t, options{pathPrefix: "/api/v3"})
	c := e.connect(t, "2025-11-25")
	var f github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), &f, false)
	if f.SHA == "" || !strings.Contains(f.URL, "/"+full+"/blob/") {
		t.Fatalf("GHES: %+v", f)
	}
	var pulls github.PullList
	call(t, c, "list_pull_requests", in(map[string]any{"state": "all", "per_page": 1}), &pulls, false)
	if len(pulls.PullRequests) != 1 {
		t.Fatalf("GHES pulls: %+v", pulls)
	}
}

// Arguments that would address something else, or that GitHub would refuse, are refused in
// words before any request.
func TestArgumentsRefused(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	before := e.sim.Requests("", "/")
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"get_file_contents", map[string]any{"owner": "gatehouse-net/../../orgs", "repo": "x", "path": "a"}, "is not a GitHub user or organisation name"},
		{"get_file_contents", map[string]any{"owner": org, "repo": "..", "path": "a"}, "is not a repository name"},
		{"get_file_contents", in(map[string]any{"path": "a/../../b"}), "has an empty, . or .. segment"},
		{"create_branch", in(map[string]any{"branch": "bad..name"}), "is not a valid branch name"},
		{"merge_pull_request", in(map[string]any{"number": 3, "method": "octopus"}), "method must be merge, squash or rebase"},
		{"list_issues", in(map[string]any{"state": "any"}), "state must be open, closed or all"},
		{"list_commits", in(map[string]any{"since": "yesterday"}), "since must be an RFC 3339 time"},
		{"get_file_contents", in(map[string]any{"path": ntp, "max_bytes": 1 << 20}), "max_bytes must be 1 to 262144"},
	} {
		text := call(t, c, tc.tool, tc.args, nil, true)
		if !strings.Contains(text, tc.want) {
			t.Errorf("%s %v: %s", tc.tool, tc.args, text)
		}
	}
	if n := e.sim.Requests("", "/") - before; n != 0 {
		t.Fatalf("%d requests reached GitHub", n)
	}
	// A directory is not a file, and a file is not a directory.
	if text := call(t, c, "get_file_contents", in(map[string]any{"path": "catalyst-center"}), nil, true); !strings.Contains(text, "use list_directory") {
		t.Fatal(text)
	}
	if text := call(t, c, "list_directory", in(map[string]any{"path": ntp}), nil, true); !strings.Contains(text, "use get_file_contents") {
		t.Fatal(text)
	}
	if text := call(t, c, "get_file_contents", in(map[string]any{"path": "nope.txt"}), nil, true); !strings.Contains(text, "has no nope.txt on the default branch") {
		t.Fatal(text)
	}
	if text := call(t, c, "delete_branch", in(map[string]any{"branch": "main"}), nil, true); !strings.Contains(text, "is the default branch") {
		t.Fatal(text)
	}
}

// Long files are cut at a line end with the truncation stated, and read on from next_offset.
func TestLongFileTruncated(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	var lines strings.Builder
	for i := 0; i < 2000; i++ {
		lines.WriteString("interface GigabitEthernet1/0/" + itoa(i) + "\n description access port\n")
	}
	if _, err := e.sim.Push(full, sim.BannerBranch, "dana-dev", "big", map[string]string{"big.cfg": lines.String()}); err != nil {
		t.Fatal(err)
	}
	var f github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": "big.cfg", "ref": sim.BannerBranch, "max_bytes": 1000}), &f, false)
	if !f.Truncated || len(f.Text) > 1000 || !strings.HasSuffix(f.Text, "\n") || f.NextOffset != len(f.Text) ||
		!strings.Contains(f.Note, "call again with offset") {
		t.Fatalf("cut: %+v", f)
	}
	var next github.File
	call(t, c, "get_file_contents", in(map[string]any{"path": "big.cfg", "ref": sim.BannerBranch, "offset": f.NextOffset,
		"max_bytes": 1000}), &next, false)
	if !strings.HasPrefix(lines.String()[f.NextOffset:], next.Text) || next.Offset != f.NextOffset {
		t.Fatalf("next: %+v", next)
	}
}

// Every upstream request is counted in the kit's gatehouse_upstream_requests_total.
func TestUpstreamRequestsCounted(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), nil, false)
	call(t, c, "get_file_contents", in(map[string]any{"path": ntp}), nil, false)
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`gatehouse_upstream_requests_total{server="github",status="200"}`,
		`gatehouse_upstream_requests_total{server="github",status="201"}`, // the installation token
		`gatehouse_upstream_requests_total{server="github",status="304"}`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
}

// One snapshot per tool of what tools/list serves.
func TestToolSnaps(t *testing.T) {
	e := startEnv(t, options{})
	c := e.connect(t, "2025-11-25")
	tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kittest.ToolSnaps(t, tools.Tools, "testdata/toolsnaps")
}

// Register with a nil client declares every tool with its action class (for the catalog).
func TestDeclarations(t *testing.T) {
	s := kit.NewServer(kit.Options{Name: github.ServerName, Logger: zerolog.Nop()})
	github.Register(s, nil)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	classes := map[string]kit.Action{}
	for _, d := range s.Declared() {
		classes[d.Name] = d.Action
		if d.Action == kit.Execute && d.Annotations.Destructive != kit.Yes {
			t.Errorf("%s is execute but not destructive", d.Name)
		}
	}
	for name, want := range map[string]kit.Action{"get_file_contents": kit.Read, "search_code": kit.Read,
		"create_or_update_file": kit.Write, "create_pull_request": kit.Write, "merge_pull_request": kit.Execute,
		"delete_branch": kit.Execute} {
		if classes[name] != want {
			t.Errorf("%s: %s, want %s", name, classes[name], want)
		}
	}
	if len(classes) != 19 {
		t.Fatalf("%d tools", len(classes))
	}
}
