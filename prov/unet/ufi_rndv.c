// SPDX-License-Identifier: MIT
/*
 * Rendezvous: a large RDM message lands in the receiver's own buffer.
 *
 * U-Net places a message into the free buffers at the head of the
 * receiving endpoint's free queue, whichever they are.  The provider's
 * main endpoint keeps its own pool there, shared by every peer, so a
 * message is copied once out of it.  For a message of at least
 * UNET_FI_RNDV bytes (docs/FABRIC.md, "Rendezvous"):
 *
 *  1. The sender sends a header-only FIRST segment with UFI_F_RNDV (the
 *     request to send, RTS) and holds the message's bytes back.
 *  2. The receiver matches it like any FIRST segment.  If a posted
 *     receive takes it whole and no other grant is live, it posts, on a
 *     second U-Net endpoint of its own (the bulk endpoint, whose free
 *     queue holds nothing else), for each segment to come a 40-byte slot
 *     for the segment's header and then the pieces of the application's
 *     buffer the segment's bytes belong in; and it answers with a grant
 *     in a header-only ACK: the bulk endpoint's address and the segments
 *     it covers.  Otherwise the grant is empty.
 *  3. The sender sends the granted segments, unchanged (same sequence
 *     numbers, same header, gathered from the application's buffer) on a
 *     channel to the bulk endpoint; the NIC puts each one's header into
 *     its slot and its bytes in place.  Everything else goes to the main
 *     endpoint as before; an empty grant, or none within a retransmission
 *     timeout of the RTS's acknowledgement, sends the whole message so.
 *
 * The NIC fills free buffers strictly in order, so the grant is only
 * right while every granted segment arrives once and in order.  Each
 * posted buffer's context names the grant and the segment it was posted
 * for, and a segment taken into buffers posted for another one, or lost
 * (U-Net hands its buffers back), or arriving at the main endpoint
 * instead, ends the grant: the bulk endpoint is destroyed, which stops
 * the NIC writing into the application's buffer, the grant is revoked
 * (an empty one for the same RTS), and the sender sends everything not
 * yet acknowledged again to the main endpoint, where it is copied as
 * usual.  Reliability itself is unchanged: the segments are the same
 * go-back-N stream whichever endpoint carries them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ufi.h"

/* Segments one grant covers at most (64 MiB); the rest of a larger
 * message is copied.  The free queue holds each segment's slot and its
 * pieces (at most 1 + UFI_IOV_LIMIT entries). */
#define BULK_RX_ENTRIES		1024
#define BULK_FQ_ENTRIES		UNET_RING_MAX
/* A live grant in which nothing arrived for this long is given up, so
 * that a peer cannot hold the bulk endpoint by sending an RTS alone. */
#define GRANT_IDLE_NS		1000000000ull
/* After a grant to a peer is given up, its RTSs are refused this long:
 * each give-up destroys an endpoint, and a peer must not make us do
 * that for every message. */
#define GRANT_BACKOFF_NS	100000000ull

static uint64_t bulk_ctx(uint32_t gen, uint32_t idx, uint32_t piece)
{
	return (uint64_t)gen << 32 | (uint64_t)idx << 8 | piece;
}

void ufi_bulk_init(struct ufi_ep *ep)
{
	size_t i;

	ep->bulk.owner = FI_ADDR_NOTAVAIL;
	for (i = 0; i < UFI_MAX_PEERS; i++)
		ep->bulk.chan[i] = -1;
	for (i = 0; i < UNET_MAX_CHANNELS; i++)
		ep->bulk.chan_to_addr[i] = FI_ADDR_NOTAVAIL;
}

static void bulk_destroy(struct ufi_ep *ep)
{
	if (ep->bulk.uep)
		unet_ep_destroy(ep->bulk.uep);
	ep->bulk.uep = NULL;
	ufi_bulk_init(ep);	/* no owner, no channels */
}

void ufi_bulk_close(struct ufi_ep *ep)
{
	bulk_destroy(ep);
	free(ep->bulk.hdr_slots);
	ep->bulk.hdr_slots = NULL;
}

/* Ends the live grant: once the bulk endpoint is gone the NIC writes
 * nothing more into the application's buffer, and frames still on their
 * way to it are dropped (an endpoint id is never reused).  The peer
 * hears of it in its next ACK and sends the rest to the main endpoint. */
static void bulk_abort(struct ufi_ep *ep)
{
	fi_addr_t owner = ep->bulk.owner;

	bulk_destroy(ep);
	if (owner != FI_ADDR_NOTAVAIL) {
		struct ufi_peer *peer = &ep->peers[owner];

		peer->grant.live = false;
		peer->grant.first = peer->grant.end = peer->rx_next;
		peer->grant.refuse_until_ns = ufi_now_ns() + GRANT_BACKOFF_NS;
		peer->grant_owed = true;
		ep->stats.rndv_aborted++;
	}
}

static int bulk_open(struct ufi_ep *ep)
{
	struct unet_ep_attr attr;

	if (ep->bulk.uep)
		return 0;
	if (!ep->bulk.hdr_slots) {
		ep->bulk.hdr_slots = calloc(BULK_RX_ENTRIES,
					    sizeof(*ep->bulk.hdr_slots));
		if (!ep->bulk.hdr_slots)
			return -FI_ENOMEM;
	}
	unet_ep_attr_init(&attr);
	attr.tx_entries = UNET_RING_MIN;	/* it never sends */
	attr.rx_entries = BULK_RX_ENTRIES;
	attr.fq_entries = BULK_FQ_ENTRIES;
	ep->bulk.uep = unet_ep_create(ep->domain->dev, &attr);
	if (!ep->bulk.uep)
		return -(errno ? errno : FI_ENODEV);
	ep->bulk.id = unet_ep_id(ep->bulk.uep);
	ep->bulk.gen++;
	return 0;
}

static int bulk_chan(struct ufi_ep *ep, const struct ufi_peer *peer)
{
	int ch;

	if (ep->bulk.chan[peer->addr] >= 0)
		return 0;
	ch = unet_chan_create(ep->bulk.uep, ep->av->addrs[peer->addr],
			      UNET_ADDR_LEN);
	if (ch < 0)
		return ch;
	ep->bulk.chan[peer->addr] = ch;
	ep->bulk.chan_to_addr[ch] = peer->addr;
	return 0;
}

/* The pieces of @rx's buffer that bytes [off, off + len) of the message
 * go to: at most one per iov entry. */
static unsigned rx_pieces(const struct ufi_rx_op *rx, size_t off, size_t len,
			  struct unet_sge *pc)
{
	return ufi_iov_slice(rx->iov, rx->iov_count, off, len, pc,
			     UFI_IOV_LIMIT);
}

static size_t seg_len(uint64_t msg_len, uint32_t idx)
{
	uint64_t off = (uint64_t)idx * UFI_SEG_MAX;

	return msg_len - off < UFI_SEG_MAX ? (size_t)(msg_len - off) : UFI_SEG_MAX;
}

/* Posts the application's buffer for the segments after the RTS;
 * returns how many it covers (0: the message is copied as usual). */
static uint32_t bulk_post(struct ufi_ep *ep, struct ufi_peer *peer,
			  uint64_t msg_len)
{
	const struct ufi_rx_op *rx = peer->cur_rx;
	uint64_t segs = (msg_len + UFI_SEG_MAX - 1) / UFI_SEG_MAX;
	unsigned got, used = 0;
	uint32_t i, idx;

	if (!ufi_env.rndv_min || !rx || rx->len < msg_len ||
	    ep->bulk.owner != FI_ADDR_NOTAVAIL ||
	    ufi_now_ns() < peer->grant.refuse_until_ns)
		return 0;
	/* A last segment small enough to travel inline takes no buffer:
	 * it goes to the main endpoint. */
	if (seg_len(msg_len, (uint32_t)(segs - 1)) <= UFI_INLINE_PAYLOAD)
		segs--;
	if (segs > BULK_RX_ENTRIES)
		segs = BULK_RX_ENTRIES;
	if (!segs || bulk_open(ep) || bulk_chan(ep, peer))
		return 0;
	got = unet_fq_reserve(ep->bulk.uep, BULK_FQ_ENTRIES, &idx);
	for (i = 0; i < segs; i++) {
		struct unet_sge pc[UFI_IOV_LIMIT];
		unsigned n = rx_pieces(rx, (size_t)i * UFI_SEG_MAX,
				       seg_len(msg_len, i), pc), j;

		if (used + 1 + n > got)
			break;
		unet_fq_prep(ep->bulk.uep, idx + used++,
			     (uintptr_t)&ep->bulk.hdr_slots[i], UFI_HDR_LEN,
			     bulk_ctx(ep->bulk.gen, i, 0));
		for (j = 0; j < n; j++)
			unet_fq_prep(ep->bulk.uep, idx + used++, pc[j].addr,
				     pc[j].len, bulk_ctx(ep->bulk.gen, i, j + 1));
	}
	unet_fq_submit(ep->bulk.uep, used);
	return i;
}

/* An accepted RTS (its receive matched or not): answer it. */
void ufi_rndv_rts_in(struct ufi_ep *ep, struct ufi_peer *peer,
		     const struct ufi_hdr *h)
{
	struct ufi_grant *g = &peer->grant;
	uint32_t n = bulk_post(ep, peer, h->msg_len);

	g->valid = true;
	g->rts_seq = h->seq;
	g->first = h->seq + 1;
	g->end = g->first + n;
	g->live = n != 0;
	g->last_ns = ufi_now_ns();
	if (g->live) {
		ep->bulk.owner = peer->addr;
		ep->stats.rndv_granted++;
	} else {
		ep->stats.rndv_refused++;
	}
	peer->grant_owed = true;
}

/* An in-order segment arrived at the main endpoint: if the live grant
 * covers it, the sender is not using the grant (it never saw it, or gave
 * it up), and the buffers posted for it must not be filled later. */
void ufi_rndv_seg_in(struct ufi_ep *ep, struct ufi_peer *peer, uint32_t seq)
{
	const struct ufi_grant *g = &peer->grant;

	if (g->live && !ufi_seq_before(seq, g->first) &&
	    ufi_seq_before(seq, g->end))
		bulk_abort(ep);
}

/* The message of the peer completes (or fails): a grant still live is
 * given up first, whatever the peer claims. */
void ufi_rndv_msg_end(struct ufi_ep *ep, struct ufi_peer *peer)
{
	if (ep->bulk.owner == peer->addr)
		bulk_abort(ep);
}

/* One message from the bulk endpoint; false: the grant must end. */
static bool bulk_rx_one(struct ufi_ep *ep, const struct unet_recv *r)
{
	fi_addr_t owner = ep->bulk.owner;
	struct unet_sge pc[UFI_IOV_LIMIT];
	const struct unet_buf *b;
	struct ufi_peer *peer;
	struct ufi_grant *g;
	struct ufi_hdr h;
	uint32_t idx;
	size_t len;
	unsigned n, j;
	bool last;

	if (owner == FI_ADDR_NOTAVAIL)
		return r->nbuf == 0;	/* nothing posted: nothing taken */
	peer = &ep->peers[owner];
	g = &peer->grant;
	if (r->status != UNET_ST_OK || r->nbuf < 2 ||
	    r->channel >= UNET_MAX_CHANNELS ||
	    ep->bulk.chan_to_addr[r->channel] != owner || !peer->cur_rx ||
	    !ufi_seq_before(peer->rx_next, g->end))
		return false;
	idx = peer->rx_next - g->first;
	b = unet_recv_buf(ep->bulk.uep, r, 0);
	if (b->context != bulk_ctx(ep->bulk.gen, idx, 0) ||
	    b->len != UFI_HDR_LEN)
		return false;
	memcpy(&h, unet_buf_ptr(ep->bulk.uep, b), UFI_HDR_LEN);
	ufi_hdr_from_wire(&h);
	if (peer->cur_off != (uint64_t)idx * UFI_SEG_MAX)
		return false;
	len = seg_len(peer->cur_len, idx);
	last = peer->cur_off + len == peer->cur_len;
	n = rx_pieces(peer->cur_rx, (size_t)idx * UFI_SEG_MAX, len, pc);
	if (h.version != UFI_PROTO_VERSION || h.type != UFI_PKT_DATA ||
	    h.seq != peer->rx_next || r->length != UFI_HDR_LEN + len ||
	    r->nbuf != 1 + n || (h.flags & (UFI_F_FIRST | UFI_F_RNDV)) ||
	    !(h.flags & UFI_F_LAST) != !last)
		return false;
	for (j = 0; j < n; j++)
		if (unet_recv_buf(ep->bulk.uep, r, j + 1)->context !=
		    bulk_ctx(ep->bulk.gen, idx, j + 1))
			return false;
	/* The loss knob loses it here, after the NIC placed it: the same
	 * as a loss on the way for what follows. */
	if (ufi_knob_drops(ep)) {
		ep->stats.dropped_knob++;
		return false;
	}
	peer->last_rx_ns = ufi_ep_now(ep);
	ufi_rx_ack(ep, peer, &h);
	if (!ufi_rx_in_order(ep, peer, &h))
		return false;
	peer->cur_off += len;
	ep->stats.bytes_placed += len;
	g->last_ns = peer->last_rx_ns;
	if (!ufi_seq_before(peer->rx_next, g->end)) {
		g->live = false;	/* every buffer posted is taken */
		ep->bulk.owner = FI_ADDR_NOTAVAIL;
	}
	if (last)
		ufi_rx_msg_end(ep, peer);
	return true;
}

void ufi_bulk_poll(struct ufi_ep *ep)
{
	struct unet_recv r;

	while (ep->bulk.uep && unet_recv_poll(ep->bulk.uep, &r) == 1) {
		bool ok = bulk_rx_one(ep, &r);

		if (!ep->bulk.uep)
			break;
		unet_recv_done(ep->bulk.uep, &r);
		if (!ok)
			bulk_abort(ep);
	}
}

/* The peer fails or leaves: its grant ends before its receive does. */
void ufi_rndv_peer_gone(struct ufi_ep *ep, struct ufi_peer *peer)
{
	if (ep->bulk.owner == peer->addr)
		bulk_abort(ep);
	peer->grant.valid = false;
	peer->grant.live = false;
	peer->grant_owed = false;
	peer->bulk.waiting = false;
	peer->bulk.active = false;
}

void ufi_rndv_peer_removed(struct ufi_ep *ep, struct ufi_peer *peer)
{
	int ch = ep->bulk.chan[peer->addr];

	/* Again: ufi_ep_wait_sent() progressed since ufi_fail_peer(). */
	ufi_rndv_peer_gone(ep, peer);
	if (ch >= 0 && ep->bulk.uep) {
		unet_chan_destroy(ep->bulk.uep, (uint32_t)ch);
		ep->bulk.chan_to_addr[ch] = FI_ADDR_NOTAVAIL;
	}
	ep->bulk.chan[peer->addr] = -1;
	if (peer->bulk.channel >= 0) {
		unet_chan_destroy(ep->uep, (uint32_t)peer->bulk.channel);
		ep->bulk_tx_chans--;
	}
	peer->bulk.channel = -1;
}

/* Every header-only ACK to the peer repeats our answer to its last RTS. */
void ufi_rndv_ack_fill(struct ufi_ep *ep, struct ufi_peer *peer,
		       struct ufi_hdr *h)
{
	const struct ufi_grant *g = &peer->grant;

	if (!g->valid)
		return;
	h->flags |= UFI_F_GRANT;
	h->seq = g->rts_seq;
	if (g->live)
		h->tag = ep->bulk.id;
	h->msg_len = ufi_grant_range(g->first, g->end);
}

/* --- the sender's side --- */

bool ufi_rndv_wanted(const struct ufi_ep *ep, const struct ufi_tx_op *op)
{
	return ep->type == FI_EP_RDM && ufi_env.rndv_min &&
	       op->len >= ufi_env.rndv_min;
}

int ufi_seg_channel(const struct ufi_peer *peer, uint32_t seq, size_t len)
{
	const struct ufi_bulk_tx *b = &peer->bulk;

	if (b->active && len > UFI_INLINE_PAYLOAD &&
	    !ufi_seq_before(seq, b->first) && ufi_seq_before(seq, b->end))
		return b->channel;
	return peer->channel;
}

/* A grant (or its revocation) for our RTS. */
void ufi_rndv_grant_in(struct ufi_ep *ep, struct ufi_peer *peer,
		       const struct ufi_hdr *h)
{
	struct ufi_bulk_tx *b = &peer->bulk;
	uint32_t first = (uint32_t)h->msg_len;
	uint32_t end = (uint32_t)(h->msg_len >> 32);
	uint32_t id = (uint32_t)h->tag;

	if (h->seq != b->rts_seq || !(b->waiting || b->active))
		return;
	if (first == end) {
		b->waiting = false;
		if (b->active) {
			/* Revoked: what went to the bulk endpoint and is not
			 * acknowledged goes again, to the main one. */
			b->active = false;
			ufi_go_back(ep, peer);
		}
		return;
	}
	if (!b->waiting)
		return;		/* the grant in use, repeated */
	b->waiting = false;
	if (first != b->rts_seq + 1 || end - first > BULK_RX_ENTRIES)
		return;		/* not one we can follow: send as usual */
	/* Where the grant cannot be followed the bytes go the ordinary
	 * way, and the receiver gives the grant up when they reach its main
	 * endpoint. */
	if (b->channel < 0 || id != b->id) {
		uint8_t addr[UNET_ADDR_LEN];
		int ch;

		if (b->channel >= 0) {
			/* A channel slot freed now could be taken by the
			 * next one made, and copies still queued on it
			 * would follow it there. */
			if (b->queued)
				return;
			unet_chan_destroy(ep->uep, (uint32_t)b->channel);
			b->channel = -1;
			ep->bulk_tx_chans--;
		}
		if (ep->bulk_tx_chans >= UFI_BULK_TX_CHANS)
			return;
		/* The peer names an endpoint by id only: one of its own
		 * NIC's, never an address elsewhere. */
		memcpy(addr, ep->av->addrs[peer->addr], UNET_ADDR_LEN);
		if (unet_addr_set_id(addr, UNET_ADDR_LEN, id))
			return;
		ch = unet_chan_create(ep->uep, addr, UNET_ADDR_LEN);
		if (ch < 0)
			return;
		b->channel = ch;
		b->id = id;
		ep->bulk_tx_chans++;
	}
	b->first = first;
	b->end = end;
	b->active = true;
}

/* The RTS is acknowledged: its grant should be in the same ACK or soon
 * after; ufi_rndv_timer gives up waiting a retransmission timeout later. */
void ufi_rndv_acked(struct ufi_peer *peer, uint64_t now)
{
	struct ufi_bulk_tx *b = &peer->bulk;

	if (b->waiting && !b->wait_since &&
	    ufi_seq_before(b->rts_seq, peer->una))
		b->wait_since = now;
	/* All of it acknowledged: nothing is sent there again. */
	if (b->active && !ufi_seq_before(peer->una, b->end))
		b->active = false;
}

void ufi_rndv_timer(struct ufi_ep *ep, struct ufi_peer *peer, uint64_t now)
{
	struct ufi_bulk_tx *b = &peer->bulk;
	const struct ufi_grant *g = &peer->grant;

	if (b->waiting && b->wait_since &&
	    ufi_elapsed(now, b->wait_since) > peer->rto_ns)
		b->waiting = false;	/* the grant was lost: copy instead */
	if (g->live && ufi_elapsed(now, g->last_ns) > GRANT_IDLE_NS)
		bulk_abort(ep);
}
