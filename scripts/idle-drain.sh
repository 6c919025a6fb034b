#!/bin/bash
# idle-drain.sh: does a crowd of idle sessions slow the sessions that
# work? One vmspop serves CLIENTS users with MESSAGES messages each and
# IDLE users with one message each. Each of RUNS rounds drains the
# CLIENTS mailboxes at once (`vmspop-load run`, every size checked)
# twice: once alone, then while `vmspop-load hold` keeps IDLE sessions
# logged in and idle. It prints both drain rates (medians, MB/s) and their
# ratio (issue 22: at least 0.85 with 10,000 idle sessions).
#   scripts/idle-drain.sh
# Environment: IDLE (10000), CLIENTS (50), MESSAGES (1000 of about 8 KiB),
# RUNS (3), SOURCES (local addresses 127.0.0.1..N the idle sessions come
# from, 4), DATA (the generated spool, kept for the next run:
# /tmp/vmspop-idle-drain). Run it under `flock /tmp/vmspop-bench.lock`
# on a shared machine. Needs an open-file limit of about 2*IDLE+1000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh
idle=${IDLE:-10000} clients=${CLIENTS:-50} msgs=${MESSAGES:-1000} runs=${RUNS:-3} sources=${SOURCES:-4}
data=${DATA:-/tmp/vmspop-idle-drain}
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((idle + clients + 500)) ] || { echo "idle-drain.sh: open-file limit $(ulimit -n) too low for $idle sessions" >&2; exit 2; }
go build -o bin/vmspop ./cmd/vmspop
go build -o bin/vmspop-load ./cmd/vmspop-load
bin=$PWD/bin/vmspop
load=$PWD/bin/vmspop-load

# The spool, generated once per shape. bcrypt at its lowest cost: this
# measures sessions, not password hashing.
stamp=$data/stamp-$idle-$clients-$msgs
if [ ! -f "$stamp" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  echo "idle-drain.sh: generating $clients x $msgs messages and $idle idle users in $data" >&2
  "$load" populate --spool "$data/spool" --users "$clients" --messages "$msgs" --users-prefix DRAIN \
    --uaf "$data/uaf" --password pw --bcrypt-cost 4 >/dev/null
  "$load" populate --spool "$data/spool" --users "$idle" --messages 1 --size 2000 --users-prefix IDLE \
    --uaf "$data/uaf" --password pw --bcrypt-cost 4 >/dev/null
  touch "$stamp"
fi

tmp=$(mktemp -d /tmp/vmspop-idle-drain.XXXXXX)
pids=() holder=
cleanup() {
  [ -z "$holder" ] || kill "$holder" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
env -i "PATH=$PATH" "TCPIP\$POP_LISTEN=127.0.0.1:0" "TCPIP\$POP_SPOOL=$data/spool" "TCPIP\$POP_UAF=$data/uaf" \
  "TCPIP\$POP_LEAVE_IN_NEWMAIL=1" "TCPIP\$POP_LOG=$tmp/server.log" "TCPIP\$POP_LOG_LEVEL=ERROR" \
  "TCPIP\$POP_MAXIMUM_THREADS=$((idle + clients + 100))" "TCPIP\$POP_MAXIMUM_PER_ADDRESS=0" \
  "$bin" serve &
pids+=($!)
server=$!
addr=$(wait_match "$tmp/server.log" 's/.*msg=listening addr="\([^"]*\)".*/\1/p')
if [ -z "$addr" ]; then # LOG_LEVEL=ERROR hides the listening line: ask the socket table
  for _ in $(seq 100); do
    addr=$(ss -Hltnp | grep "pid=$server," | awk '{print $4}' | head -n 1 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
fi
[ -n "$addr" ] || { echo "idle-drain.sh: vmspop serve did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }

drain() { # MB/s of one drain of the CLIENTS mailboxes at once
  "$load" run --addr "$addr" --nusers "$clients" --clients "$clients" --users-prefix DRAIN --password pw \
    --timeout 600s --header=false | awk '{print $8}'
}
hold_start() {
  rm -f "$tmp/ready"
  "$load" hold --addr "$addr" --nusers "$idle" --users-prefix IDLE --password pw --sources "$sources" \
    --ready "$tmp/ready" >"$tmp/hold.txt" 2>&1 &
  holder=$!
  for _ in $(seq 6000); do
    [ -f "$tmp/ready" ] && return
    kill -0 "$holder" 2>/dev/null || { echo "idle-drain.sh: vmspop-load hold failed" >&2; cat "$tmp/hold.txt" >&2; exit 1; }
    sleep 0.1
  done
  echo "idle-drain.sh: $idle sessions not logged in after 600 s" >&2
  exit 1
}
hold_stop() {
  kill -TERM "$holder"
  wait "$holder" || { echo "idle-drain.sh: vmspop-load hold failed" >&2; cat "$tmp/hold.txt" >&2; exit 1; }
  holder=
}

drain >/dev/null # warm-up: indexes and page cache
alone="" crowd="" setup=""
for _ in $(seq "$runs"); do
  alone="$alone $(drain)"
  t0=$(date +%s.%N)
  hold_start
  setup="$setup $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  crowd="$crowd $(drain)"
  hold_stop
done
am=$(median <<<"$alone") cm=$(median <<<"$crowd")
printf 'drain, %d clients x %d msgs | alone %s MB/s | beside %d idle sessions %s MB/s | ratio %s\n' \
  "$clients" "$msgs" "$am" "$idle" "$cm" "$(awk -v a="$am" -v c="$cm" 'BEGIN {printf "%.3f", c / a}')"
echo "  runs: alone [$alone ] beside idle [$crowd ]; $idle logins took [$setup ] s; server RSS with them ${rss} KiB"
echo "RESULT idle=$idle clients=$clients alone_mb_s=$am idle_mb_s=$cm ratio=$(awk -v a="$am" -v c="$cm" 'BEGIN {printf "%.3f", c / a}')"
