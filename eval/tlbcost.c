// SPDX-License-Identifier: MIT
/*
 * tlbcost: what the NIC's TLB costs, measured through the loopback path of
 * one process (endpoint A sends, endpoint B echoes, both MM mode).
 *
 *   hit_rtt      round trip of a 1 KiB message, buffers warm in the TLB
 *   cold_rtt     the same with every buffer on a page the TLB lacks
 *   miss_resident  agent service time for a resident page
 *   miss_fault     ... for a page that must be faulted in (first touch)
 *   miss_swapped   ... for a page swapped out (needs swap in the guest)
 *
 *   misses_per_64k_cold  sender misses per 64 KiB message sent from pages
 *                  the TLB has never seen (4 KiB pages)
 *   thp_misses_per_mib   sender misses per MiB streamed from a 2 MiB
 *                  transparent huge page (null if the kernel gave none)
 *
 * Miss service times come from the NIC's own counters (time from the
 * NIC posting a miss to the translation being installed); miss counts
 * from the sending endpoint's.
 *
 *   tlbcost [-n ITERS] [--json]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "eval_pair.h"

#define die(what, err)	eval_die("tlbcost", (what), (err))

#include "unet.h"

#define MSG	1024
#define PAGE	4096

static struct unet *u;
static struct unet_ep *a, *b;
static int ch_ab, ch_ba;



static void recv_one(struct unet_ep *ep, struct unet_recv *r)
{
	double end = eval_now_us() + 10e6;

	while (unet_recv_poll(ep, r) == 0)
		if (eval_now_us() > end) {
			errno = ETIMEDOUT;
			die("no message arrived", errno);
		}
	if (r->status != UNET_ST_OK) {
		fprintf(stderr, "tlbcost: rx status %s\n",
			unet_status_str(r->status));
		exit(1);
	}
}

static void send_one(struct unet_ep *ep, int ch, void *buf)
{
	struct unet_send_comp c;
	int n;

	if (unet_send_buf(ep, ch, buf, MSG, 0))
		die("send", errno);
	while ((n = unet_send_poll(ep, &c, 1)) == 0)
		;
	if (n < 0 || c.status != UNET_ST_OK) {
		fprintf(stderr, "tlbcost: send status %s\n",
			unet_status_str(c.status));
		exit(1);
	}
}

/* Receives on @ep and gives its buffer back at @next (or the same one). */
static void recv_repost(struct unet_ep *ep, uint64_t next)
{
	struct unet_recv r;
	struct unet_buf buf;

	recv_one(ep, &r);
	buf = *unet_recv_buf(ep, &r, 0);
	unet_recv_done(ep, &r);
	if (unet_post_free(ep, next ? next : buf.addr, buf.len, 0))
		die("post free", errno);
}

/*
 * One round trip: A sends from @abuf, B receives into its next free buffer
 * and echoes from @bbuf, A receives.  Receive buffers are replaced by the
 * next page of @pool when @pool is set (cold), else reused (warm).
 */
static double round_trip(char *abuf, char *bbuf, char *pool, size_t *pi,
			 size_t npool)
{
	double t0 = eval_now_us();
	uint64_t na = 0, nb = 0;

	if (pool) {
		na = (uint64_t)(uintptr_t)(pool + (*pi % npool) * PAGE);
		nb = (uint64_t)(uintptr_t)(pool + ((*pi + 1) % npool) * PAGE);
		*pi += 2;
	}
	send_one(a, ch_ab, abuf);
	recv_repost(b, nb);
	send_one(b, ch_ba, bbuf);
	recv_repost(a, na);
	return eval_now_us() - t0;
}

struct miss_sample {
	uint64_t ns;
	uint64_t served;
};

static struct miss_sample miss_now(void)
{
	struct unet_nic_stats st;
	struct miss_sample s = { 0 };
	int i;

	if (unet_nic_stats(u, 0, &st))
		die("nic stats", errno);
	s.ns = st.ctr[UNET_NIC_miss_ns_total];
	for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
		s.served += st.miss_hist[i];
	return s;
}

static double miss_us(struct miss_sample before)
{
	struct miss_sample after = miss_now();

	if (after.served == before.served)
		return -1;
	return (after.ns - before.ns) / 1e3 / (after.served - before.served);
}

static char *map_pages(size_t n)
{
	char *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", errno);
	madvise(p, n * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/* Sends one message from each page of @pages; returns the mean miss time. */
static double send_from_each(char *pages, size_t n)
{
	struct miss_sample before = miss_now();
	size_t i;

	for (i = 0; i < n; i++) {
		send_one(a, ch_ab, pages + i * PAGE);
		recv_repost(b, 0);
	}
	return miss_us(before);
}

/* Is the page swapped out?  Bit 62 of its pagemap entry. */
static bool swapped(int pagemap, void *p)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)p / PAGE) * 8;

	return pread(pagemap, &e, 8, off) == 8 && (e >> 62 & 1);
}

static double miss_swapped(size_t n, const char **why)
{
	char *pages = map_pages(n);
	size_t i, out = 0;
	int pm;

	memset(pages, 0x5a, n * PAGE);
#ifdef MADV_PAGEOUT
	if (madvise(pages, n * PAGE, MADV_PAGEOUT)) {
		*why = "madvise(MADV_PAGEOUT) failed";
		return -1;
	}
#else
	*why = "MADV_PAGEOUT not available";
	return -1;
#endif
	pm = open("/proc/self/pagemap", O_RDONLY);
	for (i = 0; pm >= 0 && i < n; i++)
		out += swapped(pm, pages + i * PAGE);
	if (pm >= 0)
		close(pm);
	if (out < n / 2) {
		*why = "pages were not swapped out (no swap in this guest?)";
		return -1;
	}
	return send_from_each(pages, n);
}

#define BIG	65536
#define HUGE_SZ	(2u << 20)

static long ep_misses(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		die("endpoint stats", errno);
	return (long)st.ctr[UNET_CTR_tlb_misses];
}

/*
 * Sends @n 64 KiB messages from @src (consecutive) on a fresh pair of
 * endpoints into one warm 64 KiB receive buffer; the sender's misses.
 */
static long stream_misses(char *src, size_t n)
{
	struct unet_ep_attr attr;
	uint8_t addr[UNET_ADDR_LEN];
	size_t len = sizeof(addr), i;
	struct unet_ep *s, *r;
	char *rx = map_pages(BIG / PAGE);
	long m0, m1;
	int ch;

	unet_ep_attr_init(&attr);
	s = unet_ep_create(u, &attr);
	r = unet_ep_create(u, &attr);
	if (!s || !r || unet_ep_addr(r, addr, &len))
		die("create endpoints", errno);
	ch = unet_chan_create(s, addr, len);
	len = sizeof(addr);
	if (ch < 0 || unet_ep_addr(s, addr, &len) ||
	    unet_chan_create(r, addr, len) < 0)
		die("create channels", errno);
	memset(rx, 0, BIG);
	if (unet_post_free(r, (uintptr_t)rx, BIG, 0))
		die("post free", errno);
	m0 = ep_misses(s);
	for (i = 0; i < n; i++) {
		struct unet_send_comp c;
		int k;

		if (unet_send_buf(s, ch, src + i * BIG, BIG, 0))
			die("send", errno);
		while ((k = unet_send_poll(s, &c, 1)) == 0)
			;
		if (k < 0 || c.status != UNET_ST_OK) {
			fprintf(stderr, "tlbcost: send status %s\n",
				unet_status_str(c.status));
			exit(1);
		}
		recv_repost(r, 0);
	}
	m1 = ep_misses(s);
	unet_ep_destroy(s);
	unet_ep_destroy(r);
	munmap(rx, BIG);
	return m1 - m0;
}

/* Whether [p, p + len) is backed by huge pages (AnonHugePages). */
static long anon_huge_kb(const void *p)
{
	char line[512];
	unsigned long a = (unsigned long)(uintptr_t)p, lo, hi;
	long v = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "AnonHugePages:", 14)) {
			v = atol(line + 14);
			break;
		}
	}
	fclose(f);
	return v;
}

static double thp_misses_per_mib(void)
{
	char *raw = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	long m;

	if (raw == MAP_FAILED)
		die("mmap", errno);
	p = (char *)(((uintptr_t)raw + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
	madvise(p, HUGE_SZ, MADV_HUGEPAGE);
	memset(p, 7, HUGE_SZ);
	if (anon_huge_kb(p) < 2048) {
		munmap(raw, 2 * HUGE_SZ);
		return -1;
	}
	m = stream_misses(p, HUGE_SZ / BIG);
	munmap(raw, 2 * HUGE_SZ);
	return m / 2.0;
}

static void setup(void)
{
	struct unet_ep_attr attr;
	struct eval_pair p;

	unet_ep_attr_init(&attr);
	eval_pair_open("tlbcost", &p, &attr);
	u = p.u;
	a = p.a;
	b = p.b;
	ch_ab = p.ch_ab;
	ch_ba = p.ch_ba;
}

int main(int argc, char **argv)
{
	int iters = 200, json = 0, i;
	struct unet_nic_info info;
	const char *swap_why = NULL;
	double *samples, hit, cold, resident, fault, swp, cold64, thp;
	char *abuf, *bbuf, *pool, *fresh;
	size_t pi = 0, npool, nres = 128;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			iters = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr, "usage: tlbcost [-n ITERS] [--json]\n");
			return 2;
		}
	}
	if (iters < 10)
		iters = 10;
	setup();
	unet_nic_info(u, 0, &info);
	samples = calloc(iters, sizeof(*samples));
	abuf = map_pages(1);
	bbuf = map_pages(1);
	memset(abuf, 1, PAGE);
	memset(bbuf, 2, PAGE);

	/* Warm: the same two receive buffers every time. */
	pool = map_pages(2);
	memset(pool, 0, 2 * PAGE);
	unet_post_free(a, (uintptr_t)pool, PAGE, 0);
	unet_post_free(b, (uintptr_t)(pool + PAGE), PAGE, 0);
	for (i = 0; i < 20; i++)
		round_trip(abuf, bbuf, NULL, NULL, 0);
	for (i = 0; i < iters; i++)
		samples[i] = round_trip(abuf, bbuf, NULL, NULL, 0);
	hit = eval_median(samples, iters);

	/* Cold: every buffer a page the TLB has not seen lately. */
	npool = 4 * (size_t)info.tlb_entries;
	{
		char *sa = map_pages(npool), *sb = map_pages(npool);
		char *rx = map_pages(npool);
		size_t k;

		memset(sa, 1, npool * PAGE);
		memset(sb, 2, npool * PAGE);
		memset(rx, 0, npool * PAGE);
		for (i = 0; i < iters; i++) {
			k = (size_t)i * 7 % npool;
			samples[i] = round_trip(sa + k * PAGE, sb + k * PAGE,
						rx, &pi, npool);
		}
		cold = eval_median(samples, iters);
	}

	/* A resident page: touched, never used by the NIC. */
	fresh = map_pages(nres);
	memset(fresh, 3, nres * PAGE);
	resident = send_from_each(fresh, nres);

	/* A page faulted in on first touch: untouched receive buffers. */
	{
		struct miss_sample before;
		char *untouched = map_pages(nres);
		size_t k;

		/* Drain B's posted buffer so the next ones come from here. */
		before = miss_now();
		for (k = 0; k < nres; k++) {
			send_one(a, ch_ab, abuf);
			recv_repost(b, (uintptr_t)(untouched + k * PAGE));
		}
		fault = miss_us(before);
	}

	swp = miss_swapped(nres, &swap_why);

	/* 64 KiB messages from cold 4 KiB pages, then from a THP. */
	{
		size_t nbig = 16;
		char *big = map_pages(nbig * BIG / PAGE);

		memset(big, 9, nbig * BIG);
		cold64 = (double)stream_misses(big, nbig) / nbig;
		munmap(big, nbig * BIG);
		thp = thp_misses_per_mib();
	}

	if (json) {
		printf("{\"tool\":\"tlbcost\",\"entries\":%u,\"ways\":%u,"
		       "\"hit_rtt_us\":%.2f,\"cold_rtt_us\":%.2f,"
		       "\"miss_resident_us\":%.2f,\"miss_fault_us\":%.2f,",
		       info.tlb_entries, info.tlb_ways, hit, cold, resident,
		       fault);
		printf("\"misses_per_64k_cold\":%.2f,", cold64);
		if (thp < 0)
			printf("\"thp_misses_per_mib\":null,");
		else
			printf("\"thp_misses_per_mib\":%.2f,", thp);
		if (swp < 0)
			printf("\"miss_swapped_us\":null,\"swapped_note\":\"%s\"}\n",
			       swap_why ? swap_why : "no misses served");
		else
			printf("\"miss_swapped_us\":%.2f}\n", swp);
	} else {
		printf("TLB %u entries, %u-way\n", info.tlb_entries,
		       info.tlb_ways);
		printf("round trip, warm TLB   %8.2f us\n", hit);
		printf("round trip, cold TLB   %8.2f us\n", cold);
		printf("miss, page resident    %8.2f us\n", resident);
		printf("miss, page faulted in  %8.2f us\n", fault);
		if (swp < 0)
			printf("miss, page swapped out      n/a (%s)\n",
			       swap_why ? swap_why : "no misses served");
		else
			printf("miss, page swapped out %8.2f us\n", swp);
		printf("misses per cold 64 KiB %8.2f\n", cold64);
		if (thp < 0)
			printf("misses per MiB of THP      n/a (no huge page)\n");
		else
			printf("misses per MiB of THP  %8.2f\n", thp);
	}
	unet_ep_destroy(a);
	unet_ep_destroy(b);
	unet_close(u);
	return 0;
}
