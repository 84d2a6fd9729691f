# SPDX-License-Identifier: MIT
# Sourced by the wire benches: what kernel UDP delivered, counted by the
# receiving guest.  Guest 1 calls udp_count_start: it empties
# /tmp/out/counts, then, in the background, appends guest 1's UDP
# InDatagrams (/proc/net/snmp) to it each time guest 2 knocks on port
# 7000.  Guest 2 knocks (at $GUEST1) before and after each sockperf
# stream; the difference of each pair is what arrived.
udp_in() { awk '/^Udp:/ { if (h) print $2; h = 1 }' /proc/net/snmp; }
udp_count_start() {
	: >/tmp/out/counts
	(while :; do
		busybox nc -l -p 7000 </dev/null >/dev/null
		udp_in >>/tmp/out/counts
	done) &
}
knock() {	# from guest 2
	until echo x | busybox nc "$GUEST1" 7000 >/dev/null 2>&1; do
		sleep 0.1
	done
	sleep 0.3
}
