GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test vet fmt-check bench fuzz clean wat wat-deps deps filters sdk-test

all: build

## build: the wedge binary and the example origin, into bin/
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/wedge ./cmd/wedge
	$(GO) build -o bin/origin ./examples/origin

## run: the quickstart demo — example origin on :9000, wedge on :8080 (h1/h2c) and :8443 (TLS), with Wasm filters
run: build filters
	@./bin/origin -addr 127.0.0.1:9000 & origin=$$!; \
	trap 'kill $$origin 2>/dev/null' EXIT INT TERM; \
	./bin/wedge serve --config examples/quickstart/wedge.yaml

## deps: the Debian packages the tests need (wabt, etcd-server), installed only if missing
deps:
	@bash scripts/deps.sh

## test: format and vet checks, then every test with the race detector
test: fmt-check vet deps wat filters sdk-test
	$(GO) test -race -timeout 20m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## filters: every filters/<name>/ main package -> bin/filters/<name>.wasm (standard Go, wasip1 reactor)
filters:
	@mkdir -p bin/filters
	@set -e; cd filters; \
	for pkg in $$(GOOS=wasip1 GOARCH=wasm $(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...); do \
		name=$$(basename $$pkg); echo "filters: bin/filters/$$name.wasm"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o ../bin/filters/$$name.wasm $$pkg; \
	done

## sdk-test: the sdk and filters modules (their own go.mod): vet for both targets, native tests with the race detector
sdk-test:
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race ./...
	cd filters && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race ./...

## wat: the hand-written Proxy-Wasm test modules, runtime/testdata/wat/*.wat -> bin/wat/*.wasm (installs wabt if missing)
WAT_SRC := $(wildcard runtime/testdata/wat/*.wat)
WAT_BIN := $(patsubst runtime/testdata/wat/%.wat,bin/wat/%.wasm,$(WAT_SRC))

wat: $(WAT_BIN)

wat-deps:
	@bash scripts/deps.sh

bin/wat/%.wasm: runtime/testdata/wat/%.wat | wat-deps
	@mkdir -p bin/wat
	wat2wasm $< -o $@

## bench: Go benchmarks (the runtime's need make wat filters), then wedge vs nginx vs Caddy on loopback (installs them with apt-get)
bench: wat filters
	$(GO) test -run '^$$' -bench . -benchmem ./edge/...
	$(GO) test -run '^$$' -bench 'Lifecycle|Instantiate' -benchmem -benchtime 2000x ./runtime
	$(GO) test -run '^$$' -bench 'Compile|InstanceMemory' -benchmem -benchtime 5x ./runtime
	$(GO) test -run '^$$' -bench . -benchmem ./runtime/internal/...
	bash bench/run.sh

## soak: not in test. Two nodes (the real binary) on a loopback etcd, wrk on a filtered route of each while 50 route tables and filter pushes go through node A; fails on any failed request; prints wrk's figures and change-to-served latency per node
.PHONY: soak
soak: build wat filters deps
	$(GO) test -tags soak -run '^TestSoak$$' -count 1 -v -timeout 30m ./cmd/wedge

## fuzz: each fuzz target for 30s
fuzz: wat
	$(GO) test ./edge/config -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./edge/route -run '^$$' -fuzz FuzzNormalizeHost -fuzztime 30s
	$(GO) test ./runtime -run '^$$' -fuzz FuzzHostCalls -fuzztime 30s
	$(GO) test ./runtime/internal/wasmbin -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime 30s
	$(GO) test ./edge/control -run '^$$' -fuzz FuzzTenants -fuzztime 30s
	$(GO) test ./edge/control -run '^$$' -fuzz FuzzPutRoutes -fuzztime 30s
	$(GO) test ./edge/control/store -run '^$$' -fuzz FuzzGunzip -fuzztime 30s
	$(GO) test ./edge/upstream -run '^$$' -fuzz FuzzWriteRequestDifferential -fuzztime 30s
	$(GO) test ./edge/proxy -run '^$$' -fuzz FuzzClientAddr -fuzztime 30s
	$(GO) test ./edge/cache -run '^$$' -fuzz FuzzParseHTTPDate -fuzztime 30s

clean:
	rm -rf bin
