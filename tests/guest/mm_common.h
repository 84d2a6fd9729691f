/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the U-Net/MM guest tests (tests/guest/mm_*.c): a pair
 * of MM endpoints of one process joined by loopback channels, sends and
 * receives that wait with generous limits (only to avoid hangs), and NIC
 * counter access.
 */
#ifndef MM_COMMON_H
#define MM_COMMON_H

#include "guest_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#define MM_PAGE		4096UL
#define MM_HUGE		(2UL << 20)
/* Waits are bounded only so that a lost message cannot hang the suite. */
#define MM_TIMEOUT_MS	30000

/* Two MM endpoints of one context: tx sends to rx through the NIC. */
struct mm_pair {
	struct unet *u;
	struct unet_ep *tx;
	struct unet_ep *rx;
	int ch;			/* tx -> rx */
	int rch;		/* rx -> tx: rx accepts only known sources */
};

static inline struct unet_ep *mm_ep(struct unet *u, uint32_t ring)
{
	struct unet_ep_attr a;
	struct unet_ep *ep;

	unet_ep_attr_init(&a);
	if (ring)
		a.tx_entries = a.rx_entries = a.fq_entries = ring;
	ep = unet_ep_create(u, &a);
	if (!ep)
		gt_die("create MM endpoint");
	return ep;
}

static inline void mm_pair_init(struct mm_pair *p, struct unet *u,
				uint32_t ring)
{
	p->u = u;
	p->tx = mm_ep(u, ring);
	p->rx = mm_ep(u, ring);
	p->ch = gt_chan_local(p->tx, p->rx);
	p->rch = gt_chan_local(p->rx, p->tx);
}

static inline void mm_pair_destroy(struct mm_pair *p)
{
	unet_ep_destroy(p->tx);
	unet_ep_destroy(p->rx);
}

/* Sends a gather list and waits for its completion: status, or -1. */
static inline int mm_sendv(struct mm_pair *p, const struct unet_sge *sge,
			   unsigned int n)
{
	int ret = unet_send(p->tx, p->ch, sge, n, 0);

	if (ret)
		return ret < 0 ? ret : -1;
	return gt_send_done(p->tx, MM_TIMEOUT_MS);
}

static inline int mm_send(struct mm_pair *p, const void *buf, uint32_t len)
{
	struct unet_sge sge = { .addr = (uint64_t)(uintptr_t)buf, .len = len };

	return mm_sendv(p, &sge, 1);
}

static inline int mm_send_addr(struct mm_pair *p, uint64_t addr, uint32_t len)
{
	struct unet_sge sge = { .addr = addr, .len = len };

	return mm_sendv(p, &sge, 1);
}

static inline const char *mm_st(int st)
{
	static char buf[4][48];
	static int i;

	if (st < 0) {
		i = (i + 1) & 3;
		snprintf(buf[i], sizeof(buf[i]), "timeout/error %d", st);
		return buf[i];
	}
	return unet_status_str((uint32_t)st);
}

/* Index of the first byte where a and b differ, or -1. */
static inline long mm_diff(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return (long)i;
	return -1;
}

/* Every byte of [p, p+n) equals c? Index of the first that does not, or -1. */
static inline long mm_check_fill(const void *p, size_t n, uint8_t c)
{
	const uint8_t *x = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] != c)
			return (long)i;
	return -1;
}

/*
 * Receives the next message on p->rx.  Returns its status (UNET_ST_*) or
 * -1 on timeout; an OK message is copied to @out (up to @cap) and its
 * length stored in *len.  Its buffers are released, and reposted if
 * @repost.  @bufs (may be NULL) gets up to @maxbufs of its buffers and
 * *nbuf their count.
 */
static inline int mm_recv_msg(struct unet_ep *ep, void *out, size_t cap,
			      uint32_t *len, bool repost,
			      struct unet_buf *bufs, unsigned int maxbufs,
			      unsigned int *nbuf)
{
	struct unet_buf saved[UNET_MAX_RX_BUFS];
	struct unet_recv r;
	unsigned int i, n;
	int st;

	if (gt_recv(ep, &r, MM_TIMEOUT_MS) != 1)
		return -1;
	st = (int)r.status;
	if (len)
		*len = r.length;
	if (st == UNET_ST_OK && out)
		unet_recv_copy(ep, &r, out, cap);
	n = r.nbuf < UNET_MAX_RX_BUFS ? r.nbuf : UNET_MAX_RX_BUFS;
	for (i = 0; i < n; i++)
		saved[i] = *unet_recv_buf(ep, &r, i);
	if (nbuf)
		*nbuf = r.nbuf;
	for (i = 0; bufs && i < n && i < maxbufs; i++)
		bufs[i] = saved[i];
	unet_recv_done(ep, &r);
	for (i = 0; repost && i < n; i++)
		unet_post_free(ep, saved[i].addr, saved[i].len,
			       saved[i].context);
	return st;
}

/*
 * Receives messages until an OK one arrives (returns UNET_ST_OK), counting
 * the error deliveries skipped in *skipped (their buffers are reposted if
 * @repost).  -1 on timeout.
 */
static inline int mm_recv_ok(struct unet_ep *ep, void *out, size_t cap,
			     uint32_t *len, bool repost, int *skipped)
{
	for (;;) {
		int st = mm_recv_msg(ep, out, cap, len, repost, NULL, 0, NULL);

		if (st != UNET_ST_OK && st >= 0) {
			if (skipped)
				(*skipped)++;
			continue;
		}
		return st;
	}
}

/* Whether a message is waiting on @ep right now (without taking it). */
static inline bool mm_rx_waiting(struct unet_ep *ep)
{
	struct unet_recv r;

	return unet_recv_poll(ep, &r) == 1;
}

/* Drops every message already waiting (buffers reposted); returns count. */
static inline int mm_drain(struct unet_ep *ep, bool repost)
{
	int n = 0;

	while (mm_rx_waiting(ep)) {
		mm_recv_msg(ep, NULL, 0, NULL, repost, NULL, 0, NULL);
		n++;
	}
	return n;
}

static inline void mm_stats(struct unet *u, struct unet_nic_stats *st)
{
	if (unet_nic_stats(u, 0, st))
		gt_die("nic stats");
}

static inline long mm_ctr(struct unet *u, int c)
{
	return gt_nic_counter(u, c);
}

/*
 * Whether the module translates without pinning (translate=nopin): its
 * TLB entries pin nothing, so pinned_pages stays 0 and the shrinker has
 * nothing to give back.
 */
static inline bool mm_nopin(void)
{
	char mode[16];

	return gt_module_param_str("translate", mode, sizeof(mode)) &&
	       !strcmp(mode, "nopin");
}

/* Polls counter @c until it is <= @limit; returns its last value. */
static inline long mm_wait_ctr_le(struct unet *u, int c, long limit, int ms)
{
	double end = gt_now_ms() + ms;
	long v;

	for (;;) {
		v = mm_ctr(u, c);
		if (v <= limit || gt_now_ms() > end)
			return v;
		usleep(10000);
	}
}

static inline void *mm_map_anon(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		gt_die("mmap anon");
	return p;
}

/* A 2 MiB-aligned anonymous region of @len bytes (not yet touched). */
static inline uint8_t *mm_map_aligned(size_t len, size_t align)
{
	uint8_t *raw = mm_map_anon(len + align, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE);
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1));

	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (p + len < raw + len + align)
		munmap(p + len, (size_t)(raw + len + align - (p + len)));
	return p;
}

/* A memfd of @len bytes. */
static inline int mm_memfd(const char *name, size_t len)
{
	int fd = memfd_create(name, 0);

	if (fd < 0)
		gt_die("memfd_create");
	if (ftruncate(fd, (off_t)len))
		gt_die("ftruncate memfd");
	return fd;
}

/* A fresh address range of @len bytes nobody uses (reserved, then freed). */
static inline uint8_t *mm_hole(size_t len)
{
	uint8_t *p = mm_map_anon(len, PROT_NONE, MAP_PRIVATE);

	munmap(p, len);
	return p;
}

/* Long value of "Key:" in a /proc file such as /proc/meminfo, or -1. */
static inline long mm_proc_value(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

/* AnonHugePages (kB) of the /proc/self/smaps mapping holding @addr, or -1. */
static inline long mm_anon_huge_kb(const void *addr)
{
	char line[512];
	unsigned long a = (unsigned long)(uintptr_t)addr, lo, hi;
	bool in = false;
	long v = -1;
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

#endif /* MM_COMMON_H */
