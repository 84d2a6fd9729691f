#!/bin/sh
# One guest, default TLB: U-Net/MM buffers anywhere in the address space,
# kept coherent with the VM (unmap, mremap, madvise, fork, exit) and
# refused when they are not the process's to use.
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
unload_module
finish
