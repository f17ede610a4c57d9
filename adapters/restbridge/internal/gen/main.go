// Command gen writes the REST bridge's OpenAPI document (adapters/restbridge/openapi.json) from
// the pinned tool catalog and the declarations of the adapters built into this repository
// (internal/registry). Run it as
//
//	go generate ./adapters/restbridge
//
// after `gatehouse-dev catalog --write`; TestOpenAPIIsCurrent fails while the committed copy is
// stale. It lives apart from the bridge's binary, which would otherwise link every adapter.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/internal/registry"
)

func main() {
	write := flag.String("write", "", "write the document to this file; without it, print it")
	cat := flag.String("catalog", "policies/catalog.json", "the pinned tool catalog")
	flag.Parse()
	if err := run(*cat, *write); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(catalogPath, write string) error {
	raw, err := os.ReadFile(catalogPath)
	if err != nil {
		return fmt.Errorf("--catalog: %w", err)
	}
	decls, err := registry.Definitions()
	if err != nil {
		return err
	}
	doc, err := restbridge.GenerateOpenAPI(raw, decls)
	if err != nil {
		return err
	}
	if write == "" {
		_, err = os.Stdout.Write(doc)
		return err
	}
	return os.WriteFile(write, doc, 0o644)
}
