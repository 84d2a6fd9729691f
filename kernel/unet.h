/* SPDX-License-Identifier: GPL-2.0 */
/*
 * unetmm.ko internals: the objects the four parts share.
 *
 *   device/  /dev/unet, contexts, endpoints, channels  (the U-Net device)
 *   nic/     send and receive engines, DMA, wire       (the software NIC)
 *   tlb/     translation cache logic                   (the NIC's TLB)
 *   agent/   miss service, VM coherence, shrinker      (the kernel agent)
 *
 * The NIC talks to the agent only through agent/agent.h and the agent to
 * the NIC only through nic/nic.h; each keeps its own state behind a
 * pointer that the other never follows.
 */
#ifndef UNET_H
#define UNET_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <unetmm.h>

#include "tlb/tlb.h"
#include "nic/wire.h"

#define UNET_MAX_NICS		8

struct unet_endpoint;
struct unet_agent_ctx;
struct unet_agent_nic;
struct unet_miss;
struct unet_fill;

/*
 * One open of /dev/unet: an address space and the endpoints it owns.  The
 * open file holds one reference, every endpoint one, and the agent one
 * while it has a miss of this address space queued or in service, so that
 * closing the file never waits for a page fault (which only this process
 * might be able to resolve).
 */
struct unet_context {
	struct kref ref;
	struct mm_struct *mm;		/* mmgrab'ed at open */
	u32 asid;			/* TLB key, unique while it exists */
	bool wire_ok;			/* opener may put frames on the wire */
	struct mutex lock;		/* endpoints */
	struct xarray endpoints;	/* handle -> endpoint */
	wait_queue_head_t wait;		/* poll(): rx or tx progress */
	struct unet_agent_ctx *agent;	/* the agent's view of this space */
	struct work_struct free_work;
};

/* Whether the caller is a process running in @ctx's address space. */
static inline bool unet_ctx_is_current(const struct unet_context *ctx)
{
	return current->mm == ctx->mm && !(current->flags & PF_KTHREAD);
}

/*
 * A channel: where an endpoint may send and whom it hears.  A local
 * channel goes through the NIC (its remote endpoint is on this NIC), and
 * stays local whatever happens to the NIC's MAC later; a wire channel
 * names a remote NIC by MAC.
 */
struct unet_channel {
	bool used;
	bool local;
	u8 mac[ETH_ALEN];
	u32 remote_ep;
};

/*
 * A message being placed into receive buffers: taken from the free queue at
 * its first fragment, published on the rx queue when its last one lands.
 */
struct unet_reasm {
	bool active;
	bool local;			/* fed by a sender on this NIC */
	u32 channel;			/* names the source */
	u32 msg_id;
	u32 msg_len;
	u32 frag_size;
	u32 received;			/* payload bytes placed */
	u32 first_buf;			/* fq sequence of bufs[0] */
	u16 nbuf;
	/* A local message stopped on its sender's page, not ours. */
	bool sender_stalled;
	/* A refused message: its other fragments go quietly. */
	bool refused;
	u32 refused_msg_id;
	unsigned long deadline;		/* jiffies */
	DECLARE_BITMAP(frags, UNET_WIRE_MAX_FRAGS);
	struct unet_sge bufs[UNET_MAX_RX_BUFS];
};

/* The two engines of an endpoint, each of which may wait for the agent. */
enum unet_engine {
	UNET_ENGINE_TX,
	UNET_ENGINE_RX,
	UNET_ENGINES
};

/* A translation the agent could not make: the engine's next use fails. */
struct unet_fault {
	u64 vpn;
	u32 asid;
	bool write;
	int status;			/* enum unet_status; 0: none */
};

/* Progress of the message at the head of the send queue across misses. */
struct unet_tx_msg {
	bool active;
	struct unet_tx_desc desc;	/* checked copy of the shared one */
	struct unet_channel chan;	/* the route, fixed when it started */
	u32 msg_len;
	u32 msg_id;
	u32 done;			/* bytes already moved */
	u32 frag_size;			/* fixed for the message; 0: unset */
	struct sk_buff *skb;		/* frame being filled (wire) */
	u32 frame_len;			/* its payload */
	u32 frame_done;			/* bytes of it filled */
	struct unet_endpoint *peer;	/* loopback destination, referenced */
};

/* The send engine's state.  mutex serialises it; it may sleep. */
/* Why a transmit engine stopped before its queue was empty. */
enum unet_tx_park {
	UNET_TX_RUNNING,
	UNET_TX_PARK_ROOM,		/* the driver's ring was full */
	UNET_TX_PARK_THROTTLE,		/* tx_inflight_max frames out */
};

/* Why parked engines were resumed. */
enum unet_tx_wake {
	UNET_TX_WAKE_FREED,		/* a frame of ours completed */
	UNET_TX_WAKE_TICK,		/* the room timer, or the 100 ms poll */
};

struct unet_ep_tx {
	struct mutex mutex;
	u32 cons;
	u32 next_msg_id;
	struct unet_tx_msg msg;
	struct work_struct work;
	atomic_t inflight;		/* frames handed to the netdev */
	bool throttled;			/* waiting for them to drain */
	enum unet_tx_park park;		/* why the engine last parked */
	u64 parked_at;			/* and since when (ns) */
	struct list_head room_node;	/* on nic->room_waiters, room_lock */
};

/* The receive engine's state: lock (BH) covers everything here. */
struct unet_ep_rx {
	spinlock_t lock;
	u32 prod;
	u32 reserved;			/* rx slots promised to reassemblies */
	u32 fq_cons;
	struct unet_channel chan[UNET_MAX_CHANNELS];
	struct unet_reasm *reasm[UNET_MAX_CHANNELS];
	u32 reasms;			/* active reassemblies */
	struct sk_buff_head backlog;	/* frames waiting for translations */
	u32 backlog_done;		/* bytes of the head frame placed */
	u32 backlog_bytes;		/* their truesize */
	unsigned long backlog_moved;	/* jiffies: head last made progress */
	struct work_struct work;
	u32 napi_id;			/* of its last frame from the wire */
};

struct unet_endpoint {
	struct kref ref;
	struct rcu_head rcu;
	struct unet_context *ctx;	/* referenced */
	struct unet_nic *nic;
	u32 handle;
	u32 id;				/* address on the NIC (wire tag) */
	u32 mode;
	bool dead;			/* closing: engines stop touching it */

	/* Queue memory, vmalloc()ed, charged to the memcg, mapped. */
	void *qmem;
	size_t qsize;
	struct unet_ctrl *ctrl;
	struct unet_tx_desc *txq;
	struct unet_rx_desc *rxq;
	struct unet_sge *fq;
	u32 tx_entries, rx_entries, fq_entries;
	atomic_t seg_holds;		/* the engines (until drained), each vma */

	/*
	 * Base-level mode: the pinned communication segment.  It goes as
	 * soon as the endpoint is drained and unmapped, whoever still holds
	 * a reference to the endpoint itself.
	 */
	void *seg;
	u32 seg_size;
	unsigned long seg_pages_charged;
	struct mm_struct *mm;		/* charged; mmgrab'ed */
	struct work_struct seg_work;
	struct work_struct free_work;

	/* The NIC's 100 ms poll visits only endpoints with something to do. */
	struct list_head active_node;	/* on nic->active, active_lock */
	bool on_active;
	unsigned long last_active;	/* jiffies */

	struct unet_ep_tx tx;
	struct unet_ep_rx rx;

	/* The agent's: a miss each engine may have outstanding, and its end. */
	struct unet_miss *miss[UNET_ENGINES];
	struct unet_fill *fill;		/* MM: the sender's own fills */
	spinlock_t fault_lock;
	struct unet_fault fault[UNET_ENGINES];

	atomic64_t ctr[UNET_EP_NR_COUNTERS];
};

struct unet_nic {
	u32 index;
	struct net_device __rcu *netdev;	/* NULL: loopback only */
	netdevice_tracker dev_tracker;
	seqlock_t mac_lock;		/* the netdev may change it any time */
	u8 mac[ETH_ALEN];		/* read with unet_nic_mac() */
	u32 mtu;
	struct packet_type ptype;

	/* Endpoints by slot; ids are slot | generation << 16. */
	struct mutex ep_lock;		/* allocation */
	struct xarray endpoints;	/* slot -> endpoint, RCU for rx */
	u32 next_slot;
	u16 generation;
	struct workqueue_struct *wq;	/* engines' deferred work */
	struct timer_list poll_timer;
	bool stopping;

	/* Endpoints the poll must visit, and senders waiting for ring room. */
	spinlock_t active_lock;
	struct list_head active;
	spinlock_t room_lock;
	struct list_head room_waiters;
	struct timer_list room_timer;	/* retries them a jiffy later */

	/* Frames parked for translations, NIC-wide: truesize bytes. */
	atomic_long_t backlog_bytes;

	/* The TLB, which the agent fills and the DMA engine reads. */
	spinlock_t tlb_lock;
	struct unet_tlb tlb;
	wait_queue_head_t tlb_drain;	/* invalidations waiting for DMA */
	struct unet_agent_nic *agent;

	atomic64_t ctr[UNET_NIC_NR_COUNTERS];
	atomic64_t miss_hist[UNET_MISS_HIST_BUCKETS];
	struct dentry *debugfs;
};

/* Module parameters (main.c). */
extern bool unet_nopin;
extern bool unet_sync_fill;
extern unsigned int unet_tlb_size;
extern unsigned int unet_tlb_ways;
extern unsigned int unet_tlb_batch_max;
extern unsigned int unet_tlb_policy;
extern unsigned int unet_tlb_huge;
extern unsigned int unet_backlog_frames;
extern unsigned int unet_backlog_kib;
extern unsigned int unet_reasm_timeout_ms;
extern unsigned int unet_stall_timeout_ms;
extern unsigned int unet_max_endpoints;
extern unsigned int unet_max_user_faults;
extern unsigned int unet_tx_inflight_max;
extern int unet_wire_group;

static inline void unet_ep_count(struct unet_endpoint *ep, int c, s64 v)
{
	atomic64_add(v, &ep->ctr[c]);
}

static inline void unet_nic_count(struct unet_nic *nic, int c, s64 v)
{
	atomic64_add(v, &nic->ctr[c]);
}

extern struct workqueue_struct *unet_free_wq;

/* device/ */
int unet_chardev_init(void);
void unet_chardev_exit(void);
void unet_ep_get(struct unet_endpoint *ep);
void unet_ep_put(struct unet_endpoint *ep);
void unet_ctx_get(struct unet_context *ctx);
void unet_ctx_put(struct unet_context *ctx);
void unet_ctx_wake(struct unet_context *ctx);

#endif /* UNET_H */
