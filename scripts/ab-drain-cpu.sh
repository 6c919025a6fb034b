#!/bin/bash
# ab-drain-cpu.sh: A/B of two vmspop binaries on small-message drains, on
# a shared machine where MB/s says little: both serve copies of the same
# spool (TCPIP$POP_LEAVE_IN_NEWMAIL=1), are warmed (index built), then
# `vmspop-load run --mode drain` alternates between them; each run prints
# the load tool's MB/s and the server CPU (utime + stime from
# /proc/PID/stat) that the run cost, then the medians and their ratio.
#
#   scripts/ab-drain-cpu.sh OLD_BIN NEW_BIN [RUNS [USERS [MESSAGES [CLIENTS]]]]
#
# Defaults: 5 runs of 50 clients draining 50 users x 1,000 messages
# (compare.sh's 50-client mailboxes); 1 client: RUNS 1 10000 1. Data in
# $DATA (default /tmp/vmspop-abdrain), removed at the end. Runs under the
# shared lock /tmp/vmspop-bench.lock.
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
if [ -z "${VMSPOP_AB_LOCKED:-}" ]; then
  export VMSPOP_AB_LOCKED=1
  exec flock /tmp/vmspop-bench.lock "$self" "$@"
fi
[ $# -ge 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN [RUNS [USERS [MESSAGES [CLIENTS]]]]" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") RUNS=${3:-5} USERS=${4:-50} MSGS=${5:-1000} CL=${6:-50}
cd "$(dirname "$0")/.."
. scripts/benchlib.sh
go build -o bin/vmspop-load ./cmd/vmspop-load
L=$PWD/bin/vmspop-load
W=${DATA:-/tmp/vmspop-abdrain}
rm -rf "$W"; mkdir -p "$W"
p1= p2=
trap 'kill $p1 $p2 2>/dev/null || true; rm -rf "$W"' EXIT
"$L" populate --spool "$W/a" --users "$USERS" --messages "$MSGS" --uaf "$W/uaf" --password pw >/dev/null
cp -a "$W/a" "$W/b"
start() { # BIN SPOOL LOG
  env 'TCPIP$POP_LISTEN=127.0.0.1:0' "TCPIP\$POP_SPOOL=$2" "TCPIP\$POP_UAF=$W/uaf" \
    'TCPIP$POP_LEAVE_IN_NEWMAIL=1' "TCPIP\$POP_LOG=$3" "$1" serve >/dev/null 2>&1 &
}
start "$OLD" "$W/a" "$W/old.log"; p1=$!
start "$NEW" "$W/b" "$W/new.log"; p2=$!
a1=$(serve_addr "$W/old.log") a2=$(serve_addr "$W/new.log")
[ -n "$a1" ] && [ -n "$a2" ] || { echo "a server did not start" >&2; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # NAME ADDR PID
  c0=$(cpu "$3")
  r=$("$L" run --addr "$2" --nusers "$USERS" --password pw --clients "$CL" --mode drain --header=false | awk '{print $8}')
  c1=$(cpu "$3")
  echo "$1 mb_s $r cpu_s $(echo "scale=2; ($c1 - $c0) / 100" | bc)"
}
run warm "$a1" "$p1" >/dev/null
run warm "$a2" "$p2" >/dev/null
out=$(for i in $(seq "$RUNS"); do run old "$a1" "$p1"; run new "$a2" "$p2"; done)
printf '%s\n' "$out"
for k in mb_s cpu_s; do
  o=$(printf '%s\n' "$out" | awk -v k=$k '$1 == "old" {for (i = 2; i < NF; i++) if ($i == k) print $(i + 1)}' | median)
  n=$(printf '%s\n' "$out" | awk -v k=$k '$1 == "new" {for (i = 2; i < NF; i++) if ($i == k) print $(i + 1)}' | median)
  echo "median $k old $o new $n new/old $(echo "scale=3; $n / $o" | bc)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
