#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run tools: the tools' JSON writer on NaN and infinities (plain and
# under ASan/UBSan), its output read back by a second, strict parser; the
# tools' command lines (--help, usage errors, a missing module) under the
# sanitizers.  What needs the module runs in the examples guest suite.
# Prints PASS/FAIL host/... lines.
set -uo pipefail
cd "$(dirname "$0")/../.."

pass() { echo "PASS host/$1"; }
fail() { echo "FAIL host/$1: $2"; }
T=$(mktemp -d "${TMPDIR:-/tmp}/unet-tools.XXXXXX")
trap 'rm -rf "$T"' EXIT

for build in tests/host san/tests; do
	bin=build/$build/json_out_test
	tag=$([ "$build" = san/tests ] && echo json-san || echo json)
	if [ ! -x "$bin" ]; then
		fail "$tag" "no $bin: run make tests"
		continue
	fi
	"$bin" >"$T/out" 2>"$T/err"
	rc=$?
	grep -E '^(PASS|FAIL) ' "$T/out" | sed "s|host/json-|host/$tag-|"
	[ $rc -eq 0 ] || fail "$tag-exit" "exited $rc: $(head -3 "$T/err")"
	[ -s "$T/err" ] && fail "$tag-stderr" "$(head -3 "$T/err")"
	grep -vE '^(PASS|FAIL) ' "$T/out" >"$T/json"
	if why=$(python3 tests/lib/json_check.py "$T/json" nan:null inf:null \
		rate:number big:integer 2>&1); then
		pass "$tag-strict-parser"
	else
		fail "$tag-strict-parser" "$why"
	fi
done

# Usage: --help is a summary pointing at the page; a bad option exits 2
# and says where to look; without /dev/unet the tools say why.
for tool in unet_lat:1 unet_bw:1 unetstat:8; do
	name=${tool%:*} sec=${tool#*:}
	for bin in build/bin/$name build/san/bin/$name; do
		tag=$name$([ "$bin" = "build/san/bin/$name" ] && echo -san)
		out=$("$bin" --help 2>"$T/err")
		rc=$?
		if [ $rc -eq 0 ] && [ ! -s "$T/err" ] &&
			[ "$(echo "$out" | wc -l)" -le 30 ] &&
			echo "$out" | grep -q "See $name($sec)"; then
			pass "$tag-help"
		else
			fail "$tag-help" "rc $rc, $(echo "$out" | wc -l) lines: $(head -2 "$T/err")"
		fi
		"$bin" --no-such-option >/dev/null 2>"$T/err"
		rc=$?
		if [ $rc -eq 2 ] && grep -q "$name($sec)" "$T/err" &&
			! grep -q 'runtime error\|AddressSanitizer' "$T/err"; then
			pass "$tag-usage-error"
		else
			fail "$tag-usage-error" "rc $rc: $(head -2 "$T/err")"
		fi
		if [ -e /dev/unet ]; then
			continue
		fi
		"$bin" >/dev/null 2>"$T/err" </dev/null
		rc=$?
		if [ $rc -eq 1 ] && grep -q 'is unetmm.ko loaded' "$T/err" &&
			! grep -q 'runtime error\|AddressSanitizer' "$T/err"; then
			pass "$tag-no-module"
		else
			fail "$tag-no-module" "rc $rc: $(head -2 "$T/err")"
		fi
	done
done
