#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run report: eval/report.py and eval/check-report on a made-up demo
# run (tests/host/report_fixture.py): the figures' arithmetic (median and
# range of rounds, UDP's received fraction), the results.json keys issue 13
# names, and that a false claim or a failed checked run is caught.
# Prints PASS/FAIL host/... lines.
set -uo pipefail
cd "$(dirname "$0")/../.."

pass() { echo "PASS host/$1"; }
fail() { echo "FAIL host/$1: $2"; }
T=$(mktemp -d "${TMPDIR:-/tmp}/unet-report.XXXXXX")
trap 'rm -rf "$T"' EXIT

fresh() {
	rm -rf "$T/raw" "$T/out"
	python3 tests/host/report_fixture.py "$T/raw" ||
		fail report-fixture "tests/host/report_fixture.py failed"
}
report() { python3 eval/report.py "$T/raw/loop" "$T/raw/wire1" "$T/raw/wire2" "$T/out" >"$T/report.log" 2>&1; }
checker() { eval/check-report "$T/raw/loop" "$T/raw/wire1" "$T/raw/wire2" "$T/out" >"$T/check.log" 2>&1; }

# caught NAME CHECK FILE SED: the fixture with FILE edited by SED must
# make eval/check-report fail, on CHECK.
caught() {
	fresh
	sed -i "$4" "$3"
	report
	if ! checker && grep -q "FAIL report/$2" "$T/check.log"; then
		pass "$1"
	else
		fail "$1" "$(grep FAIL "$T/check.log" | head -2)"
	fi
}

# json NAME EXPR...: Python expressions over results.json (r) must hold.
json() {
	local name=$1
	shift
	if why=$(python3 - "$T/out/results.json" "$@" <<'EOF' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
for expr in sys.argv[2:]:
    if not eval(expr, {"r": r}):
        sys.exit(f"not true: {expr}")
EOF
	); then
		pass "$name"
	else
		fail "$name" "$why"
	fi
}

fresh
if report; then pass report-runs; else fail report-runs "$(tail -5 "$T/report.log")"; fi
json report-tables \
	"all(k in r for k in ('loopback', 'wire', 'loopback_blocking', 'wire_blocking'))" \
	"all(set(r[k]) >= {'rtt_us', 'rtt_p99_us', 'bw_MBps', 'rtt_us_range', 'rtt_p99_us_range', 'bw_MBps_range'} for k in ('loopback', 'wire', 'loopback_blocking', 'wire_blocking'))"
json report-median-of-rounds \
	"r['loopback']['rtt_us']['unetmm']['8'] == 11.0" \
	"r['loopback']['rtt_us_range']['unetmm']['8'] == [10.0, 12.0]" \
	"r['loopback_blocking']['rtt_us']['unetmm']['8'] == 22.0" \
	"r['wire']['rtt_p99_us']['unet_base']['1024'] == 22.0"
json report-p999-and-samples \
	"r['loopback']['rtt_p999_us']['udp']['8'] == 200.0" \
	"r['loopback']['rtt_samples']['udp']['8'] == 12000" \
	"r['loopback']['rtt_samples']['unetmm']['8'] == 10000"
json report-rxe-round-trip \
	"r['loopback']['rtt_us']['rxe']['8'] == 30.0" \
	"r['loopback']['rtt_p99_us']['rxe']['8'] == 60.0"
json report-udp-received-fraction \
	"abs(r['loopback']['bw_MBps']['udp']['65536'] - 100.0 * 1.048576 / 2) < 1e-9" \
	"r['msg_rate']['loopback']['udp']['8'] == 20000"
json report-msg-rate \
	"set(r['msg_rate']) == {'loopback', 'wire'}" \
	"all(set(r['msg_rate'][s][p]) == {'8', '64'} for s in r['msg_rate'] for p in ('unetmm', 'unet_base', 'udp', 'rxe'))" \
	"r['msg_rate']['wire']['rxe']['64'] == 100000.0"
json report-checked-runs \
	"r['checked_runs'] == 2 * 2 * 2 * 8 + 2" "r['checked_runs_failed'] == []"
json report-memcpy "r['memcpy_MBps'] == 500.0" "r['memcpy_cold_MBps'] == 200.0"
json report-host-steal "r['env']['host_steal_pct']['wire'] == 10.0" \
	"r['env']['host_steal_pct']['loopback'] is None"
json report-wire-ping "r['wire_ping_us']['samples'] == 100" \
	"abs(r['wire_ping_us']['median'] - 1050) < 1e-6" "abs(r['wire_ping_us']['p99'] - 1099) < 1e-6"
json report-registration \
	"set(r['registration']) == {'sizes', 'verbs_reg_us', 'verbs_dereg_us', 'unetmm_first_use_us', 'unetmm_nopin_first_use_us'}" \
	"r['registration']['sizes'][2] == 1048576" \
	"r['registration']['unetmm_nopin_first_use_us'][2] == 300" \
	"set(r['fresh_buffer_bw_MBps']) == {'unetmm', 'unetmm_nopin', 'rxe_register', 'rxe_bounce'}" \
	"r['fresh_buffer_bw_MBps']['unetmm_nopin'] == 120.0"
json report-scaling \
	"set(r['scaling']['bw_MBps']) == {'unetmm', 'unetmm_nopin', 'unet_base'}" \
	"set(r['scaling']['pinned_kib']) == {'unetmm', 'unetmm_nopin', 'unet_base'}" \
	"r['scaling']['pinned_kib']['unetmm_nopin'][-1] == 0" \
	"r['scaling']['working_set']['reach_ratio'] == [0.25, 0.5, 1, 2, 4, 16]" \
	"r['scaling']['working_set']['bw_MBps']['unetmm_nopin'][-1] == 150.0" \
	"r['tlb']['thp_misses_per_mib'] == 0.5" "r['tlb']['misses_per_64k_cold'] == 1.0"
json report-single-pair-256 \
	"r['tlb']['single_pair_256']['bw_MBps'] == {'unetmm': 80.0, 'unet_base': 100.0}" \
	"r['tlb']['single_pair_256']['bw_MBps_range']['unetmm'] == [70.0, 90.0]" \
	"[t['verdict'] for t in r['targets'] if t['target'].startswith('one pair')] == ['met']"
json report-mpi \
	"set(r['mpi']) == {'loopback', 'wire'}" \
	"r['mpi']['loopback']['latency_us']['unet'] == 11.0" \
	"r['mpi']['loopback']['latency_us_range']['unet'] == [10.0, 12.0]" \
	"r['mpi']['loopback']['bw_MBps']['1048576']['tcp'] == 50.0" \
	"r['mpi']['loopback']['latency_us']['rxe'] is None" \
	"[t['verdict'] for t in r['targets'] if t['target'].startswith('MPI (NetPIPE) 8 B latency in one')] == ['met']" \
	"r['mpi']['wire']['bw_MBps']['1048576']['unet'] == 30.0" \
	"[t['verdict'] for t in r['targets'] if 'across the wire, unet' in t['target']] == ['missed', 'met']"
if grep -q 'MPI over UCX on Soft-RoCE.*no rxe0' "$T/out/report.md"; then
	pass report-mpi-failure-said
else
	fail report-mpi-failure-said "report.md does not say why the rxe MPI run has no figure"
fi
json report-targets \
	"len(r['targets']) == 19" \
	"[t['value'] for t in r['targets'] if t['target'].startswith('64 processes')] == ['0.90']" \
	"all(t['verdict'] in ('met', 'missed') for t in r['targets'])" \
	"[t['verdict'] for t in r['targets'] if t['target'].startswith('first use')] == ['met']" \
	"[t['value'] for t in r['targets'] if t['target'].startswith('first use')] == ['0.27']"
json report-time-budget \
	"r['demo_seconds']['wire']['total'] == 100.0" \
	"r['demo_seconds']['loopback']['phases'] == [['U-Net checked runs', 30.0], ['kernel UDP', 70.0]]" \
	"r['demo_seconds']['loopback']['commands_by_peer'] == {'U-Net': 10.5, 'UDP': 7.0, 'barriers': 1.0}"
json report-udp-variant "r['udp_busy_variant']['loopback']['chosen'] == 'spin'"
if grep -q '^| loopback 64 KiB BW, U-Net/MM ÷ warm memcpy (2 MiB) | 0.60 | ≥ 0.7 | missed |$' "$T/out/report.md" &&
   grep -q '^| loopback 8 B RTT, U-Net/MM ÷ UDP | 0.28 | ≤ 0.5 | met |$' "$T/out/report.md"; then
	pass report-md-verdicts
else
	fail report-md-verdicts "report.md lacks the missed memcpy target or the met UDP one: $(grep -E 'memcpy \(2|RTT, U-Net/MM ÷ UDP' "$T/out/report.md" | head -2)"
fi
if checker; then pass check-report-clean; else fail check-report-clean "$(grep FAIL "$T/check.log" | head -3)"; fi

# The link's tail quoted from a ping that did not run as report.md says.
caught check-report-catches-ping-interval wire-ping-cmd "$T/raw/wire2/wire-ping.txt" 's/-i 0.002/-i 0.2/'

# A wire MPI run whose Open MPI TCP stayed on lo: the checker must object.
caught check-report-catches-mpi-tcp-if wire-mpi-commands "$T/raw/wire1/mpi-netpipe.r2.txt" 's/btl_tcp_if_include eth0/btl_tcp_if_include lo/'

# The unet run without FI_PROVIDER=^ofi_rxd: Open MPI's provider_include
# matches by prefix, so it would take libfabric's RXD layered over our
# DGRAM endpoints ("unet;ofi_rxd"), not the unet RDM provider.
caught check-report-catches-mpi-rxd-layered loopback-mpi-commands "$T/raw/loop/mpi-netpipe.r1.txt" 's/ -x FI_PROVIDER=^ofi_rxd//'

# A wire MPI round missing from the raw files: the report's "median of 3
# rounds" is then not true of them.
fresh
rm "$T/raw/wire1/mpi-netpipe.r3.txt"
report
if ! checker && grep -q 'FAIL report/wire-mpi-rounds-stated' "$T/check.log"; then
	pass check-report-catches-mpi-rounds
else
	fail check-report-catches-mpi-rounds "$(grep FAIL "$T/check.log" | head -2)"
fi

# A blocking sockperf run that busy-polled: the checker must object.
fresh
sed -i 's/--full-rtt $/--full-rtt --nonblocked/' "$T/raw/loop/loopback-udp-rtt-8.block.r2.txt"
report
if checker; then
	fail check-report-catches-busy-block "a blocking run with --nonblocked passed"
elif grep -q 'FAIL report/loopback-udp-block-flags' "$T/check.log"; then
	pass check-report-catches-busy-block
else
	fail check-report-catches-busy-block "failed, but not on the flags: $(grep FAIL "$T/check.log" | head -2)"
fi

# A busy-table throughput run sent to the blocking server.
caught check-report-catches-udp-server wire-udp-throughput-server "$T/raw/wire2/wire-udp-bw-65536.busy.r3.txt" 's/-p 11111 -m 65536/-p 11113 -m 65536/'

# A sockperf client without the library report.md says every one had.
caught check-report-catches-settle-missing wire-udp-settle-preloaded "$T/raw/wire2/wire-udp-rate-64.busy.r2.txt" 's|env LD_PRELOAD=[^ ]* sockperf|sockperf|'

# A busy U-Net run that slept.
caught check-report-catches-unet-discipline wire-unet-busy-discipline "$T/raw/wire2/wire-unet_mm-rtt-8.busy.r1.txt" 's/"block": false/"block": true/'

# A busy U-Net run that spun in user space only (--busy-poll 0), unlike
# sockperf's --lls 50 and unlike what report.md says.
caught check-report-catches-unet-no-busy-poll wire-unet-busy-discipline "$T/raw/wire2/wire-unet_mm-rtt-8.busy.r2.txt" 's/"busy_poll_us": 50/"busy_poll_us": 0/'

# A checked run with a mismatch fails the report, and its figure is left out.
fresh
sed -i 's/"mismatches": 0}$/"mismatches": 1}/; s/"errors": 0, "mismatches": 0, "server"/"errors": 0, "mismatches": 1, "server"/' \
	"$T/raw/loop/loopback-unet_mm-rtt-1024.busy.check.txt"
if report; then
	fail report-fails-on-mismatch "report.py exited 0"
else
	json report-fails-on-mismatch \
		"r['checked_runs_failed'] == ['loopback-unet_mm-rtt-1024.busy.check.txt']" \
		"r['loopback']['rtt_us']['unetmm']['1024'] is None" \
		"r['loopback']['rtt_us']['unetmm']['8'] == 11.0"
fi
