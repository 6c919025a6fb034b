#!/bin/bash
# ceiling.sh: how vmspop compares with a server that does no work per
# command (it still sleeps between commands, as vmspop did before busy
# polling, so on the 10,000-message drain vmspop can now beat it). It serves compare.sh's big (10,000 messages) and huge (200 x
# 1 MiB) mailboxes with vmspop, records one session of each with
# `vmspop-load replay` (a server that sends the recorded replies with
# sendfile and does no work), and drains both with compare.sh's popload,
# alternating, RUNS times each, together with Dovecot serving the same
# mbox files (when run as root with dovecot-pop3d, as compare.sh does)
# and, for the 1 MiB messages, compare.sh's raw sendfile limit (rawserve),
# so that the ratios of the issue #9 targets come from one run. Run
# compare.sh once first: it builds popload and rawserve and generates the
# data.
#   scripts/ceiling.sh [DATA_DIR] (default /tmp/vmspop-compare-data/full)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh
data=${1:-/tmp/vmspop-compare-data/full}
pl=${POPLOAD:-/tmp/vmspop-compare/bin/popload}
runs=${RUNS:-5}
[ -f "$data/big.mbox" ] && [ -f "$data/huge.mbox" ] || { echo "ceiling.sh: no $data/{big,huge}.mbox: run ../shared/bench/compare.sh first" >&2; exit 2; }
[ -x "$pl" ] || { echo "ceiling.sh: no popload at $pl: run ../shared/bench/compare.sh first" >&2; exit 2; }
go build -o bin/vmspop ./cmd/vmspop
go build -o bin/vmspop-load ./cmd/vmspop-load
bin=$PWD/bin/vmspop
loadbin=$PWD/bin/vmspop-load
tmp=$(mktemp -d /tmp/vmspop-ceiling.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/spool/BIG" "$tmp/spool/HUGE"
cp "$data/big.mbox" "$tmp/spool/BIG/NEWMAIL"
cp "$data/huge.mbox" "$tmp/spool/HUGE/NEWMAIL"
for u in BIG HUGE; do
  echo pw | env "TCPIP\$POP_UAF=$tmp/uaf" "$bin" uaf add "$u" --password-stdin >/dev/null
done
env -i "PATH=$PATH" "TCPIP\$POP_LISTEN=127.0.0.1:0" "TCPIP\$POP_SPOOL=$tmp/spool" "TCPIP\$POP_UAF=$tmp/uaf" \
  "TCPIP\$POP_LEAVE_IN_NEWMAIL=1" "TCPIP\$POP_LOG=$tmp/server.log" "$bin" serve &
pids+=($!)
addr=$(serve_addr "$tmp/server.log")
[ -n "$addr" ] || { echo "ceiling.sh: vmspop serve did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
declare -A replay
for u in big huge; do
  "$loadbin" replay --from "$addr" --user "$u" --password pw >"$tmp/replay-$u.txt" 2>&1 &
  pids+=($!)
  replay[$u]=$(wait_match "$tmp/replay-$u.txt" 's/^replaying .* on \(.*\)$/\1/p' 600)
  [ -n "${replay[$u]}" ] || { echo "ceiling.sh: replay of $u did not start" >&2; cat "$tmp/replay-$u.txt" >&2; exit 1; }
done
mbs() { popload_mbs "$pl" "$1" "$2" pw; } # ADDR USER -> MB/s of one drain

# Dovecot on the same files, and the raw limit of the 1 MiB mailbox.
dport=${DOVECOT_PORT:-11330} rport=${RAW_PORT:-11332}
bench=$(readlink -f ../shared/bench || true) # a worktree under /work/wt has no ../shared
[ -d "$bench" ] || bench=/work/shared/bench
dovecot=
if [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && [ -x "$bench/dovecot.sh" ]; then
  dc() { DB=$tmp/dovecot PORT=$dport "$bench/dovecot.sh" "$@"; }
  chmod 755 "$tmp"
  dc setup >/dev/null
  for u in big huge; do dc adduser "$u" pw "$data/$u.mbox" >/dev/null; done
  dc start >/dev/null
  trap 'dc stop >/dev/null 2>&1 || true; cleanup' EXIT
  for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$dport")" ] && break; sleep 0.1; done
  dovecot=127.0.0.1:$dport
else
  echo "ceiling.sh: no Dovecot column (needs root and dovecot-pop3d)"
fi
raw=$(dirname "$pl")/rawserve
rawmbs() { # MB/s of streaming huge.mbox with sendfile into a byte-counting client
  "$raw" -addr "127.0.0.1:$rport" -file "$data/huge.mbox" -maxconns 1 -lifetime 60s >/dev/null 2>&1 &
  local p=$! r
  for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$rport")" ] && break; sleep 0.1; done
  r=$("$pl" -addr "127.0.0.1:$rport" -mode raw | grep '^RESULT' | sed 's/.* mb_s=\([0-9.]*\).*/\1/')
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  echo "$r"
}

for u in big huge; do # warm-up
  mbs "$addr" "$u" >/dev/null
  mbs "${replay[$u]}" "$u" >/dev/null
  [ -z "$dovecot" ] || mbs "$dovecot" "$u" >/dev/null
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
printf '%-20s | %9s | %9s | %9s | %9s | %s\n' "drain, 1 client" dovecot vmspop replay raw "vmspop/dovecot replay/dovecot vmspop/replay (replay/raw)"
for u in big huge; do
  d="" v="" c="" w=""
  for _ in $(seq "$runs"); do
    [ -z "$dovecot" ] || d="$d $(mbs "$dovecot" "$u")"
    v="$v $(mbs "$addr" "$u")"
    c="$c $(mbs "${replay[$u]}" "$u")"
    if [ "$u" = huge ] && [ -x "$raw" ]; then w="$w $(rawmbs)"; fi
  done
  dm=$(median <<<"${d:-0}") vm=$(median <<<"$v") cm=$(median <<<"$c") wm=$(median <<<"${w:-0}")
  label="10,000 msgs (big)"; [ "$u" = huge ] && label="200 x 1 MiB (huge)"
  extra=""; [ "$u" = huge ] && extra=" ($(ratio "$cm" "$wm"))"
  printf '%-20s | %9s | %9s | %9s | %9s | %s %s %s%s\n' "$label" "$dm" "$vm" "$cm" "$wm" \
    "$(ratio "$vm" "$dm")" "$(ratio "$cm" "$dm")" "$(ratio "$vm" "$cm")" "$extra"
  echo "  runs: dovecot [$d ] vmspop [$v ] replay [$c ] raw [$w ]"
done
