// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: a buffer is any virtual address of the process.  Sends from and
 * receives into the stack, the heap, .data, .bss, a MAP_SHARED and a
 * MAP_PRIVATE file mapping (tmpfs), anonymous MAP_SHARED memory and a THP
 * region; gather lists mixing them; a 64 KiB message spread over many
 * receive buffers of odd size and alignment.  Everything over the NIC's
 * loopback, checked byte for byte.
 */
#include "mm_common.h"

#define MSG_MAX		UNET_MAX_MSG

static uint8_t data_buf[40000] = { 1, 2, 3 };	/* .data */
static uint8_t bss_buf[80000];			/* .bss */

struct region {
	const char *name;
	uint8_t *base;
	size_t size;
};

static struct mm_pair P;
static uint8_t *heap_src;	/* plain heap source for receive tests */
static uint8_t *scratch;	/* receive copies */

static const char *recv_check(const uint8_t *want, uint32_t len)
{
	static char why[160];
	uint32_t got = 0;
	long bad;
	int st;

	memset(scratch, 0xA5, MSG_MAX);
	st = mm_recv_msg(P.rx, scratch, MSG_MAX, &got, false, NULL, 0, NULL);
	if (st != UNET_ST_OK) {
		snprintf(why, sizeof(why), "rx status %s", mm_st(st));
		return why;
	}
	if (got != len) {
		snprintf(why, sizeof(why), "length %u, want %u", got, len);
		return why;
	}
	bad = mm_diff(scratch, want, len);
	if (bad >= 0) {
		snprintf(why, sizeof(why), "byte %ld differs (%#x, want %#x)",
			 bad, scratch[bad], want[bad]);
		return why;
	}
	return NULL;
}

/* Posts plain heap buffers for one message of up to MSG_MAX bytes. */
static void post_heap(uint8_t *pool)
{
	if (unet_post_free(P.rx, (uintptr_t)pool, MSG_MAX, 0))
		gt_die("post free");
}

/* Send @len bytes from @r at @off; receive into a heap buffer; compare. */
static void send_from(const struct region *r, size_t off, uint32_t len,
		      uint32_t seed, uint8_t *pool)
{
	char name[96];
	const char *why;
	int st;

	snprintf(name, sizeof(name), "buffers-send-%s", r->name);
	if (off + len > r->size) {
		gt_result(false, name, "region too small");
		return;
	}
	gt_fill(r->base + off, len, seed);
	post_heap(pool);
	st = mm_send(&P, r->base + off, len);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "send status %s", mm_st(st));
		mm_drain(P.rx, false);
		return;
	}
	why = recv_check(r->base + off, len);
	gt_result(!why, name, "%s", why);
}

/*
 * Post one buffer in @r at @off of @len bytes; send that many from the heap;
 * the bytes must land exactly there and nowhere around it.
 */
static void recv_into(const struct region *r, size_t off, uint32_t len,
		      uint32_t seed)
{
	struct unet_buf buf;
	unsigned int nbuf = 0;
	char name[96];
	size_t lo = off > 64 ? off - 64 : 0;
	size_t hi = off + len + 64 < r->size ? off + len + 64 : r->size;
	uint32_t got = 0;
	long bad;
	int st;

	snprintf(name, sizeof(name), "buffers-recv-%s", r->name);
	if (off + len > r->size) {
		gt_result(false, name, "region too small");
		return;
	}
	memset(r->base + lo, 0xEE, hi - lo);
	gt_fill(heap_src, len, seed);
	if (unet_post_free(P.rx, (uintptr_t)(r->base + off), len, 0))
		gt_die("post free");
	st = mm_send(&P, heap_src, len);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "send status %s", mm_st(st));
		mm_drain(P.rx, false);
		return;
	}
	st = mm_recv_msg(P.rx, NULL, 0, &got, false, &buf, 1, &nbuf);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "rx status %s", mm_st(st));
		return;
	}
	if (got != len || nbuf != 1 ||
	    buf.addr != (uintptr_t)(r->base + off)) {
		gt_result(false, name, "length %u nbuf %u addr %#llx", got,
			  nbuf, (unsigned long long)buf.addr);
		return;
	}
	bad = gt_verify(r->base + off, len, seed);
	if (bad >= 0) {
		gt_result(false, name, "byte %ld of the buffer differs", bad);
		return;
	}
	bad = mm_check_fill(r->base + lo, off - lo, 0xEE);
	if (bad < 0)
		bad = mm_check_fill(r->base + off + len, hi - off - len, 0xEE);
	gt_result(bad < 0, name, "bytes outside the buffer were written");
}

static uint8_t *map_file(const char *path, size_t len, int flags, int *fdp,
			 uint32_t seed)
{
	uint8_t *init = malloc(len), *p;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || !init)
		gt_die("create file");
	gt_fill(init, len, seed);
	if (pwrite(fd, init, len, 0) != (ssize_t)len)
		gt_die("write file");
	free(init);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		gt_die("mmap file");
	*fdp = fd;
	return p;
}

/* The file's bytes [off, off+len) equal pattern @seed at file offset? */
static long file_verify(int fd, size_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(off + len);
	long bad;

	if (!b || pread(fd, b, off + len, 0) != (ssize_t)(off + len))
		gt_die("read file");
	bad = gt_verify(b, off + len, seed);
	free(b);
	return bad;
}

/* The MAP_SHARED file: receive lands in the file, pwrite reaches the NIC. */
static void shared_file_checks(struct region *r, int fd, uint8_t *pool)
{
	uint8_t *b = malloc(20000), *want = malloc(20000);
	const char *why;
	long bad;
	int st;

	/* Received data is in the file itself. */
	recv_into(r, 5000, 9000, 4242);
	if (!b || !want)
		gt_die("alloc");
	gt_fill(want, 9000, 4242);
	if (pread(fd, b, 9000, 5000) != 9000)
		gt_die("pread");
	bad = mm_diff(b, want, 9000);
	gt_result(bad < 0, "buffers-recv-shared-file-in-file",
		  "file byte %ld differs from the message", bad);

	/* The NIC already has these pages: a pwrite must still be seen. */
	gt_fill(want, 12000, 4343);
	if (pwrite(fd, want, 12000, 3000) != 12000)
		gt_die("pwrite");
	post_heap(pool);
	st = mm_send(&P, r->base + 3000, 12000);
	if (st != UNET_ST_OK) {
		gt_result(false, "buffers-send-shared-file-after-pwrite",
			  "send status %s", mm_st(st));
	} else {
		why = recv_check(want, 12000);
		gt_result(!why, "buffers-send-shared-file-after-pwrite", "%s",
			  why);
	}
	free(b);
	free(want);
}

/*
 * MAP_PRIVATE file: sends see the file, a receive goes to a private copy
 * (the file keeps its bytes), and sends after a CPU write see the copy.
 */
static void private_file_checks(struct region *r, int fd, uint32_t fseed,
				uint8_t *pool)
{
	const char *why;
	long bad;
	int st;

	/* Untouched private mapping: the page cache pages go out. */
	post_heap(pool);
	st = mm_send(&P, r->base + 100, 9000);
	if (st != UNET_ST_OK) {
		gt_result(false, "buffers-send-private-file", "send status %s",
			  mm_st(st));
	} else {
		uint8_t *want = malloc(9100);

		gt_fill(want, 9100, fseed);
		why = recv_check(want + 100, 9000);
		gt_result(!why, "buffers-send-private-file", "%s", why);
		free(want);
	}

	/* Receive into it (the NIC holds read translations for it now). */
	recv_into(r, 200, 8000, 5151);
	bad = file_verify(fd, 0, r->size, fseed);
	gt_result(bad < 0, "buffers-recv-private-file-untouched",
		  "the file changed at byte %ld", bad);

	/* Sending the same range again sends the private copy. */
	post_heap(pool);
	st = mm_send(&P, r->base + 200, 8000);
	if (st != UNET_ST_OK) {
		gt_result(false, "buffers-send-private-file-after-recv",
			  "send status %s", mm_st(st));
	} else {
		why = recv_check(r->base + 200, 8000);
		gt_result(!why, "buffers-send-private-file-after-recv", "%s",
			  why);
	}

	/* Send from page-cache pages, then CPU-write (COW), send again. */
	post_heap(pool);
	st = mm_send(&P, r->base + 2 * MM_PAGE, 2 * MM_PAGE);
	if (st == UNET_ST_OK)
		why = recv_check(r->base + 2 * MM_PAGE, 2 * MM_PAGE);
	else
		why = mm_st(st);
	gt_fill(r->base + 2 * MM_PAGE, 2 * MM_PAGE, 5252);	/* COW */
	post_heap(pool);
	st = mm_send(&P, r->base + 2 * MM_PAGE, 2 * MM_PAGE);
	if (!why && st != UNET_ST_OK)
		why = mm_st(st);
	if (!why)
		why = recv_check(r->base + 2 * MM_PAGE, 2 * MM_PAGE);
	gt_result(!why, "buffers-send-private-file-after-cow", "%s", why);
	bad = file_verify(fd, 0, r->size, fseed);
	gt_result(bad < 0, "buffers-private-file-never-written",
		  "the file changed at byte %ld", bad);
}

/* A gather list over several regions; receive into one heap buffer. */
static void gather(const char *name, struct region **rs, const size_t *offs,
		   const uint32_t *lens, unsigned int n, uint32_t seed,
		   uint8_t *pool)
{
	struct unet_sge sge[UNET_MAX_GATHER];
	uint8_t *want = malloc(MSG_MAX);
	uint32_t total = 0;
	const char *why;
	unsigned int i;
	int st;

	if (!want)
		gt_die("alloc");
	gt_fill(want, MSG_MAX, seed);
	for (i = 0; i < n; i++) {
		if (offs[i] + lens[i] > rs[i]->size || total + lens[i] > MSG_MAX)
			gt_die("gather layout");
		memcpy(rs[i]->base + offs[i], want + total, lens[i]);
		sge[i].addr = (uintptr_t)(rs[i]->base + offs[i]);
		sge[i].len = lens[i];
		sge[i].reserved = 0;
		total += lens[i];
	}
	if (total > UNET_INLINE_MAX)	/* else it arrives inline */
		post_heap(pool);
	st = mm_sendv(&P, sge, n);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "send status %s", mm_st(st));
		mm_drain(P.rx, false);
	} else {
		why = recv_check(want, total);
		gt_result(!why, name, "%s", why);
	}
	free(want);
}

/*
 * One 64 KiB message over many 1000-byte buffers at addresses = 3 mod 8,
 * with 8-byte gaps that must stay untouched.
 */
static void odd_buffers(const char *name, uint8_t *area, size_t area_size,
			const struct unet_sge *src, unsigned int nsrc,
			const uint8_t *want)
{
	const uint32_t blen = 1000, stride = 1008;
	const unsigned int nb = (MSG_MAX + blen - 1) / blen;	/* 66 */
	struct unet_buf got[UNET_MAX_RX_BUFS];
	unsigned int i, nbuf = 0;
	uint8_t *base = (uint8_t *)(((uintptr_t)area + 7) & ~(uintptr_t)7) + 3;
	uint32_t len = 0;
	long bad = -1;
	int st;

	if (10 + (size_t)nb * stride > area_size)
		gt_die("odd buffer area too small");
	memset(area, 0xEE, 10 + (size_t)nb * stride);
	for (i = 0; i < nb; i++)
		if (unet_post_free(P.rx, (uintptr_t)(base + i * stride), blen, 0))
			gt_die("post free");
	st = mm_sendv(&P, src, nsrc);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "send status %s", mm_st(st));
		mm_drain(P.rx, false);
		return;
	}
	st = mm_recv_msg(P.rx, NULL, 0, &len, false, got, UNET_MAX_RX_BUFS,
			 &nbuf);
	if (st != UNET_ST_OK || len != MSG_MAX || nbuf != nb) {
		gt_result(false, name, "rx status %s length %u nbuf %u (want %u)",
			  mm_st(st), len, nbuf, nb);
		return;
	}
	for (i = 0; i < nb; i++) {
		uint32_t n = i + 1 < nb ? blen : MSG_MAX - i * blen;

		if (got[i].addr != (uintptr_t)(base + i * stride) ||
		    (got[i].addr & 7) != 3) {
			gt_result(false, name, "buffer %u is %#llx", i,
				  (unsigned long long)got[i].addr);
			return;
		}
		bad = mm_diff(base + i * stride, want + i * blen, n);
		if (bad >= 0) {
			gt_result(false, name, "buffer %u byte %ld differs", i,
				  bad);
			return;
		}
		/* The gap after each buffer (and the unused tail). */
		bad = mm_check_fill(base + i * stride + n, stride - n, 0xEE);
		if (bad >= 0) {
			gt_result(false, name, "gap after buffer %u written", i);
			return;
		}
	}
	bad = mm_check_fill(area, (size_t)(base - area), 0xEE);
	gt_result(bad < 0, name, "bytes before the first buffer written");
}

int main(void)
{
	uint8_t stack_buf[24576];
	struct region stack = { "stack", stack_buf, sizeof(stack_buf) };
	struct region heap, data = { "data", data_buf, sizeof(data_buf) };
	struct region bss = { "bss", bss_buf, sizeof(bss_buf) };
	struct region shfile, pvfile, anonsh, thp;
	struct unet_nic_stats st0, st1;
	uint8_t *pool, *thp_mem, *want;
	int shfd, pvfd;
	long huge_kb;
	char thp_name[32];
	struct unet *u;

	u = gt_open();
	mm_pair_init(&P, u, 256);
	mm_stats(u, &st0);

	pool = aligned_alloc(MM_PAGE, MSG_MAX);
	heap_src = aligned_alloc(MM_PAGE, MSG_MAX);
	scratch = malloc(MSG_MAX);
	want = malloc(MSG_MAX);
	heap.name = "heap";
	heap.size = 3 * MSG_MAX;
	heap.base = malloc(heap.size);
	if (!pool || !heap_src || !scratch || !heap.base || !want)
		gt_die("alloc");
	memset(heap.base, 0, heap.size);

	shfile.name = "shared-file";
	shfile.size = 16 * MM_PAGE;
	shfile.base = map_file("/tmp/mm_buffers.shared", shfile.size,
			       MAP_SHARED, &shfd, 111);
	pvfile.name = "private-file";
	pvfile.size = 16 * MM_PAGE;
	pvfile.base = map_file("/tmp/mm_buffers.private", pvfile.size,
			       MAP_PRIVATE, &pvfd, 222);
	anonsh.name = "anon-shared";
	anonsh.size = 32 * MM_PAGE;
	anonsh.base = mm_map_anon(anonsh.size, PROT_READ | PROT_WRITE,
				  MAP_SHARED);

	/* THP: 2 MiB aligned, advised, touched; say which we got. */
	thp_mem = mm_map_aligned(MM_HUGE, MM_HUGE);
	madvise(thp_mem, MM_HUGE, MADV_HUGEPAGE);
	memset(thp_mem, 0x5A, MM_HUGE);
	huge_kb = mm_anon_huge_kb(thp_mem);
	snprintf(thp_name, sizeof(thp_name), "thp-%s",
		 huge_kb >= 2048 ? "huge" : "4k");
	printf("# THP region: AnonHugePages %ld kB (%s)\n", huge_kb,
	       huge_kb >= 2048 ? "backed by a huge page" :
	       "THP unavailable, 4 KiB pages");
	thp.name = thp_name;
	thp.base = thp_mem;
	thp.size = MM_HUGE;

	/* Sends from each kind, across page boundaries. */
	send_from(&stack, 77, 20000, 1, pool);
	send_from(&heap, 4093, 65536, 2, pool);
	send_from(&data, 5, 30000, 3, pool);
	send_from(&bss, 4095, MSG_MAX, 4, pool);
	send_from(&shfile, 100, 50000, 5, pool);
	send_from(&anonsh, 3, 65536, 6, pool);
	send_from(&thp, MM_HUGE - 70000, 65536, 7, pool);

	/* Receives into each kind. */
	recv_into(&stack, 1001, 9000, 11);
	recv_into(&heap, 70001, 65536, 12);
	recv_into(&data, 4000, 20000, 13);
	recv_into(&bss, 9, 65536, 14);
	recv_into(&anonsh, 4096 * 3 - 7, 30000, 16);
	recv_into(&thp, 123457, 65536, 17);
	shared_file_checks(&shfile, shfd, pool);
	private_file_checks(&pvfile, pvfd, 222, pool);

	/* Gather lists mixing kinds, up to UNET_MAX_GATHER entries. */
	{
		struct region *rs[7] = { &stack, &heap, &data, &bss, &shfile,
					 &anonsh, &thp };
		const size_t offs[7] = { 5, 4090, 777, 1, 4000, 3,
					 3 * MM_PAGE + 17 };
		const uint32_t lens[7] = { 3001, 5000, 9000, 12345, 8000,
					   10000, 15000 };
		struct region *rs2[7] = { &thp, &pvfile, &bss, &stack, &anonsh,
					  &heap, &data };
		const size_t offs2[7] = { MM_HUGE - 5000, 8191, 60000, 10000,
					  77777, 13, 33333 };
		const uint32_t lens2[7] = { 4999, 4097, 1, 8192, 113, 40000,
					    6000 };
		struct region *rs3[3] = { &anonsh, &stack, &heap };
		const size_t offs3[3] = { 0, 0, 0 };
		const uint32_t lens3[3] = { 50, 40, 22 };	/* inline-sized */

		gather("buffers-gather-7-kinds", rs, offs, lens, 7, 21, pool);
		gather("buffers-gather-7-kinds-private", rs2, offs2, lens2, 7,
		       22, pool);
		gather("buffers-gather-3-small", rs3, offs3, lens3, 3, 23,
		       pool);
	}

	/* 64 KiB into 66 odd buffers, from a mixed gather. */
	{
		struct unet_sge src[3];

		gt_fill(want, MSG_MAX, 31);
		memcpy(thp.base + 999, want, 30000);
		memcpy(anonsh.base + 5, want + 30000, 20000);
		memcpy(heap_src + 1, want + 50000, MSG_MAX - 50000);
		src[0] = (struct unet_sge){ (uintptr_t)(thp.base + 999), 30000, 0 };
		src[1] = (struct unet_sge){ (uintptr_t)(anonsh.base + 5), 20000, 0 };
		src[2] = (struct unet_sge){ (uintptr_t)(heap_src + 1),
					    MSG_MAX - 50000, 0 };
		odd_buffers("buffers-odd-recv-heap", heap.base + 1,
			    heap.size - 1, src, 3, want);
		gt_fill(want, MSG_MAX, 32);
		memcpy(heap_src, want, MSG_MAX);
		src[0] = (struct unet_sge){ (uintptr_t)heap_src, MSG_MAX, 0 };
		odd_buffers("buffers-odd-recv-bss", bss.base + 8, bss.size - 8,
			    src, 1, want);
		gt_fill(want, MSG_MAX, 33);
		memcpy(heap_src, want, MSG_MAX);
		odd_buffers("buffers-odd-recv-thp", thp.base + MM_HUGE - 70000,
			    70000, src, 1, want);
	}

	mm_stats(u, &st1);
	printf("# tlb hits %llu misses %llu faults %llu, pinned now %llu peak %llu\n",
	       (unsigned long long)(st1.ctr[UNET_NIC_tlb_hits] - st0.ctr[UNET_NIC_tlb_hits]),
	       (unsigned long long)(st1.ctr[UNET_NIC_tlb_misses] - st0.ctr[UNET_NIC_tlb_misses]),
	       (unsigned long long)(st1.ctr[UNET_NIC_tlb_faults] - st0.ctr[UNET_NIC_tlb_faults]),
	       (unsigned long long)st1.ctr[UNET_NIC_pinned_pages],
	       (unsigned long long)st1.ctr[UNET_NIC_pinned_peak]);
	if (mm_nopin())
		gt_result(st1.ctr[UNET_NIC_pinned_peak] == 0,
			  "buffers-nopin-pinned-zero",
			  "pinned_peak %llu with translate=nopin",
			  (unsigned long long)st1.ctr[UNET_NIC_pinned_peak]);
	{
		/* A miss's time is its wait for the agent plus its service. */
		uint64_t wait = st1.ctr[UNET_NIC_miss_wait_ns] -
				st0.ctr[UNET_NIC_miss_wait_ns];
		uint64_t total = st1.ctr[UNET_NIC_miss_ns_total] -
				 st0.ctr[UNET_NIC_miss_ns_total];

		printf("# miss time %llu ns, of which queued %llu ns\n",
		       (unsigned long long)total, (unsigned long long)wait);
		gt_result(st1.ctr[UNET_NIC_tlb_misses] >
			  st0.ctr[UNET_NIC_tlb_misses] && wait > 0 &&
			  wait < total, "buffers-miss-wait-counted",
			  "miss_wait_ns %llu of miss_ns_total %llu",
			  (unsigned long long)wait, (unsigned long long)total);
	}
	gt_result(st1.ctr[UNET_NIC_tlb_faults] == st0.ctr[UNET_NIC_tlb_faults],
		  "buffers-no-faults", "%llu translation faults on valid buffers",
		  (unsigned long long)(st1.ctr[UNET_NIC_tlb_faults] -
				       st0.ctr[UNET_NIC_tlb_faults]));

	mm_pair_destroy(&P);
	unet_close(u);
	close(shfd);
	close(pvfd);
	unlink("/tmp/mm_buffers.shared");
	unlink("/tmp/mm_buffers.private");
	return gt_exit();
}
