// SPDX-License-Identifier: MIT
/*
 * libunet: queues, doorbell and buffer bookkeeping over the unetmm ABI.
 * See unet.h for the contract and the manual pages for the details.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unet.h"

/* Only the functions of unet.h leave the library (see libunet.map). */
#define UNET_EXPORT	__attribute__((visibility("default")))

struct unet {
	int fd;
};

/*
 * What the process posted to one free-queue slot, kept in private memory:
 * the shared ring is the NIC's to read, and a message's buffers are
 * handed back from here, not from anything the NIC wrote.
 */
struct fq_shadow {
	struct unet_buf buf;
	bool busy;		/* reserved or posted, not yet handed back */
};

struct unet_ep {
	struct unet *u;
	uint32_t handle;
	uint32_t id;
	uint32_t nic;
	uint32_t mode;
	void *qmem;
	size_t qsize;
	void *seg;
	size_t seg_size;

	struct unet_ctrl *ctrl;
	struct unet_tx_desc *txq;
	struct unet_rx_desc *rxq;
	struct unet_sge *fq;
	uint32_t tx_entries, rx_entries, fq_entries;

	/* Send queue: published <= reserved; reaped <= published. */
	uint32_t tx_prod;
	uint32_t tx_reserved;
	uint32_t tx_reaped;
	uint64_t *tx_context;	/* per slot */

	/* Free queue: published <= reserved. */
	uint32_t fq_prod;
	uint32_t fq_reserved;
	struct fq_shadow *shadow;

	/* The message at rx_cons, as unet_recv_poll() checked it. */
	uint32_t rx_cons;
	bool rx_polled;
	uint32_t rx_first_buf;
	uint32_t rx_nbuf;
};

#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/*
 * Address format 1, fixed because addresses travel between hosts and
 * library versions: format, flags (0), the NIC's MAC, the endpoint id
 * big-endian, four zero bytes for a later format to use.
 */
#define ADDR_FORMAT		1
#define ADDR_OFF_MAC		2
#define ADDR_OFF_ID		8
#define ADDR_OFF_RESERVED	12
_Static_assert(UNET_ADDR_LEN == 16, "address format 1 is 16 bytes");

/*
 * A module of another ABI version would misread every structure we pass:
 * refuse it here, once, with an errno that says so.
 */
static int check_abi(int fd)
{
	struct unet_dev_info info;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, UNET_IOC_DEV_INFO, &info) < 0)
		return errno == ENOTTY ? -EPROTONOSUPPORT : -errno;
	if (info.abi_version != UNET_ABI_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

UNET_EXPORT struct unet *unet_open(void)
{
	struct unet *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	u->fd = open(UNET_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (u->fd < 0) {
		err = errno;
		goto err_free;
	}
	err = -check_abi(u->fd);
	if (err) {
		close(u->fd);
		goto err_free;
	}
	return u;

err_free:
	free(u);
	errno = err;
	return NULL;
}

UNET_EXPORT void unet_close(struct unet *u)
{
	if (!u)
		return;
	close(u->fd);
	free(u);
}

UNET_EXPORT int unet_fd(const struct unet *u)
{
	return u->fd;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

UNET_EXPORT int unet_nic_info(struct unet *u, uint32_t nic,
			      struct unet_nic_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nic = nic;
	return xioctl(u->fd, UNET_IOC_NIC_INFO, info);
}

static int stats_read(int fd, uint32_t scope, uint32_t id, uint64_t *values,
		      char (*names)[UNET_STAT_NAME_LEN], uint32_t count)
{
	struct unet_stats req;
	int err;

	memset(&req, 0, sizeof(req));
	req.scope = scope;
	req.id = id;
	req.count = count;
	req.values = (uintptr_t)values;
	req.names = (uintptr_t)names;
	err = xioctl(fd, UNET_IOC_STATS, &req);
	if (err)
		return err;
	/* Counters this caller knows and an older module does not. */
	if (values && req.count < count)
		memset(values + req.count, 0,
		       (count - req.count) * sizeof(*values));
	return (int)req.count;
}

UNET_EXPORT int unet_stats_read(struct unet *u, uint32_t scope, uint32_t id,
				uint64_t *values,
				char (*names)[UNET_STAT_NAME_LEN],
				uint32_t count)
{
	return stats_read(u->fd, scope, id, values, names, count);
}

UNET_EXPORT int unet_ep_stats_read(struct unet_ep *ep, uint64_t *values,
				   char (*names)[UNET_STAT_NAME_LEN],
				   uint32_t count)
{
	return stats_read(ep->u->fd, UNET_STATS_EP, ep->handle, values, names,
			  count);
}

UNET_EXPORT void unet_ep_attr_init(struct unet_ep_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->mode = UNET_MODE_MM;
	attr->tx_entries = 256;
	attr->rx_entries = 256;
	attr->fq_entries = 256;
}

static void ep_free(struct unet_ep *ep)
{
	free(ep->tx_context);
	free(ep->shadow);
	free(ep);
}

UNET_EXPORT struct unet_ep *unet_ep_create(struct unet *u,
					   const struct unet_ep_attr *attr)
{
	struct unet_ep_attr defaults;
	struct unet_ep_create req;
	struct unet_ep *ep;
	int err;

	if (!attr) {
		unet_ep_attr_init(&defaults);
		attr = &defaults;
	}
	memset(&req, 0, sizeof(req));
	req.nic = attr->nic;
	req.mode = attr->mode;
	req.tx_entries = attr->tx_entries;
	req.rx_entries = attr->rx_entries;
	req.fq_entries = attr->fq_entries;
	req.segment_size = attr->segment_size;
	err = xioctl(u->fd, UNET_IOC_EP_CREATE, &req);
	if (err) {
		errno = -err;
		return NULL;
	}
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		goto err_destroy;
	ep->u = u;
	ep->handle = req.handle;
	ep->id = req.ep_id;
	ep->nic = attr->nic;
	ep->mode = attr->mode;
	ep->tx_entries = req.tx_entries;
	ep->rx_entries = req.rx_entries;
	ep->fq_entries = req.fq_entries;
	ep->tx_context = calloc(ep->tx_entries, sizeof(*ep->tx_context));
	ep->shadow = calloc(ep->fq_entries, sizeof(*ep->shadow));
	if (!ep->tx_context || !ep->shadow)
		goto err_free;
	ep->qsize = req.queue_size;
	ep->qmem = mmap(NULL, ep->qsize, PROT_READ | PROT_WRITE, MAP_SHARED,
			u->fd, (off_t)req.queue_offset);
	if (ep->qmem == MAP_FAILED)
		goto err_free;
	ep->ctrl = ep->qmem;
	ep->txq = (void *)((char *)ep->qmem + req.tx_off);
	ep->rxq = (void *)((char *)ep->qmem + req.rx_off);
	ep->fq = (void *)((char *)ep->qmem + req.fq_off);
	if (attr->mode == UNET_MODE_BASE) {
		ep->seg_size = attr->segment_size;
		ep->seg = mmap(NULL, ep->seg_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, u->fd, (off_t)req.segment_offset);
		if (ep->seg == MAP_FAILED)
			goto err_unmap;
	}
	return ep;

err_unmap:
	err = errno;
	munmap(ep->qmem, ep->qsize);
	errno = err;
err_free:
	err = errno;
	ep_free(ep);
	errno = err;
err_destroy:
	err = errno;
	ioctl(u->fd, UNET_IOC_EP_DESTROY, &req.handle);
	errno = err;
	return NULL;
}

UNET_EXPORT int unet_ep_destroy(struct unet_ep *ep)
{
	int ret;

	if (!ep)
		return 0;
	/* Unmapped first, so the segment's memlock charge goes back at once. */
	if (ep->seg)
		munmap(ep->seg, ep->seg_size);
	munmap(ep->qmem, ep->qsize);
	ret = xioctl(ep->u->fd, UNET_IOC_EP_DESTROY, &ep->handle);
	ep_free(ep);
	return ret;
}

UNET_EXPORT uint32_t unet_ep_id(const struct unet_ep *ep)
{
	return ep->id;
}

UNET_EXPORT uint32_t unet_ep_mode(const struct unet_ep *ep)
{
	return ep->mode;
}

UNET_EXPORT void *unet_ep_segment(const struct unet_ep *ep, size_t *size)
{
	if (size)
		*size = ep->seg_size;
	return ep->seg;
}

/* ---- addresses and channels ---- */

UNET_EXPORT int unet_ep_addr(const struct unet_ep *ep, void *addr,
			     size_t *len)
{
	struct unet_nic_info info;
	uint8_t *a = addr;
	int err;

	if (*len < UNET_ADDR_LEN) {
		*len = UNET_ADDR_LEN;
		return -ENOSPC;
	}
	/* Asked each time: the netdev's MAC may have changed since. */
	err = unet_nic_info(ep->u, ep->nic, &info);
	if (err)
		return err;
	memset(a, 0, UNET_ADDR_LEN);
	a[0] = ADDR_FORMAT;
	memcpy(a + ADDR_OFF_MAC, info.mac, 6);
	a[ADDR_OFF_ID] = (uint8_t)(ep->id >> 24);
	a[ADDR_OFF_ID + 1] = (uint8_t)(ep->id >> 16);
	a[ADDR_OFF_ID + 2] = (uint8_t)(ep->id >> 8);
	a[ADDR_OFF_ID + 3] = (uint8_t)ep->id;
	*len = UNET_ADDR_LEN;
	return 0;
}

/* The MAC and id of a well-formed address; false for anything else. */
static bool addr_parse(const void *addr, size_t len, uint8_t mac[6],
		       uint32_t *id)
{
	static const uint8_t zero[UNET_ADDR_LEN - ADDR_OFF_RESERVED];
	const uint8_t *a = addr;

	if (!addr || len != UNET_ADDR_LEN || a[0] != ADDR_FORMAT || a[1] ||
	    memcmp(a + ADDR_OFF_RESERVED, zero, sizeof(zero)))
		return false;
	memcpy(mac, a + ADDR_OFF_MAC, 6);
	*id = (uint32_t)a[ADDR_OFF_ID] << 24 |
	      (uint32_t)a[ADDR_OFF_ID + 1] << 16 |
	      (uint32_t)a[ADDR_OFF_ID + 2] << 8 | a[ADDR_OFF_ID + 3];
	return true;
}

UNET_EXPORT int unet_addr_set_id(void *addr, size_t len, uint32_t id)
{
	uint8_t mac[6], *a = addr;
	uint32_t old;

	if (!addr_parse(addr, len, mac, &old))
		return -EINVAL;
	a[ADDR_OFF_ID] = (uint8_t)(id >> 24);
	a[ADDR_OFF_ID + 1] = (uint8_t)(id >> 16);
	a[ADDR_OFF_ID + 2] = (uint8_t)(id >> 8);
	a[ADDR_OFF_ID + 3] = (uint8_t)id;
	return 0;
}

UNET_EXPORT const char *unet_addr_str(const void *addr, size_t len,
				      char *buf, size_t size)
{
	uint8_t mac[6];
	uint32_t id;

	if (!size)
		return buf;
	if (!addr_parse(addr, len, mac, &id))
		snprintf(buf, size, "(not a unet address)");
	else
		snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x/%u",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], id);
	return buf;
}

UNET_EXPORT int unet_chan_create(struct unet_ep *ep, const void *addr,
				 size_t len)
{
	struct unet_chan_create req;
	int err;

	memset(&req, 0, sizeof(req));
	req.handle = ep->handle;
	if (!addr_parse(addr, len, req.remote_mac, &req.remote_ep))
		return -EINVAL;
	err = xioctl(ep->u->fd, UNET_IOC_CHAN_CREATE, &req);
	return err ? err : (int)req.channel;
}

UNET_EXPORT int unet_chan_destroy(struct unet_ep *ep, uint32_t channel)
{
	struct unet_chan_destroy req = {
		.handle = ep->handle,
		.channel = channel,
	};

	return xioctl(ep->u->fd, UNET_IOC_CHAN_DESTROY, &req);
}

/* ---- sending ---- */

static struct unet_tx_desc *tx_desc(const struct unet_ep *ep, uint32_t idx)
{
	return &ep->txq[idx & (ep->tx_entries - 1)];
}

static unsigned int tx_room(const struct unet_ep *ep)
{
	return ep->tx_entries - (ep->tx_reserved - ep->tx_reaped);
}

/* Whether @idx is reserved and not yet submitted. */
static bool tx_is_reserved(const struct unet_ep *ep, uint32_t idx)
{
	return idx - ep->tx_prod < ep->tx_reserved - ep->tx_prod;
}

UNET_EXPORT unsigned int unet_send_reserve(struct unet_ep *ep, unsigned int n,
					   uint32_t *idx)
{
	unsigned int room = tx_room(ep), i;

	if (n > room)
		n = room;
	*idx = ep->tx_reserved;
	/* A slot submitted unprepared must not resend what it held before. */
	for (i = 0; i < n; i++) {
		struct unet_tx_desc *d = tx_desc(ep, ep->tx_reserved + i);

		d->channel = UINT32_MAX;
		d->flags = UNET_TX_INLINE;
		d->length = 0;
		ep->tx_context[(ep->tx_reserved + i) & (ep->tx_entries - 1)] = 0;
	}
	ep->tx_reserved += n;
	return n;
}

static void tx_fill_inline(struct unet_tx_desc *d, uint32_t channel,
			   const void *data, uint32_t len, uint64_t context)
{
	d->channel = channel;
	d->length = len;
	d->cookie = (uint32_t)context;	/* the NIC ignores it */
	d->flags = UNET_TX_INLINE;
	d->nsge = 0;
	d->status = UNET_ST_PENDING;
	memcpy(d->inline_data, data, len);
}

static void tx_fill_sge(struct unet_tx_desc *d, uint32_t channel,
			const struct unet_sge *sge, unsigned int nsge,
			uint64_t context)
{
	d->channel = channel;
	d->length = 0;
	d->cookie = (uint32_t)context;
	d->flags = 0;
	d->nsge = (uint8_t)nsge;
	d->status = UNET_ST_PENDING;
	memcpy(d->sge, sge, nsge * sizeof(*sge));
}

/* A one-entry gather list for @data: its address, or its segment offset. */
static int buf_sge(const struct unet_ep *ep, const void *data, uint32_t len,
		   struct unet_sge *sge)
{
	sge->len = len;
	sge->reserved = 0;
	if (ep->mode == UNET_MODE_BASE) {
		uintptr_t p = (uintptr_t)data, seg = (uintptr_t)ep->seg;

		/* Caught here rather than as a BAD_ADDR completion later. */
		if (p < seg || p - seg > ep->seg_size ||
		    len > ep->seg_size - (p - seg))
			return -EINVAL;
		sge->addr = p - seg;
	} else {
		sge->addr = (uint64_t)(uintptr_t)data;
	}
	return 0;
}

static int tx_prep_buf(struct unet_ep *ep, uint32_t idx, uint32_t channel,
		       const void *data, uint32_t len, uint64_t context)
{
	struct unet_sge sge;
	int err;

	if (len <= UNET_INLINE_MAX) {
		tx_fill_inline(tx_desc(ep, idx), channel, data, len, context);
	} else {
		err = buf_sge(ep, data, len, &sge);
		if (err)
			return err;
		tx_fill_sge(tx_desc(ep, idx), channel, &sge, 1, context);
	}
	ep->tx_context[idx & (ep->tx_entries - 1)] = context;
	return 0;
}

UNET_EXPORT int unet_send_prep(struct unet_ep *ep, uint32_t idx,
			       uint32_t channel, const void *data,
			       uint32_t len, uint64_t context)
{
	if (!tx_is_reserved(ep, idx))
		return -EINVAL;
	return tx_prep_buf(ep, idx, channel, data, len, context);
}

UNET_EXPORT int unet_send_prep_sge(struct unet_ep *ep, uint32_t idx,
				   uint32_t channel,
				   const struct unet_sge *sge,
				   unsigned int nsge, uint64_t context)
{
	if (!tx_is_reserved(ep, idx) || nsge > UNET_MAX_GATHER)
		return -EINVAL;
	tx_fill_sge(tx_desc(ep, idx), channel, sge, nsge, context);
	ep->tx_context[idx & (ep->tx_entries - 1)] = context;
	return 0;
}

/*
 * Publishes the descriptors, then rings only if the NIC said it went
 * idle.  The full fence orders our producer store before the flag load;
 * the NIC orders its flag store before its last producer load.  One of
 * each per batch: that is what batching buys.
 */
static int tx_publish(struct unet_ep *ep)
{
	store_release(&ep->ctrl->tx.prod, ep->tx_prod);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ep->ctrl->nic_idle, __ATOMIC_RELAXED))
		return xioctl(ep->u->fd, UNET_IOC_KICK, &ep->handle);
	return 0;
}

UNET_EXPORT int unet_send_submit(struct unet_ep *ep, unsigned int n)
{
	if (n > ep->tx_reserved - ep->tx_prod)
		return -EINVAL;
	ep->tx_prod += n;
	ep->tx_reserved = ep->tx_prod;
	return n ? tx_publish(ep) : 0;
}

/* The one-message calls: no poisoning, the slot is filled at once. */
static int tx_one_slot(struct unet_ep *ep, uint32_t *idx)
{
	if (ep->tx_reserved != ep->tx_prod)
		return -EBUSY;	/* a batch is being filled */
	if (!tx_room(ep))
		return -EAGAIN;
	*idx = ep->tx_reserved++;
	return 0;
}

static int tx_one_submit(struct unet_ep *ep, int err)
{
	if (err) {
		ep->tx_reserved = ep->tx_prod;
		return err;
	}
	ep->tx_prod = ep->tx_reserved;
	return tx_publish(ep);
}

UNET_EXPORT int unet_send(struct unet_ep *ep, uint32_t channel,
			  const struct unet_sge *sge, unsigned int nsge,
			  uint64_t context)
{
	uint32_t idx;
	int err;

	if (nsge > UNET_MAX_GATHER)
		return -EINVAL;
	err = tx_one_slot(ep, &idx);
	if (err)
		return err;
	tx_fill_sge(tx_desc(ep, idx), channel, sge, nsge, context);
	ep->tx_context[idx & (ep->tx_entries - 1)] = context;
	return tx_one_submit(ep, 0);
}

UNET_EXPORT int unet_send_inline(struct unet_ep *ep, uint32_t channel,
				 const void *data, uint32_t len,
				 uint64_t context)
{
	uint32_t idx;
	int err;

	if (len > UNET_INLINE_MAX)
		return -EMSGSIZE;
	err = tx_one_slot(ep, &idx);
	if (err)
		return err;
	return tx_one_submit(ep, tx_prep_buf(ep, idx, channel, data, len,
					     context));
}

UNET_EXPORT int unet_send_buf(struct unet_ep *ep, uint32_t channel,
			      const void *data, uint32_t len, uint64_t context)
{
	uint32_t idx;
	int err = tx_one_slot(ep, &idx);

	if (err)
		return err;
	return tx_one_submit(ep, tx_prep_buf(ep, idx, channel, data, len,
					     context));
}

UNET_EXPORT int unet_send_poll(struct unet_ep *ep,
			       struct unet_send_comp *comps, unsigned int max)
{
	uint32_t done = load_acquire(&ep->ctrl->tx.cons);
	unsigned int n = 0;

	/* The NIC never completes more than was posted; distrust it anyway. */
	if (done - ep->tx_reaped > ep->tx_prod - ep->tx_reaped)
		return -EIO;
	while (ep->tx_reaped != done && n < max) {
		uint32_t slot = ep->tx_reaped & (ep->tx_entries - 1);

		if (comps) {
			comps[n].context = ep->tx_context[slot];
			comps[n].status = load_acquire(&ep->txq[slot].status);
		}
		ep->tx_reaped++;
		n++;
	}
	/* Tells poll() which completions are news (POLLWRBAND). */
	if (n)
		store_release(&ep->ctrl->tx_reaped, ep->tx_reaped);
	return (int)n;
}

UNET_EXPORT unsigned int unet_send_outstanding(const struct unet_ep *ep)
{
	return ep->tx_prod - ep->tx_reaped;
}

/* ---- free buffers ---- */

static struct fq_shadow *fq_shadow(const struct unet_ep *ep, uint32_t idx)
{
	return &ep->shadow[idx & (ep->fq_entries - 1)];
}

UNET_EXPORT unsigned int unet_fq_reserve(struct unet_ep *ep, unsigned int n,
					 uint32_t *idx)
{
	unsigned int got;

	*idx = ep->fq_reserved;
	for (got = 0; got < n; got++) {
		uint32_t seq = ep->fq_reserved + got;
		struct fq_shadow *s = fq_shadow(ep, seq);

		/* Still in a message the caller has not released. */
		if (s->busy)
			break;
		s->busy = true;
		memset(&s->buf, 0, sizeof(s->buf));
		/* Submitted unprepared, a zero-length buffer takes nothing. */
		memset(&ep->fq[seq & (ep->fq_entries - 1)], 0,
		       sizeof(*ep->fq));
	}
	ep->fq_reserved += got;
	return got;
}

UNET_EXPORT int unet_fq_prep(struct unet_ep *ep, uint32_t idx, uint64_t addr,
			     uint32_t len, uint64_t context)
{
	struct fq_shadow *s;
	struct unet_sge *slot;

	if (idx - ep->fq_prod >= ep->fq_reserved - ep->fq_prod)
		return -EINVAL;
	s = fq_shadow(ep, idx);
	s->buf.addr = addr;
	s->buf.len = len;
	s->buf.context = context;
	slot = &ep->fq[idx & (ep->fq_entries - 1)];
	slot->addr = addr;
	slot->len = len;
	slot->reserved = 0;
	return 0;
}

UNET_EXPORT int unet_fq_submit(struct unet_ep *ep, unsigned int n)
{
	uint32_t seq;

	if (n > ep->fq_reserved - ep->fq_prod)
		return -EINVAL;
	for (seq = ep->fq_prod + n; seq != ep->fq_reserved; seq++)
		fq_shadow(ep, seq)->busy = false;
	ep->fq_prod += n;
	ep->fq_reserved = ep->fq_prod;
	/* The NIC looks at the free queue when a message comes: no doorbell. */
	if (n)
		store_release(&ep->ctrl->fq.prod, ep->fq_prod);
	return 0;
}

UNET_EXPORT int unet_post_free(struct unet_ep *ep, uint64_t addr,
			       uint32_t len, uint64_t context)
{
	uint32_t idx;

	if (ep->fq_reserved != ep->fq_prod)
		return -EBUSY;	/* a batch is being filled */
	if (!unet_fq_reserve(ep, 1, &idx))
		return -EAGAIN;
	unet_fq_prep(ep, idx, addr, len, context);
	return unet_fq_submit(ep, 1);
}

/* ---- receiving ---- */

UNET_EXPORT int unet_recv_poll(struct unet_ep *ep, struct unet_recv *r)
{
	uint32_t prod = load_acquire(&ep->ctrl->rx.prod);
	const struct unet_rx_desc *d;
	uint32_t i, first, nbuf;

	ep->rx_polled = false;
	if (prod == ep->rx_cons)
		return 0;
	d = &ep->rxq[ep->rx_cons & (ep->rx_entries - 1)];
	r->channel = d->channel;
	r->length = d->length;
	r->status = d->status;
	r->data = NULL;
	r->nbuf = 0;
	if (d->flags & UNET_RX_INLINE) {
		r->data = d->inline_data;
		ep->rx_nbuf = 0;
		ep->rx_polled = true;
		return 1;
	}
	/* Read once: the ring is memory the process can write as well. */
	first = d->first_buf;
	nbuf = d->nbuf;
	if (nbuf > ep->fq_entries || nbuf > UNET_MAX_RX_BUFS)
		return -EIO;
	for (i = 0; i < nbuf; i++)
		if (!fq_shadow(ep, first + i)->busy ||
		    first + i - ep->fq_prod < ep->fq_reserved - ep->fq_prod)
			return -EIO;
	r->nbuf = nbuf;
	ep->rx_first_buf = first;
	ep->rx_nbuf = nbuf;
	ep->rx_polled = true;
	return 1;
}

UNET_EXPORT const struct unet_buf *unet_recv_buf(const struct unet_ep *ep,
						 const struct unet_recv *r,
						 unsigned int i)
{
	if (!ep->rx_polled || i >= ep->rx_nbuf || i >= r->nbuf)
		return NULL;
	return &fq_shadow(ep, ep->rx_first_buf + i)->buf;
}

UNET_EXPORT void unet_recv_done(struct unet_ep *ep, struct unet_recv *r)
{
	unsigned int i;

	(void)r;
	if (!ep->rx_polled)
		return;
	for (i = 0; i < ep->rx_nbuf; i++)
		fq_shadow(ep, ep->rx_first_buf + i)->busy = false;
	ep->rx_polled = false;
	store_release(&ep->ctrl->rx.cons, ++ep->rx_cons);
}

UNET_EXPORT void *unet_buf_ptr(const struct unet_ep *ep,
			       const struct unet_buf *buf)
{
	if (ep->mode == UNET_MODE_BASE)
		return (char *)ep->seg + buf->addr;
	return (void *)(uintptr_t)buf->addr;
}

UNET_EXPORT size_t unet_recv_copy(const struct unet_ep *ep,
				  const struct unet_recv *r, void *dst,
				  size_t cap)
{
	size_t left = r->length < cap ? r->length : cap, done = 0;
	unsigned int i;

	if (r->data) {
		memcpy(dst, r->data, left);
		return left;
	}
	for (i = 0; i < r->nbuf && done < left; i++) {
		const struct unet_buf *b = unet_recv_buf(ep, r, i);
		size_t n;

		if (!b)
			break;
		n = b->len < left - done ? b->len : left - done;
		memcpy((char *)dst + done, unet_buf_ptr(ep, b), n);
		done += n;
	}
	return done;
}

/* ---- sleeping ---- */

static int wait_for(struct unet *u, short events, int timeout_ms)
{
	struct pollfd p = { .fd = u->fd, .events = events };
	int n = poll(&p, 1, timeout_ms);

	return n < 0 ? -errno : n;
}

UNET_EXPORT int unet_wait(struct unet *u, int timeout_ms)
{
	return wait_for(u, POLLIN, timeout_ms);
}

UNET_EXPORT int unet_wait_send(struct unet *u, int timeout_ms)
{
	return wait_for(u, POLLIN | POLLWRBAND, timeout_ms);
}

UNET_EXPORT int unet_busy_poll(struct unet_ep *ep, unsigned int usecs)
{
	struct unet_busy_poll req = {
		.handle = ep->handle,
		.usecs = usecs < UNET_BUSY_POLL_MAX_US ? usecs :
			 UNET_BUSY_POLL_MAX_US,
	};
	int n;

	if (!usecs)
		return -EINVAL;
	n = ioctl(ep->u->fd, UNET_IOC_BUSY_POLL, &req);
	return n < 0 ? -errno : n;
}

UNET_EXPORT const char *unet_status_str(uint32_t status)
{
	static const char *const names[] = {
		[UNET_ST_PENDING] = "pending",
		[UNET_ST_OK] = "ok",
		[UNET_ST_BAD_CHANNEL] = "bad channel",
		[UNET_ST_BAD_LENGTH] = "bad length",
		[UNET_ST_BAD_GATHER] = "too many gather entries",
		[UNET_ST_BAD_ADDR] = "bad address",
		[UNET_ST_NO_ACCESS] = "buffer not writable",
		[UNET_ST_NO_ROUTE] = "no route (no link, or no such endpoint)",
		[UNET_ST_DROPPED] = "message dropped",
		[UNET_ST_NO_BUFS] = "no free buffers",
		[UNET_ST_BAD_DESC] = "malformed descriptor",
		[UNET_ST_NO_MEMORY] = "no memory to make the page resident",
		[UNET_ST_BUSY] = "buffer's mapping busy, try again",
	};

	if (status < sizeof(names) / sizeof(names[0]) && names[status])
		return names[status];
	return "unknown status";
}
