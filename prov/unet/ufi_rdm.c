// SPDX-License-Identifier: MIT
/*
 * The progress engine: what turns U-Net's unreliable datagrams of at most
 * 64 KiB into libfabric's reliable, ordered, any-size RDM messages (and
 * plain DGRAM messages).  docs/FABRIC.md states the rules; in short:
 *
 *  - A message is cut into segments of up to UFI_SEG_MAX bytes, each one
 *    U-Net message with a ufi_hdr in front, gathered by the NIC from the
 *    header and straight from the application's buffer (no send copy).
 *  - Segments to a peer are numbered; the receiver accepts only the next
 *    one in order (go-back-N), acknowledges cumulatively (piggybacked on
 *    data, else a header-only ACK at the end of a progress pass; for a
 *    segment nobody waits for, a few passes later: see ufi_ack_due), and
 *    answers a gap at once with a NACK.
 *  - The sender keeps at most UFI_WINDOW_MAX segments unacknowledged and
 *    never sends past the receiver's credit: the receiver's free-buffer
 *    pool divided among its peers, so a receiver that keeps progressing
 *    never drops for lack of buffers.
 *  - An unacknowledged segment is sent again, with all after it, when its
 *    timer (UNET_FI_RTO_MS, doubling to 1 s) runs out or a NACK asks; a
 *    peer silent for UNET_FI_PEER_TIMEOUT_MS fails its operations with
 *    FI_EIO on the completion queues.
 *  - A send completes when every segment is acknowledged and the NIC has
 *    given back every copy of it: only then may the buffer change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ufi.h"

/* Kinds of U-Net send context, in the low bits of an aligned pointer. */
#define CTX_ACK		0u	/* header-only packet, nothing to release */
#define CTX_SEG		1u	/* struct ufi_seg */
#define CTX_DGRAM	2u	/* struct ufi_tx_op of a DGRAM endpoint */
#define CTX_SEG_BULK	3u	/* struct ufi_seg, to the peer's bulk endpoint */
#define CTX_KIND(c)	((unsigned)((c) & 3u))
#define CTX_PTR(c)	((void *)(uintptr_t)((c) & ~(uint64_t)3))

#define RTO_MAX_NS	1000000000ull
#define PEER_SCAN_MAX	UFI_MAX_PEERS

static uint64_t ufi_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ufi_now_ns(void)
{
	return ufi_clock_ns(CLOCK_MONOTONIC);
}

/*
 * The time, read at most once per progress pass.  Where the clock is not
 * in the vDSO (a guest whose TSC the kernel distrusts reads the HPET, one
 * trapped access each), reading it several times a pass, on every poll of
 * an idle completion queue, cost more than the rest of the pass; a pass
 * takes microseconds and the timers it serves are milliseconds.  Outside
 * a pass it is read fresh: a send stamps its segments with it.
 */
uint64_t ufi_ep_now(struct ufi_ep *ep)
{
	if (!ep->in_pass)
		return ufi_now_ns();
	if (!ep->pass_ns_valid) {
		ep->pass_ns = ufi_now_ns();
		ep->pass_ns_valid = true;
	}
	return ep->pass_ns;
}

/*
 * The clock an idle pass gives the timers: the time of the kernel's last
 * tick (CLOCK_MONOTONIC_COARSE), which the vDSO serves from memory whatever
 * the clocksource, so that looking at the timers costs no system call.  It
 * may lag the precise clock that stamps segments by a tick (milliseconds
 * against timeouts of tens of milliseconds and more): ufi_elapsed() reads
 * a stamp from the future as no time elapsed.
 */
static uint64_t ufi_coarse_now_ns(void)
{
	return ufi_clock_ns(CLOCK_MONOTONIC_COARSE);
}

uint64_t ufi_elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

int ufi_rx_pool_init(struct ufi_ep *ep)
{
	unsigned i;

	size_t bytes;

	ep->rx_pool_bufs = ufi_env.rx_bufs;
	bytes = (size_t)ep->rx_pool_bufs * UFI_RX_BUF_SIZE;
	/* The NIC fills free buffers in posting order, so it cycles through
	 * the whole pool: a pool larger than the NIC's TLB misses on every
	 * buffer.  Hence a small default pool, 2 MiB-aligned so that a
	 * transparent huge page (one TLB entry where the NIC has them) can
	 * back it. */
	bytes = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	ep->rx_pool = aligned_alloc(2u << 20, bytes);
	if (!ep->rx_pool)
		return -FI_ENOMEM;
	madvise(ep->rx_pool, bytes, MADV_HUGEPAGE);
	for (i = 0; i < ep->rx_pool_bufs; i++) {
		int err = unet_post_free(ep->uep,
					 (uintptr_t)(ep->rx_pool + (size_t)i * UFI_RX_BUF_SIZE),
					 UFI_RX_BUF_SIZE, i);
		if (err)
			return err;
	}
	return 0;
}

/* The loss knob: true for the fraction UNET_FI_DROP of calls. */
bool ufi_knob_drops(struct ufi_ep *ep)
{
	if (ufi_env.drop <= 0)
		return false;
	ep->rng ^= ep->rng << 13;
	ep->rng ^= ep->rng >> 7;
	ep->rng ^= ep->rng << 17;
	return (double)(ep->rng >> 11) / 9007199254740992.0 < ufi_env.drop;
}

/* Segments this endpoint lets one peer have in flight towards it: the
 * free-buffer pool, in whole maximal segments, shared by the peers. */
static uint32_t ufi_rx_window(const struct ufi_ep *ep)
{
	unsigned peers = 0, i, segs = ep->rx_pool_bufs /
		(UNET_MAX_MSG / UFI_RX_BUF_SIZE);
	uint32_t w;

	for (i = 0; i < UFI_MAX_PEERS; i++)
		peers += ep->peers[i].used;
	w = segs / (peers ? peers : 1);
	if (w < 2)
		w = 2;
	return w > UFI_WINDOW_MAX ? UFI_WINDOW_MAX : w;
}

/* Hands one packet to the NIC: the header and @len bytes of @iov from
 * @off.  Small ones are copied into the descriptor (inline) so that the
 * receiver takes no free buffer for them. */
static int ufi_nic_send(struct ufi_ep *ep, int channel,
			const struct ufi_hdr *hdr, const struct iovec *iov,
			size_t iov_count, size_t off, size_t len,
			uint64_t context)
{
	struct unet_sge sge[UNET_MAX_GATHER];
	unsigned n;
	size_t i;

	if (UFI_HDR_LEN + len <= UNET_INLINE_MAX) {
		uint8_t buf[UNET_INLINE_MAX];
		size_t done = 0;

		memcpy(buf, hdr, UFI_HDR_LEN);
		for (i = 0; i < iov_count && done < len; i++) {
			size_t k;

			if (off >= iov[i].iov_len) {
				off -= iov[i].iov_len;
				continue;
			}
			k = iov[i].iov_len - off < len - done ?
				iov[i].iov_len - off : len - done;
			memcpy(buf + UFI_HDR_LEN + done,
			       (const char *)iov[i].iov_base + off, k);
			done += k;
			off = 0;
		}
		return unet_send_inline(ep->uep, (uint32_t)channel, buf,
					(uint32_t)(UFI_HDR_LEN + len), context);
	}
	sge[0].addr = (uintptr_t)hdr;
	sge[0].len = UFI_HDR_LEN;
	sge[0].reserved = 0;
	n = ufi_iov_slice(iov, iov_count, off, len, sge + 1, UNET_MAX_GATHER - 1);
	if (n > UNET_MAX_GATHER - 1)
		return -EINVAL;
	return unet_send(ep->uep, (uint32_t)channel, sge, n + 1, context);
}

static void ufi_fill_ctrl(struct ufi_ep *ep, struct ufi_peer *peer,
			  struct ufi_hdr *h)
{
	h->version = UFI_PROTO_VERSION;
	h->ack = peer->rx_next;
	h->credit = peer->rx_next + ufi_rx_window(ep);
}

static void ufi_send_ack(struct ufi_ep *ep, struct ufi_peer *peer, bool nack)
{
	struct ufi_hdr h = { 0 };

	ufi_fill_ctrl(ep, peer, &h);
	h.type = UFI_PKT_ACK;
	h.flags = nack ? UFI_F_NACK : 0;
	ufi_rndv_ack_fill(ep, peer, &h);
	ufi_hdr_to_wire(&h);
	/* Inline: the header is copied into the descriptor at once.  A full
	 * send queue loses this ack; the sender's timer covers it. */
	if (ufi_nic_send(ep, peer->channel, &h, NULL, 0, 0, 0, CTX_ACK) == 0) {
		ep->stats.acks_sent++;
		peer->ack_owed = 0;
		peer->ack_now = false;
		peer->grant_owed = false;
	}
}

/*
 * Lazy acknowledgements.  A header-only ACK is a frame of its own each
 * way; in a ping-pong of small messages it goes out just before the reply
 * that would have carried it, and across a wire that costs the round trip
 * a frame's send and receive on each side.  A segment whose sender waits
 * for nothing (its send completed when posted, or asked for no completion:
 * UFI_F_ACK_LAZY) may therefore wait for a reply to ride on, for
 * UFI_LAZY_ACK_PASSES passes after the one that accepted it: enough for
 * an application to take its completion, post its next receive and send
 * (Open MPI reads the queue until it is empty first).  Every other ACK
 * keeps its pass: the sender does not mark lazy a segment that fills its
 * window or the receiver's credit (ufi_pump).  UFI_LAZY_ACK_MAX owed
 * segments send it at once, and a receiver that goes to sleep
 * (fi_cq_sread, fi_trywait) or closes sends it first.  A process
 * that stops calling the provider altogether keeps the ACK until it comes
 * back; its peer retransmits meanwhile and, since nothing it waits for is
 * missing, does not give it up (ufi_timers).
 */
#define UFI_LAZY_ACK_PASSES	4
#define UFI_LAZY_ACK_MAX	4

static bool ufi_ack_due(const struct ufi_ep *ep, const struct ufi_peer *peer)
{
	return peer->ack_owed &&
	       (peer->ack_now ||
		ep->pass_no - peer->ack_lazy_pass >= UFI_LAZY_ACK_PASSES);
}

void ufi_flush_acks(struct ufi_ep *ep)
{
	unsigned i;

	if (ep->type != FI_EP_RDM)
		return;
	for (i = 0; i < UFI_MAX_PEERS; i++)
		if (ep->peers[i].used && !ep->peers[i].dead &&
		    (ep->peers[i].ack_owed || ep->peers[i].grant_owed))
			ufi_send_ack(ep, &ep->peers[i], false);
}

/* A segment slot is free again once acknowledged and no copy of it is
 * left in the NIC; the last slot of a send completes it. */
static void ufi_seg_release(struct ufi_ep *ep, struct ufi_seg *seg)
{
	struct ufi_tx_op *op = seg->op;

	if (!seg->in_use || !seg->acked || seg->nic_refs)
		return;
	seg->in_use = false;
	seg->op = NULL;
	if (op && --op->segs_open == 0 && op->all_segmented)
		ufi_complete_tx(ep, op, 0);
}

/* Go back to the oldest unacknowledged segment: the pump sends again,
 * within the congestion window, every segment from there that is not
 * acknowledged and not still waiting in the NIC's own queue (a copy that
 * has not left yet needs no twin). */
void ufi_go_back(struct ufi_ep *ep, struct ufi_peer *peer)
{
	peer->resending = true;
	peer->resend_next = peer->una;
	ufi_pump(ep, peer);
}

/* Hands one copy of a segment to the NIC, for the endpoint of the peer
 * that the grant, if any, names. */
static int ufi_seg_send(struct ufi_ep *ep, struct ufi_peer *peer,
			struct ufi_seg *seg, const struct ufi_tx_op *op,
			uint32_t seq, size_t off, size_t len)
{
	int ch = ufi_seg_channel(peer, seq, len);
	bool bulk = ch != peer->channel;
	int err = ufi_nic_send(ep, ch, &seg->hdr, op->iov, op->iov_count, off,
			       len, (uintptr_t)seg | (bulk ? CTX_SEG_BULK : CTX_SEG));

	if (!err && bulk)
		peer->bulk.queued++;
	return err;
}

static uint32_t ufi_send_limit(const struct ufi_peer *peer)
{
	return peer->cwnd < UFI_WINDOW_MAX ? peer->cwnd : UFI_WINDOW_MAX;
}

/* Resends what ufi_go_back asked for; false if the NIC queue is full. */
static bool ufi_pump_resends(struct ufi_ep *ep, struct ufi_peer *peer,
			     uint64_t now)
{
	while (peer->resending) {
		struct ufi_seg *seg;

		if (ufi_seq_before(peer->resend_next, peer->una))
			peer->resend_next = peer->una;
		if (peer->resend_next == peer->next_seq) {
			peer->resending = false;
			break;
		}
		if (peer->resend_next - peer->una >= ufi_send_limit(peer))
			return false;
		seg = &peer->window[peer->resend_next % UFI_WINDOW_MAX];
		if (!seg->acked && seg->op && !seg->nic_refs) {
			if (ufi_seg_send(ep, peer, seg, seg->op, seg->seq,
					 seg->off, seg->len))
				return false;
			seg->nic_refs++;
			seg->resent = true;
			ep->stats.segs_resent++;
		}
		seg->sent_ns = now;
		peer->resend_next++;
	}
	return true;
}

static void ufi_pump_dgram(struct ufi_ep *ep, struct ufi_peer *peer)
{
	while (!ufi_list_empty(&peer->tx_queue)) {
		struct ufi_tx_op *op = ufi_container_of(peer->tx_queue.next,
							struct ufi_tx_op, link);
		/* In the op: the NIC gathers it until the send completes. */
		struct ufi_hdr *h = &op->wire_hdr;

		memset(h, 0, sizeof(*h));
		h->version = UFI_PROTO_VERSION;
		h->type = UFI_PKT_DGRAM;
		h->flags = op->pkt_flags | UFI_F_FIRST | UFI_F_LAST;
		h->tag = op->tag;
		h->cq_data = op->cq_data;
		h->msg_len = op->len;
		ufi_hdr_to_wire(h);
		if (ufi_nic_send(ep, peer->channel, h, op->iov, op->iov_count,
				 0, op->len, (uintptr_t)op | CTX_DGRAM))
			return;	/* NIC queue full: progress pumps again */
		ep->stats.segs_sent++;
		ufi_list_del(&op->link);
	}
}

void ufi_pump(struct ufi_ep *ep, struct ufi_peer *peer)
{
	uint64_t now;

	if (ep->type == FI_EP_DGRAM) {
		ufi_pump_dgram(ep, peer);
		return;
	}
	now = ufi_ep_now(ep);
	if (!ufi_pump_resends(ep, peer, now))
		return;
	while (!ufi_list_empty(&peer->tx_queue)) {
		struct ufi_tx_op *op = ufi_container_of(peer->tx_queue.next,
							struct ufi_tx_op, link);
		struct ufi_seg *seg = &peer->window[peer->next_seq % UFI_WINDOW_MAX];
		size_t off = op->next_off, len = op->len - off;
		struct ufi_hdr *h = &seg->hdr;
		bool rts = op->rndv && !op->rts_sent;

		if (peer->next_seq - peer->una >= ufi_send_limit(peer) ||
		    !ufi_seq_before(peer->next_seq, peer->peer_credit) ||
		    seg->in_use)
			return;
		/* After its RTS a rendezvous waits for the grant: it says
		 * which endpoint of the peer the bytes go to. */
		if (op->rndv && op->rts_sent && peer->bulk.waiting)
			return;
		if (len > UFI_SEG_MAX)
			len = UFI_SEG_MAX;
		if (rts)
			len = 0;
		memset(h, 0, sizeof(*h));
		ufi_fill_ctrl(ep, peer, h);
		h->type = UFI_PKT_DATA;
		h->flags = op->pkt_flags;
		/* Lazy only if nothing waits for its ACK: not the app, and
		 * not this pump, which stops after it when it fills the
		 * window or the receiver's credit. */
		if (ufi_tx_op_unwaited(op) &&
		    peer->next_seq + 1 - peer->una < ufi_send_limit(peer) &&
		    ufi_seq_before(peer->next_seq + 1, peer->peer_credit))
			h->flags |= UFI_F_ACK_LAZY;
		if (off == 0 && !op->rts_sent) {
			h->flags |= UFI_F_FIRST | (rts ? UFI_F_RNDV : 0);
			h->tag = op->tag;
			h->cq_data = op->cq_data;
			h->msg_len = op->len;
		}
		if (!rts && off + len == op->len)
			h->flags |= UFI_F_LAST;
		h->seq = peer->next_seq;
		ufi_hdr_to_wire(h);
		if (ufi_seg_send(ep, peer, seg, op, peer->next_seq, off, len))
			return;	/* NIC queue full: progress pumps again */
		if (rts) {
			op->rts_sent = true;
			peer->bulk.waiting = true;
			peer->bulk.active = false;
			peer->bulk.rts_seq = peer->next_seq;
			peer->bulk.wait_since = 0;
		}
		seg->op = op;
		seg->peer = peer;
		seg->off = off;
		seg->len = (uint32_t)len;
		seg->seq = peer->next_seq;
		seg->nic_refs = 1;
		seg->in_use = true;
		seg->acked = false;
		seg->resent = false;
		seg->waited = !ufi_tx_op_unwaited(op);
		peer->waited_inflight += seg->waited;
		seg->sent_ns = now;
		if (peer->una == peer->next_seq)
			peer->last_progress_ns = now;	/* the silence clock starts */
		peer->next_seq++;
		if (peer->ack_owed)
			ep->stats.acks_piggybacked++;
		peer->ack_owed = 0;	/* piggybacked */
		peer->ack_now = false;
		op->segs_open++;
		op->next_off += len;
		ep->stats.segs_sent++;
		if (op->next_off == op->len) {
			op->all_segmented = true;
			ufi_list_del(&op->link);
		}
	}
}

/* Fails everything in flight to and from @peer with @err (FI_EIO: the
 * peer stopped answering; FI_ECANCELED: it left the AV or we close). */
void ufi_fail_peer(struct ufi_ep *ep, struct ufi_peer *peer, int err)
{
	unsigned i, j;

	if (err == FI_EIO) {
		UFI_WARN(FI_LOG_EP_DATA, "peer %llu silent for %u ms: failing its operations\n",
			 (unsigned long long)peer->addr, ufi_env.peer_timeout_ms);
		peer->dead = true;
	}
	/* Before any receive is failed: the NIC may be placing into it. */
	ufi_rndv_peer_gone(ep, peer);
	for (i = 0; i < UFI_WINDOW_MAX; i++) {
		struct ufi_tx_op *op = peer->window[i].op;

		if (!peer->window[i].in_use || !op)
			continue;
		/* Slots keep their NIC copies' headers until reaped. */
		for (j = 0; j < UFI_WINDOW_MAX; j++)
			if (peer->window[j].op == op) {
				peer->window[j].op = NULL;
				peer->window[j].acked = true;
				ufi_seg_release(ep, &peer->window[j]);
			}
		if (!op->all_segmented)
			ufi_list_del(&op->link);
		ufi_complete_tx(ep, op, err);
	}
	while (!ufi_list_empty(&peer->tx_queue)) {
		struct ufi_tx_op *op = ufi_container_of(peer->tx_queue.next,
							struct ufi_tx_op, link);

		ufi_list_del(&op->link);
		ufi_complete_tx(ep, op, err);
	}
	for (i = 0; i < UFI_WINDOW_MAX; i++)
		peer->window[i].waited = false;
	peer->waited_inflight = 0;
	peer->una = peer->next_seq;
	peer->resending = false;
	if (peer->cur_rx) {
		struct ufi_cq_entry c = { 0 };

		c.e.op_context = peer->cur_rx->context;
		c.e.flags = FI_RECV;
		c.src = peer->addr;
		c.err = err;
		if (ep->rx_cq)
			ufi_cq_push(ep->rx_cq, &c);
		ep->rx_ops_open--;
		free(peer->cur_rx);
		peer->cur_rx = NULL;
	}
	if (peer->cur_unexp) {
		struct ufi_unexp *u = peer->cur_unexp;

		ufi_list_del(&u->link);
		if (u->claimed) {
			struct ufi_cq_entry c = { 0 };

			c.e.op_context = u->claimed->context;
			c.e.flags = FI_RECV | FI_TAGGED;
			c.src = peer->addr;
			c.err = err;
			if (ep->rx_cq)
				ufi_cq_push(ep->rx_cq, &c);
			ep->rx_ops_open--;
			free(u->claimed);
		}
		free(u->bytes);
		free(u);
		peer->cur_unexp = NULL;
	}
}

/* --- receiving --- */

/* Calls @fn on each run of bytes [from, length) of a received message. */
struct rx_sink {
	struct ufi_ep *ep;
	const struct iovec *iov;	/* into an application's iov, or */
	size_t iov_count;
	uint8_t *flat;			/* into a flat buffer */
	size_t dst_off;			/* where the first byte goes */
	size_t copied;
};

static void rx_sink_put(struct rx_sink *s, const uint8_t *p, size_t n)
{
	if (s->flat)
		memcpy(s->flat + s->dst_off + s->copied, p, n), s->copied += n;
	else
		s->copied += ufi_iov_copy_in(s->iov, s->iov_count,
					     s->dst_off + s->copied, p, n);
}

static void ufi_rx_copy(struct ufi_ep *ep, const struct unet_recv *r,
			size_t from, struct rx_sink *s)
{
	size_t pos = 0;
	unsigned i;

	if (r->data) {
		if (r->length > from)
			rx_sink_put(s, (const uint8_t *)r->data + from, r->length - from);
		return;
	}
	for (i = 0; i < r->nbuf && pos < r->length; i++) {
		const struct unet_buf *b = unet_recv_buf(ep->uep, r, i);
		size_t n = b->len < r->length - pos ? b->len : r->length - pos;
		const uint8_t *p = unet_buf_ptr(ep->uep, b);

		if (pos + n > from) {
			size_t skip = from > pos ? from - pos : 0;

			rx_sink_put(s, p + skip, n - skip);
		}
		pos += n;
	}
}

static struct ufi_rx_op *ufi_match_posted(struct ufi_ep *ep, uint8_t flags,
					  fi_addr_t src, uint64_t tag)
{
	struct ufi_list *q = (flags & UFI_F_TAGGED) ? &ep->posted_tagged :
		&ep->posted_msg, *l;
	bool directed = ep->caps & FI_DIRECTED_RECV;

	for (l = q->next; l != q; l = l->next) {
		struct ufi_rx_op *rx = ufi_container_of(l, struct ufi_rx_op, link);

		if (ufi_rx_matches(rx, src, tag, directed)) {
			ufi_list_del(&rx->link);
			return rx;
		}
	}
	return NULL;
}

static void ufi_rx_dgram(struct ufi_ep *ep, struct ufi_peer *peer,
			 const struct ufi_hdr *h, const struct unet_recv *r)
{
	struct ufi_rx_op *rx = ufi_match_posted(ep, h->flags, peer->addr, h->tag);
	size_t plen = r->length - UFI_HDR_LEN;
	struct rx_sink s = { .ep = ep };

	if (!rx) {
		ep->stats.unexpected++;	/* datagram semantics: dropped */
		return;
	}
	s.iov = rx->iov;
	s.iov_count = rx->iov_count;
	ufi_rx_copy(ep, r, UFI_HDR_LEN, &s);
	ep->stats.bytes_copied += s.copied;
	ufi_complete_rx(ep, rx, s.copied, h->tag, h->cq_data, h->flags,
			peer->addr, plen);
}

/* RTT sample -> retransmission timeout (RFC 6298's estimator), never
 * below UNET_FI_RTO_MS. */
static void ufi_rtt_sample(struct ufi_peer *peer, uint64_t rtt)
{
	uint64_t min_rto = (uint64_t)ufi_env.rto_ms * 1000000;

	if (!peer->srtt_ns) {
		peer->srtt_ns = rtt;
		peer->rttvar_ns = rtt / 2;
	} else {
		uint64_t d = rtt > peer->srtt_ns ? rtt - peer->srtt_ns :
			peer->srtt_ns - rtt;

		peer->rttvar_ns = (3 * peer->rttvar_ns + d) / 4;
		peer->srtt_ns = (7 * peer->srtt_ns + rtt) / 8;
	}
	peer->rto_ns = peer->srtt_ns + 4 * peer->rttvar_ns;
	if (peer->rto_ns < min_rto)
		peer->rto_ns = min_rto;
	if (peer->rto_ns > RTO_MAX_NS)
		peer->rto_ns = RTO_MAX_NS;
}

void ufi_rx_ack(struct ufi_ep *ep, struct ufi_peer *peer,
		const struct ufi_hdr *h)
{
	uint64_t now = ufi_ep_now(ep);

	if (ufi_seq_before(peer->peer_credit, h->credit))
		peer->peer_credit = h->credit;
	if (ufi_seq_before(peer->una, h->ack) &&
	    !ufi_seq_before(peer->next_seq, h->ack)) {
		struct ufi_seg *last = &peer->window[(h->ack - 1) % UFI_WINDOW_MAX];
		uint32_t s, n = h->ack - peer->una;

		/* Not from a resent segment (Karn), nor from a lazy one:
		 * its ACK may have waited for the peer's application. */
		if (!last->resent && !(last->hdr.flags & UFI_F_ACK_LAZY))
			ufi_rtt_sample(peer, now - last->sent_ns);
		for (s = peer->una; s != h->ack; s++) {
			struct ufi_seg *seg = &peer->window[s % UFI_WINDOW_MAX];

			seg->acked = true;
			peer->waited_inflight -= seg->waited;
			seg->waited = false;
			ufi_seg_release(ep, seg);
		}
		peer->una = h->ack;
		peer->last_progress_ns = now;
		peer->nack_served = false;
		/* Slow start below ssthresh, then one segment per window. */
		if (peer->cwnd < peer->ssthresh) {
			peer->cwnd += n;
		} else if ((peer->cwnd_acked += n) >= peer->cwnd) {
			peer->cwnd_acked = 0;
			peer->cwnd++;
		}
		if (peer->cwnd > UFI_WINDOW_MAX)
			peer->cwnd = UFI_WINDOW_MAX;
		ufi_rndv_acked(peer, now);
	}
	if (h->type == UFI_PKT_ACK && (h->flags & UFI_F_GRANT))
		ufi_rndv_grant_in(ep, peer, h);
	if ((h->flags & UFI_F_NACK) && h->ack == peer->una &&
	    peer->una != peer->next_seq &&
	    !(peer->nack_served && peer->last_nack_seq == h->ack)) {
		uint32_t inflight = peer->next_seq - peer->una;

		peer->nack_served = true;
		peer->last_nack_seq = h->ack;
		peer->ssthresh = inflight / 2 > 2 ? inflight / 2 : 2;
		peer->cwnd = peer->ssthresh;
		ufi_go_back(ep, peer);
	}
}

/* The sequence check of a DATA segment, from either endpoint: true if it
 * is the next one (and it is now accepted), else it is answered. */
bool ufi_rx_in_order(struct ufi_ep *ep, struct ufi_peer *peer,
		     const struct ufi_hdr *h)
{
	peer->last_data_ns = peer->last_rx_ns;
	if (h->seq != peer->rx_next) {
		if (ufi_seq_before(h->seq, peer->rx_next)) {
			/* Our ack was lost or late: say it again. */
			ep->stats.dups++;
			ufi_send_ack(ep, peer, false);
		} else {
			ep->stats.out_of_order++;
			if (!peer->nack_sent || peer->nacked_seq != peer->rx_next) {
				peer->nack_sent = true;
				peer->nacked_seq = peer->rx_next;
				ufi_send_ack(ep, peer, true);
			}
		}
		return false;
	}
	peer->rx_next++;
	peer->nack_sent = false;
	peer->ack_owed++;
	peer->ack_lazy_pass = ep->pass_no;
	if (!(h->flags & UFI_F_ACK_LAZY) || !ufi_env.lazy_ack ||
	    peer->ack_owed >= UFI_LAZY_ACK_MAX)
		peer->ack_now = true;
	return true;
}

static void ufi_rx_data(struct ufi_ep *ep, struct ufi_peer *peer,
			const struct ufi_hdr *h, const struct unet_recv *r)
{
	size_t plen = r->length - UFI_HDR_LEN;
	struct rx_sink s = { .ep = ep };

	/* A segment of a grant's may wait in the bulk endpoint's queue
	 * while a later one, or a retransmitted copy of it, sent to the
	 * main endpoint, is here: take it first, or this one looks like a
	 * gap, or like the sender giving the grant up. */
	if (peer->grant.live)
		ufi_bulk_poll(ep);
	if (!ufi_rx_in_order(ep, peer, h))
		return;
	ufi_rndv_seg_in(ep, peer, h->seq);
	if (h->flags & UFI_F_FIRST) {
		peer->cur_len = h->msg_len;
		peer->cur_off = 0;
		peer->cur_tag = h->tag;
		peer->cur_data = h->cq_data;
		peer->cur_flags = h->flags;
		peer->cur_rx = ufi_match_posted(ep, h->flags, peer->addr, h->tag);
		if (!peer->cur_rx) {
			struct ufi_unexp *u = calloc(1, sizeof(*u));

			if (u)
				u->bytes = malloc(h->msg_len ? h->msg_len : 1);
			if (!u || !u->bytes) {
				/* Out of memory: the message cannot be kept.
				 * Nothing else is safe: fail the peer. */
				free(u);
				ufi_fail_peer(ep, peer, FI_ENOMEM);
				return;
			}
			u->src = peer->addr;
			u->tag = h->tag;
			u->cq_data = h->cq_data;
			u->len = h->msg_len;
			u->pkt_flags = h->flags;
			ufi_list_add_tail((h->flags & UFI_F_TAGGED) ?
					  &ep->unexp_tagged : &ep->unexp_msg,
					  &u->link);
			peer->cur_unexp = u;
			ep->stats.unexpected++;
		}
		/* An RTS is FIRST, not LAST, and carries nothing. */
		if ((h->flags & UFI_F_RNDV) && !(h->flags & UFI_F_LAST) &&
		    !plen)
			ufi_rndv_rts_in(ep, peer, h);
	}
	if (peer->cur_rx) {
		s.iov = peer->cur_rx->iov;
		s.iov_count = peer->cur_rx->iov_count;
		s.dst_off = peer->cur_off;
	} else if (peer->cur_unexp) {
		if (peer->cur_off + plen > peer->cur_unexp->len)
			return;		/* a sender lying about msg_len */
		s.flat = peer->cur_unexp->bytes;
		s.dst_off = peer->cur_off;
	} else {
		return;			/* a segment of a failed message */
	}
	ufi_rx_copy(ep, r, UFI_HDR_LEN, &s);
	ep->stats.bytes_copied += s.copied;
	peer->cur_off += plen;
	if (h->flags & UFI_F_LAST)
		ufi_rx_msg_end(ep, peer);
}

/* The LAST segment is in: the receive completes, or the unexpected
 * message is whole (and completes a receive that claimed it). */
void ufi_rx_msg_end(struct ufi_ep *ep, struct ufi_peer *peer)
{
	/* Nothing may be placed into a receive once it completes. */
	ufi_rndv_msg_end(ep, peer);
	if (peer->cur_rx) {
		size_t got = peer->cur_off < peer->cur_rx->len ?
			peer->cur_off : peer->cur_rx->len;

		ufi_complete_rx(ep, peer->cur_rx, got, peer->cur_tag,
				peer->cur_data, peer->cur_flags, peer->addr,
				peer->cur_len);
		peer->cur_rx = NULL;
	} else if (peer->cur_unexp) {
		struct ufi_unexp *u = peer->cur_unexp;

		peer->cur_unexp = NULL;
		u->complete = true;
		if (u->claimed) {
			struct ufi_rx_op *rx = u->claimed;
			size_t n = u->len < rx->len ? u->len : rx->len;

			ufi_iov_copy_in(rx->iov, rx->iov_count, 0, u->bytes, n);
			ep->stats.bytes_copied += n;
			ufi_complete_rx(ep, rx, n, u->tag, u->cq_data,
					u->pkt_flags, u->src, u->len);
			ufi_list_del(&u->link);
			free(u->bytes);
			free(u);
		}
	}
}

static void ufi_rx_one(struct ufi_ep *ep, const struct unet_recv *r)
{
	struct ufi_peer *peer;
	struct ufi_hdr h;
	struct rx_sink s = { .ep = ep, .flat = (uint8_t *)&h };
	fi_addr_t addr;

	if (r->status != UNET_ST_OK || r->length < UFI_HDR_LEN)
		return;
	if (ufi_knob_drops(ep)) {
		ep->stats.dropped_knob++;
		return;
	}
	addr = r->channel < UNET_MAX_CHANNELS ? ep->chan_to_addr[r->channel] :
		FI_ADDR_NOTAVAIL;
	if (addr == FI_ADDR_NOTAVAIL || !ep->peers[addr].used)
		return;
	peer = &ep->peers[addr];
	peer->last_rx_ns = ufi_ep_now(ep);
	/* Only the header: rx_copy stops at the sink's end via a short
	 * message copy of exactly UFI_HDR_LEN bytes. */
	{
		struct unet_recv head = *r;

		head.length = UFI_HDR_LEN;
		ufi_rx_copy(ep, &head, 0, &s);
	}
	ufi_hdr_from_wire(&h);
	if (h.version != UFI_PROTO_VERSION)
		return;
	/* The deterministic loss knob: the first N header-only ACKs. */
	if (h.type == UFI_PKT_ACK && ep->acks_to_drop) {
		ep->acks_to_drop--;
		ep->stats.dropped_knob++;
		return;
	}
	switch (h.type) {
	case UFI_PKT_DGRAM:
		if (ep->type == FI_EP_DGRAM)
			ufi_rx_dgram(ep, peer, &h, r);
		break;
	case UFI_PKT_ACK:
		if (ep->type == FI_EP_RDM && !peer->dead)
			ufi_rx_ack(ep, peer, &h);
		break;
	case UFI_PKT_DATA:
		if (ep->type != FI_EP_RDM || peer->dead)
			break;
		ufi_rx_ack(ep, peer, &h);
		ufi_rx_data(ep, peer, &h, r);
		break;
	default:
		break;
	}
}

static void ufi_reap_sends(struct ufi_ep *ep)
{
	struct unet_send_comp comps[64];
	int n, i;

	while ((n = unet_send_poll(ep->uep, comps, 64)) > 0) {
		for (i = 0; i < n; i++) {
			uint64_t c = comps[i].context;

			switch (CTX_KIND(c)) {
			case CTX_SEG_BULK:
			case CTX_SEG: {
				struct ufi_seg *seg = CTX_PTR(c);

				if (CTX_KIND(c) == CTX_SEG_BULK && seg->peer &&
				    seg->peer->bulk.queued)
					seg->peer->bulk.queued--;

				seg->nic_refs--;
				ufi_seg_release(ep, seg);
				break;
			}
			case CTX_DGRAM: {
				struct ufi_tx_op *op = CTX_PTR(c);

				ufi_complete_tx(ep, op, comps[i].status == UNET_ST_OK ?
						0 : FI_EIO);
				break;
			}
			default:
				break;
			}
		}
		if (n < 64)
			break;
	}
}

/* Does the application wait for anything from the peer?  Not if all it
 * lacks are ACKs of sends already completed (lazy ones, which a peer busy
 * elsewhere may owe for as long as it likes). */
static bool ufi_peer_awaited(const struct ufi_peer *peer)
{
	return peer->waited_inflight || !ufi_list_empty(&peer->tx_queue);
}

/* A send is posted to @peer: if nothing waited for the peer until now,
 * the silence clock starts now, not at its last ACK, which may be long
 * ago if the peer owed only lazy ones (and neither side called since).
 * The tick's clock: the silence is seconds, and a send should not pay a
 * system call for it. */
void ufi_peer_wait_begins(struct ufi_peer *peer)
{
	if (!ufi_peer_awaited(peer))
		peer->last_progress_ns = ufi_coarse_now_ns();
}

/* The retransmission and silence timers of a peer with something in flight. */
static void ufi_timers(struct ufi_ep *ep, struct ufi_peer *peer, uint64_t now)
{
	uint64_t silence = (uint64_t)ufi_env.peer_timeout_ms * 1000000;

	/* A receiver in the middle of a message whose sender went quiet. */
	if ((peer->cur_rx || peer->cur_unexp) &&
	    ufi_elapsed(now, peer->last_rx_ns) > silence) {
		ufi_fail_peer(ep, peer, FI_EIO);
		return;
	}
	if (peer->una != peer->next_seq) {
		struct ufi_seg *oldest = &peer->window[peer->una % UFI_WINDOW_MAX];

		/* While nothing waits, the silence clock stands still: it
		 * runs from when the application began to wait. */
		if (!ufi_peer_awaited(peer))
			peer->last_progress_ns = now;
		else if (ufi_elapsed(now, peer->last_progress_ns) > silence) {
			ufi_fail_peer(ep, peer, FI_EIO);
			return;
		}
		if (ufi_elapsed(now, oldest->sent_ns) > peer->rto_ns) {
			uint32_t inflight = peer->next_seq - peer->una;

			peer->ssthresh = inflight / 2 > 2 ? inflight / 2 : 2;
			peer->cwnd = 1;
			peer->rto_ns = peer->rto_ns * 2 > RTO_MAX_NS ?
				RTO_MAX_NS : peer->rto_ns * 2;
			oldest->sent_ns = now;	/* the timer restarts */
			/* The grant may have been revoked in an ACK that was
			 * lost, and its endpoint be gone: nothing sent there
			 * would be answered.  The main endpoint always is. */
			peer->bulk.active = false;
			ufi_go_back(ep, peer);
		}
	}
}

/* One pass; the caller made sure it is not inside another. */
static void ufi_progress_pass(struct ufi_ep *ep)
{
	struct unet_recv r;
	uint64_t bufs[UNET_MAX_RX_BUFS];
	uint32_t lens[UNET_MAX_RX_BUFS];
	unsigned budget, i;
	uint64_t now;

	ufi_reap_sends(ep);
	if (ep->type == FI_EP_RDM)
		ufi_bulk_poll(ep);
	for (budget = 64; budget && unet_recv_poll(ep->uep, &r) == 1; budget--) {
		unsigned nbuf = r.nbuf;

		ufi_rx_one(ep, &r);
		for (i = 0; i < nbuf; i++) {
			const struct unet_buf *b = unet_recv_buf(ep->uep, &r, i);

			bufs[i] = b->addr;
			lens[i] = b->len;
		}
		unet_recv_done(ep->uep, &r);
		/* The buffers go back in the order they came: the NIC fills
		 * them in posting order. */
		for (i = 0; i < nbuf; i++)
			unet_post_free(ep->uep, bufs[i], lens[i], 0);
	}
	if (ep->type != FI_EP_RDM) {
		for (i = 0; i < UFI_MAX_PEERS; i++)
			if (ep->peers[i].used && !ufi_list_empty(&ep->peers[i].tx_queue))
				ufi_pump(ep, &ep->peers[i]);
		return;
	}
	/* The precise time if this pass read it anyway, else the tick's. */
	now = ep->pass_ns_valid ? ep->pass_ns : ufi_coarse_now_ns();
	for (i = 0; i < UFI_MAX_PEERS; i++) {
		struct ufi_peer *peer = &ep->peers[i];

		if (!peer->used || peer->dead)
			continue;
		if (ufi_ack_due(ep, peer) || peer->grant_owed)
			ufi_send_ack(ep, peer, false);
		ufi_timers(ep, peer, now);
		ufi_rndv_timer(ep, peer, now);
		if (!peer->dead && !ufi_list_empty(&peer->tx_queue))
			ufi_pump(ep, peer);
	}
}

void ufi_progress(struct ufi_ep *ep)
{
	if (!ep->uep || ep->in_pass)
		return;
	ep->in_pass = true;
	ep->pass_ns_valid = false;
	ep->pass_no++;
	ufi_progress_pass(ep);
	ep->in_pass = false;
}
