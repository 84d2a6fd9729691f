/* SPDX-License-Identifier: MIT */
/*
 * The loopback pair the evaluation's U-Net programs measure through: two
 * endpoints of one NIC and a channel each way.  Header only, as
 * eval_util.h is.
 */
#ifndef UNET_EVAL_PAIR_H
#define UNET_EVAL_PAIR_H

#include <errno.h>

#include "eval_util.h"
#include "unet.h"

struct eval_pair {
	struct unet *u;
	struct unet_ep *a, *b;
	int ch_ab, ch_ba;	/* a's channel to b, b's to a */
};

/* Opens /dev/unet and makes the pair, both with @attr; exits on failure. */
static inline void eval_pair_open(const char *prog, struct eval_pair *p,
				  const struct unet_ep_attr *attr)
{
	uint8_t addr_a[UNET_ADDR_LEN], addr_b[UNET_ADDR_LEN];
	size_t len_a = sizeof(addr_a), len_b = sizeof(addr_b);

	p->u = unet_open();
	if (!p->u)
		eval_die(prog, "open /dev/unet (is unetmm.ko loaded?)", errno);
	p->a = unet_ep_create(p->u, attr);
	p->b = unet_ep_create(p->u, attr);
	if (!p->a || !p->b)
		eval_die(prog, "create endpoints", errno);
	if (unet_ep_addr(p->a, addr_a, &len_a) ||
	    unet_ep_addr(p->b, addr_b, &len_b))
		eval_die(prog, "endpoint addresses", errno);
	/* Each accepts only what comes on a channel of its own. */
	p->ch_ab = unet_chan_create(p->a, addr_b, len_b);
	p->ch_ba = unet_chan_create(p->b, addr_a, len_a);
	if (p->ch_ab < 0 || p->ch_ba < 0)
		eval_die(prog, "create channels",
			 -(p->ch_ab < 0 ? p->ch_ab : p->ch_ba));
}

#endif /* UNET_EVAL_PAIR_H */
