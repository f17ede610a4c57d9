package observability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// mappedFields flattens an index template's mappings into dotted field name → type.
func mappedFields(props map[string]any, prefix string, out map[string]string) {
	for name, v := range props {
		m, _ := v.(map[string]any)
		if sub, ok := m["properties"].(map[string]any); ok {
			mappedFields(sub, prefix+name+".", out)
			continue
		}
		typ, _ := m["type"].(string)
		out[prefix+name] = typ
	}
}

func loadTemplate(t *testing.T) (map[string]any, map[string]string) {
	t.Helper()
	b, err := os.ReadFile("elasticsearch/index-template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("index-template.json: %v", err)
	}
	props, _ := tmpl["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	fields := map[string]string{}
	mappedFields(props, "", fields)
	return tmpl, fields
}

// The index template maps every pinned ECS field with its ECS type, takes the indices
// Filebeat writes, and names the ILM policy shipped beside it, which is well formed.
func TestIndexTemplateAndILM(t *testing.T) {
	schema := loadECS(t)
	tmpl, fields := loadTemplate(t)
	for name, f := range schema.Fields {
		if got := fields[name]; got != f.Type {
			t.Errorf("%s mapped as %q, ECS %s says %s", name, got, schema.Version, f.Type)
		}
	}
	for _, g := range []string{"gatehouse.decision_id", "gatehouse.server", "gatehouse.tool", "gatehouse.reasons", "gatehouse.outcome"} {
		if fields[g] != "keyword" {
			t.Errorf("%s mapped as %q, want keyword (dashboards aggregate on it)", g, fields[g])
		}
	}
	if pats, _ := tmpl["index_patterns"].([]any); len(pats) != 1 || pats[0] != "gatehouse-*" {
		t.Errorf("index_patterns %v", tmpl["index_patterns"])
	}
	lifecycle := tmpl["template"].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any)["lifecycle"].(map[string]any)["name"]
	if lifecycle != "gatehouse-logs" {
		t.Errorf("lifecycle policy %v, want gatehouse-logs (PUT _ilm/policy/gatehouse-logs with ilm-policy.json)", lifecycle)
	}
	b, err := os.ReadFile("elasticsearch/ilm-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var ilm struct {
		Policy struct {
			Phases map[string]struct {
				MinAge  string                     `json:"min_age"`
				Actions map[string]json.RawMessage `json:"actions"`
			} `json:"phases"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(b, &ilm); err != nil {
		t.Fatalf("ilm-policy.json: %v", err)
	}
	if _, ok := ilm.Policy.Phases["delete"].Actions["delete"]; !ok {
		t.Error("the ILM policy never deletes")
	}
}

// kqlField finds field names in a KQL query (field:value, field:*, field:(a or b)).
var kqlField = regexp.MustCompile(`([A-Za-z@][\w.@]*)\s*:`)

// Every Kibana saved object parses, every reference resolves inside the file, and every
// field a visualization aggregates on or queries exists in the index template.
func TestKibanaSavedObjects(t *testing.T) {
	_, fields := loadTemplate(t)
	b, err := os.ReadFile("kibana/saved-objects.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		ID         string         `json:"id"`
		Type       string         `json:"type"`
		Attributes map[string]any `json:"attributes"`
		References []struct {
			Name, Type, ID string
		} `json:"references"`
	}
	var objs []object
	ids := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var o object
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d: %v", len(objs)+1, err)
		}
		if ids[o.ID] != "" {
			t.Errorf("id %s twice", o.ID)
		}
		ids[o.ID] = o.Type
		objs = append(objs, o)
	}
	var dashboards []string
	for _, o := range objs {
		for _, r := range o.References {
			if ids[r.ID] != r.Type {
				t.Errorf("%s refers to %s %s, not in the file", o.ID, r.Type, r.ID)
			}
		}
		str := func(k string) string { s, _ := o.Attributes[k].(string); return s }
		var queries []string
		if meta, ok := o.Attributes["kibanaSavedObjectMeta"].(map[string]any); ok {
			var ss struct {
				Query struct{ Query string } `json:"query"`
			}
			src, _ := meta["searchSourceJSON"].(string)
			if err := json.Unmarshal([]byte(src), &ss); err != nil {
				t.Errorf("%s searchSourceJSON: %v", o.ID, err)
			}
			queries = append(queries, ss.Query.Query)
		}
		switch o.Type {
		case "visualization":
			var vs struct {
				Aggs []struct {
					Params struct{ Field string } `json:"params"`
				} `json:"aggs"`
			}
			if err := json.Unmarshal([]byte(str("visState")), &vs); err != nil || len(vs.Aggs) == 0 {
				t.Errorf("%s visState: %v", o.ID, err)
			}
			for _, a := range vs.Aggs {
				if a.Params.Field != "" && fields[a.Params.Field] == "" {
					t.Errorf("%s aggregates on %s, not in the index template", o.ID, a.Params.Field)
				}
			}
		case "dashboard":
			dashboards = append(dashboards, o.ID)
			var panels []struct{ PanelRefName string }
			if err := json.Unmarshal([]byte(str("panelsJSON")), &panels); err != nil || len(panels) == 0 {
				t.Errorf("%s panelsJSON: %v", o.ID, err)
			}
			for _, p := range panels {
				found := false
				for _, r := range o.References {
					found = found || r.Name == p.PanelRefName
				}
				if !found {
					t.Errorf("%s panel %s has no reference", o.ID, p.PanelRefName)
				}
			}
		}
		for _, q := range queries {
			for _, m := range kqlField.FindAllStringSubmatch(q, -1) {
				if fields[m[1]] == "" {
					t.Errorf("%s queries %s, not in the index template", o.ID, m[1])
				}
			}
		}
	}
	if strings.Join(dashboards, ",") != "gatehouse-decisions,gatehouse-deployments" {
		t.Errorf("dashboards %v", dashboards)
	}
}

// Filebeat, in compose and on Kubernetes, ships the JSON lines with dotted keys expanded
// into the indices the template covers, and does not install a template of its own.
func TestFilebeatConfigs(t *testing.T) {
	for _, path := range []string{"../compose/filebeat.yml", "filebeat/filebeat-kubernetes.yml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out, _ := cfg["output.elasticsearch"].(map[string]any)
		if idx, _ := out["index"].(string); !strings.HasPrefix(idx, "gatehouse-") {
			t.Errorf("%s writes to %q, outside the template's gatehouse-*", path, idx)
		}
		if cfg["setup.ilm.enabled"] != false {
			t.Errorf("%s: Filebeat's own ILM setup must stay off (ilm-policy.json is the policy)", path)
		}
		if !bytes.Contains(b, []byte("expand_keys: true")) || !bytes.Contains(b, []byte("ndjson:")) {
			t.Errorf("%s: the ndjson parser must expand dotted ECS keys", path)
		}
	}
}
