# U-Net/MM for Linux.  `make` builds the module, the library and the tools;
# `make test` runs every test (host unit tests, then guests); `make demo`
# runs the evaluation.  See README.md.

KVER    ?= $(shell scripts/kver 2>/dev/null)
KDIR    ?= /lib/modules/$(KVER)/build
BUILD   := build
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
INC     := -Iinclude/uapi -Ilib
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer

LIB_SRC   := lib/libunet.c
TOOLS     := unet_lat unet_bw unetstat
TOOL_BINS := $(addprefix $(BUILD)/bin/,$(TOOLS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*.c))
EVAL_BINS := $(patsubst eval/%.c,$(BUILD)/eval/%,$(wildcard eval/*.c))
GUEST_TESTS := $(patsubst tests/guest/%.c,$(BUILD)/tests/%,$(wildcard tests/guest/*.c))
TEST_LIB  := $(BUILD)/tests/lib/raw_ep.o
UNIT_SRC  := tests/unit/test_main.c tests/unit/test_tlb.c \
	     tests/unit/test_wire.c tests/unit/test_ring.c \
	     kernel/tlb/tlb.c kernel/nic/wire.c

all: module lib tools tests eval fuzzers

# The module builds against the guest kernel's headers: Kbuild, no -Werror
# games here; kernel/Kbuild sets the module's own flags.
module:
	@test -n "$(KVER)" || { scripts/kver; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel modules

lib: $(BUILD)/lib/libunet.a

$(BUILD)/lib/libunet.a: $(LIB_SRC) lib/unet.h include/uapi/unetmm.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -c $(LIB_SRC) -o $(BUILD)/lib/libunet.o
	ar rcs $@ $(BUILD)/lib/libunet.o

tools: $(TOOL_BINS)

$(BUILD)/bin/%: tools/%.c tools/common.c tools/common.h $(BUILD)/lib/libunet.a
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -Itools $< tools/common.c $(BUILD)/lib/libunet.a -lm -o $@

eval: $(EVAL_BINS)

fuzzers: $(FUZZ_BINS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(wildcard tests/guest/*.h) $(TEST_LIB) $(BUILD)/lib/libunet.a
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -Itests/guest -Itests/fuzz -Itests/lib $< $(TEST_LIB) $(BUILD)/lib/libunet.a -lpthread -o $@

$(BUILD)/eval/%: eval/%.c $(BUILD)/lib/libunet.a
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) $< $(BUILD)/lib/libunet.a -o $@

tests: $(GUEST_TESTS) $(BUILD)/tests/unit $(BUILD)/tests/unit-san

# One raw-ABI helper library for the tests that bypass libunet.
$(TEST_LIB): tests/lib/raw_ep.c tests/lib/raw_ep.h include/uapi/unetmm.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -c $< -o $@

$(BUILD)/tests/%: tests/guest/%.c $(wildcard tests/guest/*.h) $(TEST_LIB) $(BUILD)/lib/libunet.a
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(INC) -Itests/guest -Itests/lib $< $(TEST_LIB) $(BUILD)/lib/libunet.a -lpthread -o $@

# Host unit tests compile the module's own pure-logic sources.
$(BUILD)/tests/unit: $(UNIT_SRC) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Itests/unit/include $(INC) -Itests/unit $(UNIT_SRC) -o $@

$(BUILD)/tests/unit-san: $(UNIT_SRC) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SAN) -Itests/unit/include $(INC) -Itests/unit $(UNIT_SRC) -o $@

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

.PHONY: all module lib tools tests eval fuzzers deps test demo fuzz clean \
	debug-kernel kmod test-debug
