#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run man: every function of unet.h (exported or inline) has a page in
# man/man3, its own or a .so link to its family's that names it; the
# version script exports exactly the header's non-inline functions; each
# tool has its page, which documents every option its --help lists, and
# --help points at it; every page renders without a warning (man
# --warnings).  Prints PASS/FAIL host/man-*.
set -uo pipefail
cd "$(dirname "$0")/../.."

pass() { echo "PASS host/man-$1"; }
fail() { echo "FAIL host/man-$1: $2"; }

render() {
	(cd man && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null)
}

# The page a name's file leads to, following one .so link.
target() {
	local f=man/man3/$1.3 so
	[ -f "$f" ] || return 1
	so=$(sed -n 's/^\.so //p' "$f")
	if [ -n "$so" ]; then
		echo "man/$so"
	else
		echo "$f"
	fi
}

so=build/lib/libunet.so.1
if [ ! -e "$so" ]; then
	fail setup "no $so: run make first"
	exit 1
fi
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' |
	sed 's/@.*//' | sort -u)
mapped=$(sed -n 's/^\t*\(unet_[a-z_]*\);$/\1/p' lib/libunet.map | sort -u)
# Prototypes and inline definitions in the header, by name.
declared=$(sed -n 's/.*[ *]\(unet_[a-z_]*\)(.*/\1/p' lib/unet.h | sort -u)
inline=$(grep -A1 '^static inline' lib/unet.h |
	sed -n 's/.*[ *]\(unet_[a-z_]*\)(.*/\1/p' | sort -u)

if [ "$exported" = "$mapped" ]; then
	pass exports-match-version-script
else
	fail exports-match-version-script "$(diff <(echo "$exported") <(echo "$mapped") | grep '^[<>]' | tr '\n' ' ')"
fi
noninline=$(comm -23 <(echo "$declared") <(echo "$inline"))
if [ "$noninline" = "$mapped" ]; then
	pass header-matches-version-script
else
	fail header-matches-version-script "declared but not exported, or the reverse: $(diff <(echo "$noninline") <(echo "$mapped") | grep '^[<>]' | tr '\n' ' ')"
fi

for name in $declared; do
	page=$(target "$name")
	if [ -z "$page" ]; then
		fail "page-$name" "no man/man3/$name.3"
	elif [ ! -f "$page" ]; then
		fail "page-$name" "man/man3/$name.3 points at a missing $page"
	elif ! sed -n '/^\.SH NAME/,/^\.SH/p' "$page" | grep -qw "$name"; then
		fail "page-$name" "$page does not name $name under NAME"
	else
		pass "page-$name"
	fi
done

# A page in man3 that names no function of the header is stale.
for f in man/man3/*.3; do
	name=$(basename "$f" .3)
	echo "$declared" | grep -qx "$name" || fail "stale-$name" "$f documents no function of unet.h"
done

for tool in unet_lat:1 unet_bw:1 unetstat:8; do
	name=${tool%:*} sec=${tool#*:}
	page=man/man$sec/$name.$sec
	if [ ! -f "$page" ]; then
		fail "tool-$name" "no $page"
		continue
	fi
	help=$(build/bin/$name --help 2>&1)
	if echo "$help" | tail -1 | grep -q "$name($sec)"; then
		pass "tool-$name-help-points-at-page"
	else
		fail "tool-$name-help-points-at-page" "--help's last line: $(echo "$help" | tail -1)"
	fi
	undocumented=""
	for opt in $(echo "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "$(echo "$opt" | sed 's/-/\\-/g')" "$page" ||
			undocumented="$undocumented $opt"
	done
	if [ -z "$undocumented" ]; then
		pass "tool-$name-options-documented"
	else
		fail "tool-$name-options-documented" "not in $page:$undocumented"
	fi
done

for f in man/man*/*.[0-9]; do
	rel=${f#man/}
	out=$(render "$rel")
	if [ -n "$out" ]; then
		fail "render-$(basename "$f")" "$(echo "$out" | head -3 | tr '\n' ' ')"
	elif [ -z "$(cd man && MANWIDTH=80 man -l "$rel" 2>/dev/null | head -1)" ]; then
		fail "render-$(basename "$f")" "renders to nothing"
	else
		pass "render-$(basename "$f")"
	fi
done
