#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run licences: every source file of the tree names its licence in an
# SPDX-License-Identifier line, and the one README's "License" section gives
# its directory: GPL-2.0 for kernel/, tests/unit/, tests/harness/broken/ and
# eval/tlbsim.c (which compiles kernel/tlb/tlb.c),
# the dual licence for the ABI header, MIT for the rest; the texts are in
# LICENSES/.  Prints PASS/FAIL host/licence-*.
set -uo pipefail
cd "$(dirname "$0")/../.."

want_for() {
	case $1 in
	kernel/* | tests/unit/* | tests/harness/broken/* | eval/tlbsim.c) echo "GPL-2.0" ;;
	include/uapi/*) echo "(GPL-2.0 WITH Linux-syscall-note) OR MIT" ;;
	*) echo "MIT" ;;
	esac
}

# Where a file must carry the line: sources, scripts and manual pages.
# Elsewhere (build glue, data, text, the manual's one-line .so links, and
# the directories other engineers keep: harness/, eval/, scripts/) a line,
# if there is one, must still agree.
required() {
	case $1 in
	harness/* | eval/* | scripts/* | .ci/*) return 1 ;;
	man/man3/*.3) ! head -1 "$1" | grep -q '^\.so ' ;;
	*.c | *.h | *.py | *.sh | man/*) return 0 ;;
	tests/run | tests/fuzz/run-fuzz | tests/bench/run-*) return 0 ;;
	*) return 1 ;;
	esac
}

bad=0 n=0
while IFS= read -r f; do
	[ -f "$f" ] || continue
	got=$(head -3 "$f" | sed -n 's/.*SPDX-License-Identifier: *\(.*[^ */]\) *\(\*\/\)\{0,1\}$/\1/p' | head -1)
	want=$(want_for "$f")
	if [ -z "$got" ]; then
		required "$f" || continue
		echo "FAIL host/licence-$f: no SPDX-License-Identifier line"
		bad=$((bad + 1))
	elif [ "$got" != "$want" ]; then
		echo "FAIL host/licence-$f: '$got', README says '$want'"
		bad=$((bad + 1))
	fi
	n=$((n + 1))
done < <(git ls-files)
[ $bad -eq 0 ] && echo "PASS host/licence-spdx-agrees-with-readme ($n files)"
for t in MIT GPL-2.0 Linux-syscall-note; do
	if [ -s "LICENSES/$t" ]; then
		echo "PASS host/licence-text-$t"
	else
		echo "FAIL host/licence-text-$t: no LICENSES/$t"
	fi
done
