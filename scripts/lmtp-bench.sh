#!/bin/bash
# vmspop LMTP vs Dovecot LMTP (dovecot-lmtpd) on this machine: messages per
# second for 1 and for 10 connections, small (2 KiB) messages, one recipient
# each, rotating over 10 users. Each server stores to a local mbox spool with
# its default durability (vmspop: fsync per copy; Dovecot: mail_fsync =
# optimized). Not part of "make test"; needs root (Dovecot's private instance
# delivers as uid 8) and dovecot-lmtpd. Everything lives under a temporary
# directory, both servers listen on 127.0.0.1 only and are stopped at the end.
#
# usage: scripts/lmtp-bench.sh [MESSAGES]   (default 3000 per run)
# ROUNDS: how many times each cell is measured, alternating the servers
# (default 1); with more, the table gives the medians.
# DOVECOT_SH: path of the private-Dovecot helper (default ../shared/bench/dovecot.sh
# from the repository root, else /work/shared/bench/dovecot.sh).
# VMSPOP_B: path of a second vmspop binary (e.g. main's) run beside this
# tree's on its own spool, alternating with the other two, for an A/B.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}
DOVECOT_SH=${DOVECOT_SH:-}
for c in ../shared/bench/dovecot.sh /work/shared/bench/dovecot.sh; do
  [ -n "$DOVECOT_SH" ] || { [ -x "$c" ] && DOVECOT_SH=$c; } || true
done
[ -n "$DOVECOT_SH" ] || { echo "lmtp-bench: dovecot.sh not found (set DOVECOT_SH)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "lmtp-bench: needs root for the private Dovecot" >&2; exit 2; }
command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] || { echo "lmtp-bench: dovecot-lmtpd is not installed" >&2; exit 2; }

W=$(mktemp -d /tmp/vmspop-lmtp-bench.XXXXXX)
chmod 0755 "$W"   # Dovecot's auth and mail processes run unprivileged
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
VPID= BPID=
cleanup() {
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null || true
  [ -n "$BPID" ] && kill "$BPID" 2>/dev/null && wait "$BPID" 2>/dev/null || true
  DB=$W/dovecot "$DOVECOT_SH" stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/vmspop" ./cmd/vmspop
go build -o "$W/lmtpload" ./scripts/lmtpload

# vmspop: accounts file with user01..user10, LMTP on TCP.
for i in $(seq -w 1 10); do
  echo demo | "$W/vmspop" uaf --uaf "$W/uaf" add "USER$i" --password-stdin >/dev/null
done
# start_vmspop BINARY NAME LMTP-PORT: a server on its own spool $W/NAME.
start_vmspop() {
  mkdir -p "$W/$2"
  TCPIP_POP_LISTEN=127.0.0.1:$(free_port) TCPIP_POP_SPOOL=$W/$2 TCPIP_POP_UAF=$W/uaf \
  TCPIP_POP_HOSTNAME=vms.example TCPIP_POP_LMTP_LISTEN=127.0.0.1:$3 TCPIP_POP_LOG=$W/$2.log \
  TCPIP_POP_LOG_LEVEL=ERROR "$1" serve &
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$3") 2>/dev/null && break; sleep 0.1; done
}
VLMTP=$(free_port)
start_vmspop "$W/vmspop" spool "$VLMTP"; VPID=$!
BLMTP=
if [ -n "${VMSPOP_B:-}" ]; then
  BLMTP=$(free_port)
  start_vmspop "$VMSPOP_B" spool-b "$BLMTP"; BPID=$!
fi

# Dovecot: private instance with LMTP on TCP, mbox INBOX per user.
DPORT=$(free_port) DLMTP=$(free_port)
export DB=$W/dovecot PORT=$DPORT LMTP_PORT=$DLMTP
"$DOVECOT_SH" setup >/dev/null
: > "$W/empty.mbox"
for i in $(seq -w 1 10); do echo "user$i demo $W/empty.mbox"; done > "$W/dusers"
"$DOVECOT_SH" addusers "$W/dusers"
"$DOVECOT_SH" start >/dev/null
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$DLMTP") 2>/dev/null && break; sleep 0.1; done

run() { "$W/lmtpload" -addr "127.0.0.1:$1" -n "$N" -c "$2" | sed -n 's/.* \([0-9]*\) msg\/s$/\1/p'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
# both deliver (Dovecot's auth process may need a moment), then warm up
for p in "$VLMTP" "$DLMTP" $BLMTP; do
  for _ in $(seq 50); do "$W/lmtpload" -addr "127.0.0.1:$p" -n 1 >/dev/null 2>&1 && break; sleep 0.2; done
done
"$W/lmtpload" -addr "127.0.0.1:$VLMTP" -n 200 -c 2 >/dev/null || { tail -5 "$W/spool.log"; exit 1; }
[ -z "$BLMTP" ] || "$W/lmtpload" -addr "127.0.0.1:$BLMTP" -n 200 -c 2 >/dev/null || { tail -5 "$W/spool-b.log"; exit 1; }
"$W/lmtpload" -addr "127.0.0.1:$DLMTP" -n 200 -c 2 >/dev/null || { tail -5 "$W/dovecot/dovecot.log"; exit 1; }
declare -A R
for _ in $(seq "${ROUNDS:-1}"); do
  for c in 1 10; do
    R[v$c]+=" $(run "$VLMTP" "$c")"
    R[d$c]+=" $(run "$DLMTP" "$c")"
    [ -z "$BLMTP" ] || R[b$c]+=" $(run "$BLMTP" "$c")"
  done
done
echo "each cell, in order:"
for k in "${!R[@]}"; do echo "  $k:${R[$k]}"; done | sort
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:int((a[NR/2]+a[NR/2+1])/2)}'; }
for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b>0)?a/b:0}'; }
if [ -z "$BLMTP" ]; then
  echo "| connections | vmspop msg/s | Dovecot msg/s | ratio |"
  echo "|---|---|---|---|"
  for c in 1 10; do
    echo "| $c | ${R[v$c]} | ${R[d$c]} | $(ratio "${R[v$c]}" "${R[d$c]}") |"
  done
else
  echo "| connections | vmspop msg/s | B msg/s | Dovecot msg/s | ratio | B ratio |"
  echo "|---|---|---|---|---|---|"
  for c in 1 10; do
    echo "| $c | ${R[v$c]} | ${R[b$c]} | ${R[d$c]} | $(ratio "${R[v$c]}" "${R[d$c]}") | $(ratio "${R[b$c]}" "${R[d$c]}") |"
  done
fi
