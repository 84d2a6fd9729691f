# SPDX-License-Identifier: MIT
# U-Net/MM for Linux.  `make` builds the module, the library, the tools and
# the examples; `make test` runs every test (host, then guests); `make
# install` installs the library, headers, pkg-config file, tools, manual
# pages and udev rule; `make dkms-install` the module; `make demo` runs the
# evaluation.  See README.md.

VERSION   := 1.2.0
SOVERSION := 1

KVER    ?= $(shell scripts/kver 2>/dev/null)
KDIR    ?= /lib/modules/$(KVER)/build
BUILD   := build
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
INC     := -Iinclude/uapi -Ilib
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer

# Where `make install` puts things; DESTDIR is prepended to all of them.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
SBINDIR      ?= $(PREFIX)/sbin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# udev and DKMS look in these places only, whatever the prefix.
UDEVRULESDIR ?= /usr/lib/udev/rules.d
DKMSSRCDIR   ?= /usr/src/unetmm-$(VERSION)

# ---- the library ----

LIB_OBJ := $(BUILD)/lib/libunet.o
LIB_A   := $(BUILD)/lib/libunet.a
LIB_SO  := $(BUILD)/lib/libunet.so.$(VERSION)
LIB_HDR := lib/unet.h include/uapi/unetmm.h
# Programs of this tree find build/lib when run from build/, and
# PREFIX/lib once installed; the library is found by soname either way.
LINK_UNET := -L$(BUILD)/lib -lunet -Wl,-rpath,'$$ORIGIN/../lib'

# ---- the libfabric provider (prov/unet/, docs/FABRIC.md) ----
# An external provider of Debian's libfabric: libunet-fi.so exporting
# fi_prov_ini, found through FI_PROVIDER_PATH=build/lib in the tree and
# installed into libfabric's own provider directory.  libunet is linked in
# statically (its archive is position-independent), so the provider needs
# no libunet.so at run time.
FI_SRC   := $(wildcard prov/unet/*.c)
FI_HDR   := $(wildcard prov/unet/*.h)
FI_SO    := $(BUILD)/lib/libunet-fi.so
FI_SAN   := $(BUILD)/san/lib/libunet-fi.so
# Where this system's libfabric looks (its own pkg-config, not one aimed
# at a DESTDIR or sysroot by the caller's environment).
FI_PROVDIR ?= $(shell env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_PATH \
	pkg-config --variable=libdir libfabric 2>/dev/null || \
	echo /usr/lib/x86_64-linux-gnu)/libfabric

# ---- the tools: unetstat links only what it uses ----

PERF_OBJS := $(addprefix $(BUILD)/tools/,perf_main.o perf_options.o \
	     perf_rendezvous.o perf_endpoint.o perf_io.o perf_watchdog.o \
	     perf_util.o)
JSON_OBJ  := $(BUILD)/tools/json_out.o
TOOL_HDRS := $(wildcard tools/*.h)
TOOL_BINS := $(BUILD)/bin/unet_lat $(BUILD)/bin/unet_bw $(BUILD)/bin/unetstat

# ---- examples, tests, evaluation ----

EXAMPLES      := $(patsubst examples/%.c,%,$(wildcard examples/*.c))
EXAMPLE_BINS  := $(addprefix $(BUILD)/examples/,$(EXAMPLES))
# tests/fuzz/*_common.c are the fuzzers' shared helpers (fuzz_common for
# all, faults_common for fuzz_faults_*), each other file one fuzzer.
FUZZ_COMMON   := $(wildcard tests/fuzz/*_common.c)
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(filter-out $(FUZZ_COMMON),$(wildcard tests/fuzz/*.c)))
FUZZ_LIB      := $(BUILD)/fuzz/fuzz_common.o
# eval/sockperf_settle.c is a library preloaded into sockperf, not a program.
EVAL_SHIMS    := $(BUILD)/eval/sockperf_settle.so
EVAL_BINS     := $(patsubst eval/%.c,$(BUILD)/eval/%,$(filter-out eval/sockperf_settle.c,$(wildcard eval/*.c)))
GUEST_TESTS   := $(patsubst tests/guest/%.c,$(BUILD)/tests/%,$(wildcard tests/guest/*.c))
# The tests' helper library, compiled once and linked into every test.
TEST_LIB      := $(BUILD)/tests/lib/libunettest.a
TEST_LIB_OBJS := $(patsubst tests/lib/%.c,$(BUILD)/tests/lib/%.o,$(wildcard tests/lib/*.c))
TEST_INC      := -Itests/lib -Itests/guest
HOST_TESTS    := $(BUILD)/tests/host/json_out_test
SAN_BINS      := $(addprefix $(BUILD)/san/,bin/unet_lat bin/unet_bw \
		 bin/unetstat tests/json_out_test) \
		 $(addprefix $(BUILD)/san/examples/,$(EXAMPLES))
UNIT_SRC  := tests/unit/test_main.c tests/unit/test_tlb.c \
	     tests/unit/test_wire.c tests/unit/test_ring.c \
	     kernel/tlb/tlb.c kernel/nic/wire.c

all: module lib fabric tools examples tests eval fuzzers

# The module builds against the guest kernel's headers: Kbuild, no -Werror
# games here; kernel/Kbuild sets the module's own flags.
module:
	@test -n "$(KVER)" || { scripts/kver; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel modules

lib: $(LIB_A) $(LIB_SO)

# One position-independent object for both: the archive then links into
# shared objects of its users' too.
$(LIB_OBJ): lib/libunet.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden $(INC) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ) lib/libunet.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libunet.so.$(SOVERSION) \
		-Wl,--version-script=lib/libunet.map -Wl,-z,defs \
		-Wl,-z,relro -Wl,-z,now $(LIB_OBJ) -o $@
	ln -sf libunet.so.$(VERSION) $(BUILD)/lib/libunet.so.$(SOVERSION)
	ln -sf libunet.so.$(SOVERSION) $(BUILD)/lib/libunet.so

fabric: $(FI_SO) $(BUILD)/tests/fi_check $(BUILD)/tests/mpi_check

$(FI_SO): $(FI_SRC) $(FI_HDR) $(LIB_A) $(LIB_HDR) prov/unet/libunet-fi.map
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden $(INC) -Iprov/unet \
		-shared -Wl,--version-script=prov/unet/libunet-fi.map \
		-Wl,-z,defs -Wl,-z,relro -Wl,-z,now $(FI_SRC) $(LIB_A) \
		-lfabric -o $@

# The provider under ASan/UBSan, for the host's checks (tests/run fabric).
$(FI_SAN): $(FI_SRC) $(FI_HDR) $(LIB_HDR) lib/libunet.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -fPIC -fvisibility=hidden $(INC) -Iprov/unet \
		-shared $(FI_SRC) lib/libunet.c -lfabric -o $@

# fi_check under ASan/UBSan too, to load the sanitized provider in a guest.
$(BUILD)/san/tests/fi_check: tests/fabric/fi_check.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -pthread $< -lfabric -o $@

# The provider's own test program: reliability, ordering, matching.
$(BUILD)/tests/fi_check: tests/fabric/fi_check.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -pthread $< -lfabric -o $@

# MPI correctness, run by the guest suite over pml cm / mtl ofi / unet.
$(BUILD)/tests/mpi_check: tests/fabric/mpi_check.c
	@mkdir -p $(@D)
	mpicc $(WARN) $(CFLAGS) $< -o $@

tools: $(TOOL_BINS)

$(BUILD)/tools/%.o: tools/%.c $(TOOL_HDRS) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -Itools -c $< -o $@

$(BUILD)/bin/unet_lat $(BUILD)/bin/unet_bw: $(BUILD)/bin/%: $(BUILD)/tools/%.o $(PERF_OBJS) $(JSON_OBJ) $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.o,$^) $(LINK_UNET) -ljansson -lm -o $@

$(BUILD)/bin/unetstat: $(BUILD)/tools/unetstat.o $(JSON_OBJ) $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.o,$^) $(LINK_UNET) -ljansson -lm -o $@

examples: $(EXAMPLE_BINS)

# As a user would build them (see each one's first comment), but against
# this tree.
$(BUILD)/examples/%: examples/%.c $(LIB_SO) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $< $(LINK_UNET) -o $@

eval: $(EVAL_BINS) $(EVAL_SHIMS)

$(BUILD)/eval/%.so: eval/%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -shared -fPIC $< -o $@

$(BUILD)/eval/%: eval/%.c eval/eval_util.h eval/eval_pair.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $< $(LIB_A) -o $@

# The replacement policies through the module's own TLB code, on the host.
$(BUILD)/eval/tlbsim: eval/tlbsim.c kernel/tlb/tlb.c kernel/tlb/tlb.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Itests/unit/include $< kernel/tlb/tlb.c -o $@

# Verbs on Soft-RoCE, for the registration figures (libibverbs-dev).
$(BUILD)/eval/regcost: eval/regcost.c eval/eval_util.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $< -libverbs -o $@

tests: $(GUEST_TESTS) $(BUILD)/tests/unit $(BUILD)/tests/unit-san \
	$(HOST_TESTS) san

$(BUILD)/tests/lib/%.o: tests/lib/%.c $(wildcard tests/lib/*.h) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $(TEST_INC) -c $< -o $@

$(TEST_LIB): $(TEST_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# Tests link libunet statically: they are not installed, and a test must
# not pick up some other libunet.so.1 from the system.
$(BUILD)/tests/%: tests/guest/%.c $(wildcard tests/guest/*.h tests/lib/*.h) $(TEST_LIB) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $(TEST_INC) $< $(TEST_LIB) $(LIB_A) -lpthread -o $@

fuzzers: $(FUZZ_BINS)

$(BUILD)/fuzz/%.o: tests/fuzz/%.c $(wildcard tests/fuzz/*.h tests/lib/*.h) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $(TEST_INC) -Itests/fuzz -c $< -o $@

$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(FUZZ_LIB) $(TEST_LIB) $(LIB_A)
	$(CC) $(CFLAGS) $^ -lpthread -o $@

$(filter $(BUILD)/fuzz/fuzz_faults_%,$(FUZZ_BINS)): $(BUILD)/fuzz/faults_common.o

# Host unit tests compile the module's own pure-logic sources.
$(BUILD)/tests/unit: $(UNIT_SRC) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Itests/unit/include $(INC) -Itests/unit $(UNIT_SRC) -o $@

$(BUILD)/tests/unit-san: $(UNIT_SRC) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -Itests/unit/include $(INC) -Itests/unit $(UNIT_SRC) -o $@

# Host tests of the user side (tests/run install, man, tools).
$(BUILD)/tests/host/json_out_test: tests/host/json_out_test.c tools/json_out.c tools/json_out.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Itools $< tools/json_out.c -ljansson -lm -o $@

# The user side again under ASan/UBSan: it must build without a warning,
# and what runs on the host runs clean (tests/run tools).
san: $(SAN_BINS) $(FI_SAN) $(BUILD)/san/tests/fi_check

$(BUILD)/san/lib/libunet.so: lib/libunet.c lib/libunet.map $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -fPIC -fvisibility=hidden $(INC) -shared \
		-Wl,-soname,libunet.so.$(SOVERSION) \
		-Wl,--version-script=lib/libunet.map $< -o $@.$(SOVERSION)
	ln -sf libunet.so.$(SOVERSION) $@

$(BUILD)/san/bin/%: tools/%.c $(wildcard tools/*.c) $(TOOL_HDRS) $(BUILD)/san/lib/libunet.so
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) $(INC) -Itools $< \
		$(if $(filter unetstat,$*),tools/json_out.c,$(patsubst %,tools/%.c,json_out perf_main perf_options perf_rendezvous perf_endpoint perf_io perf_watchdog perf_util)) \
		-L$(BUILD)/san/lib -lunet -Wl,-rpath,'$$ORIGIN/../lib' -ljansson -lm -o $@

$(BUILD)/san/examples/%: examples/%.c $(BUILD)/san/lib/libunet.so
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) $(INC) $< -L$(BUILD)/san/lib -lunet \
		-Wl,-rpath,'$$ORIGIN/../lib' -o $@

$(BUILD)/san/tests/json_out_test: tests/host/json_out_test.c tools/json_out.c tools/json_out.h
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -Itools $< tools/json_out.c -ljansson -lm -o $@

# ---- installing ----

$(BUILD)/unet.pc: lib/unet.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    $< >$@

MAN_PAGES := $(wildcard man/man1/*.1 man/man3/*.3 man/man7/*.7 man/man8/*.8)

install: lib fabric tools $(BUILD)/unet.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(SBINDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(addprefix $(DESTDIR)$(MANDIR)/,man1 man3 man7 man8)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libunet.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libunet.so.$(SOVERSION)
	ln -sf libunet.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libunet.so
	install -m 644 $(LIB_HDR) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(BUILD)/unet.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(BUILD)/bin/unet_lat $(BUILD)/bin/unet_bw $(DESTDIR)$(BINDIR)/
	install -m 755 $(BUILD)/bin/unetstat $(DESTDIR)$(SBINDIR)/
	for p in $(MAN_PAGES); do \
		install -m 644 $$p $(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$p))/ || exit 1; \
	done
	install -m 644 dist/60-unetmm.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -d $(DESTDIR)$(FI_PROVDIR)
	install -m 755 $(FI_SO) $(DESTDIR)$(FI_PROVDIR)/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libunet.a $(DESTDIR)$(LIBDIR)/libunet.so \
		$(DESTDIR)$(LIBDIR)/libunet.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libunet.so.$(VERSION) \
		$(DESTDIR)$(INCLUDEDIR)/unet.h $(DESTDIR)$(INCLUDEDIR)/unetmm.h \
		$(DESTDIR)$(PKGCONFIGDIR)/unet.pc \
		$(DESTDIR)$(BINDIR)/unet_lat $(DESTDIR)$(BINDIR)/unet_bw \
		$(DESTDIR)$(SBINDIR)/unetstat \
		$(DESTDIR)$(UDEVRULESDIR)/60-unetmm.rules \
		$(DESTDIR)$(FI_PROVDIR)/libunet-fi.so \
		$(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/$(notdir $(patsubst %/,%,$(dir $(p))))/$(notdir $(p)))
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# The module's source as DKMS wants it: dkms.conf at the top, the Kbuild
# tree in kernel/ and the ABI header where kernel/Kbuild looks for it.
KERNEL_SRC := $(shell find kernel \( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) \
		-not -name '*.mod.c' 2>/dev/null | sort)

dkms-src:
	rm -rf $(DESTDIR)$(DKMSSRCDIR)
	install -d $(DESTDIR)$(DKMSSRCDIR)/include/uapi
	sed 's|@VERSION@|$(VERSION)|' dist/dkms.conf >$(DESTDIR)$(DKMSSRCDIR)/dkms.conf
	for f in $(KERNEL_SRC); do \
		install -D -m 644 $$f $(DESTDIR)$(DKMSSRCDIR)/$$f || exit 1; \
	done
	install -m 644 include/uapi/unetmm.h $(DESTDIR)$(DKMSSRCDIR)/include/uapi/
	install -m 644 LICENSES/GPL-2.0 $(DESTDIR)$(DKMSSRCDIR)/COPYING

dkms-install: dkms-src
	dkms add -m unetmm -v $(VERSION)
	dkms install -m unetmm -v $(VERSION) $(if $(KVER),-k $(KVER))

dkms-uninstall:
	-dkms remove -m unetmm -v $(VERSION) --all
	rm -rf $(DESTDIR)$(DKMSSRCDIR)

# ---- running ----

deps:
	@scripts/deps

# The debug guest kernel (KASAN, lockdep, kmemleak, KFENCE, ODEBUG) from
# Debian's linux-source-6.1, built once into build/debug-kernel/ (about 20
# min on 2 cores; rebuilt only when the source or the config fragment in
# scripts/debug-kernel/ changes).
debug-kernel:
	@scripts/debug-kernel/build

# unetmm.ko for another guest kernel, into build/kmod/<kver>/unetmm.ko
# (kernel/unetmm.ko stays the default kernel's): make kmod KERNEL=debug|6.12|<ver>
kmod:
	@test -n "$(KERNEL)" || { echo "make kmod KERNEL=debug|6.12|<version>"; exit 2; }
	@scripts/kmod $(KERNEL)

# Every suite on the debug kernel, failing on any KASAN, lockdep, RCU,
# ODEBUG, KFENCE, sleep-in-atomic report or kmemleak suspect.  Not part of
# `make test` (it takes over an hour on 2 cores).
test-debug: deps
	@scripts/deps debug-kernel
	@$(MAKE) --no-print-directory all
	@scripts/debug-kernel/build
	@scripts/kmod debug
	@tests/run --kernel debug

# For scripts: the version `make install` and `make dkms-src` use.
print-version:
	@echo $(VERSION)

# Every test on the default guest kernel (6.1), then the guest suites on
# 6.12 (tests/run-all).
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run-all

# The full robustness run (tests/fuzz/); `make test` runs its short form.
fuzz: deps
	@$(MAKE) --no-print-directory all
	@tests/fuzz/run-fuzz

demo: deps
	@$(MAKE) --no-print-directory all
	@eval/run-demo $(if $(QUICK),--quick) $(if $(KERNEL),--kernel $(KERNEL))

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel clean 2>/dev/null
	rm -rf $(BUILD)

FORCE:

# The fuzzers' and tools' objects are worth keeping between builds.
.SECONDARY:

.PHONY: all module lib fabric tools examples tests eval fuzzers san install \
	uninstall dkms-src dkms-install dkms-uninstall deps print-version \
	test demo fuzz clean FORCE debug-kernel kmod test-debug
