#!/bin/bash
# vmspop-deliver vs Dovecot's dovecot-lda on this machine: messages per
# second with one process per message, as an MTA runs a local delivery agent,
# one delivery at a time and 4 at once; small (2 KiB) messages, one recipient
# each, rotating over 10 users. Each agent stores to a local mbox spool with
# its default durability (vmspop: fdatasync per copy behind its commit
# record; Dovecot: mail_fsync = optimized). Both are run by root and act as
# the mail user (uid 8): vmspop as the spool's owner, dovecot-lda as the
# user its userdb names. Not part of "make test"; needs root (Dovecot's
# private instance, which dovecot-lda asks for the user) and dovecot-lmtpd's
# dovecot-lda. Everything lives under a temporary directory and is removed
# at the end.
#
# usage: scripts/deliver-bench.sh [--both] [MESSAGES]   (default 400 per run)
# --both: "vmspop deliver" (the subcommand of the big binary, the same code)
# is measured too, in the same run, as a third column.
# DOVECOT_SH: path of the private-Dovecot helper (default ../shared/bench/dovecot.sh
# from the repository root, else /work/shared/bench/dovecot.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BOTH=
if [ "${1:-}" = --both ]; then BOTH=1; shift; fi
N=${1:-400}
DOVECOT_SH=${DOVECOT_SH:-}
for c in ../shared/bench/dovecot.sh /work/shared/bench/dovecot.sh; do
  [ -n "$DOVECOT_SH" ] || { [ -x "$c" ] && DOVECOT_SH=$c; } || true
done
[ -n "$DOVECOT_SH" ] || { echo "deliver-bench: dovecot.sh not found (set DOVECOT_SH)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "deliver-bench: needs root for the private Dovecot" >&2; exit 2; }
LDA=/usr/lib/dovecot/dovecot-lda
command -v dovecot >/dev/null && [ -x "$LDA" ] || { echo "deliver-bench: dovecot-lda is not installed" >&2; exit 2; }

W=$(mktemp -d /tmp/vmspop-deliver-bench.XXXXXX)
chmod 0755 "$W"   # Dovecot's auth and mail processes run unprivileged
cleanup() {
  DB=$W/dovecot "$DOVECOT_SH" stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

# as make build does: static, trimmed paths
CGO_ENABLED=0 go build -trimpath -o "$W/vmspop" ./cmd/vmspop
CGO_ENABLED=0 go build -trimpath -o "$W/vmspop-deliver" ./cmd/vmspop-deliver
go build -o "$W/deliverload" ./scripts/deliverload

# vmspop: accounts file with user01..user10; the spool belongs to uid 8.
mkdir -p "$W/spool"
for i in $(seq -w 1 10); do
  echo demo | "$W/vmspop" uaf --uaf "$W/uaf" add "USER$i" --password-stdin >/dev/null
done
chown 8:8 "$W/spool" "$W/uaf"

# Dovecot: private instance (its auth service answers dovecot-lda's userdb
# lookup), mbox INBOX per user.
export DB=$W/dovecot PORT=0
"$DOVECOT_SH" setup >/dev/null
: > "$W/empty.mbox"
for i in $(seq -w 1 10); do echo "user$i demo $W/empty.mbox"; done > "$W/dusers"
"$DOVECOT_SH" addusers "$W/dusers"
"$DOVECOT_SH" start >/dev/null

vm() { "$W/deliverload" -n "$1" -c "$2" -env "TCPIP_POP_SPOOL=$W/spool" -env "TCPIP_POP_UAF=$W/uaf" -- "$W/vmspop-deliver" -f bench@b.example '{user}'; }
vs() { "$W/deliverload" -n "$1" -c "$2" -env "TCPIP_POP_SPOOL=$W/spool" -env "TCPIP_POP_UAF=$W/uaf" -- "$W/vmspop" deliver -f bench@b.example '{user}'; }
dc() { "$W/deliverload" -n "$1" -c "$2" -- "$LDA" -c "$DB/dovecot.conf" -f bench@b.example -d '{user}'; }
rate() { sed -n 's/.* \([0-9]*\) msg\/s$/\1/p'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
# both deliver (Dovecot's auth process may need a moment), then warm up
for _ in $(seq 50); do dc 1 1 >/dev/null 2>&1 && break; sleep 0.2; done
vm 40 2 >/dev/null || exit 1
[ -z "$BOTH" ] || vs 40 2 >/dev/null || exit 1
dc 40 2 >/dev/null || { tail -5 "$DB/dovecot.log"; exit 1; }
declare -A R
for c in 1 4; do
  R[v$c]=$(vm "$N" "$c" | rate)
  R[d$c]=$(dc "$N" "$c" | rate)
  [ -z "$BOTH" ] || R[s$c]=$(vs "$N" "$c" | rate)
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b>0)?a/b:0}'; }
if [ -z "$BOTH" ]; then
  echo "| deliveries at once | vmspop-deliver msg/s | dovecot-lda msg/s | ratio |"
  echo "|---|---|---|---|"
  for c in 1 4; do
    echo "| $c | ${R[v$c]} | ${R[d$c]} | $(ratio "${R[v$c]}" "${R[d$c]}") |"
  done
else
  echo "| deliveries at once | vmspop-deliver msg/s | vmspop deliver msg/s | dovecot-lda msg/s | ratio vmspop-deliver | ratio vmspop deliver |"
  echo "|---|---|---|---|---|---|"
  for c in 1 4; do
    echo "| $c | ${R[v$c]} | ${R[s$c]} | ${R[d$c]} | $(ratio "${R[v$c]}" "${R[d$c]}") | $(ratio "${R[s$c]}" "${R[d$c]}") |"
  done
fi
