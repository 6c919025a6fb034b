#!/bin/bash
# firstdrain.sh: the drain of a 10,000-message mailbox on its first login
# (fresh copy of the mbox, no index or cache, freshly started server),
# Dovecot against vmspop, alternating, RUNS times each (default 3). It
# measures the "first login" drain target of issue #9, which compare.sh
# does not. Needs root, dovecot-pop3d, and a compare.sh run before it (for
# popload and the data).
#   scripts/firstdrain.sh [DATA_DIR] (default /tmp/vmspop-compare-data/full)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh
bench=$(readlink -f ../shared/bench)
data=${1:-/tmp/vmspop-compare-data/full}
pl=${POPLOAD:-/tmp/vmspop-compare/bin/popload}
runs=${RUNS:-3}
dport=${DOVECOT_PORT:-11320} vport=${VMSPOP_PORT:-11321}
[ "$(id -u)" = 0 ] || { echo "firstdrain.sh: run as root (Dovecot)" >&2; exit 2; }
[ -f "$data/big.mbox" ] && [ -x "$pl" ] || { echo "firstdrain.sh: run ../shared/bench/compare.sh first (popload, $data/big.mbox)" >&2; exit 2; }
go build -o bin/vmspop ./cmd/vmspop
bin=$PWD/bin/vmspop
tmp=$(mktemp -d /tmp/vmspop-firstdrain.XXXXXX)
chmod 755 "$tmp"
vpid=
dc() { DB=$tmp/dovecot PORT=$dport "$bench/dovecot.sh" "$@"; }
vstop() {
  if [ -n "$vpid" ]; then kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; vpid=; fi
}
cleanup() { vstop; dc stop >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.1; done; return 1; }
drain() { popload_mbs "$pl" "127.0.0.1:$1" big BENCHPW; } # PORT -> MB/s of one drain
dc setup >/dev/null
dc adduser big BENCHPW "$data/big.mbox" >/dev/null
mkdir -p "$tmp/spool"
echo BENCHPW | env "TCPIP\$POP_UAF=$tmp/uaf" "$bin" uaf add BIG --password-stdin >/dev/null
d="" v=""
for _ in $(seq "$runs"); do
  dc stop >/dev/null 2>&1 || true
  dc reset big >/dev/null
  sync
  dc start >/dev/null
  wait_port "$dport" || { echo "firstdrain.sh: dovecot did not start" >&2; exit 1; }
  d="$d $(drain "$dport")"
  dc stop >/dev/null

  rm -rf "$tmp/spool/BIG"; mkdir -p "$tmp/spool/BIG"
  cp "$data/big.mbox" "$tmp/spool/BIG/NEWMAIL"
  sync
  env -i "PATH=$PATH" "TCPIP\$POP_LISTEN=127.0.0.1:$vport" "TCPIP\$POP_SPOOL=$tmp/spool" "TCPIP\$POP_UAF=$tmp/uaf" \
    "TCPIP\$POP_LEAVE_IN_NEWMAIL=1" "TCPIP\$POP_LOG_LEVEL=ERROR" "$bin" serve >>"$tmp/serve.log" 2>&1 &
  vpid=$!
  wait_port "$vport" || { echo "firstdrain.sh: vmspop did not start" >&2; cat "$tmp/serve.log" >&2; exit 1; }
  v="$v $(drain "$vport")"
  vstop
done
dm=$(median <<<"$d") vm=$(median <<<"$v")
printf 'first-login drain, 1 client, %s: dovecot %s MB/s, vmspop %s MB/s, ratio %.2f\n' \
  "$(grep -c '^From ' "$data/big.mbox") msgs" "$dm" "$vm" "$(awk -v a="$vm" -v b="$dm" 'BEGIN {print a/b}')"
echo "  runs: dovecot [$d ] vmspop [$v ]"
