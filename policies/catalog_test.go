package policies_test

import (
	"os"
	"testing"

	"github.com/gatehouse-mcp/gatehouse/adapters/kit"
	"github.com/gatehouse-mcp/gatehouse/internal/catalog"
	"github.com/gatehouse-mcp/gatehouse/internal/registry"
)

// The committed catalog must be exactly what the adapters declare: a tool added, renamed or
// re-annotated in code without `go run ./cmd/gatehouse-dev catalog --write` fails here, so the
// policy never decides on stale action classes.
func TestCatalogIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(catalog.File)
	if err != nil {
		t.Fatal(err)
	}
	generated, err := kit.Catalog(committed, registry.Declarations()...)
	if err != nil {
		t.Fatal(err)
	}
	if string(generated) != string(committed) {
		t.Fatal("policies/catalog.json is stale: run `go run ./cmd/gatehouse-dev catalog --write` and review the diff")
	}
	// Every adapter's server is in the catalog with every tool it declares.
	c, err := catalog.Parse(committed)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range registry.Declarations() {
		for _, d := range s.Declared() {
			tool, ok := c.Lookup(s.Name(), d.Name)
			if !ok || tool.Action != string(d.Action) {
				t.Errorf("%s/%s: catalog has %+v", s.Name(), d.Name, tool)
			}
		}
	}
}
