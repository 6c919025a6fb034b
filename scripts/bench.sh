#!/bin/sh
# bench.sh: Go benchmarks of the hot paths; a load run of `vmspop-load`
# against a locally started server (one table); then (if dovecot-pop3d is
# installed and we are root) the side-by-side comparison with Dovecot.
# VMSPOP_BENCH_NO_COMPARE=1 skips the comparison.
set -eu
cd "$(dirname "$0")/.."
. scripts/benchlib.sh
go test -tags bench -run '^$' -bench . -benchtime 20x ./spool ./rewrite ./gateway ./maildrop
# The timing- and memory-sensitive tests, kept out of make test (build tag bench).
go test -tags bench -count=1 -run 'TestSessionMemory|TestTLSSessionMemory|TestBusyPoll|TestRetr100MBMemory|TestManySessions' ./gateway ./cmd/vmspop
# A folder of a million messages (about 1 GB in a temporary directory):
# sizes and UIDLs after the first login, an UPDATE and an index rebuild.
go test -tags bench -count=1 -timeout 60m -run 'TestMillionMessages' -v ./cmd/vmspop

# Load run: populate a scratch spool, serve it on a free loopback port
# (port 0; the address is read from the server's "listening" log line) and
# drive it with `vmspop-load run`. Read mail stays in NEWMAIL, so every
# run sees the same mailboxes.
go build -o bin/vmspop ./cmd/vmspop
go build -o bin/vmspop-load ./cmd/vmspop-load
bin=$PWD/bin/vmspop
loadbin=$PWD/bin/vmspop-load
tmp=$(mktemp -d /tmp/vmspop-bench.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pw=bench-load
"$loadbin" populate --spool "$tmp/spool" --users 5 --messages 2000 --size 8192 --uaf "$tmp/uaf" --password "$pw"
"$loadbin" populate --spool "$tmp/spool" --users-prefix BIG --users 1 --messages 50 --size 1048576 --uaf "$tmp/uaf" --password "$pw"
printf 'VAXA vaxa.example.com\n' >"$tmp/nodes"
# env -i: no TCPIP$POP_* setting of the caller reaches the server.
env -i "PATH=$PATH" "TCPIP\$POP_LISTEN=127.0.0.1:0" "TCPIP\$POP_SPOOL=$tmp/spool" \
  "TCPIP\$POP_UAF=$tmp/uaf" "TCPIP\$POP_LEAVE_IN_NEWMAIL=1" "TCPIP\$POP_LOG=$tmp/server.log" \
  "TCPIP\$POP_HOSTNAME=localhost" "TCPIP\$POP_DECNET_NODES=$tmp/nodes" "$bin" serve &
pid=$!
addr=$(serve_addr "$tmp/server.log")
if [ -z "$addr" ]; then
  echo "bench.sh: vmspop serve did not start:" >&2
  cat "$tmp/server.log" >&2 2>/dev/null || true
  exit 1
fi
echo "bench.sh: vmspop-load run against $addr (LOAD001-005: 2,000 messages of ~8 KiB each;"
echo "BIG001: 50 of ~1 MiB). The first two rows are first logins, which build the folder indexes."
failed=0
load() { "$loadbin" run --addr "$addr" --password "$pw" "$@" || failed=1; }
load --nusers 5 --clients 5 --sessions 1 --mode login
load --nusers 1 --users-prefix BIG --mode login --header=false
load --nusers 5 --clients 1 --sessions 5 --mode drain --header=false
load --nusers 5 --clients 5 --sessions 1 --mode drain --header=false
load --nusers 1 --users-prefix BIG --mode drain --header=false
load --nusers 5 --clients 5 --sessions 200 --mode login --header=false
kill "$pid"
wait "$pid" || true
pid=
if [ "$failed" != 0 ]; then
  echo "bench.sh: a load run failed (see above)" >&2
  exit 1
fi

if [ -n "${VMSPOP_BENCH_NO_COMPARE:-}" ]; then
  echo "bench.sh: skipping compare.sh (VMSPOP_BENCH_NO_COMPARE is set)"
elif [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && [ -x ../shared/bench/compare.sh ]; then
  ../shared/bench/compare.sh --quick .
else
  echo "bench.sh: skipping compare.sh (needs root, dovecot-pop3d and ../shared/bench)"
fi

# STLS against implicit TLS (issue 22), the quick profile.
if [ -z "${VMSPOP_BENCH_NO_COMPARE:-}" ] && [ -d ../shared/bench/mkspool ]; then
  PAIRS=5 scripts/stls-compare.sh --quick .   # 5 pairs: the shortest run that gives a 90 % interval
fi

# TLS reconnects over two instances, shared ticket keys against separate
# ones (issue 22's logins over TLS behind a balancer), short.
if [ -z "${VMSPOP_BENCH_NO_COMPARE:-}" ] && command -v openssl >/dev/null; then
  N=20 scripts/ticketkeys-bench.sh 3
fi
