// SPDX-License-Identifier: GPL-2.0
/*
 * The send engine.  It walks an endpoint's send queue, copies each
 * descriptor out of the shared page before looking at it, and moves the
 * message either onto the wire (fragmented to the MTU) or, for a local
 * channel, straight into the receiving endpoint's buffers.
 *
 * It runs on the caller's CPU when the process rings the doorbell (the NIC
 * was idle), and from the NIC's workqueue when the agent answers a miss.
 * A miss parks this endpoint only; the descriptor stays at the head with
 * its progress kept, and every other endpoint goes on.  A message keeps
 * the route it started with (the channel's copy, and for a local one its
 * receiver), whatever happens to the channel or the NIC's address while
 * it is parked.
 */
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/module.h>
#include <linux/netdevice.h>

#include "nic.h"
#include "ring.h"

/* @aborted: the head message did not complete; free what it holds. */
static void tx_reset(struct unet_endpoint *ep, bool aborted)
{
	struct unet_tx_msg *msg = &ep->tx.msg;

	lockdep_assert_held(&ep->tx.mutex);
	/* A local message left half way must not hold the receiver's buffers. */
	if (aborted && msg->peer)
		unet_rx_local_abort(msg->peer, ep, msg);
	kfree_skb(msg->skb);
	msg->skb = NULL;
	/* A refusal recorded for this message must not outlive it. */
	spin_lock_bh(&ep->fault_lock);
	ep->fault[UNET_ENGINE_TX].status = 0;
	spin_unlock_bh(&ep->fault_lock);
	if (msg->peer)
		unet_ep_put(msg->peer);
	msg->peer = NULL;
	msg->frag_size = 0;
	msg->active = false;
}

static void tx_complete(struct unet_endpoint *ep, int status)
{
	struct unet_tx_desc *slot =
		&ep->txq[unet_ring_slot(ep->tx.cons, ep->tx_entries)];

	lockdep_assert_held(&ep->tx.mutex);
	WRITE_ONCE(slot->status, status);
	if (status == UNET_ST_OK) {
		unet_ep_count(ep, UNET_CTR_tx_msgs, 1);
		unet_ep_count(ep, UNET_CTR_tx_bytes, ep->tx.msg.msg_len);
		unet_nic_count(ep->nic, UNET_NIC_tx_msgs, 1);
		unet_nic_count(ep->nic, UNET_NIC_tx_bytes, ep->tx.msg.msg_len);
	} else {
		unet_ep_count(ep, UNET_CTR_tx_errors, 1);
		unet_nic_count(ep->nic, UNET_NIC_tx_errors, 1);
	}
	tx_reset(ep, status != UNET_ST_OK);
	ep->tx.cons++;
	/* The status is visible before the slot is handed back. */
	smp_store_release(&ep->ctrl->tx.cons, ep->tx.cons);
	unet_ctx_wake(ep->ctx);
}

/*
 * Checks the kernel's copy of the head descriptor and starts it.  Returns
 * 0 or the enum unet_status that refuses it.
 */
static int tx_start(struct unet_endpoint *ep)
{
	struct unet_tx_msg *msg = &ep->tx.msg;
	struct unet_tx_desc *d = &msg->desc;
	u64 len = 0;
	u32 i;

	lockdep_assert_held(&ep->tx.mutex);
	msg->msg_len = 0;
	if (d->flags & ~UNET_TX_FLAGS)
		return UNET_ST_BAD_DESC;
	if (d->channel >= UNET_MAX_CHANNELS)
		return UNET_ST_BAD_CHANNEL;
	spin_lock_bh(&ep->rx.lock);
	msg->chan = ep->rx.chan[d->channel];
	spin_unlock_bh(&ep->rx.lock);
	if (!msg->chan.used)
		return UNET_ST_BAD_CHANNEL;
	if (d->flags & UNET_TX_INLINE) {
		if (d->length > UNET_INLINE_MAX)
			return UNET_ST_BAD_LENGTH;
		len = d->length;
	} else {
		if (d->nsge > UNET_MAX_GATHER)
			return UNET_ST_BAD_GATHER;
		for (i = 0; i < d->nsge; i++) {
			int st = unet_dma_check_sge(ep, &d->sge[i]);

			if (st)
				return st;
			len += d->sge[i].len;
		}
		if (len > UNET_MAX_MSG)
			return UNET_ST_BAD_LENGTH;
	}
	msg->msg_len = len;
	msg->msg_id = ep->tx.next_msg_id++;
	msg->done = 0;
	msg->active = true;
	return 0;
}

/*
 * Translates the buffers of the sends queued behind the one starting, as
 * the receive engine does for posted free buffers: their misses are then
 * served while this message goes out.  The descriptors are the process's
 * to change until the engine takes them, so only what they say now is
 * used, checked like any buffer, and only as a hint.
 */
#define TX_PREFETCH_DESCS	2
#define TX_PREFETCH_PAGES	34	/* two 64 KiB messages, unaligned */

static void tx_prefetch(struct unet_endpoint *ep, int pending)
{
	u32 pages = 0;
	int i;

	lockdep_assert_held(&ep->tx.mutex);
	if (ep->mode != UNET_MODE_MM)
		return;
	for (i = 1; i <= TX_PREFETCH_DESCS && i < pending &&
	     pages < TX_PREFETCH_PAGES; i++) {
		const struct unet_tx_desc *d;
		struct unet_sge sge[UNET_MAX_GATHER];
		u32 nsge, k;

		d = &ep->txq[unet_ring_slot(ep->tx.cons + i, ep->tx_entries)];
		if (READ_ONCE(d->flags) & UNET_TX_INLINE)
			continue;
		nsge = min_t(u32, READ_ONCE(d->nsge), UNET_MAX_GATHER);
		for (k = 0; k < nsge; k++) {
			sge[k].addr = READ_ONCE(d->sge[k].addr);
			sge[k].len = READ_ONCE(d->sge[k].len);
			sge[k].reserved = 0;
		}
		pages += unet_dma_prefetch(ep, sge, nsge, false,
					   TX_PREFETCH_PAGES - pages);
	}
}

/*
 * Whether the engine runs in the sending process's own system call (the
 * doorbell), not in a worker: then it translates what the message's
 * buffers lack itself before copying it, while the agent works on the
 * prefetches of the sends queued behind.
 */
static bool tx_in_own_call(const struct unet_endpoint *ep)
{
	return ep->mode == UNET_MODE_MM && READ_ONCE(unet_sync_fill) &&
	       unet_ctx_is_current(ep->ctx);
}

static void tx_source(struct unet_endpoint *ep, struct unet_span *src)
{
	struct unet_tx_desc *d = &ep->tx.msg.desc;

	memset(src, 0, sizeof(*src));
	if (d->flags & UNET_TX_INLINE) {
		src->kind = UNET_SPAN_KERNEL;
		src->kbuf = d->inline_data;
	} else {
		src->kind = UNET_SPAN_EP;
		src->ep = ep;
		src->sge = d->sge;
		src->nsge = d->nsge;
		src->write = false;
		src->waiter = ep;
		src->engine = UNET_ENGINE_TX;
	}
}

/*
 * unet_tx_inflight_max (tx_inflight_max=, default 1024): frames of one
 * endpoint the netdev may hold before its engine waits for the driver to
 * free some.  Frames bypass the qdisc, so the driver's ring
 * is what bounds them: a full ring answers NETDEV_TX_BUSY and the engine
 * waits for room (tx_wait_room).  This limit only keeps one endpoint from
 * holding more than a ring's worth of memory on a driver that frees late.
 * It must not be below the ring: virtio-net frees sent frames lazily (when
 * it next transmits, or after 3/4 of the ring completes), so a limit under
 * the ring parks the engine with nothing left to make the driver free, and
 * it resumes only when a received frame happens to clean the ring; at 128
 * that cost about 90 ms per park and made wire bandwidth fall as the
 * window grew.
 */

static void tx_frame_freed(struct sk_buff *skb)
{
	struct unet_endpoint *ep = skb_shinfo(skb)->destructor_arg;

	unet_nic_count(ep->nic, UNET_NIC_tx_inflight, -1);
	if (atomic_dec_return(&ep->tx.inflight) <= unet_tx_inflight_max / 2 &&
	    READ_ONCE(ep->tx.throttled)) {
		WRITE_ONCE(ep->tx.throttled, false);
		unet_nic_count(ep->nic, UNET_NIC_tx_wakes_freed, 1);
		if (!READ_ONCE(ep->dead))
			unet_ep_queue_work(ep, &ep->tx.work);
	}
	/* The ring has room for one more. */
	unet_tx_wake_room(ep->nic, UNET_TX_WAKE_FREED);
	unet_ep_put(ep);
	module_put(THIS_MODULE);
}

/*
 * The driver's ring is full: the endpoint keeps its frame and waits on
 * the NIC's list until a frame of this NIC completes, or a jiffy passes.
 * The timer is there because a driver that frees late (virtio-net) may
 * free nothing of ours for long while its ring drains; waiting for the
 * NIC's 100 ms poll instead cost a third of the parks 100 ms each.  The
 * list holds a reference.  Caller holds tx.mutex.
 */
static void tx_wait_room(struct unet_endpoint *ep)
{
	struct unet_nic *nic = ep->nic;

	lockdep_assert_held(&ep->tx.mutex);
	spin_lock_bh(&nic->room_lock);
	if (list_empty(&ep->tx.room_node)) {
		unet_ep_get(ep);
		list_add_tail(&ep->tx.room_node, &nic->room_waiters);
	}
	if (!timer_pending(&nic->room_timer))
		mod_timer(&nic->room_timer, jiffies + 1);
	spin_unlock_bh(&nic->room_lock);
}

void unet_tx_room_timer(struct timer_list *t)
{
	struct unet_nic *nic = from_timer(nic, t, room_timer);

	unet_tx_wake_room(nic, UNET_TX_WAKE_TICK);
}

static void tx_stop_waiting_room(struct unet_endpoint *ep)
{
	struct unet_nic *nic = ep->nic;
	bool was = false;

	spin_lock_bh(&nic->room_lock);
	if (!list_empty(&ep->tx.room_node)) {
		list_del_init(&ep->tx.room_node);
		was = true;
	}
	spin_unlock_bh(&nic->room_lock);
	if (was)
		unet_ep_put(ep);
}

/*
 * Resumes the endpoints that found the driver's ring full.  Those that
 * find it full again wait for the next completion; the snapshot keeps
 * this from running for ever.  Every list operation is under room_lock,
 * the snapshot's too, since unet_tx_stop() may take a node off either.
 */
void unet_tx_wake_room(struct unet_nic *nic, enum unet_tx_wake cause)
{
	struct unet_endpoint *ep;
	LIST_HEAD(wake);

	if (list_empty_careful(&nic->room_waiters))
		return;
	spin_lock_bh(&nic->room_lock);
	list_splice_init(&nic->room_waiters, &wake);
	for (;;) {
		ep = list_first_entry_or_null(&wake, struct unet_endpoint,
					      tx.room_node);
		if (!ep)
			break;
		list_del_init(&ep->tx.room_node);
		spin_unlock_bh(&nic->room_lock);
		unet_nic_count(nic, cause == UNET_TX_WAKE_TICK ?
				    UNET_NIC_tx_wakes_tick :
				    UNET_NIC_tx_wakes_freed, 1);
		if (!READ_ONCE(ep->dead))
			unet_ep_queue_work(ep, &ep->tx.work);
		unet_ep_put(ep);	/* the list's reference */
		spin_lock_bh(&nic->room_lock);
	}
	spin_unlock_bh(&nic->room_lock);
}

/*
 * Parks and resumes are counted, with the time spent parked, so that
 * unetstat shows whether the wire waits for the driver's ring or for its
 * own limit of frames in flight.  Called with tx.mutex held.
 */
static void tx_park(struct unet_endpoint *ep, enum unet_tx_park why)
{
	lockdep_assert_held(&ep->tx.mutex);
	ep->tx.park = why;
	ep->tx.parked_at = ktime_get_ns();
	unet_nic_count(ep->nic, why == UNET_TX_PARK_ROOM ?
			UNET_NIC_tx_room_waits : UNET_NIC_tx_throttle_waits, 1);
}

static void tx_unpark(struct unet_endpoint *ep)
{
	lockdep_assert_held(&ep->tx.mutex);
	if (ep->tx.park == UNET_TX_RUNNING)
		return;
	unet_nic_count(ep->nic, ep->tx.park == UNET_TX_PARK_ROOM ?
			UNET_NIC_tx_room_wait_ns : UNET_NIC_tx_throttle_wait_ns,
		       ktime_get_ns() - ep->tx.parked_at);
	ep->tx.park = UNET_TX_RUNNING;
}

/*
 * Hands a frame to the driver, bypassing the qdisc: a queueing discipline
 * may drop a frame after accepting it (fq_codel, the default, does once
 * frames wait over 5 ms), and a U-Net message must not vanish silently.
 * One tx queue per endpoint keeps its frames in order.  Returns 0, -EAGAIN
 * (ring full: frame kept, resumed later) or UNET_ST_NO_ROUTE (dropped).
 */
static int tx_xmit(struct unet_endpoint *ep, struct net_device *dev)
{
	struct unet_tx_msg *msg = &ep->tx.msg;
	u16 queue = ep->id % dev->real_num_tx_queues;
	int ret;

	ret = __dev_direct_xmit(msg->skb, queue);
	if (ret == NETDEV_TX_BUSY) {
		tx_wait_room(ep);
		/* Room may have come before we said we wait for it. */
		ret = __dev_direct_xmit(msg->skb, queue);
		if (ret == NETDEV_TX_BUSY) {
			tx_park(ep, UNET_TX_PARK_ROOM);
			return -EAGAIN;
		}
		tx_stop_waiting_room(ep);
	}
	msg->skb = NULL;	/* the driver's, or freed */
	if (ret != NETDEV_TX_OK) {
		unet_nic_count(ep->nic, UNET_NIC_tx_errors, 1);
		return UNET_ST_NO_ROUTE;
	}
	unet_nic_count(ep->nic, UNET_NIC_tx_frames, 1);
	return 0;
}

/* True when the endpoint must wait for the netdev to drain. */
static bool tx_throttle(struct unet_endpoint *ep)
{
	if (atomic_read(&ep->tx.inflight) < unet_tx_inflight_max)
		return false;
	WRITE_ONCE(ep->tx.throttled, true);
	smp_mb();	/* pairs with the atomic_dec_return in tx_frame_freed */
	if (atomic_read(&ep->tx.inflight) < unet_tx_inflight_max) {
		WRITE_ONCE(ep->tx.throttled, false);
		return false;
	}
	return true;
}

static struct sk_buff *tx_frame(struct unet_endpoint *ep,
				struct net_device *dev, u32 frag_size, u32 flen)
{
	struct unet_tx_msg *msg = &ep->tx.msg;
	struct unet_wire_hdr h = {
		.version = UNET_WIRE_VERSION,
		.type = UNET_WIRE_DATA,
		.frag_size = frag_size,
		.dst_ep = msg->chan.remote_ep,
		.src_ep = ep->id,
		.msg_id = msg->msg_id,
		.msg_len = msg->msg_len,
		.frag_off = msg->done,
		.frag_len = flen,
	};
	int hlen = LL_RESERVED_SPACE(dev);
	struct sk_buff *skb;

	skb = alloc_skb(hlen + UNET_WIRE_HDR_LEN + flen + dev->needed_tailroom,
			GFP_KERNEL);
	if (!skb)
		return NULL;
	skb_reserve(skb, hlen);
	skb_reset_network_header(skb);
	unet_wire_encode(&h, skb_put(skb, UNET_WIRE_HDR_LEN));
	skb_put(skb, flen);
	skb->dev = dev;
	skb->protocol = htons(UNET_ETHERTYPE);
	if (dev_hard_header(skb, dev, UNET_ETHERTYPE, msg->chan.mac, NULL,
			    skb->len) < 0) {
		kfree_skb(skb);
		return NULL;
	}
	/*
	 * The frame pins the endpoint, and the module its destructor lives
	 * in, until the driver is done with it.
	 */
	__module_get(THIS_MODULE);
	unet_ep_get(ep);
	atomic_inc(&ep->tx.inflight);
	unet_nic_count(ep->nic, UNET_NIC_tx_inflight, 1);
	skb_shinfo(skb)->destructor_arg = ep;
	skb->destructor = tx_frame_freed;
	return skb;
}

/*
 * Fragments the head message onto the wire; resumable after a miss.
 * Returns 0, -EAGAIN (parked) or an enum unet_status.
 */
static int tx_wire(struct unet_endpoint *ep)
{
	struct unet_tx_msg *msg = &ep->tx.msg;
	struct unet_nic *nic = ep->nic;
	struct net_device *dev;
	struct unet_span src, dst = { .kind = UNET_SPAN_KERNEL };
	u32 mtu, copied;
	int ret = 0;

	rcu_read_lock();
	dev = rcu_dereference(nic->netdev);
	if (dev && netif_running(dev))
		dev_hold(dev);
	else
		dev = NULL;
	rcu_read_unlock();
	if (!dev) {
		unet_nic_count(nic, UNET_NIC_drop_no_route, 1);
		return UNET_ST_NO_ROUTE;
	}
	/*
	 * Every fragment of a message has the size its first one had: the
	 * receiver places fragments by it.  An MTU that shrinks below it
	 * mid-message ends the message; the receiver times its part out.
	 */
	mtu = READ_ONCE(dev->mtu);
	if (!msg->frag_size && mtu >= UNET_WIRE_HDR_LEN + UNET_WIRE_MIN_FRAG)
		msg->frag_size = min_t(u32, mtu - UNET_WIRE_HDR_LEN, U16_MAX);
	if (!msg->frag_size || mtu < UNET_WIRE_HDR_LEN + msg->frag_size) {
		unet_nic_count(nic, UNET_NIC_drop_no_route, 1);
		ret = UNET_ST_NO_ROUTE;
		goto out;
	}
	tx_source(ep, &src);

	do {
		if (!msg->skb) {
			if (tx_throttle(ep)) {
				tx_park(ep, UNET_TX_PARK_THROTTLE);
				ret = -EAGAIN;
				goto out;
			}
			msg->frame_len = min(msg->frag_size,
					     msg->msg_len - msg->done);
			msg->frame_done = 0;
			msg->skb = tx_frame(ep, dev, msg->frag_size,
					    msg->frame_len);
			if (!msg->skb) {
				ret = UNET_ST_NO_ROUTE;
				goto out;
			}
		}
		dst.kbuf = skb_network_header(msg->skb) + UNET_WIRE_HDR_LEN;
		ret = unet_dma_copy(&dst, msg->frame_done, &src,
				    msg->done + msg->frame_done,
				    msg->frame_len - msg->frame_done, &copied);
		msg->frame_done += copied;
		if (ret)
			goto out;
		ret = tx_xmit(ep, dev);
		if (ret)
			goto out;
		msg->done += msg->frame_len;
	} while (msg->done < msg->msg_len);
out:
	dev_put(dev);
	return ret;
}

/*
 * A local channel: deliver without the wire.  A receiver that is gone
 * fails the send with UNET_ST_NO_ROUTE: unlike the wire, the NIC knows.
 */
static int tx_local(struct unet_endpoint *ep)
{
	struct unet_tx_msg *msg = &ep->tx.msg;
	struct unet_nic *nic = ep->nic;
	int ret;

	if (!msg->peer) {
		struct unet_endpoint *peer;

		rcu_read_lock();
		peer = unet_nic_find_ep(nic, msg->chan.remote_ep);
		if (peer && !kref_get_unless_zero(&peer->ref))
			peer = NULL;
		rcu_read_unlock();
		if (!peer) {
			unet_nic_count(nic, UNET_NIC_drop_no_endpoint, 1);
			return UNET_ST_NO_ROUTE;
		}
		msg->peer = peer;
	}
	ret = unet_rx_local(msg->peer, ep, msg);
	if (!ret)
		unet_nic_count(nic, UNET_NIC_loopback_msgs, 1);
	return ret;
}

/* Returns true when a miss (or the driver) parked the queue. */
static bool tx_run(struct unet_endpoint *ep)
{
	lockdep_assert_held(&ep->tx.mutex);
	for (;;) {
		int ret;

		if (READ_ONCE(ep->dead))
			return false;
		if (!ep->tx.msg.active) {
			u32 prod = smp_load_acquire(&ep->ctrl->tx.prod);
			int pending = unet_ring_pending(prod, ep->tx.cons,
							ep->tx_entries);

			if (pending < 0) {
				unet_ep_count(ep, UNET_CTR_bad_index, 1);
				return false;
			}
			if (!pending)
				return false;
			memcpy(&ep->tx.msg.desc,
			       &ep->txq[unet_ring_slot(ep->tx.cons,
						       ep->tx_entries)],
			       sizeof(ep->tx.msg.desc));
			ret = tx_start(ep);
			if (ret) {
				tx_complete(ep, ret);
				continue;
			}
			tx_prefetch(ep, pending);
			if (tx_in_own_call(ep) &&
			    !(ep->tx.msg.desc.flags & UNET_TX_INLINE))
				unet_dma_translate_now(ep, ep->tx.msg.desc.sge,
						       ep->tx.msg.desc.nsge,
						       false);
		}
		ret = ep->tx.msg.chan.local ? tx_local(ep) : tx_wire(ep);
		if (ret == -EAGAIN)
			return true;
		tx_complete(ep, ret ? ret : UNET_ST_OK);
		cond_resched();
	}
}

/*
 * Serves the queue, then tells the process it must ring again.  The flag
 * is raised before the last look at the producer so that a descriptor
 * posted in between is either seen here or followed by a doorbell.
 */
static void tx_service(struct unet_endpoint *ep)
{
	tx_unpark(ep);
	for (;;) {
		u32 prod;

		WRITE_ONCE(ep->ctrl->nic_idle, 0);
		if (tx_run(ep))
			return;		/* parked: busy until resumed */
		WRITE_ONCE(ep->ctrl->nic_idle, 1);
		smp_mb();
		prod = READ_ONCE(ep->ctrl->tx.prod);
		if (READ_ONCE(ep->dead) || prod == ep->tx.cons ||
		    unet_ring_pending(prod, ep->tx.cons, ep->tx_entries) < 0)
			return;
	}
}

void unet_tx_kick(struct unet_endpoint *ep)
{
	unet_ep_count(ep, UNET_CTR_kicks, 1);
	unet_nic_activate(ep);
	mutex_lock(&ep->tx.mutex);
	tx_service(ep);
	mutex_unlock(&ep->tx.mutex);
}

void unet_tx_work(struct work_struct *work)
{
	struct unet_endpoint *ep = container_of(work, struct unet_endpoint,
						tx.work);

	mutex_lock(&ep->tx.mutex);
	tx_service(ep);
	mutex_unlock(&ep->tx.mutex);
	unet_ep_put(ep);	/* the queued work's reference */
}

/*
 * The endpoint is dead and no rx handler sees it.  Under tx.mutex no
 * engine run is in progress and none that starts will do anything, so
 * the room list cannot be joined again after it is left here.
 */
void unet_tx_stop(struct unet_endpoint *ep)
{
	if (cancel_work_sync(&ep->tx.work))
		unet_ep_put(ep);
	mutex_lock(&ep->tx.mutex);
	tx_stop_waiting_room(ep);
	tx_reset(ep, true);
	mutex_unlock(&ep->tx.mutex);
}
