# Mezzo's build and test entry points. `make test` is what CI runs
# (.ci/run): on a fresh machine it installs what the tests need, then runs
# every test.

GO        ?= go
PKGS      := ./...
# Packages whose code runs goroutines concurrently; their tests also run
# under the race detector.
RACE_PKGS := ./api/... ./master/... ./agent/... ./executor/... ./sdk/... ./internal/libprocess/...
BIN       := bin/mezzo

.PHONY: all build deps generate check-generated fmt-check vet test test-unit test-race fuzz soak bench-quick quickstart clean package image install

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
	$(GO) test ./resources -run='^$$' -fuzz='^FuzzParseJSON$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./api/v1/recordio -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./api/v1 -run='^$$' -fuzz='^FuzzSchedulerCallJSON$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./api/v1 -run='^$$' -fuzz='^FuzzCallsProtobuf$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./master -run='^$$' -fuzz='^FuzzSchedulerCallProtobuf$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/flags -run='^$$' -fuzz='^FuzzParseDuration$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/flags -run='^$$' -fuzz='^FuzzParseBytes$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/libprocess -run='^$$' -fuzz='^FuzzParseUPID$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/libprocess -run='^$$' -fuzz='^FuzzReceiver$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./agent/fetcher -run='^$$' -fuzz='^FuzzExtractTar$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./agent/fetcher -run='^$$' -fuzz='^FuzzExtractZip$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/acl -run='^$$' -fuzz='^FuzzParseACLs$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/auth -run='^$$' -fuzz='^FuzzReadCredentials$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/auth -run='^$$' -fuzz='^FuzzReadCredential$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/auth -run='^$$' -fuzz='^FuzzBasicAuthorization$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/auth -run='^$$' -fuzz='^FuzzExecutorToken$$' -fuzztime=$(FUZZTIME)

# bench-quick runs each scale scenario of `mezzo bench` at a small size
# (docs/benchmarks.md gives the full-size commands), results in bin/bench.
bench-quick: build
	@mkdir -p bin/bench
	$(BIN) bench allocator --agents=20000 --frameworks=200 --cycles=5 --out=bin/bench/allocator.json
	$(BIN) bench burst --agents=500 --tasks=10000 --frameworks=5 --out=bin/bench/burst.json
	$(BIN) bench idle --agents=2000 --window=10secs --master_flag=--agent_ping_timeout=1secs --master_flag=--max_agent_ping_timeouts=3 --out=bin/bench/idle.json
	$(BIN) bench failover --agents=2000 --tasks_per_agent=5 --frameworks=5 --out=bin/bench/failover.json
	$(BIN) bench paper --agents=1000 --frameworks=50 --task_duration=10secs --warmup=10secs --window=20secs --out=bin/bench/paper.json
	$(BIN) bench state --agents=1000 --frameworks=20 --running=20000 --completed=20000 --pollers=4 --window=10secs --out=bin/bench/state.json

# soak runs the cluster simulation (master/sim_test.go) over many more
# seeds than the test run's 1,000, from a seed that changes every run:
# SOAK_SEEDS=100000 SOAK_FIRST=1 make soak replays a given range. A failing
# seed prints the command that replays it with a trace.
SOAK_SEEDS ?= 20000
SOAK_FIRST ?= $(shell date +%s)
soak:
	$(GO) test ./master -run='^TestSimulation$$' -count=1 -timeout=0 -v -args -sim.seeds=$(SOAK_SEEDS) -sim.first=$(SOAK_FIRST)

# The release's version, as the binary reports it (the packages name it).
VERSION   ?= $(shell sed -n 's/^var Version = "\(.*\)"/\1/p' internal/version/version.go)

# package builds the Debian package bin/mezzo_<VERSION>_<arch>.deb with nfpm
# (deploy/package, a module of its own): the binary, the systemd units, the
# default configuration and the cluster scripts.
package: build
	cd deploy/package && $(GO) run . --root=../.. --binary=$(BIN) --version=$(VERSION) --out=bin

# image builds the container image mezzo:<VERSION>, FROM scratch with the
# static binary (deploy/docker/Dockerfile); no registry is involved.
image: build
	docker build -q -f deploy/docker/Dockerfile -t mezzo:$(VERSION) bin/

# install puts the binary, the cluster scripts, the units and the default
# configuration (when none is there yet) under DESTDIR/PREFIX.
PREFIX ?= /usr/local
install: build
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mezzo
	install -D -m 755 deploy/scripts/mezzo-cluster $(DESTDIR)$(PREFIX)/bin/mezzo-cluster
	for s in start-cluster stop-cluster start-masters stop-masters start-agents stop-agents upgrade-agents upgrade-masters; do \
		ln -sf mezzo-cluster $(DESTDIR)$(PREFIX)/bin/mezzo-$$s; done
	for u in master agent; do \
		sed 's|/usr/bin/mezzo |$(PREFIX)/bin/mezzo |' deploy/systemd/mezzo-$$u.service >tmp.unit && \
		install -D -m 644 tmp.unit $(DESTDIR)/etc/systemd/system/mezzo-$$u.service && rm -f tmp.unit; \
		[ -e $(DESTDIR)/etc/mezzo/$$u.yaml ] || install -D -m 644 deploy/config/$$u.yaml $(DESTDIR)/etc/mezzo/$$u.yaml; \
		[ -e $(DESTDIR)/etc/default/mezzo-$$u ] || install -D -m 644 deploy/config/default-$$u $(DESTDIR)/etc/default/mezzo-$$u; \
	done

clean:
	rm -rf bin
