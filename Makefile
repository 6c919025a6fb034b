# vmspop — make run (demo server), make test (everything CI runs), make bench,
# make install (PREFIX, DESTDIR).
GO       ?= go
BIN      ?= bin/vmspop
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
FUZZTIME ?= 8s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test tidy vet staticcheck unit fuzz-smoke bench bench-million fuzz clean install

all: build

# Static binaries (no cgo: os/user reads /etc/passwd itself), with the
# revision for `vmspop version` where the toolchain cannot stamp it; the
# delivery agent vmspop-deliver (the same code as `vmspop deliver`, in a
# binary that starts in a fraction of the time) beside vmspop.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.buildRevision=$(REVISION)" -o $(BIN) ./cmd/vmspop
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)-deliver ./cmd/vmspop-deliver
	$(GO) build -o $(BIN)-load ./cmd/vmspop-load

# The binaries, the systemd units (ExecStart= pointing at BINDIR), the sample
# environment file (kept if one is there), the logrotate file and the man
# pages. See docs/service.md for the account and spool to create.
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/vmspop $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/vmspop
	install -m 0755 $(BIN)-deliver $(DESTDIR)$(BINDIR)/vmspop-deliver
	sed 's|/usr/local/bin/vmspop|$(BINDIR)/vmspop|g' dist/systemd/vmspop.service > $(DESTDIR)$(UNITDIR)/vmspop.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vmspop.service
	install -m 0644 dist/systemd/vmspop.socket dist/systemd/vmspop-ticketkeys.timer $(DESTDIR)$(UNITDIR)/
	sed 's|/usr/local/bin/vmspop|$(BINDIR)/vmspop|g' dist/systemd/vmspop-ticketkeys.service > $(DESTDIR)$(UNITDIR)/vmspop-ticketkeys.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vmspop-ticketkeys.service
	install -m 0644 dist/vmspop.env $(DESTDIR)$(SYSCONFDIR)/vmspop/vmspop.env.sample
	test -e $(DESTDIR)$(SYSCONFDIR)/vmspop/vmspop.env || install -m 0640 dist/vmspop.env $(DESTDIR)$(SYSCONFDIR)/vmspop/vmspop.env
	install -m 0644 dist/logrotate/vmspop $(DESTDIR)$(SYSCONFDIR)/logrotate.d/vmspop
	install -m 0644 dist/man/vmspop.8 dist/man/vmspop-deliver.8 $(DESTDIR)$(MANDIR)/man8/

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

# The million-message targets of docs/performance.md (an 8 GB folder,
# generated once under DATA, default /tmp/vmspop-million).
bench-million:
	scripts/million.sh

clean:
	rm -rf bin
