// SPDX-License-Identifier: GPL-2.0
/* Ring index arithmetic: kernel/nic/ring.h. */
#include <stdint.h>

#include "unit.h"
#include "../../kernel/nic/ring.h"

#include <unetmm.h>

TEST(ring_pending_normal)
{
	CHECK_EQ(unet_ring_pending(0, 0, 8), 0);
	CHECK_EQ(unet_ring_pending(1, 0, 8), 1);
	CHECK_EQ(unet_ring_pending(7, 3, 8), 4);
	CHECK_EQ(unet_ring_pending(1000, 1000, 64), 0);
	CHECK_EQ(unet_ring_pending(1063, 1000, 64), 63);
}

TEST(ring_pending_full_and_empty)
{
	u32 e;

	for (e = UNET_RING_MIN; e <= UNET_RING_MAX; e <<= 1) {
		CHECK_EQ(unet_ring_pending(e, 0, e), e);		/* full */
		CHECK_EQ(unet_ring_pending(5 + e, 5, e), e);
		CHECK_EQ(unet_ring_pending(12345, 12345, e), 0);	/* empty */
		CHECK_EQ(unet_ring_pending(e + 1, 0, e), -1);	/* over */
	}
}

TEST(ring_pending_wraparound)
{
	/* Free-running counters cross 2^32 without a hiccup. */
	CHECK_EQ(unet_ring_pending(0, UINT32_MAX, 8), 1);
	CHECK_EQ(unet_ring_pending(3, UINT32_MAX - 4, 8), 8);
	CHECK_EQ(unet_ring_pending(4, UINT32_MAX - 4, 8), -1);
	CHECK_EQ(unet_ring_pending(UINT32_MAX, UINT32_MAX, 8), 0);
	CHECK_EQ(unet_ring_pending(0, 0u - 4096, 4096), 4096);
	CHECK_EQ(unet_ring_pending(1, 0u - 4096, 4096), -1);
	CHECK_EQ(unet_ring_pending(2, UINT32_MAX - 1, 16), 4);
}

TEST(ring_pending_corrupt)
{
	/* Producer behind the consumer. */
	CHECK_EQ(unet_ring_pending(9, 10, 8), -1);
	CHECK_EQ(unet_ring_pending(0, 1, 4096), -1);
	CHECK_EQ(unet_ring_pending(UINT32_MAX, 0, 8), -1);
	CHECK_EQ(unet_ring_pending(0, 0x80000000u, 8), -1);
	/* More than a ring ahead. */
	CHECK_EQ(unet_ring_pending(9, 0, 8), -1);
	CHECK_EQ(unet_ring_pending(0x7fffffffu, 0, 4096), -1);
	CHECK_EQ(unet_ring_pending(0x80000000u, 0, 4096), -1);
	CHECK_EQ(unet_ring_pending(UINT32_MAX - 1, 0, 8), -1);
}

TEST(ring_space_normal)
{
	CHECK_EQ(unet_ring_space(0, 0, 8), 8);			/* empty */
	CHECK_EQ(unet_ring_space(1, 0, 8), 7);
	CHECK_EQ(unet_ring_space(8, 0, 8), 0);			/* full */
	CHECK_EQ(unet_ring_space(108, 100, 8), 0);
	CHECK_EQ(unet_ring_space(103, 100, 64), 61);
	CHECK_EQ(unet_ring_space(4096, 0, 4096), 0);
	CHECK_EQ(unet_ring_space(4095, 0, 4096), 1);
}

TEST(ring_space_wraparound)
{
	CHECK_EQ(unet_ring_space(0, UINT32_MAX, 8), 7);
	CHECK_EQ(unet_ring_space(3, UINT32_MAX - 4, 8), 0);
	CHECK_EQ(unet_ring_space(UINT32_MAX, UINT32_MAX, 8), 8);
	CHECK_EQ(unet_ring_space(1, UINT32_MAX, 16), 14);
}

TEST(ring_space_corrupt)
{
	/* The process's consumer is ahead of what the NIC produced. */
	CHECK_EQ(unet_ring_space(10, 11, 8), -1);
	CHECK_EQ(unet_ring_space(0, 1, 8), -1);
	CHECK_EQ(unet_ring_space(0, UINT32_MAX - 7, 8), 8 - 8);
	CHECK_EQ(unet_ring_space(0, UINT32_MAX - 8, 8), -1);
	/* ... or more than a ring behind it. */
	CHECK_EQ(unet_ring_space(9, 0, 8), -1);
	CHECK_EQ(unet_ring_space(0x80000000u, 0, 4096), -1);
	CHECK_EQ(unet_ring_space(UINT32_MAX, 0, 4096), -1);
}

/* Exhaustive over a window around every interesting point, small rings. */
TEST(ring_pending_space_agree)
{
	static const u32 bases[] = { 0, 1, 4095, 0x7ffffff0u, 0xfffffff0u };
	unsigned b, e;
	int d;

	for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		for (e = 8; e <= 64; e <<= 1) {
			for (d = -70; d <= 70; d++) {
				u32 cons = bases[b], prod = cons + (u32)d;
				int want_p = (d >= 0 && d <= (int)e) ? d : -1;
				int want_s = (d >= 0 && d <= (int)e) ?
					     (int)e - d : -1;

				CHECK_EQ(unet_ring_pending(prod, cons, e),
					 want_p);
				CHECK_EQ(unet_ring_space(prod, cons, e),
					 want_s);
			}
		}
	}
}

TEST(ring_slot)
{
	CHECK_EQ(unet_ring_slot(0, 8), 0);
	CHECK_EQ(unet_ring_slot(7, 8), 7);
	CHECK_EQ(unet_ring_slot(8, 8), 0);
	CHECK_EQ(unet_ring_slot(13, 8), 5);
	CHECK_EQ(unet_ring_slot(UINT32_MAX, 8), 7);
	CHECK_EQ(unet_ring_slot(UINT32_MAX, 4096), 4095);
	CHECK_EQ(unet_ring_slot(4096 * 3 + 17, 4096), 17);
	/* Consecutive indices across the 2^32 wrap stay consecutive slots. */
	CHECK_EQ(unet_ring_slot(0, 16), (unet_ring_slot(UINT32_MAX, 16) + 1) % 16);
	for (u32 i = 0; i < 100000; i += 7)
		CHECK_EQ(unet_ring_slot(i, 64), i % 64);
}

TEST(ring_size_ok)
{
	u32 e;

	for (e = UNET_RING_MIN; e <= UNET_RING_MAX; e <<= 1)
		CHECK(unet_ring_size_ok(e, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(0, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(1, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(4, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(UNET_RING_MAX * 2, UNET_RING_MIN,
				 UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(0x80000000u, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(12, UNET_RING_MIN, UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(UNET_RING_MAX - 1, UNET_RING_MIN,
				 UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(UNET_RING_MIN + 1, UNET_RING_MIN,
				 UNET_RING_MAX));
	CHECK(!unet_ring_size_ok(UINT32_MAX, UNET_RING_MIN, UNET_RING_MAX));
	for (e = UNET_RING_MIN; e <= UNET_RING_MAX; e++)
		CHECK_EQ(unet_ring_size_ok(e, UNET_RING_MIN, UNET_RING_MAX),
			 (e & (e - 1)) == 0);
}
