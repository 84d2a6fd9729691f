#!/bin/sh
# SPDX-License-Identifier: MIT
# One guest, a 64-entry 4-way TLB: U-Net/MM working sets larger than the
# TLB, from one process and from sixteen.
# guests: 1
SUITE=mm-small-tlb
. tests/guest/lib.sh
load_module netdev=eth0 tlb_entries=64 tlb_ways=4
run_test mm-working-set $BIN/mm_working_set
run_test mm-batch $BIN/mm_batch
unload_module
finish
