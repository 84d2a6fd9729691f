/* SPDX-License-Identifier: MIT */
/*
 * The raw unetmm ABI for tests that must do what libunet never would:
 * endpoints made and mapped by hand, rings written directly, ioctls with
 * chosen arguments.  Compiled once (tests/lib/raw_ep.c) and linked into
 * the guest tests and the fuzzers.  Every function returns 0 (or a count)
 * on success and a negative errno on failure.
 */
#ifndef RAW_EP_H
#define RAW_EP_H

#include <stddef.h>
#include <stdint.h>

#include <unetmm.h>

/* An endpoint made with UNET_IOC_EP_CREATE and mapped by hand. */
struct raw_ep {
	int fd;
	uint32_t mode;
	struct unet_ep_create req;	/* what the kernel answered */
	uint8_t *q;			/* the queue mapping */
	uint8_t *seg;			/* base mode: the segment mapping */
	size_t seg_size;
	struct unet_ctrl *ctrl;
	struct unet_tx_desc *txq;
	struct unet_rx_desc *rxq;
	struct unet_sge *fq;
};

/* ioctl() as -errno. */
int raw_ioctl(int fd, unsigned long cmd, void *arg);

/* UNET_IOC_EP_CREATE alone; *out (may be NULL) gets the answer. */
int raw_ep_create_req(int fd, uint32_t nic, uint32_t mode, uint32_t tx,
		      uint32_t rx, uint32_t fq, uint32_t seg,
		      struct unet_ep_create *out);
/* Created and mapped (queues, and the segment in base mode). */
int raw_ep_create(struct raw_ep *e, int fd, uint32_t nic, uint32_t mode,
		  uint32_t tx, uint32_t rx, uint32_t fq, uint32_t seg);
/* Destroyed, then unmapped. */
void raw_ep_destroy(struct raw_ep *e);
int raw_ep_destroy_handle(int fd, uint32_t handle);

/* A channel: its id, or -errno. */
int raw_chan(int fd, uint32_t handle, const uint8_t mac[6], uint32_t remote);
int raw_chan_destroy(int fd, uint32_t handle, uint32_t channel);
int raw_kick(const struct raw_ep *e);

/* Counters by UNET_IOC_STATS; the set's size, or -errno. */
int raw_stats(int fd, uint32_t scope, uint32_t id, uint64_t *values,
	      uint32_t count);
/* One counter; a failure to read it is fatal to the test. */
uint64_t raw_nic_ctr(int fd, uint32_t nic, int c);
uint64_t raw_ep_ctr(const struct raw_ep *e, int c);

int raw_nic_info(int fd, uint32_t nic, struct unet_nic_info *info);

#endif /* RAW_EP_H */
