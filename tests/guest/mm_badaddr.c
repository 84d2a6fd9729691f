// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: buffers a process may not use.  Sends from NULL, a kernel
 * address, an unmapped hole, PROT_NONE memory and a range running from
 * mapped into unmapped memory complete with UNET_ST_BAD_ADDR; receive
 * buffers at such addresses come back on the receive queue with
 * BAD_ADDR, a read-only one with NO_ACCESS; sending from read-only memory
 * works.  Page cache of a block device (a disk's, written back) is refused
 * as a receive buffer with NO_ACCESS and is fine to send from.  After every case the endpoints still deliver correct messages
 * (and the guest must not oops: the harness fails the run if it does).
 */
#include "mm_common.h"

#define KADDR	0xffff888000000000ull

/*
 * A range nothing is mapped at, found right before use (a range freed
 * earlier may have been reused by a later mmap).
 */
static uint64_t hole_now(void)
{
	uint8_t *h = mm_hole(4 * MM_PAGE);

	if (msync(h, 4 * MM_PAGE, MS_ASYNC) == 0 || errno != ENOMEM)
		gt_die("hole is mapped");
	return (uintptr_t)h;
}

static struct mm_pair P;
static uint8_t *pool, *heap_src, *scratch;
static int case_no;
static bool pool_posted;	/* the pool buffer sits in the free queue */

static void post_pool(void)
{
	if (pool_posted)
		return;
	if (unet_post_free(P.rx, (uintptr_t)pool, UNET_MAX_MSG, 0))
		gt_die("post free");
	pool_posted = true;
}

/* Exchange one good message; NULL or why not. */
static const char *still_works(void)
{
	static char why[128];
	uint32_t seed = 9000 + case_no++, got = 0, len = 6000;
	int skipped = 0, st;
	long bad;

	post_pool();
	gt_fill(heap_src, len, seed);
	st = mm_send(&P, heap_src, len);
	if (st != UNET_ST_OK) {
		snprintf(why, sizeof(why), "good send: status %s", mm_st(st));
		return why;
	}
	st = mm_recv_ok(P.rx, scratch, UNET_MAX_MSG, &got, false, &skipped);
	pool_posted = false;
	if (skipped) {
		snprintf(why, sizeof(why), "%d unexpected error deliveries",
			 skipped);
		return why;
	}
	if (st != UNET_ST_OK || got != len) {
		snprintf(why, sizeof(why), "good message: status %s len %u",
			 mm_st(st), got);
		return why;
	}
	bad = gt_verify(scratch, len, seed);
	if (bad >= 0) {
		snprintf(why, sizeof(why), "good message: byte %ld differs",
			 bad);
		return why;
	}
	return NULL;
}

static void send_bad(const char *name, const struct unet_sge *sge,
		     unsigned int n)
{
	const char *why;
	int st;

	/* A buffer in case the message gets as far as the receiver. */
	post_pool();
	st = mm_sendv(&P, sge, n);
	/* A message dropped half-way hands the pool buffer back. */
	if (mm_drain(P.rx, false))
		pool_posted = false;
	if (st != UNET_ST_BAD_ADDR) {
		gt_result(false, name, "tx status %s, want bad address",
			  mm_st(st));
	} else {
		why = still_works();
		gt_result(!why, name, "after it: %s", why);
	}
}

static void send_bad1(const char *name, uint64_t addr, uint32_t len)
{
	struct unet_sge sge = { .addr = addr, .len = len };

	send_bad(name, &sge, 1);
}

/*
 * Posts @bufs (the bad one among them), sends @len bytes; the message must
 * come back with status @want and exactly the posted buffers.
 */
static void recv_bad2(const char *name, const struct unet_sge *bufs,
		      unsigned int n, uint32_t len, int want, int alt)
{
	struct unet_buf got[8];
	unsigned int i, nbuf = 0;
	const char *why;
	int st;

	for (i = 0; i < n; i++)
		if (unet_post_free(P.rx, bufs[i].addr, bufs[i].len, 0))
			gt_die("post free");
	gt_fill(heap_src, len, 777);
	st = mm_send(&P, heap_src, len);
	if (st < 0) {
		gt_result(false, name, "send: %s", mm_st(st));
		return;
	}
	st = mm_recv_msg(P.rx, NULL, 0, NULL, false, got, 8, &nbuf);
	if (st != want && st != alt) {
		gt_result(false, name, "rx status %s, want %s", mm_st(st),
			  mm_st(want));
		mm_drain(P.rx, false);
		return;
	}
	if (nbuf != n) {
		gt_result(false, name, "%u buffers returned, %u posted", nbuf,
			  n);
		return;
	}
	for (i = 0; i < n; i++)
		if (got[i].addr != bufs[i].addr || got[i].len != bufs[i].len) {
			gt_result(false, name, "buffer %u returned as %#llx+%u",
				  i, (unsigned long long)got[i].addr,
				  got[i].len);
			return;
		}
	why = still_works();
	gt_result(!why, name, "after it: %s", why);
}

static void recv_bad(const char *name, const struct unet_sge *bufs,
		     unsigned int n, uint32_t len, int want)
{
	recv_bad2(name, bufs, n, len, want, want);
}

static void recv_bad1(const char *name, uint64_t addr, uint32_t len, int want)
{
	struct unet_sge b = { .addr = addr, .len = len };

	recv_bad(name, &b, 1, len, want);
}

/*
 * A 1 MiB zram disk mapped shared: page cache that the kernel writes back
 * to a device, unlike anonymous memory or tmpfs.
 */
static uint8_t *map_block_device(size_t len)
{
	uint8_t *p;
	int fd;

	if (access("/sys/block/zram0", F_OK) &&
	    system("modprobe zram num_devices=1"))
		gt_die("modprobe zram");
	fd = open("/sys/block/zram0/disksize", O_WRONLY);
	if (fd < 0 || write(fd, "1M", 2) != 2)
		gt_die("zram0 disksize");
	close(fd);
	fd = open("/dev/zram0", O_RDWR);
	if (fd < 0)
		gt_die("open /dev/zram0");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		gt_die("mmap /dev/zram0");
	close(fd);
	return p;
}

/* Write I/Os the zram disk has done (and the device file's mtime). */
static long zram_writes(struct timespec *mtime)
{
	unsigned long f[5] = { 0 };
	struct stat st;
	FILE *fp = fopen("/sys/block/zram0/stat", "r");

	if (!fp || fscanf(fp, "%lu %lu %lu %lu %lu", &f[0], &f[1], &f[2],
			  &f[3], &f[4]) != 5)
		gt_die("read /sys/block/zram0/stat");
	fclose(fp);
	if (stat("/dev/zram0", &st))
		gt_die("stat /dev/zram0");
	*mtime = st.st_mtim;
	return (long)f[4];
}

static void block_device_buffers(void)
{
	uint8_t *disk = map_block_device(4 * MM_PAGE);
	uint32_t got = 0;
	int st;

	struct timespec mt0, mt1;
	long w0, w1;

	gt_fill(disk, 4 * MM_PAGE, 4242);
	/* Clean and write-protected: the next write would call page_mkwrite. */
	if (msync(disk, 4 * MM_PAGE, MS_SYNC))
		gt_die("msync");
	w0 = zram_writes(&mt0);
	usleep(20000);		/* a file time update would now show */
	recv_bad1("badaddr-recv-block-device-page-cache", (uintptr_t)disk,
		  4 * MM_PAGE, UNET_ST_NO_ACCESS);
	if (msync(disk, 4 * MM_PAGE, MS_SYNC))
		gt_die("msync");
	w1 = zram_writes(&mt1);
	gt_result(w1 == w0 && mt1.tv_sec == mt0.tv_sec &&
		  mt1.tv_nsec == mt0.tv_nsec,
		  "badaddr-recv-block-device-not-dirtied",
		  "refusing it wrote %ld blocks to the disk and %s the file's "
		  "mtime (a write fault ran before the refusal)", w1 - w0,
		  mt1.tv_nsec == mt0.tv_nsec && mt1.tv_sec == mt0.tv_sec ?
		  "kept" : "changed");
	/* Reading it is harmless: a send pins it read-only. */
	post_pool();
	st = mm_send(&P, disk, 4 * MM_PAGE);
	if (st == UNET_ST_OK) {
		st = mm_recv_msg(P.rx, scratch, UNET_MAX_MSG, &got, false,
				 NULL, 0, NULL);
		pool_posted = false;
	}
	gt_result(st == UNET_ST_OK && got == 4 * MM_PAGE &&
		  gt_verify(scratch, got, 4242) < 0,
		  "badaddr-send-block-device-page-cache", "status %s, %u bytes",
		  mm_st(st), got);
	munmap(disk, 4 * MM_PAGE);
}

int main(void)
{
	struct unet_nic_stats s0, s1;
	struct unet *u = gt_open();
	uint8_t *two, *none, *ro, *good;

	mm_pair_init(&P, u, 64);
	pool = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	heap_src = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	scratch = malloc(UNET_MAX_MSG);
	good = aligned_alloc(MM_PAGE, 4 * MM_PAGE);
	if (!pool || !heap_src || !scratch || !good)
		gt_die("alloc");
	memset(good, 0x11, 4 * MM_PAGE);
	two = mm_map_anon(2 * MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(two, 0x22, 2 * MM_PAGE);
	munmap(two + MM_PAGE, MM_PAGE);		/* mapped, then a hole */
	none = mm_map_anon(2 * MM_PAGE, PROT_NONE, MAP_PRIVATE);
	ro = mm_map_anon(4 * MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	gt_fill(ro, 4 * MM_PAGE, 555);
	if (mprotect(ro, 4 * MM_PAGE, PROT_READ))
		gt_die("mprotect");
	mm_stats(u, &s0);

	{
		const char *why = still_works();

		gt_result(!why, "badaddr-baseline", "%s", why);
	}

	/* Sends. */
	send_bad1("badaddr-send-null", 0, 4096);
	send_bad1("badaddr-send-null-small", 0, 64);
	send_bad1("badaddr-send-kernel", KADDR, 4096);
	send_bad1("badaddr-send-kernel-small", KADDR, 16);
	send_bad1("badaddr-send-kernel-wrap", ~0ull - 100, 4096);
	send_bad1("badaddr-send-hole", hole_now(), 8192);
	send_bad1("badaddr-send-prot-none", (uintptr_t)none, 4096);
	send_bad1("badaddr-send-crosses-into-hole",
		  (uintptr_t)two + MM_PAGE - 1000, 3000);
	send_bad1("badaddr-send-crosses-into-hole-64k",
		  (uintptr_t)two + 100, UNET_MAX_MSG);
	{
		struct unet_sge g[3] = {
			{ (uintptr_t)good, 5000, 0 },
			{ hole_now() + 10, 3000, 0 },
			{ (uintptr_t)good + 5000, 5000, 0 },
		};

		send_bad("badaddr-send-gather-one-bad", g, 3);
	}
	/* The mapped half of the crossing range still sends fine. */
	{
		const char *why;

		post_pool();
		gt_fill(two, MM_PAGE, 808);
		why = mm_send(&P, two, MM_PAGE) == UNET_ST_OK ? NULL :
		      "send failed";
		if (!why) {
			uint32_t got = 0;
			int st = mm_recv_msg(P.rx, scratch, UNET_MAX_MSG, &got,
					     false, NULL, 0, NULL);

			pool_posted = false;

			if (st != UNET_ST_OK || got != MM_PAGE ||
			    gt_verify(scratch, MM_PAGE, 808) >= 0)
				why = "wrong delivery";
		}
		gt_result(!why, "badaddr-send-mapped-part-of-crossing", "%s",
			  why);
	}

	/* Sending from read-only memory is fine. */
	{
		uint32_t got = 0;
		int st;

		post_pool();
		st = mm_send(&P, ro + 10, 4 * MM_PAGE - 20);
		if (st == UNET_ST_OK) {
			st = mm_recv_msg(P.rx, scratch, UNET_MAX_MSG, &got,
					 false, NULL, 0, NULL);
			pool_posted = false;
		}
		gt_result(st == UNET_ST_OK && got == 4 * MM_PAGE - 20 &&
				  !memcmp(scratch, ro + 10, got),
			  "badaddr-send-from-readonly", "status %s len %u",
			  mm_st(st), got);
	}

	/* Receive buffers: the free queue must hold only the ones posted. */
	if (pool_posted) {
		const char *why = still_works();

		gt_result(!why, "badaddr-before-recv-cases", "%s", why);
	}
	recv_bad1("badaddr-recv-null", 0, 4096, UNET_ST_BAD_ADDR);
	recv_bad1("badaddr-recv-kernel", KADDR, 4096, UNET_ST_BAD_ADDR);
	recv_bad1("badaddr-recv-hole", hole_now(), 4096, UNET_ST_BAD_ADDR);
	/* Mapped but neither readable nor writable: either status says so. */
	{
		struct unet_sge b = { (uintptr_t)none, 4096, 0 };

		recv_bad2("badaddr-recv-prot-none", &b, 1, 4096,
			  UNET_ST_BAD_ADDR, UNET_ST_NO_ACCESS);
	}
	recv_bad1("badaddr-recv-readonly", (uintptr_t)ro, 4096,
		  UNET_ST_NO_ACCESS);
	recv_bad1("badaddr-recv-readonly-again", (uintptr_t)ro + 8, 8000,
		  UNET_ST_NO_ACCESS);
	{
		/* Good, good, then bad: all three come back. */
		struct unet_sge b[3] = {
			{ (uintptr_t)good, 1000, 0 },
			{ (uintptr_t)good + 4000, 1000, 0 },
			{ hole_now(), 4096, 0 },
		};
		struct unet_sge k[2] = {
			{ (uintptr_t)good, 1000, 0 },
			{ KADDR, 4096, 0 },
		};
		struct unet_sge c[2] = {
			{ (uintptr_t)two + MM_PAGE - 500, 3000, 0 },
		};
		struct unet_sge r2[2] = {
			{ (uintptr_t)good, 2000, 0 },
			{ (uintptr_t)ro, 4096, 0 },
		};

		recv_bad("badaddr-recv-third-buffer-hole", b, 3, 5000,
			 UNET_ST_BAD_ADDR);
		recv_bad("badaddr-recv-second-buffer-kernel", k, 2, 3000,
			 UNET_ST_BAD_ADDR);
		recv_bad("badaddr-recv-buffer-crosses-into-hole", c, 1, 3000,
			 UNET_ST_BAD_ADDR);
		recv_bad("badaddr-recv-second-buffer-readonly", r2, 2, 5000,
			 UNET_ST_NO_ACCESS);
	}

	block_device_buffers();

	/* Read-only made writable again receives normally. */
	{
		uint32_t got = 0;
		int st;

		if (mprotect(ro, 4 * MM_PAGE, PROT_READ | PROT_WRITE))
			gt_die("mprotect");
		if (unet_post_free(P.rx, (uintptr_t)ro, 4 * MM_PAGE, 0))
			gt_die("post free");
		gt_fill(heap_src, 4 * MM_PAGE, 999);
		st = mm_send(&P, heap_src, 4 * MM_PAGE);
		if (st == UNET_ST_OK)
			st = mm_recv_msg(P.rx, NULL, 0, &got, false, NULL, 0,
					 NULL);
		gt_result(st == UNET_ST_OK && gt_verify(ro, 4 * MM_PAGE, 999) < 0,
			  "badaddr-recv-made-writable", "status %s", mm_st(st));
	}

	mm_stats(u, &s1);
	printf("# tlb_faults +%llu drop_bad_buf +%llu tx_errors +%llu\n",
	       (unsigned long long)(s1.ctr[UNET_NIC_tlb_faults] -
				    s0.ctr[UNET_NIC_tlb_faults]),
	       (unsigned long long)(s1.ctr[UNET_NIC_drop_bad_buf] -
				    s0.ctr[UNET_NIC_drop_bad_buf]),
	       (unsigned long long)(s1.ctr[UNET_NIC_tx_errors] -
				    s0.ctr[UNET_NIC_tx_errors]));
	mm_pair_destroy(&P);
	unet_close(u);
	return gt_exit();
}
