// SPDX-License-Identifier: MIT
/* The raw unetmm ABI for tests: see raw_ep.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "raw_ep.h"

int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int raw_ep_create_req(int fd, uint32_t nic, uint32_t mode, uint32_t tx,
		      uint32_t rx, uint32_t fq, uint32_t seg,
		      struct unet_ep_create *out)
{
	struct unet_ep_create req = {
		.nic = nic, .mode = mode, .tx_entries = tx,
		.rx_entries = rx, .fq_entries = fq, .segment_size = seg,
	};
	int err = raw_ioctl(fd, UNET_IOC_EP_CREATE, &req);

	if (!err && out)
		*out = req;
	return err;
}

int raw_ep_create(struct raw_ep *e, int fd, uint32_t nic, uint32_t mode,
		  uint32_t tx, uint32_t rx, uint32_t fq, uint32_t seg)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->mode = mode;
	err = raw_ep_create_req(fd, nic, mode, tx, rx, fq,
				mode == UNET_MODE_BASE ? seg : 0, &e->req);
	if (err)
		return err;
	e->q = mmap(NULL, e->req.queue_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, (off_t)e->req.queue_offset);
	if (e->q == MAP_FAILED) {
		err = -errno;
		raw_ep_destroy_handle(fd, e->req.handle);
		return err;
	}
	if (mode == UNET_MODE_BASE) {
		e->seg_size = seg;
		e->seg = mmap(NULL, seg, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, (off_t)e->req.segment_offset);
		if (e->seg == MAP_FAILED) {
			err = -errno;
			munmap(e->q, e->req.queue_size);
			raw_ep_destroy_handle(fd, e->req.handle);
			return err;
		}
	}
	e->ctrl = (void *)e->q;
	e->txq = (void *)(e->q + e->req.tx_off);
	e->rxq = (void *)(e->q + e->req.rx_off);
	e->fq = (void *)(e->q + e->req.fq_off);
	return 0;
}

int raw_ep_destroy_handle(int fd, uint32_t handle)
{
	return raw_ioctl(fd, UNET_IOC_EP_DESTROY, &handle);
}

void raw_ep_destroy(struct raw_ep *e)
{
	raw_ep_destroy_handle(e->fd, e->req.handle);
	if (e->q)
		munmap(e->q, e->req.queue_size);
	if (e->seg)
		munmap(e->seg, e->seg_size);
	e->q = NULL;
	e->seg = NULL;
}

int raw_chan(int fd, uint32_t handle, const uint8_t mac[6], uint32_t remote)
{
	struct unet_chan_create c = { .handle = handle, .remote_ep = remote };
	int err;

	memcpy(c.remote_mac, mac, 6);
	err = raw_ioctl(fd, UNET_IOC_CHAN_CREATE, &c);
	return err ? err : (int)c.channel;
}

int raw_chan_destroy(int fd, uint32_t handle, uint32_t channel)
{
	struct unet_chan_destroy c = { .handle = handle, .channel = channel };

	return raw_ioctl(fd, UNET_IOC_CHAN_DESTROY, &c);
}

int raw_kick(const struct raw_ep *e)
{
	uint32_t h = e->req.handle;

	return raw_ioctl(e->fd, UNET_IOC_KICK, &h);
}

int raw_stats(int fd, uint32_t scope, uint32_t id, uint64_t *values,
	      uint32_t count)
{
	struct unet_stats req = {
		.scope = scope, .id = id, .count = count,
		.values = (uintptr_t)values,
	};
	int err = raw_ioctl(fd, UNET_IOC_STATS, &req);

	return err ? err : (int)req.count;
}

static uint64_t one_counter(int fd, uint32_t scope, uint32_t id, int c)
{
	uint64_t v[256] = { 0 };
	int n = raw_stats(fd, scope, id, v, 256);

	if (n < 0 || c >= n) {
		printf("FAIL guest/setup: counter %d of set %u/%u: %s\n", c,
		       scope, id, n < 0 ? strerror(-n) : "no such counter");
		exit(1);
	}
	return v[c];
}

uint64_t raw_nic_ctr(int fd, uint32_t nic, int c)
{
	return one_counter(fd, UNET_STATS_NIC, nic, c);
}

uint64_t raw_ep_ctr(const struct raw_ep *e, int c)
{
	return one_counter(e->fd, UNET_STATS_EP, e->req.handle, c);
}

int raw_nic_info(int fd, uint32_t nic, struct unet_nic_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nic = nic;
	return raw_ioctl(fd, UNET_IOC_NIC_INFO, info);
}
