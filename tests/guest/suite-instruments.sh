#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo's own instruments: unet_lat and unet_bw with --check (every byte
# filled and verified on both sides) and with --block, in both modes, on
# each guest's loopback path and across the wire (guest 1 serves, guest 2
# runs the clients), and unetstat's text and JSON held to the traffic those
# runs made.
# guests: 2
SUITE=instruments
. tests/guest/lib.sh
TOOLS=build/bin
OUT=/tmp/instruments
mkdir -p $OUT
PEER=169.254.88.1
g=${UNET_GUEST:-1}
LAT_N=200 LAT_W=50 BW_N=200
# Each side gives up after T seconds without progress (the tools' -t):
# generous, for a contended host; this suite checks data, not speed.
T=$((60 * UNET_SLOW))
# unet_bw's receiver returns a credit message every min(window, credit)/2
# messages (tools/unet_bw.c): with -W 16 and the server's 64 buffers, 8.
ACKS=$((BW_N / 8))

# check NAME FILE EXPR...: each EXPR, a Python expression over the JSON
# object j of FILE, must hold.
check() {
	name=$1 file=$2
	shift 2
	if why=$(python3 - "$file" "$@" <<'EOF' 2>&1
import json, sys
text = open(sys.argv[1], errors="replace").read()
try:
    # stdout's one JSON line; stderr (in the same file) may follow it.
    j = json.loads([l for l in text.splitlines() if l.startswith("{")][0])
except Exception as e:
    sys.exit(f"no JSON ({e}); the tool said: {' / '.join(text.strip().splitlines()[-4:])}")
for expr in sys.argv[2:]:
    if not eval(expr, {"j": j}):
        sys.exit(f"not true: {expr}  (in {json.dumps(j)[:400]}; the tool also said: "
                 f"{' / '.join(l for l in text.splitlines() if not l.startswith('{'))[:300]})")
EOF
	); then
		pass "$name"
	else
		fail "$name" "$why"
	fi
}

# The checks every --check run must pass, with the tool's counters.
lat_ok() {	# NAME FILE BLOCK
	check "$1" "$2" "j['check'] is True" "j['block'] is $3" \
		"j['busy_poll_us'] == (0 if j['block'] else 50)" \
		"j['mismatches'] == 0" "j['errors'] == 0" "j['lost'] == 0" \
		"j['server']['mismatches'] == 0" "j['server']['errors'] == 0" \
		"j['msgs'] == $LAT_N + $LAT_W" "j['rtt_us']['median'] > 0" \
		"j['rtt_us']['p99'] >= j['rtt_us']['median']" \
		"j['rtt_us']['p99.9'] >= j['rtt_us']['p99']"
}
bw_ok() {	# NAME FILE BLOCK
	check "$1" "$2" "j['check'] is True" "j['block'] is $3" \
		"j['mismatches'] == 0" "j['errors'] == 0" "j['lost'] == 0" \
		"j['received'] == $BW_N" "j['MBps'] > 0"
}

ctr() {	# NAME: a NIC counter from unetstat --json
	$TOOLS/unetstat --json | python3 -c "import json,sys; print(json.load(sys.stdin)['nics'][0]['counters']['$1'])"
}

load_module netdev=eth0

# ---- loopback, on each guest alone --------------------------------------
tx0=$(ctr tx_msgs) rx0=$(ctr rx_msgs) bp0=$(ctr busy_polls)
port=18800
runs=0
for mode in mm base; do
	for disc in busy block; do
		b=""; pyb=False
		[ $disc = block ] && b=--block && pyb=True
		port=$((port + 1))
		timeout 120 $TOOLS/unet_lat --json -t $T -p $port $b >$OUT/lat-srv-$mode-$disc.json 2>&1 &
		srv=$!
		timeout 120 $TOOLS/unet_lat --mode $mode -s 4096 -n $LAT_N -w $LAT_W \
			--check $b --json -t $T -p $port 127.0.0.1 >$OUT/lat-$mode-$disc.json 2>&1
		wait $srv
		lat_ok "lat-loopback-$mode-$disc-check" $OUT/lat-$mode-$disc.json $pyb
		check "lat-loopback-$mode-$disc-server" $OUT/lat-srv-$mode-$disc.json \
			"j['role'] == 'server'" "j['check'] is True" "j['block'] is $pyb" \
			"j['mismatches'] == 0" "j['mode'] == '$mode'"
		runs=$((runs + 1))

		port=$((port + 1))
		timeout 120 $TOOLS/unet_bw --json -t $T -p $port $b >$OUT/bw-srv-$mode-$disc.json 2>&1 &
		srv=$!
		timeout 120 $TOOLS/unet_bw --mode $mode -s 65536 -n $BW_N --rx-bufs 16 -W 16 \
			--check $b --json -t $T -p $port 127.0.0.1 >$OUT/bw-$mode-$disc.json 2>&1
		wait $srv
		bw_ok "bw-loopback-$mode-$disc-check" $OUT/bw-$mode-$disc.json $pyb
		check "bw-loopback-$mode-$disc-server" $OUT/bw-srv-$mode-$disc.json \
			"j['role'] == 'server'" "j['check'] is True" "j['block'] is $pyb" \
			"j['mismatches'] == 0" "j['received'] == $BW_N"
	done
done

# unetstat against the traffic: each loopback round trip is one message
# each way; each unet_bw run is its messages and the receiver's credits.
# Nothing else used this guest's NIC meanwhile (the other guest's loopback
# stays in that guest).
tx1=$(ctr tx_msgs) rx1=$(ctr rx_msgs)
# Loopback traffic never comes through a device: nothing to busy-poll.
bp1=$(ctr busy_polls)
if [ "$bp1" -eq "$bp0" ]; then
	pass unetstat-loopback-no-busy-poll
else
	fail unetstat-loopback-no-busy-poll "busy_polls +$((bp1 - bp0)) on loopback"
fi
want=$(( runs * 2 * (LAT_N + LAT_W) + runs * (BW_N + ACKS) ))
if [ $((tx1 - tx0)) -eq $want ] && [ $((rx1 - rx0)) -eq $want ]; then
	pass unetstat-loopback-counts
else
	fail unetstat-loopback-counts "tx_msgs +$((tx1 - tx0)), rx_msgs +$((rx1 - rx0)), want +$want each"
fi
# Text and JSON, taken with no traffic between them, say the same.
$TOOLS/unetstat >$OUT/stat.txt 2>&1
$TOOLS/unetstat --json >$OUT/stat.json 2>&1
if why=$(python3 - $OUT/stat.txt $OUT/stat.json <<'EOF' 2>&1
import json, re, sys
text = open(sys.argv[1]).read()
nic = json.load(open(sys.argv[2]))["nics"][0]
shown = dict(re.findall(r"^  (\w+) +(\d+)$", text, re.M))
c = nic["counters"]
missing = [k for k in c if k not in shown]
if missing:
    sys.exit(f"counters in JSON, not in the text: {missing[:5]}")
# pinned pages and the like may move by themselves; the message counters
# of an idle NIC may not.
diff = [k for k in ("tx_msgs", "rx_msgs", "tx_bytes", "rx_bytes", "loopback_msgs")
        if int(shown[k]) != c[k]]
if diff:
    sys.exit(f"text and JSON differ: {[(k, shown[k], c[k]) for k in diff]}")
if not re.search(r"^nic0: ifname eth0 ", text, re.M):
    sys.exit("no 'nic0: ifname eth0' line")
EOF
); then
	pass unetstat-text-json
else
	fail unetstat-text-json "$why"
fi

# ---- across the wire: guest 1 serves, guest 2 runs the clients ------------
# The servers start one after another in the clients' order; a client
# waits for its server with --connect-timeout.
tx0=$(ctr tx_msgs) rx0=$(ctr rx_msgs)
bp0=$(ctr busy_polls) bph0=$(ctr busy_poll_hits)
port=18900
wruns=0 wbw=0
for mode in mm base; do
	for disc in busy block; do
		b=""; pyb=False
		[ $disc = block ] && b=--block && pyb=True
		port=$((port + 1))
		if [ "$g" = 1 ]; then
			timeout 180 $TOOLS/unet_lat --json -t $T -p $port $b >$OUT/wlat-srv-$mode-$disc.json 2>&1
			check "lat-wire-$mode-$disc-server" $OUT/wlat-srv-$mode-$disc.json \
				"j['role'] == 'server'" "j['check'] is True" "j['block'] is $pyb" \
				"j['mismatches'] == 0" "j['errors'] == 0"
		else
			timeout 180 $TOOLS/unet_lat --mode $mode -s 4096 -n $LAT_N -w $LAT_W \
				--check $b --json -t $T --connect-timeout 150 -p $port $PEER \
				>$OUT/wlat-$mode-$disc.json 2>&1
			lat_ok "lat-wire-$mode-$disc-check" $OUT/wlat-$mode-$disc.json $pyb
		fi
		wruns=$((wruns + 1))
		port=$((port + 1))
		if [ "$g" = 1 ]; then
			timeout 180 $TOOLS/unet_bw --json -t $T -p $port $b >$OUT/wbw-srv-$mode-$disc.json 2>&1
			check "bw-wire-$mode-$disc-server" $OUT/wbw-srv-$mode-$disc.json \
				"j['role'] == 'server'" "j['check'] is True" "j['block'] is $pyb" \
				"j['mismatches'] == 0" "j['received'] == $BW_N"
		else
			timeout 180 $TOOLS/unet_bw --mode $mode -s 65536 -n $BW_N --rx-bufs 16 -W 16 \
				--check $b --json -t $T --connect-timeout 150 -p $port $PEER \
				>$OUT/wbw-$mode-$disc.json 2>&1
			bw_ok "bw-wire-$mode-$disc-check" $OUT/wbw-$mode-$disc.json $pyb
		fi
		wbw=$((wbw + 1))
	done
done
# Each guest sent and received one message per round trip; guest 2 sent
# the bandwidth runs' messages and guest 1 their credits.
tx1=$(ctr tx_msgs) rx1=$(ctr rx_msgs)
# The busy runs polled the device when their queue was empty (unet_lat's
# and unet_bw's --busy-poll, 50 us by default), and some poll returned
# with the message it was waiting for.
bp1=$(ctr busy_polls) bph1=$(ctr busy_poll_hits)
if [ $((bp1 - bp0)) -gt 0 ] && [ $((bph1 - bph0)) -gt 0 ]; then
	pass unetstat-wire-busy-poll
else
	fail unetstat-wire-busy-poll "busy_polls +$((bp1 - bp0)), busy_poll_hits +$((bph1 - bph0)): the busy runs never polled the device"
fi
lat=$(( wruns * (LAT_N + LAT_W) ))
if [ "$g" = 1 ]; then
	want_tx=$((lat + wbw * ACKS)) want_rx=$((lat + wbw * BW_N))
else
	want_tx=$((lat + wbw * BW_N)) want_rx=$((lat + wbw * ACKS))
fi
if [ $((tx1 - tx0)) -eq $want_tx ] && [ $((rx1 - rx0)) -eq $want_rx ]; then
	pass unetstat-wire-counts
else
	fail unetstat-wire-counts "tx_msgs +$((tx1 - tx0)) (want +$want_tx), rx_msgs +$((rx1 - rx0)) (want +$want_rx)"
fi

unload_module
finish
