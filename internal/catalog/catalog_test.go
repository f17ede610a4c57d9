package catalog_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/internal/testkit"

	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
)

func TestRoundTripIsStable(t *testing.T) {
	data, err := os.ReadFile(testkit.Root("policies", catalog.File))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(data) {
		t.Fatal("parsing and rendering the committed catalog changes it")
	}
	tool, ok := c.Lookup("catalyst-center", "deploy_template")
	in := tool.Input()
	if !ok || in["action"] != "execute" || in["annotations"].(map[string]any)["destructiveHint"] != true {
		t.Fatalf("deploy_template: %v", in)
	}
	if _, ok := c.Lookup("catalyst-center", "format_flash"); ok {
		t.Fatal("found a tool that is not there")
	}
}

func TestRefusesIncompleteEntries(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":    `{"servers":{},"extra":1}`,
		"missing hint":     `{"servers":{"s":{"tools":{"t":{"action":"write","annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":true}}}}}}`,
		"bad action":       `{"servers":{"s":{"tools":{"t":{"action":"admin","annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":true,"openWorldHint":true}}}}}}`,
		"action case":      `{"servers":{"s":{"tools":{"t":{"action":"Write","annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":true,"openWorldHint":true}}}}}}`,
		"read that writes": `{"servers":{"s":{"tools":{"t":{"action":"read","annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":true,"openWorldHint":true}}}}}}`,
	} {
		if _, err := catalog.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), catalog.File) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
