#!/bin/sh
# SPDX-License-Identifier: MIT
# Two guests on one link: delivery, load and MTU changes across the wire.
# guests: 2
SUITE=wire
. tests/guest/lib.sh
load_module netdev=eth0
run_test delivery-wire $BIN/delivery wire "$UNET_GUEST"
run_test load-wire $BIN/load wire "$UNET_GUEST"
run_test wire-mtu $BIN/wire_mtu "$UNET_GUEST"
unload_module

# The flood must reach the NIC's backlog bound before the stale-backlog
# timeout drops what it parked: on a loaded host the raw sender took over
# the default 1 s and the bound was never reached.
load_module netdev=eth0 reasm_timeout_ms=5000
run_test rx-hostile $BIN/rx_hostile "$UNET_GUEST"
unload_module

load_module netdev=eth0 max_endpoints=16
run_test stale-id-wire $BIN/stale_id wire "$UNET_GUEST"
unload_module
finish
