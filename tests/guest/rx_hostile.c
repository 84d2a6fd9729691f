// SPDX-License-Identifier: MIT
/*
 * What a host on the LAN can make the receive engine do.  Guest 2 plays
 * the hostile host with raw frames (AF_PACKET); guest 1 owns the targets.
 *
 *  1. Stuck endpoints: 64 endpoints whose receive buffers are userfaultfd
 *     pages nobody serves, so the first frame of any message waits for a
 *     translation for ever and everything after it is parked.  Frames from
 *     a source without a channel must be dropped at once (counted
 *     drop_no_channel), not parked; a flood of legitimate-looking
 *     fragments at all 64 must not park more than the NIC's bound
 *     (backlog_kib); and once nothing moves for reasm_timeout_ms the
 *     parked frames must be dropped and counted.
 *  2. Broadcast and multicast frames carrying a valid tag are not for
 *     this host's endpoints: dropped and counted, never delivered.
 *  3. A receive buffer that faults in the middle of a message refuses the
 *     whole message: the fragments after the fault must not start another
 *     reassembly and take more buffers.
 *  4. The same for a message whose reassembly timed out: its fragments
 *     that come late are dropped, not a second reassembly that times out
 *     (or is aborted) in its turn and hands the process a second
 *     "dropped" for one message.
 *
 *   rx_hostile 1|2 [--seed N]      (a seed makes guest 2's flood random)
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "raw_frame.h"

#define NSTUCK		64
#define STUCK_BUFS	16		/* 64 KiB of 4 KiB buffers each */
#define FLOOD_MSGS	4		/* 64 KiB messages per stuck endpoint */
#define SRC		7u		/* guest 2's pretend endpoint */
#define NOCHAN_SRC	8u
#define NOCHAN_FRAMES	200
#define BCAST_MSGS	10
#define PAGE		4096u

enum { ID_E = NSTUCK, ID_V, NIDS };

static int round_no;
static uint64_t seed;

static uint64_t rnd(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return seed >> 33;
}

static void barrier(int guest, uint32_t *mine, uint32_t *theirs, int n)
{
	uint32_t dummy = 0, got = 0;

	if (!n) {
		mine = &dummy;
		theirs = &got;
		n = 1;
	}
	gt_swap_array(guest == 1, "169.254.88.1", 18800 + round_no++, mine,
		      theirs, n);
}

/* ------------------------------------------------------------ guest 1 */

static struct unet *u;
static volatile int sampling;
static long max_parked, max_parked_bytes;

static void *sample_parked(void *arg)
{
	(void)arg;
	while (sampling) {
		struct unet_nic_stats st;

		if (unet_nic_stats(u, 0, &st))
			gt_die("nic stats");
		if ((long)st.ctr[UNET_NIC_backlog_frames] > max_parked)
			max_parked = (long)st.ctr[UNET_NIC_backlog_frames];
		if ((long)st.ctr[UNET_NIC_backlog_bytes] > max_parked_bytes)
			max_parked_bytes = (long)st.ctr[UNET_NIC_backlog_bytes];
		usleep(2000);
	}
	return NULL;
}

static struct unet_ep *ep_with_chan(const uint8_t mac[6])
{
	struct unet_ep_attr a;
	struct unet_ep *ep;
	int ch;

	unet_ep_attr_init(&a);
	a.rx_entries = a.fq_entries = 64;
	a.tx_entries = 8;
	ep = unet_ep_create(u, &a);
	if (!ep)
		gt_die("create endpoint");
	ch = gt_chan_to(ep, mac, SRC);
	if (ch < 0) {
		errno = -ch;
		gt_die("channel");
	}
	return ep;
}

static uint8_t *uffd_region(size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (uffd < 0 || p == MAP_FAILED || ioctl(uffd, UFFDIO_API, &api))
		gt_die("userfaultfd");
	reg.range.start = (uintptr_t)p;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	return p;	/* the uffd stays open and unserved */
}

static long mm_wait_ctr_le(int c, long limit, int ms)
{
	double end = gt_now_ms() + ms;
	long v;

	while ((v = gt_nic_counter(u, c)) > limit && gt_now_ms() < end)
		usleep(10000);
	return v;
}

/* The next message on @ep within @ms: 1 (filled), or 0. */
static int next_msg(struct unet_ep *ep, struct unet_recv *r, int ms)
{
	return gt_recv(ep, r, ms) == 1;
}

static void guest1(void)
{
	struct unet_ep *stuck[NSTUCK], *e, *v;
	uint8_t mac2[6], *region, *good;
	uint32_t ids[NIDS], dummy[NIDS];
	long nochan, parked0, parked1, bound, t_ms, backlog_drops, stale0, full0;
	pthread_t sampler;
	struct unet_recv r;
	int i, n, idp[2], quit[2], st;
	pid_t child;

	gt_peer_mac(2, mac2);
	/*
	 * The stuck endpoints live in a process of their own: the agent
	 * waits on their pages for ever, and must not hold up E and V.
	 */
	if (pipe(idp) || pipe(quit))
		gt_die("pipe");
	fflush(stdout);
	child = fork();
	if (child < 0)
		gt_die("fork");
	if (!child) {
		u = gt_open();
		region = uffd_region((size_t)NSTUCK * STUCK_BUFS * PAGE);
		for (i = 0; i < NSTUCK; i++) {
			stuck[i] = ep_with_chan(mac2);
			ids[i] = unet_ep_id(stuck[i]);
			for (int b = 0; b < STUCK_BUFS; b++)
				if (unet_post_free(stuck[i], (uintptr_t)region +
						   ((size_t)i * STUCK_BUFS + b) *
						   PAGE, PAGE, 0))
					gt_die("post free");
		}
		if (write(idp[1], ids, sizeof(uint32_t) * NSTUCK) !=
		    (ssize_t)(sizeof(uint32_t) * NSTUCK))
			_exit(2);
		/* Exit closes the userfaultfd: the agent's wait fails. */
		_exit(read(quit[0], &i, 1) == 1 ? 0 : 0);
	}
	if (read(idp[0], ids, sizeof(uint32_t) * NSTUCK) !=
	    (ssize_t)(sizeof(uint32_t) * NSTUCK))
		gt_die("stuck endpoints");
	u = gt_open();
	/* E: buffer 1 of its free queue is PROT_NONE memory. */
	e = ep_with_chan(mac2);
	good = aligned_alloc(PAGE, 16 * PAGE);
	if (!good)
		gt_die("alloc");
	memset(good, 0, 16 * PAGE);
	for (i = 0; i < 10; i++) {
		uint64_t a = (uintptr_t)(good + i * PAGE);

		if (i == 1) {
			/* Kept mapped, so no later mmap can land there. */
			uint8_t *none = mmap(NULL, PAGE, PROT_NONE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (none == MAP_FAILED)
				gt_die("mmap");
			a = (uintptr_t)none;
		}
		if (unet_post_free(e, a, PAGE, 0))
			gt_die("post free");
	}
	ids[ID_E] = unet_ep_id(e);
	v = ep_with_chan(mac2);
	for (i = 0; i < 8; i++)
		if (unet_post_free(v, (uintptr_t)(good + (10 + i % 6) * PAGE),
				   PAGE, 0))
			gt_die("post free");
	ids[ID_V] = unet_ep_id(v);
	barrier(1, ids, dummy, NIDS);

	/* 1a: a stuck backlog, then frames from a source without a channel. */
	barrier(1, NULL, NULL, 0);	/* guest 2: three frames from SRC */
	usleep(300000);
	parked0 = gt_nic_counter(u, UNET_NIC_backlog_frames);
	nochan = gt_nic_counter(u, UNET_NIC_drop_no_channel);
	barrier(1, NULL, NULL, 0);	/* guest 2: NOCHAN_FRAMES from 8 */
	barrier(1, NULL, NULL, 0);
	usleep(300000);
	parked1 = gt_nic_counter(u, UNET_NIC_backlog_frames);
	nochan = gt_nic_counter(u, UNET_NIC_drop_no_channel) - nochan;
	gt_result(parked0 >= 2 && parked1 <= parked0 &&
		  nochan == NOCHAN_FRAMES, "hostile-no-channel-not-parked",
		  "parked %ld frames, then %ld after %d frames of no channel "
		  "(drop_no_channel +%ld)", parked0, parked1, NOCHAN_FRAMES,
		  nochan);

	/* 1b: the flood. */
	bound = gt_module_param("backlog_kib", 16384) * 1024;
	stale0 = gt_nic_counter(u, UNET_NIC_drop_backlog_stale);
	full0 = gt_nic_counter(u, UNET_NIC_drop_backlog_bytes);
	sampling = 1;
	max_parked = max_parked_bytes = 0;
	if (pthread_create(&sampler, NULL, sample_parked, NULL))
		gt_die("thread");
	barrier(1, NULL, NULL, 0);	/* guest 2 floods */
	barrier(1, NULL, NULL, 0);	/* guest 2 is done */
	usleep(100000);
	sampling = 0;
	pthread_join(sampler, NULL);
	full0 = gt_nic_counter(u, UNET_NIC_drop_backlog_bytes) - full0;
	printf("# flood: at most %ld frames (%ld bytes of memory) parked; "
	       "NIC bound %ld bytes; %ld frames refused at the bound\n",
	       max_parked, max_parked_bytes, bound, full0);
	/* The fixed flood is sized to reach the bound; a seeded one may not. */
	gt_result(max_parked * 1514 <= bound && max_parked_bytes <= bound &&
		  (full0 > 0 || seed), "hostile-flood-parked-bounded",
		  "%ld frames (%ld bytes) parked at once, bound %ld bytes, "
		  "%ld refused at the bound", max_parked, max_parked_bytes,
		  bound, full0);

	/* 1c: nothing moves; the parked frames must go. */
	t_ms = gt_module_param("reasm_timeout_ms", 1000);
	usleep((useconds_t)(t_ms * 2 + 500) * 1000);
	parked1 = gt_nic_counter(u, UNET_NIC_backlog_frames);
	backlog_drops = gt_nic_counter(u, UNET_NIC_drop_backlog_stale) - stale0;
	gt_result(parked1 == 0 && backlog_drops > 0,
		  "hostile-stuck-backlog-times-out",
		  "%ld frames still parked %ld ms after the flood (dropped "
		  "%ld)", parked1, t_ms * 2 + 500, backlog_drops);

	/* 2: broadcast and multicast. */
	barrier(1, NULL, NULL, 0);	/* guest 2 sends them */
	barrier(1, NULL, NULL, 0);
	n = 0;
	while (next_msg(v, &r, 1000)) {
		n++;
		unet_recv_done(v, &r);
	}
	gt_result(n == 0, "hostile-broadcast-not-delivered",
		  "%d of %d broadcast/multicast messages delivered", n,
		  2 * BCAST_MSGS);

	/* 3: a fault half way through a 16 KiB message, then a good one. */
	barrier(1, NULL, NULL, 0);	/* guest 2 sends both */
	barrier(1, NULL, NULL, 0);
	{
		struct { uint32_t status, nbuf; long first; } got[4];
		int k = 0;

		/* Two deliveries, then anything more within the timeout. */
		while (k < 4 && next_msg(e, &r, k < 2 ? 2500 : (int)t_ms + 500)) {
			got[k].status = r.status;
			got[k].nbuf = r.nbuf;
			got[k].first = r.nbuf ?
				(long)(((uintptr_t)unet_recv_buf(e, &r, 0)->addr -
					(uintptr_t)good) / PAGE) : -1;
			unet_recv_done(e, &r);
			k++;
		}
		gt_result(k >= 1 && got[0].status == UNET_ST_BAD_ADDR &&
			  got[0].nbuf == 4 && got[0].first == 0,
			  "hostile-fault-refuses-message",
			  "first delivery: %s with %u buffers from the %ld-th "
			  "(want bad address, 4, from the 0th)",
			  k ? unet_status_str(got[0].status) : "none",
			  k ? got[0].nbuf : 0, k ? got[0].first : -1);
		gt_result(k == 2 && got[1].status == UNET_ST_OK &&
			  got[1].nbuf == 1 && got[1].first == 4,
			  "hostile-fault-takes-no-more-buffers",
			  "%d deliveries; the second %s with %u buffers from the "
			  "%ld-th (want ok, 1, from the 4th)", k,
			  k >= 2 ? unet_status_str(got[1].status) : "-",
			  k >= 2 ? got[1].nbuf : 0, k >= 2 ? got[1].first : -1);
	}

	/* 4: the first fragment of 8 KiB, the rest after the timeout. */
	barrier(1, NULL, NULL, 0);	/* guest 2 sends the first */
	barrier(1, NULL, NULL, 0);
	usleep((useconds_t)(t_ms + 1500) * 1000);
	barrier(1, NULL, NULL, 0);	/* the rest, then a 2 KiB message */
	barrier(1, NULL, NULL, 0);
	{
		uint32_t status[3], len[3];
		int k = 0;

		while (k < 3 && next_msg(v, &r, k < 2 ? 2500 : (int)t_ms + 500)) {
			status[k] = r.status;
			len[k] = r.length;
			unet_recv_done(v, &r);
			k++;
		}
		gt_result(k == 2 && status[0] == UNET_ST_DROPPED &&
			  status[1] == UNET_ST_OK && len[1] == 2048,
			  "hostile-late-fragments-after-timeout",
			  "%d deliveries: %s, %s, %s (want dropped, then ok "
			  "2048 bytes)", k,
			  k > 0 ? unet_status_str(status[0]) : "-",
			  k > 1 ? unet_status_str(status[1]) : "-",
			  k > 2 ? unet_status_str(status[2]) : "-");
	}
	barrier(1, NULL, NULL, 0);
	if (write(quit[1], "q", 1) != 1 || waitpid(child, &st, 0) != child)
		gt_die("stuck endpoints' process");
	gt_result(mm_wait_ctr_le(UNET_NIC_endpoints, 2, 5000) == 2 &&
		  mm_wait_ctr_le(UNET_NIC_misses_queued, 0, 5000) == 0,
		  "hostile-stuck-process-released",
		  "endpoints %ld (want E and V), misses_queued %ld",
		  gt_nic_counter(u, UNET_NIC_endpoints),
		  gt_nic_counter(u, UNET_NIC_misses_queued));
}

/* ------------------------------------------------------------ guest 2 */

static void guest2(void)
{
	uint32_t ids[NIDS], dummy[NIDS] = { 0 };
	uint8_t mac1[6], mac2[6];
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct raw_sock s;
	int i, m;
	long frames = 0;

	gt_peer_mac(1, mac1);
	gt_peer_mac(2, mac2);
	raw_open(&s, mac2);
	barrier(2, dummy, ids, NIDS);

	/* 1a */
	for (i = 0; i < 3; i++)
		raw_send_frag(&s, mac1, ids[0], SRC, 1, 65536, RAW_FRAG,
			      (uint32_t)i * RAW_FRAG, 1);
	barrier(2, NULL, NULL, 0);
	barrier(2, NULL, NULL, 0);
	for (i = 0; i < NOCHAN_FRAMES; i++)
		raw_send_frag(&s, mac1, ids[0], NOCHAN_SRC, 1 + i, 65536,
			      RAW_FRAG, 0, 2);
	barrier(2, NULL, NULL, 0);

	/*
	 * 1b.  With a seed (make fuzz), the flood's shape is random: which
	 * stuck endpoints, how many messages, how long; without one it is
	 * 4 messages of 64 KiB at each of the 64.
	 */
	barrier(2, NULL, NULL, 0);
	{
		int msgs = seed ? 1 + (int)(rnd() % 6) : FLOOD_MSGS;
		int eps = seed ? 1 + (int)(rnd() % NSTUCK) : NSTUCK;

		for (m = 0; m < msgs; m++)
			for (i = 0; i < eps; i++) {
				uint32_t len = seed ? 2048 + (uint32_t)(rnd() %
							(65536 - 2047)) : 65536;
				int n = raw_send_msg(&s, mac1, ids[i], SRC,
						     10 + m, len, 3);

				if (n < 0)
					gt_die("flood");
				frames += n;
			}
		printf("# flooded %ld frames at %d stuck endpoints (%d "
		       "messages each)\n", frames, eps, msgs);
	}
	barrier(2, NULL, NULL, 0);

	/* 2 */
	barrier(2, NULL, NULL, 0);
	for (i = 0; i < BCAST_MSGS; i++) {
		raw_send_msg(&s, bcast, ids[ID_V], SRC, 100 + i, 50, 4);
		raw_send_msg(&s, mcast, ids[ID_V], SRC, 200 + i, 50, 4);
	}
	barrier(2, NULL, NULL, 0);

	/* 3 */
	barrier(2, NULL, NULL, 0);
	raw_send_msg(&s, mac1, ids[ID_E], SRC, 300, 16384, 5);
	raw_send_msg(&s, mac1, ids[ID_E], SRC, 301, 2048, 6);
	barrier(2, NULL, NULL, 0);

	/* 4 */
	barrier(2, NULL, NULL, 0);
	raw_send_frag(&s, mac1, ids[ID_V], SRC, 400, 8192, RAW_FRAG, 0, 7);
	barrier(2, NULL, NULL, 0);
	barrier(2, NULL, NULL, 0);
	for (i = 1; (uint32_t)i * RAW_FRAG < 8192; i++)
		raw_send_frag(&s, mac1, ids[ID_V], SRC, 400, 8192, RAW_FRAG,
			      (uint32_t)i * RAW_FRAG, 7);
	raw_send_msg(&s, mac1, ids[ID_V], SRC, 401, 2048, 8);
	barrier(2, NULL, NULL, 0);
	barrier(2, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
	int guest = argc > 1 ? atoi(argv[1]) : 0;

	if (argc > 3 && !strcmp(argv[2], "--seed"))
		seed = strtoull(argv[3], NULL, 0);

	if (guest == 1)
		guest1();
	else if (guest == 2)
		guest2();
	else
		gt_die("usage: rx_hostile 1|2");
	return gt_exit();
}
