// SPDX-License-Identifier: MIT
/*
 * A new endpoint never inherits a dead one's traffic.
 *
 * A and B talk.  A's context goes away.  C then creates endpoints until
 * one of them takes A's slot on the NIC (the low 16 bits of an endpoint
 * id; ids are handed out cyclically, so this needs at most one pass over
 * the slot space: the suite loads the module with a small max_endpoints),
 * and makes a channel to B.  B goes on sending to A: C must receive none
 * of it (the NIC drops it as addressed to no endpoint).  C sends to B: B,
 * which has a channel to A only, must accept none of it as A's.
 *
 *   stale_id loopback          (A, B, C in this guest)
 *   stale_id wire 1|2          (A and C in guest 1, B in guest 2)
 */
#include "guest_test.h"

#define MSGS	3
#define LEN	500
#define QUIET	1000

static int guest;		/* 0: loopback */
static int sync_round;

static void barrier(uint32_t *v)
{
	uint32_t mine = v ? *v : 0, theirs;

	if (!guest)
		return;
	gt_swap_array(guest == 1, "169.254.88.1", 18700 + sync_round++,
		      &mine, &theirs, 1);
	if (v)
		*v = theirs;
}

static long max_endpoints(void)
{
	return gt_module_param("max_endpoints", 64);
}

static void chan_to(struct gt_side *s, const uint8_t mac[6], uint32_t id)
{
	s->ch = gt_chan_to(s->ep, mac, id);
	if (s->ch < 0) {
		errno = -s->ch;
		gt_die("create channel");
	}
}

/* Sends MSGS messages; they may complete OK (lost on the way) or not. */
static void send_some(struct gt_side *s, uint32_t seed)
{
	for (int i = 0; i < MSGS; i++) {
		int st = gt_send_pattern(s, LEN, seed + i);

		if (st < 0)
			gt_die("send did not complete");
	}
}

/* Messages arriving on @s within QUIET ms (their buffers reposted). */
static int arrivals(struct gt_side *s)
{
	struct unet_recv r;
	int n = 0;

	while (gt_recv(s->ep, &r, QUIET) == 1) {
		n++;
		gt_repost(s, &r);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct unet *ua = NULL, *ub = NULL, *uc = NULL;
	struct gt_side a, b, c;
	uint8_t mac_a[6], mac_b[6];
	uint32_t id_a = 0, id_b = 0, v;
	long nomatch = 0, noep = 0, tries, limit;
	const char *why;

	if (argc > 1 && !strcmp(argv[1], "wire")) {
		if (argc < 3)
			gt_die("usage: stale_id wire 1|2");
		guest = atoi(argv[2]);
	}

	/* A (guest 1 or loopback) and B (guest 2 or loopback) meet. */
	if (guest != 2) {
		ua = gt_open();
		gt_side_init(&a, ua, UNET_MODE_MM);
		id_a = unet_ep_id(a.ep);
		gt_nic_mac(ua, mac_a);
	}
	if (guest != 1) {
		ub = gt_open();
		gt_side_init(&b, ub, UNET_MODE_MM);
		id_b = unet_ep_id(b.ep);
		gt_nic_mac(ub, mac_b);
	}
	if (guest) {
		uint32_t mine = guest == 1 ? id_a : id_b;

		barrier(&mine);
		if (guest == 1)
			id_b = mine;
		else
			id_a = mine;
		gt_peer_mac(3 - guest, guest == 1 ? mac_b : mac_a);
	}
	if (guest != 2)
		chan_to(&a, mac_b, id_b);
	if (guest != 1)
		chan_to(&b, mac_a, id_a);
	barrier(NULL);

	/* They talk: B to A. */
	if (guest != 1 && gt_send_pattern(&b, LEN, 1) != UNET_ST_OK)
		gt_die("B's first send");
	if (guest != 2) {
		why = gt_recv_pattern(&a, LEN, 1, 10000);
		gt_result(!why, "stale-id-a-and-b-talk", "%s", why);
	}

	/* A goes; C takes A's slot. */
	if (guest != 2) {
		unet_ep_destroy(a.ep);
		unet_close(ua);
		uc = gt_open();
		limit = 2 * max_endpoints() + 2;
		for (tries = 0; tries < limit; tries++) {
			gt_side_init(&c, uc, UNET_MODE_MM);
			if ((unet_ep_id(c.ep) & 0xffff) == (id_a & 0xffff))
				break;
			unet_ep_destroy(c.ep);
			free(c.rx_pool);
			free(c.tx_buf);
			free(c.scratch);
		}
		if (tries == limit)
			gt_die("C never got A's slot");
		printf("# A was endpoint %#x; C got %#x after %ld tries\n",
		       id_a, unet_ep_id(c.ep), tries + 1);
		chan_to(&c, mac_b, id_b);
		/* Before the barrier: B's frames may come right after it. */
		noep = gt_nic_counter(uc, UNET_NIC_drop_no_endpoint);
	}
	if (guest != 1)
		nomatch = gt_nic_counter(ub, UNET_NIC_drop_no_channel);
	barrier(NULL);

	/* B keeps sending to A. */
	if (guest != 1)
		send_some(&b, 100);
	if (guest != 2) {
		int n = arrivals(&c);

		gt_result(n == 0, "stale-id-new-endpoint-gets-nothing",
			  "C received %d of B's %d messages meant for A", n,
			  MSGS);
		noep = gt_nic_counter(uc, UNET_NIC_drop_no_endpoint) - noep;
		gt_result(noep >= MSGS, "stale-id-counted-no-endpoint",
			  "drop_no_endpoint grew by %ld for %d messages", noep,
			  MSGS);
	}
	v = 0;
	barrier(&v);

	/* C sends to B as if it were A. */
	if (guest != 2)
		send_some(&c, 200);
	if (guest != 1) {
		int n = arrivals(&b);

		gt_result(n == 0, "stale-id-not-accepted-as-old",
			  "B accepted %d of C's %d messages as A's", n, MSGS);
		nomatch = gt_nic_counter(ub, UNET_NIC_drop_no_channel) -
			  nomatch;
		gt_result(nomatch >= MSGS, "stale-id-counted-no-channel",
			  "drop_no_channel grew by %ld for %d messages",
			  nomatch, MSGS);
	}
	barrier(NULL);

	if (uc) {
		unet_ep_destroy(c.ep);
		unet_close(uc);
	}
	if (ub) {
		unet_ep_destroy(b.ep);
		unet_close(ub);
	}
	return gt_exit();
}
