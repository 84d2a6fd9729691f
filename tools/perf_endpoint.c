// SPDX-License-Identifier: MIT
/*
 * A perf test's resources: the NIC, the endpoint with its receive buffers
 * and send slots in either mode, and the channel to the peer's address.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf_setup.h"

#define PAGE_BYTES	4096u

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

int perf_nic_setup(struct perf_ctx *pc)
{
	int rc = unet_nic_info(pc->u, pc->o->nic, &pc->nic);

	if (rc == -ENODEV)
		return perf_error("NIC %" PRIu32 " does not exist (unetstat lists the NICs)",
				  pc->o->nic);
	if (rc)
		return perf_error("cannot query NIC %" PRIu32 ": %s",
				  pc->o->nic, strerror(-rc));
	return 0;
}

static uint32_t ring_entries(uint32_t want)
{
	uint32_t n = UNET_RING_MIN;

	while (n < want && n < UNET_RING_MAX)
		n <<= 1;
	return n;
}

/* Every receive buffer to the NIC, with one release store. */
static int post_rx_bufs(struct perf_ctx *pc)
{
	bool base = pc->o->mode == UNET_MODE_BASE;
	uint32_t idx, i;

	if (unet_fq_reserve(pc->ep, pc->rx_bufs, &idx) != pc->rx_bufs)
		return perf_error("the free queue cannot take %" PRIu32
				  " receive buffers", pc->rx_bufs);
	for (i = 0; i < pc->rx_bufs; i++) {
		uint64_t off = (uint64_t)i * pc->buf_size;
		char *p = pc->rx_area + off;

		unet_fq_prep(pc->ep, idx + i,
			     base ? off : (uint64_t)(uintptr_t)p,
			     pc->buf_size, (uintptr_t)p);
	}
	return unet_fq_submit(pc->ep, pc->rx_bufs);
}

int perf_ep_setup(struct perf_ctx *pc)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	uint32_t app_bytes = max_u32(o->size, 1);
	struct unet_ep_attr attr;
	uint64_t rx_bytes, tx_bytes, need;
	size_t addr_len = sizeof(pc->my_addr);
	char *seg;
	int rc;

	pc->buf_size = o->buf_size ? o->buf_size :
		       (uint32_t)round_up(app_bytes, PAGE_BYTES);
	pc->bufs_per_msg = o->size > UNET_INLINE_MAX ?
			   (o->size + pc->buf_size - 1) / pc->buf_size : 0;
	if (pc->bufs_per_msg > UNET_MAX_RX_BUFS)
		return perf_error("a %" PRIu32 "-byte message would fill %" PRIu32
				  " buffers of %" PRIu32 " bytes, more than the %d one message may use (raise --buf-size)",
				  o->size, pc->bufs_per_msg, pc->buf_size,
				  UNET_MAX_RX_BUFS);
	if (pc->bufs_per_msg > o->rx_bufs)
		return perf_error("%" PRIu32 " receive buffers of %" PRIu32
				  " bytes cannot hold one %" PRIu32 "-byte message (raise --rx-bufs or --buf-size)",
				  o->rx_bufs, pc->buf_size, o->size);
	pc->rx_bufs = o->rx_bufs;
	pc->tx_slots = (pc->tool->opts & PERF_OPT_WINDOW) && !pc->server ?
		       o->window : 1;
	pc->tx_slot_size = (uint32_t)round_up(app_bytes, 64);
	rx_bytes = (uint64_t)pc->rx_bufs * pc->buf_size;
	tx_bytes = (uint64_t)pc->tx_slots * pc->tx_slot_size;

	unet_ep_attr_init(&attr);
	attr.nic = o->nic;
	attr.mode = o->mode;
	attr.tx_entries = ring_entries(max_u32(256, pc->tx_slots));
	attr.rx_entries = ring_entries(max_u32(256, pc->rx_bufs));
	attr.fq_entries = ring_entries(pc->rx_bufs);
	if (base) {
		/* Receive buffers first, page aligned; send slots after. */
		need = round_up(rx_bytes + tx_bytes, PAGE_BYTES);
		if (need > UNET_SEGMENT_MAX)
			return perf_error("the segment would need %" PRIu64
					  " bytes, more than the %u allowed (lower --rx-bufs or --buf-size)",
					  need, UNET_SEGMENT_MAX);
		if (o->segment && o->segment < need)
			return perf_error("--segment %" PRIu32 " is too small: %" PRIu32
					  " receive buffers of %" PRIu32 " bytes and %" PRIu32
					  " send slots of %" PRIu32 " bytes need %" PRIu64,
					  o->segment, pc->rx_bufs, pc->buf_size,
					  pc->tx_slots, pc->tx_slot_size, need);
		attr.segment_size = o->segment ? o->segment : (uint32_t)need;
	}
	pc->ep = unet_ep_create(pc->u, &attr);
	if (!pc->ep) {
		int e = errno;

		return perf_error("cannot create a %s endpoint on NIC %" PRIu32 ": %s%s",
				  perf_mode_name(o->mode), o->nic, strerror(e),
				  base && (e == ENOMEM || e == EPERM || e == EAGAIN) ?
				  " (the segment is pinned memory: check ulimit -l)" : "");
	}
	pc->rx_entries = attr.rx_entries;
	rc = unet_ep_addr(pc->ep, pc->my_addr, &addr_len);
	if (rc)
		return perf_error("cannot read the endpoint's address: %s",
				  strerror(-rc));

	if (base) {
		seg = unet_ep_segment(pc->ep, NULL);
		pc->rx_area = seg;
		pc->tx_area = seg + rx_bytes;
	} else {
		pc->mm_areas = true;
		pc->rx_area = aligned_alloc(PAGE_BYTES, round_up(rx_bytes, PAGE_BYTES));
		pc->tx_area = aligned_alloc(PAGE_BYTES, round_up(tx_bytes, PAGE_BYTES));
		if (!pc->rx_area || !pc->tx_area)
			return perf_error("cannot allocate %" PRIu64 " bytes of buffers",
					  rx_bytes + tx_bytes);
		/* Present before the NIC first looks, as a real heap would be. */
		memset(pc->rx_area, 0, rx_bytes);
		memset(pc->tx_area, 0, tx_bytes);
	}
	pc->app_tx = calloc(1, app_bytes);
	pc->app_rx = calloc(1, app_bytes);
	if (!pc->app_tx || !pc->app_rx)
		return perf_error("out of memory");
	if (post_rx_bufs(pc))
		return -1;
	pc->credits = pc->bufs_per_msg ?
		      min_u32(pc->rx_bufs / pc->bufs_per_msg, pc->rx_entries) :
		      pc->rx_entries;
	return 0;
}

void perf_ep_teardown(struct perf_ctx *pc)
{
	/* First, so that the NIC stops touching the memory freed below. */
	if (pc->ep)
		unet_ep_destroy(pc->ep);
	pc->ep = NULL;
	if (pc->mm_areas) {
		free(pc->rx_area);
		free(pc->tx_area);
	}
	pc->rx_area = pc->tx_area = NULL;
	free(pc->app_tx);
	free(pc->app_rx);
	pc->app_tx = pc->app_rx = NULL;
}

/* The MAC part of an address's printable form. */
static void mac_of(const uint8_t addr[UNET_ADDR_LEN], char out[18])
{
	char s[UNET_ADDR_STRLEN];

	unet_addr_str(addr, UNET_ADDR_LEN, s, sizeof(s));
	snprintf(out, 18, "%.17s", s);
}

int perf_chan_setup(struct perf_ctx *pc)
{
	char peer[UNET_ADDR_STRLEN], peer_mac[18], my_mac[18];
	int rc;

	unet_addr_str(pc->peer_addr, sizeof(pc->peer_addr), peer,
		      sizeof(peer));
	mac_of(pc->peer_addr, peer_mac);
	mac_of(pc->my_addr, my_mac);
	if (!strcmp(peer_mac, my_mac) && !pc->peer_loopback_only &&
	    !perf_same_host(pc->sock))
		fprintf(stderr, "%s: warning: %s is on another host but its NIC has this NIC's MAC %s; messages will loop back inside this host (give each NIC its own MAC)\n",
			perf_prog, pc->peer_name, my_mac);
	rc = unet_chan_create(pc->ep, pc->peer_addr, sizeof(pc->peer_addr));
	if (rc < 0)
		return perf_error("cannot create a channel to %s: %s%s", peer,
				  strerror(-rc),
				  rc == -EINVAL && pc->peer_loopback_only ?
				  " (the peer's NIC is loopback-only; run both sides on one host, on the same NIC)" :
				  "");
	pc->chan = rc;
	return 0;
}
