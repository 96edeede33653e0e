# Backchannel: `make run` starts the server, `make test` runs the whole suite.
GO      ?= go
BIN     := bin/backchannel
PKGS    := ./...
# `backchannel version` and the start-up log line say what was built: the
# nearest tag (or "dev") and the commit, stamped into main's variables.
VERSION ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The C SQLite (mattn/go-sqlite3, the engine of a cgo build) compiles FTS5,
# which search uses on SQLite, only with this tag (recorder/search.go; a
# build without it still works, and search reads the room it searches).
TAGS    ?= sqlite_fts5
# Each fuzz target runs briefly in `make test`; `make fuzz FUZZTIME=10m` for long runs.
# The brief run is a count of executions, not a duration: with a duration,
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when its workers are slow to stop on a loaded machine
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 20000x
FUZZ_TARGETS := $(shell grep -rl --include='*_test.go' '^func Fuzz' . 2>/dev/null | xargs -r grep -h -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/^func //' | sort -u)

.PHONY: build run cluster test unit fuzz lint tscheck bench clean

build:
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/backchannel

run: build
	./$(BIN) serve --dev --data ./data

# Three cluster nodes on loopback against the local PostgreSQL
# (docs/cluster.md); Ctrl-C drains them.
cluster: build
	BIN=$(BIN) bash scripts/cluster.sh

# The whole suite: environment check (says what will be skipped, fails under
# CI=true if anything would be), race-enabled tests, a brief run of every
# fuzz target, and lint.
test: lint
	@bash scripts/check-env.sh
	$(GO) test -tags "$(TAGS)" -race -count=1 -timeout 30m $(PKGS)
	# Figures measured without the race detector (files tagged !race),
	# among them the 60 s PostgreSQL outage at 200 msg/s (issue 20).
	# One package at a time (-p 1): each compares latency or rate against
	# a figure taken in the same test, and the 1M-row export beside the
	# flood test put its CPU into the flood windows only (CI, p95 +1.5 ms).
	$(GO) test -tags "$(TAGS)" -count=1 -p 1 -timeout 15m -run 'ExportMemory|FloodIsContained|IdleConnectionsAreBounded|PostgresOutageUnderLoadIsQuiet' ./recorder/export ./internal/app
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$$(grep -rl --include='*_test.go' "^func $$t(" . | head -1 | xargs dirname); \
		echo "fuzz $$t in $$pkg for $(FUZZTIME)"; \
		$(GO) test -tags "$(TAGS)" -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# The browser client is plain JavaScript checked by TypeScript (// @ts-check,
# web/jsconfig.json); TypeScript comes from the npm registry into .tools/
# (git ignores it) the first time. Only lint needs it: `make run` needs Go.
# One pinned version, so that every checkout checks the same way (5.7 made
# Uint8Array generic, which e2ee.js's WebCrypto calls are not typed for yet).
TS_VERSION := 5.6.3
TSC := .tools/typescript-$(TS_VERSION)/node_modules/.bin/tsc

tscheck: $(TSC)
	$(TSC) -p web/jsconfig.json

$(TSC):
	npm install --prefix .tools/typescript-$(TS_VERSION) --no-audit --no-fund --no-save typescript@$(TS_VERSION)

# golangci-lint, pinned, built from the module proxy into .tools/ (git
# ignores it) the first time `make lint` runs.
GOLANGCI_VERSION := v2.15.0
GOLANGCI := .tools/bin/golangci-lint-$(GOLANGCI_VERSION)

$(GOLANGCI):
	@mkdir -p .tools/bin
	GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv .tools/bin/golangci-lint $@

lint: $(GOLANGCI)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory tscheck; \
	elif [ "$$CI" = "true" ]; then echo "make lint: npm is missing, and CI=true skips nothing"; exit 1; \
	else echo "make lint: SKIPPED the browser client's type check (npm not found; install Node.js to run it)"; fi
	$(GO) vet -tags "$(TAGS)" $(PKGS)
	$(GOLANGCI) run --build-tags "$(TAGS)" ./...
	# The build without a C compiler (pure-Go SQLite) must keep building.
	CGO_ENABLED=0 $(GO) vet ./recorder/...
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/backchannel

# `make bench`: the chat load scenarios of BENCHMARKS.md (a fresh loopback
# server per run, SQLite and, when reachable, PostgreSQL; RUNS, SCENARIOS and
# DBS narrow it, see scripts/bench.sh), then the Go micro-benchmarks.
BENCHTIME ?= 1s
# With LIVEKIT_BIN=… (a LiveKit v1.13.5 server built from its public
# repository), `make bench` also runs the side-by-side of
# ../shared/sidebyside: LiveKit, ours and a bare Pion relay, alternated.
bench:
	@bash scripts/bench.sh
	@if [ -n "$(LIVEKIT_BIN)" ]; then LIVEKIT_BIN="$(LIVEKIT_BIN)" bash scripts/sidebyside.sh; fi
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -timeout 30m $(PKGS)

clean:
	rm -rf bin
