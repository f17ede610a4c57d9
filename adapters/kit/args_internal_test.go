package kit

import (
	"encoding/json"
	"testing"
)

// Constraints the kit's generated schemas do not use today (enum, bounds, patterns, lengths)
// are worded too: the field, what was expected, what came.
func TestArgumentConstraintsInWords(t *testing.T) {
	schema := `{
		"type": "object",
		"additionalProperties": false,
		"required": ["family"],
		"properties": {
			"family":   {"type": "string", "enum": ["switch", "router"]},
			"kind":     {"const": "device"},
			"limit":    {"type": "integer", "minimum": 1, "maximum": 500},
			"ratio":    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "multipleOf": 0.25},
			"serial":   {"type": "string", "pattern": "^[A-Z]{3}[0-9]{4}$", "minLength": 7, "maxLength": 7},
			"ids":      {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": true},
			"labels":   {"type": "object", "minProperties": 1, "maxProperties": 1},
			"internal": false,
			"when":     {"type": "object", "dependentRequired": {"from": ["to"]}}
		}
	}`
	s, err := compileArgsSchema("find_device", json.RawMessage(schema))
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "invalid arguments for find_device: "
	for _, c := range []struct{ args, want string }{
		{`{"family":"hub"}`, `argument "family" must be one of "switch", "router" (got "hub")`},
		{`{"family":"switch","kind":"site"}`, `argument "kind" must be "device" (got "site")`},
		{`{"family":"switch","limit":0}`, `argument "limit" must be at least 1 (got 0)`},
		{`{"family":"switch","limit":501}`, `argument "limit" must be at most 500 (got 501)`},
		{`{"family":"switch","ratio":0}`, `argument "ratio" must be greater than 0 (got 0)`},
		{`{"family":"switch","ratio":1}`, `argument "ratio" must be less than 1 (got 1)`},
		{`{"family":"switch","ratio":0.3}`, `argument "ratio" must be a multiple of 0.25 (got 0.3)`},
		{`{"family":"switch","serial":"abc1234"}`, `argument "serial" must match the pattern ^[A-Z]{3}[0-9]{4}$ (got "abc1234")`},
		{`{"family":"switch","serial":"ABC12345"}`, `argument "serial" must be at most 7 characters long (got 8); argument "serial" must match the pattern ^[A-Z]{3}[0-9]{4}$ (got "ABC12345")`},
		{`{"family":"switch","serial":"ABC123"}`, `argument "serial" must be at least 7 characters long (got 6); argument "serial" must match the pattern ^[A-Z]{3}[0-9]{4}$ (got "ABC123")`},
		{`{"family":"switch","ids":[]}`, `argument "ids" must have at least 1 items (got 0)`},
		{`{"family":"switch","ids":["a","b","c"]}`, `argument "ids" must have at most 2 items (got 3)`},
		{`{"family":"switch","ids":["a","a"]}`, `argument "ids" must not repeat items (items 0 and 1 are equal)`},
		{`{"family":"switch","labels":{}}`, `argument "labels" must have at least 1 members (got 0)`},
		{`{"family":"switch","internal":1}`, `argument "internal" is not accepted`},
		{`{"family":"switch","when":{"from":1}}`, `argument "when": properties 'to' required, if 'from' exists`},
		{`[1]`, `arguments must be an object (got an array)`},
		{`null`, `missing required argument "family"`},
		// Long values are shortened.
		{`{"family":"switch","kind":{"a":"0123456789012345678901234567890123456789012345678901234567890123456789"}}`,
			`argument "kind" must be "device" (got {"a":"012345678901234567890123456789012345678901234567890123…)`},
	} {
		err := s.check(json.RawMessage(c.args))
		if err == nil {
			t.Errorf("%s: accepted", c.args)
			continue
		}
		if got := err.Error(); got != prefix+c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.args, got, prefix+c.want)
		}
	}
	if err := s.check(json.RawMessage(`{"family":"router","limit":500,"ratio":0.5,"serial":"ABC1234","ids":["a"]}`)); err != nil {
		t.Errorf("valid arguments refused: %v", err)
	}
	if err := s.check(map[string]any{"family": "router"}); err != nil {
		t.Errorf("decoded arguments refused: %v", err)
	}
}

func TestArgumentSchemaMustCompile(t *testing.T) {
	for _, bad := range []string{`{"type": 5}`, `{"pattern": "("}`, `not json`, `{"$ref": "#/nowhere"}`} {
		if _, err := compileArgsSchema("t", json.RawMessage(bad)); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
}
