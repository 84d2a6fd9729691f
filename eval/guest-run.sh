#!/bin/sh
# The measurements of `make demo`, inside a guest.  Raw outputs go to
# $UNET_OUT/raw/<setup>-<peer>-<kind>-<size>.txt; eval/report.py reads them.
#
#   eval/guest-run.sh loopback          one guest: two processes talk locally
#   eval/guest-run.sh wire              two guests: guest 1 serves, guest 2 runs
#
# QUICK=1 in the environment shortens every run.
setup=$1
g=${UNET_GUEST:-1}
raw=$UNET_OUT/raw
mkdir -p "$raw"
B=build/bin
E=build/eval

if [ "${QUICK:-0}" = 1 ]; then
	LAT_N=300; BW_N=300; SP_T=1; IB_N=300; SCALE_N=16
else
	LAT_N=2000; BW_N=1500; SP_T=3; IB_N=2000; SCALE_N=48
fi

LAT_SIZES="8 1024 8192"
BW_SIZES="1024 8192 65536"
SELF_IP=169.254.88.$g
PEER_IP=169.254.88.1

if [ "$setup" = loopback ]; then
	role=both
	SERVER_IP=127.0.0.1
	RXE_IP=169.254.88.1
elif [ "$g" = 1 ]; then
	role=server
	SERVER_IP=$PEER_IP
	RXE_IP=$PEER_IP
else
	role=client
	SERVER_IP=$PEER_IP
	RXE_IP=$PEER_IP
fi

step=0
total=$(( 4 + $( [ "$setup" = loopback ] && echo 3 || echo 0) ))
progress() {
	step=$((step + 1))
	echo "[$setup $step/$total] $*"
}

# Guest 1 waits here until guest 2 reaches the same barrier (wire only).
barrier() {
	[ "$setup" = wire ] || return 0
	port=$((18700 + $1))
	if [ "$g" = 1 ]; then
		timeout 300 busybox nc -l -p "$port" </dev/null >/dev/null
	else
		i=0
		until echo x | busybox nc "$PEER_IP" "$port" >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -gt 600 ] && break
			sleep 0.2
		done
	fi
}

# On loopback the server runs on CPU 0 and the client on CPU 1, for every
# peer alike: left to the scheduler, the two sometimes share a vCPU and a
# round trip costs two context switches, which moved U-Net's 8-byte median
# between 6.4 and 10.8 us from run to run; pinned, 6.4 to 7.4.
SRV=""; CLI=""
if [ $role = both ] && [ "$(nproc)" -ge 2 ]; then
	SRV="taskset -c 0"; CLI="taskset -c 1"
fi

# Runs the server and the client of a measurement; the client's output is
# kept.  perftest's client does not retry a server that is not listening
# yet, so every client is retried a few times; every run has a time limit.
pair() {
	out=$1
	shift
	case $role in
	both)
		timeout 300 $SRV "$@" >/dev/null 2>&1 &
		spid=$!
		sleep 0.5
		client "$out" "$@"
		wait $spid
		;;
	server)
		timeout 300 "$@" >/dev/null 2>&1
		;;
	client)
		client "$out" "$@"
		;;
	esac
}

client() {
	out=$1
	shift
	for try in 1 2 3 4 5 6 7 8 9 10; do
		timeout 240 $CLI "$@" "$SERVER_IP" >"$raw/$out" 2>&1 && return 0
		grep -qiE "couldn.t connect|unable to init|connection refused" \
			"$raw/$out" || return 1
		sleep 1
	done
}

insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 || exit 1
uname -r >"$raw/kernel.txt"
nproc >"$raw/vcpus.txt"

# Three rounds, the two modes taking turns within each: a burst of host
# load under TCG moves a median by tens of percent, and the comparison of
# the two modes must not hinge on which ran during it.  report.py takes the
# median of the three.
progress "U-Net/MM and base-level U-Net: round trip at $LAT_SIZES bytes (3 rounds)"
for round in 1 2 3; do
	for s in $LAT_SIZES; do
		for mode in mm base; do
			pair "$setup-unet_$mode-rtt-$s.r$round.txt" \
				$B/unet_lat --mode $mode -s "$s" -n $LAT_N \
				-w 100 --json
		done
	done
done

progress "U-Net/MM and base-level U-Net: bandwidth at $BW_SIZES bytes"
for mode in mm base; do
	for s in $BW_SIZES; do
		# 16 receive buffers of 64 KiB: 1 MiB, well inside the TLB's
		# reach.  The link between the guests is flow-controlled, so
		# the wire runs the same window as loopback.
		pair "$setup-unet_$mode-bw-$s.txt" $B/unet_bw --mode $mode \
			-s "$s" -n $BW_N --rx-bufs 16 -W 16 --json
	done
done

progress "kernel UDP (sockperf): round trip and throughput"
barrier 1
if [ $role != client ]; then
	$SRV sockperf server -i "$( [ $setup = loopback ] && echo 127.0.0.1 || echo $SELF_IP)" \
		-p 11111 --timeout 0 >"$raw/$setup-udp-server.txt" 2>&1 &
	sppid=$!
	sleep 0.5
fi
barrier 2
if [ $role != server ]; then
	for s in $LAT_SIZES; do
		m=$s; [ "$m" -lt 14 ] && m=14	# sockperf's smallest message
		$CLI sockperf ping-pong -i "$SERVER_IP" -p 11111 -m "$m" -t $SP_T \
			--full-rtt --timeout 0 >"$raw/$setup-udp-rtt-$s.txt" 2>&1
	done
fi
barrier 3
# Throughput: the server counts what arrived; one server run per size.
for s in $BW_SIZES; do
	m=$s; [ "$m" -gt 65507 ] && m=65507	# largest UDP datagram
	if [ $role != client ]; then
		kill -INT $sppid 2>/dev/null; wait $sppid 2>/dev/null
		$SRV sockperf server -i "$( [ $setup = loopback ] && echo 127.0.0.1 || echo $SELF_IP)" \
			-p 11111 --timeout 0 >"$raw/$setup-udp-bwserver-$s.txt" 2>&1 &
		sppid=$!
		sleep 0.5
	fi
	barrier $((10 + s % 97))
	if [ $role != server ]; then
		$CLI sockperf throughput -i "$SERVER_IP" -p 11111 -m "$m" -t $SP_T \
			--timeout 0 >"$raw/$setup-udp-bw-$s.txt" 2>&1
	fi
	barrier $((20 + s % 97))
	if [ $role != client ]; then
		sleep 0.5
		kill -INT $sppid 2>/dev/null; wait $sppid 2>/dev/null
		cp "$raw/$setup-udp-bwserver-$s.txt" "$raw/$setup-udp-bwrecv-$s.txt" 2>/dev/null
		sppid=
	fi
done
[ -n "${sppid:-}" ] && kill -INT $sppid 2>/dev/null

progress "Soft-RoCE (rdma_rxe + perftest): ib_send_lat and ib_send_bw"
rxe_ok=1
if modprobe rdma_rxe 2>"$raw/$setup-rxe-setup.txt" &&
   rdma link add rxe0 type rxe netdev eth0 2>>"$raw/$setup-rxe-setup.txt"; then
	sleep 1
else
	rxe_ok=0
	echo "rxe setup failed" >>"$raw/$setup-rxe-setup.txt"
fi
barrier 4
if [ $rxe_ok = 1 ]; then
	for s in $LAT_SIZES; do
		pair "$setup-rxe-rtt-$s.txt" ib_send_lat -d rxe0 -s "$s" \
			-n $IB_N -F
		barrier $((30 + s % 97))
	done
	for s in $BW_SIZES; do
		pair "$setup-rxe-bw-$s.txt" ib_send_bw -d rxe0 -s "$s" \
			-n $IB_N -F
		barrier $((40 + s % 97))
	done
	rdma link delete rxe0 2>/dev/null
fi

if [ "$setup" = loopback ]; then
	progress "memcpy bandwidth in the guest (the limit)"
	$E/memcpy_bw -t 2 --json >"$raw/memcpy.txt" 2>&1

	progress "TLB: warm and cold round trip, miss cost (resident, faulted, swapped)"
	# Swap on zram so that a page can be swapped out and back in.
	if modprobe zram 2>/dev/null && [ -e /sys/block/zram0/disksize ]; then
		echo 256M >/sys/block/zram0/disksize &&
			mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
	fi
	$E/tlbcost -n $LAT_N --json >"$raw/tlbcost.txt" 2>&1
	swapoff /dev/zram0 2>/dev/null

	progress "pinned memory with 1..64 processes streaming from 1 MiB each"
	for p in 1 2 4 8 16 32 64; do
		for mode in mm base; do
			$E/scale -p $p --mode $mode -n $SCALE_N --json \
				>"$raw/scale-$mode-$p.txt" 2>&1
		done
	done
fi

build/bin/unetstat --json >"$raw/$setup-unetstat-guest$g.txt" 2>&1
rmmod unetmm
echo "[$setup] done"
