// SPDX-License-Identifier: MIT
/*
 * A process killed with SIGKILL in the middle of traffic leaves nothing
 * behind: its endpoints go, its segments are uncharged and every page the
 * NIC's TLB pinned for it is unpinned.  (The suite's rmmod afterwards shows
 * the module is free to go.)
 *
 *   killed
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "guest_test.h"

#define BIG		(1u << 20)	/* the buffer messages come from */
#define MSG		65536u
#define NRX		32		/* 4 KiB receive buffers per endpoint */
#define RXSZ		4096u

struct streamer {
	struct unet_ep *ep;
	uint32_t mode;
	uint8_t *big;		/* BIG bytes, source of sends */
	uint8_t *rx;		/* NRX * RXSZ */
	int ch;
	uint32_t n;
};

static uint64_t addr_of(struct streamer *s, void *p)
{
	if (s->mode == UNET_MODE_BASE)
		return (uint64_t)((uint8_t *)p -
				  (uint8_t *)unet_ep_segment(s->ep, NULL));
	return (uint64_t)(uintptr_t)p;
}

static void streamer_init(struct unet *u, struct streamer *s, uint32_t mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->ep = gt_ep(u, mode, BIG + NRX * RXSZ);
	if (mode == UNET_MODE_BASE) {
		s->big = unet_ep_segment(s->ep, NULL);
		s->rx = s->big + BIG;
	} else {
		s->big = aligned_alloc(4096, BIG);
		s->rx = aligned_alloc(4096, NRX * RXSZ);
		if (!s->big || !s->rx)
			gt_die("alloc");
	}
	gt_fill(s->big, BIG, mode + 1);
	for (int i = 0; i < NRX; i++)
		if (unet_post_free(s->ep, addr_of(s, s->rx + i * RXSZ), RXSZ, 0))
			gt_die("post");
}

/* One round: reap, send if there is room, take what arrived. */
static unsigned int pump(struct streamer *s)
{
	struct unet_send_comp c[16];
	struct unet_recv r;
	unsigned int got = 0;

	while (unet_send_poll(s->ep, c, 16) > 0)
		;
	if (unet_send_outstanding(s->ep) < 4) {
		uint32_t off = (s->n++ % (BIG / MSG)) * MSG;

		unet_send_buf(s->ep, s->ch, s->big + off, MSG, s->n);
	}
	while (unet_recv_poll(s->ep, &r) > 0) {
		struct unet_buf bufs[NRX];
		unsigned int i, n = r.nbuf < NRX ? r.nbuf : NRX;

		for (i = 0; i < n; i++)
			bufs[i] = *unet_recv_buf(s->ep, &r, i);
		unet_recv_done(s->ep, &r);
		for (i = 0; i < n; i++)
			unet_post_free(s->ep, bufs[i].addr, bufs[i].len,
				       bufs[i].context);
		if (r.status == UNET_ST_OK)
			got++;
	}
	return got;
}

static void child(int fd)
{
	struct unet *u = gt_open();
	struct streamer s[4];
	unsigned long got[4] = { 0 };
	bool told = false;
	int i;

	alarm(120);		/* never outlive a broken parent */
	streamer_init(u, &s[0], UNET_MODE_BASE);
	streamer_init(u, &s[1], UNET_MODE_BASE);
	streamer_init(u, &s[2], UNET_MODE_MM);
	streamer_init(u, &s[3], UNET_MODE_MM);
	for (i = 0; i < 4; i++)
		s[i].ch = gt_chan_local(s[i].ep, s[i ^ 1].ep);
	for (;;) {
		for (i = 0; i < 4; i++)
			got[i] += pump(&s[i]);
		/* Streaming: messages have arrived in both modes. */
		if (!told && got[0] + got[1] >= 8 && got[2] + got[3] >= 8) {
			char c = 's';

			if (write(fd, &c, 1) != 1)
				_exit(3);
			told = true;
		}
	}
}

struct snap {
	long pinned, segment, endpoints;
};

static void snap(struct unet *u, struct snap *s)
{
	s->pinned = gt_nic_counter(u, UNET_NIC_pinned_pages);
	s->segment = gt_nic_counter(u, UNET_NIC_segment_pages);
	s->endpoints = gt_nic_counter(u, UNET_NIC_endpoints);
}

static char nm[64];

static const char *name(int round, const char *what)
{
	snprintf(nm, sizeof(nm), "killed-r%d-%s", round, what);
	return nm;
}

/* One child streaming, killed; everything it had comes back. */
static void one_round(struct unet *u, int round, int delay_ms)
{
	struct snap before, during, after;
	struct pollfd p;
	int fds[2], status;
	double end;
	pid_t pid;
	char c;

	snap(u, &before);
	if (pipe(fds))
		gt_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		close(fds[0]);
		child(fds[1]);
	}
	close(fds[1]);
	p.fd = fds[0];
	p.events = POLLIN;
	if (poll(&p, 1, 60000) != 1 || read(fds[0], &c, 1) != 1) {
		gt_result(false, name(round, "child-streams"),
			  "the child never reported traffic");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(fds[0]);
		return;
	}
	close(fds[0]);
	gt_pass(name(round, "child-streams"));
	usleep(delay_ms * 1000);
	snap(u, &during);
	gt_result(during.endpoints == before.endpoints + 4,
		  name(round, "endpoints-while-streaming"),
		  "endpoints %ld, want %ld", during.endpoints,
		  before.endpoints + 4);
	gt_result(during.segment == before.segment +
			  2 * (long)((BIG + NRX * RXSZ) / 4096),
		  name(round, "segments-while-streaming"),
		  "segment_pages %ld, want %ld", during.segment,
		  before.segment + 2 * (long)((BIG + NRX * RXSZ) / 4096));
	gt_result(during.pinned > before.pinned,
		  name(round, "pinned-while-streaming"),
		  "pinned_pages %ld, not above %ld: MM traffic pinned nothing",
		  during.pinned, before.pinned);

	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		gt_die("waitpid");
	gt_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  name(round, "child-died-of-sigkill"), "status 0x%x", status);

	/* Teardown may finish just after the reap: poll, generously. */
	end = gt_now_ms() + 10000;
	do {
		snap(u, &after);
		if (after.pinned == before.pinned &&
		    after.segment == before.segment &&
		    after.endpoints == before.endpoints)
			break;
		usleep(100000);
	} while (gt_now_ms() < end);
	gt_result(after.pinned == before.pinned,
		  name(round, "pinned-pages-back"),
		  "pinned_pages %ld, was %ld before", after.pinned,
		  before.pinned);
	gt_result(after.segment == before.segment,
		  name(round, "segment-pages-back"),
		  "segment_pages %ld, was %ld before", after.segment,
		  before.segment);
	gt_result(after.endpoints == before.endpoints,
		  name(round, "endpoints-back"),
		  "endpoints %ld, was %ld before", after.endpoints,
		  before.endpoints);
}

int main(void)
{
	struct unet *u = gt_open();

	one_round(u, 1, 1000);
	one_round(u, 2, 300);
	one_round(u, 3, 0);

	/* The NIC still works for the living. */
	{
		struct gt_side a, b;
		const char *why;
		int st;

		gt_side_init(&a, u, UNET_MODE_MM);
		gt_side_init(&b, u, UNET_MODE_MM);
		a.ch = gt_chan_local(a.ep, b.ep);
		b.ch = gt_chan_local(b.ep, a.ep);
		st = gt_send_pattern(&a, 20000, 99);
		why = st == UNET_ST_OK ? gt_recv_pattern(&b, 20000, 99, 5000)
				       : "send failed";
		gt_result(!why, "killed-nic-works-after", "%s (status %d)", why,
			  st);
		unet_ep_destroy(a.ep);
		unet_ep_destroy(b.ep);
	}
	unet_close(u);
	return gt_exit();
}
