#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs, in one guest, the in-guest fi_pingpong RDM pair of
# tests/guest/suite-fabric.sh N times in a row, to catch the client that
# hangs after its last size (issue 16).  On a run that has not ended
# after LIMIT seconds, the stacks of the pair (kernel and gdb) go to the
# output before they are killed.
#
#   harness/unet-vm --name fihang --timeout 900 --quiet \
#       --cmd1 'sh tests/fabric/pingpong-loop.sh 30 40 [ENV=VALUE...]'
#
# N (default 30) runs, LIMIT (default 40) s per run; further arguments
# are environment settings for both processes (UNET_FI_DROP=0.05 ...).
# Note that `fi_pingpong -p unet -e rdm` takes the first RDM provider
# libfabric offers, "unet;ofi_rxd" (libfabric's RXD over unet DGRAM),
# unless FI_PROVIDER=^ofi_rxd is among them: then it is unet's own RDM.
N=${1:-30}
LIMIT=${2:-40}
shift 2 2>/dev/null
EXTRA="$*"
UNET_KO=${UNET_KO:-kernel/unetmm.ko}
export FI_PROVIDER_PATH=$PWD/build/lib FI_PROVIDER=unet UNET_FI_STATS=1
insmod "$UNET_KO" netdev=eth0 || exit 1
. tests/guest/lib.sh	# wait_listen

dump() {
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		echo "--- pid $p: $(tr '\0' ' ' </proc/$p/cmdline) wchan $(cat /proc/$p/wchan)"
		grep -E '^(State|voluntary|nonvoluntary)' /proc/$p/status
		cat /proc/$p/stack
		gdb -q -batch -p "$p" -ex 'bt' -ex 'frame function ufi_cq_readfrom' \
			-ex 'p *cq' -ex 'p cq->eps[0]->tx_ops_open' \
			-ex 'p cq->eps[0]->stats' \
			-ex 'p cq->eps[0]->peers[0]' -ex 'p cq->eps[0]->peers[1]' \
			2>&1 | grep -v '^\[New LWP\|^warning'
	done
}

hung=0 failed=0
r=1
while [ $r -le "$N" ]; do
	# shellcheck disable=SC2086
	env $EXTRA timeout 300 fi_pingpong -p unet -c -e rdm >/tmp/srv.log 2>&1 &
	spid=$!
	wait_listen 47592
	# shellcheck disable=SC2086
	env $EXTRA fi_pingpong -p unet -c -e rdm 127.0.0.1 >/tmp/cli.log 2>&1 &
	cpid=$!
	t=0
	while kill -0 $cpid 2>/dev/null && [ $t -lt $((LIMIT * 5)) ]; do
		sleep 0.2
		t=$((t + 1))
	done
	if kill -0 $cpid 2>/dev/null; then
		hung=$((hung + 1))
		echo "=== run $r: client still running after $LIMIT s"
		spid2=$(pgrep -f 'fi_pingpong -p unet -c -e rdm$')
		dump $cpid $spid2
		echo "--- client output"; cat /tmp/cli.log
		echo "--- server output"; cat /tmp/srv.log
		dmesg | tail -20
		kill -9 $cpid 2>/dev/null
	fi
	wait $cpid
	crc=$?
	wait $spid
	src=$?
	if [ $crc -ne 0 ] || [ $src -ne 0 ]; then
		failed=$((failed + 1))
		echo "=== run $r: client $crc server $src"
		tail -5 /tmp/cli.log
		tail -5 /tmp/srv.log
	else
		echo "=== run $r: ok $(tail -1 /tmp/cli.log | cut -c1-60)"
		grep -h '^unet-fi' /tmp/cli.log /tmp/srv.log
	fi
	r=$((r + 1))
done
echo "pingpong-loop: $N runs, $hung hung, $failed failed ($EXTRA)"
rmmod unetmm
