/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host build of the module's pure-logic files (kernel/tlb/tlb.c,
 * kernel/nic/wire.c, kernel/nic/ring.h): the kernel's short type names
 * over the uapi ones, so that those files compile unchanged (the kernel's
 * tools/testing/vma does the same for mm code).
 */
#ifndef UNET_UNIT_LINUX_TYPES_H
#define UNET_UNIT_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

#endif
