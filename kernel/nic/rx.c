// SPDX-License-Identifier: GPL-2.0
/*
 * The receive engine.  A fragment, from the wire or from a sender on this
 * NIC, is matched to an endpoint by its tag (destination endpoint id) and
 * to a channel by its source; anything else is dropped and counted.  The
 * first fragment of a message takes free buffers for all of it and the
 * fragments are copied straight into them; the message is published on the
 * receive queue only when every byte has landed, or handed back with an
 * error status (its buffers with it) when it cannot be completed.
 *
 * A fragment whose buffer pages are not in the TLB waits, in order, in a
 * per-endpoint backlog while the agent translates them.  Only frames of a
 * known channel are ever parked; parked frames are bounded per endpoint
 * (backlog_frames) and per NIC in bytes (backlog_kib), and a backlog whose
 * head has not moved for reasm_timeout_ms is dropped: a host on the LAN
 * cannot make the NIC hold memory it does not give back.
 */
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/busy_poll.h>

#include "nic.h"
#include "ring.h"

struct unet_frag {
	bool local;		/* from this NIC's send engine, not the wire */
	u32 src_ep;
	u32 msg_id;
	u32 msg_len;
	u32 frag_off;
	u32 frag_len;
	u32 frag_size;
	struct unet_span *src;	/* payload starts at offset 0 of it */
	struct unet_endpoint *waiter;	/* whose engine resumes after a miss */
	enum unet_engine engine;
};

/*
 * The channel of @ep that hears (@mac, @remote_ep), or -1.  Local traffic
 * is matched by endpoint alone: a local channel stays one whatever the
 * NIC's MAC becomes.  Caller holds rx.lock.
 */
int unet_rx_find_channel(struct unet_endpoint *ep, bool local,
			 const u8 *mac, u32 remote_ep)
{
	int i;

	lockdep_assert_held(&ep->rx.lock);
	for (i = 0; i < UNET_MAX_CHANNELS; i++) {
		struct unet_channel *c = &ep->rx.chan[i];

		if (!c->used || c->remote_ep != remote_ep || c->local != local)
			continue;
		if (local || ether_addr_equal(c->mac, mac))
			return i;
	}
	return -1;
}

static int rx_space(struct unet_endpoint *ep)
{
	return unet_ring_space(ep->rx.prod, READ_ONCE(ep->ctrl->rx.cons),
			       ep->rx_entries);
}

static void rx_drop(struct unet_endpoint *ep, int ep_ctr, int nic_ctr)
{
	if (ep_ctr >= 0)
		unet_ep_count(ep, ep_ctr, 1);
	unet_nic_count(ep->nic, nic_ctr, 1);
}

/* The next rx slot, or NULL (counted) if the process left no room. */
static struct unet_rx_desc *rx_slot(struct unet_endpoint *ep)
{
	if (rx_space(ep) <= 0) {
		rx_drop(ep, UNET_CTR_rx_drop_queue_full,
			UNET_NIC_drop_queue_full);
		return NULL;
	}
	return &ep->rxq[unet_ring_slot(ep->rx.prod, ep->rx_entries)];
}

/* Counts from the arguments: the slot is the process's to scribble on. */
static void rx_commit(struct unet_endpoint *ep, int status, u32 length)
{
	lockdep_assert_held(&ep->rx.lock);
	if (status == UNET_ST_OK) {
		unet_ep_count(ep, UNET_CTR_rx_msgs, 1);
		unet_ep_count(ep, UNET_CTR_rx_bytes, length);
		unet_nic_count(ep->nic, UNET_NIC_rx_msgs, 1);
		unet_nic_count(ep->nic, UNET_NIC_rx_bytes, length);
	}
	ep->rx.prod++;
	smp_store_release(&ep->ctrl->rx.prod, ep->rx.prod);
	unet_ctx_wake(ep->ctx);
}

static void reasm_end(struct unet_endpoint *ep, struct unet_reasm *r)
{
	r->active = false;
	ep->rx.reserved--;
	ep->rx.reasms--;
	unet_nic_count(ep->nic, UNET_NIC_reasm_active, -1);
}

/* Publishes the message of @r (or returns its buffers with @status). */
static void reasm_finish(struct unet_endpoint *ep, struct unet_reasm *r,
			 int status)
{
	struct unet_rx_desc *d;

	lockdep_assert_held(&ep->rx.lock);
	reasm_end(ep, r);
	d = rx_slot(ep);
	if (!d)
		return;
	d->channel = r->channel;
	d->length = status == UNET_ST_OK ? r->msg_len : 0;
	d->first_buf = r->first_buf;
	d->nbuf = r->nbuf;
	d->flags = 0;
	d->status = status;
	rx_commit(ep, status, status == UNET_ST_OK ? r->msg_len : 0);
}

/* The rest of this message, whatever its fragments, goes quietly. */
static void reasm_refuse(struct unet_reasm *r, u32 msg_id)
{
	r->refused = true;
	r->refused_msg_id = msg_id;
}

void unet_rx_abort_channel(struct unet_endpoint *ep, u32 channel)
{
	struct unet_reasm *r = ep->rx.reasm[channel];

	lockdep_assert_held(&ep->rx.lock);
	if (r && r->active) {
		rx_drop(ep, UNET_CTR_rx_drop_reasm, UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(ep, r, UNET_ST_DROPPED);
	}
}

/*
 * Takes free buffers to hold @len bytes.  Nothing is taken unless all of it
 * fits; a buffer the process may not name is taken with the ones before it
 * and returned to it with an error status.  Returns 0, UNET_ST_NO_BUFS
 * (nothing taken) or the status of a bad buffer (taken).
 */
static int take_buffers(struct unet_endpoint *ep, struct unet_reasm *r,
			u32 len)
{
	u32 prod = smp_load_acquire(&ep->ctrl->fq.prod);
	int avail = unet_ring_pending(prod, ep->rx.fq_cons, ep->fq_entries);
	int status = 0;
	u32 sum = 0, n = 0;

	lockdep_assert_held(&ep->rx.lock);
	if (avail < 0) {
		unet_ep_count(ep, UNET_CTR_bad_index, 1);
		avail = 0;
	}
	while (sum < len) {
		struct unet_sge *s, *b = &r->bufs[n];

		if (n == avail || n == UNET_MAX_RX_BUFS)
			return UNET_ST_NO_BUFS;
		s = &ep->fq[unet_ring_slot(ep->rx.fq_cons + n, ep->fq_entries)];
		b->addr = READ_ONCE(s->addr);
		b->len = READ_ONCE(s->len);
		b->reserved = READ_ONCE(s->reserved);
		n++;
		status = b->len ? unet_dma_check_sge(ep, b) : UNET_ST_BAD_ADDR;
		if (status)
			break;
		sum += b->len;
	}
	r->first_buf = ep->rx.fq_cons;
	r->nbuf = n;
	ep->rx.fq_cons += n;
	smp_store_release(&ep->ctrl->fq.cons, ep->rx.fq_cons);
	return status;
}

/*
 * Translates the free buffers the next messages will take, the way a NIC
 * would prefetch descriptors: a miss when a frame arrives then is rare.
 */
#define RX_PREFETCH_BUFS	16
#define RX_PREFETCH_PAGES	32

static void rx_prefetch(struct unet_endpoint *ep)
{
	struct unet_sge bufs[RX_PREFETCH_BUFS];
	u32 prod = smp_load_acquire(&ep->ctrl->fq.prod);
	int avail = unet_ring_pending(prod, ep->rx.fq_cons, ep->fq_entries);
	int i, n;

	lockdep_assert_held(&ep->rx.lock);
	if (ep->mode != UNET_MODE_MM || avail <= 0)
		return;
	n = min(avail, RX_PREFETCH_BUFS);
	for (i = 0; i < n; i++) {
		struct unet_sge *s = &ep->fq[unet_ring_slot(ep->rx.fq_cons + i,
							    ep->fq_entries)];

		bufs[i].addr = READ_ONCE(s->addr);
		bufs[i].len = READ_ONCE(s->len);
		bufs[i].reserved = 0;
	}
	unet_dma_prefetch(ep, bufs, n, true, RX_PREFETCH_PAGES);
}

/*
 * A message small enough to travel inside the rx descriptor.  Returns 0,
 * -EAGAIN (a miss on the sender's side: nothing published, redo it all)
 * or the status of the sender's buffer.
 */
static int rx_inline(struct unet_endpoint *ep, int ch, struct unet_frag *f)
{
	struct unet_span dst = { .kind = UNET_SPAN_KERNEL };
	struct unet_rx_desc *d;
	u32 copied;
	int ret;

	if (rx_space(ep) <= (int)ep->rx.reserved) {
		rx_drop(ep, UNET_CTR_rx_drop_queue_full,
			UNET_NIC_drop_queue_full);
		return 0;
	}
	d = &ep->rxq[unet_ring_slot(ep->rx.prod, ep->rx_entries)];
	dst.kbuf = d->inline_data;
	ret = unet_dma_copy(&dst, 0, f->src, 0, f->msg_len, &copied);
	if (ret)
		return ret;
	d->channel = ch;
	d->length = f->msg_len;
	d->first_buf = 0;
	d->nbuf = 0;
	d->flags = UNET_RX_INLINE;
	d->status = UNET_ST_OK;
	rx_commit(ep, UNET_ST_OK, f->msg_len);
	return 0;
}

/*
 * Starts the message of @f on channel @ch.  Returns 0 when it may be
 * placed, or a positive status when it is refused (counted, and what its
 * first buffers were handed back with if any).
 */
static int reasm_start(struct unet_endpoint *ep, int ch, struct unet_reasm *r,
		       struct unet_frag *f)
{
	int status;

	if (rx_space(ep) <= (int)ep->rx.reserved) {
		rx_drop(ep, UNET_CTR_rx_drop_queue_full,
			UNET_NIC_drop_queue_full);
		reasm_refuse(r, f->msg_id);
		return UNET_ST_DROPPED;
	}
	status = take_buffers(ep, r, f->msg_len);
	if (status == UNET_ST_NO_BUFS) {
		rx_drop(ep, UNET_CTR_rx_drop_no_bufs, UNET_NIC_drop_no_bufs);
		reasm_refuse(r, f->msg_id);
		return status;
	}
	r->active = true;
	r->local = f->local;
	r->channel = ch;
	r->msg_id = f->msg_id;
	r->msg_len = f->msg_len;
	r->frag_size = f->frag_size;
	r->received = 0;
	r->deadline = jiffies + msecs_to_jiffies(unet_reasm_timeout_ms);
	r->sender_stalled = false;
	r->refused = false;
	bitmap_zero(r->frags, UNET_WIRE_MAX_FRAGS);
	ep->rx.reserved++;
	ep->rx.reasms++;
	unet_nic_count(ep->nic, UNET_NIC_reasm_active, 1);
	if (status) {
		rx_drop(ep, UNET_CTR_rx_drop_bad_buf, UNET_NIC_drop_bad_buf);
		reasm_finish(ep, r, status);
		reasm_refuse(r, f->msg_id);
	}
	return status;
}

/*
 * Places one fragment on channel @ch.  Returns 0 when it is consumed
 * (placed, or dropped and counted), -EAGAIN when it must wait for a
 * translation (*progress bytes of it are placed), or the positive status
 * of a sender's buffer that failed (local senders only).  Caller holds
 * rx.lock.
 */
static int rx_place(struct unet_endpoint *ep, int ch, struct unet_frag *f,
		    u32 *progress)
{
	struct unet_span dst = { .kind = UNET_SPAN_EP };
	struct unet_reasm *r = ep->rx.reasm[ch];
	u32 idx, copied;
	int ret;

	lockdep_assert_held(&ep->rx.lock);
	if (f->msg_len <= UNET_INLINE_MAX && f->frag_len == f->msg_len) {
		unet_rx_abort_channel(ep, ch);
		return rx_inline(ep, ch, f);
	}

	if (!r->active && r->refused && r->refused_msg_id == f->msg_id)
		return 0;	/* the rest of a message already refused */
	if (!r->active || r->msg_id != f->msg_id) {
		if (*progress) {
			/* Its message was dropped while it waited. */
			rx_drop(ep, UNET_CTR_rx_drop_reasm,
				UNET_NIC_drop_reasm_bad_frag);
			return 0;
		}
		unet_rx_abort_channel(ep, ch);
		if (reasm_start(ep, ch, r, f))
			return 0;
	} else if (r->msg_len != f->msg_len || r->frag_size != f->frag_size) {
		rx_drop(ep, -1, UNET_NIC_drop_reasm_bad_frag);
		return 0;
	}

	idx = f->frag_off / f->frag_size;
	if (test_bit(idx, r->frags)) {
		rx_drop(ep, -1, UNET_NIC_drop_reasm_bad_frag);	/* duplicate */
		return 0;
	}

	dst.ep = ep;
	dst.sge = r->bufs;
	dst.nsge = r->nbuf;
	dst.write = true;
	dst.waiter = f->waiter;
	dst.engine = f->engine;
	ret = unet_dma_copy(&dst, f->frag_off + *progress, f->src, *progress,
			    f->frag_len - *progress, &copied);
	*progress += copied;
	/* The timeout counts from the last bytes that moved. */
	if (copied) {
		r->deadline = jiffies + msecs_to_jiffies(unet_reasm_timeout_ms);
		r->sender_stalled = false;
	}
	if (ret == -EAGAIN) {
		bool stalled = f->local && f->src->missed;

		/* Stopped on its sender's page: the (longer) stall timeout. */
		if (stalled && !r->sender_stalled)
			r->deadline = jiffies +
				      msecs_to_jiffies(unet_stall_timeout_ms);
		r->sender_stalled = stalled;
		return ret;
	}
	if (ret) {
		/* The whole message goes; its later fragments go quietly. */
		if (dst.fault) {
			rx_drop(ep, UNET_CTR_rx_drop_bad_buf,
				UNET_NIC_drop_bad_buf);
			reasm_finish(ep, r, dst.fault);
			reasm_refuse(r, f->msg_id);
			return 0;
		}
		rx_drop(ep, UNET_CTR_rx_drop_reasm,
			UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(ep, r, UNET_ST_DROPPED);
		reasm_refuse(r, f->msg_id);
		return f->src->fault ?: UNET_ST_BAD_LENGTH;
	}
	__set_bit(idx, r->frags);
	r->received += f->frag_len;
	if (r->received == r->msg_len) {
		reasm_finish(ep, r, UNET_ST_OK);
		rx_prefetch(ep);
	}
	return 0;
}

/*
 * Delivery from a sender on this NIC: one fragment, the whole message.
 * Returns 0, -EAGAIN (parked on a miss of either side), the status of the
 * sender's buffer, or UNET_ST_NO_ROUTE if the receiver is gone.
 */
int unet_rx_local(struct unet_endpoint *dst, struct unet_endpoint *src,
		  struct unet_tx_msg *msg)
{
	struct unet_span span = { .kind = UNET_SPAN_KERNEL };
	struct unet_frag f = {
		.local = true,
		.src_ep = src->id,
		.msg_id = msg->msg_id,
		.msg_len = msg->msg_len,
		.frag_off = 0,
		.frag_len = msg->msg_len,
		.frag_size = max_t(u32, msg->msg_len, 1),
		.src = &span,
		.waiter = src,
		.engine = UNET_ENGINE_TX,
	};
	int ret = 0, ch;

	if (msg->desc.flags & UNET_TX_INLINE) {
		span.kbuf = msg->desc.inline_data;
	} else {
		span.kind = UNET_SPAN_EP;
		span.ep = src;
		span.sge = msg->desc.sge;
		span.nsge = msg->desc.nsge;
		span.write = false;
		span.waiter = src;
		span.engine = UNET_ENGINE_TX;
	}
	spin_lock_bh(&dst->rx.lock);
	if (READ_ONCE(dst->dead)) {
		/* Gone, maybe half way through: the NIC knows, so it says. */
		unet_nic_count(dst->nic, UNET_NIC_drop_no_endpoint, 1);
		ret = UNET_ST_NO_ROUTE;
	} else {
		/* Who the receiver hears is its business, as on the wire. */
		ch = unet_rx_find_channel(dst, true, NULL, src->id);
		if (ch < 0)
			unet_nic_count(dst->nic, UNET_NIC_drop_no_channel, 1);
		else
			ret = rx_place(dst, ch, &f, &msg->done);
	}
	spin_unlock_bh(&dst->rx.lock);
	if (!READ_ONCE(dst->dead))
		unet_nic_activate(dst);
	return ret;
}

/* The local sender of @msg gives up its message half way (it is closing). */
void unet_rx_local_abort(struct unet_endpoint *dst, struct unet_endpoint *src,
			 struct unet_tx_msg *msg)
{
	struct unet_reasm *r;
	int ch;

	spin_lock_bh(&dst->rx.lock);
	ch = unet_rx_find_channel(dst, true, NULL, src->id);
	r = ch < 0 ? NULL : dst->rx.reasm[ch];
	if (r && r->active && r->local && r->msg_id == msg->msg_id) {
		rx_drop(dst, UNET_CTR_rx_drop_reasm,
			UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(dst, r, UNET_ST_DROPPED);
	}
	spin_unlock_bh(&dst->rx.lock);
}

/* A frame from the wire on channel @ch (its header already decoded). */
static int rx_wire(struct unet_endpoint *ep, int ch, struct sk_buff *skb,
		   const struct unet_wire_hdr *h, u32 *progress)
{
	struct unet_span span = {
		.kind = UNET_SPAN_SKB,
		.skb = skb,
		.skb_off = UNET_WIRE_HDR_LEN,
	};
	struct unet_frag f = {
		.src_ep = h->src_ep,
		.msg_id = h->msg_id,
		.msg_len = h->msg_len,
		.frag_off = h->frag_off,
		.frag_len = h->frag_len,
		.frag_size = h->frag_size,
		.src = &span,
		.waiter = ep,
		.engine = UNET_ENGINE_RX,
	};

	return rx_place(ep, ch, &f, progress);
}

/*
 * Parks a frame behind the ones already waiting, within both bounds.
 * Returns false (counted, and the caller frees it) when it does not fit.
 */
static bool backlog_park(struct unet_endpoint *ep, struct sk_buff *skb)
{
	struct unet_nic *nic = ep->nic;
	long limit = (long)unet_backlog_kib << 10;

	lockdep_assert_held(&ep->rx.lock);
	if (skb_queue_len(&ep->rx.backlog) >= unet_backlog_frames) {
		rx_drop(ep, UNET_CTR_rx_drop_backlog, UNET_NIC_drop_backlog);
		return false;
	}
	/*
	 * One endpoint may hold half of it, whatever its frames' size
	 * (jumbo frames), so that a stuck one leaves room for the others.
	 */
	if ((long)ep->rx.backlog_bytes + skb->truesize > limit / 2 ||
	    atomic_long_add_return(skb->truesize, &nic->backlog_bytes) >
	    limit) {
		if ((long)ep->rx.backlog_bytes + skb->truesize <= limit / 2)
			atomic_long_sub(skb->truesize, &nic->backlog_bytes);
		rx_drop(ep, UNET_CTR_rx_drop_backlog,
			UNET_NIC_drop_backlog_bytes);
		return false;
	}
	if (skb_queue_empty(&ep->rx.backlog))
		ep->rx.backlog_moved = jiffies;
	__skb_queue_tail(&ep->rx.backlog, skb);
	ep->rx.backlog_bytes += skb->truesize;
	unet_nic_count(nic, UNET_NIC_backlog_frames, 1);
	unet_nic_count(nic, UNET_NIC_backlog_bytes, skb->truesize);
	return true;
}

static void backlog_unlink(struct unet_endpoint *ep, struct sk_buff *skb)
{
	struct unet_nic *nic = ep->nic;

	__skb_unlink(skb, &ep->rx.backlog);
	ep->rx.backlog_bytes -= skb->truesize;
	atomic_long_sub(skb->truesize, &nic->backlog_bytes);
	unet_nic_count(nic, UNET_NIC_backlog_frames, -1);
	unet_nic_count(nic, UNET_NIC_backlog_bytes, -(s64)skb->truesize);
}

/*
 * The head frame is done with: a refusal the agent recorded for it must
 * not refuse a later, good use of the same page.
 */
static void head_done(struct unet_endpoint *ep)
{
	spin_lock(&ep->fault_lock);
	ep->fault[UNET_ENGINE_RX].status = 0;
	spin_unlock(&ep->fault_lock);
	ep->rx.backlog_done = 0;
	ep->rx.backlog_moved = jiffies;
}

/* Drops every parked frame, counting each in @nic_ctr. */
static void backlog_purge(struct unet_endpoint *ep, int nic_ctr)
{
	struct sk_buff *skb;

	lockdep_assert_held(&ep->rx.lock);
	while ((skb = skb_peek(&ep->rx.backlog))) {
		backlog_unlink(ep, skb);
		if (nic_ctr >= 0)
			rx_drop(ep, UNET_CTR_rx_drop_backlog, nic_ctr);
		kfree_skb(skb);
	}
	head_done(ep);
}

/* Where a busy-polling process finds the endpoint's next frames. */
static void note_napi(struct unet_endpoint *ep, const struct sk_buff *skb)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	if (unlikely(READ_ONCE(ep->rx.napi_id) != skb->napi_id))
		WRITE_ONCE(ep->rx.napi_id, skb->napi_id);
#endif
}

int unet_rx_frame(struct sk_buff *skb, struct net_device *dev,
		  struct packet_type *pt, struct net_device *orig_dev)
{
	struct unet_nic *nic = pt->af_packet_priv;
	struct unet_endpoint *ep;
	struct unet_wire_hdr h;
	u32 progress = 0;
	bool activate = false;
	int ch, ret;

	if (skb->pkt_type == PACKET_LOOPBACK ||
	    skb->pkt_type == PACKET_OUTGOING)
		goto free;		/* our own, looped back by a tap */
	unet_nic_count(nic, UNET_NIC_rx_frames, 1);
	if (skb->pkt_type != PACKET_HOST) {
		/*
		 * Broadcast and multicast are for no endpoint in particular,
		 * and another host's frames are that host's.
		 */
		unet_nic_count(nic, UNET_NIC_drop_not_host, 1);
		goto free;
	}
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (!skb)
		return NET_RX_DROP;
	if (!pskb_may_pull(skb, UNET_WIRE_HDR_LEN) ||
	    unet_wire_decode(skb->data, skb->len, &h)) {
		unet_nic_count(nic, UNET_NIC_drop_bad_header, 1);
		goto free;
	}

	/* Our own address on the wire is a spoof: local traffic never is. */
	if (unet_nic_is_local(nic, eth_hdr(skb)->h_source)) {
		unet_nic_count(nic, UNET_NIC_drop_bad_header, 1);
		goto free;
	}

	rcu_read_lock();
	ep = unet_nic_find_ep(nic, h.dst_ep);
	if (!ep || READ_ONCE(ep->dead)) {
		rcu_read_unlock();
		unet_nic_count(nic, UNET_NIC_drop_no_endpoint, 1);
		goto free;
	}
	spin_lock(&ep->rx.lock);
	/* Checked before anything is kept on the endpoint's behalf. */
	ch = unet_rx_find_channel(ep, false, eth_hdr(skb)->h_source, h.src_ep);
	if (ch < 0) {
		unet_nic_count(nic, UNET_NIC_drop_no_channel, 1);
		goto unlock;
	}
	note_napi(ep, skb);
	if (!skb_queue_empty(&ep->rx.backlog)) {
		if (backlog_park(ep, skb))	/* behind the others: in order */
			skb = NULL;
	} else {
		ret = rx_wire(ep, ch, skb, &h, &progress);
		if (ret == -EAGAIN) {
			ep->rx.backlog_done = progress;
			if (backlog_park(ep, skb))
				skb = NULL;
			else
				ep->rx.backlog_done = 0;
		}
		activate = true;
	}
unlock:
	spin_unlock(&ep->rx.lock);
	if (activate)
		unet_nic_activate(ep);
	rcu_read_unlock();
free:
	if (skb)
		consume_skb(skb);
	return NET_RX_SUCCESS;
}

/* Retries the backlog in order once the agent has answered. */
void unet_rx_work(struct work_struct *work)
{
	struct unet_endpoint *ep = container_of(work, struct unet_endpoint,
						rx.work);
	struct sk_buff *skb;

	spin_lock_bh(&ep->rx.lock);
	while (!READ_ONCE(ep->dead) && (skb = skb_peek(&ep->rx.backlog))) {
		struct unet_wire_hdr h;
		u32 before = ep->rx.backlog_done;
		int ch;

		/* Checked when it arrived; the skb has not changed since. */
		unet_wire_decode(skb->data, skb->len, &h);
		ch = unet_rx_find_channel(ep, false, eth_hdr(skb)->h_source,
					  h.src_ep);
		if (ch < 0) {
			/* The channel went while the frame waited. */
			unet_nic_count(ep->nic, UNET_NIC_drop_no_channel, 1);
		} else if (rx_wire(ep, ch, skb, &h, &ep->rx.backlog_done) ==
			   -EAGAIN) {
			if (ep->rx.backlog_done != before)
				ep->rx.backlog_moved = jiffies;
			break;
		}
		backlog_unlink(ep, skb);
		consume_skb(skb);
		head_done(ep);
	}
	spin_unlock_bh(&ep->rx.lock);
	unet_ep_put(ep);	/* the queued work's reference */
}

void unet_rx_stop(struct unet_endpoint *ep)
{
	int i;

	if (cancel_work_sync(&ep->rx.work))
		unet_ep_put(ep);
	spin_lock_bh(&ep->rx.lock);
	backlog_purge(ep, -1);
	for (i = 0; i < UNET_MAX_CHANNELS; i++) {
		struct unet_reasm *r = ep->rx.reasm[i];

		if (r && r->active)
			reasm_end(ep, r);
	}
	spin_unlock_bh(&ep->rx.lock);
}

/*
 * The NIC's poll of one endpoint: prefetch newly posted buffers, drop
 * messages whose bytes stopped coming and frames that waited too long.
 * Returns whether it still has something in progress.
 */
bool unet_rx_poll(struct unet_endpoint *ep)
{
	unsigned long timeout = msecs_to_jiffies(unet_reasm_timeout_ms);
	bool busy;
	int i;

	spin_lock(&ep->rx.lock);
	if (READ_ONCE(ep->dead)) {
		spin_unlock(&ep->rx.lock);
		return false;
	}
	rx_prefetch(ep);
	/*
	 * Local messages too, when their sender is what stopped them: a
	 * sender parked for ever (on a page nobody serves) must not hold the
	 * receiver's slot and buffers for ever.  (One waiting on a page of
	 * the receiver's own waits: that is the receiver's business.)  If
	 * the sender resumes, what is left of its message is counted as
	 * dropped.
	 */
	for (i = 0; ep->rx.reasms && i < UNET_MAX_CHANNELS; i++) {
		struct unet_reasm *r = ep->rx.reasm[i];

		if (!r || !r->active || (r->local && !r->sender_stalled) ||
		    !time_after(jiffies, r->deadline))
			continue;
		rx_drop(ep, UNET_CTR_rx_drop_reasm,
			UNET_NIC_drop_reasm_timeout);
		reasm_finish(ep, r, UNET_ST_DROPPED);
		/*
		 * Fragments of it that come late off the wire go quietly: a
		 * reassembly they started would lack the first ones, time
		 * out (or be aborted) in its turn and report one message
		 * dropped twice.  (A local sender that resumes is counted
		 * by rx_place, from its progress.)
		 */
		if (!r->local)
			reasm_refuse(r, r->msg_id);
	}
	if (!skb_queue_empty(&ep->rx.backlog) &&
	    time_after(jiffies, ep->rx.backlog_moved + timeout))
		backlog_purge(ep, UNET_NIC_drop_backlog_stale);
	busy = ep->rx.reasms || !skb_queue_empty(&ep->rx.backlog);
	spin_unlock(&ep->rx.lock);
	return busy;
}

#ifdef CONFIG_NET_RX_BUSY_POLL
struct busy_poll {
	struct unet_endpoint *ep;
	unsigned long usecs;
};

static bool rx_ready(struct unet_endpoint *ep)
{
	return READ_ONCE(ep->rx.prod) != READ_ONCE(ep->ctrl->rx.cons);
}

static bool busy_poll_end(void *arg, unsigned long start)
{
	struct busy_poll *bp = arg;

	return rx_ready(bp->ep) || READ_ONCE(bp->ep->dead) ||
	       signal_pending(current) ||
	       busy_loop_current_time() - start > bp->usecs;
}

/*
 * Runs the NAPI instance the endpoint's frames last came through, from the
 * calling process, as a socket's SO_BUSY_POLL does: on a machine with one
 * CPU a process spinning on its receive queue otherwise holds off the very
 * softirq that fills it until the scheduler preempts it (a tick later).
 * Only a NAPI that delivered to this endpoint is polled, for at most
 * UNET_BUSY_POLL_MAX_US at a time; napi_busy_loop() gives the CPU up
 * when the scheduler wants it.
 */
int unet_rx_busy_poll(struct unet_endpoint *ep, u32 usecs)
{
	struct busy_poll bp = { .ep = ep, .usecs = usecs };
	unsigned int napi_id = READ_ONCE(ep->rx.napi_id);
	u64 t0;

	if (napi_id < MIN_NAPI_ID)
		return -ENODATA;
	t0 = ktime_get_ns();
	napi_busy_loop(napi_id, busy_poll_end, &bp, false, 8);
	unet_nic_count(ep->nic, UNET_NIC_busy_polls, 1);
	unet_nic_count(ep->nic, UNET_NIC_busy_poll_ns, ktime_get_ns() - t0);
	if (rx_ready(ep)) {
		unet_nic_count(ep->nic, UNET_NIC_busy_poll_hits, 1);
		return 1;
	}
	return signal_pending(current) ? -EINTR : 0;
}
#else
int unet_rx_busy_poll(struct unet_endpoint *ep, u32 usecs)
{
	return -ENODATA;
}
#endif
