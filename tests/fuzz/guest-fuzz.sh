#!/bin/sh
# SPDX-License-Identifier: MIT
# Inside a guest (both guests run it): the robustness phases.
#   tests/fuzz/guest-fuzz.sh full|quick [SEED]
# Prints PASS/FAIL lines and the fuzzers' FUZZJSON lines; run-fuzz and
# tests/guest/suite-fuzz.sh read them.
MODE=${1:-quick}
SEED=${2:-$(date +%s)}
G=${UNET_GUEST:-1}
F=build/fuzz
# tests/run --kernel K passes the module built for K and a time factor.
KO=${UNET_KO:-kernel/unetmm.ko}
# UNET_TRANSLATE=nopin (tests/run --translate nopin): pin-free TLB.
TR=${UNET_TRANSLATE:+translate=$UNET_TRANSLATE}
SLOW=${UNET_SLOW:-1}
rc=0
pass() { echo "PASS guest/fuzz-$1"; }
fail() { echo "FAIL guest/fuzz-$1: $2"; rc=1; }
if [ "$MODE" = full ]; then
	QCASES=400000; QCHK=3000; CCASES=120000; CCHK=1000
	FRAMES=130000; FCHK=2000
	# fuzz_faults repetitions: close cycles 5 ways x half-written or not.
	FCLOSE=60; FMUNMAP=50; FFORK=40; FBADMEM=80; FLOODS=4
else
	QCASES=20000; QCHK=200; CCASES=10000; CCHK=100
	FRAMES=8000; FCHK=200
	FCLOSE=10; FMUNMAP=4; FFORK=3; FBADMEM=8; FLOODS=1
fi
echo "# guest-fuzz $MODE seed $SEED guest $G"

gauges() {
	grep -E '^(pinned_pages|segment_pages|endpoints|backlog_frames|backlog_bytes|reasm_active|misses_queued) ' \
		/sys/kernel/debug/unetmm/nic0/counters | awk '{printf "%s=%s ", $1, $2}'
}
# Every gauge zero once every process of a phase is gone (waits a little).
# (sh has no locals: its counter must not be a caller's loop variable.)
gauges_zero() {
	gz_try=0
	while [ $gz_try -lt 50 ]; do
		g=$(gauges)
		if ! echo "$g" | grep -qE '=[1-9-]'; then return 0; fi
		sleep 0.2
		gz_try=$((gz_try + 1))
	done
	echo "# gauges after $1: $g"
	return 1
}
leak_check() {
	if gauges_zero "$1"; then pass "$1-no-leak"; else
		fail "$1-no-leak" "gauges not zero: $(gauges)"
		echo "FUZZLEAK $1 $(gauges)"
	fi
}
runf() {	# name timeout cmd...
	n=$1; t=$(($2 * SLOW)); shift 2
	timeout "$t" "$@" 2>&1
	r=$?
	if [ $r -eq 124 ]; then
		tests/fuzz/diag.sh
		fail "$n" "timed out after $t s (hang)"
		echo "FUZZHANG $n"
	elif [ $r -ne 0 ]; then
		fail "$n" "exit status $r"
	fi
}

insmod $KO netdev=eth0 $TR || { fail insmod "insmod failed"; exit 1; }

# 1. Hostile hosts: raw frames from guest 2 to guest 1.
runf frames 400 $F/fuzz_frames $G --frames $FRAMES --checked $FCHK --seed $SEED
leak_check frames-$G
echo "# eth0 after frames: $(ip -s link show eth0 | tr '\n' ' ')"
echo "# softnet_stat (processed dropped squeezed ...): $(head -2 /proc/net/softnet_stat | tr '\n' ' ')"

# 1b. Stuck endpoints (receive buffers nobody will ever fault in) under
# floods of random shape: parked frames stay within the NIC's bound and go
# when nothing moves; broadcast frames and a fault mid-message too.
flood=0
while [ $flood -lt $FLOODS ]; do
	runf flood-$flood 300 build/tests/rx_hostile $G --seed $((SEED + 200 + flood))
	leak_check flood-$flood-$G
	flood=$((flood + 1))
done

# 2. Hostile processes (each guest fuzzes itself, loopback).
runf queues 400 $F/fuzz_queues --cases $QCASES --procs 2 --checked $QCHK --seed $((SEED + G))
leak_check queues-$G
runf control 400 $F/fuzz_control --cases $CCASES --checked $CCHK --seed $((SEED + 10 + G))
leak_check control-$G

# 3. Faults (guest 1 only: they reload the module and take eth0 down).
if [ "$G" = 1 ]; then
	faults=0
	# kill -9 in the middle of sends and receives, repeatedly.
	for i in 1 2 3 4 5 6; do
		$F/fuzz_queues --cases 100000000 --procs 2 --checked 100000 --seed $((SEED + i)) >/dev/null 2>&1 &
		p=$!
		sleep 1.$i
		pkill -9 -P $p 2>/dev/null	# the workers and the checked pair
		kill -9 $p 2>/dev/null
		wait $p 2>/dev/null
		faults=$((faults + 1))
		gauges_zero kill9-$i || fail fault-kill9-$i "gauges $(gauges)"
	done
	# A receiver closing with messages in flight (some half-written into
	# its buffers), munmap of buffers the NIC is using, fork during
	# traffic.  fuzz_faults counts its repetitions (FUZZJSON fault_cases).
	fault_run() {	# mode repetitions
		runf fault-$1 300 $F/fuzz_faults_$1 --reps $2 --checked 100 --seed $((SEED + 99))
		leak_check fault-$1
	}
	fault_run close $FCLOSE
	fault_run munmap $FMUNMAP
	fault_run fork $FFORK
	# Pages that are mapped but cannot be had: past EOF, SIGBUS
	# userfaultfd, truncated under the NIC, never served and killed.
	runf badmem 300 $F/fuzz_badmem --reps $FBADMEM --checked 100 --seed $((SEED + 98))
	leak_check badmem
	# eth0 down and up under traffic (loopback checked pair must stay whole).
	$F/fuzz_queues --cases 1 --procs 1 --checked $((QCHK + 200)) --seed $SEED > /tmp/linkq.log 2>&1 &
	p=$!
	for i in 1 2 3 4; do ip link set eth0 down; sleep 0.3; ip link set eth0 up; sleep 0.3; faults=$((faults + 1)); done
	wait $p || fail fault-link "checked traffic across link flaps: $(grep FAIL /tmp/linkq.log)"
	grep FUZZJSON /tmp/linkq.log | sed 's/"fuzzer":"queues"/"fuzzer":"fault-link"/;s/"descriptor_cases":[0-9]*,//'
	gauges_zero link || fail fault-link "gauges $(gauges)"
	# Unload refused while an endpoint exists, clean after.
	$F/fuzz_queues --cases 1 --procs 1 --checked 100000 --seed $SEED >/dev/null 2>&1 &
	p=$!
	sleep 1
	if rmmod unetmm 2>/dev/null; then
		fail fault-rmmod-busy "rmmod succeeded while endpoints existed"
		insmod $KO netdev=eth0 $TR
	else
		pass fault-rmmod-busy
	fi
	faults=$((faults + 1))
	pkill -9 -P $p; kill -9 $p; wait $p 2>/dev/null
	gauges_zero rmmod-busy || fail fault-rmmod-busy "gauges $(gauges)"
	if rmmod unetmm; then pass fault-rmmod-clean; else fail fault-rmmod-clean "rmmod refused after all processes exited"; fi
	faults=$((faults + 1))
	# A TLB far smaller than the working set: 16 entries, 2 ways.
	if insmod $KO netdev=eth0 $TR tlb_entries=16 tlb_ways=2; then
		runf fault-small-tlb 300 $F/fuzz_queues --cases $((QCASES / 4)) --procs 2 --checked $QCHK --seed $((SEED + 77))
		faults=$((faults + 1))
		gauges_zero small-tlb || fail fault-small-tlb "gauges $(gauges)"
		rmmod unetmm || fail fault-small-tlb "rmmod failed"
	else
		fail fault-small-tlb "insmod tlb_entries=16 tlb_ways=2 failed"
	fi
	insmod $KO netdev=eth0 $TR
	# Memory pressure with zram swap while the checked pair runs.
	if modprobe zram 2>/dev/null && echo 256M >/sys/block/zram0/disksize &&
	   mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0; then
		$F/fuzz_queues --cases $((QCASES / 4)) --procs 1 --checked $QCHK --seed $((SEED + 88)) > /tmp/mp.log 2>&1 &
		p=$!
		# The hog: more anonymous memory than the guest has free.
		timeout 20 sh -c 'python3 -c "import time; b=bytearray(900<<20); time.sleep(3)" 2>/dev/null || true'
		wait $p || fail fault-mem-pressure "$(grep FAIL /tmp/mp.log)"
		grep FUZZJSON /tmp/mp.log | sed 's/"fuzzer":"queues"/"fuzzer":"fault-mem"/'
		faults=$((faults + 1))
		swapoff /dev/zram0; echo 1 >/sys/block/zram0/reset; rmmod zram 2>/dev/null
		gauges_zero mem-pressure || fail fault-mem-pressure "gauges $(gauges)"
	else
		echo "# zram unavailable: memory pressure fault skipped"
	fi
	echo "FUZZJSON {\"fuzzer\":\"faults\",\"fault_cases\":$faults}"
fi

leak_check end-$G
if rmmod unetmm; then pass rmmod-$G; else fail rmmod-$G "rmmod refused after all processes exited"; fi
exit $rc
