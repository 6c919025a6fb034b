#!/bin/sh
# bench.sh: Go benchmarks of the hot paths, then (if dovecot-pop3d is
# installed and we are root) the side-by-side comparison with Dovecot.
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchtime 20x ./spool ./rewrite ./gateway
if [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && [ -x ../shared/bench/compare.sh ]; then
  ../shared/bench/compare.sh --quick .
else
  echo "bench.sh: skipping compare.sh (needs root, dovecot-pop3d and ../shared/bench)"
fi
