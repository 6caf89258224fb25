# Mezzo's build and test entry points. `make test` is what CI runs
# (.ci/run): on a fresh machine it installs what the tests need, then runs
# every test.

GO        ?= go
PKGS      := ./...
# Packages whose code runs goroutines concurrently; their tests also run
# under the race detector.
RACE_PKGS := ./api/... ./master/... ./agent/... ./executor/... ./sdk/... ./internal/libprocess/...
BIN       := bin/mezzo

.PHONY: all build deps generate check-generated fmt-check vet test test-unit test-race fuzz soak quickstart clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/mezzo

# deps installs the system packages the build and tests use, if missing.
deps:
	@sh scripts/deps.sh

generate: deps
	$(GO) generate ./api/v1/ ./api/v0/

# check-generated fails when the committed generated code is not what the
# .proto files produce.
check-generated: generate
	@git diff --exit-code --stat -- api/ || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test-unit:
	$(GO) test -count=1 $(PKGS)

test-race:
	$(GO) test -count=1 -race $(RACE_PKGS)

test: deps fmt-check vet check-generated build test-unit test-race

# fuzz runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./resources -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./resources -run='^$$' -fuzz='^FuzzParseAttributes$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./api/v1/recordio -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./api/v1 -run='^$$' -fuzz='^FuzzSchedulerCallJSON$$' -fuzztime=$(FUZZTIME)

# soak runs the cluster simulation (master/sim_test.go) over many more
# seeds than the test run's 1,000, from a seed that changes every run:
# SOAK_SEEDS=100000 SOAK_FIRST=1 make soak replays a given range. A failing
# seed prints the command that replays it with a trace.
SOAK_SEEDS ?= 20000
SOAK_FIRST ?= $(shell date +%s)
soak:
	$(GO) test ./master -run='^TestSimulation$$' -count=1 -timeout=0 -v -args -sim.seeds=$(SOAK_SEEDS) -sim.first=$(SOAK_FIRST)

clean:
	rm -rf bin
