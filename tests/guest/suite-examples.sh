#!/bin/sh
# SPDX-License-Identifier: MIT
# One guest: the examples (examples/, built by make), and the tools' --json
# output read back by a strict parser (NaN and Infinity are not JSON).
# guests: 1
SUITE=examples
. tests/guest/lib.sh
EX=build/examples
TOOLS=build/bin
CHECK=tests/lib/json_check.py
OUT=/tmp/examples
mkdir -p $OUT

# expect NAME PATTERN CMD...: CMD exits 0 and prints a line matching PATTERN.
expect() {
	name=$1 pattern=$2
	shift 2
	out=$(timeout 120 "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	if [ $rc -ne 0 ]; then
		fail "$name" "exited with status $rc"
	elif ! echo "$out" | grep -qE "$pattern"; then
		fail "$name" "no line matching '$pattern'"
	else
		pass "$name"
	fi
}

# json NAME FILE PATH:KIND...: FILE is strict JSON with those fields.
json() {
	name=$1
	shift
	if why=$(python3 $CHECK "$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$why"
	fi
}

# pair OUT_PREFIX TOOL ARGS...: server and client on this host; their
# outputs in OUT_PREFIX-server.json and OUT_PREFIX-client.json.
pair() {
	prefix=$1 tool=$2
	shift 2
	timeout 120 $tool "$@" --json >"$prefix-server.json" 2>"$prefix-server.err" &
	spid=$!
	sleep 0.5
	timeout 120 $tool "$@" --json localhost >"$prefix-client.json" \
		2>"$prefix-client.err"
	crc=$?
	wait $spid
	src=$?
	[ $crc -eq 0 ] && [ $src -eq 0 ]
}

load_module netdev=eth0

expect example-pingpong '^300 round trips of 256 bytes' $EX/pingpong 300
expect example-epoll-recv '^40 messages, [0-9]+ wakeups' $EX/epoll_recv 40
# A file of several 64 KiB messages and a short tail, and the default.
expect example-send-file ' 0 wrong$' $EX/send_file $TOOLS/unet_bw
expect example-send-file-self ' 0 wrong$' $EX/send_file
expect example-base-cost '^base +[0-9.]+ +[0-9]+' $EX/base_cost 300

if pair $OUT/lat build/bin/unet_lat -n 200 -w 20; then
	pass json-unet-lat-runs
else
	fail json-unet-lat-runs "$(cat $OUT/lat-*.err)"
fi
json json-unet-lat-client $OUT/lat-client.json tool:string \
	rtt_us.median:number rtt_us.p99:number rtt_us.max:number \
	lost:integer server.msgs:integer
json json-unet-lat-server $OUT/lat-server.json role:string msgs:integer \
	client.lost:integer

# One message: no interval, so no rate; JSON says null, not nan.
if pair $OUT/bw1 build/bin/unet_bw -n 1 -s 64; then
	pass json-unet-bw-one-message-runs
else
	fail json-unet-bw-one-message-runs "$(cat $OUT/bw1-*.err)"
fi
json json-unet-bw-no-rate-is-null $OUT/bw1-client.json MBps:null \
	msg_rate:null received:integer
json json-unet-bw-no-rate-server $OUT/bw1-server.json MBps:null

if pair $OUT/bw build/bin/unet_bw -n 2000 -s 64 -W 32 -B 16; then
	pass json-unet-bw-runs
else
	fail json-unet-bw-runs "$(cat $OUT/bw-*.err)"
fi
json json-unet-bw-client $OUT/bw-client.json MBps:number msg_rate:number \
	sender.msg_rate:number batch:integer lost:integer
json json-unet-bw-server $OUT/bw-server.json MBps:number errors:integer

$TOOLS/unetstat --json >$OUT/stat.json 2>$OUT/stat.err
json json-unetstat $OUT/stat.json nics.0.counters.tx_msgs:integer \
	nics.0.miss_hist_us:list nics.0.mac:string nics.0.wire:bool
$TOOLS/unetstat -e --json >$OUT/stat-e.json 2>$OUT/stat-e.err
json json-unetstat-endpoints $OUT/stat-e.json nics.0.endpoints:list
$TOOLS/unetstat --json -w 1 -c 2 >$OUT/stat-w.json 2>$OUT/stat-w.err
if [ "$(wc -l <$OUT/stat-w.json)" -eq 2 ]; then
	json json-unetstat-watch $OUT/stat-w.json time:number nics:list
else
	fail json-unetstat-watch "$(wc -l <$OUT/stat-w.json) reports, want 2"
fi

unload_module
finish
