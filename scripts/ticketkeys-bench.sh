#!/bin/bash
# ticketkeys-bench.sh [PAIRS] : TLS reconnects spread over two vmspop
# instances (as a round-robin balancer spreads them), with a shared ticket
# key file (TCPIP$POP_TLS_TICKET_KEYS) against without one.
#
# Two instances serve one spool on implicit TLS (one self-signed ECDSA
# P-256 certificate). scripts/tlsload logs in 20 clients x N times
# (-mode login: greeting, USER, PASS, STAT, QUIT), each connection to the
# next instance in turn, each user resuming its own sessions as a
# long-running mail client does.
# With the shared file every reconnect resumes; without it a ticket made
# by one instance is useless to the other, so every reconnect is a full
# handshake. Each pair runs both setups back to back, in alternating
# order, with fresh servers, after an untimed login of every user on each
# instance (the password cache). It prints per run logins/s, the resumed
# handshakes and the servers' CPU per login (user + system, /proc), then
# the medians and the median of the pairs' ratios (shared / separate for
# logins/s, separate / shared for CPU).
#
# Environment: N=100 logins per client, CLIENTS=20, WORK=/tmp/vmspop-tk,
# CERT=ec (ECDSA P-256) or rsa (RSA 2048, as many sites' certificates).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/benchlib.sh"
PAIRS=${1:-5}
N=${N:-100}
CLIENTS=${CLIENTS:-20}
WORK=${WORK:-/tmp/vmspop-tk}
rm -rf "$WORK"
mkdir -p "$WORK/bin"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
(cd "$HERE/.." && go build -o "$WORK/bin/vmspop" ./cmd/vmspop && go build -o "$WORK/bin/vmspop-load" ./cmd/vmspop-load &&
  go build -o "$WORK/bin/tlsload" ./scripts/tlsload)
B=$WORK/bin
pw=tk-bench
"$B/vmspop-load" populate --spool "$WORK/spool" --users "$CLIENTS" --messages 20 --size 4096 --uaf "$WORK/uaf" --password "$pw" >/dev/null
for i in $(seq -f '%03g' 1 "$CLIENTS"); do echo "LOAD$i:$pw"; done >"$WORK/users"
case ${CERT:-ec} in
ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
rsa) newkey=(-newkey rsa:2048) ;;
*) echo "ticketkeys-bench.sh: CERT=ec or rsa" >&2; exit 2 ;;
esac
openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
"$B/vmspop" ticketkeys rotate "$WORK/ticketkeys" >/dev/null 2>&1

# start NAME [LOGICAL...]: a server on port 0; prints its TLS address.
start() {
  local name=$1
  shift
  env -i "PATH=$PATH" "TCPIP\$POP_LISTEN=127.0.0.1:0" "TCPIP\$POP_TLS_LISTEN=127.0.0.1:0" \
    "TCPIP\$POP_SPOOL=$WORK/spool" "TCPIP\$POP_UAF=$WORK/uaf" "TCPIP\$POP_LEAVE_IN_NEWMAIL=1" \
    "TCPIP\$POP_CERT=$WORK/cert.pem" "TCPIP\$POP_KEY=$WORK/key.pem" "TCPIP\$POP_HOSTNAME=localhost" \
    "TCPIP\$POP_MAXIMUM_PER_ADDRESS=0" "TCPIP\$POP_LOG=$WORK/$name.log" "$@" "$B/vmspop" serve &
  pids+=($!)
  echo $! >"$WORK/$name.pid"
}
tlsaddr() { wait_match "$WORK/$1.log" 's/.*msg=listening addr="\([^"]*\)" tls=true.*/\1/p'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks

# run SETUP: one timed run; prints "logins/s resumed cpu_ms_per_login".
run() {
  local setup=$1 extra=()
  [ "$setup" = shared ] && extra=("TCPIP\$POP_TLS_TICKET_KEYS=$WORK/ticketkeys")
  rm -f "$WORK"/a.log "$WORK"/b.log
  start a "${extra[@]}"
  start b "${extra[@]}"
  local a b pa pb
  a=$(tlsaddr a) b=$(tlsaddr b) pa=$(cat "$WORK/a.pid") pb=$(cat "$WORK/b.pid")
  [ -n "$a" ] && [ -n "$b" ] || { echo "ticketkeys-bench.sh: a server did not start" >&2; cat "$WORK"/[ab].log >&2; exit 1; }
  for s in "$a" "$b"; do
    "$B/tlsload" -addr "$s" -tls -users "$WORK/users" -clients "$CLIENTS" -n 1 -mode login >/dev/null
  done
  local c0 out c1
  c0=$(($(cpu "$pa") + $(cpu "$pb")))
  out=$("$B/tlsload" -addr "$a,$b" -tls -users "$WORK/users" -clients "$CLIENTS" -n "$N" -mode login)
  c1=$(($(cpu "$pa") + $(cpu "$pb")))
  kill "$pa" "$pb"
  wait "$pa" "$pb" 2>/dev/null || true
  pids=()
  case $out in *" errors=0 "*) ;; *) echo "ticketkeys-bench.sh: errors in the run:" >&2; echo "$out" >&2; exit 1 ;; esac
  local rate res total
  rate=$(echo "$out" | sed -n 's/.* \([0-9.]*\) sessions\/s.*/\1/p')
  res=$(echo "$out" | sed -n 's/.* tls_resumed=\([0-9]*\).*/\1/p')
  total=$((CLIENTS * N))
  echo "$rate $res $(awk -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" -v n=$total 'BEGIN{printf "%.3f", c * 1000 / t / n}')"
}

printf '%-5s %-9s %10s %9s %14s\n' pair setup logins/s resumed cpu_ms/login
declare -A rate cpu
for p in $(seq 1 "$PAIRS"); do
  order="shared separate"
  [ $((p % 2)) = 0 ] && order="separate shared"
  for s in $order; do
    read -r r res c < <(run "$s")
    printf '%-5s %-9s %10s %9s %14s\n' "$p" "$s" "$r" "$res/$((CLIENTS * N))" "$c"
    rate[$s]+="$r " cpu[$s]+="$c "
    rate[$s.$p]=$r cpu[$s.$p]=$c
  done
done
ratios_r= ratios_c=
for p in $(seq 1 "$PAIRS"); do
  ratios_r+="$(awk -v a="${rate[shared.$p]}" -v b="${rate[separate.$p]}" 'BEGIN{printf "%.3f", a / b}') "
  ratios_c+="$(awk -v a="${cpu[separate.$p]}" -v b="${cpu[shared.$p]}" 'BEGIN{printf "%.3f", a / b}') "
done
echo
printf '| two instances, %d clients x %d TLS logins, round robin, %s certificate | separate keys | shared key file | ratio |\n' "$CLIENTS" "$N" "${CERT:-ec}"
echo '|---|---|---|---|'
printf '| logins/s (median of %d) | %s | %s | %s |\n' "$PAIRS" "$(echo "${rate[separate]}" | median)" "$(echo "${rate[shared]}" | median)" "$(echo "$ratios_r" | median)"
printf '| servers CPU per login, ms | %s | %s | %s |\n' "$(echo "${cpu[separate]}" | median)" "$(echo "${cpu[shared]}" | median)" "$(echo "$ratios_c" | median)"
echo "RESULT ticketkeys cert=${CERT:-ec} pairs=$PAIRS logins_ratio=$(echo "$ratios_r" | median) cpu_ratio=$(echo "$ratios_c" | median)"
