package sim

import (
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
)

const searchDocs = docsBase + "/search/search#search-code"

// query is a parsed code search query.
type query struct {
	Terms      []string            // lower-case words and phrases, all required
	Qualifiers map[string][]string // lower-case qualifier name -> values
}

// parseQuery splits a search query into terms and qualifiers (name:value). A double-quoted
// phrase is one term or one qualifier value; an unterminated quote runs to the end. A word
// with a colon whose name is not a known qualifier is a term.
func parseQuery(q string) query {
	out := query{Qualifiers: map[string][]string{}}
	for _, tok := range tokens(q) {
		name, value, ok := strings.Cut(tok.text, ":")
		if ok && !tok.quoted && knownQualifier(strings.ToLower(name)) {
			value = strings.Trim(value, `"`)
			if value != "" {
				out.Qualifiers[strings.ToLower(name)] = append(out.Qualifiers[strings.ToLower(name)], value)
			}
			continue
		}
		if t := strings.ToLower(strings.Trim(tok.text, `"`)); t != "" {
			out.Terms = append(out.Terms, t)
		}
	}
	return out
}

func knownQualifier(name string) bool {
	switch name {
	case "org", "user", "repo", "path", "filename", "extension", "language", "in", "size", "fork":
		return true
	}
	return false
}

type token struct {
	text   string
	quoted bool // the whole token is a quoted phrase
}

// tokens splits on whitespace outside double quotes.
func tokens(q string) []token {
	var out []token
	var cur strings.Builder
	inQuote, quotedStart := false, false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, token{text: cur.String(), quoted: quotedStart})
		}
		cur.Reset()
		quotedStart = false
	}
	for _, r := range q {
		switch {
		case r == '"':
			if cur.Len() == 0 && !inQuote {
				quotedStart = true
			}
			inQuote = !inQuote
			cur.WriteRune(r)
		case !inQuote && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// languages maps file extensions to the language: qualifier's names (lower case).
var languages = map[string]string{
	"vtl": "velocity template language", "vm": "velocity template language", "j2": "jinja", "jinja": "jinja",
	"py": "python", "go": "go", "md": "markdown", "yaml": "yaml", "yml": "yaml", "json": "json", "txt": "text",
}

func (q query) match(r *repo, filePath string, content []byte) (bool, string) {
	anyOf := func(name string, f func(v string) bool) bool {
		vs := q.Qualifiers[name]
		return len(vs) == 0 || slices.ContainsFunc(vs, f)
	}
	ext := strings.TrimPrefix(path.Ext(filePath), ".")
	if !anyOf("org", func(v string) bool { return strings.EqualFold(v, r.Owner) }) ||
		!anyOf("user", func(v string) bool { return strings.EqualFold(v, r.Owner) }) ||
		!anyOf("repo", func(v string) bool { return strings.EqualFold(v, r.fullName()) }) ||
		!anyOf("path", func(v string) bool {
			return strings.HasPrefix(strings.ToLower(filePath), strings.ToLower(strings.Trim(v, "/")))
		}) ||
		!anyOf("filename", func(v string) bool { return strings.EqualFold(path.Base(filePath), v) }) ||
		!anyOf("extension", func(v string) bool { return strings.EqualFold(strings.TrimPrefix(v, "."), ext) }) ||
		!anyOf("language", func(v string) bool { return strings.EqualFold(languages[strings.ToLower(ext)], v) }) {
		return false, ""
	}
	inFile, inPath := true, true
	if in := q.Qualifiers["in"]; len(in) > 0 {
		joined := strings.ToLower(strings.Join(in, ","))
		inFile, inPath = strings.Contains(joined, "file"), strings.Contains(joined, "path")
	}
	text := strings.ToLower(string(content))
	lowerPath := strings.ToLower(filePath)
	fragment := ""
	for _, t := range q.Terms {
		switch {
		case inFile && strings.Contains(text, t):
			if fragment == "" {
				for line := range strings.SplitSeq(string(content), "\n") {
					if strings.Contains(strings.ToLower(line), t) {
						fragment = line
						break
					}
				}
			}
		case inPath && strings.Contains(lowerPath, t):
		default:
			return false, ""
		}
	}
	return true, fragment
}

func (s *Sim) searchCode(c *call) (int, any, error) {
	raw := c.r.URL.Query().Get("q")
	q := parseQuery(raw)
	if len(q.Terms) == 0 {
		return 0, nil, validation(searchDocs, map[string]any{"resource": "Search", "field": "q", "code": "missing"})
	}
	textMatch := strings.Contains(c.r.Header.Get("Accept"), "text-match")
	type hit struct {
		r        *repo
		path     string
		blob     string
		fragment string
	}
	var hits []hit
	names := make([]string, 0, len(s.repos))
	for n := range s.repos {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := s.repos[n]
		if !c.who.canSee(r) {
			continue
		}
		tip := s.git.commits[r.Branches[r.DefaultBranch]]
		paths := make([]string, 0, len(tip.Files))
		for p := range tip.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if ok, frag := q.match(r, p, s.git.blobs[tip.Files[p]]); ok {
				hits = append(hits, hit{r: r, path: p, blob: tip.Files[p], fragment: frag})
			}
		}
	}
	start, end := c.paginate(len(hits))
	items := []any{}
	for _, h := range hits[start:end] {
		tip := h.r.Branches[h.r.DefaultBranch]
		m := map[string]any{"name": path.Base(h.path), "path": h.path, "sha": h.blob,
			"url":        c.api + "/repos/" + h.r.fullName() + "/contents/" + escapePath(h.path) + "?ref=" + tip,
			"git_url":    c.api + "/repos/" + h.r.fullName() + "/git/blobs/" + h.blob,
			"html_url":   c.html + "/" + h.r.fullName() + "/blob/" + tip + "/" + escapePath(h.path),
			"repository": s.repoJSON(c, h.r), "score": 1.0}
		if textMatch {
			matches := []any{}
			lower := strings.ToLower(h.fragment)
			for _, t := range q.Terms {
				// Lower-casing may change a line's length; indices are only given when it did not.
				if i := strings.Index(lower, t); i >= 0 && len(lower) == len(h.fragment) {
					matches = append(matches, map[string]any{"text": h.fragment[i : i+len(t)], "indices": []int{i, i + len(t)}})
				}
			}
			m["text_matches"] = []any{map[string]any{"object_url": m["url"], "object_type": "FileContent",
				"property": "content", "fragment": h.fragment, "matches": matches}}
		}
		items = append(items, m)
	}
	return http.StatusOK, map[string]any{"total_count": len(hits), "incomplete_results": false, "items": items}, nil
}
