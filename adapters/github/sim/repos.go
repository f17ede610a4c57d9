package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	contentsDocs = docsBase + "/repos/contents"
	branchDocs   = docsBase + "/branches/branches"
	refsDocs     = docsBase + "/git/refs"
	commitsDocs  = docsBase + "/commits/commits"
	statusDocs   = docsBase + "/commits/statuses"
	checksDocs   = docsBase + "/checks/runs"
)

func (s *Sim) getRepo(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.repoJSON(c, r), nil
}

// canPush refuses a write by a caller without write access.
func (c *call) canPush(r *repo) error {
	if !r.isCollaborator(c.who.login) {
		if c.who.kind == kindInstallation {
			return errorf(http.StatusForbidden, docsBase, "Resource not accessible by integration")
		}
		return errorf(http.StatusForbidden, docsBase, "Must have push access to repository")
	}
	return nil
}

func (s *Sim) entryJSON(c *call, r *repo, ref, path string, e treeEntry) map[string]any {
	kind, size := "file", len(s.git.blobs[e.SHA])
	gitURL := c.api + "/repos/" + r.fullName() + "/git/blobs/" + e.SHA
	var download any = c.html + "/" + r.fullName() + "/raw/" + ref + "/" + escapePath(path)
	if e.isDir() {
		kind, size, download = "dir", 0, nil
		gitURL = c.api + "/repos/" + r.fullName() + "/git/trees/" + e.SHA
	}
	self := c.api + "/repos/" + r.fullName() + "/contents/" + escapePath(path) + "?ref=" + ref
	html := c.html + "/" + r.fullName() + "/blob/" + ref + "/" + escapePath(path)
	if e.isDir() {
		html = c.html + "/" + r.fullName() + "/tree/" + ref + "/" + escapePath(path)
	}
	name := path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		name = path[i+1:]
	}
	return map[string]any{"type": kind, "size": size, "name": name, "path": path, "sha": e.SHA, "url": self,
		"git_url": gitURL, "html_url": html, "download_url": download,
		"_links": map[string]any{"self": self, "git": gitURL, "html": html}}
}

// base64Lines encodes content as GitHub's contents API does: base64 in lines of 60
// characters, each ending in a newline.
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(enc) > 60 {
		out.WriteString(enc[:60])
		out.WriteByte('\n')
		enc = enc[60:]
	}
	if enc != "" {
		out.WriteString(enc)
		out.WriteByte('\n')
	}
	return out.String()
}

func (s *Sim) getContents(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	ref := c.r.URL.Query().Get("ref")
	cm := s.resolve(r, ref)
	if cm == nil {
		return 0, nil, errorf(http.StatusNotFound, contentsDocs+"#get-repository-content", "No commit found for the ref %s", ref)
	}
	if ref == "" {
		ref = r.DefaultBranch
	}
	path := strings.Trim(c.param("path"), "/")
	e, ok := s.git.lookup(cm, path)
	if !ok {
		return 0, nil, notFound(contentsDocs + "#get-repository-content")
	}
	if !e.isDir() {
		out := s.entryJSON(c, r, ref, path, e)
		out["encoding"] = "base64"
		out["content"] = base64Lines(s.git.blobs[e.SHA])
		return http.StatusOK, out, nil
	}
	entries := []any{}
	for _, child := range s.git.trees[e.SHA] {
		p := child.Name
		if path != "" {
			p = path + "/" + child.Name
		}
		entries = append(entries, s.entryJSON(c, r, ref, p, child))
	}
	return http.StatusOK, entries, nil
}

type identity struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (s *Sim) putContents(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Message   *string   `json:"message"`
		Content   *string   `json:"content"`
		SHA       string    `json:"sha"`
		Branch    string    `json:"branch"`
		Author    *identity `json:"author"`
		Committer *identity `json:"committer"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	doc := contentsDocs + "#create-or-update-file-contents"
	switch {
	case body.Message == nil:
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Invalid request.\n\n\"message\" wasn't supplied.")
	case body.Content == nil:
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Invalid request.\n\n\"content\" wasn't supplied.")
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	content, derr := base64.StdEncoding.DecodeString(strings.ReplaceAll(*body.Content, "\n", ""))
	if derr != nil {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "content is not valid Base64")
	}
	path := strings.Trim(c.param("path"), "/")
	if path == "" || slices.Contains(strings.Split(path, "/"), "..") || slices.Contains(strings.Split(path, "/"), ".") {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "path contains a malformed path component")
	}
	branch := body.Branch
	if branch == "" {
		branch = r.DefaultBranch
	}
	tipSHA, ok := r.Branches[branch]
	if !ok {
		return 0, nil, errorf(http.StatusNotFound, doc, "Branch %s not found", branch)
	}
	tip := s.git.commits[tipSHA]
	if e, ok := s.git.lookup(tip, path); ok && e.isDir() {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Invalid request.\n\n%s is a directory.", path)
	}
	existing, exists := tip.Files[path]
	switch {
	case exists && body.SHA == "":
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Invalid request.\n\n\"sha\" wasn't supplied.")
	case exists && body.SHA != existing:
		return 0, nil, errorf(http.StatusConflict, doc, "is at %s but expected %s", existing, body.SHA)
	case !exists && body.SHA != "":
		return 0, nil, errorf(http.StatusConflict, doc, "%s does not exist but expected %s", path, body.SHA)
	}
	if p := r.Protection[branch]; p != nil && p.RequirePR {
		return 0, nil, errorf(http.StatusConflict, doc, "Changes must be made through a pull request.")
	}
	committer := s.actor(c)
	if body.Committer != nil && body.Committer.Name != "" && body.Committer.Email != "" {
		committer = person{Name: body.Committer.Name, Email: body.Committer.Email, Date: committer.Date}
	}
	author := committer
	if body.Author != nil && body.Author.Name != "" && body.Author.Email != "" {
		author = person{Name: body.Author.Name, Email: body.Author.Email, Date: committer.Date}
	}
	files := copyFiles(tip.Files)
	files[path] = s.git.putBlob(content)
	cm := s.git.writeCommit(files, []string{tipSHA}, author, committer, *body.Message)
	r.Branches[branch] = cm.SHA
	r.Pushed = s.opts.Now()
	e, _ := s.git.lookup(cm, path)
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	full := s.commitJSON(c, r, cm, false)
	inner := full["commit"].(map[string]any)
	commitOut := map[string]any{"sha": cm.SHA, "node_id": full["node_id"], "url": inner["url"], "html_url": full["html_url"],
		"author": inner["author"], "committer": inner["committer"], "message": inner["message"], "tree": inner["tree"],
		"parents": full["parents"], "verification": inner["verification"]}
	return status, map[string]any{"content": s.entryJSON(c, r, branch, path, e), "commit": commitOut}, nil
}

func (s *Sim) listBranches(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	names := make([]string, 0, len(r.Branches))
	for n := range r.Branches {
		if c.r.URL.Query().Get("protected") == "true" && r.Protection[n] == nil {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	start, end := c.paginate(len(names))
	out := []any{}
	for _, n := range names[start:end] {
		out = append(out, s.branchJSON(c, r, n))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) getBranch(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	name := c.param("branch")
	sha, ok := r.Branches[name]
	if !ok {
		return 0, nil, errorf(http.StatusNotFound, branchDocs+"#get-a-branch", "Branch not found")
	}
	base := c.api + "/repos/" + r.fullName()
	out := map[string]any{"name": name, "commit": s.commitJSON(c, r, s.git.commits[sha], false),
		"protected": r.Protection[name] != nil, "protection_url": base + "/branches/" + escapePath(name) + "/protection",
		"_links": map[string]any{"self": base + "/branches/" + escapePath(name), "html": c.html + "/" + r.fullName() + "/tree/" + escapePath(name)}}
	prot := map[string]any{"enabled": false, "required_status_checks": map[string]any{"enforcement_level": "off",
		"contexts": []string{}, "checks": []any{}}}
	if p := r.Protection[name]; p != nil {
		checks := []any{}
		for _, ctx := range p.Contexts {
			checks = append(checks, map[string]any{"context": ctx, "app_id": nil})
		}
		prot = map[string]any{"enabled": true, "required_status_checks": map[string]any{"enforcement_level": "non_admins",
			"contexts": append([]string{}, p.Contexts...), "checks": checks}}
	}
	out["protection"] = prot
	return http.StatusOK, out, nil
}

func (s *Sim) refJSON(c *call, r *repo, branch string) map[string]any {
	sha := r.Branches[branch]
	base := c.api + "/repos/" + r.fullName()
	return map[string]any{"ref": "refs/heads/" + branch, "node_id": "REF_" + branch, "url": base + "/git/refs/heads/" + escapePath(branch),
		"object": map[string]any{"sha": sha, "type": "commit", "url": base + "/git/commits/" + sha}}
}

func (s *Sim) getRef(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	branch, ok := strings.CutPrefix(c.param("ref"), "heads/")
	if _, exists := r.Branches[branch]; !ok || !exists {
		return 0, nil, notFound(refsDocs + "#get-a-reference")
	}
	return http.StatusOK, s.refJSON(c, r, branch), nil
}

func (s *Sim) matchingRefs(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	prefix := c.param("ref")
	var names []string
	for n := range r.Branches {
		if strings.HasPrefix("heads/"+n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := []any{}
	for _, n := range names {
		out = append(out, s.refJSON(c, r, n))
	}
	return http.StatusOK, out, nil
}

// validBranchName reports whether name is a branch name git accepts (git check-ref-format).
func validBranchName(name string) bool {
	if name == "" || name == "@" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock") || strings.HasPrefix(name, "-") ||
		strings.Contains(name, "..") || strings.Contains(name, "//") || strings.Contains(name, "@{") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}

func (s *Sim) createRef(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	doc := refsDocs + "#create-a-reference"
	branch, ok := strings.CutPrefix(body.Ref, "refs/heads/")
	if !ok || !validBranchName(branch) {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Reference name is invalid")
	}
	if _, exists := r.Branches[branch]; exists {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Reference already exists")
	}
	if s.git.commits[body.SHA] == nil || !s.reachable(r, body.SHA) {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Object does not exist")
	}
	r.Branches[branch] = body.SHA
	c.header.Set("Location", c.api+"/repos/"+r.fullName()+"/git/refs/heads/"+escapePath(branch))
	return http.StatusCreated, s.refJSON(c, r, branch), nil
}

func (s *Sim) deleteRef(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	doc := refsDocs + "#delete-a-reference"
	branch, ok := strings.CutPrefix(c.param("ref"), "heads/")
	if _, exists := r.Branches[branch]; !ok || !exists {
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Reference does not exist")
	}
	switch {
	case branch == r.DefaultBranch:
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Cannot delete the default branch")
	case r.Protection[branch] != nil:
		return 0, nil, errorf(http.StatusUnprocessableEntity, doc, "Cannot delete this protected branch")
	}
	// GitHub closes the open pull requests whose head branch is deleted.
	for _, it := range r.Items {
		if it.PR != nil && it.State == "open" && it.PR.Head == branch {
			s.headSHA(r, it)
			s.baseSHA(r, it)
			it.State, it.Closed, it.Updated = "closed", s.opts.Now(), s.opts.Now()
		}
	}
	delete(r.Branches, branch)
	return http.StatusNoContent, nil, nil
}

func (s *Sim) getTree(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	id := c.param("sha")
	if _, ok := s.git.trees[id]; !ok {
		cm := s.resolve(r, id)
		if cm == nil {
			return 0, nil, notFound(docsBase + "/git/trees#get-a-tree")
		}
		id = cm.Tree
	}
	recursive := c.r.URL.Query().Get("recursive") != ""
	base := c.api + "/repos/" + r.fullName()
	var entries []any
	var walk func(tree, prefix string)
	walk = func(tree, prefix string) {
		for _, e := range s.git.trees[tree] {
			m := map[string]any{"path": prefix + e.Name, "mode": e.Mode, "sha": e.SHA}
			if e.isDir() {
				m["mode"] = "040000"
				m["type"] = "tree"
				m["url"] = base + "/git/trees/" + e.SHA
			} else {
				m["type"] = "blob"
				m["size"] = len(s.git.blobs[e.SHA])
				m["url"] = base + "/git/blobs/" + e.SHA
			}
			entries = append(entries, m)
			if e.isDir() && recursive {
				walk(e.SHA, prefix+e.Name+"/")
			}
		}
	}
	walk(id, "")
	if entries == nil {
		entries = []any{}
	}
	return http.StatusOK, map[string]any{"sha": id, "url": base + "/git/trees/" + id, "tree": entries, "truncated": false}, nil
}

func (s *Sim) getBlob(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	b, ok := s.git.blobs[c.param("sha")]
	if !ok {
		return 0, nil, notFound(docsBase + "/git/blobs#get-a-blob")
	}
	return http.StatusOK, map[string]any{"sha": c.param("sha"), "node_id": "B_" + c.param("sha")[:12], "size": len(b),
		"url": c.api + "/repos/" + r.fullName() + "/git/blobs/" + c.param("sha"), "content": base64Lines(b), "encoding": "base64"}, nil
}

// touches reports whether a commit changed path (a file, or anything under a directory)
// relative to its first parent.
func (s *Sim) touches(cm *commit, path string) bool {
	path = strings.Trim(path, "/")
	var parent map[string]string
	if len(cm.Parents) > 0 {
		parent = s.git.commits[cm.Parents[0]].Files
	}
	in := func(p string) bool { return p == path || strings.HasPrefix(p, path+"/") }
	for p, b := range cm.Files {
		if in(p) && parent[p] != b {
			return true
		}
	}
	for p := range parent {
		if _, ok := cm.Files[p]; in(p) && !ok {
			return true
		}
	}
	return false
}

func (s *Sim) listCommits(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	tip := s.resolve(r, q.Get("sha"))
	if tip == nil {
		return 0, nil, notFound(commitsDocs + "#list-commits")
	}
	var since, until time.Time
	for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return 0, nil, validation(commitsDocs+"#list-commits", map[string]any{"resource": "Commit", "field": name, "code": "invalid"})
			}
			*dst = t
		}
	}
	var list []*commit
	for _, sha := range s.git.ancestors(tip.SHA) {
		cm := s.git.commits[sha]
		if p := q.Get("path"); p != "" && !s.touches(cm, p) {
			continue
		}
		if a := q.Get("author"); a != "" && !strings.EqualFold(cm.Author.Login, a) && !strings.EqualFold(cm.Author.Email, a) {
			continue
		}
		if (!since.IsZero() && cm.Committer.Date.Before(since)) || (!until.IsZero() && cm.Committer.Date.After(until)) {
			continue
		}
		list = append(list, cm)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Committer.Date.After(list[j].Committer.Date) })
	start, end := c.paginate(len(list))
	out := []any{}
	for _, cm := range list[start:end] {
		out = append(out, s.commitJSON(c, r, cm, false))
	}
	return http.StatusOK, out, nil
}

// commitsByRef dispatches GET .../commits/{ref}[/check-runs|/status|/statuses].
func (s *Sim) commitsByRef(c *call) (int, any, error) {
	ref := c.param("ref")
	for suffix, h := range map[string]handler{"/check-runs": s.listCheckRuns, "/status": s.combinedStatus, "/statuses": s.listStatuses} {
		if r, ok := strings.CutSuffix(ref, suffix); ok && r != "" {
			c.r.SetPathValue("ref", r)
			return h(c)
		}
	}
	return s.getCommit(c)
}

func (s *Sim) getCommit(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	cm := s.resolve(r, c.param("ref"))
	if cm == nil {
		return 0, nil, errorf(http.StatusUnprocessableEntity, commitsDocs+"#get-a-commit", "No commit found for SHA: %s", c.param("ref"))
	}
	return http.StatusOK, s.commitJSON(c, r, cm, true), nil
}

func (s *Sim) checkRunJSON(c *call, r *repo, run *checkRun) map[string]any {
	var conclusion any
	if run.Status == "completed" {
		conclusion = run.Conclusion
	}
	return map[string]any{"id": run.ID, "node_id": nodeID("CR", run.ID), "head_sha": run.HeadSHA, "external_id": "",
		"url":      fmt.Sprintf("%s/repos/%s/check-runs/%d", c.api, r.fullName(), run.ID),
		"html_url": fmt.Sprintf("%s/%s/runs/%d", c.html, r.fullName(), run.ID), "details_url": nilIfEmpty(run.URL),
		"status": run.Status, "conclusion": conclusion, "started_at": ts(run.Started), "completed_at": tsOrNil(run.Completed),
		"output": map[string]any{"title": nilIfEmpty(run.Title), "summary": nilIfEmpty(run.Summary), "text": nil, "annotations_count": 0},
		"name":   run.Name, "check_suite": map[string]any{"id": run.ID}, "pull_requests": []any{},
		"app": map[string]any{"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}}
}

func (s *Sim) listCheckRuns(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	cm := s.resolve(r, c.param("ref"))
	if cm == nil {
		return 0, nil, errorf(http.StatusUnprocessableEntity, checksDocs, "No commit found for SHA: %s", c.param("ref"))
	}
	all := c.r.URL.Query().Get("filter") == "all"
	latest := map[string]*checkRun{}
	var runs []*checkRun
	for _, run := range r.CheckRuns[cm.SHA] {
		if name := c.r.URL.Query().Get("check_name"); name != "" && name != run.Name {
			continue
		}
		if all {
			runs = append(runs, run)
		} else {
			latest[run.Name] = run
		}
	}
	for _, run := range latest {
		runs = append(runs, run)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID > runs[j].ID })
	start, end := c.paginate(len(runs))
	out := []any{}
	for _, run := range runs[start:end] {
		out = append(out, s.checkRunJSON(c, r, run))
	}
	return http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": out}, nil
}

func (s *Sim) statusJSON(c *call, st *status) map[string]any {
	return map[string]any{"id": st.ID, "node_id": nodeID("SC", st.ID), "state": st.State, "description": nilIfEmpty(st.Description),
		"target_url": nilIfEmpty(st.TargetURL), "context": st.Context, "created_at": ts(st.Created), "updated_at": ts(st.Created),
		"creator": s.userJSON(c, st.Creator)}
}

func (s *Sim) combinedStatus(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	cm := s.resolve(r, c.param("ref"))
	if cm == nil {
		return 0, nil, errorf(http.StatusUnprocessableEntity, statusDocs, "No commit found for SHA: %s", c.param("ref"))
	}
	latest := latestStatuses(r.Statuses[cm.SHA])
	contexts := make([]string, 0, len(latest))
	for ctx := range latest {
		contexts = append(contexts, ctx)
	}
	sort.Strings(contexts)
	state := "success"
	out := []any{}
	for _, ctx := range contexts {
		st := latest[ctx]
		out = append(out, s.statusJSON(c, st))
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
	}
	if len(latest) == 0 {
		state = "pending"
	}
	base := c.api + "/repos/" + r.fullName()
	return http.StatusOK, map[string]any{"state": state, "statuses": out, "sha": cm.SHA, "total_count": len(out),
		"repository": s.repoJSON(c, r), "commit_url": base + "/commits/" + cm.SHA, "url": base + "/commits/" + cm.SHA + "/status"}, nil
}

func (s *Sim) listStatuses(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	cm := s.resolve(r, c.param("ref"))
	if cm == nil {
		return 0, nil, errorf(http.StatusUnprocessableEntity, statusDocs, "No commit found for SHA: %s", c.param("ref"))
	}
	all := r.Statuses[cm.SHA]
	start, end := c.paginate(len(all))
	out := []any{}
	for i := len(all) - 1 - start; i >= len(all)-end; i-- {
		out = append(out, s.statusJSON(c, all[i]))
	}
	return http.StatusOK, out, nil
}

func (s *Sim) createStatus(c *call) (int, any, error) {
	r, err := c.repoOf()
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := decode(c, &body); err != nil {
		return 0, nil, err
	}
	if c.who.kind == kindInstallation {
		// The simulated App has statuses: read.
		return 0, nil, errorf(http.StatusForbidden, statusDocs, "Resource not accessible by integration")
	}
	if err := c.canPush(r); err != nil {
		return 0, nil, err
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, body.State) {
		return 0, nil, validation(statusDocs+"#create-a-commit-status", map[string]any{"resource": "Status", "field": "state", "code": "invalid"})
	}
	cm := s.git.commits[c.param("sha")]
	if cm == nil || !s.reachable(r, cm.SHA) {
		return 0, nil, errorf(http.StatusUnprocessableEntity, statusDocs, "No commit found for SHA: %s", c.param("sha"))
	}
	if body.Context == "" {
		body.Context = "default"
	}
	st := &status{ID: s.nextID(), Context: body.Context, State: body.State, Description: body.Description,
		TargetURL: body.TargetURL, Creator: c.who.login, Created: s.opts.Now()}
	r.Statuses[cm.SHA] = append(r.Statuses[cm.SHA], st)
	return http.StatusCreated, s.statusJSON(c, st), nil
}
