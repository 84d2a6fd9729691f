// SPDX-License-Identifier: MIT
/*
 * Teardown and reuse races found by review.
 *
 *  - A base-level endpoint destroyed while its send engine copies out of
 *    its segment, with the segment unmapped at the same moment: the
 *    segment must outlive every copy (a use-after-free otherwise, which
 *    the debug kernel's KASAN sees and the stock kernel may not).
 *  - A channel slot taken again: a message refused on the old channel
 *    (no buffers) must not make the new channel's first message vanish
 *    silently (the refusal is per channel, not per slot).
 *  - A receiver whose address space changes all the time (a thread
 *    unmapping an unrelated page in a loop) must not wedge a sender
 *    writing into its buffers: every send completes.
 *  - A sender parked for ever on a page nobody serves must not hold the
 *    receiver's reassembly (its rx slot and buffers) for ever.
 *
 *   races
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "mm_common.h"
#include "raw_ep.h"

#define SEG		(256u << 10)

/* ---- 1: destroy and munmap while the engine copies from the segment */

struct race {
	struct raw_ep e;
	volatile int stop;
	uint32_t ch;
};

static void *kicker(void *arg)
{
	struct race *r = arg;
	uint32_t prod = 0;

	while (!r->stop) {
		struct unet_tx_desc *d =
			&r->e.txq[prod & (r->e.req.tx_entries - 1)];

		memset(d, 0, sizeof(*d));
		d->channel = r->ch;
		d->nsge = 1;
		d->sge[0].addr = 0;
		d->sge[0].len = 65536;
		__atomic_store_n(&r->e.ctrl->tx.prod, ++prod,
				 __ATOMIC_RELEASE);
		if (raw_kick(&r->e))
			break;		/* destroyed */
	}
	return NULL;
}

static void *destroyer(void *arg)
{
	struct race *r = arg;

	raw_ep_destroy_handle(r->e.fd, r->e.req.handle);
	return NULL;
}

static void destroy_while_copying(int fd, const uint8_t mac[6])
{
	int rounds = 40, bad = 0;
	long seg0 = (long)raw_nic_ctr(fd, 0, UNET_NIC_segment_pages);

	for (int i = 0; i < rounds; i++) {
		struct race r = { 0 };
		struct raw_ep sink;
		pthread_t t, d;
		int ch;

		if (raw_ep_create(&r.e, fd, 0, UNET_MODE_BASE, 64, 64, 64, SEG) ||
		    raw_ep_create(&sink, fd, 0, UNET_MODE_MM, 64, 64, 64, 0))
			gt_die("create");
		ch = raw_chan(fd, r.e.req.handle, mac, sink.req.ep_id);
		if (ch < 0 || raw_chan(fd, sink.req.handle, mac,
				       r.e.req.ep_id) < 0)
			gt_die("channel");
		r.ch = (uint32_t)ch;
		/* The sink takes nothing: every send copies, then drops. */
		if (pthread_create(&t, NULL, kicker, &r))
			gt_die("thread");
		usleep(1000 + (i % 7) * 700);
		/*
		 * Destroy from one thread; unmap from this one while the
		 * destroy waits for its grace period and the kicker copies.
		 */
		if (pthread_create(&d, NULL, destroyer, &r))
			gt_die("thread");
		usleep((i % 5) * 300);
		munmap(r.e.seg, r.e.seg_size);
		pthread_join(d, NULL);
		r.stop = 1;
		pthread_join(t, NULL);
		munmap(r.e.q, r.e.req.queue_size);
		raw_ep_destroy(&sink);
	}
	{
		double end = gt_now_ms() + 5000;
		long seg;

		while ((seg = (long)raw_nic_ctr(fd, 0, UNET_NIC_segment_pages)) !=
		       seg0 && gt_now_ms() < end)
			usleep(10000);
		if (seg != seg0)
			bad++;
		gt_result(!bad, "races-destroy-while-copying",
			  "segment_pages %ld, was %ld, after %d rounds", seg,
			  seg0, rounds);
	}
}

/* ---- 2: a channel slot taken again after a refusal on it */

static void slot_reuse(struct unet *u)
{
	struct unet_ep *r = mm_ep(u, 0), *s1 = mm_ep(u, 0), *s2 = mm_ep(u, 0);
	uint8_t mac[6], *buf = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE);
	uint8_t *src = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE);
	uint32_t got = 0;
	int c1, c2, st;

	gt_nic_mac(u, mac);
	c1 = gt_chan_to(r, mac, unet_ep_id(s1));
	if (c1 < 0 || gt_chan_local(s1, r) < 0)
		gt_die("channels");
	/* s1's first message (id 0) is refused: r has no buffers. */
	gt_fill(src, 3000, 1);
	if (unet_send_buf(s1, 0, src, 3000, 0) || gt_send_done(s1, 5000) < 0)
		gt_die("send");
	unet_chan_destroy(r, (uint32_t)c1);
	c2 = gt_chan_to(r, mac, unet_ep_id(s2));
	if (c2 != c1 || gt_chan_local(s2, r) < 0) {
		gt_result(false, "races-channel-slot-reuse",
			  "the new channel got slot %d, not %d", c2, c1);
		return;
	}
	/* s2's first message is id 0 too, into a buffer this time. */
	if (unet_post_free(r, (uintptr_t)buf, MM_PAGE, 0))
		gt_die("post");
	gt_fill(src, 3000, 2);
	if (unet_send_buf(s2, 0, src, 3000, 0))
		gt_die("send");
	st = gt_send_done(s2, 5000);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(r, NULL, 0, &got, false, NULL, 0, NULL);
	gt_result(st == UNET_ST_OK && got == 3000 &&
		  gt_verify(buf, 3000, 2) < 0, "races-channel-slot-reuse",
		  "the new channel's first message: %s, %u bytes", mm_st(st),
		  got);
	unet_ep_destroy(r);
	unet_ep_destroy(s1);
	unet_ep_destroy(s2);
}

/* ---- 3: a receiver whose mappings change all the time */

static volatile int churning;

static void *churn(void *arg)
{
	uint8_t *p = arg;

	while (churning) {
		p[0] = 1;
		madvise(p, MM_PAGE, MADV_DONTNEED);
	}
	return NULL;
}

static void churning_receiver(void)
{
	int up[2], down[2];	/* child to parent, parent to child */
	pid_t pid;

	if (pipe(up) || pipe(down))
		gt_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		/* The receiver: buffers, and a thread churning elsewhere. */
		/*
		 * 24 buffers of 64 KiB (384 pages), more than the NIC
		 * prefetches: messages land in pages it has to translate.
		 */
		struct unet *u = gt_open();
		struct unet_ep *r = mm_ep(u, 0);
		size_t big = 65536;
		uint8_t *pool = mm_map_anon(24 * big, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE);
		uint8_t *other = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE);
		uint32_t id = unet_ep_id(r), peer;
		pthread_t t;
		uint8_t mac[6];

		gt_nic_mac(u, mac);
		memset(pool, 0, 24 * big);
		for (int i = 0; i < 24; i++)
			unet_post_free(r, (uintptr_t)(pool + i * big),
				       (uint32_t)big, 0);
		if (write(up[1], &id, 4) != 4 || read(down[0], &peer, 4) != 4)
			_exit(2);
		gt_chan_to(r, mac, peer);
		churning = 1;
		pthread_create(&t, NULL, churn, other);
		if (write(up[1], "c", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	{
		struct unet *u = gt_open();
		struct unet_ep *s = mm_ep(u, 0);
		uint8_t mac[6], *src = mm_map_anon(65536,
						   PROT_READ | PROT_WRITE,
						   MAP_PRIVATE);
		uint32_t rid, sid = unet_ep_id(s);
		int ok = 0, other = 0, stuck = 0, ch;
		char c;

		if (read(up[0], &rid, 4) != 4 || write(down[1], &sid, 4) != 4)
			gt_die("sync");
		if (read(up[0], &c, 1) != 1)
			gt_die("sync");
		gt_nic_mac(u, mac);
		ch = gt_chan_to(s, mac, rid);
		memset(src, 7, 65536);
		for (int i = 0; i < 24; i++) {
			int st;

			if (unet_send_buf(s, (uint32_t)ch, src, 60000, 0))
				gt_die("send");
			st = gt_send_done(s, 5000);
			if (st == UNET_ST_OK)
				ok++;
			else if (st < 0)
				stuck++;
			else
				other++;
			if (stuck)
				break;
		}
		printf("# sender into a churning receiver: %d ok, %d refused, "
		       "%d never completed\n", ok, other, stuck);
		gt_result(!stuck, "races-churning-receiver-cannot-wedge-sender",
			  "a send did not complete within 5 s (%d ok before)",
			  ok);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unet_ep_destroy(s);
		unet_close(u);
	}
}

/* ---- 4: a sender parked for ever holds the receiver's reassembly */

static void parked_sender_times_out(struct unet *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	uint8_t *page = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE);
	uint8_t *buf = mm_map_anon(2 * MM_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE);
	struct unet *us = gt_open();
	struct unet_ep *r = mm_ep(u, 0), *s = mm_ep(us, 0);
	unsigned int nbuf = 0;
	long timeout_ms = 10000;
	double t0;
	int st, ch;

	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		gt_die("userfaultfd");
	reg.range.start = (uintptr_t)page;
	reg.range.len = MM_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	timeout_ms = gt_module_param("stall_timeout_ms", timeout_ms);
	ch = gt_chan_local(s, r);
	gt_chan_local(r, s);
	if (unet_post_free(r, (uintptr_t)buf, 2 * MM_PAGE, 0))
		gt_die("post");
	/* 6000 bytes: the first 4096 come from a good page, then the held one. */
	memset(buf, 0, 2 * MM_PAGE);
	{
		uint8_t *src = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE);
		struct unet_sge sge[2] = {
			{ .addr = (uintptr_t)src, .len = MM_PAGE },
			{ .addr = (uintptr_t)page, .len = 6000 - MM_PAGE },
		};

		memset(src, 3, MM_PAGE);
		if (unet_send(s, (uint32_t)ch, sge, 2, 0))
			gt_die("send");
	}
	t0 = gt_now_ms();
	st = mm_recv_msg(r, NULL, 0, NULL, false, NULL, 0, &nbuf);
	gt_result(st == UNET_ST_DROPPED && nbuf == 1 &&
		  gt_now_ms() - t0 < timeout_ms + 2000,
		  "races-parked-sender-releases-receiver",
		  "the receiver got %s with %u buffers back after %.0f ms "
		  "(want dropped within about %ld ms)", mm_st(st), nbuf,
		  gt_now_ms() - t0, timeout_ms);
	gt_result(mm_wait_ctr_le(u, UNET_NIC_reasm_active, 0, 3000) == 0,
		  "races-parked-sender-nothing-held", "reasm_active %ld",
		  mm_ctr(u, UNET_NIC_reasm_active));
	/* The sender goes; its parked message with it. */
	unet_ep_destroy(s);
	unet_close(us);
	close(uffd);
	unet_ep_destroy(r);
}

int main(void)
{
	struct unet *u = gt_open();
	uint8_t mac[6];

	gt_nic_mac(u, mac);
	destroy_while_copying(unet_fd(u), mac);
	slot_reuse(u);
	churning_receiver();
	parked_sender_times_out(u);
	unet_close(u);
	return gt_exit();
}
