// SPDX-License-Identifier: MIT
/*
 * 2 MiB TLB entries: a buffer in a transparent huge page takes one entry
 * for its 2 MiB, and the entry follows the VM when the huge page is split
 * or collapsed.  Every case checks data: what the receiver gets is what
 * the sending process sees in its memory, and what the NIC writes is what
 * the receiving process then reads.
 *
 *   thp-send-misses      32 x 64 KiB sent from a THP: with the module's
 *                        tlb_huge > 0, at most one sender miss per MiB
 *                        (256 before), one huge fill, 512 pages pinned
 *   thp-recv             32 x 64 KiB received into a THP
 *   thp-dontneed         MADV_DONTNEED of 4 KiB inside a THP the NIC has
 *                        an entry for: a send sees the zero page there, a
 *                        receive lands where the process reads
 *   thp-partial-munmap   the THP's second MiB unmapped and mapped anew:
 *                        a send sees the new memory, a receive into the
 *                        first MiB lands where the process reads
 *   thp-collapse         4 KiB pages in the TLB, then collapsed into a
 *                        huge page (MADV_COLLAPSE, as khugepaged would):
 *                        new contents are sent, receives land
 *
 *   thp-huge-budget      tlb_huge + 2 THPs sent from: the NIC's pinned
 *                        pages stay within tlb_huge x 512 + tlb_entries
 *
 * A region the kernel did not back with a huge page is reported, and the
 * data checks still run.  "# thp: ..." lines give the counts.
 */
#include "mm_common.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define MSG	UNET_MAX_MSG

static struct mm_pair P;
static struct unet *U;
static uint8_t *pool, *scratch, *want, *src;
static bool huge_param;
static unsigned int huge_max;
static const char *suffix = "";

/* A check's name: "-tlb-huge-n" added when run with tlb_huge=0. */
static const char *nm(const char *name)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) & 3;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", name, suffix);
	return buf[i];
}

static long ep_misses(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		gt_die("endpoint stats");
	return (long)st.ctr[UNET_CTR_tlb_misses];
}

/* A 2 MiB aligned region, advised and touched; whether it is huge. */
static uint8_t *thp_region(uint32_t seed, bool *huge)
{
	uint8_t *p = mm_map_aligned(MM_HUGE, MM_HUGE);

	madvise(p, MM_HUGE, MADV_HUGEPAGE);
	gt_fill(p, MM_HUGE, seed);
	*huge = mm_anon_huge_kb(p) >= 2048;
	return p;
}

/*
 * Sends @len bytes at @p; 0 if the receiver got exactly what the process
 * sees there now, else a reason in @why.
 */
static int send_check(const uint8_t *p, uint32_t len, char *why, size_t n)
{
	uint32_t got = 0;
	long bad;
	int st;

	memcpy(want, p, len);
	if (unet_post_free(P.rx, (uintptr_t)pool, MSG, 0))
		gt_die("post free");
	st = mm_send(&P, p, len);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(P.rx, scratch, MSG, &got, false, NULL, 0,
				 NULL);
	if (st != UNET_ST_OK || got != len) {
		snprintf(why, n, "send: %s, %u bytes", mm_st(st), got);
		return -1;
	}
	bad = mm_diff(scratch, want, len);
	if (bad >= 0) {
		snprintf(why, n, "sent byte %ld is not what the process sees",
			 bad);
		return -1;
	}
	return 0;
}

/* Receives @len bytes of pattern @seed into @p; 0 if the process reads them. */
static int recv_check(uint8_t *p, uint32_t len, uint32_t seed, char *why,
		      size_t n)
{
	uint32_t got = 0;
	long bad;
	int st;

	if (unet_post_free(P.rx, (uintptr_t)p, len, 0))
		gt_die("post free");
	gt_fill(src, len, seed);
	st = mm_send(&P, src, len);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(P.rx, NULL, 0, &got, false, NULL, 0, NULL);
	if (st != UNET_ST_OK || got != len) {
		snprintf(why, n, "receive: %s, %u bytes", mm_st(st), got);
		return -1;
	}
	bad = gt_verify(p, len, seed);
	if (bad >= 0) {
		snprintf(why, n, "received byte %ld not where the process reads",
			 bad);
		return -1;
	}
	return 0;
}

static void send_misses(void)
{
	const char *name = nm("thp-send-misses");
	struct unet_nic_stats s0, s1;
	char why[160] = "";
	bool huge, strict;
	uint8_t *r = thp_region(101, &huge);
	long m0, m1, pinned;
	int i;

	strict = huge && huge_param;
	mm_stats(U, &s0);
	m0 = ep_misses(P.tx);
	for (i = 0; i < (int)(MM_HUGE / MSG) && !why[0]; i++)
		send_check(r + (size_t)i * MSG, MSG, why, sizeof(why));
	m1 = ep_misses(P.tx);
	mm_stats(U, &s1);
	pinned = (long)s1.ctr[UNET_NIC_pinned_pages];
	printf("# thp: region %s, huge entries %s: %ld sender misses for 2 MiB (thp_misses_per_mib %.2f), huge fills %lld, pinned_pages %ld\n",
	       huge ? "huge" : "4 KiB (THP unavailable)",
	       huge_param ? "on" : "off", m1 - m0, (m1 - m0) / 2.0,
	       (long long)(s1.ctr[UNET_NIC_tlb_huge_fills] -
			   s0.ctr[UNET_NIC_tlb_huge_fills]), pinned);
	if (!why[0] && strict && m1 - m0 > 2)
		snprintf(why, sizeof(why), "%ld misses for 2 MiB, want <= 2",
			 m1 - m0);
	if (!why[0] && strict &&
	    s1.ctr[UNET_NIC_tlb_huge_fills] == s0.ctr[UNET_NIC_tlb_huge_fills])
		snprintf(why, sizeof(why), "no huge entry filled");
	if (!why[0] && mm_nopin() && pinned)
		snprintf(why, sizeof(why),
			 "pinned_pages %ld with translate=nopin", pinned);
	else if (!why[0] && strict && !mm_nopin() &&
		 pinned < (long)(MM_HUGE / MM_PAGE))
		snprintf(why, sizeof(why),
			 "pinned_pages %ld: a huge entry pins its 512 pages",
			 pinned);
	gt_result(!why[0], name, "%s", why);
	munmap(r, MM_HUGE);
}

static void recv_thp(void)
{
	char why[160] = "";
	bool huge;
	uint8_t *r = thp_region(102, &huge);
	long m0 = ep_misses(P.rx), m1;
	int i;

	for (i = 0; i < (int)(MM_HUGE / MSG) && !why[0]; i++)
		recv_check(r + (size_t)i * MSG, MSG, 200 + i, why,
			   sizeof(why));
	m1 = ep_misses(P.rx);
	printf("# thp: receive into a %s region: %ld receiver misses for 2 MiB\n",
	       huge ? "huge" : "4 KiB", m1 - m0);
	if (!why[0] && huge && huge_param && m1 - m0 > 2)
		snprintf(why, sizeof(why), "%ld misses for 2 MiB, want <= 2",
			 m1 - m0);
	gt_result(!why[0], nm("thp-recv"), "%s", why);
	munmap(r, MM_HUGE);
}

/* Sends from and receives into @r so that both kinds of entry exist. */
static int warm(uint8_t *r, char *why, size_t n)
{
	if (send_check(r + 5 * MM_PAGE, MSG, why, n))
		return -1;
	return recv_check(r + MM_HUGE / 2 + 3 * MM_PAGE, MSG, 300, why, n);
}

static void dontneed(void)
{
	char why[160] = "";
	bool huge;
	uint8_t *r = thp_region(103, &huge);
	uint8_t *hole = r + MM_HUGE / 2 + 8 * MM_PAGE;

	if (!warm(r, why, sizeof(why))) {
		if (madvise(hole, MM_PAGE, MADV_DONTNEED))
			gt_die("madvise(MADV_DONTNEED)");
		if (mm_check_fill(hole, MM_PAGE, 0) >= 0)
			snprintf(why, sizeof(why),
				 "the dropped page does not read as zeros");
	}
	/* The NIC reads the zero page there, not the freed one. */
	if (!why[0])
		send_check(hole - 2 * MM_PAGE, MSG, why, sizeof(why));
	/* And writes where the process reads. */
	if (!why[0])
		recv_check(hole - 3 * MM_PAGE - 100, MSG, 301, why,
			   sizeof(why));
	if (!why[0])
		send_check(r, MSG, why, sizeof(why));
	printf("# thp: dontneed: region was %s\n", huge ? "huge" : "4 KiB");
	gt_result(!why[0], nm("thp-dontneed"), "%s", why);
	munmap(r, MM_HUGE);
}

static void partial_munmap(void)
{
	char why[160] = "";
	bool huge;
	uint8_t *r = thp_region(104, &huge), *second = r + MM_HUGE / 2;

	if (!warm(r, why, sizeof(why))) {
		if (munmap(second, MM_HUGE / 2))
			gt_die("munmap");
		if (mmap(second, MM_HUGE / 2, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    second)
			gt_die("mmap fixed");
		gt_fill(second, MM_HUGE / 2, 105);
		send_check(second + 3 * MM_PAGE, MSG, why, sizeof(why));
	}
	if (!why[0])
		send_check(second - MM_PAGE, MSG, why, sizeof(why));
	if (!why[0])
		recv_check(r + 7 * MM_PAGE, MSG, 302, why, sizeof(why));
	if (!why[0])
		recv_check(second + 11 * MM_PAGE, MSG, 303, why, sizeof(why));
	printf("# thp: partial munmap: region was %s\n",
	       huge ? "huge" : "4 KiB");
	gt_result(!why[0], nm("thp-partial-munmap"), "%s", why);
	munmap(r, MM_HUGE);
}

static void collapse(void)
{
	char why[160] = "";
	uint8_t *r = mm_map_aligned(MM_HUGE, MM_HUGE);
	int ret, tries;
	long kb;

	madvise(r, MM_HUGE, MADV_NOHUGEPAGE);
	gt_fill(r, MM_HUGE, 106);
	warm(r, why, sizeof(why));
	if (!why[0])
		send_check(r + MM_HUGE - MSG, MSG, why, sizeof(why));
	madvise(r, MM_HUGE, MADV_HUGEPAGE);
	/*
	 * A page the NIC pins cannot be collapsed (its count is too high:
	 * EAGAIN before any invalidation), so in pin mode no entry can be
	 * there when it happens.  Once write protection has taken the
	 * entries away, it may.
	 */
	for (tries = 0; tries < 5; tries++) {
		ret = madvise(r, MM_HUGE, MADV_COLLAPSE);
		if (!ret || errno != EAGAIN)
			break;
		if (mprotect(r, MM_HUGE, PROT_READ) ||
		    mprotect(r, MM_HUGE, PROT_READ | PROT_WRITE))
			gt_die("mprotect");
	}
	kb = mm_anon_huge_kb(r);
	printf("# thp: collapse: MADV_COLLAPSE %s after %d tries, AnonHugePages %ld kB\n",
	       ret ? strerror(errno) : "ok", tries + 1, kb);
	/* New contents where the 4 KiB entries were. */
	gt_fill(r, MM_HUGE, 107);
	if (!why[0])
		send_check(r + 5 * MM_PAGE, MSG, why, sizeof(why));
	if (!why[0])
		send_check(r + MM_HUGE - MSG, MSG, why, sizeof(why));
	if (!why[0])
		recv_check(r + MM_HUGE / 2 + 3 * MM_PAGE, MSG, 304, why,
			   sizeof(why));
	if (!why[0])
		send_check(r + MM_HUGE / 2, MSG, why, sizeof(why));
	gt_result(!why[0], nm("thp-collapse"), "%s", why);
	munmap(r, MM_HUGE);
}

/* More THPs than the NIC may have huge entries: pins stay bounded. */
static void huge_budget(void)
{
	unsigned int n = huge_max + 2, i, huge = 0;
	struct unet_nic_info info;
	uint8_t **r = calloc(n, sizeof(*r));
	long pinned, peak = 0, limit;
	char why[160] = "";

	if (!r || unet_nic_info(U, 0, &info))
		gt_die("alloc / nic info");
	limit = (long)huge_max * (MM_HUGE / MM_PAGE) + info.tlb_entries;
	for (i = 0; i < n && !why[0]; i++) {
		bool h;

		r[i] = thp_region(400 + i, &h);
		huge += h;
		send_check(r[i] + 9 * MM_PAGE, MSG, why, sizeof(why));
		pinned = mm_ctr(U, UNET_NIC_pinned_pages);
		if (pinned > peak)
			peak = pinned;
	}
	printf("# thp: %u regions (%u huge), tlb_huge=%u: pinned_pages peak %ld, bound %ld\n",
	       n, huge, huge_max, peak, limit);
	if (!why[0] && peak > limit)
		snprintf(why, sizeof(why), "pinned_pages %ld, bound %ld", peak,
			 limit);
	gt_result(!why[0], nm("thp-huge-budget"), "%s", why);
	for (i = 0; i < n; i++)
		if (r[i])
			munmap(r[i], MM_HUGE);
	free(r);
}

int main(void)
{
	unsigned int max = (unsigned int)gt_module_param("tlb_huge", 0);

	huge_param = max > 0;
	huge_max = max;
	if (!huge_param)
		suffix = "-tlb-huge-n";
	U = gt_open();
	mm_pair_init(&P, U, 256);
	pool = aligned_alloc(MM_PAGE, MSG);
	src = aligned_alloc(MM_PAGE, MSG);
	scratch = malloc(MSG);
	want = malloc(MSG);
	if (!pool || !src || !scratch || !want)
		gt_die("alloc");
	memset(pool, 0, MSG);
	memset(src, 0, MSG);

	send_misses();
	recv_thp();
	dontneed();
	partial_munmap();
	collapse();
	if (huge_max <= 64)
		huge_budget();

	mm_pair_destroy(&P);
	unet_close(U);
	return gt_exit();
}
