# vmspop — make run (demo server), make test (everything CI runs), make bench.
GO       ?= go
BIN      ?= bin/vmspop
FUZZTIME ?= 8s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test tidy vet staticcheck unit fuzz-smoke bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vmspop
	$(GO) build -o $(BIN)-load ./cmd/vmspop-load

# Serves a fresh copy of the demo spool on 127.0.0.1:1110 (STLS) and
# 127.0.0.1:1995 (implicit TLS) with demo accounts, and prints how to connect.
run: build
	scripts/demo.sh $(BIN)

test: tidy vet staticcheck unit fuzz-smoke

# go.mod and go.sum are what `go mod tidy` makes them.
tidy:
	$(GO) mod tidy -diff

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target runs briefly (FUZZTIME); long fuzzing: make fuzz FUZZTIME=10m.
fuzz-smoke:
	scripts/fuzz.sh $(FUZZTIME)

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

bench:
	scripts/bench.sh

clean:
	rm -rf bin
