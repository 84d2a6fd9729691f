#!/bin/sh
# The measurements of `make demo`, inside a guest.  Raw outputs go to
# $UNET_OUT/raw/<setup>-<peer>-<kind>-<size>.<discipline>[.r<round>].txt;
# eval/report.py reads them.  Every raw file starts with a "# cmd:" line
# per command that made it (the client's, and the server's where there is
# one), so that eval/check-report can hold the report to what ran.
#
#   eval/guest-run.sh loopback          one guest: two processes talk locally
#   eval/guest-run.sh wire              two guests: guest 1 serves, guest 2 runs
#
# Two disciplines, every peer measured in both:
#   busy   U-Net's tools poll their rings and, on the wire, the device's
#          NAPI when a ring is empty (unet_busy_poll, their default
#          --busy-poll 50); sockperf spins on a non-blocking
#          socket (--nonblocked) or busy-polls the device (--lls,
#          SO_BUSY_POLL), whichever had the shorter 8 B round trip here;
#          perftest polls its completion queue (its default).
#   block  U-Net's tools sleep in unet_wait() (--block); sockperf blocks in
#          recvfrom(); perftest sleeps on completion events (-e).
# Every round-trip and bandwidth figure is measured in ROUNDS rounds; each
# peer's rounds run in its own phase, U-Net's two modes taking turns
# within each round.  Every U-Net size, mode,
# tool and discipline first runs once with --check (every byte filled and
# verified, on both sides) before the timed runs, which do not check.
#
# QUICK=1 in the environment shortens every run.
setup=$1
g=${UNET_GUEST:-1}
raw=$UNET_OUT/raw
mkdir -p "$raw"
B=build/bin
E=build/eval

ROUNDS=3
[ "${QUICK:-0}" = 1 ] && ROUNDS=1	# a check of the pipeline only
# NetPIPE averages its own repetitions per size, but one run's 8 B figure
# moved by 3x between demos here: three rounds, as for every other figure
# (a round of the five MPI transports takes 2 minutes in one guest, 6
# across the wire).
MPI_ROUNDS=3
[ "${QUICK:-0}" = 1 ] && MPI_ROUNDS=1
# Per round: LAT_N round trips busy-polling (so that a busy p99 comes from
# 10,000 samples), except on the wire at 8 KiB, where a round trip takes
# about a millisecond and LAT_NB, the blocking count, is used, to keep
# `make demo` shorter (it takes over half an hour); likewise IB_N / IB_NB for perftest.
# sockperf runs for a time (sp_time), long enough for about as many
# samples at the round trips this machine has shown.  The report says how
# many samples each p99 came from.
if [ "${QUICK:-0}" = 1 ]; then
	LAT_N=2000; LAT_NB=1000; BW_N=300; RATE_N=3000; CHECK_N=100
	IB_N=1000; IB_NB=500; IB_BW_N=300; SCALE_N=16; FRESH_N=1000
	NP_REPEATS=3; PING_N=500
else
	LAT_N=10000; LAT_NB=2000; BW_N=1500; RATE_N=20000; CHECK_N=300
	IB_N=10000; IB_NB=2000; IB_BW_N=1500; SCALE_N=48; FRESH_N=10000
	NP_REPEATS=10; PING_N=3000
fi
# lat_n DISC SIZE / ib_n DISC SIZE: round trips per round.
lat_n() {
	if [ "$1" = block ] || { [ "$setup" = wire ] && [ "$2" -ge 8192 ]; }; then
		echo $LAT_NB
	else
		echo $LAT_N
	fi
}
ib_n() {
	if [ "$1" = block ] || { [ "$setup" = wire ] && [ "$2" -ge 8192 ]; }; then
		echo $IB_NB
	else
		echo $IB_N
	fi
}
# sp_time KIND DISC SIZE: seconds of one sockperf run (KIND lat, select
# or bw); about half a second of each goes to sockperf's warm-up.
sp_time() {
	if [ "${QUICK:-0}" = 1 ]; then
		echo 1
	elif [ "$1" = bw ] || [ "$1" = select ] || [ "$2" = block ] ||
	     [ "$3" -ge 8192 ]; then
		[ "$setup" = wire ] && echo 3 || echo 2
	elif [ "$setup" = wire ]; then
		echo 5
	else
		echo 3
	fi
}

LAT_SIZES="8 1024 8192"
BW_SIZES="1024 8192 65536"
RATE_SIZES="8 64"
DISCS="busy block"
SELF_IP=169.254.88.$g
PEER_IP=169.254.88.1

if [ "$setup" = loopback ]; then
	role=both
	SERVER_IP=127.0.0.1
	UDP_IP=127.0.0.1
else
	[ "$g" = 1 ] && role=server || role=client
	SERVER_IP=$PEER_IP
	UDP_IP=$PEER_IP
fi

step=0
total=$(( 5 + $( [ "$setup" = loopback ] && echo 5 || echo 1) ))
progress() {
	step=$((step + 1))
	echo "[$setup $step/$total $(date +%T)] $*"
	now
	echo "$now_up phase $step $*" >>"$raw/timing.txt"
}
# timing.txt: where this guest's time went, one line per phase started
# (`UPTIME phase N TEXT`), per command and per barrier waited at
# (`UPTIME took SECONDS WHAT`); eval/report.py sums it.  Read from
# /proc/uptime by the shell itself: under TCG a fork and exec costs tens
# of milliseconds, and there are hundreds of these.
now() {	# sets now_up (seconds, two decimals) and now_cs (centiseconds)
	read -r now_up _ </proc/uptime
	now_cs=$(( ${now_up%.*} * 100 + 1${now_up#*.} - 100 ))
}
took() {	# START_CS WHAT
	now
	took_cs=$((now_cs - $1))
	printf '%s took %d.%02d %s\n' "$now_up" $((took_cs / 100)) \
		$((took_cs % 100)) "$2" >>"$raw/timing.txt"
}

# Both wire guests pass the same barriers in the same order; guest 1 waits
# at each until guest 2 reaches it.
bar=0
barrier() {
	bar=$((bar + 1))
	[ "$setup" = wire ] || return 0
	port=$((18700 + bar))
	now; bar_t0=$now_cs
	if [ "$g" = 1 ]; then
		timeout 3000 busybox nc -l -p "$port" </dev/null >/dev/null
	else
		i=0
		until echo x | busybox nc "$PEER_IP" "$port" >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -gt 15000 ] && break
			sleep 0.2
		done
	fi
	took "$bar_t0" "barrier-$bar"
}

# On loopback the server runs on CPU 0 and the client on CPU 1, for every
# peer alike: left to the scheduler, the two sometimes share a vCPU and a
# round trip costs two context switches.
SRV=""; CLI=""
if [ $role = both ] && [ "$(nproc)" -ge 2 ]; then
	SRV="taskset -c 0"; CLI="taskset -c 1"
fi

# cmd FILE CMD...: runs a client into FILE, recording the command first,
# for at most CMD_LIMIT seconds (a hung run is a missing figure, not a
# stalled demo).  (sh has no local variables: cmd's own are named apart
# from its callers'.)
CMD_LIMIT=300 CMD_WRAP=""
cmd() {
	cmd_out=$raw/$1
	shift
	echo "# cmd: $*" >"$cmd_out"
	now; cmd_t0=$now_cs
	timeout $CMD_LIMIT $CLI $CMD_WRAP "$@" >>"$cmd_out" 2>&1
	cmd_rc=$?
	took "$cmd_t0" "${cmd_out##*/}"
	return $cmd_rc
}

# ---- U-Net -------------------------------------------------------------
# One server per tool and discipline serves every client (--forever): each
# client's size, count, mode and --check are adopted by the server.
LAT_PORT_busy=18601; LAT_PORT_block=18602
BW_PORT_busy=18603; BW_PORT_block=18604
dflag() { [ "$1" = block ] && echo --block; }
lat_port() { [ "$1" = block ] && echo $LAT_PORT_block || echo $LAT_PORT_busy; }
bw_port() { [ "$1" = block ] && echo $BW_PORT_block || echo $BW_PORT_busy; }

unet_servers=""
start_unet_servers() {
	[ $role = client ] && return
	for d in $DISCS; do
		$SRV $B/unet_lat --forever --json -t 60 -p "$(lat_port $d)" \
			$(dflag $d) >"$raw/$setup-unet-latserver.$d.txt" 2>&1 &
		unet_servers="$unet_servers $!"
		$SRV $B/unet_bw --forever --json -t 60 -p "$(bw_port $d)" \
			$(dflag $d) >"$raw/$setup-unet-bwserver.$d.txt" 2>&1 &
		unet_servers="$unet_servers $!"
	done
	sleep 1
}
stop_unet_servers() {
	[ -n "$unet_servers" ] || return 0
	# shellcheck disable=SC2086
	kill $unet_servers 2>/dev/null
	# shellcheck disable=SC2086
	wait $unet_servers 2>/dev/null
	unet_servers=""
}

unet_lat() {	# FILE DISC MODE SIZE N [--check]
	f=$1 d=$2 m=$3 s=$4 n=$5
	shift 5
	cmd "$f" $B/unet_lat --mode "$m" -s "$s" -n "$n" -w 100 --json \
		-p "$(lat_port "$d")" $(dflag "$d") "$@" "$SERVER_IP"
}
unet_bw() {	# FILE DISC MODE SIZE N WINDOW [--check]
	f=$1 d=$2 m=$3 s=$4 n=$5 w=$6
	shift 6
	cmd "$f" $B/unet_bw --mode "$m" -s "$s" -n "$n" --rx-bufs "$w" -W "$w" \
		--json -p "$(bw_port "$d")" $(dflag "$d") "$@" "$SERVER_IP"
}

# ---- kernel UDP (sockperf) ----------------------------------------------
# The server's flags per variant; the client's are the same.
sp_flags() {
	case $1 in
	spin) echo --nonblocked ;;
	lls) echo --lls 50 ;;
	block) ;;
	esac
}
SP_PORT_spin=11111; SP_PORT_lls=11112; SP_PORT_block=11113
sp_port() { eval echo "\$SP_PORT_$1"; }
sp_servers=""
start_sp_servers() {
	[ $role = client ] && return
	ip=$( [ $setup = loopback ] && echo 127.0.0.1 || echo $SELF_IP)
	for v in spin lls block; do
		echo "# cmd: sockperf server -i $ip -p $(sp_port $v) $(sp_flags $v)" \
			>"$raw/$setup-udp-server.$v.txt"
		$SRV sockperf server -i "$ip" -p "$(sp_port $v)" $(sp_flags $v) \
			>>"$raw/$setup-udp-server.$v.txt" 2>&1 &
		sp_servers="$sp_servers $!"
	done
	sleep 1
}
stop_sp_servers() {
	[ -n "$sp_servers" ] || return 0
	# A server spinning on a non-blocking socket never looks at the flag
	# its SIGTERM handler sets.
	# shellcheck disable=SC2086
	kill -KILL $sp_servers 2>/dev/null
	# shellcheck disable=SC2086
	wait $sp_servers 2>/dev/null
	sp_servers=""
}
# The clients run with eval/sockperf_settle.c preloaded: it cuts the 2 s
# pause sockperf's client takes after its warm-up to 0.2 s (48 clients
# per setup), and changes nothing in what is measured.
SP_CLIENT="env LD_PRELOAD=$PWD/$E/sockperf_settle.so sockperf"
sp_lat() {	# FILE VARIANT SIZE [KIND]
	m=$3; [ "$m" -lt 14 ] && m=14	# sockperf's smallest message
	d=busy; [ "$2" = block ] && d=block
	cmd "$1" $SP_CLIENT ping-pong -i "$UDP_IP" -p "$(sp_port $2)" -m "$m" \
		-t "$(sp_time "${4:-lat}" $d "$3")" --full-rtt $(sp_flags $2)
}
# Throughput: the client counts what it sent; the server guest's UDP
# InDatagrams (/proc/net/snmp) before and after count what arrived.
udp_in() { awk '/^Udp:/ { if (h) print $2; h = 1 }' /proc/net/snmp; }
sp_bw() {	# FILE VARIANT SIZE
	f=$1 v=$2 m=$3
	[ "$m" -gt 65507 ] && m=65507	# largest UDP datagram
	[ "$m" -lt 14 ] && m=14
	barrier
	[ $role != client ] && before=$(udp_in)
	barrier
	if [ $role != server ]; then
		cmd "$f" $SP_CLIENT throughput -i "$UDP_IP" -p "$(sp_port $v)" \
			-m "$m" -t "$(sp_time bw)"
	fi
	barrier
	if [ $role != client ]; then
		sleep 0.3
		echo "$(( $(udp_in) - before ))" >"$raw/${f%.txt}.received"
	fi
}

# ---- Soft-RoCE (perftest) -----------------------------------------------
# Runs the server and the client of a measurement; the client's output is
# kept.  perftest's client does not retry a server that is not listening
# yet, so every client is retried a few times; every run has a time limit,
# PERF_LIMIT: the longest run takes about 25 s, but ib_send_lat -e across
# the wire sometimes never finishes: at 8 KiB in two of the three rounds
# of one demo its pair sat for 2 minutes after the client had measured,
# until the server's limit ended them (the client then printed its
# figures).  The client's limit is 15 s longer than the server's, and its
# stdout (a file) is line-buffered, so that what it printed before a hang
# survives its limit: in the next demo a client at 1 KiB ran on after its
# server's end until its own limit, and its file held only the command
# (anything it had printed was still in stdio's buffer when it died).
PERF_LIMIT=60
pair() {
	out=$1
	shift
	CMD_LIMIT=$((PERF_LIMIT + 15)) CMD_WRAP="stdbuf -oL"
	case $role in
	both)
		timeout $PERF_LIMIT $SRV "$@" >/dev/null 2>&1 &
		spid=$!
		sleep 0.5
		client "$out" "$@"
		wait $spid
		;;
	server)
		timeout $PERF_LIMIT "$@" >/dev/null 2>&1
		;;
	client)
		client "$out" "$@"
		;;
	esac
	CMD_LIMIT=300 CMD_WRAP=""
	barrier
}
client() {
	out=$1
	shift
	for try in 1 2 3 4 5 6 7 8 9 10; do
		cmd "$out" "$@" "$SERVER_IP" && return 0
		grep -qiE "couldn.t connect|unable to init|connection refused" \
			"$raw/$out" || return 1
		sleep 1
	done
}
eflag() { [ "$1" = block ] && echo -e; }

insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 || exit 1
uname -r >"$raw/kernel.txt"
nproc >"$raw/vcpus.txt"
echo "quick=${QUICK:-0} rounds=$ROUNDS lat_n=$LAT_N lat_nb=$LAT_NB bw_n=$BW_N rate_n=$RATE_N check_n=$CHECK_N ib_n=$IB_N ib_nb=$IB_NB ib_bw_n=$IB_BW_N fresh_n=$FRESH_N ping_n=$PING_N np_repeats=$NP_REPEATS mpi_rounds=$MPI_ROUNDS" \
	>"$raw/params.txt"

progress "U-Net/MM and base-level U-Net: checked runs (--check), every size, mode and discipline"
start_unet_servers
barrier
if [ $role != server ]; then
	for d in $DISCS; do
		for mode in mm base; do
			for s in $LAT_SIZES; do
				unet_lat "$setup-unet_$mode-rtt-$s.$d.check.txt" \
					$d $mode $s $CHECK_N --check
			done
			for s in $BW_SIZES $RATE_SIZES; do
				unet_bw "$setup-unet_$mode-bw-$s.$d.check.txt" \
					$d $mode $s $CHECK_N 16 --check
			done
		done
	done
fi

progress "U-Net/MM and base-level U-Net: round trip, bandwidth, message rate ($ROUNDS rounds)"
if [ $role != server ]; then
	for r in $(seq $ROUNDS); do
		for d in $DISCS; do
			for s in $LAT_SIZES; do
				n=$(lat_n $d $s)
				for mode in mm base; do
					unet_lat "$setup-unet_$mode-rtt-$s.$d.r$r.txt" \
						$d $mode $s $n
				done
			done
			for s in $BW_SIZES; do
				for mode in mm base; do
					# 16 receive buffers of 64 KiB: 1 MiB,
					# well inside the TLB's reach.
					unet_bw "$setup-unet_$mode-bw-$s.$d.r$r.txt" \
						$d $mode $s $BW_N 16
				done
			done
		done
		for s in $RATE_SIZES; do
			for mode in mm base; do
				unet_bw "$setup-unet_$mode-rate-$s.busy.r$r.txt" \
					busy $mode $s $RATE_N 16
			done
		done
	done
fi
# The link's own tail, for reference (not a peer): the kernel's ICMP echo
# across the same link, blocking, while guest 1 waits at the barrier.
if [ "$setup" = wire ] && [ $role = client ]; then
	cmd "$setup-ping.txt" ping -c $PING_N -i 0.002 "$SERVER_IP"
fi
barrier
stop_unet_servers

progress "kernel UDP (sockperf): round trip, throughput, message rate"
start_sp_servers
barrier
# The busy-poll variant: both measured at 8 B, the faster median kept.
if [ $role != server ]; then
	for r in $(seq $ROUNDS); do
		for v in spin lls; do
			sp_lat "$setup-udp-select-8.$v.r$r.txt" $v 8 select
		done
	done
	best=$(for v in spin lls; do
		m=$(for r in $(seq $ROUNDS); do
			sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' \
				"$raw/$setup-udp-select-8.$v.r$r.txt"
		done | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
		echo "${m:-999999999} $v"
	done | sort -n | head -1 | cut -d' ' -f2)
	echo "$best" >"$raw/$setup-udp-busy-variant.txt"
	for r in $(seq $ROUNDS); do
		for s in $LAT_SIZES; do
			sp_lat "$setup-udp-rtt-$s.busy.r$r.txt" "$best" "$s"
			sp_lat "$setup-udp-rtt-$s.block.r$r.txt" block "$s"
		done
	done
fi
barrier
# All three servers run at once, so the server guest need not know the
# variant the client chose.
for r in $(seq $ROUNDS); do
	for s in $BW_SIZES; do
		sp_bw "$setup-udp-bw-$s.busy.r$r.txt" "$best" "$s"
		sp_bw "$setup-udp-bw-$s.block.r$r.txt" block "$s"
	done
	for s in $RATE_SIZES; do
		sp_bw "$setup-udp-rate-$s.busy.r$r.txt" "$best" "$s"
	done
done
stop_sp_servers

progress "Soft-RoCE (rdma_rxe + perftest): ib_send_lat and ib_send_bw"
rxe_ok=1
if modprobe rdma_rxe 2>"$raw/$setup-rxe-setup.txt" &&
   rdma link add rxe0 type rxe netdev eth0 2>>"$raw/$setup-rxe-setup.txt"; then
	sleep 1
else
	rxe_ok=0
	echo "rxe setup failed" >>"$raw/$setup-rxe-setup.txt"
fi
barrier
if [ $rxe_ok = 1 ]; then
	for r in $(seq $ROUNDS); do
		for d in $DISCS; do
			for s in $LAT_SIZES; do
				n=$(ib_n $d $s)
				pair "$setup-rxe-rtt-$s.$d.r$r.txt" ib_send_lat \
					-d rxe0 -s "$s" -n $n -F $(eflag $d)
			done
			for s in $BW_SIZES; do
				pair "$setup-rxe-bw-$s.$d.r$r.txt" ib_send_bw \
					-d rxe0 -s "$s" -n $IB_BW_N -F $(eflag $d)
			done
		done
		for s in $RATE_SIZES; do
			pair "$setup-rxe-rate-$s.busy.r$r.txt" ib_send_bw \
				-d rxe0 -s "$s" -n $RATE_N -F
		done
	done
fi

progress "registration (loopback only): verbs ibv_reg_mr against U-Net/MM's first use; fresh buffers"
if [ "$setup" = loopback ] && [ $rxe_ok = 1 ] && [ -x $E/regcost ]; then
	$E/regcost -d rxe0 -n $FRESH_N --json >"$raw/regcost.txt" 2>&1
fi
if [ "$setup" = loopback ] && [ -x $E/firstuse ]; then
	$E/firstuse -n $FRESH_N --json >"$raw/firstuse.txt" 2>&1
fi
[ $rxe_ok = 1 ] && rdma link delete rxe0 2>/dev/null

if [ "$setup" = loopback ]; then
	progress "memcpy bandwidth in the guest: warm (2 MiB) and cold (64 MiB)"
	$E/memcpy_bw -r 2097152 -t 2 --json >"$raw/memcpy.txt" 2>&1
	$E/memcpy_bw -r 67108864 -t 2 --json >"$raw/memcpy-cold.txt" 2>&1

	progress "TLB: warm and cold round trip, miss cost (resident, faulted, swapped)"
	# Swap on zram so that a page can be swapped out and back in.
	if modprobe zram 2>/dev/null && [ -e /sys/block/zram0/disksize ]; then
		echo 256M >/sys/block/zram0/disksize &&
			mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
	fi
	$E/tlbcost -n 2000 --json >"$raw/tlbcost.txt" 2>&1
	swapoff /dev/zram0 2>/dev/null

	# scale_sweep TAG MODE: 1..64 processes streaming from 1 MiB each,
	# then one process streaming from 0.25x to 16x the TLB's reach (its
	# entries x 4 KiB, as loaded), each region at least twice over.
	scale_sweep() {
		for p in 1 2 4 8 16 32 64; do
			$E/scale -p $p --mode $2 -n $SCALE_N --json \
				>"$raw/scale-$1-$p.txt" 2>&1
		done
		reach_kib=$(build/bin/unetstat --json | python3 -c "import json,sys; print(json.load(sys.stdin)['nics'][0]['tlb_entries'] * 4)")
		for r in 0.25 0.5 1 2 4 16; do
			kib=$(python3 -c "print(max(128, int($r * $reach_kib) // 64 * 64))")
			n=$((kib / 64 * 2)); [ $n -lt $SCALE_N ] && n=$SCALE_N
			$E/scale -p 1 --mode $2 -n $n --region $((kib * 1024)) --json \
				>"$raw/scale-ws-$1-$r.txt" 2>&1
		done
	}
	progress "pinned memory and bandwidth: 1..64 processes; one process against the TLB's reach"
	scale_sweep mm mm
	scale_sweep base base
	# The pin-free translation (issue 14), if this module has it: the
	# scaling sweep, and the first use of fresh memory (issue 13).
	if [ -e /sys/module/unetmm/parameters/translate ]; then
		if rmmod unetmm &&
		   insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 translate=nopin; then
			scale_sweep mm_nopin mm
			$E/firstuse -n $FRESH_N --json >"$raw/firstuse-nopin.txt" 2>&1
		fi
		rmmod unetmm
		insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 || exit 1
	fi

	# One pair with the tools' default window (32 sends of 64 KiB in
	# flight, 64 receive buffers of 64 KiB) on a 256-entry pinning TLB:
	# 6 MiB of buffers against 1 MiB of reach.  A checked run of each
	# mode first, then the rounds, modes alternating.
	progress "one pair, the tools' default window, on a 256-entry TLB: U-Net/MM against base-level"
	rmmod unetmm &&
		insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 tlb_entries=256 || exit 1
	$SRV $B/unet_bw --forever --json -t 60 -p 18605 \
		>"$raw/tlb256-bwserver.txt" 2>&1 &
	tlb256_server=$!
	sleep 1
	for mode in mm base; do
		cmd "tlb256-unet_$mode-bw.check.txt" $B/unet_bw --mode $mode \
			-n $CHECK_N --check --json -p 18605 127.0.0.1
	done
	for r in $(seq $ROUNDS); do
		for mode in mm base; do
			cmd "tlb256-unet_$mode-bw.r$r.txt" $B/unet_bw --mode $mode \
				-n $BW_N --json -p 18605 127.0.0.1
		done
	done
	kill $tlb256_server 2>/dev/null
	wait $tlb256_server 2>/dev/null
	rmmod unetmm
	insmod "${UNET_KO:-kernel/unetmm.ko}" netdev=eth0 || exit 1

	# Unchanged MPI programs (issue 16): NetPIPE with 2 ranks in this
	# guest over each transport in turn (eval/mpi-netpipe.sh).
	progress "MPI: NetPIPE (2 ranks) over unet, Open MPI's TCP, libfabric's tcp and udp;ofi_rxd, UCX on Soft-RoCE ($MPI_ROUNDS rounds)"
	for r in $(seq $MPI_ROUNDS); do
		OUT="$raw/mpi/r$r" NP_REPEATS=$NP_REPEATS sh eval/mpi-netpipe.sh \
			>"$raw/mpi-netpipe.r$r.txt" 2>&1
	done
fi

if [ "$setup" = wire ]; then
	# One rank in each guest: guest 1 runs mpirun, guest 2 serves its
	# remote start; the barrier keeps the rounds from overlapping.
	progress "MPI across the wire: NetPIPE, one rank in each guest, the same transports ($MPI_ROUNDS rounds)"
	barrier
	for r in $(seq $MPI_ROUNDS); do
		if [ "$g" = 1 ]; then
			OUT="$raw/mpi/r$r" NP_REPEATS=$NP_REPEATS sh eval/mpi-netpipe.sh \
				--wire >"$raw/mpi-netpipe.r$r.txt" 2>&1
		else
			sh eval/mpi-netpipe.sh --wire >/dev/null 2>&1
		fi
		barrier
	done
fi

build/bin/unetstat --json >"$raw/$setup-unetstat-guest$g.txt" 2>&1
rmmod unetmm
now; echo "$now_up phase end" >>"$raw/timing.txt"
echo "[$setup] done"
