// SPDX-License-Identifier: MIT
/*
 * U-Net/MM coherence with page migration: the pages of a buffer the NIC
 * has translations for are moved to other page frames (soft offline of
 * each page, which migrates it and retires the old frame; and, alongside,
 * compaction of all memory), then the process writes or the NIC sends
 * again.  The NIC must use the new frames: a send must carry what the
 * process wrote after the move, a receive must land where the process
 * reads.  A translation that outlived the move would read or write the
 * retired frame, which the checks below see as wrong data.
 *
 *   migrate-send       send, move the send buffer's pages, write, send
 *   migrate-recv       receive, move the receive buffer's pages, receive
 *   migrate-compact    a thread compacts memory while messages stream
 *   migrate-moved      (translate=nopin) some page did move: with no pin
 *                      nothing may hold a page in place
 *
 * Needs root (the guest's) for /proc/self/pagemap frame numbers and
 * /sys/devices/system/memory/soft_offline_page; without them the data
 * checks still run and the moves are reported as unavailable.
 */
#include "mm_common.h"

#define NP	16			/* pages per buffer: 64 KiB */
#define BLEN	(NP * MM_PAGE)
#define ROUNDS	6

static struct mm_pair P;
static uint8_t *scratch, *heap_src;
static long moved, tried;

static uint64_t pfn_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e),
		  (off_t)((uintptr_t)addr / MM_PAGE) * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	if (!(e & (1ull << 63)))
		return 0;		/* not present */
	return e & ((1ull << 55) - 1);
}

/* Moves each page of [buf, buf + BLEN) to another frame if it can. */
static void move_pages_of(uint8_t *buf)
{
	int i;

	for (i = 0; i < NP; i++) {
		uint64_t pfn = pfn_of(buf + i * MM_PAGE), now;
		FILE *f;

		if (!pfn)
			continue;
		f = fopen("/sys/devices/system/memory/soft_offline_page", "w");
		if (!f)
			return;
		tried++;
		fprintf(f, "%#llx\n", (unsigned long long)(pfn * MM_PAGE));
		fclose(f);		/* the write's error, if any, is here */
		now = pfn_of(buf + i * MM_PAGE);
		if (now && now != pfn)
			moved++;
	}
}

static uint8_t *buffer(void)
{
	uint8_t *b = mm_map_anon(BLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	/* 4 KiB pages: each one moves on its own. */
	madvise(b, BLEN, MADV_NOHUGEPAGE);
	memset(b, 0, BLEN);
	return b;
}

/* Sends @buf, expects pattern @seed at the receiver. */
static int send_expect(const uint8_t *buf, uint32_t seed, char *why,
		       size_t n)
{
	uint32_t got = 0;
	int st;

	if (unet_post_free(P.rx, (uintptr_t)heap_src, BLEN, 0))
		gt_die("post free");
	st = mm_send(&P, buf, BLEN);
	if (st != UNET_ST_OK) {
		mm_drain(P.rx, false);
		snprintf(why, n, "send status %s", mm_st(st));
		return -1;
	}
	st = mm_recv_msg(P.rx, scratch, BLEN, &got, false, NULL, 0, NULL);
	if (st != UNET_ST_OK || got != BLEN) {
		snprintf(why, n, "receive status %s, %u bytes", mm_st(st), got);
		return -1;
	}
	if (gt_verify(scratch, BLEN, seed) >= 0) {
		snprintf(why, n, "sent the pages from before the move");
		return -1;
	}
	return 0;
}

/* Receives pattern @seed into @buf, checks it where the process reads. */
static int recv_expect(uint8_t *buf, uint32_t seed, char *why, size_t n)
{
	uint32_t got = 0;
	int st;

	if (unet_post_free(P.rx, (uintptr_t)buf, BLEN, 0))
		gt_die("post free");
	gt_fill(scratch, BLEN, seed);
	st = mm_send(&P, scratch, BLEN);
	if (st != UNET_ST_OK) {
		mm_drain(P.rx, false);
		snprintf(why, n, "send status %s", mm_st(st));
		return -1;
	}
	st = mm_recv_msg(P.rx, NULL, 0, &got, false, NULL, 0, NULL);
	if (st != UNET_ST_OK || got != BLEN) {
		snprintf(why, n, "receive status %s, %u bytes", mm_st(st), got);
		return -1;
	}
	if (gt_verify(buf, BLEN, seed) >= 0) {
		snprintf(why, n, "received into the pages from before the move");
		return -1;
	}
	return 0;
}

static void migrate_send(void)
{
	uint8_t *b = buffer();
	char why[128] = "";
	int r;

	for (r = 0; r < ROUNDS && !why[0]; r++) {
		gt_fill(b, BLEN, 1000 + 2 * r);
		if (send_expect(b, 1000 + 2 * r, why, sizeof(why)))
			break;
		move_pages_of(b);
		gt_fill(b, BLEN, 1001 + 2 * r);
		send_expect(b, 1001 + 2 * r, why, sizeof(why));
	}
	gt_result(!why[0], "migrate-send", "round %d: %s", r, why);
	munmap(b, BLEN);
}

static void migrate_recv(void)
{
	uint8_t *b = buffer();
	char why[128] = "";
	int r;

	for (r = 0; r < ROUNDS && !why[0]; r++) {
		if (recv_expect(b, 2000 + 2 * r, why, sizeof(why)))
			break;
		move_pages_of(b);
		recv_expect(b, 2001 + 2 * r, why, sizeof(why));
	}
	gt_result(!why[0], "migrate-recv", "round %d: %s", r, why);
	munmap(b, BLEN);
}

static volatile int compact_stop;
static long compactions;

static void *compactor(void *arg)
{
	(void)arg;
	while (!compact_stop) {
		FILE *f = fopen("/proc/sys/vm/compact_memory", "w");

		if (!f)
			break;
		fputs("1\n", f);
		fclose(f);
		compactions++;
		usleep(20000);
	}
	return NULL;
}

static void migrate_compact(void)
{
	uint8_t *s = buffer(), *d = buffer();
	char why[128] = "";
	pthread_t t;
	double end;
	long msgs = 0;

	if (pthread_create(&t, NULL, compactor, NULL))
		gt_die("pthread_create");
	end = gt_now_ms() + 3000;
	while (!why[0] && gt_now_ms() < end) {
		gt_fill(s, BLEN, 3000 + msgs);
		if (send_expect(s, 3000 + msgs, why, sizeof(why)))
			break;
		recv_expect(d, 5000 + msgs, why, sizeof(why));
		msgs++;
	}
	compact_stop = 1;
	pthread_join(t, NULL);
	printf("# migrate: %ld messages each way over %ld compactions\n",
	       msgs, compactions);
	gt_result(!why[0], "migrate-compact", "message %ld: %s", msgs, why);
	munmap(s, BLEN);
	munmap(d, BLEN);
}

static unsigned long long inval(const struct unet_nic_stats *s)
{
	return s->ctr[UNET_NIC_tlb_inval_unmap] +
	       s->ctr[UNET_NIC_tlb_inval_protect] +
	       s->ctr[UNET_NIC_tlb_inval_migrate] +
	       s->ctr[UNET_NIC_tlb_inval_other];
}

int main(void)
{
	struct unet_nic_stats s0, s1;
	struct unet *u = gt_open();

	mm_pair_init(&P, u, 64);
	scratch = aligned_alloc(MM_PAGE, BLEN);
	heap_src = aligned_alloc(MM_PAGE, BLEN);
	if (!scratch || !heap_src)
		gt_die("alloc");
	mm_stats(u, &s0);

	migrate_send();
	migrate_recv();
	migrate_compact();

	mm_stats(u, &s1);
	printf("# migrate: %ld of %ld pages moved by soft offline; TLB invalidations +%llu, pinned_pages peak %llu%s\n",
	       moved, tried, inval(&s1) - inval(&s0),
	       (unsigned long long)s1.ctr[UNET_NIC_pinned_peak],
	       tried ? "" : " (soft offline unavailable)");
	if (mm_nopin())
		gt_result(!tried || moved > 0, "migrate-moved",
			  "none of %ld pages moved with translate=nopin",
			  tried);
	mm_pair_destroy(&P);
	unet_close(u);
	return gt_exit();
}
