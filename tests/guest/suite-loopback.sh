#!/bin/sh
# One guest: everything that runs through the NIC's loopback path.
# guests: 1
SUITE=loopback
. tests/guest/lib.sh
load_module netdev=eth0
run_test delivery-loopback $BIN/delivery loopback
unload_module
finish
