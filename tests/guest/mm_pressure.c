// SPDX-License-Identifier: MIT
/*
 * U-Net/MM under memory pressure (suite-mm-pressure.sh sets up swap):
 * traffic streams from a 4 MiB send buffer into a 1 MiB receive pool, so
 * the default 1024-entry TLB fills with pinned pages, while a hog process
 * allocates and touches more memory than the guest has (MemTotal + 256 MB,
 * in steps).  The NIC's shrinker must give entries back (tlb_shrunk > 0,
 * pinned_pages below half its level from before the hog at some sample),
 * the traffic must go on with every byte right, and the OOM killer must
 * not take the test (the hog is its preferred victim; if it dies that
 * way, that is fine).
 *
 * With translate=nopin the TLB pins nothing: pinned_pages stays 0 at
 * every sample, the shrinker has nothing to give back (tlb_shrunk does
 * not grow), and reclaim takes the buffers' pages through the notifier
 * (tlb_inval_* grow) while every byte stays right.
 *
 *   mm_pressure [SWAP-KIND]      SWAP-KIND is only printed
 */
#include "mm_common.h"

#define SEND_BYTES	(4u << 20)	/* 1024 pages */
#define POOL_BYTES	(1u << 20)	/* 256 x 4 KiB receive buffers */
#define MSG		UNET_MAX_MSG
#define STEP		(16ul << 20)

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

static volatile bool sampling, hog_running;
static long min_during = -1, max_during, samples_during, swap_used_max_kb;
static struct unet *su;

/* Entries the VM's invalidations removed, whatever the cause. */
static long inval_total(struct unet *u)
{
	return mm_ctr(u, UNET_NIC_tlb_inval_unmap) +
	       mm_ctr(u, UNET_NIC_tlb_inval_protect) +
	       mm_ctr(u, UNET_NIC_tlb_inval_migrate) +
	       mm_ctr(u, UNET_NIC_tlb_inval_other);
}

static void *sampler(void *arg)
{
	(void)arg;
	while (sampling) {
		long v = mm_ctr(su, UNET_NIC_pinned_pages);

		if (hog_running) {
			if (min_during < 0 || v < min_during)
				min_during = v;
			if (v > max_during)
				max_during = v;
			if (samples_during++ % 200 == 0) {
				long used = mm_proc_value("/proc/meminfo",
							  "SwapTotal") -
					    mm_proc_value("/proc/meminfo",
							  "SwapFree");

				if (used > swap_used_max_kb)
					swap_used_max_kb = used;
			}
		}
		usleep(500);
	}
	return NULL;
}

/* Allocates and touches @total bytes in steps; never returns. */
static void hog(int go_fd, size_t total)
{
	size_t done = 0;
	char c;
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (f) {
		fputs("1000", f);
		fclose(f);
	}
	if (read(go_fd, &c, 1) != 1)
		_exit(3);
	while (done < total) {
		size_t n = total - done < STEP ? total - done : STEP, i;
		uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(4);
		/* Not same-filled, so zram must really store the pages. */
		for (i = 0; i < n; i += MM_PAGE)
			p[i] = (uint8_t)(i >> 12 | 1);
		done += n;
	}
	_exit(0);
}

struct traffic {
	struct mm_pair p;
	uint8_t *src, *pool, *scratch;
	long msgs, next;
	char why[160];
};

/* One message from the next 64 KiB of the send buffer; 0 or -1. */
static int one_msg(struct traffic *t)
{
	uint32_t off = (uint32_t)(t->next % (SEND_BYTES / MSG)) * MSG;
	uint32_t seed = (uint32_t)t->next + 1, got = 0;
	long bad;
	int st;

	gt_fill(t->src + off, MSG, seed);
	st = mm_send(&t->p, t->src + off, MSG);
	if (st != UNET_ST_OK) {
		snprintf(t->why, sizeof(t->why), "message %ld: send %s",
			 t->next, mm_st(st));
		return -1;
	}
	st = mm_recv_msg(t->p.rx, t->scratch, MSG, &got, true, NULL, 0, NULL);
	if (st != UNET_ST_OK || got != MSG) {
		snprintf(t->why, sizeof(t->why), "message %ld: rx %s length %u",
			 t->next, mm_st(st), got);
		return -1;
	}
	bad = gt_verify(t->scratch, MSG, seed);
	if (bad >= 0) {
		snprintf(t->why, sizeof(t->why), "message %ld: byte %ld differs",
			 t->next, bad);
		return -1;
	}
	t->next++;
	t->msgs++;
	return 0;
}

/* Pages of [p, p+len) that /proc/self/pagemap shows swapped out. */
static int swapped_pages(const void *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY), n = 0;
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < len; i += MM_PAGE) {
		uint64_t e = 0;
		off_t off = (off_t)(((uintptr_t)p + i) / MM_PAGE * 8);

		if (pread(fd, &e, 8, off) == 8 && (e >> 62 & 1))
			n++;
	}
	close(fd);
	return n;
}

/*
 * MADV_PAGEOUT on buffers the NIC holds translations for: reclaim may take
 * the pages once the agent lets go, and later traffic must use whatever
 * page is mapped then, never the one paged out.
 */
struct traffic;
static int one_msg(struct traffic *t);

static void pageout_checks(struct unet *u, struct traffic *tr)
{
	const size_t len = 8 * MM_PAGE;
	uint8_t *r = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uint8_t *s = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uint8_t *scratch = malloc(len);
	struct mm_pair p;
	uint32_t got = 0;
	int st, sw_r, sw_s, i;
	const char *why = NULL;

	if (!scratch)
		gt_die("alloc");
	mm_pair_init(&p, u, 16);
	/* Warm both: r as a receive buffer, s as a send buffer. */
	gt_fill(s, len, 61);
	if (unet_post_free(p.rx, (uintptr_t)r, len, 0))
		gt_die("post free");
	st = mm_send(&p, s, len);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(p.rx, NULL, 0, &got, false, NULL, 0, NULL);
	if (st != UNET_ST_OK || gt_verify(r, len, 61) >= 0) {
		gt_result(false, "pressure-pageout", "warm-up exchange: %s",
			  mm_st(st));
		goto out;
	}
	/*
	 * Pages the TLB pins are not reclaimable; other traffic pushes
	 * these translations out of the TLB first (two passes over more
	 * pages than it holds), so that the pages can really go to swap.
	 */
	for (i = 0; i < 2 * (int)(SEND_BYTES / MSG); i++)
		if (one_msg(tr)) {
			why = "traffic failed";
			break;
		}
	madvise(r, len, MADV_PAGEOUT);
	madvise(s, len, MADV_PAGEOUT);
	sw_r = swapped_pages(r, len);
	sw_s = swapped_pages(s, len);
	printf("# MADV_PAGEOUT: %d of %zu receive pages and %d of %zu send pages swapped out\n",
	       sw_r, len / MM_PAGE, sw_s, len / MM_PAGE);
	if (!why && gt_verify(r, len, 61) >= 0)
		why = "paged-out receive buffer lost its contents";
	/* New bytes in s (a fresh page if it was swapped); receive into r. */
	gt_fill(s, len, 62);
	if (!why && unet_post_free(p.rx, (uintptr_t)r, len, 0))
		gt_die("post free");
	st = why ? UNET_ST_OK : mm_send(&p, s, len);
	if (!why && st != UNET_ST_OK)
		why = "send failed";
	if (!why) {
		st = mm_recv_msg(p.rx, NULL, 0, &got, false, NULL, 0, NULL);
		if (st != UNET_ST_OK || got != len)
			why = "receive failed";
		else if (gt_verify(r, len, 62) >= 0)
			why = gt_verify(r, len, 61) < 0 ?
			      "receive buffer still holds the old message (NIC wrote a paged-out page, or sent one)" :
			      "receive buffer holds neither message";
	}
	gt_result(!why, "pressure-pageout", "%s", why);
out:
	mm_pair_destroy(&p);
	munmap(r, len);
	munmap(s, len);
	free(scratch);
}

int main(int argc, char **argv)
{
	long memtotal_kb = mm_proc_value("/proc/meminfo", "MemTotal");
	long swap_kb = mm_proc_value("/proc/meminfo", "SwapTotal");
	size_t hog_bytes;
	struct traffic t;
	struct unet *u;
	pthread_t st;
	pid_t pid;
	int go[2], status = 0, i, err = 0;
	long before, shrunk0, shrunk1, after_start = 0, waited, inval0, inval1;
	double t0;

	if (memtotal_kb <= 0)
		gt_die("MemTotal");
	hog_bytes = (size_t)memtotal_kb * 1024 + (256ul << 20);
	printf("# MemTotal %ld MB, swap %ld MB (%s), hog %zu MB\n",
	       memtotal_kb >> 10, swap_kb >> 10, argc > 1 ? argv[1] : "?",
	       hog_bytes >> 20);

	/* The hog is forked first, before any page is pinned, and waits. */
	if (pipe(go))
		gt_die("pipe");
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		close(go[1]);
		hog(go[0], hog_bytes);
	}
	close(go[0]);

	u = gt_open();
	memset(&t, 0, sizeof(t));
	mm_pair_init(&t.p, u, 512);
	t.src = aligned_alloc(MM_PAGE, SEND_BYTES);
	t.pool = aligned_alloc(MM_PAGE, POOL_BYTES);
	t.scratch = malloc(MSG);
	if (!t.src || !t.pool || !t.scratch)
		gt_die("alloc");
	memset(t.pool, 0, POOL_BYTES);
	for (i = 0; i < (int)(POOL_BYTES / MM_PAGE); i++)
		if (unet_post_free(t.p.rx, (uintptr_t)(t.pool + i * MM_PAGE),
				   MM_PAGE, 0))
			gt_die("post free");

	/* Warm: every page of both sides once; the TLB fills up. */
	for (i = 0; i < (int)(SEND_BYTES / MSG) && !err; i++)
		err = one_msg(&t);
	if (err) {
		gt_result(false, "pressure-warmup", "%s", t.why);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return gt_exit();
	}
	before = mm_ctr(u, UNET_NIC_pinned_pages);
	shrunk0 = mm_ctr(u, UNET_NIC_tlb_shrunk);
	inval0 = inval_total(u);
	printf("# before the hog: pinned_pages %ld, tlb_shrunk %ld\n", before,
	       shrunk0);

	su = u;
	sampling = true;
	if (pthread_create(&st, NULL, sampler, NULL))
		gt_die("pthread_create");
	hog_running = true;
	t0 = gt_now_ms();
	if (write(go[1], "g", 1) != 1)
		gt_die("start hog");
	close(go[1]);

	/* Stream while the hog runs (bounded only against hangs). */
	while (!err) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (gt_now_ms() - t0 > 200000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		err = one_msg(&t);
		if (!err)
			after_start++;
	}
	hog_running = false;
	waited = (long)(gt_now_ms() - t0);
	/* And a full pass after it. */
	for (i = 0; i < (int)(SEND_BYTES / MSG) && !err; i++)
		err = one_msg(&t);
	sampling = false;
	pthread_join(st, NULL);
	shrunk1 = mm_ctr(u, UNET_NIC_tlb_shrunk);
	inval1 = inval_total(u);

	printf("# hog %s %d after %ld ms; %ld messages during it; pinned min %ld over %ld samples (before %ld); tlb_shrunk +%ld; swap used up to %ld MB\n",
	       WIFEXITED(status) ? "exited" : "killed by signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
	       waited, after_start, min_during, samples_during, before,
	       shrunk1 - shrunk0, swap_used_max_kb >> 10);

	gt_result(!err, "pressure-data", "%s", t.why);
	gt_result(after_start > 0, "pressure-traffic-during-hog",
		  "no message was delivered while the hog ran");
	gt_result((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
			  (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
		  "pressure-hog-finished",
		  "hog status %#x (neither done nor OOM-killed)", status);
	if (mm_nopin()) {
		printf("# translate=nopin: pinned_pages max %ld during the hog; TLB invalidations +%ld\n",
		       max_during, inval1 - inval0);
		gt_result(before == 0 && max_during == 0 &&
				  mm_ctr(u, UNET_NIC_pinned_peak) == 0,
			  "pressure-nopin-pinned-zero",
			  "pinned_pages %ld before, max %ld during the hog, peak %ld",
			  before, max_during,
			  mm_ctr(u, UNET_NIC_pinned_peak));
		gt_result(shrunk1 == shrunk0, "pressure-nopin-shrinker-idle",
			  "tlb_shrunk grew by %ld: pin-free entries hold no memory",
			  shrunk1 - shrunk0);
	} else {
		gt_result(shrunk1 > shrunk0, "pressure-shrinker-ran",
			  "tlb_shrunk did not grow (%ld)", shrunk1);
		/*
		 * Half, not just lower: a shrinker the kernel calls once in
		 * a run of swapping (one batch of 128) has not given the
		 * memory back.
		 */
		gt_result(min_during >= 0 && min_during < before / 2,
			  "pressure-pinned-fell",
			  "pinned_pages never below half of %ld during the hog (min %ld)",
			  before, min_during);
	}
	if (swap_kb > 0)
		pageout_checks(u, &t);
	mm_pair_destroy(&t.p);
	unet_close(u);
	return gt_exit();
}
