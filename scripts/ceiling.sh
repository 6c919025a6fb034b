#!/bin/bash
# ceiling.sh: how close vmspop comes to the most compare.sh's client can
# consume. It serves compare.sh's big (10,000 messages) and huge (200 x
# 1 MiB) mailboxes with vmspop, records one session of each with
# `vmspop load replay` (a server that sends the recorded replies with
# sendfile and does no work), and drains both with compare.sh's popload,
# alternating, RUNS times each. Run compare.sh once first: it builds
# popload and generates the data.
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
bin=$PWD/bin/vmspop
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
  "$bin" load replay --from "$addr" --user "$u" --password pw >"$tmp/replay-$u.txt" 2>&1 &
  pids+=($!)
  replay[$u]=$(wait_match "$tmp/replay-$u.txt" 's/^replaying .* on \(.*\)$/\1/p' 600)
  [ -n "${replay[$u]}" ] || { echo "ceiling.sh: replay of $u did not start" >&2; cat "$tmp/replay-$u.txt" >&2; exit 1; }
done
mbs() { popload_mbs "$pl" "$1" "$2" pw; } # ADDR USER -> MB/s of one drain
for u in big huge; do mbs "$addr" "$u" >/dev/null; mbs "${replay[$u]}" "$u" >/dev/null; done # warm-up
printf '%-34s | %14s | %14s | %s\n' "drain (popload, 1 client)" "vmspop MB/s" "replay MB/s" "vmspop / replay"
for u in big huge; do
  v="" c=""
  for _ in $(seq "$runs"); do v="$v $(mbs "$addr" "$u")"; c="$c $(mbs "${replay[$u]}" "$u")"; done
  vm=$(median <<<"$v") cm=$(median <<<"$c")
  label="10,000 msgs (big)"; [ "$u" = huge ] && label="200 x 1 MiB (huge)"
  printf '%-34s | %14s | %14s | %.2f\n' "$label" "$vm" "$cm" "$(awk -v a="$vm" -v b="$cm" 'BEGIN {print a/b}')"
  echo "  runs: vmspop [$v ] replay [$c ]"
done
