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
 * bounded per-endpoint backlog while the agent translates them.
 */
#include <linux/etherdevice.h>
#include <linux/if_ether.h>

#include "nic.h"
#include "ring.h"

struct unet_frag {
	bool local;		/* from this NIC's send engine, not the wire */
	u32 src_ep;
	const u8 *src_mac;
	u32 msg_id;
	u32 msg_len;
	u32 frag_off;
	u32 frag_len;
	u32 frag_size;
	struct unet_span *src;	/* payload starts at offset 0 of it */
	struct unet_endpoint *waiter;
};

static int find_channel(struct unet_endpoint *ep, const u8 *mac, u32 src_ep)
{
	int i;

	for (i = 0; i < UNET_MAX_CHANNELS; i++) {
		struct unet_channel *c = &ep->chan[i];

		if (c->used && c->remote_ep == src_ep &&
		    ether_addr_equal(c->mac, mac))
			return i;
	}
	return -1;
}

static int rx_space(struct unet_endpoint *ep)
{
	return unet_ring_space(ep->rx_prod, READ_ONCE(ep->ctrl->rx.cons),
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
	return &ep->rxq[unet_ring_slot(ep->rx_prod, ep->rx_entries)];
}

/* Counts from the arguments: the slot is the process's to scribble on. */
static void rx_commit(struct unet_endpoint *ep, int status, u32 length)
{
	if (status == UNET_ST_OK) {
		unet_ep_count(ep, UNET_CTR_rx_msgs, 1);
		unet_ep_count(ep, UNET_CTR_rx_bytes, length);
		unet_nic_count(ep->nic, UNET_NIC_rx_msgs, 1);
		unet_nic_count(ep->nic, UNET_NIC_rx_bytes, length);
	}
	ep->rx_prod++;
	smp_store_release(&ep->ctrl->rx.prod, ep->rx_prod);
	unet_ctx_wake(ep->ctx);
}

/* Publishes the message of @r (or returns its buffers with @status). */
static void reasm_finish(struct unet_endpoint *ep, struct unet_reasm *r,
			 int status)
{
	struct unet_rx_desc *d;

	r->active = false;
	ep->rx_reserved--;
	unet_nic_count(ep->nic, UNET_NIC_reasm_active, -1);
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

void unet_rx_abort_channel(struct unet_endpoint *ep, u32 channel)
{
	struct unet_reasm *r = ep->reasm[channel];

	lockdep_assert_held(&ep->rx_lock);
	if (r && r->active) {
		rx_drop(ep, UNET_CTR_rx_drop_reasm, UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(ep, r, UNET_ST_DROPPED);
	}
}

/*
 * Takes free buffers to hold @len bytes.  Nothing is taken unless all of it
 * fits; a buffer the process may not name is taken with the ones before it
 * and returned to it with an error status.
 */
static int take_buffers(struct unet_endpoint *ep, struct unet_reasm *r,
			u32 len)
{
	u32 prod = smp_load_acquire(&ep->ctrl->fq.prod);
	int avail = unet_ring_pending(prod, ep->fq_cons, ep->fq_entries);
	int status = 0;
	u32 sum = 0, n = 0;

	if (avail < 0) {
		unet_ep_count(ep, UNET_CTR_bad_index, 1);
		avail = 0;
	}
	while (sum < len) {
		struct unet_sge *s, *b = &r->bufs[n];

		if (n == avail || n == UNET_MAX_RX_BUFS)
			return UNET_ST_NO_BUFS;
		s = &ep->fq[unet_ring_slot(ep->fq_cons + n, ep->fq_entries)];
		b->addr = READ_ONCE(s->addr);
		b->len = READ_ONCE(s->len);
		b->reserved = 0;
		n++;
		if (!b->len || unet_dma_check_sge(ep, b)) {
			status = UNET_ST_BAD_ADDR;
			break;
		}
		sum += b->len;
	}
	r->first_buf = ep->fq_cons;
	r->nbuf = n;
	ep->fq_cons += n;
	smp_store_release(&ep->ctrl->fq.cons, ep->fq_cons);
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
	int avail = unet_ring_pending(prod, ep->fq_cons, ep->fq_entries);
	int i, n;

	if (ep->mode != UNET_MODE_MM || avail <= 0)
		return;
	n = min(avail, RX_PREFETCH_BUFS);
	for (i = 0; i < n; i++) {
		struct unet_sge *s = &ep->fq[unet_ring_slot(ep->fq_cons + i,
							    ep->fq_entries)];

		bufs[i].addr = READ_ONCE(s->addr);
		bufs[i].len = READ_ONCE(s->len);
	}
	unet_dma_prefetch(ep, bufs, n, true, RX_PREFETCH_PAGES);
}

/* A message small enough to travel inside the rx descriptor. */
static int rx_inline(struct unet_endpoint *ep, int ch, struct unet_frag *f)
{
	struct unet_span dst = { .kind = UNET_SPAN_KERNEL };
	struct unet_rx_desc *d;
	u32 copied;
	int ret;

	if (rx_space(ep) <= (int)ep->rx_reserved) {
		rx_drop(ep, UNET_CTR_rx_drop_queue_full,
			UNET_NIC_drop_queue_full);
		return 0;
	}
	d = &ep->rxq[unet_ring_slot(ep->rx_prod, ep->rx_entries)];
	dst.kbuf = d->inline_data;
	ret = unet_dma_copy(&dst, 0, f->src, 0, f->msg_len, &copied);
	if (ret)
		return ret;	/* -EAGAIN: nothing published, redo it all */
	d->channel = ch;
	d->length = f->msg_len;
	d->first_buf = 0;
	d->nbuf = 0;
	d->flags = UNET_RX_INLINE;
	d->status = UNET_ST_OK;
	rx_commit(ep, UNET_ST_OK, f->msg_len);
	return 0;
}

static int reasm_start(struct unet_endpoint *ep, int ch, struct unet_reasm *r,
		       struct unet_frag *f)
{
	int status;

	if (rx_space(ep) <= (int)ep->rx_reserved) {
		rx_drop(ep, UNET_CTR_rx_drop_queue_full,
			UNET_NIC_drop_queue_full);
		goto refused;
	}
	status = take_buffers(ep, r, f->msg_len);
	if (status == UNET_ST_NO_BUFS) {
		rx_drop(ep, UNET_CTR_rx_drop_no_bufs, UNET_NIC_drop_no_bufs);
		goto refused;
	}
	r->active = true;
	r->local = f->local;
	r->channel = ch;
	r->msg_id = f->msg_id;
	r->msg_len = f->msg_len;
	r->frag_size = f->frag_size;
	r->received = 0;
	r->deadline = jiffies + msecs_to_jiffies(unet_reasm_timeout_ms);
	bitmap_zero(r->frags, UNET_WIRE_MAX_FRAGS);
	ep->rx_reserved++;
	unet_nic_count(ep->nic, UNET_NIC_reasm_active, 1);
	r->refused = false;
	if (status) {
		rx_drop(ep, UNET_CTR_rx_drop_bad_buf, UNET_NIC_drop_bad_buf);
		reasm_finish(ep, r, status);
		return -EFAULT;
	}
	return 0;

refused:
	/* Counted once, as one message: not again for each fragment. */
	r->refused = true;
	r->refused_msg_id = f->msg_id;
	return -ENOBUFS;
}

/*
 * Places one fragment.  Returns 0 when it is consumed (placed, or dropped
 * and counted), -EAGAIN when it must wait for a translation (*progress
 * bytes of it are placed), or the status of a sender's buffer that failed.
 * Caller holds ep->rx_lock.
 */
static int rx_place(struct unet_endpoint *ep, struct unet_frag *f,
		    u32 *progress)
{
	struct unet_span dst = { .kind = UNET_SPAN_EP };
	struct unet_reasm *r;
	u32 idx, copied;
	int ch, ret;

	ch = find_channel(ep, f->src_mac, f->src_ep);
	if (ch < 0) {
		unet_nic_count(ep->nic, UNET_NIC_drop_no_channel, 1);
		return 0;
	}
	r = ep->reasm[ch];

	if (f->msg_len <= UNET_INLINE_MAX && f->frag_len == f->msg_len) {
		unet_rx_abort_channel(ep, ch);
		return rx_inline(ep, ch, f);
	}

	/* (A first fragment is a new message, whatever its id.) */
	if (!r->active && r->refused && r->refused_msg_id == f->msg_id &&
	    f->frag_off)
		return 0;	/* the rest of a message already counted */
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
	ret = unet_dma_copy(&dst, f->frag_off + *progress, f->src, *progress,
			    f->frag_len - *progress, &copied);
	*progress += copied;
	if (ret == -EAGAIN)
		return ret;
	if (ret) {
		if (dst.fault) {
			rx_drop(ep, UNET_CTR_rx_drop_bad_buf,
				UNET_NIC_drop_bad_buf);
			reasm_finish(ep, r, dst.fault);
			return 0;
		}
		rx_drop(ep, UNET_CTR_rx_drop_reasm,
			UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(ep, r, UNET_ST_DROPPED);
		return f->src->fault ?: ret;
	}
	__set_bit(idx, r->frags);
	r->received += f->frag_len;
	if (r->received == r->msg_len) {
		reasm_finish(ep, r, UNET_ST_OK);
		rx_prefetch(ep);
	}
	return 0;
}

/* Delivery from a sender on this NIC: one fragment, the whole message. */
int unet_rx_local(struct unet_endpoint *dst, struct unet_endpoint *src,
		  struct unet_tx_state *tx, const u8 *src_mac)
{
	struct unet_span span = { .kind = UNET_SPAN_KERNEL };
	struct unet_frag f = {
		.local = true,
		.src_ep = src->id,
		.src_mac = src_mac,
		.msg_id = tx->msg_id,
		.msg_len = tx->msg_len,
		.frag_off = 0,
		.frag_len = tx->msg_len,
		.frag_size = max_t(u32, tx->msg_len, 1),
		.src = &span,
		.waiter = src,
	};
	int ret = 0;

	if (tx->desc.flags & UNET_TX_INLINE) {
		span.kbuf = tx->desc.inline_data;
	} else {
		span.kind = UNET_SPAN_EP;
		span.ep = src;
		span.sge = tx->desc.sge;
		span.nsge = tx->desc.nsge;
		span.write = false;
		span.waiter = src;
	}
	spin_lock_bh(&dst->rx_lock);
	if (READ_ONCE(dst->dead))
		unet_nic_count(dst->nic, UNET_NIC_drop_no_endpoint, 1);
	else
		ret = rx_place(dst, &f, &tx->done);
	spin_unlock_bh(&dst->rx_lock);
	return ret;
}

/* The local sender of @tx gives up its message half way (it is closing). */
void unet_rx_local_abort(struct unet_endpoint *dst, struct unet_endpoint *src,
			 struct unet_tx_state *tx, const u8 *src_mac)
{
	struct unet_reasm *r;
	int ch;

	spin_lock_bh(&dst->rx_lock);
	ch = find_channel(dst, src_mac, src->id);
	r = ch < 0 ? NULL : dst->reasm[ch];
	if (r && r->active && r->local && r->msg_id == tx->msg_id) {
		rx_drop(dst, UNET_CTR_rx_drop_reasm,
			UNET_NIC_drop_reasm_bad_frag);
		reasm_finish(dst, r, UNET_ST_DROPPED);
	}
	spin_unlock_bh(&dst->rx_lock);
}

static int rx_wire(struct unet_endpoint *ep, struct sk_buff *skb,
		   const struct unet_wire_hdr *h, u32 *progress)
{
	struct unet_span span = {
		.kind = UNET_SPAN_SKB,
		.skb = skb,
		.skb_off = UNET_WIRE_HDR_LEN,
	};
	struct unet_frag f = {
		.src_ep = h->src_ep,
		.src_mac = eth_hdr(skb)->h_source,
		.msg_id = h->msg_id,
		.msg_len = h->msg_len,
		.frag_off = h->frag_off,
		.frag_len = h->frag_len,
		.frag_size = h->frag_size,
		.src = &span,
		.waiter = ep,
	};

	return rx_place(ep, &f, progress);
}

static void backlog_add(struct unet_endpoint *ep, struct sk_buff *skb)
{
	if (skb_queue_len(&ep->backlog) >= unet_backlog_frames) {
		rx_drop(ep, UNET_CTR_rx_drop_backlog, UNET_NIC_drop_backlog);
		kfree_skb(skb);
		return;
	}
	__skb_queue_tail(&ep->backlog, skb);
	unet_nic_count(ep->nic, UNET_NIC_backlog_frames, 1);
}

int unet_rx_frame(struct sk_buff *skb, struct net_device *dev,
		  struct packet_type *pt, struct net_device *orig_dev)
{
	struct unet_nic *nic = pt->af_packet_priv;
	struct unet_endpoint *ep;
	struct unet_wire_hdr h;
	u32 progress = 0;
	int ret;

	if (skb->pkt_type == PACKET_OTHERHOST ||
	    skb->pkt_type == PACKET_LOOPBACK)
		goto free;
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (!skb)
		return NET_RX_DROP;
	unet_nic_count(nic, UNET_NIC_rx_frames, 1);
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
	ep = xa_load(&nic->endpoints, h.dst_ep);
	if (!ep || READ_ONCE(ep->dead)) {
		rcu_read_unlock();
		unet_nic_count(nic, UNET_NIC_drop_no_endpoint, 1);
		goto free;
	}
	spin_lock(&ep->rx_lock);
	if (!skb_queue_empty(&ep->backlog)) {
		backlog_add(ep, skb);		/* keep arrival order */
		skb = NULL;
	} else {
		ret = rx_wire(ep, skb, &h, &progress);
		if (ret == -EAGAIN) {
			ep->backlog_done = progress;
			backlog_add(ep, skb);
			skb = NULL;
		}
	}
	spin_unlock(&ep->rx_lock);
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
						rx_work);
	struct sk_buff *skb;

	spin_lock_bh(&ep->rx_lock);
	while (!READ_ONCE(ep->dead) && (skb = skb_peek(&ep->backlog))) {
		struct unet_wire_hdr h;

		/* Checked when it arrived; the skb has not changed since. */
		unet_wire_decode(skb->data, skb->len, &h);
		if (rx_wire(ep, skb, &h, &ep->backlog_done) == -EAGAIN)
			break;
		__skb_unlink(skb, &ep->backlog);
		unet_nic_count(ep->nic, UNET_NIC_backlog_frames, -1);
		consume_skb(skb);
		ep->backlog_done = 0;
	}
	spin_unlock_bh(&ep->rx_lock);
	unet_ep_put(ep);	/* the queued work's reference */
}

void unet_rx_stop(struct unet_endpoint *ep)
{
	int i;

	if (cancel_work_sync(&ep->rx_work))
		unet_ep_put(ep);
	spin_lock_bh(&ep->rx_lock);
	unet_nic_count(ep->nic, UNET_NIC_backlog_frames,
		       -(s64)skb_queue_len(&ep->backlog));
	__skb_queue_purge(&ep->backlog);
	for (i = 0; i < UNET_MAX_CHANNELS; i++) {
		if (ep->reasm[i] && ep->reasm[i]->active) {
			ep->reasm[i]->active = false;
			unet_nic_count(ep->nic, UNET_NIC_reasm_active, -1);
		}
	}
	spin_unlock_bh(&ep->rx_lock);
}

/*
 * The NIC's slow poll: drops messages whose fragments stopped coming (and
 * returns their buffers), and translates newly posted free buffers.
 */
void unet_rx_reasm_timer(struct timer_list *t)
{
	struct unet_nic *nic = from_timer(nic, t, reasm_timer);
	struct unet_endpoint *ep;
	unsigned long id;
	int i;

	rcu_read_lock();
	xa_for_each(&nic->endpoints, id, ep) {
		spin_lock(&ep->rx_lock);
		if (!READ_ONCE(ep->dead))
			rx_prefetch(ep);
		for (i = 0; i < UNET_MAX_CHANNELS; i++) {
			struct unet_reasm *r = ep->reasm[i];

			/*
			 * A local message is not lost, only waiting for
			 * translations; its sender resumes it or, if it goes
			 * away, aborts it (unet_rx_local_abort).
			 */
			if (!r || !r->active || r->local ||
			    !time_after(jiffies, r->deadline))
				continue;
			rx_drop(ep, UNET_CTR_rx_drop_reasm,
				UNET_NIC_drop_reasm_timeout);
			reasm_finish(ep, r, UNET_ST_DROPPED);
		}
		spin_unlock(&ep->rx_lock);
	}
	rcu_read_unlock();
	/* In case no frame of ours completes to say the ring has room. */
	unet_tx_wake_room(nic);
	if (!READ_ONCE(nic->stopping))
		mod_timer(t, jiffies + HZ / 10);
}
