#!/bin/sh
# Two guests on one link: delivery, load and MTU changes across the wire.
# guests: 2
SUITE=wire
. tests/guest/lib.sh
load_module netdev=eth0
run_test delivery-wire $BIN/delivery wire "$UNET_GUEST"
run_test load-wire $BIN/load wire "$UNET_GUEST"
run_test wire-mtu $BIN/wire_mtu "$UNET_GUEST"
unload_module
finish
