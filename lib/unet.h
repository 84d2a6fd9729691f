/* SPDX-License-Identifier: MIT */
/*
 * libunet: the user-level side of U-Net/MM.  unetmm(7) is the overview;
 * every function has its own manual page.
 *
 * Open the device (a context bound to this process), create an endpoint,
 * give its address to the peer and make a channel from the peer's, then
 * exchange messages by writing descriptors into the endpoint's mapped
 * queues; the kernel is entered only to ring the doorbell of an idle NIC,
 * or to sleep.
 *
 *   struct unet *u = unet_open();
 *   struct unet_ep_attr a; unet_ep_attr_init(&a);
 *   struct unet_ep *ep = unet_ep_create(u, &a);
 *   uint8_t mine[UNET_ADDR_LEN]; size_t n = sizeof(mine);
 *   unet_ep_addr(ep, mine, &n);          ... swap addresses with the peer
 *   int ch = unet_chan_create(ep, theirs, n);
 *   unet_post_free(ep, (uintptr_t)buf, sizeof(buf), ctx);
 *   unet_send_buf(ep, ch, data, len, ctx);
 *   struct unet_recv r;
 *   while (unet_recv_poll(ep, &r) == 0) unet_wait(u, -1);
 *   ... r.length bytes in r.data if inline, else in unet_recv_buf(ep, &r, i)
 *   unet_recv_done(ep, &r);
 *
 * In MM mode (the default) a buffer is any virtual address of the process;
 * in base-level mode it is an offset into the endpoint's pinned segment,
 * mapped at unet_ep_segment().  Functions return 0 or a count on success
 * and a negative errno on failure; constructors return NULL and set errno.
 * An endpoint is not thread-safe: one thread, or your own lock, per endpoint.
 *
 * Binary compatibility.  struct unet and struct unet_ep are opaque, and
 * every function is an exported symbol of libunet.so.1 with a symbol
 * version (LIBUNET_1.0), so the queue protocol lives in the library, not
 * in programs: a module of a new ABI version needs a new libunet, not
 * recompiled programs.  A public structure that grows gets a new version
 * of the functions that take it; the inline functions below only touch
 * structures defined here.
 */
#ifndef LIBUNET_H
#define LIBUNET_H

#include <stddef.h>
#include <stdint.h>

#include <unetmm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBUNET_VERSION_MAJOR	1
#define LIBUNET_VERSION_MINOR	0

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
 * Counters by count: fills up to @count values (and names, if @names is
 * not NULL), zeroes the values the module does not have, and returns how
 * many counters the set has, so a tool can show counters newer than
 * itself.  @id is a NIC index (UNET_STATS_NIC, UNET_STATS_MISS_HIST).
 */
int unet_stats_read(struct unet *u, uint32_t scope, uint32_t id,
		    uint64_t *values, char (*names)[UNET_STAT_NAME_LEN],
		    uint32_t count);
int unet_ep_stats_read(struct unet_ep *ep, uint64_t *values,
		       char (*names)[UNET_STAT_NAME_LEN], uint32_t count);

/*
 * The counters this header knows, as structures.  Inline, so that the
 * structures' sizes are the caller's: a later header with more counters
 * changes no library function.
 */
struct unet_nic_stats {
	uint64_t ctr[UNET_NIC_NR_COUNTERS];
	uint64_t miss_hist[UNET_MISS_HIST_BUCKETS];
};
struct unet_ep_stats {
	uint64_t ctr[UNET_EP_NR_COUNTERS];
};

static inline int unet_nic_stats(struct unet *u, uint32_t nic,
				 struct unet_nic_stats *st)
{
	int n = unet_stats_read(u, UNET_STATS_NIC, nic, st->ctr, NULL,
				UNET_NIC_NR_COUNTERS);

	if (n >= 0)
		n = unet_stats_read(u, UNET_STATS_MISS_HIST, nic,
				    st->miss_hist, NULL,
				    UNET_MISS_HIST_BUCKETS);
	return n < 0 ? n : 0;
}

static inline int unet_ep_stats(struct unet_ep *ep, struct unet_ep_stats *st)
{
	int n = unet_ep_stats_read(ep, st->ctr, NULL, UNET_EP_NR_COUNTERS);

	return n < 0 ? n : 0;
}

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
/* The id unetstat and debugfs show; peers connect by unet_ep_addr(). */
uint32_t unet_ep_id(const struct unet_ep *ep);
uint32_t unet_ep_mode(const struct unet_ep *ep);
/* Base mode: the mapped communication segment (NULL in MM mode). */
void *unet_ep_segment(const struct unet_ep *ep, size_t *size);

/*
 * Addresses.  An endpoint's address is an opaque blob of at most
 * UNET_ADDR_LEN bytes, the same on every host, that a peer passes to
 * unet_chan_create().  unet_ep_addr() takes the room in *len and sets it
 * to the address's length (-ENOSPC, and the length needed, if too small).
 * unet_addr_str() writes a printable form ("MAC/id") for messages.
 */
#define UNET_ADDR_LEN		16
#define UNET_ADDR_STRLEN	32

int unet_ep_addr(const struct unet_ep *ep, void *addr, size_t *len);
/* Rewrites the endpoint id of a well-formed address in place: the
 * address of endpoint @id on the same NIC.  0, or -EINVAL. */
int unet_addr_set_id(void *addr, size_t len, uint32_t id);
const char *unet_addr_str(const void *addr, size_t len, char *buf,
			  size_t size);

/*
 * Channels: only the kernel creates them.  Returns the channel id, which
 * sends name and received messages carry.
 */
int unet_chan_create(struct unet_ep *ep, const void *addr, size_t len);
int unet_chan_destroy(struct unet_ep *ep, uint32_t channel);

/*
 * Sending, batched.  unet_send_reserve() reserves up to @n send slots and
 * returns how many (0: the send queue is full of unreaped sends), the
 * first in *idx; fill slots idx .. idx + got - 1 with unet_send_prep() or
 * unet_send_prep_sge(), then unet_send_submit() hands the first @n of
 * them to the NIC with one release store and one doorbell check, and
 * gives the others back.  A slot submitted unprepared completes with
 * UNET_ST_BAD_CHANNEL.  @context comes back with the completion.
 */
unsigned int unet_send_reserve(struct unet_ep *ep, unsigned int n,
			       uint32_t *idx);
/* One buffer: inline if small, else a one-entry gather (addr = pointer,
 * or for base mode a pointer into the segment: -EINVAL if it is not). */
int unet_send_prep(struct unet_ep *ep, uint32_t idx, uint32_t channel,
		   const void *data, uint32_t len, uint64_t context);
int unet_send_prep_sge(struct unet_ep *ep, uint32_t idx, uint32_t channel,
		       const struct unet_sge *sge, unsigned int nsge,
		       uint64_t context);
int unet_send_submit(struct unet_ep *ep, unsigned int n);

/*
 * Sending one message: reserve, prepare and submit in one call.  A send
 * is queued, not done: the buffers may be reused once its completion is
 * reaped with unet_send_poll().  -EAGAIN: the send queue is full of
 * unreaped sends.  Messages up to UNET_INLINE_MAX bytes given to
 * unet_send_buf() travel inside the descriptor and the buffer is free at
 * once.
 */
int unet_send(struct unet_ep *ep, uint32_t channel,
	      const struct unet_sge *sge, unsigned int nsge, uint64_t context);
int unet_send_inline(struct unet_ep *ep, uint32_t channel, const void *data,
		     uint32_t len, uint64_t context);
int unet_send_buf(struct unet_ep *ep, uint32_t channel, const void *data,
		  uint32_t len, uint64_t context);

struct unet_send_comp {
	uint64_t context;	/* as given to the send */
	uint32_t status;	/* enum unet_status */
};
/* Reaps up to @max completions, in order (comps may be NULL to just reap). */
int unet_send_poll(struct unet_ep *ep, struct unet_send_comp *comps,
		   unsigned int max);
/* Sends submitted and not yet reaped. */
unsigned int unet_send_outstanding(const struct unet_ep *ep);

/*
 * Receive buffers.  The NIC fills free buffers in the order they were
 * posted; each carries a 64-bit context back to the receiver.
 * unet_post_free() posts one; unet_fq_reserve(), unet_fq_prep() and
 * unet_fq_submit() post many with one release store, as for sends.
 * -EAGAIN / 0: the free queue is full.
 */
int unet_post_free(struct unet_ep *ep, uint64_t addr, uint32_t len,
		   uint64_t context);
unsigned int unet_fq_reserve(struct unet_ep *ep, unsigned int n,
			     uint32_t *idx);
int unet_fq_prep(struct unet_ep *ep, uint32_t idx, uint64_t addr,
		 uint32_t len, uint64_t context);
int unet_fq_submit(struct unet_ep *ep, unsigned int n);

/* A free buffer as it was posted. */
struct unet_buf {
	uint64_t addr;		/* pointer (MM mode) or segment offset */
	uint64_t context;
	uint32_t len;
};

/* The oldest message not yet released with unet_recv_done(). */
struct unet_recv {
	uint32_t channel;	/* the channel it arrived on */
	uint32_t length;	/* bytes */
	uint32_t status;	/* UNET_ST_OK, or why it was lost */
	uint32_t nbuf;		/* buffers it took (0 if inline) */
	const void *data;	/* inline messages: the bytes, else NULL */
};

/*
 * 1 and fills @r if a message (or a set of returned buffers) waits, 0 if
 * not, -EIO if the NIC wrote nonsense.  Polling again before
 * unet_recv_done() gives the same message.
 */
int unet_recv_poll(struct unet_ep *ep, struct unet_recv *r);
/* The i-th buffer of the message, valid until unet_recv_done(). */
const struct unet_buf *unet_recv_buf(const struct unet_ep *ep,
				     const struct unet_recv *r, unsigned int i);
/* Releases the message; its buffers are the caller's again (repost them). */
void unet_recv_done(struct unet_ep *ep, struct unet_recv *r);
/* Copies up to @cap bytes of the message to @dst; returns bytes copied. */
size_t unet_recv_copy(const struct unet_ep *ep, const struct unet_recv *r,
		      void *dst, size_t cap);
/* Address of a buffer's bytes in this process (segment base applied). */
void *unet_buf_ptr(const struct unet_ep *ep, const struct unet_buf *buf);

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
/*
 * For a program that busy-polls @ep and found its receive queue empty:
 * runs the receive processing of the network device @ep last heard from,
 * in the caller's time, for up to @usecs (at most 10 ms) or until a message
 * waits (1; 0 if the time ran out).  -ENODATA: nothing came from the wire
 * yet, keep polling the queue.  See unet_busy_poll(3).
 */
int unet_busy_poll(struct unet_ep *ep, unsigned int usecs);

const char *unet_status_str(uint32_t status);

#ifdef __cplusplus
}
#endif

#endif /* LIBUNET_H */
