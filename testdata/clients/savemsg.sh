#!/bin/sh
# savemsg.sh DIR: a minimal MDA for the e2e tests (fetchmail, mpop). It
# stores the message on standard input as DIR/msg.NNNN, numbered in arrival
# order.
set -e
dir=$1
n=$(ls "$dir" | wc -l)
cat > "$dir/msg.$(printf %04d "$n")"
