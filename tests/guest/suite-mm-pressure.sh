#!/bin/sh
# SPDX-License-Identifier: MIT
# One guest: U-Net/MM traffic while a hog drives the guest into reclaim
# and swap; the NIC's shrinker must give pinned pages back.
# guests: 1
SUITE=mm-pressure
. tests/guest/lib.sh

# Swap: zram (the module comes from the host's /lib/modules).  Without it
# the hog only meets the OOM killer, but the test still runs.
swap=none
if modprobe zram 2>/dev/null && [ -e /sys/block/zram0/disksize ] &&
	echo 512M >/sys/block/zram0/disksize &&
	mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0 2>/dev/null; then
	swap=zram
	pass "$SUITE-swap-zram"
else
	echo "# zram swap unavailable; no swap (the root is 9p, /tmp is tmpfs: no swap file possible)"
fi

load_module netdev=eth0
run_test mm-pressure $BIN/mm_pressure "$swap"
unload_module

if [ "$swap" = zram ]; then
	if swapoff /dev/zram0 && echo 1 >/sys/block/zram0/reset; then
		pass "$SUITE-swap-cleanup"
	else
		fail "$SUITE-swap-cleanup" "swapoff /dev/zram0 failed"
	fi
	rmmod zram 2>/dev/null
fi
finish
