# Sourced by the guest suites (tests/guest/suite-*.sh), inside a guest.
# Every check prints one `PASS guest/...` or `FAIL guest/...` line.
# tests/run --kernel K sets UNET_KO (the module built for K) and UNET_SLOW
# (the factor for time limits: 4 on the debug kernel) in the command.
UNET_KO=${UNET_KO:-kernel/unetmm.ko}
UNET_SLOW=${UNET_SLOW:-1}
BIN=build/tests
suite_rc=0

pass() { echo "PASS guest/$1"; }
fail() { echo "FAIL guest/$1: $2"; suite_rc=1; }

load_module() {
	if insmod "$UNET_KO" "$@"; then
		pass "$SUITE-insmod"
	else
		fail "$SUITE-insmod" "insmod $UNET_KO $* failed"
		exit 1
	fi
}

# The module must unload cleanly once every endpoint is gone.
unload_module() {
	if rmmod unetmm; then
		pass "$SUITE-rmmod"
	else
		fail "$SUITE-rmmod" "rmmod refused after all processes exited"
	fi
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
