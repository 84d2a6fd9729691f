#!/bin/sh
# SPDX-License-Identifier: MIT
# One guest, default TLB: U-Net/MM buffers anywhere in the address space,
# kept coherent with the VM (unmap, mremap, madvise, fork, exit) and
# refused when they are not the process's to use; faults that fail or
# never end, and messages parked behind them.
# guests: 1
SUITE=mm
. tests/guest/lib.sh
load_module netdev=eth0
run_test mm-buffers $BIN/mm_buffers
run_test mm-remap $BIN/mm_remap
run_test mm-fork $BIN/mm_fork
run_test mm-badaddr $BIN/mm_badaddr
run_test mm-blocking-pin $BIN/mm_blocking_pin
run_test mm-exit $BIN/mm_exit
run_test mm-sigbus $BIN/mm_sigbus
run_test mm-unserved $BIN/mm_unserved
run_test mm-parked $BIN/mm_parked
run_test mm-batch $BIN/mm_batch
run_test mm-thp $BIN/mm_thp
run_test mm-migrate $BIN/mm_migrate
unload_module
# Misses before batching and 2 MiB entries, for the record (and the
# data checks without them).
SUITE=mm-tlb-batch-1
load_module netdev=eth0 tlb_batch=1 tlb_huge=0
run_test mm-batch-1 $BIN/mm_batch
run_test mm-thp-huge-n $BIN/mm_thp
unload_module
finish
