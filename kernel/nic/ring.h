/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring index arithmetic on the NIC side.  The process writes one index of
 * each ring; the NIC keeps the other in kernel memory and checks every index
 * it reads against it, since a process may write anything there.  Pure
 * logic, shared with the host tests.
 */
#ifndef UNET_RING_H
#define UNET_RING_H

#include <linux/types.h>

/*
 * Entries the process has produced and the NIC not yet consumed, given the
 * producer it wrote and the consumer the NIC holds.  A producer behind the
 * consumer or more than a ring ahead is corrupt: -1.
 */
static inline int unet_ring_pending(u32 user_prod, u32 nic_cons, u32 entries)
{
	u32 n = user_prod - nic_cons;

	return n > entries ? -1 : (int)n;
}

/*
 * Free slots for the NIC to produce into, given the consumer the process
 * wrote and the producer the NIC holds.  A corrupt consumer (ahead of the
 * producer or more than a ring behind) is -1: the caller treats it as full.
 */
static inline int unet_ring_space(u32 nic_prod, u32 user_cons, u32 entries)
{
	u32 used = nic_prod - user_cons;

	return used > entries ? -1 : (int)(entries - used);
}

static inline u32 unet_ring_slot(u32 index, u32 entries)
{
	return index & (entries - 1);
}

static inline bool unet_ring_size_ok(u32 entries, u32 min, u32 max)
{
	return entries >= min && entries <= max && !(entries & (entries - 1));
}

#endif /* UNET_RING_H */
