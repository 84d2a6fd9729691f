# SPDX-License-Identifier: MIT
# Sourced: the other end of tests/fabric/unet-rsh, and the handshake
# around it, for Open MPI jobs with one rank in each wire guest (the
# fabric suite and eval/mpi-netpipe.sh).  Guest 2 serves command lines
# on port 5222 until guest 1 says "done" on port 5223.  No
# authentication whatsoever: for throw-away guests on a private link.

# rsh_serve SECONDS: guest 2; returns when guest 1 is done, or after
# SECONDS.
rsh_serve() {
	busybox nc -ll -p 5222 -e /bin/sh &
	rsh_listener=$!
	timeout "$1" busybox nc -l -p 5223 >/dev/null
	kill $rsh_listener
}

# rsh_wait HOST: guest 1; waits (up to about a minute) until HOST serves.
rsh_wait() {
	rsh_try=0
	until busybox nc -w 2 "$1" 5222 </dev/null >/dev/null 2>&1; do
		rsh_try=$((rsh_try + 1))
		[ $rsh_try -gt 200 ] && return 1
		sleep 0.3
	done
}

# rsh_done HOST: guest 1; lets HOST's rsh_serve return.
rsh_done() {
	rsh_try=0
	until echo done | busybox nc -w 2 "$1" 5223 2>/dev/null; do
		rsh_try=$((rsh_try + 1))
		[ $rsh_try -gt 20 ] && return 1
		sleep 0.5
	done
}

# mpirun's arguments for ranks on HOST1 and HOST2 started through
# unet-rsh, Open MPI's own traffic on eth0.
rsh_mpi_args() {
	echo "--host $1,$2 --mca plm_rsh_agent $PWD/tests/fabric/unet-rsh --mca oob_tcp_if_include eth0 -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"
}
