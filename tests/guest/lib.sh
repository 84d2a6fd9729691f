# SPDX-License-Identifier: MIT
# Sourced by the guest suites (tests/guest/suite-*.sh), inside a guest.
# Every check prints one `PASS guest/...` or `FAIL guest/...` line.
# tests/run --kernel K sets UNET_KO (the module built for K) and UNET_SLOW
# (the factor for time limits: 4 on the debug kernel) in the command.
# tests/run --translate M sets UNET_TRANSLATE=M: every load_module of the
# suite then loads the module with translate=M (the suites themselves are
# the same in both modes; a test asks /sys/module/unetmm/parameters).
UNET_KO=${UNET_KO:-kernel/unetmm.ko}
UNET_SLOW=${UNET_SLOW:-1}
UNET_TRANSLATE=${UNET_TRANSLATE:-}
BIN=build/tests
suite_rc=0

pass() { echo "PASS guest/$1"; }
fail() { echo "FAIL guest/$1: $2"; suite_rc=1; }

load_module() {
	if [ -n "$UNET_TRANSLATE" ]; then
		set -- "$@" translate="$UNET_TRANSLATE"
	fi
	if insmod "$UNET_KO" "$@"; then
		pass "$SUITE-insmod"
	else
		fail "$SUITE-insmod" "insmod $UNET_KO $* failed"
		exit 1
	fi
}

# The module must unload cleanly once every endpoint is gone.  The last
# frees of a context run from a work item just after its process exits,
# so an unload is given a moment (2 s) to find the module unused.
unload_module() {
	i=0
	until rmmod unetmm 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 20 ]; then
			fail "$SUITE-rmmod" "rmmod refused 2 s after all processes exited (refcnt $(cat /sys/module/unetmm/refcnt 2>/dev/null))"
			return
		fi
		sleep 0.1
	done
	pass "$SUITE-rmmod"
}

# Runs a test program with a time limit; a crash or a silent non-zero exit
# becomes a FAIL line of its own.
run_test() {
	name=$1
	shift
	out=$(timeout $((240 * UNET_SLOW)) "$@" 2>&1)
	rc=$?
	echo "$out"
	if [ $rc -ne 0 ]; then
		suite_rc=1
		if ! echo "$out" | grep -q '^FAIL '; then
			echo "FAIL guest/$name: exited with status $rc"
		fi
	fi
}

finish() {
	exit $suite_rc
}

# Waits (up to 60 s) until TCP port $1 listens here: a server under
# emulation is slow to start, and clients such as fi_pingpong's do not
# retry.
wait_listen() {
	wl_try=0
	while ! ss -ltn | grep -q ":$1 "; do
		wl_try=$((wl_try + 1))
		[ $wl_try -gt 300 ] && return 1
		sleep 0.2
	done
}
