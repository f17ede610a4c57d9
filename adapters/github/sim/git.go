package sim

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // git object ids are SHA-1 by definition, not a security choice
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file is the repository model: git objects with their real ids (blob, tree and commit
// SHA-1s as `git hash-object` computes them), flat file maps per commit, line diffs and a
// per-file three-way merge.

// objectID is the git object id of an object of kind with body: sha1("<kind> <len>\0<body>").
func objectID(kind string, body []byte) string {
	h := sha1.New() //nolint:gosec // see import
	fmt.Fprintf(h, "%s %d\x00", kind, len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// BlobSHA is the git blob id of content, as `git hash-object` prints it.
func BlobSHA(content []byte) string { return objectID("blob", content) }

// person is a commit's author or committer.
type person struct {
	Name, Email string
	Login       string // the GitHub user, when the email belongs to one
	Date        time.Time
}

func (p person) line() string {
	return fmt.Sprintf("%s <%s> %d +0000", p.Name, p.Email, p.Date.UTC().Unix())
}

// commit is one commit: its tree as a flat map of path to blob id (the tree objects are
// derived from it), and its metadata.
type commit struct {
	SHA       string
	Tree      string // root tree id
	Parents   []string
	Author    person
	Committer person
	Message   string
	Files     map[string]string // path -> blob id
}

// treeEntry is one entry of a git tree object.
type treeEntry struct {
	Name string
	Mode string // 100644 (file) or 40000 (directory)
	SHA  string
}

func (e treeEntry) isDir() bool { return e.Mode == "40000" }

// store holds every object of every repository (git objects are content-addressed, so
// sharing is harmless).
type store struct {
	blobs   map[string][]byte
	trees   map[string][]treeEntry
	commits map[string]*commit
}

func newStore() *store {
	return &store{blobs: map[string][]byte{}, trees: map[string][]treeEntry{}, commits: map[string]*commit{}}
}

func (st *store) putBlob(content []byte) string {
	id := BlobSHA(content)
	if _, ok := st.blobs[id]; !ok {
		st.blobs[id] = append([]byte(nil), content...)
	}
	return id
}

// writeTree stores the tree objects for a flat file map and returns the root tree id.
func (st *store) writeTree(files map[string]string) string {
	return st.writeDir(files, "")
}

func (st *store) writeDir(files map[string]string, prefix string) string {
	children := map[string]treeEntry{}
	subdirs := map[string]bool{}
	for path, blob := range files {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		if name, _, isDir := strings.Cut(rest, "/"); isDir {
			subdirs[name] = true
		} else {
			children[rest] = treeEntry{Name: rest, Mode: "100644", SHA: blob}
		}
	}
	for name := range subdirs {
		children[name] = treeEntry{Name: name, Mode: "40000", SHA: st.writeDir(files, prefix+name+"/")}
	}
	entries := make([]treeEntry, 0, len(children))
	for _, e := range children {
		entries = append(entries, e)
	}
	// Git orders tree entries by name, comparing a directory's name as if it ended in "/".
	key := func(e treeEntry) string {
		if e.isDir() {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	var body bytes.Buffer
	for _, e := range entries {
		raw, _ := hex.DecodeString(e.SHA)
		fmt.Fprintf(&body, "%s %s\x00", e.Mode, e.Name)
		body.Write(raw)
	}
	id := objectID("tree", body.Bytes())
	st.trees[id] = entries
	return id
}

// writeCommit stores a commit of files with the given parents and metadata.
func (st *store) writeCommit(files map[string]string, parents []string, author, committer person, message string) *commit {
	c := &commit{Tree: st.writeTree(files), Parents: parents, Author: author, Committer: committer,
		Message: message, Files: files}
	var body strings.Builder
	fmt.Fprintf(&body, "tree %s\n", c.Tree)
	for _, p := range parents {
		fmt.Fprintf(&body, "parent %s\n", p)
	}
	fmt.Fprintf(&body, "author %s\ncommitter %s\n\n%s", author.line(), committer.line(), message)
	if !strings.HasSuffix(message, "\n") {
		body.WriteString("\n")
	}
	c.SHA = objectID("commit", []byte(body.String()))
	if prev, ok := st.commits[c.SHA]; ok {
		return prev
	}
	st.commits[c.SHA] = c
	return c
}

// lookup finds the entry at path in a commit: a file (blob id), a directory (tree id) or
// nothing. The root is the path "".
func (st *store) lookup(c *commit, path string) (treeEntry, bool) {
	path = strings.Trim(path, "/")
	if path == "" {
		return treeEntry{Name: "", Mode: "40000", SHA: c.Tree}, true
	}
	tree := c.Tree
	parts := strings.Split(path, "/")
	for i, part := range parts {
		var found *treeEntry
		for _, e := range st.trees[tree] {
			if e.Name == part {
				found = &e
				break
			}
		}
		if found == nil {
			return treeEntry{}, false
		}
		if i == len(parts)-1 {
			return *found, true
		}
		if !found.isDir() {
			return treeEntry{}, false
		}
		tree = found.SHA
	}
	return treeEntry{}, false
}

// ancestors lists a commit and everything reachable from it, nearest first.
func (st *store) ancestors(sha string) []string {
	seen := map[string]bool{}
	var out []string
	queue := []string{sha}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
		if c := st.commits[s]; c != nil {
			queue = append(queue, c.Parents...)
		}
	}
	return out
}

// mergeBase is the nearest common ancestor of a and b ("" when they share none).
func (st *store) mergeBase(a, b string) string {
	inA := map[string]bool{}
	for _, s := range st.ancestors(a) {
		inA[s] = true
	}
	for _, s := range st.ancestors(b) {
		if inA[s] {
			return s
		}
	}
	return ""
}

// commitsBetween lists the commits reachable from head but not from base, oldest first
// (the commits a pull request adds).
func (st *store) commitsBetween(base, head string) []*commit {
	inBase := map[string]bool{}
	for _, s := range st.ancestors(base) {
		inBase[s] = true
	}
	var out []*commit
	for _, s := range st.ancestors(head) {
		if !inBase[s] {
			out = append(out, st.commits[s])
		}
	}
	slices.Reverse(out)
	return out
}

// fileChange is one file of a diff between two trees.
type fileChange struct {
	Path               string
	Status             string // added, removed, modified
	OldBlob, NewBlob   string
	Additions, Deletes int
	Patch              string
}

// diffFiles compares two flat file maps.
func (st *store) diffFiles(from, to map[string]string) []fileChange {
	paths := map[string]bool{}
	for p := range from {
		paths[p] = true
	}
	for p := range to {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out []fileChange
	for _, p := range sorted {
		a, b := from[p], to[p]
		if a == b {
			continue
		}
		fc := fileChange{Path: p, OldBlob: a, NewBlob: b}
		switch {
		case a == "":
			fc.Status = "added"
		case b == "":
			fc.Status = "removed"
		default:
			fc.Status = "modified"
		}
		fc.Patch, fc.Additions, fc.Deletes = unifiedDiff(st.blobs[a], st.blobs[b])
		out = append(out, fc)
	}
	return out
}

// splitLines splits content into lines without their newlines.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.Split(s, "\n")
}

// maxDiffCells bounds the LCS table; bigger files diff as "everything replaced".
const maxDiffCells = 4_000_000

// unifiedDiff is a line diff of a and b as one hunk that spans the whole file (a valid
// unified diff with full context, which is what the simulator's patches are), with the
// counts of added and deleted lines.
func unifiedDiff(a, b []byte) (string, int, int) {
	x, y := splitLines(a), splitLines(b)
	type op struct {
		kind byte
		line string
	}
	var ops []op
	if len(x)*len(y) > maxDiffCells {
		for _, l := range x {
			ops = append(ops, op{'-', l})
		}
		for _, l := range y {
			ops = append(ops, op{'+', l})
		}
	} else {
		// lcs[i][j] is the LCS length of x[i:] and y[j:].
		lcs := make([][]int, len(x)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(y)+1)
		}
		for i := len(x) - 1; i >= 0; i-- {
			for j := len(y) - 1; j >= 0; j-- {
				if x[i] == y[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(x) || j < len(y) {
			switch {
			case i < len(x) && j < len(y) && x[i] == y[j]:
				ops = append(ops, op{' ', x[i]})
				i++
				j++
			case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', x[i]})
				i++
			default:
				ops = append(ops, op{'+', y[j]})
				j++
			}
		}
	}
	adds, dels := 0, 0
	var body strings.Builder
	for _, o := range ops {
		switch o.kind {
		case '+':
			adds++
		case '-':
			dels++
		}
		body.WriteByte(o.kind)
		body.WriteString(o.line)
		body.WriteByte('\n')
	}
	if adds == 0 && dels == 0 {
		return "", 0, 0
	}
	hunk := func(n int) string {
		if n == 0 {
			return "0,0"
		}
		return fmt.Sprintf("1,%d", n)
	}
	return fmt.Sprintf("@@ -%s +%s @@\n%s", hunk(len(x)), hunk(len(y)), strings.TrimSuffix(body.String(), "\n")), adds, dels
}

// threeWay merges the file maps ours and theirs against their merge base, file by file: a
// file changed on one side takes that side; a file changed on both sides to different
// contents is a conflict (git would merge non-overlapping line changes; the simulator does
// not). It returns the merged map and the conflicting paths.
func threeWay(base, ours, theirs map[string]string) (map[string]string, []string) {
	out := map[string]string{}
	paths := map[string]bool{}
	for _, m := range []map[string]string{base, ours, theirs} {
		for p := range m {
			paths[p] = true
		}
	}
	var conflicts []string
	for p := range paths {
		b, o, t := base[p], ours[p], theirs[p]
		var v string
		switch {
		case o == t:
			v = o
		case b == o:
			v = t
		case b == t:
			v = o
		default:
			conflicts = append(conflicts, p)
			v = o
		}
		if v != "" {
			out[p] = v
		}
	}
	sort.Strings(conflicts)
	return out, conflicts
}

// copyFiles returns a copy of a flat file map.
func copyFiles(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
