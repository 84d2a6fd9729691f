// SPDX-License-Identifier: MIT
/*
 * libunet: queues, doorbell and buffer bookkeeping over the unetmm ABI.
 * See unet.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unet.h"

struct unet {
	int fd;
};

/* What the process posted to one free-queue slot, kept in private memory. */
struct fq_shadow {
	struct unet_sge buf;
	bool busy;		/* posted and not yet handed back */
};

struct unet_ep {
	struct unet *u;
	uint32_t handle;
	uint32_t id;
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

	uint32_t tx_prod;	/* next descriptor to write */
	uint32_t tx_reaped;	/* completions handed to the caller */
	uint32_t rx_cons;
	uint32_t fq_prod;
	struct fq_shadow *shadow;
};

#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

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

struct unet *unet_open(void)
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

void unet_close(struct unet *u)
{
	if (!u)
		return;
	close(u->fd);
	free(u);
}

int unet_fd(const struct unet *u)
{
	return u->fd;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int unet_nic_info(struct unet *u, uint32_t nic, struct unet_nic_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nic = nic;
	return xioctl(u->fd, UNET_IOC_NIC_INFO, info);
}

int unet_stats_read(struct unet *u, uint32_t scope, uint32_t id,
		    uint64_t *values, char (*names)[UNET_STAT_NAME_LEN],
		    uint32_t count)
{
	struct unet_stats req;
	int err;

	memset(&req, 0, sizeof(req));
	req.scope = scope;
	req.id = id;
	req.count = count;
	req.values = (uintptr_t)values;
	req.names = (uintptr_t)names;
	err = xioctl(u->fd, UNET_IOC_STATS, &req);
	return err ? err : (int)req.count;
}

/*
 * Fills @n values; counters this library knows but the module does not
 * (an older module) read as zero.
 */
static int stats_fill(struct unet *u, uint32_t scope, uint32_t id,
		      uint64_t *values, uint32_t n)
{
	int got;

	memset(values, 0, n * sizeof(*values));
	got = unet_stats_read(u, scope, id, values, NULL, n);
	return got < 0 ? got : 0;
}

int unet_nic_stats(struct unet *u, uint32_t nic, struct unet_nic_stats *st)
{
	int err = stats_fill(u, UNET_STATS_NIC, nic, st->ctr,
			     UNET_NIC_NR_COUNTERS);

	if (!err)
		err = stats_fill(u, UNET_STATS_MISS_HIST, nic, st->miss_hist,
				 UNET_MISS_HIST_BUCKETS);
	return err;
}

void unet_ep_attr_init(struct unet_ep_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->mode = UNET_MODE_MM;
	attr->tx_entries = 256;
	attr->rx_entries = 256;
	attr->fq_entries = 256;
}

struct unet_ep *unet_ep_create(struct unet *u, const struct unet_ep_attr *attr)
{
	struct unet_ep_create req = {
		.nic = attr->nic,
		.mode = attr->mode,
		.tx_entries = attr->tx_entries,
		.rx_entries = attr->rx_entries,
		.fq_entries = attr->fq_entries,
		.segment_size = attr->segment_size,
	};
	struct unet_ep *ep;
	int err;

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
	ep->mode = attr->mode;
	ep->tx_entries = req.tx_entries;
	ep->rx_entries = req.rx_entries;
	ep->fq_entries = req.fq_entries;
	ep->shadow = calloc(ep->fq_entries, sizeof(*ep->shadow));
	if (!ep->shadow)
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
	if (ep)
		free(ep->shadow);
	free(ep);
	errno = err;
err_destroy:
	err = errno;
	ioctl(u->fd, UNET_IOC_EP_DESTROY, &req.handle);
	errno = err;
	return NULL;
}

int unet_ep_destroy(struct unet_ep *ep)
{
	int ret;

	if (!ep)
		return 0;
	/* Unmapped first, so the segment's memlock charge goes back at once. */
	if (ep->seg)
		munmap(ep->seg, ep->seg_size);
	munmap(ep->qmem, ep->qsize);
	ret = xioctl(ep->u->fd, UNET_IOC_EP_DESTROY, &ep->handle);
	free(ep->shadow);
	free(ep);
	return ret;
}

uint32_t unet_ep_id(const struct unet_ep *ep)
{
	return ep->id;
}

uint32_t unet_ep_mode(const struct unet_ep *ep)
{
	return ep->mode;
}

void *unet_ep_segment(const struct unet_ep *ep, size_t *size)
{
	if (size)
		*size = ep->seg_size;
	return ep->seg;
}

int unet_ep_stats(struct unet_ep *ep, struct unet_ep_stats *st)
{
	return stats_fill(ep->u, UNET_STATS_EP, ep->handle, st->ctr,
			  UNET_EP_NR_COUNTERS);
}

int unet_chan_create(struct unet_ep *ep, const uint8_t mac[6],
		     uint32_t remote_ep)
{
	struct unet_chan_create req = {
		.handle = ep->handle,
		.remote_ep = remote_ep,
	};
	int err;

	memcpy(req.remote_mac, mac, 6);
	err = xioctl(ep->u->fd, UNET_IOC_CHAN_CREATE, &req);
	return err ? err : (int)req.channel;
}

int unet_chan_destroy(struct unet_ep *ep, uint32_t channel)
{
	struct unet_chan_destroy req = {
		.handle = ep->handle,
		.channel = channel,
	};

	return xioctl(ep->u->fd, UNET_IOC_CHAN_DESTROY, &req);
}

static struct unet_tx_desc *tx_next(struct unet_ep *ep)
{
	if (ep->tx_prod - ep->tx_reaped >= ep->tx_entries)
		return NULL;
	return &ep->txq[ep->tx_prod & (ep->tx_entries - 1)];
}

/*
 * Publishes the descriptor, then rings only if the NIC said it went idle.
 * The full fence orders our producer store before the flag load; the NIC
 * orders its flag store before its last producer load.
 */
static int tx_post(struct unet_ep *ep)
{
	store_release(&ep->ctrl->tx.prod, ++ep->tx_prod);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ep->ctrl->nic_idle, __ATOMIC_RELAXED))
		return xioctl(ep->u->fd, UNET_IOC_KICK, &ep->handle);
	return 0;
}

int unet_send(struct unet_ep *ep, uint32_t channel,
	      const struct unet_sge *sge, unsigned int nsge, uint32_t cookie)
{
	struct unet_tx_desc *d = tx_next(ep);

	if (!d)
		return -EAGAIN;
	if (nsge > UNET_MAX_GATHER)
		return -EINVAL;
	d->channel = channel;
	d->length = 0;
	d->cookie = cookie;
	d->flags = 0;
	d->nsge = (uint8_t)nsge;
	d->status = UNET_ST_PENDING;
	memcpy(d->sge, sge, nsge * sizeof(*sge));
	return tx_post(ep);
}

int unet_send_inline(struct unet_ep *ep, uint32_t channel, const void *data,
		     uint32_t len, uint32_t cookie)
{
	struct unet_tx_desc *d = tx_next(ep);

	if (!d)
		return -EAGAIN;
	if (len > UNET_INLINE_MAX)
		return -EMSGSIZE;
	d->channel = channel;
	d->length = len;
	d->cookie = cookie;
	d->flags = UNET_TX_INLINE;
	d->nsge = 0;
	d->status = UNET_ST_PENDING;
	memcpy(d->inline_data, data, len);
	return tx_post(ep);
}

int unet_send_buf(struct unet_ep *ep, uint32_t channel, const void *data,
		  uint32_t len, uint32_t cookie)
{
	struct unet_sge sge = { .len = len };

	if (len <= UNET_INLINE_MAX)
		return unet_send_inline(ep, channel, data, len, cookie);
	if (ep->mode == UNET_MODE_BASE) {
		uintptr_t p = (uintptr_t)data, seg = (uintptr_t)ep->seg;

		/* Caught here rather than as a BAD_ADDR completion later. */
		if (p < seg || p - seg > ep->seg_size ||
		    len > ep->seg_size - (p - seg))
			return -EINVAL;
		sge.addr = p - seg;
	} else
		sge.addr = (uint64_t)(uintptr_t)data;
	return unet_send(ep, channel, &sge, 1, cookie);
}

int unet_send_poll(struct unet_ep *ep, struct unet_send_comp *comps,
		   unsigned int max)
{
	uint32_t done = load_acquire(&ep->ctrl->tx.cons);
	unsigned int n = 0;

	/* The NIC never completes more than was posted; distrust it anyway. */
	if (done - ep->tx_reaped > ep->tx_prod - ep->tx_reaped)
		return -EIO;
	while (ep->tx_reaped != done && n < max) {
		struct unet_tx_desc *d =
			&ep->txq[ep->tx_reaped & (ep->tx_entries - 1)];

		if (comps) {
			comps[n].cookie = d->cookie;
			comps[n].status = d->status;
		}
		ep->tx_reaped++;
		n++;
	}
	/* Tells poll() which completions are news (POLLWRBAND). */
	if (n)
		store_release(&ep->ctrl->tx_reaped, ep->tx_reaped);
	return (int)n;
}

unsigned int unet_send_outstanding(const struct unet_ep *ep)
{
	return ep->tx_prod - ep->tx_reaped;
}

int unet_post_free(struct unet_ep *ep, uint64_t addr, uint32_t len)
{
	uint32_t slot = ep->fq_prod & (ep->fq_entries - 1);
	struct fq_shadow *s = &ep->shadow[slot];

	if (s->busy)
		return -EAGAIN;
	s->busy = true;
	s->buf.addr = addr;
	s->buf.len = len;
	s->buf.reserved = 0;
	ep->fq[slot] = s->buf;
	store_release(&ep->ctrl->fq.prod, ++ep->fq_prod);
	return 0;
}

int unet_recv_poll(struct unet_ep *ep, struct unet_recv *r)
{
	uint32_t prod = load_acquire(&ep->ctrl->rx.prod);
	struct unet_rx_desc *d;
	uint32_t i;

	if (prod == ep->rx_cons)
		return 0;
	d = &ep->rxq[ep->rx_cons & (ep->rx_entries - 1)];
	r->channel = d->channel;
	r->length = d->length;
	r->status = d->status;
	r->seq = ep->rx_cons;
	r->data = NULL;
	r->nbuf = 0;
	if (d->flags & UNET_RX_INLINE) {
		r->data = d->inline_data;
		return 1;
	}
	if (d->nbuf > ep->fq_entries || d->nbuf > UNET_MAX_RX_BUFS)
		return -EIO;
	r->nbuf = d->nbuf;
	for (i = 0; i < d->nbuf; i++)
		if (!ep->shadow[(d->first_buf + i) & (ep->fq_entries - 1)].busy)
			return -EIO;
	return 1;
}

const struct unet_sge *unet_recv_buf(const struct unet_ep *ep,
				     const struct unet_recv *r, unsigned int i)
{
	const struct unet_rx_desc *d =
		&ep->rxq[r->seq & (ep->rx_entries - 1)];

	return &ep->shadow[(d->first_buf + i) & (ep->fq_entries - 1)].buf;
}

void unet_recv_done(struct unet_ep *ep, struct unet_recv *r)
{
	unsigned int i;

	for (i = 0; i < r->nbuf; i++) {
		const struct unet_rx_desc *d =
			&ep->rxq[r->seq & (ep->rx_entries - 1)];

		ep->shadow[(d->first_buf + i) & (ep->fq_entries - 1)].busy =
			false;
	}
	store_release(&ep->ctrl->rx.cons, ++ep->rx_cons);
}

void *unet_buf_ptr(const struct unet_ep *ep, const struct unet_sge *buf)
{
	if (ep->mode == UNET_MODE_BASE)
		return (char *)ep->seg + buf->addr;
	return (void *)(uintptr_t)buf->addr;
}

size_t unet_recv_copy(const struct unet_ep *ep, const struct unet_recv *r,
		      void *dst, size_t cap)
{
	size_t left = r->length < cap ? r->length : cap, done = 0;
	unsigned int i;

	if (r->data) {
		memcpy(dst, r->data, left);
		return left;
	}
	for (i = 0; i < r->nbuf && done < left; i++) {
		const struct unet_sge *b = unet_recv_buf(ep, r, i);
		size_t n = b->len < left - done ? b->len : left - done;

		memcpy((char *)dst + done, unet_buf_ptr(ep, b), n);
		done += n;
	}
	return done;
}

static int wait_for(struct unet *u, short events, int timeout_ms)
{
	struct pollfd p = { .fd = u->fd, .events = events };
	int n = poll(&p, 1, timeout_ms);

	return n < 0 ? -errno : n;
}

int unet_wait(struct unet *u, int timeout_ms)
{
	return wait_for(u, POLLIN, timeout_ms);
}

int unet_wait_send(struct unet *u, int timeout_ms)
{
	return wait_for(u, POLLIN | POLLWRBAND, timeout_ms);
}

const char *unet_status_str(uint32_t status)
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
