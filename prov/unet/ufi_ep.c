// SPDX-License-Identifier: MIT
/*
 * Endpoints: the object, its bindings, and the posting calls of fi_msg and
 * fi_tagged.  Sends are queued on their peer and handed to the progress
 * engine (ufi_rdm.c), which gathers them from the caller's buffers.
 * Receives are matched here against messages that arrived first (the
 * unexpected queue), else queued for the engine to match on arrival.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ufi.h"

size_t ufi_iov_copy_in(const struct iovec *iov, size_t iov_count, size_t off,
		       const void *src, size_t len)
{
	size_t i, done = 0;

	for (i = 0; i < iov_count && done < len; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)iov[i].iov_base + off, (const char *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}

unsigned ufi_iov_slice(const struct iovec *iov, size_t iov_count, size_t off,
		       size_t len, struct unet_sge *out, unsigned max)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < iov_count && len; i++) {
		size_t k;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (n == max)
			return max + 1;
		k = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		out[n].addr = (uintptr_t)iov[i].iov_base + off;
		out[n].len = (uint32_t)k;
		out[n].reserved = 0;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

static size_t iov_total(const struct iovec *iov, size_t count)
{
	size_t i, n = 0;

	for (i = 0; i < count; i++)
		n += iov[i].iov_len;
	return n;
}

bool ufi_rx_matches(const struct ufi_rx_op *rx, fi_addr_t src, uint64_t tag,
		    bool directed)
{
	if (directed && rx->src != FI_ADDR_UNSPEC && rx->src != src)
		return false;
	if (rx->flags & FI_TAGGED)
		return ((rx->tag ^ tag) & ~rx->ignore) == 0;
	return true;
}

/* --- completions --- */

void ufi_complete_rx(struct ufi_ep *ep, struct ufi_rx_op *rx, uint64_t len,
		     uint64_t tag, uint64_t data, uint8_t pkt_flags,
		     fi_addr_t src, uint64_t full_len)
{
	struct ufi_cq_entry c = { 0 };

	ep->rx_ops_open--;
	ep->stats.bytes_delivered += len;
	c.e.op_context = rx->context;
	c.e.flags = FI_RECV | ((pkt_flags & UFI_F_TAGGED) ? FI_TAGGED : FI_MSG);
	if (pkt_flags & UFI_F_CQ_DATA) {
		c.e.flags |= FI_REMOTE_CQ_DATA;
		c.e.data = data;
	}
	c.e.len = len;
	c.e.buf = rx->iov_count ? rx->iov[0].iov_base : NULL;
	c.e.tag = (pkt_flags & UFI_F_TAGGED) ? tag : 0;
	c.src = (ep->caps & FI_SOURCE) ? src : FI_ADDR_NOTAVAIL;
	if (full_len > len) {
		c.err = FI_ETRUNC;
		c.olen = full_len - len;
	}
	if (ep->rx_cq && (c.err || !ep->rx_selective || (rx->flags & FI_COMPLETION)))
		ufi_cq_push(ep->rx_cq, &c);
	free(rx);
}

/* The CQ entry of a send; the op itself may live on (early completion). */
static void ufi_tx_cq_entry(struct ufi_ep *ep, struct ufi_tx_op *op, int err)
{
	struct ufi_cq_entry c = { 0 };

	c.e.op_context = op->context;
	c.e.flags = FI_SEND | ((op->pkt_flags & UFI_F_TAGGED) ? FI_TAGGED : FI_MSG);
	c.e.len = err ? 0 : op->len;
	c.src = FI_ADDR_NOTAVAIL;
	c.err = err;
	if (ep->tx_cq && (err || (!(op->flags & UFI_TX_SILENT) &&
				  (!ep->tx_selective || (op->flags & FI_COMPLETION)))))
		ufi_cq_push(ep->tx_cq, &c);
}

void ufi_complete_tx(struct ufi_ep *ep, struct ufi_tx_op *op, int err)
{
	/* An early-completed send already gave its entry; a later failure
	 * has no operation left to report on. */
	if (!(op->flags & UFI_TX_EARLY))
		ufi_tx_cq_entry(ep, op, err);
	ep->tx_ops_open--;	/* counts every op alive, early ones too */
	free(op);
}

/* --- peers --- */

int ufi_ep_add_peer(struct ufi_ep *ep, fi_addr_t addr)
{
	struct ufi_peer *peer;
	int ch;

	if (addr >= UFI_MAX_PEERS)
		return -FI_ENOSPC;
	if (!ep->uep)
		return 0;	/* made at fi_enable */
	peer = &ep->peers[addr];
	if (peer->used)
		return 0;
	ch = unet_chan_create(ep->uep, ep->av->addrs[addr], UNET_ADDR_LEN);
	if (ch == -EEXIST) {
		/* The same address twice in the AV: each entry is a peer of
		 * its own to the application, but U-Net gives one channel,
		 * and so one sequence space, per address. */
		UFI_WARN(FI_LOG_AV, "address inserted twice; not supported\n");
		return -FI_EINVAL;
	}
	if (ch < 0)
		return ch;
	memset(peer, 0, sizeof(*peer));
	peer->used = true;
	peer->channel = ch;
	peer->addr = addr;
	peer->is_self = !memcmp(ep->av->addrs[addr], ep->addr, UNET_ADDR_LEN);
	ufi_list_init(&peer->tx_queue);
	/* Until the peer speaks, assume the smallest window it may give. */
	peer->peer_credit = 2;
	peer->rto_ns = (uint64_t)ufi_env.rto_ms * 1000000 * 5;	/* no sample yet */
	peer->cwnd = 8;
	peer->ssthresh = UFI_WINDOW_MAX;
	peer->last_progress_ns = ufi_now_ns();
	peer->bulk.channel = -1;
	ep->chan_to_addr[ch] = addr;
	return 0;
}

/* The NIC resolves a send's channel when it sends it, and a channel slot
 * freed is taken by the next one made: before a peer's channels go, the
 * copies queued on them must have left (1 s at most). */
static void ufi_ep_wait_sent(struct ufi_ep *ep)
{
	uint64_t deadline = ufi_now_ns() + 1000000000ull;

	while (unet_send_outstanding(ep->uep) && ufi_now_ns() < deadline)
		ufi_progress(ep);
}

void ufi_ep_remove_peer(struct ufi_ep *ep, fi_addr_t addr)
{
	struct ufi_peer *peer = &ep->peers[addr];

	if (!peer->used)
		return;
	ufi_fail_peer(ep, peer, FI_ECANCELED);
	ufi_ep_wait_sent(ep);
	ufi_rndv_peer_removed(ep, peer);
	unet_chan_destroy(ep->uep, (uint32_t)peer->channel);
	ep->chan_to_addr[peer->channel] = FI_ADDR_NOTAVAIL;
	peer->used = false;
}

/* --- posting sends --- */

static ssize_t ufi_post_send_unlocked(struct ufi_ep *ep,
				      const struct iovec *iov, size_t count,
				      fi_addr_t dest, uint64_t tag,
				      uint64_t data, uint64_t flags,
				      void *context, uint8_t pkt_flags)
{
	size_t len = iov_total(iov, count);
	bool inject = flags & FI_INJECT;
	struct ufi_peer *peer;
	struct ufi_tx_op *op;

	if (!ep->enabled)
		return -FI_EOPBADSTATE;
	if (count > UFI_IOV_LIMIT)
		return -FI_EINVAL;
	if (dest >= UFI_MAX_PEERS || !ep->peers[dest].used)
		return -FI_EINVAL;
	if (ep->type == FI_EP_DGRAM && len > UFI_SEG_MAX)
		return -FI_EMSGSIZE;
	if (inject && len > UFI_INLINE_PAYLOAD)
		return -FI_EMSGSIZE;
	if (ep->tx_ops_open >= UFI_TX_SIZE) {
		ufi_progress(ep);
		if (ep->tx_ops_open >= UFI_TX_SIZE)
			return -FI_EAGAIN;
	}
	peer = &ep->peers[dest];
	op = calloc(1, sizeof(*op) + (inject ? len : 0));
	if (!op)
		return -FI_ENOMEM;
	op->context = context;
	op->len = len;
	op->tag = tag;
	op->cq_data = data;
	op->flags = flags;
	op->pkt_flags = pkt_flags;
	op->dest = dest;
	op->rndv = ufi_rndv_wanted(ep, op);
	if (inject) {
		size_t i, off = 0;

		for (i = 0; i < count; i++) {
			memcpy(op->inject_copy + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		op->iov[0].iov_base = op->inject_copy;
		op->iov[0].iov_len = len;
		op->iov_count = 1;
	} else {
		memcpy(op->iov, iov, count * sizeof(*iov));
		op->iov_count = count;
	}
	ep->tx_ops_open++;
	/* A send of at most 72 bytes (one inline packet) is copied anyway:
	 * unless the caller asked for delivery semantics, it completes now
	 * (FI_INJECT_COMPLETE) and the copy serves retransmissions.  This
	 * keeps small-message latency at one way instead of a round trip. */
	if (!inject && !peer->dead && ep->type == FI_EP_RDM &&
	    len <= UFI_INLINE_PAYLOAD &&
	    !(flags & (FI_TRANSMIT_COMPLETE | FI_DELIVERY_COMPLETE))) {
		struct ufi_tx_op *copy = realloc(op, sizeof(*op) + len);

		if (copy) {
			size_t i, off = 0;

			op = copy;
			for (i = 0; i < count; i++) {
				memcpy(op->inject_copy + off, iov[i].iov_base, iov[i].iov_len);
				off += iov[i].iov_len;
			}
			op->iov[0].iov_base = op->inject_copy;
			op->iov[0].iov_len = len;
			op->iov_count = 1;
			ufi_tx_cq_entry(ep, op, 0);
			op->flags |= UFI_TX_EARLY;
		}
	}
	if (peer->dead) {
		ufi_complete_tx(ep, op, FI_EIO);
		return 0;
	}
	if (ep->type == FI_EP_RDM)
		ufi_peer_wait_begins(peer);
	ufi_list_add_tail(&peer->tx_queue, &op->link);
	ufi_pump(ep, peer);
	return 0;
}

#define FID_DOMAIN(fid)	(ufi_container_of(fid, struct ufi_ep, ep.fid)->domain)

UFI_LOCKED(ssize_t, ufi_post_send,
	   (struct ufi_ep *ep, const struct iovec *iov, size_t count,
	    fi_addr_t dest, uint64_t tag, uint64_t data, uint64_t flags,
	    void *context, uint8_t pkt_flags),
	   (ep, iov, count, dest, tag, data, flags, context, pkt_flags),
	   ep->domain)

/* --- posting receives --- */

static void ufi_deliver_unexp(struct ufi_ep *ep, struct ufi_rx_op *rx,
			      struct ufi_unexp *u)
{
	size_t cap = iov_total(rx->iov, rx->iov_count);
	size_t n = u->len < cap ? u->len : cap;

	/* The second copy of an unexpected message: bounce buffer to the
	 * application's.  Rendezvous would avoid it for large ones. */
	ufi_iov_copy_in(rx->iov, rx->iov_count, 0, u->bytes, n);
	ep->stats.bytes_copied += n;
	ufi_complete_rx(ep, rx, n, u->tag, u->cq_data, u->pkt_flags, u->src,
			u->len);
	ufi_list_del(&u->link);
	free(u->bytes);
	free(u);
}

static struct ufi_unexp *ufi_find_unexp(struct ufi_ep *ep,
					const struct ufi_rx_op *rx)
{
	struct ufi_list *q = (rx->flags & FI_TAGGED) ? &ep->unexp_tagged :
		&ep->unexp_msg, *l;
	bool directed = ep->caps & FI_DIRECTED_RECV;

	for (l = q->next; l != q; l = l->next) {
		struct ufi_unexp *u = ufi_container_of(l, struct ufi_unexp, link);

		if (!u->claimed && ufi_rx_matches(rx, u->src, u->tag, directed))
			return u;
	}
	return NULL;
}

static ssize_t ufi_post_recv_unlocked(struct ufi_ep *ep,
				      const struct iovec *iov, size_t count,
				      fi_addr_t src, uint64_t tag,
				      uint64_t ignore, uint64_t flags,
				      void *context)
{
	struct ufi_rx_op *rx;
	struct ufi_unexp *u;

	if (!ep->enabled)
		return -FI_EOPBADSTATE;
	if (count > UFI_IOV_LIMIT)
		return -FI_EINVAL;
	if (ep->rx_ops_open >= UFI_RX_SIZE)
		return -FI_EAGAIN;
	rx = calloc(1, sizeof(*rx));
	if (!rx)
		return -FI_ENOMEM;
	rx->context = context;
	memcpy(rx->iov, iov, count * sizeof(*iov));
	rx->iov_count = count;
	rx->len = iov_total(iov, count);
	rx->src = src;
	rx->tag = tag;
	rx->ignore = ignore;
	rx->flags = flags;
	ep->rx_ops_open++;
	ufi_progress(ep);	/* let what has arrived be unexpected first */
	u = ufi_find_unexp(ep, rx);
	if (u) {
		if (u->complete)
			ufi_deliver_unexp(ep, rx, u);
		else
			u->claimed = rx;	/* completes when its last segment lands */
		return 0;
	}
	ufi_list_add_tail((flags & FI_TAGGED) ? &ep->posted_tagged :
			  &ep->posted_msg, &rx->link);
	return 0;
}

UFI_LOCKED(ssize_t, ufi_post_recv,
	   (struct ufi_ep *ep, const struct iovec *iov, size_t count,
	    fi_addr_t src, uint64_t tag, uint64_t ignore, uint64_t flags,
	    void *context),
	   (ep, iov, count, src, tag, ignore, flags, context), ep->domain)

/* FI_PEEK (and FI_CLAIM) of fi_trecvmsg: report a matching unexpected
 * message without taking it; FI_ENOMSG as an error completion if none. */
static ssize_t ufi_peek(struct ufi_ep *ep, const struct fi_msg_tagged *msg,
			uint64_t flags)
{
	struct ufi_rx_op probe = { .src = msg->addr, .tag = msg->tag,
				   .ignore = msg->ignore, .flags = FI_TAGGED };
	struct ufi_unexp *u;
	struct ufi_cq_entry c = { 0 };

	ufi_progress(ep);
	u = ufi_find_unexp(ep, &probe);
	c.e.op_context = msg->context;
	c.e.flags = FI_RECV | FI_TAGGED;
	c.src = FI_ADDR_NOTAVAIL;
	if (!u || !u->complete) {
		c.err = FI_ENOMSG;
	} else {
		c.e.len = u->len;
		c.e.tag = u->tag;
		c.src = u->src;
		if (u->pkt_flags & UFI_F_CQ_DATA) {
			c.e.flags |= FI_REMOTE_CQ_DATA;
			c.e.data = u->cq_data;
		}
		if (flags & FI_CLAIM) {
			/* Set aside for the context: a later FI_CLAIM receive
			 * with the same context takes it.  (Kept here, not in
			 * the caller's context: we ask for no FI_CONTEXT.) */
			ufi_list_del(&u->link);
			u->claim_ctx = msg->context;
			ufi_list_add_tail(&ep->claimed, &u->link);
		}
	}
	if (ep->rx_cq)
		ufi_cq_push(ep->rx_cq, &c);
	return 0;
}

/* --- fi_ops_msg --- */

#define EP_OF(fep) ufi_container_of(fep, struct ufi_ep, ep)

static ssize_t ufi_recv(struct fid_ep *fep, void *buf, size_t len, void *desc,
			fi_addr_t src, void *context)
{
	struct iovec iov = { buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_recv(ep, &iov, 1, src, 0, 0, ep->rx_op_flags, context);
}

static ssize_t ufi_recvv(struct fid_ep *fep, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t src,
			 void *context)
{
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_recv(ep, iov, count, src, 0, 0, ep->rx_op_flags, context);
}

static ssize_t ufi_recvmsg(struct fid_ep *fep, const struct fi_msg *msg,
			   uint64_t flags)
{
	return ufi_post_recv(EP_OF(fep), msg->msg_iov, msg->iov_count,
			     msg->addr, 0, 0, flags & ~FI_TAGGED, msg->context);
}

static ssize_t ufi_send(struct fid_ep *fep, const void *buf, size_t len,
			void *desc, fi_addr_t dest, void *context)
{
	struct iovec iov = { (void *)buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, &iov, 1, dest, 0, 0, ep->tx_op_flags, context, 0);
}

static ssize_t ufi_sendv(struct fid_ep *fep, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t dest,
			 void *context)
{
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, iov, count, dest, 0, 0, ep->tx_op_flags,
			     context, 0);
}

static ssize_t ufi_sendmsg(struct fid_ep *fep, const struct fi_msg *msg,
			   uint64_t flags)
{
	return ufi_post_send(EP_OF(fep), msg->msg_iov, msg->iov_count,
			     msg->addr, 0, msg->data, flags, msg->context,
			     (flags & FI_REMOTE_CQ_DATA) ? UFI_F_CQ_DATA : 0);
}

static ssize_t ufi_inject(struct fid_ep *fep, const void *buf, size_t len,
			  fi_addr_t dest)
{
	struct iovec iov = { (void *)buf, len };

	return ufi_post_send(EP_OF(fep), &iov, 1, dest, 0, 0,
			     FI_INJECT | UFI_TX_SILENT, NULL, 0);
}

static ssize_t ufi_senddata(struct fid_ep *fep, const void *buf, size_t len,
			    void *desc, uint64_t data, fi_addr_t dest,
			    void *context)
{
	struct iovec iov = { (void *)buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, &iov, 1, dest, 0, data, ep->tx_op_flags,
			     context, UFI_F_CQ_DATA);
}

static ssize_t ufi_injectdata(struct fid_ep *fep, const void *buf, size_t len,
			      uint64_t data, fi_addr_t dest)
{
	struct iovec iov = { (void *)buf, len };

	return ufi_post_send(EP_OF(fep), &iov, 1, dest, 0, data,
			     FI_INJECT | UFI_TX_SILENT, NULL, UFI_F_CQ_DATA);
}

static struct fi_ops_msg ufi_msg_ops = {
	.size = sizeof(struct fi_ops_msg),
	.recv = ufi_recv,
	.recvv = ufi_recvv,
	.recvmsg = ufi_recvmsg,
	.send = ufi_send,
	.sendv = ufi_sendv,
	.sendmsg = ufi_sendmsg,
	.inject = ufi_inject,
	.senddata = ufi_senddata,
	.injectdata = ufi_injectdata,
};

/* --- fi_ops_tagged --- */

static ssize_t ufi_trecv(struct fid_ep *fep, void *buf, size_t len, void *desc,
			 fi_addr_t src, uint64_t tag, uint64_t ignore,
			 void *context)
{
	struct iovec iov = { buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_recv(ep, &iov, 1, src, tag, ignore,
			     ep->rx_op_flags | FI_TAGGED, context);
}

static ssize_t ufi_trecvv(struct fid_ep *fep, const struct iovec *iov,
			  void **desc, size_t count, fi_addr_t src,
			  uint64_t tag, uint64_t ignore, void *context)
{
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_recv(ep, iov, count, src, tag, ignore,
			     ep->rx_op_flags | FI_TAGGED, context);
}

static ssize_t ufi_trecvmsg_unlocked(struct fid_ep *fep,
				     const struct fi_msg_tagged *msg,
				     uint64_t flags)
{
	struct ufi_ep *ep = EP_OF(fep);

	if (msg->iov_count > UFI_IOV_LIMIT)
		return -FI_EINVAL;
	if (flags & FI_PEEK)
		return ufi_peek(ep, msg, flags);
	if (flags & FI_CLAIM) {
		/* Take the message an FI_PEEK | FI_CLAIM set aside. */
		struct ufi_unexp *u = NULL;
		struct ufi_rx_op *rx;
		struct ufi_list *l;

		for (l = ep->claimed.next; l != &ep->claimed; l = l->next)
			if (ufi_container_of(l, struct ufi_unexp, link)->claim_ctx ==
			    msg->context) {
				u = ufi_container_of(l, struct ufi_unexp, link);
				break;
			}
		if (!u)
			return -FI_ENOMSG;
		rx = calloc(1, sizeof(*rx));
		if (!rx)
			return -FI_ENOMEM;
		rx->context = msg->context;
		memcpy(rx->iov, msg->msg_iov, msg->iov_count * sizeof(struct iovec));
		rx->iov_count = msg->iov_count;
		rx->flags = flags | FI_TAGGED;
		ep->rx_ops_open++;
		ufi_deliver_unexp(ep, rx, u);	/* takes it off ep->claimed */
		return 0;
	}
	return ufi_post_recv(ep, msg->msg_iov, msg->iov_count, msg->addr,
			     msg->tag, msg->ignore, flags | FI_TAGGED,
			     msg->context);
}

UFI_LOCKED(ssize_t, ufi_trecvmsg,
	   (struct fid_ep *fep, const struct fi_msg_tagged *msg, uint64_t flags),
	   (fep, msg, flags), EP_OF(fep)->domain)

static ssize_t ufi_tsend(struct fid_ep *fep, const void *buf, size_t len,
			 void *desc, fi_addr_t dest, uint64_t tag,
			 void *context)
{
	struct iovec iov = { (void *)buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, &iov, 1, dest, tag, 0, ep->tx_op_flags,
			     context, UFI_F_TAGGED);
}

static ssize_t ufi_tsendv(struct fid_ep *fep, const struct iovec *iov,
			  void **desc, size_t count, fi_addr_t dest,
			  uint64_t tag, void *context)
{
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, iov, count, dest, tag, 0, ep->tx_op_flags,
			     context, UFI_F_TAGGED);
}

static ssize_t ufi_tsendmsg(struct fid_ep *fep, const struct fi_msg_tagged *msg,
			    uint64_t flags)
{
	return ufi_post_send(EP_OF(fep), msg->msg_iov, msg->iov_count,
			     msg->addr, msg->tag, msg->data, flags,
			     msg->context, UFI_F_TAGGED |
			     ((flags & FI_REMOTE_CQ_DATA) ? UFI_F_CQ_DATA : 0));
}

static ssize_t ufi_tinject(struct fid_ep *fep, const void *buf, size_t len,
			   fi_addr_t dest, uint64_t tag)
{
	struct iovec iov = { (void *)buf, len };

	return ufi_post_send(EP_OF(fep), &iov, 1, dest, tag, 0,
			     FI_INJECT | UFI_TX_SILENT, NULL, UFI_F_TAGGED);
}

static ssize_t ufi_tsenddata(struct fid_ep *fep, const void *buf, size_t len,
			     void *desc, uint64_t data, fi_addr_t dest,
			     uint64_t tag, void *context)
{
	struct iovec iov = { (void *)buf, len };
	struct ufi_ep *ep = EP_OF(fep);

	(void)desc;
	return ufi_post_send(ep, &iov, 1, dest, tag, data, ep->tx_op_flags,
			     context, UFI_F_TAGGED | UFI_F_CQ_DATA);
}

static ssize_t ufi_tinjectdata(struct fid_ep *fep, const void *buf, size_t len,
			       uint64_t data, fi_addr_t dest, uint64_t tag)
{
	struct iovec iov = { (void *)buf, len };

	return ufi_post_send(EP_OF(fep), &iov, 1, dest, tag, data,
			     FI_INJECT | UFI_TX_SILENT, NULL,
			     UFI_F_TAGGED | UFI_F_CQ_DATA);
}

static struct fi_ops_tagged ufi_tagged_ops = {
	.size = sizeof(struct fi_ops_tagged),
	.recv = ufi_trecv,
	.recvv = ufi_trecvv,
	.recvmsg = ufi_trecvmsg,
	.send = ufi_tsend,
	.sendv = ufi_tsendv,
	.sendmsg = ufi_tsendmsg,
	.inject = ufi_tinject,
	.senddata = ufi_tsenddata,
	.injectdata = ufi_tinjectdata,
};

/* --- fi_ops_ep --- */

static ssize_t ufi_cancel_unlocked(fid_t fid, void *context)
{
	struct ufi_ep *ep = ufi_container_of(fid, struct ufi_ep, ep.fid);
	struct ufi_list *queues[] = { &ep->posted_msg, &ep->posted_tagged };
	size_t q;

	for (q = 0; q < 2; q++) {
		struct ufi_list *l;

		for (l = queues[q]->next; l != queues[q]; l = l->next) {
			struct ufi_rx_op *rx = ufi_container_of(l, struct ufi_rx_op, link);
			struct ufi_cq_entry c = { 0 };

			if (rx->context != context)
				continue;
			ufi_list_del(&rx->link);
			c.e.op_context = context;
			c.e.flags = FI_RECV | ((rx->flags & FI_TAGGED) ? FI_TAGGED : FI_MSG);
			c.e.tag = rx->tag;
			c.src = FI_ADDR_NOTAVAIL;
			c.err = FI_ECANCELED;
			if (ep->rx_cq)
				ufi_cq_push(ep->rx_cq, &c);
			ep->rx_ops_open--;
			free(rx);
			return 0;
		}
	}
	/* Sends cannot be cancelled: their bytes may be on the wire. */
	return -FI_ENOENT;
}

UFI_LOCKED(ssize_t, ufi_cancel, (fid_t fid, void *context), (fid, context),
	   FID_DOMAIN(fid))

static int ufi_getopt(fid_t fid, int level, int optname, void *optval,
		      size_t *optlen)
{
	(void)fid; (void)level; (void)optname; (void)optval; (void)optlen;
	return -FI_ENOPROTOOPT;
}

static int ufi_setopt(fid_t fid, int level, int optname, const void *optval,
		      size_t optlen)
{
	(void)fid; (void)level; (void)optname; (void)optval; (void)optlen;
	return -FI_ENOPROTOOPT;
}

static int ufi_no_ctx(struct fid_ep *sep, int index, struct fi_tx_attr *attr,
		      struct fid_ep **ep, void *context)
{
	(void)sep; (void)index; (void)attr; (void)ep; (void)context;
	return -FI_ENOSYS;
}

static int ufi_no_rx_ctx(struct fid_ep *sep, int index,
			 struct fi_rx_attr *attr, struct fid_ep **ep,
			 void *context)
{
	(void)sep; (void)index; (void)attr; (void)ep; (void)context;
	return -FI_ENOSYS;
}

static ssize_t ufi_rx_size_left_unlocked(struct fid_ep *fep)
{
	return (ssize_t)(UFI_RX_SIZE - EP_OF(fep)->rx_ops_open);
}

UFI_LOCKED(ssize_t, ufi_rx_size_left, (struct fid_ep *fep), (fep),
	   EP_OF(fep)->domain)

static ssize_t ufi_tx_size_left_unlocked(struct fid_ep *fep)
{
	return (ssize_t)(UFI_TX_SIZE - EP_OF(fep)->tx_ops_open);
}

UFI_LOCKED(ssize_t, ufi_tx_size_left, (struct fid_ep *fep), (fep),
	   EP_OF(fep)->domain)

static struct fi_ops_ep ufi_ep_ops = {
	.size = sizeof(struct fi_ops_ep),
	.cancel = ufi_cancel,
	.getopt = ufi_getopt,
	.setopt = ufi_setopt,
	.tx_ctx = ufi_no_ctx,
	.rx_ctx = ufi_no_rx_ctx,
	.rx_size_left = ufi_rx_size_left,
	.tx_size_left = ufi_tx_size_left,
};

/* --- fi_ops_cm: only names; there are no connections --- */

static int ufi_getname(fid_t fid, void *addr, size_t *addrlen)
{
	struct ufi_ep *ep = ufi_container_of(fid, struct ufi_ep, ep.fid);
	size_t room = *addrlen;

	*addrlen = UNET_ADDR_LEN;
	if (room < UNET_ADDR_LEN)
		return -FI_ETOOSMALL;
	memcpy(addr, ep->addr, UNET_ADDR_LEN);
	return 0;
}

static int ufi_no_setname(fid_t fid, void *addr, size_t addrlen)
{
	(void)fid; (void)addr; (void)addrlen;
	return -FI_ENOSYS;
}

static int ufi_no_getpeer(struct fid_ep *ep, void *addr, size_t *addrlen)
{
	(void)ep; (void)addr; (void)addrlen;
	return -FI_ENOSYS;
}

static int ufi_no_connect(struct fid_ep *ep, const void *addr,
			  const void *param, size_t paramlen)
{
	(void)ep; (void)addr; (void)param; (void)paramlen;
	return -FI_ENOSYS;
}

static int ufi_no_listen(struct fid_pep *pep)
{
	(void)pep;
	return -FI_ENOSYS;
}

static int ufi_no_accept(struct fid_ep *ep, const void *param, size_t paramlen)
{
	(void)ep; (void)param; (void)paramlen;
	return -FI_ENOSYS;
}

static int ufi_no_reject(struct fid_pep *pep, fid_t handle, const void *param,
			 size_t paramlen)
{
	(void)pep; (void)handle; (void)param; (void)paramlen;
	return -FI_ENOSYS;
}

static int ufi_no_shutdown(struct fid_ep *ep, uint64_t flags)
{
	(void)ep; (void)flags;
	return -FI_ENOSYS;
}

static int ufi_no_join(struct fid_ep *ep, const void *addr, uint64_t flags,
		       struct fid_mc **mc, void *context)
{
	(void)ep; (void)addr; (void)flags; (void)mc; (void)context;
	return -FI_ENOSYS;
}

static struct fi_ops_cm ufi_cm_ops = {
	.size = sizeof(struct fi_ops_cm),
	.setname = ufi_no_setname,
	.getname = ufi_getname,
	.getpeer = ufi_no_getpeer,
	.connect = ufi_no_connect,
	.listen = ufi_no_listen,
	.accept = ufi_no_accept,
	.reject = ufi_no_reject,
	.shutdown = ufi_no_shutdown,
	.join = ufi_no_join,
};

/* --- the endpoint object --- */

static void ufi_cq_detach(struct ufi_cq *cq, struct ufi_ep *ep)
{
	int i;

	if (!cq)
		return;
	for (i = 0; i < cq->neps; i++)
		if (cq->eps[i] == ep) {
			cq->eps[i] = cq->eps[--cq->neps];
			return;
		}
}

static void ufi_print_stats(struct ufi_ep *ep)
{
	const struct ufi_stats *s = &ep->stats;

	fprintf(stderr,
		"unet-fi: ep %u: delivered %llu B, copied %llu B (%.3f copies/byte); "
		"segments %llu sent, %llu resent; %llu acks, %llu piggybacked; %llu dropped by "
		"UNET_FI_DROP; %llu duplicates, %llu out of order; %llu unexpected; "
		"rendezvous: %llu B placed, %llu granted, %llu refused, %llu given up\n",
		unet_ep_id(ep->uep), (unsigned long long)s->bytes_delivered,
		(unsigned long long)s->bytes_copied,
		s->bytes_delivered ? (double)s->bytes_copied / (double)s->bytes_delivered : 0.0,
		(unsigned long long)s->segs_sent, (unsigned long long)s->segs_resent,
		(unsigned long long)s->acks_sent, (unsigned long long)s->acks_piggybacked,
		(unsigned long long)s->dropped_knob,
		(unsigned long long)s->dups, (unsigned long long)s->out_of_order,
		(unsigned long long)s->unexpected,
		(unsigned long long)s->bytes_placed,
		(unsigned long long)s->rndv_granted,
		(unsigned long long)s->rndv_refused,
		(unsigned long long)s->rndv_aborted);
}

/* Gives the peers a moment to have their last segments acknowledged: a
 * process that sends and exits must not leave a peer waiting for a
 * retransmission that will never come. */
static void ufi_ep_drain(struct ufi_ep *ep)
{
	uint64_t deadline = ufi_now_ns() + 2000000000ull;

	while (ep->tx_ops_open && ufi_now_ns() < deadline) {
		ufi_progress(ep);
		/* Seconds at most: the domain's other endpoints go on. */
		ufi_yield(ep->domain);
	}
}

/* A closing RDM endpoint waits until no peer has sent it a DATA segment
 * for this long: more than the longest time between two retransmissions
 * (RTO_MAX, 1 s), so that a peer whose last segment we acknowledged, and
 * whose copy of that ACK was lost, is answered when it sends again. */
#define UFI_LINGER_QUIET_NS	1200000000ull
#define UFI_LINGER_MAX_NS	3000000000ull

/* After the drain, the acknowledgements: the last one we sent for a
 * peer's segment may still sit in the NIC's queue, or be lost on the
 * way, and that peer then retransmits to an endpoint that is no more and
 * fails with FI_EIO a send that was delivered (a peer that sends its last
 * message and waits for its completion while we close, as fi_pingpong's
 * "fin" does).  So a closing RDM endpoint stays until its send queue is
 * empty and no peer has sent it data for UFI_LINGER_QUIET_NS (a
 * retransmission in that time is answered, and starts the quiet time
 * again); at most UFI_LINGER_MAX_NS.  An endpoint that received no data
 * lately closes at once. */
static void ufi_ep_linger(struct ufi_ep *ep)
{
	uint64_t start = ufi_now_ns();

	if (ep->type != FI_EP_RDM)
		return;
	for (;;) {
		uint64_t now, last = 0;
		size_t i;

		ufi_progress(ep);
		now = ufi_now_ns();
		for (i = 0; i < UFI_MAX_PEERS; i++) {
			const struct ufi_peer *peer = &ep->peers[i];

			if (peer->used && !peer->dead && peer->last_data_ns > last)
				last = peer->last_data_ns;
		}
		if ((!last || now - last >= UFI_LINGER_QUIET_NS) &&
		    !unet_send_outstanding(ep->uep))
			break;
		if (now - start >= UFI_LINGER_MAX_NS)
			break;
		ufi_yield(ep->domain);
	}
}

static int ufi_ep_close_unlocked(struct fid *fid)
{
	struct ufi_ep *ep = ufi_container_of(fid, struct ufi_ep, ep.fid);
	size_t i;

	if (ep->uep) {
		ufi_flush_acks(ep);
		ufi_ep_drain(ep);
		ufi_ep_linger(ep);
		if (ufi_env.stats)
			ufi_print_stats(ep);
		for (i = 0; i < UFI_MAX_PEERS; i++)
			if (ep->peers[i].used)
				ufi_fail_peer(ep, &ep->peers[i], FI_ECANCELED);
		ufi_bulk_close(ep);
		unet_ep_destroy(ep->uep);
	}
	while (!ufi_list_empty(&ep->posted_msg) || !ufi_list_empty(&ep->posted_tagged)) {
		struct ufi_list *l = !ufi_list_empty(&ep->posted_msg) ?
			ep->posted_msg.next : ep->posted_tagged.next;

		ufi_list_del(l);
		free(ufi_container_of(l, struct ufi_rx_op, link));
	}
	while (!ufi_list_empty(&ep->unexp_msg) || !ufi_list_empty(&ep->unexp_tagged) ||
	       !ufi_list_empty(&ep->claimed)) {
		struct ufi_list *l = !ufi_list_empty(&ep->unexp_msg) ?
			ep->unexp_msg.next : !ufi_list_empty(&ep->unexp_tagged) ?
			ep->unexp_tagged.next : ep->claimed.next;
		struct ufi_unexp *u = ufi_container_of(l, struct ufi_unexp, link);

		ufi_list_del(l);
		free(u->claimed);
		free(u->bytes);
		free(u);
	}
	if (ep->av) {
		int e;

		for (e = 0; e < ep->av->neps; e++)
			if (ep->av->eps[e] == ep)
				ep->av->eps[e] = ep->av->eps[--ep->av->neps];
	}
	ufi_cq_detach(ep->tx_cq, ep);
	if (ep->rx_cq != ep->tx_cq)
		ufi_cq_detach(ep->rx_cq, ep);
	ep->domain->refs--;
	free(ep->rx_pool);
	fi_freeinfo(ep->info);
	free(ep);
	return 0;
}

UFI_LOCKED(int, ufi_ep_close, (struct fid *fid), (fid),
	   FID_DOMAIN(fid))

static int ufi_cq_attach(struct ufi_cq *cq, struct ufi_ep *ep)
{
	int i;

	for (i = 0; i < cq->neps; i++)
		if (cq->eps[i] == ep)
			return 0;
	if (cq->neps == (int)(sizeof(cq->eps) / sizeof(cq->eps[0])))
		return -FI_ENOSPC;
	cq->eps[cq->neps++] = ep;
	return 0;
}

static int ufi_ep_bind_unlocked(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct ufi_ep *ep = ufi_container_of(fid, struct ufi_ep, ep.fid);
	int err;

	switch (bfid->fclass) {
	case FI_CLASS_AV: {
		struct ufi_av *av = ufi_container_of(bfid, struct ufi_av, av.fid);

		if (ep->av)
			return -FI_EINVAL;
		if (av->neps == (int)(sizeof(av->eps) / sizeof(av->eps[0])))
			return -FI_ENOSPC;
		ep->av = av;
		av->eps[av->neps++] = ep;
		/* Channels to what the AV already holds. */
		for (size_t i = 0; i < av->count; i++)
			if (av->valid[i]) {
				err = ufi_ep_add_peer(ep, i);
				if (err)
					return err;
			}
		return 0;
	}
	case FI_CLASS_CQ: {
		struct ufi_cq *cq = ufi_container_of(bfid, struct ufi_cq, cq.fid);

		if (!(flags & (FI_TRANSMIT | FI_RECV)))
			return -FI_EINVAL;
		err = ufi_cq_attach(cq, ep);
		if (err)
			return err;
		if (flags & FI_TRANSMIT) {
			ep->tx_cq = cq;
			ep->tx_selective = flags & FI_SELECTIVE_COMPLETION;
		}
		if (flags & FI_RECV) {
			ep->rx_cq = cq;
			ep->rx_selective = flags & FI_SELECTIVE_COMPLETION;
		}
		return 0;
	}
	case FI_CLASS_EQ:
		return 0;	/* no events on connectionless endpoints */
	case FI_CLASS_CNTR:
		return -FI_ENOSYS;
	default:
		return -FI_EINVAL;
	}
}

UFI_LOCKED(int, ufi_ep_bind,
	   (struct fid *fid, struct fid *bfid, uint64_t flags),
	   (fid, bfid, flags), FID_DOMAIN(fid))

/* The U-Net endpoint exists from fi_endpoint on, so that fi_getname
 * works before fi_enable, as programs expect. */
static int ufi_ep_open_unet(struct ufi_ep *ep)
{
	struct unet_ep_attr attr;
	int err;

	unet_ep_attr_init(&attr);
	attr.tx_entries = 1024;
	attr.rx_entries = UNET_RING_MAX;
	attr.fq_entries = UNET_RING_MAX;
	ep->uep = unet_ep_create(ep->domain->dev, &attr);
	if (!ep->uep)
		return -(errno ? errno : FI_ENODEV);
	ep->addr_len = sizeof(ep->addr);
	err = unet_ep_addr(ep->uep, ep->addr, &ep->addr_len);
	if (!err)
		err = ufi_rx_pool_init(ep);
	if (err) {
		unet_ep_destroy(ep->uep);
		ep->uep = NULL;
	}
	return err;
}

static int ufi_ep_enable(struct ufi_ep *ep)
{
	if (ep->enabled)
		return 0;
	if (!ep->av)
		return -FI_ENOAV;
	if (!ep->tx_cq || !ep->rx_cq)
		return -FI_ENOCQ;
	ep->enabled = true;
	return 0;
}

static int ufi_ep_control_unlocked(struct fid *fid, int command, void *arg)
{
	struct ufi_ep *ep = ufi_container_of(fid, struct ufi_ep, ep.fid);

	switch (command) {
	case FI_ENABLE:
		return ufi_ep_enable(ep);
	case FI_GETOPSFLAG: {
		uint64_t *flags = arg;

		*flags = (*flags & FI_TRANSMIT) ? ep->tx_op_flags : ep->rx_op_flags;
		return 0;
	}
	case FI_SETOPSFLAG: {
		uint64_t *flags = arg;

		if (*flags & FI_TRANSMIT)
			ep->tx_op_flags = *flags & ~(FI_TRANSMIT | FI_RECV);
		else
			ep->rx_op_flags = *flags & ~(FI_TRANSMIT | FI_RECV);
		return 0;
	}
	default:
		return -FI_ENOSYS;
	}
}

UFI_LOCKED(int, ufi_ep_control, (struct fid *fid, int command, void *arg),
	   (fid, command, arg), FID_DOMAIN(fid))

static struct fi_ops ufi_ep_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_ep_close,
	.bind = ufi_ep_bind,
	.control = ufi_ep_control,
	.ops_open = ufi_no_ops_open,
};

int ufi_endpoint(struct fid_domain *fdom, struct fi_info *info,
		 struct fid_ep **out, void *context)
{
	struct ufi_domain *dom = ufi_container_of(fdom, struct ufi_domain,
						  domain);
	struct ufi_ep *ep;
	size_t i;
	int err;

	if (!info || !info->ep_attr ||
	    (info->ep_attr->type != FI_EP_RDM && info->ep_attr->type != FI_EP_DGRAM))
		return -FI_EINVAL;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -FI_ENOMEM;
	ep->info = fi_dupinfo(info);
	if (!ep->info) {
		free(ep);
		return -FI_ENOMEM;
	}
	ep->domain = dom;
	ep->type = info->ep_attr->type;
	ep->caps = info->caps ? info->caps : FI_MSG | FI_TAGGED | FI_SOURCE;
	ep->tx_op_flags = info->tx_attr ? info->tx_attr->op_flags : 0;
	ep->rx_op_flags = info->rx_attr ? info->rx_attr->op_flags : 0;
	ufi_list_init(&ep->posted_msg);
	ufi_list_init(&ep->posted_tagged);
	ufi_list_init(&ep->unexp_msg);
	ufi_list_init(&ep->unexp_tagged);
	ufi_list_init(&ep->claimed);
	for (i = 0; i < UNET_MAX_CHANNELS; i++)
		ep->chan_to_addr[i] = FI_ADDR_NOTAVAIL;
	ufi_bulk_init(ep);
	ep->rng = ufi_env.seed * 2654435761u + 1;
	ep->acks_to_drop = ufi_env.drop_acks;
	ep->ep.fid.fclass = FI_CLASS_EP;
	ep->ep.fid.context = context;
	ep->ep.fid.ops = &ufi_ep_fi_ops;
	ep->ep.ops = &ufi_ep_ops;
	ep->ep.cm = &ufi_cm_ops;
	ep->ep.msg = &ufi_msg_ops;
	ep->ep.tagged = &ufi_tagged_ops;
	err = ufi_ep_open_unet(ep);
	if (err) {
		free(ep->rx_pool);
		fi_freeinfo(ep->info);
		free(ep);
		return err;
	}
	ufi_lock(dom);
	dom->refs++;
	ufi_unlock(dom);
	*out = &ep->ep;
	return 0;
}
