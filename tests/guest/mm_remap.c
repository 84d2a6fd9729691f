// SPDX-License-Identifier: MIT
/*
 * U-Net/MM coherence with the VM: after a buffer's address is unmapped and
 * something else is mapped there (munmap + mmap MAP_FIXED, MAP_FIXED over
 * it, mremap away, madvise(MADV_DONTNEED)), the NIC must use the new
 * mapping, never a page it translated before.  The old page stays
 * observable through a second mapping of the same memfd, so a stale
 * translation shows up as wrong data, not just as a counter.
 */
#include "mm_common.h"

#define NP	2			/* pages per buffer */
#define BLEN	(NP * MM_PAGE)

static struct mm_pair P;
static uint8_t *pool, *heap_src, *scratch;

static void *map_fd_at(void *addr, int fd)
{
	void *p = mmap(addr, BLEN, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (addr ? MAP_FIXED : 0), fd, 0);

	if (p == MAP_FAILED || (addr && p != addr))
		gt_die("mmap memfd");
	return p;
}

/* Send @len from @buf, receive into the heap pool, expect pattern @seed. */
static const char *send_expect(const void *buf, uint32_t len, uint32_t seed)
{
	static char why[128];
	uint32_t got = 0;
	long bad;
	int st;

	if (unet_post_free(P.rx, (uintptr_t)pool, UNET_MAX_MSG, 0))
		gt_die("post free");
	st = mm_send(&P, buf, len);
	if (st != UNET_ST_OK) {
		mm_drain(P.rx, false);
		snprintf(why, sizeof(why), "send status %s", mm_st(st));
		return why;
	}
	st = mm_recv_msg(P.rx, scratch, UNET_MAX_MSG, &got, false, NULL, 0,
			 NULL);
	if (st != UNET_ST_OK || got != len) {
		snprintf(why, sizeof(why), "rx status %s length %u", mm_st(st),
			 got);
		return why;
	}
	bad = gt_verify(scratch, len, seed);
	if (bad >= 0) {
		snprintf(why, sizeof(why),
			 "byte %ld is not the current contents (stale page?)",
			 bad);
		return why;
	}
	return NULL;
}

/* Post @buf, send pattern @seed from the heap, expect status @want_st. */
static int recv_at(void *buf, uint32_t len, uint32_t seed)
{
	uint32_t got = 0;
	int st;

	if (unet_post_free(P.rx, (uintptr_t)buf, len, 0))
		gt_die("post free");
	gt_fill(heap_src, len, seed);
	st = mm_send(&P, heap_src, len);
	if (st != UNET_ST_OK)
		return -100 - st;
	return mm_recv_msg(P.rx, NULL, 0, &got, false, NULL, 0, NULL);
}

static void send_remap(bool explicit_munmap, bool anon_replacement)
{
	char name[64];
	int fa = mm_memfd("remap-a", BLEN), fb = -1;
	uint8_t *x = map_fd_at(NULL, fa), *y = map_fd_at(NULL, fa);
	const char *why;
	long bad;

	snprintf(name, sizeof(name), "remap-send-%s-%s",
		 explicit_munmap ? "munmap-mmap" : "mapfixed-over",
		 anon_replacement ? "anon" : "memfd");
	gt_fill(x, BLEN, 101);
	why = send_expect(x, BLEN, 101);		/* warms the TLB */
	if (why) {
		gt_result(false, name, "first send: %s", why);
		goto out;
	}
	if (explicit_munmap && munmap(x, BLEN))
		gt_die("munmap");
	if (anon_replacement) {
		if (mmap(x, BLEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != x)
			gt_die("mmap fixed anon");
	} else {
		fb = mm_memfd("remap-b", BLEN);
		map_fd_at(x, fb);
	}
	gt_fill(x, BLEN, 102);
	bad = gt_verify(y, BLEN, 101);
	if (bad >= 0) {
		gt_result(false, name, "old page changed (setup)");
		goto out;
	}
	why = send_expect(x, BLEN, 102);
	gt_result(!why, name, "second send: %s", why);
out:
	munmap(x, BLEN);
	munmap(y, BLEN);
	close(fa);
	if (fb >= 0)
		close(fb);
}

static void recv_remap(void)
{
	const char *name = "remap-recv-munmap-mmap";
	int fa = mm_memfd("recv-a", BLEN), fb = mm_memfd("recv-b", BLEN);
	uint8_t *x = map_fd_at(NULL, fa), *y = map_fd_at(NULL, fa);
	long bad;
	int st;

	st = recv_at(x, BLEN, 201);			/* warms the TLB */
	bad = gt_verify(y, BLEN, 201);
	if (st != UNET_ST_OK || bad >= 0) {
		gt_result(false, name, "first receive: status %d, byte %ld", st,
			  bad);
		goto out;
	}
	if (munmap(x, BLEN))
		gt_die("munmap");
	map_fd_at(x, fb);
	memset(x, 0, BLEN);
	st = recv_at(x, BLEN, 202);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "second receive: status %d", st);
		goto out;
	}
	bad = gt_verify(x, BLEN, 202);
	if (bad >= 0) {
		gt_result(false, name,
			  "new mapping byte %ld lacks the message", bad);
		goto out;
	}
	bad = gt_verify(y, BLEN, 201);
	gt_result(bad < 0, name,
		  "old page (seen at Y) was written at byte %ld", bad);

	/* Posted, warm, then unmapped with nothing in its place. */
	name = "remap-recv-munmap-hole";
	st = recv_at(y, BLEN, 203);			/* warm Y */
	if (st != UNET_ST_OK) {
		gt_result(false, name, "warm receive: status %d", st);
		goto out;
	}
	{
		uint8_t *z = map_fd_at(NULL, fa);	/* the page, elsewhere */

		if (munmap(y, BLEN))
			gt_die("munmap");
		st = recv_at(y, BLEN, 204);
		bad = gt_verify(z, BLEN, 203);
		gt_result(st == UNET_ST_BAD_ADDR && bad < 0, name,
			  "rx status %s (want bad address), old page byte %ld changed",
			  mm_st(st), bad);
		munmap(z, BLEN);
		y = map_fd_at(y, fa);
	}
out:
	munmap(x, BLEN);
	munmap(y, BLEN);
	close(fa);
	close(fb);
}

static void mremap_checks(void)
{
	const size_t len = 4 * MM_PAGE;
	uint8_t *a = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uint8_t *b = mm_hole(len), *nb;
	const char *why;

	gt_fill(a, len, 301);
	why = send_expect(a, len, 301);
	if (why) {
		gt_result(false, "remap-mremap-send-new", "first send: %s", why);
		return;
	}
	nb = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	if (nb == MAP_FAILED)
		gt_die("mremap");
	/* Same pages, new address: the contents travel with them. */
	why = send_expect(nb, len, 301);
	if (!why) {
		gt_fill(nb, len, 302);
		why = send_expect(nb, len, 302);
	}
	gt_result(!why, "remap-mremap-send-new", "%s", why);

	/* Something new at the old address: not the moved pages. */
	if (mmap(a, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a)
		gt_die("mmap old address");
	gt_fill(a, len, 303);
	why = send_expect(a, len, 303);
	gt_result(!why, "remap-mremap-send-old-address", "%s", why);

	/* And receive into the moved buffer. */
	{
		int st = recv_at(nb, len, 304);
		long bad = gt_verify(nb, len, 304);

		gt_result(st == UNET_ST_OK && bad < 0, "remap-mremap-recv-new",
			  "status %d, byte %ld", st, bad);
	}
	munmap(a, len);
	munmap(nb, len);
}

static void dontneed_checks(void)
{
	const size_t len = 4 * MM_PAGE;
	uint8_t *r = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	const char *why;
	long bad;
	int st;

	memset(r, 1, len);
	st = recv_at(r, len, 401);
	bad = gt_verify(r, len, 401);
	if (st != UNET_ST_OK || bad >= 0) {
		gt_result(false, "remap-dontneed-recv", "first receive: %d %ld",
			  st, bad);
		return;
	}
	if (madvise(r, len, MADV_DONTNEED))
		gt_die("madvise");
	bad = mm_check_fill(r, len, 0);
	if (bad >= 0) {
		gt_result(false, "remap-dontneed-recv", "not zero after DONTNEED");
		return;
	}
	st = recv_at(r, len, 402);
	bad = gt_verify(r, len, 402);
	gt_result(st == UNET_ST_OK && bad < 0, "remap-dontneed-recv",
		  "status %d, byte %ld of the buffer lacks the message (written to the discarded page?)",
		  st, bad);

	/* A send buffer discarded and refilled sends the new bytes. */
	gt_fill(r, len, 403);
	why = send_expect(r, len, 403);
	if (!why) {
		madvise(r, len, MADV_DONTNEED);
		gt_fill(r, len, 404);
		why = send_expect(r, len, 404);
	}
	gt_result(!why, "remap-dontneed-send", "%s", why);
	munmap(r, len);
}

/*
 * mprotect(PROT_READ) on a warm receive buffer: the NIC must not keep
 * writing through its old writable translation.
 */
static void mprotect_checks(void)
{
	const size_t len = 2 * MM_PAGE;
	uint8_t *r = mm_map_anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	long bad;
	int st;

	memset(r, 1, len);
	st = recv_at(r, len, 501);			/* warm, writable */
	if (st != UNET_ST_OK || gt_verify(r, len, 501) >= 0) {
		gt_result(false, "remap-mprotect-readonly-recv",
			  "first receive: %d", st);
		return;
	}
	if (mprotect(r, len, PROT_READ))
		gt_die("mprotect");
	st = recv_at(r, len, 502);
	bad = gt_verify(r, len, 501);
	gt_result(st == UNET_ST_NO_ACCESS && bad < 0,
		  "remap-mprotect-readonly-recv",
		  "rx status %s (want buffer not writable); read-only buffer %s",
		  mm_st(st), bad < 0 ? "unchanged" : "was written");
	if (mprotect(r, len, PROT_READ | PROT_WRITE))
		gt_die("mprotect");
	st = recv_at(r, len, 503);
	gt_result(st == UNET_ST_OK && gt_verify(r, len, 503) < 0,
		  "remap-mprotect-writable-again-recv", "status %s", mm_st(st));
	munmap(r, len);
}

/*
 * A thread streams sends from X while the main thread keeps mapping a
 * different memfd over X (MAP_FIXED), each filled with its own pattern.
 * A send posted after generation g was mapped may only carry pages of g
 * (or of g+1, mapped while it was in flight): never a page the NIC
 * translated before that mmap returned.
 */
#define RACE_GENS	8
#define RACE_LEN	(4 * MM_PAGE)
#define RACE_ROUNDS	150

static uint8_t *race_x;
static uint8_t *race_want[RACE_GENS];
static volatile int race_gen, race_done_gen = -1, race_stop;
static char race_why[192];
static long race_ok, race_badaddr;

static int page_gen(const uint8_t *p, int pg)
{
	int k;

	for (k = 0; k < RACE_GENS; k++)
		if (!memcmp(p, race_want[k] + pg * MM_PAGE, MM_PAGE))
			return k;
	return -1;
}

static void *race_stream(void *arg)
{
	uint8_t *buf = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	uint8_t *out = malloc(RACE_LEN);

	(void)arg;
	while (!race_stop && buf && out) {
		int g = __atomic_load_n(&race_gen, __ATOMIC_ACQUIRE), pg, st;
		uint32_t got = 0;

		if (unet_post_free(P.rx, (uintptr_t)buf, UNET_MAX_MSG, 0))
			break;
		st = mm_send(&P, race_x, RACE_LEN);
		if (st == UNET_ST_BAD_ADDR) {
			mm_drain(P.rx, false);
			race_badaddr++;
		} else if (st != UNET_ST_OK) {
			snprintf(race_why, sizeof(race_why), "send %s", mm_st(st));
			break;
		} else {
			st = mm_recv_msg(P.rx, out, RACE_LEN, &got, false, NULL,
					 0, NULL);
			if (st != UNET_ST_OK || got != RACE_LEN) {
				snprintf(race_why, sizeof(race_why),
					 "rx %s length %u", mm_st(st), got);
				break;
			}
			for (pg = 0; pg < (int)(RACE_LEN / MM_PAGE); pg++) {
				int k = page_gen(out + pg * MM_PAGE, pg);

				if (k != g % RACE_GENS &&
				    k != (g + 1) % RACE_GENS) {
					snprintf(race_why, sizeof(race_why),
						 "send posted at generation %d carried page %d of generation %d%s",
						 g, pg, k,
						 k == (g + RACE_GENS - 1) % RACE_GENS ?
						 " (the one unmapped before it was posted: stale)" :
						 "");
					goto out;
				}
			}
			race_ok++;
		}
		__atomic_store_n(&race_done_gen, g, __ATOMIC_RELEASE);
	}
out:
	race_stop = 1;
	free(buf);
	free(out);
	return NULL;
}

static void remap_race(void)
{
	int fds[RACE_GENS], k, r;
	pthread_t t;

	for (k = 0; k < RACE_GENS; k++) {
		race_want[k] = malloc(RACE_LEN);
		if (!race_want[k])
			gt_die("alloc");
		gt_fill(race_want[k], RACE_LEN, 7000 + k);
		fds[k] = mm_memfd("race", RACE_LEN);
		if (pwrite(fds[k], race_want[k], RACE_LEN, 0) != RACE_LEN)
			gt_die("pwrite");
	}
	race_x = mmap(NULL, RACE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[0], 0);
	if (race_x == MAP_FAILED)
		gt_die("mmap");
	if (pthread_create(&t, NULL, race_stream, NULL))
		gt_die("pthread_create");
	for (r = 1; r <= RACE_ROUNDS && !race_stop; r++) {
		double end;

		if (mmap(race_x, RACE_LEN, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fds[r % RACE_GENS], 0) != race_x)
			gt_die("mmap fixed");
		__atomic_store_n(&race_gen, r, __ATOMIC_RELEASE);
		/* Until a send posted at this generation has completed. */
		end = gt_now_ms() + MM_TIMEOUT_MS;
		while (!race_stop &&
		       __atomic_load_n(&race_done_gen, __ATOMIC_ACQUIRE) < r &&
		       gt_now_ms() < end)
			usleep(20);
		if (gt_now_ms() >= end) {
			snprintf(race_why, sizeof(race_why), "stream stalled");
			break;
		}
	}
	race_stop = 1;
	pthread_join(t, NULL);
	printf("# remap race: %d generations, %ld good sends, %ld bad-address\n",
	       r - 1, race_ok, race_badaddr);
	gt_result(!race_why[0] && race_ok > 0, "remap-race-mapfixed-vs-send",
		  "%s", race_why[0] ? race_why : "no send got through");
	munmap(race_x, RACE_LEN);
	for (k = 0; k < RACE_GENS; k++) {
		close(fds[k]);
		free(race_want[k]);
	}
}

int main(void)
{
	struct unet_nic_stats s0, s1;
	struct unet *u = gt_open();

	mm_pair_init(&P, u, 64);
	pool = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	heap_src = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	scratch = malloc(UNET_MAX_MSG);
	if (!pool || !heap_src || !scratch)
		gt_die("alloc");
	mm_stats(u, &s0);

	send_remap(true, false);
	send_remap(true, true);
	send_remap(false, false);
	send_remap(false, true);
	recv_remap();
	mremap_checks();
	dontneed_checks();
	mprotect_checks();
	remap_race();

	mm_stats(u, &s1);
	printf("# tlb_inval_unmap +%llu, tlb_inval_other +%llu\n",
	       (unsigned long long)(s1.ctr[UNET_NIC_tlb_inval_unmap] -
				    s0.ctr[UNET_NIC_tlb_inval_unmap]),
	       (unsigned long long)(s1.ctr[UNET_NIC_tlb_inval_other] -
				    s0.ctr[UNET_NIC_tlb_inval_other]));
	gt_result(s1.ctr[UNET_NIC_tlb_inval_unmap] >
			  s0.ctr[UNET_NIC_tlb_inval_unmap],
		  "remap-inval-unmap-counted", "tlb_inval_unmap did not grow");
	mm_pair_destroy(&P);
	unet_close(u);
	return gt_exit();
}
