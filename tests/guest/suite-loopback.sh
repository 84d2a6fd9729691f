#!/bin/sh
# SPDX-License-Identifier: MIT
# One guest: everything that runs through the NIC's loopback path.
# guests: 1
SUITE=loopback
. tests/guest/lib.sh
load_module netdev=eth0
run_test delivery-loopback $BIN/delivery loopback
run_test isolation $BIN/isolation
run_test protection $BIN/protection
run_test errors $BIN/errors
run_test memlock $BIN/memlock
run_test killed $BIN/killed
run_test load $BIN/load loopback
run_test wait $BIN/wait
run_test idle-eps $BIN/idle_eps
run_test races $BIN/races
run_test datapath $BIN/datapath

# The module must stay while any process holds /dev/unet open.
sleep 30 </dev/unet &
sleeper=$!
i=0
while [ "$(readlink /proc/$sleeper/fd/0 2>/dev/null)" != /dev/unet ] &&
      [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ "$(readlink /proc/$sleeper/fd/0 2>/dev/null)" != /dev/unet ]; then
	fail "$SUITE-rmmod-busy" "the sleeper never opened /dev/unet"
elif rmmod unetmm 2>/dev/null; then
	fail "$SUITE-rmmod-busy" "rmmod succeeded while /dev/unet was open"
	load_module netdev=eth0	# so the rest of the suite has a module
elif ! grep -q '^unetmm ' /proc/modules; then
	fail "$SUITE-rmmod-busy" "rmmod failed but the module is gone"
else
	pass "$SUITE-rmmod-busy"
fi
kill $sleeper 2>/dev/null
wait $sleeper 2>/dev/null

unload_module

# A small slot space, so that endpoint ids wrap within the test, and a
# group that may use the wire.
load_module netdev=eth0 max_endpoints=16 wire_group=4242
run_test stale-id $BIN/stale_id loopback
run_test access $BIN/access
unload_module
finish
