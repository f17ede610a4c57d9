package vaulttest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxVersions is how many versions KV v2 keeps per key when neither the engine nor the key
// configures it.
const maxVersions = 10

// kvKey is one KV v2 key: its metadata and its kept versions.
type kvKey struct {
	current, oldest  int
	created, updated time.Time
	versions         map[int]*kvVersion
}

// kvVersion is one version of a key.
type kvVersion struct {
	number   int
	data     json.RawMessage
	created  time.Time
	deletion time.Time // zero: not deleted
}

// deleted reports whether the version counts as deleted at now. Vault compares the deletion
// time with its clock; with a frozen test clock a deletion at "now" must already count.
func (v *kvVersion) deleted(now time.Time) bool {
	return !v.deletion.IsZero() && !v.deletion.After(now)
}

// metadata is the version metadata Vault returns on a read ("metadata") and a write ("data").
func (v *kvVersion) metadata() map[string]any {
	return map[string]any{
		"created_time":    timestamp(v.created),
		"custom_metadata": nil,
		"deletion_time":   timestamp(v.deletion),
		"destroyed":       false,
		"version":         v.number,
	}
}

// writeVersionLocked stores a new version of path; s.mu is held.
func (s *Server) writeVersionLocked(path string, data json.RawMessage) *kvVersion {
	now := s.now()
	k := s.secrets[path]
	if k == nil {
		k = &kvKey{created: now, versions: map[int]*kvVersion{}}
		s.secrets[path] = k
	}
	k.current++
	v := &kvVersion{number: k.current, data: data, created: now}
	k.versions[k.current] = v
	k.updated = now
	// Keep the newest maxVersions versions, moving oldest_version as Vault does.
	if k.current-k.oldest >= maxVersions {
		drop := k.current - maxVersions
		for i := k.oldest; i <= drop; i++ {
			delete(k.versions, i)
		}
		k.oldest = drop + 1
	}
	return v
}

// kv serves the KV v2 mount; rest is the request path after "{mount}/"; s.mu is held.
func (s *Server) kv(r *http.Request, body []byte, t *token, rest string) reply {
	if !t.mayUseKV() {
		return errPolicyDenied
	}
	if key, ok := strings.CutPrefix(rest, "data/"); ok && validKey(key) {
		switch {
		case isRead(r):
			return s.kvRead(r, key)
		case isWrite(r):
			return s.kvWrite(body, key)
		case r.Method == http.MethodDelete:
			return s.kvDelete(key)
		}
		return unsupported()
	}
	if key, ok := strings.CutPrefix(rest, "metadata/"); ok && key != "" {
		if isRead(r) {
			return s.kvMetadata(key)
		}
		return unsupported()
	}
	return errorReply(http.StatusNotFound, "1 error occurred:\n\t* unsupported path\n\n")
}

// validKey reports whether key matches KV v2's data path pattern: not empty, no trailing
// slash.
func validKey(key string) bool {
	return key != "" && !strings.HasSuffix(key, "/")
}

// kvRead answers GET {mount}/data/{key}[?version=N]. An absent key or version is a plain
// 404 {"errors":[]}; a deleted version is a 404 whose body still carries the version
// metadata (with its deletion_time) and "data": null, as Vault answers.
func (s *Server) kvRead(r *http.Request, key string) reply {
	want := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errorReply(http.StatusBadRequest, `error converting input "`+v+`" for field "version": not an integer`)
		}
		want = n
	}
	s.reads[key]++
	k := s.secrets[key]
	if k == nil {
		return errorReply(http.StatusNotFound, "")
	}
	num := k.current
	if want > 0 {
		num = want
	}
	v := k.versions[num]
	if v == nil {
		return errorReply(http.StatusNotFound, "")
	}
	if v.deleted(s.now()) {
		return reply{status: http.StatusNotFound, body: newEnvelope("kv", map[string]any{
			"data":     nil,
			"metadata": v.metadata(),
		})}
	}
	return reply{status: http.StatusOK, body: newEnvelope("kv", map[string]any{
		"data":     v.data,
		"metadata": v.metadata(),
	})}
}

// kvWrite answers POST/PUT {mount}/data/{key} {"data":{...},"options":{"cas":N}}.
func (s *Server) kvWrite(body []byte, key string) reply {
	m, bad := decodeBody(body)
	if bad != nil {
		return *bad
	}
	rawData, ok := m["data"]
	if !ok || rawData == nil {
		return errorReply(http.StatusBadRequest, "no data provided")
	}
	data, ok := rawData.(map[string]any)
	if !ok {
		return errorReply(http.StatusBadRequest, `error converting input for field "data": not a map`)
	}
	if rawOpts, ok := m["options"]; ok && rawOpts != nil {
		opts, ok := rawOpts.(map[string]any)
		if !ok {
			return errorReply(http.StatusBadRequest, `error converting input for field "options": not a map`)
		}
		if rawCAS, ok := opts["cas"]; ok {
			cas, ok := casValue(rawCAS)
			if !ok {
				return errorReply(http.StatusBadRequest, "error parsing check-and-set parameter")
			}
			current := 0
			if k := s.secrets[key]; k != nil {
				current = k.current
			}
			if cas != current {
				return errorReply(http.StatusBadRequest, "check-and-set parameter did not match the current version")
			}
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return errorReply(http.StatusBadRequest, "failed to encode data: "+err.Error())
	}
	v := s.writeVersionLocked(key, raw)
	return reply{status: http.StatusOK, body: newEnvelope("kv", v.metadata())}
}

// casValue decodes the cas option weakly, as Vault does: a number, a numeric string, or
// null (0).
func casValue(v any) (int, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case json.Number:
		n, err := strconv.Atoi(x.String())
		return n, err == nil
	case string:
		if x == "" {
			return 0, true
		}
		n, err := strconv.Atoi(x)
		return n, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// kvDelete answers DELETE {mount}/data/{key}: the latest version is soft-deleted (its data
// kept, its deletion_time set). Vault answers 204 whether or not there was anything to
// delete.
func (s *Server) kvDelete(key string) reply {
	now := s.now()
	if k := s.secrets[key]; k != nil {
		if v := k.versions[k.current]; v != nil && !v.deleted(now) {
			v.deletion = now
		}
	}
	return reply{status: http.StatusNoContent}
}

// kvMetadata answers GET {mount}/metadata/{key}.
func (s *Server) kvMetadata(key string) reply {
	k := s.secrets[key]
	if k == nil {
		return errorReply(http.StatusNotFound, "")
	}
	versions := make(map[string]any, len(k.versions))
	for n, v := range k.versions {
		versions[strconv.Itoa(n)] = map[string]any{
			"created_time":  timestamp(v.created),
			"deletion_time": timestamp(v.deletion),
			"destroyed":     false,
		}
	}
	return reply{status: http.StatusOK, body: newEnvelope("kv", map[string]any{
		"cas_required":         false,
		"created_time":         timestamp(k.created),
		"current_version":      k.current,
		"custom_metadata":      nil,
		"delete_version_after": "0s",
		"max_versions":         0,
		"oldest_version":       k.oldest,
		"updated_time":         timestamp(k.updated),
		"versions":             versions,
	})}
}
