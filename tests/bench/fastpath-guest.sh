#!/bin/sh
# SPDX-License-Identifier: MIT
# Inside one guest (run by tests/bench/run-fastpath): the fast path's
# figures for the tools in BEFORE (a directory holding unet_lat and unet_bw
# of an older tree), in build/bin, and in STATIC (this tree's, linked
# statically), side by side in the same boot, round after round so that a
# burst of host load hits all alike.  Loopback, server on CPU 0, client on
# CPU 1.  One JSON line per measurement, tagged, in
# $UNET_OUT/fastpath.jsonl.
#
#   fastpath-guest.sh BEFORE ROUNDS [STATIC]
BEFORE=$1
ROUNDS=${2:-5}
STATIC=${3:-}
AFTER=build/bin
OUT=${UNET_OUT:-/tmp}/fastpath.jsonl
: >"$OUT"
insmod kernel/unetmm.ko netdev=eth0 || exit 1

SRV="taskset -c 0" CLI="taskset -c 1"
[ "$(nproc)" -ge 2 ] || SRV="" CLI=""
port=19000

# run TAG TOOL ARGS...: server and client; the client's JSON, tagged.
run() {
	tag=$1 tool=$2
	shift 2
	port=$((port + 1))
	timeout 300 $SRV $tool -p $port "$@" >/dev/null 2>&1 &
	spid=$!
	sleep 0.5
	line=$(timeout 300 $CLI $tool -p $port "$@" --json 127.0.0.1 2>/dev/null)
	wait $spid
	echo "{\"tag\":\"$tag\",\"result\":$line}" >>"$OUT"
}

r=1
while [ $r -le "$ROUNDS" ]; do
	for v in before after ${STATIC:+after-static}; do
		case $v in
		before) dir=$BEFORE ;;
		after) dir=$AFTER ;;
		after-static) dir=$STATIC ;;
		esac
		run "$v lat 8" $dir/unet_lat -s 8 -n 5000 -w 500
		run "$v bw 8" $dir/unet_bw -s 8 -n 40000 -W 32
		run "$v bw 64" $dir/unet_bw -s 64 -n 40000 -W 32
	done
	# The new tool with batching off: what batching alone buys.
	run "after-batch1 bw 8" $AFTER/unet_bw -s 8 -n 40000 -W 32 -B 1
	run "after-batch1 bw 64" $AFTER/unet_bw -s 64 -n 40000 -W 32 -B 1
	echo "# round $r done"
	r=$((r + 1))
done
rmmod unetmm
