/* SPDX-License-Identifier: MIT */
/*
 * The unet libfabric provider: internal objects.
 *
 *   ufi_info.c   fi_prov_ini, fi_getinfo (what is offered), fabric,
 *                domain, EQ and memory registration objects
 *   ufi_av.c     address vectors (FI_AV_MAP and FI_AV_TABLE)
 *   ufi_cq.c     completion queues (context/msg/data/tagged formats)
 *   ufi_ep.c     endpoints: fi_send/recv/tsend/trecv/inject, matching
 *   ufi_rdm.c    the progress engine: U-Net send/receive, reliability
 *                (sequence, ack, retransmission, credit), segmentation
 *   ufi_rndv.c   rendezvous: large messages placed by the NIC straight
 *                into the receiver's buffer through a bulk endpoint
 *
 * One domain opens /dev/unet once (struct unet); each endpoint is one
 * U-Net endpoint in MM mode, so any buffer of the process can be handed
 * to the NIC without registration.  Progress is manual: it happens inside
 * fi_cq_read and friends, and in every posting call.
 */
#ifndef UFI_H
#define UFI_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <rdma/providers/fi_prov.h>
#include <rdma/providers/fi_log.h>

#include <unet.h>

#include "ufi_proto.h"

#define UFI_PROV_NAME		"unet"
#define UFI_FABRIC_NAME		"unet"
#define UFI_PROV_VERSION	FI_VERSION(1, 0)
#define UFI_API_VERSION		FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION)

#define UFI_IOV_LIMIT		4	/* + the header: 5 of 7 gather entries */
#define UFI_TX_SIZE		1024	/* operations an endpoint may queue */
#define UFI_RX_SIZE		1024
#define UFI_MAX_PEERS		UNET_MAX_CHANNELS
/* RDM window ceiling in segments; the receiver's credit may lower it. */
#define UFI_WINDOW_MAX		32
#define UFI_RX_BUF_SIZE		4096

extern struct fi_provider ufi_prov;

/* Tunables read once from the environment (UNET_FI_*): see ufi_info.c. */
struct ufi_env {
	double drop;		/* UNET_FI_DROP: fraction of messages discarded */
	unsigned seed;		/* UNET_FI_SEED */
	unsigned rto_ms;	/* UNET_FI_RTO_MS: first retransmission timeout */
	unsigned peer_timeout_ms; /* UNET_FI_PEER_TIMEOUT_MS: give a peer up */
	unsigned rx_bufs;	/* UNET_FI_RX_BUFS: free buffers per endpoint */
	unsigned drop_acks;	/* UNET_FI_DROP_ACKS: first ACKs discarded */
	unsigned busy_poll_us;	/* UNET_FI_BUSY_POLL_US: unet_busy_poll() */
	bool lazy_ack;		/* UNET_FI_LAZY_ACK=0: every ACK at once */
	uint64_t rndv_min;	/* UNET_FI_RNDV: smallest rendezvous message,
				 * 0: never */
	bool stats;		/* UNET_FI_STATS=1: print counters at close */
};
extern struct ufi_env ufi_env;
void ufi_env_load(void);

/* --- small doubly linked lists --- */
struct ufi_list {
	struct ufi_list *next, *prev;
};
static inline void ufi_list_init(struct ufi_list *l) { l->next = l->prev = l; }
static inline bool ufi_list_empty(const struct ufi_list *l) { return l->next == l; }
static inline void ufi_list_add_tail(struct ufi_list *head, struct ufi_list *e)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}
static inline void ufi_list_del(struct ufi_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = e;
}
#define ufi_container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* --- fabric, domain --- */
struct ufi_fabric {
	struct fid_fabric fabric;
};

struct ufi_domain {
	struct fid_domain domain;
	struct ufi_fabric *fabric;
	struct unet *dev;		/* /dev/unet, one context per domain */
	int refs;			/* eps, cqs, avs, mrs open on it */
	/* Every threading level but FI_THREAD_DOMAIN: every call on the
	 * domain's objects holds this (recursive: some calls make others).
	 * The domain's threads then share its endpoints, CQs and AVs as
	 * one thread would. */
	bool thread_safe;
	pthread_mutex_t lock;
};

static inline void ufi_lock(struct ufi_domain *dom)
{
	if (dom->thread_safe)
		pthread_mutex_lock(&dom->lock);
}

static inline void ufi_unlock(struct ufi_domain *dom)
{
	if (dom->thread_safe)
		pthread_mutex_unlock(&dom->lock);
}

/* Gives the CPU away, and the domain's lock with it: the thread we yield
 * to may want it.  Only where the lock is held once. */
static inline void ufi_yield(struct ufi_domain *dom)
{
	ufi_unlock(dom);
	sched_yield();
	ufi_lock(dom);
}

/*
 * An entry point that FI_THREAD_SAFE serialises: defines name(params) as
 * name_unlocked(args) under the lock of the domain @dom, an expression of
 * the parameters read before the call (which may free the object).
 */
#define UFI_LOCKED(type, name, params, args, dom)			\
	static type name params						\
	{								\
		struct ufi_domain *dom_ = (dom);			\
		type ret_;						\
									\
		ufi_lock(dom_);						\
		ret_ = name##_unlocked args;				\
		ufi_unlock(dom_);					\
		return ret_;						\
	}

/* --- address vector --- */
struct ufi_ep;
struct ufi_av {
	struct fid_av av;
	struct ufi_domain *domain;
	enum fi_av_type type;
	size_t count, cap;
	uint8_t (*addrs)[UNET_ADDR_LEN];	/* by fi_addr_t */
	bool *valid;
	struct ufi_ep *eps[4];			/* endpoints bound to it */
	int neps;
};

/* --- completion queue --- */
struct ufi_cq_entry {
	struct fi_cq_tagged_entry e;
	fi_addr_t src;
	int err;			/* 0, or a positive FI_E* */
	size_t olen;			/* truncated bytes, with FI_ETRUNC */
};

struct ufi_cq {
	struct fid_cq cq;
	struct ufi_domain *domain;
	enum fi_cq_format format;
	enum fi_wait_obj wait_obj;
	struct ufi_cq_entry *ring;	/* completions, oldest at head */
	size_t size, head, count;
	struct ufi_cq_entry *errs;	/* error completions, separately */
	size_t err_size, err_head, err_count;
	struct ufi_ep *eps[8];		/* endpoints whose progress feeds it */
	int neps;
	unsigned idle_polls;		/* reads in a row that found nothing */
};

int ufi_cq_push(struct ufi_cq *cq, const struct ufi_cq_entry *ent);
void ufi_cq_flush_acks(struct ufi_cq *cq);

/* --- endpoint --- */

/* A posted receive. */
struct ufi_rx_op {
	struct ufi_list link;
	void *context;
	struct iovec iov[UFI_IOV_LIMIT];
	size_t iov_count, len;
	fi_addr_t src;			/* FI_ADDR_UNSPEC: any */
	uint64_t tag, ignore;
	uint64_t flags;			/* FI_COMPLETION, FI_TAGGED ... */
};

/* A message that arrived before its receive was posted (RDM), kept with
 * its bytes until a receive claims it. */
struct ufi_unexp {
	struct ufi_list link;
	fi_addr_t src;
	uint64_t tag, cq_data, len;
	uint8_t pkt_flags;
	bool complete;			/* every segment is in */
	struct ufi_rx_op *claimed;	/* a receive matched it mid-arrival */
	void *claim_ctx;		/* FI_PEEK | FI_CLAIM set it aside for this */
	uint8_t *bytes;			/* len bytes */
};

/* A send in flight: the application's iov, gathered by the NIC. */
struct ufi_tx_op {
	struct ufi_list link;		/* on its peer's queue */
	void *context;
	struct iovec iov[UFI_IOV_LIMIT];
	size_t iov_count, len;
	size_t next_off;		/* first byte not yet segmented */
	uint64_t tag, cq_data, flags;
	uint8_t pkt_flags;
	fi_addr_t dest;
	bool rndv;			/* goes by rendezvous (ufi_rndv.c) */
	bool rts_sent;			/* its header-only FIRST segment is out */
	unsigned segs_open;		/* segments not yet acked-and-reaped */
	bool all_segmented;
	struct ufi_hdr wire_hdr;	/* DGRAM: the header the NIC gathers */
	uint8_t inject_copy[];		/* FI_INJECT: the bytes, copied */
};

/* One RDM segment in the send window.  Its header lives here because the
 * NIC gathers it asynchronously; the slot is reused only when the peer
 * acknowledged it and the NIC gave back every copy of it. */
struct ufi_seg {
	struct ufi_tx_op *op;
	struct ufi_peer *peer;
	struct ufi_hdr hdr;		/* wire order */
	size_t off;
	uint32_t len;
	uint32_t seq;
	unsigned nic_refs;		/* copies still in the NIC's send queue */
	bool in_use, acked;
	bool resent;			/* no RTT sample from it (Karn) */
	bool waited;			/* its op's completion waits for it */
	uint64_t sent_ns;
};

/* Bit of ufi_tx_op.flags: the call (fi_inject and kin) wants no
 * completion at all.  Above every FI_ operation flag we accept. */
#define UFI_TX_SILENT	(1ULL << 63)
/* Bit of ufi_tx_op.flags: completed to the application at posting (a
 * small send whose bytes were copied); the op lives on until acked. */
#define UFI_TX_EARLY	(1ULL << 62)

/* Nobody waits for this send's acknowledgement: its completion was given
 * at posting, or none was asked for. */
static inline bool ufi_tx_op_unwaited(const struct ufi_tx_op *op)
{
	return op->flags & (UFI_TX_EARLY | UFI_TX_SILENT);
}

/*
 * Rendezvous (ufi_rndv.c).  The receiver's side, per peer: its answer to
 * the peer's last request to send, and whether the application's buffer
 * is posted on the bulk endpoint for it.
 */
struct ufi_grant {
	bool valid;			/* an RTS from the peer was answered */
	bool live;			/* its pieces are posted: ep->bulk */
	uint32_t rts_seq;
	uint32_t first, end;		/* granted segments; empty: none */
	uint64_t last_ns;		/* granted, or a segment placed, at */
	uint64_t refuse_until_ns;	/* after one was given up: none */
};

/* The sender's side, per peer. */
struct ufi_bulk_tx {
	bool waiting;			/* RTS sent, its grant not yet seen */
	bool active;			/* segments [first, end) go to bulk */
	uint32_t rts_seq, first, end;
	uint64_t wait_since;		/* RTS acknowledged at (0: not yet) */
	int channel;			/* to the peer's bulk endpoint, or -1 */
	uint32_t id;			/* that endpoint's id */
	unsigned queued;		/* copies on that channel in the NIC */
};

/* Channels of one endpoint to its peers' bulk endpoints, at most: they
 * count against U-Net's UNET_MAX_CHANNELS with the peers' own. */
#define UFI_BULK_TX_CHANS	64

/* Per remote endpoint (AV entry) state of an RDM or DGRAM endpoint. */
struct ufi_peer {
	bool used, dead, is_self;
	int channel;
	fi_addr_t addr;
	struct ufi_list tx_queue;	/* ufi_tx_op, not yet fully segmented */
	/* send side: segments [una, next_seq) are in flight */
	uint32_t una, next_seq, peer_credit;
	struct ufi_seg window[UFI_WINDOW_MAX];
	uint64_t rto_ns, last_progress_ns, last_nack_seq;
	uint32_t waited_inflight;	/* segments in flight with seg->waited */
	bool nack_served;
	/* congestion: segments in flight are limited to cwnd (slow start up
	 * to ssthresh, then +1 per window); a loss resends from resend_next */
	uint32_t cwnd, ssthresh, cwnd_acked;
	bool resending;
	uint32_t resend_next;
	uint64_t srtt_ns, rttvar_ns;	/* smoothed round trip, for the RTO */
	/* receive side */
	uint32_t rx_next;		/* next seq accepted */
	uint32_t nacked_seq;		/* a NACK for it has been sent */
	bool nack_sent;
	unsigned ack_owed;		/* segments accepted, not yet acked */
	bool ack_now;			/* one of them wants its ACK this pass */
	uint64_t ack_lazy_pass;		/* pass that accepted the last one */
	uint64_t last_rx_ns;		/* anything heard from the peer */
	uint64_t last_data_ns;		/* its last DATA segment (a closing
					 * endpoint waits for it to go quiet) */
	/* the message being received from this peer */
	struct ufi_rx_op *cur_rx;	/* into a posted receive, or */
	struct ufi_unexp *cur_unexp;	/* into an unexpected buffer */
	uint64_t cur_off, cur_len, cur_tag, cur_data;
	uint8_t cur_flags;
	struct ufi_grant grant;
	bool grant_owed;		/* send a header-only ACK with it */
	struct ufi_bulk_tx bulk;
};

struct ufi_stats {
	uint64_t bytes_delivered;	/* payload bytes completed to receives */
	uint64_t bytes_copied;		/* payload bytes memcpy'd by the CPU */
	uint64_t segs_sent, segs_resent, acks_sent, acks_piggybacked;
	uint64_t dropped_knob;
	uint64_t dups, out_of_order, unexpected;
	uint64_t bytes_placed;		/* landed in place by the NIC: no copy */
	uint64_t rndv_granted, rndv_refused, rndv_aborted;
};

/*
 * The bulk endpoint of a receiving RDM endpoint: a second U-Net endpoint
 * whose free queue holds, while a grant is live, nothing but pieces of
 * the application's own receive buffer (each after a 40-byte slot for the
 * segment's header), so that the NIC places a granted segment's bytes
 * where they belong.  One grant at a time.
 */
struct ufi_bulk_rx {
	struct unet_ep *uep;		/* NULL until the first grant */
	uint32_t id;			/* its endpoint id */
	uint32_t gen;			/* in free-buffer contexts: which one */
	fi_addr_t owner;		/* peer holding the live grant, or
					 * FI_ADDR_NOTAVAIL */
	int chan[UFI_MAX_PEERS];	/* its channel to each peer, or -1 */
	fi_addr_t chan_to_addr[UNET_MAX_CHANNELS];
	struct ufi_hdr *hdr_slots;	/* one per granted segment */
};

struct ufi_ep {
	struct fid_ep ep;
	struct ufi_domain *domain;
	struct fi_info *info;
	enum fi_ep_type type;
	uint64_t caps, tx_op_flags, rx_op_flags;
	struct unet_ep *uep;
	unsigned bp_skip;	/* idle rounds before unet_busy_poll() again */
	bool bp_off;		/* unet_busy_poll() cannot work here */
	uint8_t addr[UNET_ADDR_LEN];
	size_t addr_len;
	bool enabled;
	struct ufi_av *av;
	struct ufi_cq *tx_cq, *rx_cq;
	bool tx_selective, rx_selective;
	struct ufi_peer peers[UFI_MAX_PEERS];	/* by fi_addr_t */
	fi_addr_t chan_to_addr[UNET_MAX_CHANNELS];
	struct ufi_list posted_msg, posted_tagged;	/* ufi_rx_op */
	struct ufi_list unexp_msg, unexp_tagged;	/* ufi_unexp */
	struct ufi_list claimed;	/* ufi_unexp set aside by FI_CLAIM */
	size_t tx_ops_open, rx_ops_open;
	uint8_t *rx_pool;		/* the free buffers given to the NIC */
	unsigned rx_pool_bufs;
	uint64_t rng;
	unsigned acks_to_drop;		/* what is left of UNET_FI_DROP_ACKS */
	/* The clock of one progress pass (see ufi_ep_now). */
	uint64_t pass_ns;
	bool in_pass, pass_ns_valid;
	uint64_t pass_no;		/* passes run, for lazy ACKs */
	struct ufi_bulk_rx bulk;
	unsigned bulk_tx_chans;		/* peers' bulk endpoints we reach */
	struct ufi_stats stats;
};

/* ufi_ep.c */
int ufi_endpoint(struct fid_domain *domain, struct fi_info *info,
		 struct fid_ep **ep, void *context);
int ufi_ep_add_peer(struct ufi_ep *ep, fi_addr_t addr);
void ufi_ep_remove_peer(struct ufi_ep *ep, fi_addr_t addr);
bool ufi_rx_matches(const struct ufi_rx_op *rx, fi_addr_t src, uint64_t tag,
		    bool directed);
void ufi_complete_rx(struct ufi_ep *ep, struct ufi_rx_op *rx, uint64_t len,
		     uint64_t tag, uint64_t data, uint8_t pkt_flags,
		     fi_addr_t src, uint64_t full_len);
void ufi_complete_tx(struct ufi_ep *ep, struct ufi_tx_op *op, int err);
size_t ufi_iov_copy_in(const struct iovec *iov, size_t iov_count,
		       size_t off, const void *src, size_t len);
/* The pieces of @iov that bytes [off, off + len) lie in, one per entry
 * they span, at most @max; returns how many, or @max + 1 if more. */
unsigned ufi_iov_slice(const struct iovec *iov, size_t iov_count, size_t off,
		       size_t len, struct unet_sge *out, unsigned max);

/* ufi_rdm.c */
void ufi_progress(struct ufi_ep *ep);
void ufi_flush_acks(struct ufi_ep *ep);
void ufi_peer_wait_begins(struct ufi_peer *peer);
void ufi_pump(struct ufi_ep *ep, struct ufi_peer *peer);
int ufi_rx_pool_init(struct ufi_ep *ep);
void ufi_fail_peer(struct ufi_ep *ep, struct ufi_peer *peer, int err);
uint64_t ufi_now_ns(void);
uint64_t ufi_ep_now(struct ufi_ep *ep);
uint64_t ufi_elapsed(uint64_t now, uint64_t then);
bool ufi_rx_in_order(struct ufi_ep *ep, struct ufi_peer *peer,
		     const struct ufi_hdr *h);
void ufi_rx_ack(struct ufi_ep *ep, struct ufi_peer *peer,
		const struct ufi_hdr *h);
void ufi_rx_msg_end(struct ufi_ep *ep, struct ufi_peer *peer);
bool ufi_knob_drops(struct ufi_ep *ep);
void ufi_go_back(struct ufi_ep *ep, struct ufi_peer *peer);

/* ufi_rndv.c */
void ufi_bulk_init(struct ufi_ep *ep);
void ufi_bulk_close(struct ufi_ep *ep);
bool ufi_rndv_wanted(const struct ufi_ep *ep, const struct ufi_tx_op *op);
int ufi_seg_channel(const struct ufi_peer *peer, uint32_t seq, size_t len);
void ufi_rndv_rts_in(struct ufi_ep *ep, struct ufi_peer *peer,
		     const struct ufi_hdr *h);
void ufi_rndv_seg_in(struct ufi_ep *ep, struct ufi_peer *peer, uint32_t seq);
void ufi_rndv_peer_gone(struct ufi_ep *ep, struct ufi_peer *peer);
void ufi_rndv_peer_removed(struct ufi_ep *ep, struct ufi_peer *peer);
void ufi_rndv_ack_fill(struct ufi_ep *ep, struct ufi_peer *peer,
		       struct ufi_hdr *h);
void ufi_rndv_grant_in(struct ufi_ep *ep, struct ufi_peer *peer,
		       const struct ufi_hdr *h);
void ufi_rndv_acked(struct ufi_peer *peer, uint64_t now);
void ufi_rndv_timer(struct ufi_ep *ep, struct ufi_peer *peer, uint64_t now);
void ufi_rndv_msg_end(struct ufi_ep *ep, struct ufi_peer *peer);
void ufi_bulk_poll(struct ufi_ep *ep);

/* ufi_av.c */
int ufi_av_open(struct fid_domain *domain, struct fi_av_attr *attr,
		struct fid_av **av, void *context);
/* ufi_cq.c */
int ufi_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr,
		struct fid_cq **cq, void *context);

/* Operations an object does not have: libfabric calls through every
 * pointer of an ops table, so each one exists and says so. */
int ufi_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags);
int ufi_no_control(struct fid *fid, int command, void *arg);
int ufi_no_ops_open(struct fid *fid, const char *name, uint64_t flags,
		    void **ops, void *context);

#define UFI_WARN(subsys, ...) FI_WARN(&ufi_prov, subsys, __VA_ARGS__)

#endif /* UFI_H */
