#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run sockperf: eval/sockperf_settle.so, which make demo preloads
# into its sockperf clients, shortens sockperf's fixed 2 s pause after its
# warm-up and nothing else.  sockperf itself runs on the host's loopback,
# with and without the library: with it, the run still measures (its
# summary and observations are there) and takes under 2.6 s for -t 1;
# without it the same run takes 3 s or more, the pause the library
# exists for.  Prints PASS/FAIL host/sockperf-*.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

pass() { echo "PASS host/sockperf-$1"; }
fail() { echo "FAIL host/sockperf-$1: $2"; }
# holds NAME CONDITION SECONDS WHY: CONDITION, an awk expression over s,
# holds for SECONDS.
holds() {
	if awk -v s="$3" "BEGIN { exit !($2) }"; then
		pass "$1"
	else
		fail "$1" "$4"
	fi
}
SHIM=$PWD/build/eval/sockperf_settle.so
if [ ! -f "$SHIM" ]; then
	fail built "no $SHIM: run make eval"
	exit 0
fi
if ! command -v sockperf >/dev/null; then
	fail installed "no sockperf: run make deps"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/unet-sockperf.XXXXXX")
trap 'kill $srv 2>/dev/null; rm -rf "$T"' EXIT

# Wall seconds of a library call, through Python's ctypes (the preloaded
# sleep() comes first in the global scope).
call_s() {	# FUNCTION ARG [ENV...]
	f=$1 a=$2
	shift 2
	env "$@" LD_PRELOAD="$SHIM" python3 -c "
import ctypes, time
libc = ctypes.CDLL(None)
t = time.monotonic(); libc.$f($a); print(f'{time.monotonic() - t:.3f}')"
}
s=$(call_s sleep 2 SOCKPERF_SETTLE_MS=100)
holds sleep2-shortened "s >= 0.09 && s < 1" "$s" \
	"sleep(2) took ${s} s with SOCKPERF_SETTLE_MS=100"
s=$(call_s sleep 1)
holds sleep1-kept "s >= 0.99" "$s" \
	"sleep(1) took ${s} s"
s=$(call_s sleep 2 SOCKPERF_SETTLE_MS=junk)
holds bad-env-default "s >= 0.19 && s < 1" "$s" \
	"sleep(2) took ${s} s with SOCKPERF_SETTLE_MS=junk (default 0.2 s)"

port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sockperf server -i 127.0.0.1 -p "$port" >"$T/server" 2>&1 &
srv=$!
sleep 0.5
run() {	# NAME [ENV...]: a 1 s ping-pong; sets took
	name=$1
	shift
	t0=$(date +%s.%N)
	env "$@" sockperf ping-pong -i 127.0.0.1 -p "$port" -m 14 -t 1 \
		>"$T/$name" 2>&1
	took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}
run with LD_PRELOAD="$SHIM"
if grep -q 'Summary: Latency is' "$T/with" &&
   grep -qE 'Total [1-9][0-9]* observations' "$T/with"; then
	pass measures
else
	fail measures "no summary or no observations: $(tail -2 "$T/with")"
fi
holds client-shortened "s < 2.6" "$took" \
	"sockperf -t 1 took ${took} s with the library"
run without
holds pause-exists "s >= 3" "$took" \
	"sockperf -t 1 took ${took} s without the library: has sockperf lost its sleep(2)? (then drop the library)"
