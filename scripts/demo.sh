#!/bin/bash
# demo.sh BIN: serve a fresh copy of the demo spool on 127.0.0.1 with demo
# accounts (used by `make run`). Ctrl-C stops it and removes the copy.
set -euo pipefail
bin=$(readlink -f "${1:-bin/vmspop}")
cd "$(dirname "$0")/.."
port=${VMSPOP_DEMO_PORT:-1110} tlsport=${VMSPOP_DEMO_TLS_PORT:-1995}
tmp=$(mktemp -d /tmp/vmspop-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/spool"
for d in testdata/spool/*/; do cp -r "$d" "$tmp/spool/"; done
uaf="$tmp/uaf"
users=$(cd "$tmp/spool" && ls -d */ | tr -d / | tr '\n' ' ')
for u in $users; do
  printf 'demo\napop-demo\n' | env "TCPIP\$POP_UAF=$uaf" "$bin" uaf add "$u" --password-stdin --apop-secret-stdin >/dev/null
done
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  # AUTH_TLS_ONLY "-": the demo listens on loopback, and its curl lines log in without TLS.
  tls=("TCPIP\$POP_CERT=$tmp/cert.pem" "TCPIP\$POP_KEY=$tmp/key.pem" "TCPIP\$POP_TLS_LISTEN=127.0.0.1:$tlsport" "TCPIP\$POP_AUTH_TLS_ONLY=-")
else
  tls=()
fi
lower=smith
cat <<MSG
vmspop demo: spool $tmp/spool, users: $users(password "demo", APOP secret "apop-demo")
  list:      curl -u $lower:demo pop3://127.0.0.1:$port/
  retrieve:  curl -u $lower:demo pop3://127.0.0.1:$port/1
  with STLS: curl --ssl-reqd -k -u $lower:demo pop3://127.0.0.1:$port/1
  POP3S:     curl -k -u $lower:demo pop3s://127.0.0.1:$tlsport/1
  by hand:   telnet 127.0.0.1 $port   (USER $lower / PASS demo / LIST / RETR 1 / QUIT)
Retrieved messages move to MAIL at QUIT (TCPIP\$POP_LEAVE_IN_NEWMAIL is not set); each
make run starts from a fresh copy. Trace log below; Ctrl-C stops.
MSG
env "TCPIP\$POP_LISTEN=127.0.0.1:$port" "TCPIP\$POP_SPOOL=$tmp/spool" "TCPIP\$POP_UAF=$uaf" \
  "TCPIP\$POP_HOSTNAME=localhost" "TCPIP\$POP_SUBSTITUTE_DOMAIN=example.com" \
  "TCPIP\$POP_DECNET_NODES=$PWD/testdata/demo-nodes" "TCPIP\$POP_PERSONAL_NAME=1" "TCPIP\$POP_TRACE=1" "${tls[@]}" "$bin" serve
