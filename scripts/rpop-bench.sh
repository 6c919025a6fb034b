#!/bin/bash
# rpop-bench.sh [N]: fetchmail with "vmspop deliver" as its MDA vs vmspop's
# own poller ("vmspop rpop poll"), each draining the same private Dovecot
# mailbox of N messages (default 5000) into a vmspop spool; messages/s side
# by side. Not part of make test. Needs root (Dovecot's mail user), dovecot,
# fetchmail, python3. Everything lives in a temporary directory; Dovecot
# listens on a free 127.0.0.1 port and is stopped at the end.
set -euo pipefail
N=${1:-5000}
export PATH="$PATH:/usr/sbin:/usr/local/go/bin"
cd "$(dirname "$0")/.."
for c in dovecot fetchmail python3 go; do
  command -v $c >/dev/null || { echo "rpop-bench: $c not found" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "rpop-bench: run as root (Dovecot runs mail as user mail)" >&2; exit 1; }
W=$(mktemp -d /tmp/rpbench.XXXX)
chmod 755 "$W"
DPID=
cleanup() { [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null; sleep 0.5; [ -n "$DPID" ] && kill -KILL -- -"$DPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
go build -o "$W/vmspop" ./cmd/vmspop
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MUID=$(id -u mail) MGID=$(id -g mail)
mkdir -p "$W"/{run,state,spool,home/bench/mail,vspool}
chown -R "$MUID:$MGID" "$W/spool" "$W/home"
cat > "$W/dovecot.conf" <<CONF
instance_name = rpop-bench-$PORT
base_dir = $W/run
state_dir = $W/state
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $W/dovecot.log
first_valid_uid = 1
first_valid_gid = 1
mail_location = mbox:~/mail:INBOX=$W/spool/%u
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $W/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $W/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $PORT
  }
}
CONF
echo "bench:{PLAIN}pw:$MUID:$MGID::$W/home/bench" > "$W/passwd"
# N messages of 1 to 8 KiB, LF line ends, no body line starting "From ".
python3 - "$N" > "$W/pristine" <<'PY'
import sys, random
random.seed(1)
n = int(sys.argv[1])
for i in range(n):
    body = "".join("line %d of message %d %s\n" % (j, i, "x" * random.randint(10, 70)) for j in range(random.randint(15, 110)))
    sys.stdout.write("From sender@example.org Thu Nov 26 10:00:00 2026\n"
        "Return-Path: <s%d@example.org>\nFrom: Sender <s%d@example.org>\nTo: bench@example.net\n"
        "Subject: bench %d\nMessage-ID: <bench-%d@example.org>\n\n%s\n" % (i, i, i, i, body))
PY
reset_inbox() {
  rm -rf "$W/home/bench/mail"; mkdir -p "$W/home/bench/mail"
  cp "$W/pristine" "$W/spool/bench"; chmod 600 "$W/spool/bench"
  chown -R "$MUID:$MGID" "$W/home/bench" "$W/spool/bench"
}
reset_inbox
setsid dovecot -F -c "$W/dovecot.conf" >"$W/dovecot.out" 2>&1 &
DPID=$!
disown
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
VENV=("TCPIP\$POP_SPOOL=$W/vspool" "TCPIP\$POP_UAF=$W/uaf" "TCPIP\$POP_HOSTNAME=vms.example" "TCPIP\$POP_LOG=$W/vmspop.log")
count() { env "${VENV[@]}" "$W/vmspop" folders "$1" | awk '$1=="NEWMAIL"{print $2}'; }
now() { date +%s.%N; }

# 1. fetchmail, one "vmspop deliver" process per message.
cat > "$W/fetchmailrc" <<RC
set no syslog
poll 127.0.0.1 port $PORT protocol pop3 auth password:
  user "bench" password "pw" is "FETCH" here
  fetchall nokeep sslproto ''
  mda "env 'TCPIP\$POP_SPOOL=$W/vspool' 'TCPIP\$POP_UAF=$W/uaf' 'TCPIP\$POP_HOSTNAME=vms.example' $W/vmspop deliver FETCH"
RC
chmod 600 "$W/fetchmailrc"
load1=$(cut -d' ' -f1 /proc/loadavg)
t0=$(now)
HOME=$W fetchmail -f "$W/fetchmailrc" --nosyslog -s >"$W/fetchmail.out" 2>&1 || { echo "fetchmail failed:"; tail -5 "$W/fetchmail.out"; }
t1=$(now)
fm_n=$(count FETCH); fm_t=$(echo "$t1 - $t0" | bc -l)

# 2. vmspop's poller on the same mailbox, reset.
reset_inbox
sleep 1.1 # Dovecot notices the new mbox by its mtime
echo pw | env "${VENV[@]}" "$W/vmspop" rpop add FAST --host "127.0.0.1:$PORT" --account bench --password-stdin >/dev/null
t0=$(now)
env "${VENV[@]}" "$W/vmspop" rpop poll FAST 2>"$W/poll.out" || { echo "rpop poll failed:"; cat "$W/poll.out"; }
t1=$(now)
vp_n=$(count FAST); vp_t=$(echo "$t1 - $t0" | bc -l)
load2=$(cut -d' ' -f1 /proc/loadavg)

printf "| drain of %d messages (Dovecot mbox, loopback) | stored | seconds | messages/s |\n|---|---|---|---|\n" "$N"
printf "| fetchmail + vmspop deliver (MDA) | %s | %.2f | %.0f |\n" "$fm_n" "$fm_t" "$(echo "$fm_n / $fm_t" | bc -l)"
printf "| vmspop rpop poll | %s | %.2f | %.0f |\n" "$vp_n" "$vp_t" "$(echo "$vp_n / $vp_t" | bc -l)"
printf "speed-up: %.1fx; load average %s before, %s after (%d cores)\n" "$(echo "($vp_n / $vp_t) / ($fm_n / $fm_t)" | bc -l)" "$load1" "$load2" "$(nproc)"
