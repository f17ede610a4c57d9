package authz

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitObject checks the one-pass member splitter against encoding/json: it never
// panics; whatever it accepts with a valid result (the result alone is left to filter, which
// parses it fully) is an object encoding/json reads with the same members; and an object
// encoding/json reads without repeated keys it accepts too.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`, `{"id":1}`, `{"a":"x\"}"}`,
		`{"a":[1,{"b":null}],"c":true}`, `{}`, ` { "a" : 1 } `, `{"a":1,"a":2}`, `{"a":1`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := splitObject(b)
		var std map[string]json.RawMessage
		stdErr := json.Unmarshal(b, &std)
		if err != nil {
			if stdErr == nil && !repeatedKey(b) && len(std) > 0 {
				t.Fatalf("refused %q, which encoding/json reads", b)
			}
			return
		}
		if r, ok := got["result"]; ok && !json.Valid(r) {
			return // the result is left to filter, which parses it fully
		}
		if stdErr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, stdErr)
		}
		if len(got) != len(std) {
			t.Fatalf("%q: members %d, encoding/json %d", b, len(got), len(std))
		}
		for k, v := range std {
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("%q: member %q is %q, encoding/json %q", b, k, got[k], v)
			}
		}
	})
}

// repeatedKey reports whether an object has a key twice at its top level.
func repeatedKey(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return false
		}
		k, _ := t.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}
