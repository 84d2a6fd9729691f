/* SPDX-License-Identifier: MIT */
/*
 * libunet: the user-level side of U-Net/MM.
 *
 * Open the device (a context bound to this process), create an endpoint,
 * ask the kernel for channels to remote endpoints, then exchange messages
 * by writing descriptors into the endpoint's mapped queues; the kernel is
 * entered only to ring the doorbell of an idle NIC, or to sleep.
 *
 *   struct unet *u = unet_open();
 *   struct unet_ep_attr a; unet_ep_attr_init(&a);
 *   struct unet_ep *ep = unet_ep_create(u, &a);
 *   int ch = unet_chan_create(ep, peer_mac, peer_ep_id);
 *   unet_post_free(ep, (uintptr_t)buf, sizeof(buf));
 *   unet_send_buf(ep, ch, data, len, 0);
 *   struct unet_recv r;
 *   while (unet_recv_poll(ep, &r) == 0) unet_wait(u, -1);
 *   ... r.length bytes in r.buf[0..r.nbuf) or r.data if inline ...
 *   unet_recv_done(ep, &r);
 *
 * In MM mode (the default) a buffer is any virtual address of the process;
 * in base-level mode it is an offset into the endpoint's pinned segment,
 * mapped at unet_ep_segment().  Functions return 0 or a count on success
 * and a negative errno on failure; constructors return NULL and set errno.
 * An endpoint is not thread-safe: one thread, or your own lock, per endpoint.
 */
#ifndef LIBUNET_H
#define LIBUNET_H

#include <stddef.h>
#include <stdint.h>

#include <unetmm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct unet;
struct unet_ep;

/*
 * The device and its NICs.  unet_open() fails with EPROTONOSUPPORT when
 * the loaded module speaks another ABI version than this library.
 */
struct unet *unet_open(void);
void unet_close(struct unet *u);
int unet_fd(const struct unet *u);
int unet_nic_info(struct unet *u, uint32_t nic, struct unet_nic_info *info);

/*
 * Counters, as this header knows them (an older module leaves the newer
 * ones zero).  unet_stats_read() gives any set by count, with names if
 * @names is not NULL: it fills up to @count and returns how many counters
 * the set has, so a tool can show counters newer than itself.
 */
struct unet_nic_stats {
	uint64_t ctr[UNET_NIC_NR_COUNTERS];
	uint64_t miss_hist[UNET_MISS_HIST_BUCKETS];
};
struct unet_ep_stats {
	uint64_t ctr[UNET_EP_NR_COUNTERS];
};
int unet_nic_stats(struct unet *u, uint32_t nic, struct unet_nic_stats *st);
int unet_stats_read(struct unet *u, uint32_t scope, uint32_t id,
		    uint64_t *values, char (*names)[UNET_STAT_NAME_LEN],
		    uint32_t count);

/* Endpoints. */
struct unet_ep_attr {
	uint32_t nic;		/* NIC index, default 0 */
	uint32_t mode;		/* UNET_MODE_MM (default) or UNET_MODE_BASE */
	uint32_t tx_entries;	/* ring sizes, powers of two, default 256 */
	uint32_t rx_entries;
	uint32_t fq_entries;
	uint32_t segment_size;	/* base mode only: bytes, multiple of 4096 */
};

void unet_ep_attr_init(struct unet_ep_attr *attr);
struct unet_ep *unet_ep_create(struct unet *u, const struct unet_ep_attr *attr);
int unet_ep_destroy(struct unet_ep *ep);
uint32_t unet_ep_id(const struct unet_ep *ep);
uint32_t unet_ep_mode(const struct unet_ep *ep);
/* Base mode: the mapped communication segment (NULL in MM mode). */
void *unet_ep_segment(const struct unet_ep *ep, size_t *size);
int unet_ep_stats(struct unet_ep *ep, struct unet_ep_stats *st);

/* Channels: only the kernel creates them. Returns the channel id. */
int unet_chan_create(struct unet_ep *ep, const uint8_t mac[6],
		     uint32_t remote_ep);
int unet_chan_destroy(struct unet_ep *ep, uint32_t channel);

/*
 * Sending.  A send is queued, not done: the buffers may be reused once its
 * completion is reaped with unet_send_poll().  -EAGAIN: the send queue is
 * full of unreaped sends.  Messages up to UNET_INLINE_MAX bytes given to
 * unet_send_buf() travel inside the descriptor and the buffer is free at
 * once.
 */
int unet_send(struct unet_ep *ep, uint32_t channel,
	      const struct unet_sge *sge, unsigned int nsge, uint32_t cookie);
int unet_send_inline(struct unet_ep *ep, uint32_t channel, const void *data,
		     uint32_t len, uint32_t cookie);
/* One buffer: inline if small, else a one-entry gather (addr = pointer,
 * or for base mode a pointer into the segment: -EINVAL if it is not). */
int unet_send_buf(struct unet_ep *ep, uint32_t channel, const void *data,
		  uint32_t len, uint32_t cookie);

struct unet_send_comp {
	uint32_t cookie;
	uint32_t status;	/* enum unet_status */
};
/* Reaps up to @max completions (comps may be NULL to just reap). */
int unet_send_poll(struct unet_ep *ep, struct unet_send_comp *comps,
		   unsigned int max);
/* Sends queued and not yet reaped. */
unsigned int unet_send_outstanding(const struct unet_ep *ep);

/* Receiving.  Free buffers are taken in the order they were posted. */
int unet_post_free(struct unet_ep *ep, uint64_t addr, uint32_t len);

struct unet_recv {
	uint32_t channel;
	uint32_t length;
	uint32_t status;		/* UNET_ST_OK, or why it was lost */
	const void *data;		/* inline messages: the bytes */
	unsigned int nbuf;		/* else: buffers holding them, see
					 * unet_recv_buf() */
	uint32_t seq;			/* internal */
};

/* 1 and fills @r if a message (or a returned buffer set) is waiting, 0 if not. */
int unet_recv_poll(struct unet_ep *ep, struct unet_recv *r);
/* The i-th buffer of a message, valid until unet_recv_done(). */
const struct unet_sge *unet_recv_buf(const struct unet_ep *ep,
				     const struct unet_recv *r, unsigned int i);
/* Releases the rx slot; its buffers are the caller's again (repost them). */
void unet_recv_done(struct unet_ep *ep, struct unet_recv *r);
/* Copies up to @cap bytes of the message to @dst; returns bytes copied. */
size_t unet_recv_copy(const struct unet_ep *ep, const struct unet_recv *r,
		      void *dst, size_t cap);
/* Address of a buffer's bytes in this process (segment base applied). */
void *unet_buf_ptr(const struct unet_ep *ep, const struct unet_sge *buf);

/*
 * Sleeps until some endpoint of @u has a message to receive (1), or the
 * time runs out (0), or -errno; ms < 0: forever.  Send completions do not
 * wake it: a program that never reaps them would otherwise never sleep.
 */
int unet_wait(struct unet *u, int timeout_ms);
/*
 * The same, also woken by a send completion not yet taken with
 * unet_send_poll(): for a sender waiting for its sends, which reaps them.
 * For poll()/epoll on unet_fd(): POLLIN a message waits, POLLWRBAND a
 * completion waits, POLLOUT a send queue has room.
 */
int unet_wait_send(struct unet *u, int timeout_ms);

const char *unet_status_str(uint32_t status);

#ifdef __cplusplus
}
#endif

#endif /* LIBUNET_H */
