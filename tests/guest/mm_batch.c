// SPDX-License-Identifier: MIT
/*
 * Batched TLB misses: a miss translates the rest of the buffer's pages
 * (up to an adaptive cap) in one go, so that a 64 KiB message from pages
 * the TLB has never seen costs one or two misses, not sixteen.
 *
 *   batch-cold-send        64 KiB sends, each from 16 pages the TLB lacks
 *                          (page aligned, then not), with the module's
 *                          sync_fill off so that every translation is a
 *                          miss the agent serves: every byte arrives, and
 *                          with a TLB of 256 entries or more the sender
 *                          misses at least once and at most twice per
 *                          message
 *   batch-cold-send-own-call
 *                          the same with sync_fill on: the sender's own
 *                          doorbell call translates each message before
 *                          copying it, so (TLB of 256 or more) the sender
 *                          does not miss at all and tlb_sync_fills grows
 *                          by a fill or more per message
 *   batch-cold-recv        the same for 64 KiB receive buffers
 *   batch-ahead-counters   the NIC's tlb_ahead_used counts the pages
 *                          translated ahead and then used
 *   batch-recv-rw-then-ro  a receive buffer whose tail is read-only: the
 *                          batch that translates its head must stop at
 *                          the VMA's end; the message is refused with
 *                          NO_ACCESS and not a byte of the read-only part
 *                          changes
 *   batch-scattered        small sends from scattered pages: every byte
 *                          arrives (a batch never outruns its buffer)
 *   batch-queued-sends-pretranslated
 *                          eight cold 64 KiB sends posted with one
 *                          doorbell, sync_fill off: the send engine asks
 *                          for the translations of the ones queued behind
 *                          the message it starts (tlb_prefetches grows),
 *                          every byte arrives, and (TLB of 256 or more)
 *                          the sender misses fewer times than messages
 *
 * With the module's tlb_batch=1 (one page per miss, as before batching)
 * the counts are only reported: suite-mm runs it so, after the default,
 * for the figure before and after in one boot.  Counts are printed as
 * "# batch: ..." lines.
 */
#include "mm_common.h"

#define MSG	UNET_MAX_MSG
#define NMSG	32

static struct mm_pair P;
static const char *suffix = "";

/* A check's name: "-tlb-batch-1" added when run with tlb_batch=1. */
static const char *nm(const char *name)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) & 3;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", name, suffix);
	return buf[i];
}

/* The module's tlb_batch parameter, or 0 if it has none. */
static long batch_param(void)
{
	return gt_module_param("tlb_batch", 0);
}
static uint8_t *scratch;

static long ep_misses(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		gt_die("endpoint stats");
	return (long)st.ctr[UNET_CTR_tlb_misses];
}

static uint8_t *map_4k(size_t len)
{
	uint8_t *p = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/*
 * Receives message @i, @seed's pattern of MSG bytes: copied out into
 * scratch, or, with @in_place, checked in the receive buffer it landed
 * in.  False (and @name failed) unless it is whole.
 */
static bool recv_whole(const char *name, int i, const uint8_t *in_place,
		       uint32_t seed)
{
	uint32_t got = 0;
	long bad = 0;
	int st;

	st = mm_recv_msg(P.rx, in_place ? NULL : scratch, in_place ? 0 : MSG,
			 &got, false, NULL, 0, NULL);
	if (st == UNET_ST_OK)
		bad = gt_verify(in_place ? in_place : scratch, got, seed);
	if (st == UNET_ST_OK && got == MSG && bad < 0)
		return true;
	gt_result(false, name, "message %d: rx %s, %u bytes, byte %ld differs",
		  i, mm_st(st), got, bad);
	return false;
}

/* The module's sync_fill, on or off, for the checks that follow. */
static void sync_fill(const char *value)
{
	if (!gt_module_param_set("sync_fill", value))
		gt_die("write the module's sync_fill");
}

/*
 * Sends NMSG messages from fresh pages at @off; the sender's misses, and
 * with @own_call (sync_fill on) its doorbell call's fills.
 */
static void cold_send(const char *name, size_t off, bool strict,
		      bool own_call)
{
	struct unet_nic_stats s0, s1;
	long fills;
	size_t stride = MSG + MM_PAGE;
	uint8_t *src = map_4k(NMSG * stride + MM_PAGE);
	uint8_t *pool = aligned_alloc(MM_PAGE, MSG);
	long m0, m1;
	int i;

	if (!pool)
		gt_die("alloc");
	memset(pool, 0, MSG);
	for (i = 0; i < NMSG; i++)
		gt_fill(src + i * stride + off, MSG, 1000 + i);
	/*
	 * One receive buffer, posted for each message and not left posted
	 * after the last: only the sender's misses are counted.
	 */
	mm_stats(P.u, &s0);
	m0 = ep_misses(P.tx);
	for (i = 0; i < NMSG; i++) {
		int st;

		if (unet_post_free(P.rx, (uintptr_t)pool, MSG, 0))
			gt_die("post free");
		st = mm_send(&P, src + i * stride + off, MSG);
		if (st != UNET_ST_OK) {
			gt_result(false, name, "message %d: send %s", i,
				  mm_st(st));
			return;
		}
		if (!recv_whole(name, i, NULL, 1000 + i))
			return;
	}
	m1 = ep_misses(P.tx);
	mm_stats(P.u, &s1);
	mm_drain(P.rx, false);
	fills = (long)(s1.ctr[UNET_NIC_tlb_sync_fills] -
		       s0.ctr[UNET_NIC_tlb_sync_fills]);
	printf("# batch: %s: %ld sender misses and %ld own-call fills for %d cold 64 KiB sends (%.2f misses per message)\n",
	       name, m1 - m0, fills, NMSG, (double)(m1 - m0) / NMSG);
	if (own_call)
		gt_result(!strict || (m1 - m0 == 0 && fills >= NMSG), name,
			  "%ld sender misses, %ld own-call fills for %d cold 64 KiB messages (want none, and a fill or more each)",
			  m1 - m0, fills, NMSG);
	else
		gt_result(!strict || (m1 - m0 >= NMSG && m1 - m0 <= 2 * NMSG &&
				      !fills), name,
			  "%ld sender misses, %ld own-call fills for %d cold 64 KiB messages (want 1 or 2 misses each, no fill)",
			  m1 - m0, fills, NMSG);
	munmap(src, NMSG * stride + MM_PAGE);
	free(pool);
}

#define NQUEUED	8

/* NQUEUED cold sends in one submit; the sender's demand misses. */
static void queued_sends(const char *name, bool strict)
{
	size_t stride = MSG + MM_PAGE;
	uint8_t *src = map_4k(NQUEUED * stride);
	uint8_t *pool = map_4k(NQUEUED * MSG);
	struct unet_nic_stats s0, s1;
	long m0, m1, prefetches;
	uint32_t idx;
	int i, st;

	for (i = 0; i < NQUEUED; i++) {
		gt_fill(src + i * stride, MSG, 2000 + i);
		memset(pool + i * MSG, 0, MSG);	/* resident: no rx misses */
	}
	for (i = 0; i < NQUEUED; i++)
		if (unet_post_free(P.rx, (uintptr_t)(pool + i * MSG), MSG, 0))
			gt_die("post free");
	mm_stats(P.u, &s0);
	m0 = ep_misses(P.tx);
	if (unet_send_reserve(P.tx, NQUEUED, &idx) != NQUEUED)
		gt_die("send reserve");
	for (i = 0; i < NQUEUED; i++) {
		struct unet_sge sge = {
			.addr = (uint64_t)(uintptr_t)(src + i * stride),
			.len = MSG,
		};

		if (unet_send_prep_sge(P.tx, idx + i, P.ch, &sge, 1, 0))
			gt_die("send prep");
	}
	if (unet_send_submit(P.tx, NQUEUED))
		gt_die("send submit");
	for (i = 0; i < NQUEUED; i++) {
		st = gt_send_done(P.tx, MM_TIMEOUT_MS);
		if (st != UNET_ST_OK) {
			gt_result(false, name, "send %d: %s", i, mm_st(st));
			return;
		}
		if (!recv_whole(name, i, NULL, 2000 + i))
			return;
	}
	m1 = ep_misses(P.tx);
	mm_stats(P.u, &s1);
	mm_drain(P.rx, false);
	prefetches = (long)(s1.ctr[UNET_NIC_tlb_prefetches] -
			    s0.ctr[UNET_NIC_tlb_prefetches]);
	printf("# batch: %s: %ld sender misses and %ld prefetches for %d queued cold 64 KiB sends\n",
	       name, m1 - m0, prefetches, NQUEUED);
	/* A small TLB is too full for prefetches (and for a batch). */
	gt_result(!strict || (prefetches > 0 && m1 - m0 < NQUEUED), name,
		  "%ld prefetches, %ld sender misses for %d queued cold messages (want prefetches, and fewer misses than messages)",
		  prefetches, m1 - m0, NQUEUED);
	munmap(src, NQUEUED * stride);
	munmap(pool, NQUEUED * MSG);
}

/* NMSG messages, each into a fresh 64 KiB receive buffer at @off. */
static void cold_recv(const char *name, size_t off, bool strict)
{
	size_t stride = MSG + MM_PAGE;
	uint8_t *dst = map_4k(NMSG * stride + MM_PAGE);
	uint8_t *src = aligned_alloc(MM_PAGE, MSG);
	long m0, m1;
	int i;

	if (!src)
		gt_die("alloc");
	memset(dst, 0, NMSG * stride + MM_PAGE);
	m0 = ep_misses(P.rx);
	for (i = 0; i < NMSG; i++) {
		uint8_t *b = dst + i * stride + off;
		int st;

		if (unet_post_free(P.rx, (uintptr_t)b, MSG, 0))
			gt_die("post free");
		gt_fill(src, MSG, 2000 + i);
		st = mm_send(&P, src, MSG);
		if (st != UNET_ST_OK) {
			gt_result(false, name, "message %d: send %s", i,
				  mm_st(st));
			return;
		}
		if (!recv_whole(name, i, b, 2000 + i))
			return;
	}
	m1 = ep_misses(P.rx);
	printf("# batch: %s: %ld receiver misses for %d cold 64 KiB buffers (%.2f per message)\n",
	       name, m1 - m0, NMSG, (double)(m1 - m0) / NMSG);
	gt_result(!strict || m1 - m0 <= 2 * NMSG, name,
		  "%ld receiver misses for %d cold 64 KiB buffers (want <= 2 each)",
		  m1 - m0, NMSG);
	munmap(dst, NMSG * stride + MM_PAGE);
	free(src);
}

/* Head writable, tail read-only: two VMAs under one receive buffer. */
static void recv_rw_then_ro(void)
{
	const char *name = nm("batch-recv-rw-then-ro");
	uint8_t *buf = map_4k(MSG);
	uint8_t *src = aligned_alloc(MM_PAGE, MSG);
	uint8_t *orig = malloc(MSG);
	struct unet_buf back[4];
	unsigned int nbuf = 0;
	long bad;
	int st;

	if (!src || !orig)
		gt_die("alloc");
	gt_fill(buf, MSG, 3333);
	memcpy(orig, buf, MSG);
	if (mprotect(buf + 4 * MM_PAGE, MSG - 4 * MM_PAGE, PROT_READ))
		gt_die("mprotect");
	if (unet_post_free(P.rx, (uintptr_t)buf, MSG, 0))
		gt_die("post free");
	gt_fill(src, MSG, 4444);
	st = mm_send(&P, src, MSG);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(P.rx, NULL, 0, NULL, false, back, 4, &nbuf);
	bad = mm_diff(buf + 4 * MM_PAGE, orig + 4 * MM_PAGE,
		      MSG - 4 * MM_PAGE);
	if (bad >= 0)
		bad += 4 * MM_PAGE;
	gt_result(st == UNET_ST_NO_ACCESS && nbuf == 1 && bad < 0, name,
		  "rx %s, %u buffers back, read-only byte %ld %s", mm_st(st),
		  nbuf, bad, bad >= 0 ? "changed" : "intact");
	munmap(buf, MSG);
	free(src);
	free(orig);
}

/* Small sends from pages all over a region: data only. */
static void scattered(void)
{
	const char *name = nm("batch-scattered");
	size_t npages = 256;
	uint8_t *src = map_4k(npages * MM_PAGE);
	uint8_t *pool = aligned_alloc(MM_PAGE, MSG);
	int i;

	if (!pool)
		gt_die("alloc");
	memset(pool, 0, MSG);
	gt_fill(src, npages * MM_PAGE, 5555);
	for (i = 0; i < 200; i++) {
		size_t off = ((size_t)i * 37 % (npages - 2)) * MM_PAGE +
			     (size_t)(i * 131) % 3000;
		uint32_t len = 64 + (uint32_t)(i * 97) % 5000, got = 0;
		int st;

		/*
		 * Only a message too long to travel inline takes a buffer: one
		 * posted for an inline one would stay posted, a freed pool
		 * the next test's messages land in.
		 */
		if (len > UNET_INLINE_MAX &&
		    unet_post_free(P.rx, (uintptr_t)pool, MSG, 0))
			gt_die("post free");
		st = mm_send(&P, src + off, len);
		if (st == UNET_ST_OK)
			st = mm_recv_msg(P.rx, scratch, MSG, &got, false, NULL,
					 0, NULL);
		if (st != UNET_ST_OK || got != len ||
		    mm_diff(scratch, src + off, len) >= 0) {
			gt_result(false, name, "send %d (%u bytes at %zu): %s",
				  i, len, off, mm_st(st));
			return;
		}
	}
	mm_drain(P.rx, false);
	gt_pass(name);
	munmap(src, npages * MM_PAGE);
	free(pool);
}

int main(void)
{
	struct unet *u = gt_open();
	struct unet_nic_info info;
	struct unet_nic_stats s0, s1;
	char sync_fill_was[8];
	bool strict;

	if (unet_nic_info(u, 0, &info))
		gt_die("nic info");
	/*
	 * A small TLB may hold too little to batch a whole message, and
	 * tlb_batch=1 is the figure from before batching.
	 */
	if (batch_param() == 1)
		suffix = "-tlb-batch-1";
	strict = info.tlb_entries >= 256 && batch_param() != 1;
	printf("# batch: TLB %u entries, tlb_batch=%ld\n", info.tlb_entries,
	       batch_param());
	scratch = malloc(MSG);
	if (!scratch)
		gt_die("alloc");
	mm_pair_init(&P, u, 256);
	mm_stats(u, &s0);

	if (!gt_module_param_str("sync_fill", sync_fill_was,
				 sizeof(sync_fill_was)))
		gt_die("read the module's sync_fill");
	sync_fill("N");
	cold_send(nm("batch-cold-send"), 0, strict, false);
	cold_send(nm("batch-cold-send-unaligned"), 100, strict, false);
	cold_recv(nm("batch-cold-recv"), 0, strict);
	cold_recv(nm("batch-cold-recv-unaligned"), 777, strict);

	mm_stats(u, &s1);
	printf("# batch: tlb_ahead_used %lld tlb_ahead_wasted %lld tlb_batch_cap %lld\n",
	       (long long)(s1.ctr[UNET_NIC_tlb_ahead_used] -
			   s0.ctr[UNET_NIC_tlb_ahead_used]),
	       (long long)(s1.ctr[UNET_NIC_tlb_ahead_wasted] -
			   s0.ctr[UNET_NIC_tlb_ahead_wasted]),
	       (long long)s1.ctr[UNET_NIC_tlb_batch_cap]);
	gt_result(batch_param() == 1 || s1.ctr[UNET_NIC_tlb_ahead_used] >
		  s0.ctr[UNET_NIC_tlb_ahead_used], nm("batch-ahead-counters"),
		  "tlb_ahead_used did not grow");

	recv_rw_then_ro();
	scattered();
	queued_sends(nm("batch-queued-sends-pretranslated"), strict);

	sync_fill("Y");
	cold_send(nm("batch-cold-send-own-call"), 0, strict, true);
	cold_send(nm("batch-cold-send-own-call-unaligned"), 100, strict, true);
	sync_fill(sync_fill_was);

	mm_pair_destroy(&P);
	unet_close(u);
	return gt_exit();
}
