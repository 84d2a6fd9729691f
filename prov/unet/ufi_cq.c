// SPDX-License-Identifier: MIT
/*
 * Completion queues.  Completions are kept in the fullest (tagged) form
 * with their source address and handed out in the format the CQ was
 * opened with.  Errors wait in a queue of their own: fi_cq_read returns
 * -FI_EAVAIL while one is pending, as the API wants.  Reading progresses
 * every endpoint bound to the CQ (manual progress).  The wait object of
 * fi_cq_sread is the U-Net device's file descriptor.
 */
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ufi.h"

int ufi_cq_push(struct ufi_cq *cq, const struct ufi_cq_entry *ent)
{
	if (ent->err) {
		if (cq->err_count == cq->err_size)
			return -FI_EOVERRUN;
		cq->errs[(cq->err_head + cq->err_count++) % cq->err_size] = *ent;
		return 0;
	}
	if (cq->count == cq->size)
		return -FI_EOVERRUN;
	cq->ring[(cq->head + cq->count++) % cq->size] = *ent;
	return 0;
}

/* Idle polls before a read gives the CPU away.  U-Net's NIC is a kernel
 * thread: a process that spins on an empty CQ can keep it (and the peer
 * process) off a busy CPU until the next tick, milliseconds later. */
#define UFI_IDLE_POLLS_BEFORE_YIELD	32
/* Idle rounds (of the above) before asking a device that had nothing. */
#define UFI_BUSY_POLL_RETRY		8

/*
 * Idle: let the NIC's network device run its receive processing in this
 * thread (unet_busy_poll(3)), as a socket's SO_BUSY_POLL does, for the
 * endpoints that hear from the wire; an endpoint that never has (ENODATA)
 * is asked again only after many idle reads.  Returns whether any device
 * was polled.
 */
static bool ufi_cq_busy_poll(struct ufi_cq *cq)
{
	bool polled = false;
	int i;

	if (!ufi_env.busy_poll_us)
		return false;
	for (i = 0; i < cq->neps; i++) {
		struct ufi_ep *ep = cq->eps[i];
		int rc;

		if (!ep->uep || ep->bp_off)
			continue;
		if (ep->bp_skip) {
			ep->bp_skip--;
			continue;
		}
		rc = -ENODATA;
		/* While a grant is live, what the reader waits for arrives
		 * at the bulk endpoint (ufi_rndv.c): the poll ends when it
		 * has a message, not when the main one has.  (Under the
		 * domain's lock: another thread's progress may destroy the
		 * bulk endpoint.) */
		if (ep->bulk.uep && ep->bulk.owner != FI_ADDR_NOTAVAIL)
			rc = unet_busy_poll(ep->bulk.uep, ufi_env.busy_poll_us);
		if (rc == -ENODATA)
			rc = unet_busy_poll(ep->uep, ufi_env.busy_poll_us);
		if (rc >= 0)
			polled = true;
		else if (rc == -ENODATA)
			/* Nothing from the wire yet: a frame may come any
			 * moment, so ask again soon (one ioctl per 256 idle
			 * reads). */
			ep->bp_skip = UFI_BUSY_POLL_RETRY;
		else if (rc != -EINTR)
			ep->bp_off = true;	/* an old module, or no endpoint */
	}
	return polled;
}

void ufi_cq_flush_acks(struct ufi_cq *cq)
{
	int i;

	for (i = 0; i < cq->neps; i++)
		ufi_flush_acks(cq->eps[i]);
}

static void ufi_cq_progress(struct ufi_cq *cq)
{
	int i;

	for (i = 0; i < cq->neps; i++)
		ufi_progress(cq->eps[i]);
	if (cq->count || cq->err_count) {
		cq->idle_polls = 0;
	} else if (++cq->idle_polls >= UFI_IDLE_POLLS_BEFORE_YIELD) {
		cq->idle_polls = 0;
		if (!ufi_cq_busy_poll(cq))
			ufi_yield(cq->domain);
	}
}

static size_t ufi_cq_entry_size(enum fi_cq_format format)
{
	switch (format) {
	case FI_CQ_FORMAT_CONTEXT: return sizeof(struct fi_cq_entry);
	case FI_CQ_FORMAT_MSG: return sizeof(struct fi_cq_msg_entry);
	case FI_CQ_FORMAT_DATA: return sizeof(struct fi_cq_data_entry);
	default: return sizeof(struct fi_cq_tagged_entry);
	}
}

static ssize_t ufi_cq_readfrom_unlocked(struct fid_cq *fcq, void *buf,
					size_t count, fi_addr_t *src_addr)
{
	struct ufi_cq *cq = ufi_container_of(fcq, struct ufi_cq, cq);
	size_t n = 0, esz = ufi_cq_entry_size(cq->format);

	if (!cq->count)
		ufi_cq_progress(cq);
	if (cq->err_count && !cq->count)
		return -FI_EAVAIL;
	while (n < count && cq->count) {
		const struct ufi_cq_entry *c = &cq->ring[cq->head];

		/* The formats share their leading fields with the tagged one. */
		memcpy((char *)buf + n * esz, &c->e, esz);
		if (src_addr)
			src_addr[n] = c->src;
		cq->head = (cq->head + 1) % cq->size;
		cq->count--;
		n++;
	}
	return n ? (ssize_t)n : (cq->err_count ? -FI_EAVAIL : -FI_EAGAIN);
}

#define CQ_DOMAIN(fcq)	(ufi_container_of(fcq, struct ufi_cq, cq)->domain)

UFI_LOCKED(ssize_t, ufi_cq_readfrom,
	   (struct fid_cq *fcq, void *buf, size_t count, fi_addr_t *src_addr),
	   (fcq, buf, count, src_addr), CQ_DOMAIN(fcq))

static ssize_t ufi_cq_read(struct fid_cq *cq, void *buf, size_t count)
{
	return ufi_cq_readfrom(cq, buf, count, NULL);
}

static ssize_t ufi_cq_readerr_unlocked(struct fid_cq *fcq,
				       struct fi_cq_err_entry *buf,
				       uint64_t flags)
{
	struct ufi_cq *cq = ufi_container_of(fcq, struct ufi_cq, cq);
	const struct ufi_cq_entry *c;
	struct fi_cq_err_entry out;

	(void)flags;
	if (!cq->err_count)
		return -FI_EAGAIN;
	c = &cq->errs[cq->err_head];
	memset(&out, 0, sizeof(out));
	out.op_context = c->e.op_context;
	out.flags = c->e.flags;
	out.len = c->e.len;
	out.buf = c->e.buf;
	out.data = c->e.data;
	out.tag = c->e.tag;
	out.olen = c->olen;
	out.err = c->err;
	out.prov_errno = c->err;
	/* API 1.5+: err_data is the caller's buffer, err_data_size its room;
	 * we have no provider-specific data to give. */
	out.err_data = buf->err_data;
	out.err_data_size = 0;
	*buf = out;
	cq->err_head = (cq->err_head + 1) % cq->err_size;
	cq->err_count--;
	return 1;
}

UFI_LOCKED(ssize_t, ufi_cq_readerr,
	   (struct fid_cq *fcq, struct fi_cq_err_entry *buf, uint64_t flags),
	   (fcq, buf, flags), CQ_DOMAIN(fcq))

static ssize_t ufi_cq_sreadfrom(struct fid_cq *fcq, void *buf, size_t count,
				fi_addr_t *src_addr, const void *cond,
				int timeout)
{
	struct ufi_cq *cq = ufi_container_of(fcq, struct ufi_cq, cq);
	uint64_t deadline = timeout >= 0 ?
		ufi_now_ns() + (uint64_t)timeout * 1000000 : UINT64_MAX;

	(void)cond;
	for (;;) {
		ssize_t n = ufi_cq_readfrom(fcq, buf, count, src_addr);
		struct pollfd p = { .fd = unet_fd(cq->domain->dev),
				    .events = POLLIN | POLLWRBAND };
		uint64_t now;

		if (n != -FI_EAGAIN)
			return n;
		now = ufi_now_ns();
		if (now >= deadline)
			return -FI_EAGAIN;
		/* Sleep on the device, but wake at least every 5 ms: the
		 * retransmission and ack timers run inside progress.  An
		 * ACK kept for a reply goes now: none comes while we sleep. */
		ufi_lock(cq->domain);
		ufi_cq_flush_acks(cq);
		ufi_unlock(cq->domain);
		poll(&p, 1, 5);
	}
}

static ssize_t ufi_cq_sread(struct fid_cq *cq, void *buf, size_t count,
			    const void *cond, int timeout)
{
	return ufi_cq_sreadfrom(cq, buf, count, NULL, cond, timeout);
}

static int ufi_cq_signal(struct fid_cq *cq)
{
	(void)cq;
	return -FI_ENOSYS;
}

static const char *ufi_cq_strerror(struct fid_cq *cq, int prov_errno,
				   const void *err_data, char *buf, size_t len)
{
	(void)cq; (void)err_data;
	if (buf && len) {
		strncpy(buf, fi_strerror(prov_errno), len - 1);
		buf[len - 1] = 0;
		return buf;
	}
	return fi_strerror(prov_errno);
}

static int ufi_cq_close_unlocked(struct fid *fid)
{
	struct ufi_cq *cq = ufi_container_of(fid, struct ufi_cq, cq.fid);

	if (cq->neps)
		return -FI_EBUSY;
	cq->domain->refs--;
	free(cq->ring);
	free(cq->errs);
	free(cq);
	return 0;
}

UFI_LOCKED(int, ufi_cq_close, (struct fid *fid), (fid),
	   ufi_container_of(fid, struct ufi_cq, cq.fid)->domain)

static int ufi_cq_control(struct fid *fid, int command, void *arg)
{
	struct ufi_cq *cq = ufi_container_of(fid, struct ufi_cq, cq.fid);

	switch (command) {
	case FI_GETWAIT:
		if (cq->wait_obj != FI_WAIT_FD)
			return -FI_ENODATA;
		*(int *)arg = unet_fd(cq->domain->dev);
		return 0;
	default:
		return -FI_ENOSYS;
	}
}

static struct fi_ops ufi_cq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_cq_close,
	.bind = ufi_no_bind,
	.control = ufi_cq_control,
	.ops_open = ufi_no_ops_open,
};

static struct fi_ops_cq ufi_cq_ops = {
	.size = sizeof(struct fi_ops_cq),
	.read = ufi_cq_read,
	.readfrom = ufi_cq_readfrom,
	.readerr = ufi_cq_readerr,
	.sread = ufi_cq_sread,
	.sreadfrom = ufi_cq_sreadfrom,
	.signal = ufi_cq_signal,
	.strerror = ufi_cq_strerror,
};

int ufi_cq_open(struct fid_domain *fdom, struct fi_cq_attr *attr,
		struct fid_cq **out, void *context)
{
	struct ufi_domain *dom = ufi_container_of(fdom, struct ufi_domain,
						  domain);
	struct ufi_cq *cq;

	switch (attr->format) {
	case FI_CQ_FORMAT_UNSPEC:
	case FI_CQ_FORMAT_CONTEXT:
	case FI_CQ_FORMAT_MSG:
	case FI_CQ_FORMAT_DATA:
	case FI_CQ_FORMAT_TAGGED:
		break;
	default:
		return -FI_ENOSYS;
	}
	switch (attr->wait_obj) {
	case FI_WAIT_NONE:
	case FI_WAIT_UNSPEC:
	case FI_WAIT_FD:
		break;
	default:
		return -FI_ENOSYS;
	}
	if (attr->wait_cond != FI_CQ_COND_NONE)
		return -FI_ENOSYS;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -FI_ENOMEM;
	cq->format = attr->format == FI_CQ_FORMAT_UNSPEC ?
		FI_CQ_FORMAT_CONTEXT : attr->format;
	cq->wait_obj = attr->wait_obj == FI_WAIT_UNSPEC ? FI_WAIT_FD :
		attr->wait_obj;
	/* Room for every operation the endpoints can have open, so that a
	 * completion is never lost for want of space. */
	cq->size = attr->size > 2 * UFI_TX_SIZE ? attr->size :
		2 * (UFI_TX_SIZE + UFI_RX_SIZE);
	cq->err_size = cq->size;
	cq->ring = calloc(cq->size, sizeof(*cq->ring));
	cq->errs = calloc(cq->err_size, sizeof(*cq->errs));
	if (!cq->ring || !cq->errs) {
		free(cq->ring);
		free(cq->errs);
		free(cq);
		return -FI_ENOMEM;
	}
	cq->domain = dom;
	cq->cq.fid.fclass = FI_CLASS_CQ;
	cq->cq.fid.context = context;
	cq->cq.fid.ops = &ufi_cq_fi_ops;
	cq->cq.ops = &ufi_cq_ops;
	ufi_lock(dom);
	dom->refs++;
	ufi_unlock(dom);
	*out = &cq->cq;
	return 0;
}
