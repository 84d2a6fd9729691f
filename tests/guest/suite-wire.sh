#!/bin/sh
# Two guests on one link: delivery across the wire.
# guests: 2
SUITE=wire
. tests/guest/lib.sh
load_module netdev=eth0
run_test delivery-wire $BIN/delivery wire "$UNET_GUEST"
unload_module
finish
