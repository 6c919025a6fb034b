#!/bin/sh
# fuzz.sh DURATION: run every Go fuzz target of the module for DURATION each.
set -eu
t=${1:-8s}
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  dir=$(dirname "$f")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $target ($t)"
    go test -run="^$" -fuzz="^${target}\$" -fuzztime="$t" -fuzzminimizetime=1s "$dir" >/tmp/vmspop-fuzz.log 2>&1 || { cat /tmp/vmspop-fuzz.log; exit 1; }
  done
done
echo "fuzz smoke: all targets passed"
