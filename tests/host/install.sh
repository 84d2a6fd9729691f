#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run install: `make install` into a scratch DESTDIR, then what a
# user of the installed library does: build every example with its own
# build line and nothing but pkg-config, run it, read the manual; then
# `make uninstall`, which must leave nothing; then the module's DKMS source
# tree, built by dkms into a scratch tree.  Prints PASS/FAIL host/install-*.
set -uo pipefail
cd "$(dirname "$0")/../.."

pass() { echo "PASS host/install-$1"; }
fail() { echo "FAIL host/install-$1: $2"; }
check() { if eval "$2"; then pass "$1"; else fail "$1" "${3:-$2}"; fi; }

VERSION=$(make -s print-version)
KVER=${KVER:-${UNET_GUEST_KVER:-$(scripts/kver 2>/dev/null)}}
T=$(mktemp -d "${TMPDIR:-/tmp}/unet-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
D=$T/root

# A prefix and a library directory of their own, to see both honoured.
PREFIX=/opt/unet
LIBDIR=/opt/unet/lib64
if ! make -s install DESTDIR="$D" PREFIX=$PREFIX LIBDIR=$LIBDIR \
	>"$T/install.log" 2>&1; then
	fail make-install "$(tail -5 "$T/install.log")"
	exit 1
fi
pass make-install

want="$LIBDIR/libunet.so.$VERSION $LIBDIR/libunet.so.1 $LIBDIR/libunet.so
$LIBDIR/libunet.a $PREFIX/include/unet.h $PREFIX/include/unetmm.h
$LIBDIR/pkgconfig/unet.pc $PREFIX/bin/unet_lat $PREFIX/bin/unet_bw
$PREFIX/sbin/unetstat $PREFIX/share/man/man7/unetmm.7
$PREFIX/share/man/man1/unet_lat.1 $PREFIX/share/man/man1/unet_bw.1
$PREFIX/share/man/man8/unetstat.8 $PREFIX/share/man/man3/unet_send_prep.3
/usr/lib/udev/rules.d/60-unetmm.rules"
missing=""
for f in $want; do
	[ -e "$D$f" ] || missing="$missing $f"
done
check files-in-place '[ -z "$missing" ]' "missing:$missing"
check udev-rule-is-dist 'cmp -s dist/60-unetmm.rules "$D/usr/lib/udev/rules.d/60-unetmm.rules"'

# The shared library: soname, and every export versioned LIBUNET_1.x.
so=$D$LIBDIR/libunet.so.1
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
check soname '[ "$soname" = libunet.so.1 ]' "soname '$soname'"
objdump -T "$so" | awk '$2 == "g" && $4 == ".text" { print $6, $7 }' >"$T/exports"
unversioned=$(awk '$1 !~ /^LIBUNET_1\.[0-9]+$/ { print $2 }' "$T/exports" | tr '\n' ' ')
check exports-versioned '[ -s "$T/exports" ] && [ -z "$unversioned" ]' \
	"not LIBUNET_1.x: $unversioned"
foreign=$(awk '$2 !~ /^unet_/ { print $2 }' "$T/exports" | tr '\n' ' ')
check exports-only-unet '[ -z "$foreign" ]' "also exported: $foreign"
check static-archive 'nm "$D$LIBDIR/libunet.a" | grep -q " T unet_send_submit$"'

# pkg-config, as a user's build sees it under DESTDIR.
export PKG_CONFIG_PATH=$D$LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
flags=$(pkg-config --cflags --libs unet 2>&1)
check pkg-config "[ \"\$(pkg-config --modversion unet)\" = $VERSION ] && echo \"\$flags\" | grep -q -- '-I$D$PREFIX/include' && echo \"\$flags\" | grep -q -- '-L$D$LIBDIR'" \
	"version or flags wrong: $flags"

# The installed headers alone, strictly, as C and as C++.
printf '#include <unet.h>\nstatic struct unet_recv r;\nint main(void) { return (int)r.length; }\n' >"$T/hdr.c"
cflags=$(pkg-config --cflags unet)
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror $cflags -c "$T/hdr.c" \
	-o "$T/hdr.o" 2>"$T/hdr.log"; then
	pass header-c11-pedantic
else
	fail header-c11-pedantic "$(head -3 "$T/hdr.log")"
fi
# shellcheck disable=SC2086
if c++ -std=c++11 -Wall -Wextra -Werror -x c++ $cflags -c "$T/hdr.c" \
	-o "$T/hdrxx.o" 2>"$T/hdrxx.log"; then
	pass header-cplusplus
else
	fail header-cplusplus "$(head -3 "$T/hdrxx.log")"
fi

# Each example with the build line of its own header comment, run from
# a directory holding nothing else, then run: without the module it must
# get as far as opening /dev/unet (the library loads, versions resolve).
for src in examples/*.c; do
	name=$(basename "$src" .c)
	line=$(sed -n 's/^ \* Build: *//p' "$src")
	if [ -z "$line" ] || ! echo "$line" | grep -q 'pkg-config --cflags --libs unet'; then
		fail "example-$name-build-line" "no 'Build:' line using pkg-config in $src"
		continue
	fi
	mkdir -p "$T/ex/$name"
	cp "$src" "$T/ex/$name/"
	if (cd "$T/ex/$name" && eval "$line") >"$T/ex/$name.log" 2>&1 &&
		[ -x "$T/ex/$name/$name" ]; then
		pass "example-$name-builds"
	else
		fail "example-$name-builds" "'$line': $(tail -3 "$T/ex/$name.log")"
		continue
	fi
	lib=$(LD_LIBRARY_PATH=$D$LIBDIR ldd "$T/ex/$name/$name" | awk '/libunet/ { print $3 }')
	check "example-$name-links-installed" '[ "$lib" = "$D$LIBDIR/libunet.so.1" ]' \
		"libunet.so.1 resolves to '$lib'"
	if [ -e /dev/unet ]; then
		continue	# a real host: running it would use the NIC
	fi
	out=$(LD_LIBRARY_PATH=$D$LIBDIR "$T/ex/$name/$name" 2>&1)
	check "example-$name-runs-to-open" 'echo "$out" | grep -q "No such file or directory"' \
		"got: $out"
done

# The installed tools find the installed library through their rpath
# when LIBDIR is PREFIX/lib, and need LD_LIBRARY_PATH otherwise.
out=$(LD_LIBRARY_PATH=$D$LIBDIR "$D$PREFIX/bin/unet_lat" --help 2>&1)
check tool-runs 'echo "$out" | grep -q "unet_lat(1)"' "unet_lat --help: $out"

# The manual, from the installed tree: a name of a family found through
# its .so link to the family's page.
page=$(MANPATH=$D$PREFIX/share/man man -w unet_fq_submit 2>/dev/null)
check man-found '[ "$page" = "$D$PREFIX/share/man/man3/unet_post_free.3" ]' \
	"man -w unet_fq_submit: '$page'"
text=$(MANPATH=$D$PREFIX/share/man MANWIDTH=80 man -P cat unet_fq_submit 2>&1)
check man-so-link 'echo "$text" | grep -qE "unet_post_free, +unet_fq_reserve"' \
	"unet_fq_submit(3) did not render unet_post_free(3)"

if make -s uninstall DESTDIR="$D" PREFIX=$PREFIX LIBDIR=$LIBDIR \
	>"$T/uninstall.log" 2>&1; then
	left=$(find "$D" -type f -o -type l | sed "s|^$D||" | tr '\n' ' ')
	check uninstall-leaves-nothing '[ -z "$left" ]' "left behind: $left"
else
	fail uninstall "$(tail -5 "$T/uninstall.log")"
fi

# The defaults: PREFIX /usr/local, the library in PREFIX/lib, where the
# tools' rpath finds it without help.
if make -s install DESTDIR="$T/default" >"$T/install2.log" 2>&1; then
	lib=$(env -u LD_LIBRARY_PATH ldd "$T/default/usr/local/bin/unet_bw" | awk '/libunet/ { print $3 }')
	check default-prefix-rpath '[ "$lib" = "$T/default/usr/local/bin/../lib/libunet.so.1" ]' \
		"unet_bw finds libunet.so.1 at '$lib'"
	make -s uninstall DESTDIR="$T/default" >/dev/null 2>&1
	left=$(find "$T/default" -type f -o -type l | tr '\n' ' ')
	check default-uninstall '[ -z "$left" ]' "left behind: $left"
else
	fail default-prefix "$(tail -5 "$T/install2.log")"
fi

# DKMS: the source tree as make dkms-install lays it out, added and built
# by dkms itself in scratch trees (unsigned: no key is made on the host).
if [ -z "$KVER" ] || [ ! -d "/lib/modules/$KVER/build" ]; then
	fail dkms-build "no kernel headers for '$KVER'"
elif ! command -v dkms >/dev/null; then
	fail dkms-build "dkms is not installed (make deps)"
else
	mkdir -p "$T/dkms/src" "$T/dkms/tree"
	make -s dkms-src DESTDIR="$T/dkms/src" DKMSSRCDIR=/unetmm-$VERSION >/dev/null
	check dkms-conf-version "grep -q '^PACKAGE_VERSION=\"$VERSION\"' \"$T/dkms/src/unetmm-$VERSION/dkms.conf\""
	if (export sign_file=/nonexistent
	    dkms add -m unetmm -v "$VERSION" --sourcetree "$T/dkms/src" \
		--dkmstree "$T/dkms/tree" &&
	    dkms build -m unetmm -v "$VERSION" -k "$KVER" \
		--sourcetree "$T/dkms/src" --dkmstree "$T/dkms/tree") \
		>"$T/dkms.log" 2>&1; then
		ko=$(find "$T/dkms/tree" -path "*/$KVER/*" -name unetmm.ko)
		check dkms-build '[ -n "$ko" ] && modinfo -F vermagic "$ko" | grep -q "^$KVER "' \
			"no unetmm.ko for $KVER in the dkms tree"
	else
		fail dkms-build "$(grep -iE 'error|fail' "$T/dkms.log" | head -5)"
	fi
fi
