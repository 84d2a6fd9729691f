// SPDX-License-Identifier: MIT
/*
 * Many endpoints in several processes at once, with no cross-delivery.
 *
 * NPROC processes with NEP endpoints each (base and MM mixed) talk over
 * the NIC's loopback.  Endpoint (i,j) sends K messages to its target
 * (i+1,j) and D messages to a decoy (i+2,j+1) that has no channel for it.
 * Each message carries (sender id, seq) and a pattern derived from them.
 * Every endpoint must receive exactly the K messages of its source
 * (i-1,j), in order, byte for byte, on the channel it made for that
 * source, and nothing else; the decoy traffic shows up only as the NIC's
 * drop_no_channel counter.
 *
 *   isolation
 */
#include <poll.h>
#include <sys/wait.h>

#include "guest_test.h"

#define NPROC	4
#define NEP	4
#define K	50
#define D	5
#define RBUF	4096u
#define FQ	512u		/* free queue entries */
#define TXAREA	65536u
#define SEG	(FQ * RBUF + TXAREA)

static const uint32_t big_sizes[] = { 4096, 4097, 65536, 8000, 16385, 40000,
				      12288, 5555, 32768, 4200, 65535, 20000,
				      113, 1000 };
#define NBIG	(sizeof(big_sizes) / sizeof(big_sizes[0]))

/* Size of message @seq from @src: every third fits in a descriptor. */
static uint32_t msg_size(uint32_t src, uint32_t seq)
{
	if (seq % 3 == 0)
		return 8 + (seq * 7 + src) % (UNET_INLINE_MAX - 8 + 1);
	return big_sizes[(seq + src) % NBIG];
}

static uint32_t msg_seed(uint32_t src, uint32_t seq)
{
	return src * 1000 + seq;
}

/* Header (src, seq) then the pattern from byte 8 on. */
static void msg_fill(uint8_t *p, uint32_t src, uint32_t seq)
{
	uint32_t len = msg_size(src, seq), i;

	memcpy(p, &src, 4);
	memcpy(p + 4, &seq, 4);
	for (i = 8; i < len; i++)
		p[i] = gt_pattern(msg_seed(src, seq), i);
}

struct ep {
	struct unet_ep *ep;
	uint32_t mode, id;
	uint8_t *rx, *tx;
	uint32_t target, source, decoy;	/* endpoint ids */
	int ch_target, ch_source, ch_decoy;
	uint32_t got;			/* messages received from source */
	bool bad;
	char why[200];
};

static uint64_t addr_of(struct ep *e, void *p)
{
	if (e->mode == UNET_MODE_BASE)
		return (uint64_t)((uint8_t *)p -
				  (uint8_t *)unet_ep_segment(e->ep, NULL));
	return (uint64_t)(uintptr_t)p;
}

static void xwrite(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		gt_die("pipe write");
}

static void xread(int fd, void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (char *)p + done, n - done);

		if (r <= 0)
			gt_die("pipe read");
		done += (size_t)r;
	}
}

static void flag(struct ep *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void flag(struct ep *e, const char *fmt, ...)
{
	va_list ap;

	if (e->bad)
		return;		/* keep the first reason */
	e->bad = true;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
}

/* Takes and checks everything waiting on @e. */
static void drain(struct ep *e, uint8_t *scratch)
{
	struct unet_recv r;
	int n;

	while ((n = unet_recv_poll(e->ep, &r)) > 0) {
		struct unet_buf bufs[UNET_MAX_RX_BUFS];
		unsigned int i, nb = r.nbuf;
		uint32_t src = 0, seq = 0, want;
		size_t got;

		for (i = 0; i < nb && i < UNET_MAX_RX_BUFS; i++)
			bufs[i] = *unet_recv_buf(e->ep, &r, i);
		got = unet_recv_copy(e->ep, &r, scratch, UNET_MAX_MSG);
		unet_recv_done(e->ep, &r);
		for (i = 0; i < nb && i < UNET_MAX_RX_BUFS; i++)
			unet_post_free(e->ep, bufs[i].addr, bufs[i].len,
				       bufs[i].context);

		if (r.status != UNET_ST_OK) {
			flag(e, "message %u: rx status %s", e->got,
			     unet_status_str(r.status));
			continue;
		}
		if (r.channel != (uint32_t)e->ch_source) {
			flag(e, "message on channel %u, only channel %d (from "
			     "ep %u) may deliver", r.channel, e->ch_source,
			     e->source);
			continue;
		}
		if (got >= 8) {
			memcpy(&src, scratch, 4);
			memcpy(&seq, scratch + 4, 4);
		}
		if (got < 8 || src != e->source || seq != e->got) {
			flag(e, "message %u: from ep %u seq %u (length %u), "
			     "want ep %u seq %u", e->got, src, seq, r.length,
			     e->source, e->got);
			e->got++;
			continue;
		}
		want = msg_size(src, seq);
		if (r.length != want || got != want) {
			flag(e, "seq %u: length %u (copied %zu), want %u", seq,
			     r.length, got, want);
		} else {
			for (i = 8; i < want; i++)
				if (scratch[i] !=
				    gt_pattern(msg_seed(src, seq), i))
					break;
			if (i < want)
				flag(e, "seq %u: byte %u of %u differs", seq, i,
				     want);
		}
		e->got++;
	}
	if (n < 0)
		flag(e, "unet_recv_poll: %s", strerror(-n));
}

static int send_wait(struct ep *e, int ch, uint32_t src, uint32_t seq,
		     uint8_t *scratch)
{
	uint32_t len = msg_size(src, seq);
	int ret;

	msg_fill(e->tx, src, seq);
	ret = unet_send_buf(e->ep, (uint32_t)ch, e->tx, len, seq);
	if (ret)
		return ret < 0 ? -1000 + ret : ret;
	/* Drain while waiting: our own receivers must not stall anyone. */
	for (double end = gt_now_ms() + 20000;;) {
		struct unet_send_comp c;
		int n = unet_send_poll(e->ep, &c, 1);

		if (n == 1)
			return (int)c.status;
		if (n < 0 || gt_now_ms() > end)
			return -1;
		(void)scratch;
		usleep(50);
	}
}

static void child(int me, int rfd, int wfd)
{
	struct unet *u = gt_open();
	uint32_t ids[NPROC][NEP], mine[NEP];
	struct ep eps[NEP];
	uint8_t mac[6], *scratch = malloc(UNET_MAX_MSG);
	char c;
	int j;

	if (!scratch)
		gt_die("alloc");
	alarm(200);
	gt_nic_mac(u, mac);
	for (j = 0; j < NEP; j++) {
		struct ep *e = &eps[j];
		struct unet_ep_attr a;

		memset(e, 0, sizeof(*e));
		e->mode = (me + j) % 2 ? UNET_MODE_BASE : UNET_MODE_MM;
		unet_ep_attr_init(&a);
		a.mode = e->mode;
		a.fq_entries = FQ;
		a.segment_size = e->mode == UNET_MODE_BASE ? SEG : 0;
		e->ep = unet_ep_create(u, &a);
		if (!e->ep)
			gt_die("create endpoint");
		e->id = mine[j] = unet_ep_id(e->ep);
	}
	xwrite(wfd, mine, sizeof(mine));
	xread(rfd, ids, sizeof(ids));

	for (j = 0; j < NEP; j++) {
		struct ep *e = &eps[j];
		uint32_t seq, need = 0, i;

		e->target = ids[(me + 1) % NPROC][j];
		e->source = ids[(me + NPROC - 1) % NPROC][j];
		e->decoy = ids[(me + 2) % NPROC][(j + 1) % NEP];
		e->ch_target = gt_chan_to(e->ep, mac, e->target);
		e->ch_source = gt_chan_to(e->ep, mac, e->source);
		e->ch_decoy = gt_chan_to(e->ep, mac, e->decoy);
		if (e->ch_target < 0 || e->ch_source < 0 || e->ch_decoy < 0)
			gt_die("create channel");
		/* Enough buffers for everything the source will send. */
		for (seq = 0; seq < K; seq++) {
			uint32_t len = msg_size(e->source, seq);

			if (len > UNET_INLINE_MAX)
				need += (len + RBUF - 1) / RBUF;
		}
		need += 8;
		if (need > FQ)
			gt_die("test needs more free queue entries");
		if (e->mode == UNET_MODE_BASE) {
			e->rx = unet_ep_segment(e->ep, NULL);
			e->tx = e->rx + FQ * RBUF;
		} else {
			e->rx = aligned_alloc(4096, (size_t)need * RBUF);
			e->tx = aligned_alloc(4096, TXAREA);
			if (!e->rx || !e->tx)
				gt_die("alloc");
		}
		for (i = 0; i < need; i++)
			if (unet_post_free(e->ep, addr_of(e, e->rx + i * RBUF),
					   RBUF, 0))
				gt_die("post free");
	}
	xwrite(wfd, "r", 1);
	xread(rfd, &c, 1);	/* go */

	for (uint32_t seq = 0; seq < K; seq++) {
		for (j = 0; j < NEP; j++) {
			struct ep *e = &eps[j];
			int st = send_wait(e, e->ch_target, e->id, seq, scratch);

			if (st != UNET_ST_OK)
				flag(e, "send seq %u to ep %u: status %d", seq,
				     e->target, st);
			if (seq < D) {
				st = send_wait(e, e->ch_decoy, e->id, seq,
					       scratch);
				if (st != UNET_ST_OK)
					flag(e, "decoy send seq %u: status %d",
					     seq, st);
			}
			drain(&eps[(j + 1) % NEP], scratch);
		}
	}
	/* Everything sent has been delivered when its send completed. */
	for (double end = gt_now_ms() + 60000; gt_now_ms() < end;) {
		bool all = true;

		for (j = 0; j < NEP; j++) {
			drain(&eps[j], scratch);
			all &= eps[j].got >= K;
		}
		if (all)
			break;
		usleep(1000);
	}
	xwrite(wfd, "d", 1);
	xread(rfd, &c, 1);	/* every process's sends are complete */
	for (j = 0; j < NEP; j++) {
		struct ep *e = &eps[j];
		char name[64];

		drain(e, scratch);
		if (e->got != K)
			flag(e, "received %u messages from ep %u, want %u",
			     e->got, e->source, K);
		snprintf(name, sizeof(name), "isolation-p%d-ep%d-%s", me, j,
			 e->mode == UNET_MODE_BASE ? "base" : "mm");
		gt_result(!e->bad, name, "ep %u: %s", e->id, e->why);
	}
	exit(gt_exit());
}

/* All processes: ids through the parent, then traffic. */
static void many(struct unet *u)
{
	int down[NPROC][2], up[NPROC][2], i, status;
	uint32_t ids[NPROC][NEP];
	pid_t pid[NPROC];
	long nc0, nc1;
	char c;

	fflush(stdout);
	for (i = 0; i < NPROC; i++) {
		if (pipe(down[i]) || pipe(up[i]))
			gt_die("pipe");
		pid[i] = fork();
		if (pid[i] < 0)
			gt_die("fork");
		if (pid[i] == 0) {
			close(down[i][1]);
			close(up[i][0]);
			child(i, down[i][0], up[i][1]);
		}
		close(down[i][0]);
		close(up[i][1]);
	}
	for (i = 0; i < NPROC; i++)
		xread(up[i][0], ids[i], sizeof(ids[i]));
	for (i = 0; i < NPROC; i++)
		xwrite(down[i][1], ids, sizeof(ids));
	for (i = 0; i < NPROC; i++)
		xread(up[i][0], &c, 1);		/* ready */
	nc0 = gt_nic_counter(u, UNET_NIC_drop_no_channel);
	for (i = 0; i < NPROC; i++)
		xwrite(down[i][1], "g", 1);
	for (i = 0; i < NPROC; i++)
		xread(up[i][0], &c, 1);		/* done */
	nc1 = gt_nic_counter(u, UNET_NIC_drop_no_channel);
	for (i = 0; i < NPROC; i++)
		xwrite(down[i][1], "c", 1);
	for (i = 0; i < NPROC; i++) {
		if (waitpid(pid[i], &status, 0) != pid[i])
			gt_die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			gt_failed++;
			if (!WIFEXITED(status))
				gt_result(false, "isolation-process",
					  "process %d died (status 0x%x)", i,
					  status);
		}
		close(down[i][1]);
		close(up[i][0]);
	}
	gt_result(nc1 - nc0 == NPROC * NEP * D, "isolation-decoys-dropped",
		  "drop_no_channel went up by %ld, want %d", nc1 - nc0,
		  NPROC * NEP * D);
}

/*
 * The simple case in one process: C has no channel for A; A's messages to
 * C are dropped and counted, until C makes one.
 */
static void no_channel(struct unet *u, uint32_t mode)
{
	const char *mname = mode == UNET_MODE_BASE ? "base" : "mm";
	struct gt_side a, c;
	struct unet_recv r;
	char name[64];
	long nc0, nc1;
	int i, st, bad = 0;
	const char *why;

	gt_side_init(&a, u, mode);
	gt_side_init(&c, u, mode);
	a.ch = gt_chan_local(a.ep, c.ep);
	nc0 = gt_nic_counter(u, UNET_NIC_drop_no_channel);
	for (i = 0; i < 6; i++) {
		st = gt_send_pattern(&a, i % 2 ? 5000 : 60, 300 + i);
		if (st != UNET_ST_OK)
			bad++;
	}
	nc1 = gt_nic_counter(u, UNET_NIC_drop_no_channel);
	snprintf(name, sizeof(name), "isolation-no-channel-%s-sends-complete",
		 mname);
	gt_result(!bad, name, "%d sends did not complete OK", bad);
	snprintf(name, sizeof(name), "isolation-no-channel-%s-nothing-received",
		 mname);
	gt_result(unet_recv_poll(c.ep, &r) == 0, name,
		  "C received a message from an endpoint it has no channel for");
	snprintf(name, sizeof(name), "isolation-no-channel-%s-counted", mname);
	gt_result(nc1 - nc0 == 6, name, "drop_no_channel went up by %ld, want 6",
		  nc1 - nc0);
	/* Once C has the channel, the same sender gets through. */
	c.ch = gt_chan_local(c.ep, a.ep);
	st = gt_send_pattern(&a, 5000, 399);
	why = st == UNET_ST_OK ? gt_recv_pattern(&c, 5000, 399, 5000)
			       : "send failed";
	snprintf(name, sizeof(name), "isolation-no-channel-%s-then-channel",
		 mname);
	gt_result(!why, name, "%s (status %d)", why, st);
	unet_ep_destroy(a.ep);
	unet_ep_destroy(c.ep);
}

/*
 * Addressing corner cases: an endpoint with a channel to itself gets its
 * own message; a message to an endpoint id that no longer exists is lost
 * (counted), and the id is not quietly reused for someone else's traffic.
 */
static void corners(struct unet *u, uint32_t mode)
{
	const char *mname = mode == UNET_MODE_BASE ? "base" : "mm";
	struct gt_side a, b;
	struct unet_recv r;
	uint8_t mac[6];
	char name[64];
	const char *why;
	long ne0;
	int st;

	gt_nic_mac(u, mac);
	gt_side_init(&a, u, mode);
	a.ch = gt_chan_to(a.ep, mac, unet_ep_id(a.ep));
	snprintf(name, sizeof(name), "isolation-self-channel-%s", mname);
	if (a.ch < 0) {
		gt_result(false, name, "channel to itself: %s", strerror(-a.ch));
	} else {
		st = gt_send_pattern(&a, 9000, 77);
		why = st == UNET_ST_OK ? gt_recv_pattern(&a, 9000, 77, 5000)
				       : "send failed";
		gt_result(!why, name, "%s (status %d)", why, st);
	}

	gt_side_init(&b, u, mode);
	a.ch = gt_chan_local(a.ep, b.ep);
	b.ch = gt_chan_local(b.ep, a.ep);
	unet_ep_destroy(b.ep);
	ne0 = gt_nic_counter(u, UNET_NIC_drop_no_endpoint);
	st = gt_send_pattern(&a, 9000, 78);
	snprintf(name, sizeof(name), "isolation-to-destroyed-ep-%s", mname);
	/* Unlike a frame on the wire, the NIC knows: the send fails. */
	gt_result(st == UNET_ST_NO_ROUTE &&
			  gt_nic_counter(u, UNET_NIC_drop_no_endpoint) == ne0 + 1 &&
			  unet_recv_poll(a.ep, &r) == 0,
		  name, "status %d (want no route), drop_no_endpoint +%ld "
		  "(want +1)", st,
		  gt_nic_counter(u, UNET_NIC_drop_no_endpoint) - ne0);
	unet_ep_destroy(a.ep);
}

int main(void)
{
	struct unet *u = gt_open();

	corners(u, UNET_MODE_BASE);
	corners(u, UNET_MODE_MM);
	no_channel(u, UNET_MODE_BASE);
	no_channel(u, UNET_MODE_MM);
	many(u);
	unet_close(u);
	return gt_exit();
}
