#!/bin/sh
# SPDX-License-Identifier: MIT
# Inside a guest: shows where every fuzz process is (for a hang report).
echo "# diag: processes"
for p in /proc/[0-9]*; do
	c=$(cat $p/comm 2>/dev/null) || continue
	case "$c" in fuzz_*|load|faults)
		echo "# pid ${p#/proc/} $c state $(sed -n 's/^State:\t//p' $p/status) wchan $(cat $p/wchan 2>/dev/null)"
		sed 's/^/#    /' $p/stack 2>/dev/null
		;;
	esac
done
echo w >/proc/sysrq-trigger 2>/dev/null
grep -E "pinned_pages|segment_pages|^endpoints|backlog_frames|reasm_active|misses_queued" /sys/kernel/debug/unetmm/nic0/counters 2>/dev/null | sed 's/^/# /'
