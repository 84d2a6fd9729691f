// SPDX-License-Identifier: MIT
/*
 * U-Net/MM with a working set larger than the NIC's TLB (run with
 * tlb_entries=64 tlb_ways=4): streaming 64 KiB messages from a 1 MiB
 * buffer into a 1 MiB pool of receive buffers must deliver every byte
 * while entries are evicted, and the pages the NIC pins must never exceed
 * the TLB's capacity (pinned_peak, and pinned_pages sampled throughout):
 * one page per entry, except that a 2 MiB entry pins 512 (THP is
 * "always" in the guests, so a buffer may land in a huge page); the bound
 * counts them only if the NIC filled any since it was loaded, and at
 * most its tlb_huge of them.
 * Then the same with 16 processes streaming at once, each from its own
 * 1 MiB.  With translate=nopin the bound is 0: nothing is pinned at any
 * sample, however many entries are evicted and refilled.
 */
#include "mm_common.h"

#define WS	(1u << 20)		/* 256 pages */
#define MSG	UNET_MAX_MSG
#define NMSG	(WS / MSG)		/* 16 */
#define NPROC	16

/*
 * What the NIC may pin: a page per entry, and 511 more for each 2 MiB
 * entry it may have had (huge fills since load, at most tlb_huge).
 */
static long pin_bound(long cap, const struct unet_nic_stats *s)
{
	long huge = (long)s->ctr[UNET_NIC_tlb_huge_fills];
	long max = gt_module_param("tlb_huge", 0);

	if (mm_nopin()) {
		printf("# translate=nopin: the bound is 0 pages\n");
		return 0;
	}
	if (huge > max)
		huge = max;
	if (huge > cap)
		huge = cap;
	if (huge)
		printf("# %ld huge entries possible: the bound is %ld pages\n",
		       huge, cap + 511 * huge);
	return cap + 511 * huge;
}

static volatile bool sampling;
static long sample_max, samples;
static struct unet *su;

static void *sampler(void *arg)
{
	(void)arg;
	while (sampling) {
		long v = mm_ctr(su, UNET_NIC_pinned_pages);

		if (v > sample_max)
			sample_max = v;
		samples++;
		usleep(200);
	}
	return NULL;
}

static void sampler_start(struct unet *u, pthread_t *t)
{
	su = u;
	sample_max = 0;
	samples = 0;
	sampling = true;
	if (pthread_create(t, NULL, sampler, NULL))
		gt_die("pthread_create");
}

static void sampler_stop(pthread_t t)
{
	sampling = false;
	pthread_join(t, NULL);
}

/*
 * Streams @passes x 1 MiB from @src into the posted pool of @p, checking
 * every message.  0, or a reason in @why.
 */
static int stream(struct mm_pair *p, uint8_t *src, uint8_t *scratch,
		  int passes, uint32_t seed, char *why, size_t whylen)
{
	int pass, m;

	for (pass = 0; pass < passes; pass++) {
		for (m = 0; m < (int)NMSG; m++) {
			uint32_t s = seed + pass * 100 + m, got = 0;
			uint8_t *b = src + (size_t)m * MSG;
			int st;
			long bad;

			gt_fill(b, MSG, s);
			st = mm_send(p, b, MSG);
			if (st != UNET_ST_OK) {
				snprintf(why, whylen, "pass %d msg %d: send %s",
					 pass, m, mm_st(st));
				return -1;
			}
			st = mm_recv_msg(p->rx, scratch, MSG, &got, true, NULL,
					 0, NULL);
			if (st != UNET_ST_OK || got != MSG) {
				snprintf(why, whylen,
					 "pass %d msg %d: rx %s length %u",
					 pass, m, mm_st(st), got);
				return -1;
			}
			bad = gt_verify(scratch, MSG, s);
			if (bad >= 0) {
				snprintf(why, whylen,
					 "pass %d msg %d: byte %ld differs",
					 pass, m, bad);
				return -1;
			}
		}
	}
	return 0;
}

/* A pair whose receiver has @pool_bytes of 4 KiB buffers posted. */
static void setup(struct mm_pair *p, struct unet *u, uint8_t **src,
		  uint8_t **pool, size_t pool_bytes)
{
	size_t i;

	mm_pair_init(p, u, 512);
	*src = aligned_alloc(MM_PAGE, WS);
	*pool = aligned_alloc(MM_PAGE, pool_bytes);
	if (!*src || !*pool)
		gt_die("alloc");
	memset(*pool, 0, pool_bytes);
	for (i = 0; i < pool_bytes / MM_PAGE; i++)
		if (unet_post_free(p->rx, (uintptr_t)(*pool + i * MM_PAGE),
				   MM_PAGE, 0))
			gt_die("post free");
}

int main(void)
{
	struct unet *u = gt_open();
	struct unet_nic_info info;
	struct unet_nic_stats s0, s1;
	uint8_t *scratch = malloc(MSG);
	long cap, bound;

	if (!scratch || unet_nic_info(u, 0, &info))
		gt_die("nic info");
	cap = info.tlb_entries;
	printf("# TLB %u entries, %u-way\n", info.tlb_entries, info.tlb_ways);
	gt_result(cap == 64 && info.tlb_ways == 4, "ws-tlb-geometry",
		  "TLB is %ld entries %u-way, the suite asked for 64 4-way", cap,
		  info.tlb_ways);

	/* One process, 1 MiB each way. */
	{
		struct mm_pair p;
		uint8_t *src, *pool;
		pthread_t t;
		char why[160] = "";
		int ret;

		setup(&p, u, &src, &pool, WS);
		mm_stats(u, &s0);
		sampler_start(u, &t);
		ret = stream(&p, src, scratch, 3, 1, why, sizeof(why));
		sampler_stop(t);
		mm_stats(u, &s1);
		printf("# 1 process: evictions +%llu misses +%llu, pinned peak %llu, max sampled %ld of %ld samples\n",
		       (unsigned long long)(s1.ctr[UNET_NIC_tlb_evictions] -
					    s0.ctr[UNET_NIC_tlb_evictions]),
		       (unsigned long long)(s1.ctr[UNET_NIC_tlb_misses] -
					    s0.ctr[UNET_NIC_tlb_misses]),
		       (unsigned long long)s1.ctr[UNET_NIC_pinned_peak],
		       sample_max, samples);
		bound = pin_bound(cap, &s1);
		gt_result(!ret, "ws-1proc-data", "%s", why);
		gt_result(s1.ctr[UNET_NIC_tlb_evictions] >
				  s0.ctr[UNET_NIC_tlb_evictions],
			  "ws-1proc-evictions", "no TLB evictions");
		gt_result(sample_max <= bound, "ws-1proc-pinned-sampled",
			  "pinned_pages %ld sampled, TLB holds %ld", sample_max,
			  bound);
		gt_result((long)s1.ctr[UNET_NIC_pinned_peak] <= bound,
			  "ws-1proc-pinned-peak", "pinned_peak %llu > %ld pages",
			  (unsigned long long)s1.ctr[UNET_NIC_pinned_peak],
			  bound);
		mm_pair_destroy(&p);
		free(src);
		free(pool);
	}

	/* Sixteen processes, each from its own 1 MiB. */
	{
		pid_t pids[NPROC];
		int i, ok = 0, go[2];
		/* Each child's reason for failing, shared with the parent. */
		char (*whys)[160] = mm_map_anon(NPROC * 160,
						PROT_READ | PROT_WRITE,
						MAP_SHARED);
		pthread_t t;
		char failed[1024] = "";

		if (pipe(go))
			gt_die("pipe");
		mm_stats(u, &s0);
		sampler_start(u, &t);
		for (i = 0; i < NPROC; i++) {
			pids[i] = fork();
			if (pids[i] < 0)
				gt_die("fork");
			if (pids[i] == 0) {
				struct unet *cu = unet_open();
				struct mm_pair p;
				uint8_t *src, *pool, *cs = malloc(MSG);
				char why[160] = "";
				char c;

				close(go[1]);
				if (!cu || !cs)
					_exit(2);
				setup(&p, cu, &src, &pool, 2 * MSG);
				/* Start together. */
				if (read(go[0], &c, 1) < 0)
					_exit(3);
				if (stream(&p, src, cs, 2, 1000 * (i + 1), why,
					   sizeof(why))) {
					snprintf(whys[i], 160, "%s", why);
					_exit(1);
				}
				_exit(0);
			}
		}
		close(go[0]);
		close(go[1]);		/* EOF: everyone goes */
		for (i = 0; i < NPROC; i++) {
			int status = 0;

			waitpid(pids[i], &status, 0);
			if (WIFEXITED(status) && !WEXITSTATUS(status))
				ok++;
			else
				snprintf(failed + strlen(failed),
					 sizeof(failed) - strlen(failed),
					 " [%d: status %#x %s]", i, status,
					 whys[i]);
		}
		sampler_stop(t);
		mm_stats(u, &s1);
		printf("# %d processes: evictions +%llu, pinned peak %llu, max sampled %ld of %ld samples\n",
		       NPROC,
		       (unsigned long long)(s1.ctr[UNET_NIC_tlb_evictions] -
					    s0.ctr[UNET_NIC_tlb_evictions]),
		       (unsigned long long)s1.ctr[UNET_NIC_pinned_peak],
		       sample_max, samples);
		bound = pin_bound(cap, &s1);
		gt_result(ok == NPROC, "ws-16proc-data",
			  "%d of %d processes got all their data; failed:%s",
			  ok, NPROC, failed);
		gt_result(sample_max <= bound, "ws-16proc-pinned-sampled",
			  "pinned_pages %ld sampled, TLB holds %ld", sample_max,
			  bound);
		gt_result((long)s1.ctr[UNET_NIC_pinned_peak] <= bound,
			  "ws-16proc-pinned-peak", "pinned_peak %llu > %ld pages",
			  (unsigned long long)s1.ctr[UNET_NIC_pinned_peak],
			  bound);
		gt_result(mm_wait_ctr_le(u, UNET_NIC_pinned_pages, 0, 10000) == 0,
			  "ws-16proc-unpinned-after", "pinned_pages %ld after all exited",
			  mm_ctr(u, UNET_NIC_pinned_pages));
	}
	unet_close(u);
	return gt_exit();
}
