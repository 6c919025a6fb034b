# benchlib.sh: helpers shared by bench.sh, ceiling.sh and firstdrain.sh
# (source it; POSIX sh).

# wait_match FILE SEDEXPR [TENTHS]: the first line `sed -n SEDEXPR` prints
# from FILE, waiting for it up to TENTHS tenths of a second (default 100);
# empty if it does not come.
wait_match() {
  _wm_n=${3:-100}
  _wm=
  while [ "$_wm_n" -gt 0 ]; do
    _wm=$(sed -n "$2" "$1" 2>/dev/null | head -n 1 || true)
    [ -n "$_wm" ] && break
    _wm_n=$((_wm_n - 1))
    sleep 0.1
  done
  printf '%s\n' "$_wm"
}

# serve_addr LOG: the address of a `vmspop serve` (TCPIP$POP_LISTEN with
# port 0) from its "listening" line in LOG; empty if none within 10 s.
serve_addr() { wait_match "$1" 's/.*msg=listening addr="\([^"]*\)".*/\1/p'; }

# median: the median of the numbers on standard input.
median() {
  tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# popload_mbs POPLOAD ADDR USER PASS: MB/s of one popload drain of USER
# (every RETR size checked against LIST); exits the script on any error.
popload_mbs() {
  _pm=$("$1" -addr "$2" -user "$3" -pass "$4" -mode drain -timeout 600s | grep '^RESULT' || true)
  case $_pm in
  *" errors=0 "*"mismatches=0"*) ;;
  *) echo "drain of $3 at $2 failed: $_pm" >&2; exit 1 ;;
  esac
  printf '%s\n' "$_pm" | sed 's/.* mb_s=\([0-9.]*\).*/\1/'
}
