// SPDX-License-Identifier: MIT
/*
 * Delivery of every interesting size, byte for byte, in both endpoint
 * modes: through the NIC's loopback (two endpoints of one process), or
 * across the wire between two guests (guest 1 echoes what guest 2 sends),
 * which find each other by address (unet_ep_addr()).
 *
 *   delivery loopback
 *   delivery wire 1|2
 */
#include "guest_test.h"

static uint32_t sizes[16];
static int nsizes;

static void init_sizes(struct unet *u)
{
	struct unet_nic_info info;
	uint32_t mtu, payload;
	const uint32_t fixed[] = { 0, 1, UNET_INLINE_MAX, UNET_INLINE_MAX + 1,
				   4096, GT_MAXMSG };
	size_t i;

	if (unet_nic_info(u, 0, &info))
		gt_die("nic info");
	mtu = info.mtu ? info.mtu : 1500;
	payload = mtu - 28;		/* one frame's worth after the header */
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		sizes[nsizes++] = fixed[i];
	sizes[nsizes++] = mtu - 1;
	sizes[nsizes++] = mtu;
	sizes[nsizes++] = mtu + 1;
	sizes[nsizes++] = payload - 1;
	sizes[nsizes++] = payload;
	sizes[nsizes++] = payload + 1;
}

static const char *mode_name(uint32_t mode)
{
	return mode == UNET_MODE_MM ? "mm" : "base";
}

static void loopback(struct unet *u, uint32_t mode)
{
	struct gt_side a, b;
	char name[64];
	int i;

	gt_side_init(&a, u, mode);
	gt_side_init(&b, u, mode);
	a.ch = gt_chan_local(a.ep, b.ep);
	b.ch = gt_chan_local(b.ep, a.ep);
	for (i = 0; i < nsizes; i++) {
		uint32_t len = sizes[i], seed = 1000 + i;
		const char *why;
		int st;

		snprintf(name, sizeof(name), "loopback-%s-%u", mode_name(mode),
			 len);
		st = gt_send_pattern(&a, len, seed);
		if (st != UNET_ST_OK) {
			gt_result(false, name, "send status %d", st);
			continue;
		}
		why = gt_recv_pattern(&b, len, seed, 5000);
		gt_result(!why, name, "%s", why);
	}
	unet_ep_destroy(a.ep);
	unet_ep_destroy(b.ep);
}

static void wire(struct unet *u, uint32_t mode, int guest)
{
	uint8_t mine[UNET_ADDR_LEN], theirs[UNET_ADDR_LEN];
	struct gt_side s;
	char name[64];
	int i;

	gt_side_init(&s, u, mode);
	/* As a program would: the peer's address, not its (MAC, id). */
	gt_addr(s.ep, mine);
	gt_swap_addrs(guest == 1, "169.254.88.1", mine, theirs);
	s.ch = unet_chan_create(s.ep, theirs, sizeof(theirs));
	if (s.ch < 0) {
		errno = -s.ch;
		gt_die("channel to peer guest");
	}
	/* Both channels must exist before the first message flies. */
	gt_swap_ids(guest == 1, "169.254.88.1", 0);

	for (i = 0; i < nsizes; i++) {
		uint32_t len = sizes[i], seed = 7000 + i;
		const char *why;
		int st;

		snprintf(name, sizeof(name), "wire-%s-%u", mode_name(mode), len);
		if (guest == 2) {
			st = gt_send_pattern(&s, len, seed);
			if (st != UNET_ST_OK) {
				gt_result(false, name, "send status %d", st);
				continue;
			}
			why = gt_recv_pattern(&s, len, seed + 1, 5000);
			gt_result(!why, name, "echo: %s", why);
		} else {
			why = gt_recv_pattern(&s, len, seed, 10000);
			gt_result(!why, name, "%s", why);
			st = gt_send_pattern(&s, len, seed + 1);
			if (st != UNET_ST_OK)
				gt_result(false, name, "echo send status %d",
					  st);
		}
	}
	unet_ep_destroy(s.ep);
}

int main(int argc, char **argv)
{
	struct unet *u;

	if (argc < 2 || (strcmp(argv[1], "loopback") &&
			 (strcmp(argv[1], "wire") || argc < 3))) {
		fprintf(stderr, "usage: delivery loopback | delivery wire 1|2\n");
		return 2;
	}
	u = gt_open();
	init_sizes(u);
	if (!strcmp(argv[1], "loopback")) {
		loopback(u, UNET_MODE_BASE);
		loopback(u, UNET_MODE_MM);
	} else {
		wire(u, UNET_MODE_BASE, atoi(argv[2]));
		wire(u, UNET_MODE_MM, atoi(argv[2]));
	}
	unet_close(u);
	return gt_exit();
}
