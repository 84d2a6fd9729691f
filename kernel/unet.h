/* SPDX-License-Identifier: GPL-2.0 */
/*
 * unetmm.ko internals: the objects the four parts share.
 *
 *   device/  /dev/unet, contexts, endpoints, channels  (the U-Net device)
 *   nic/     send and receive engines, DMA, wire       (the software NIC)
 *   tlb/     translation cache logic                   (the NIC's TLB)
 *   agent/   miss service, VM coherence, shrinker      (the kernel agent)
 *
 * The NIC talks to the agent only through nic/nic.h and agent/agent.h.
 */
#ifndef UNET_H
#define UNET_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
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

/* One open of /dev/unet: an address space and the endpoints it owns. */
struct unet_context {
	struct mm_struct *mm;		/* mmgrab'ed at open */
	u32 asid;			/* TLB key, unique while open */
	struct mutex lock;		/* endpoints, notifier registration */
	struct xarray endpoints;	/* handle -> endpoint */
	wait_queue_head_t wait;		/* poll(): rx or tx progress */

	/* Kernel agent state for this address space. */
	struct mmu_notifier mn;
	bool mn_registered;
	spinlock_t inval_lock;		/* nests inside a NIC's tlb_lock */
	u64 inval_seq;			/* bumped by every invalidation */
	u32 inval_active;		/* invalidations in progress */
	bool dying;			/* no new translations */
	atomic_long_t pinned;		/* TLB pages charged to mm->pinned_vm */
};

struct unet_channel {
	bool used;
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
	u32 channel;			/* names the source: (MAC, endpoint) */
	u32 msg_id;
	u32 msg_len;
	u32 frag_size;
	u32 received;			/* payload bytes placed */
	u32 first_buf;			/* fq sequence of bufs[0] */
	u16 nbuf;
	/* A message refused at its start: its other fragments go quietly. */
	bool refused;
	u32 refused_msg_id;
	unsigned long deadline;		/* jiffies */
	DECLARE_BITMAP(frags, UNET_WIRE_MAX_FRAGS);
	struct unet_sge bufs[UNET_MAX_RX_BUFS];
};

/* Progress of the message at the head of the send queue across misses. */
struct unet_tx_state {
	bool active;
	struct unet_tx_desc desc;	/* checked copy of the shared one */
	u32 msg_len;
	u32 msg_id;
	u32 done;			/* bytes already moved */
	u32 frag_size;			/* fixed for the message; 0: unset */
	struct sk_buff *skb;		/* frame being filled (wire) */
	u32 frame_len;			/* its payload */
	u32 frame_done;			/* bytes of it filled */
	struct unet_endpoint *peer;	/* loopback destination */
};

struct unet_endpoint {
	struct kref ref;
	struct rcu_head rcu;
	struct unet_context *ctx;
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

	/* Base-level mode: the pinned communication segment. */
	void *seg;
	u32 seg_size;
	unsigned long seg_pages_charged;	/* until the memory is freed */
	struct mm_struct *mm;		/* charged; mmgrab'ed */
	struct work_struct free_work;

	/* Send engine. tx_mutex serialises it; it may sleep. */
	struct mutex tx_mutex;
	u32 tx_cons;
	u32 tx_msg_id;
	struct unet_tx_state tx;
	struct work_struct tx_work;
	atomic_t tx_inflight;		/* frames handed to the netdev */
	bool tx_throttled;		/* waiting for them to drain */
	atomic_t tx_wait_room;		/* 1: the driver's ring was full */

	/* Receive engine: rx_lock (BH) covers everything below. */
	spinlock_t rx_lock;
	u32 rx_prod;
	u32 rx_reserved;		/* rx slots promised to reassemblies */
	u32 fq_cons;
	struct unet_channel chan[UNET_MAX_CHANNELS];
	struct unet_reasm *reasm[UNET_MAX_CHANNELS];
	struct sk_buff_head backlog;	/* frames waiting for translations */
	u32 backlog_done;		/* bytes of the head frame placed */
	struct work_struct rx_work;

	/* A translation the agent could not make: the next use fails. */
	spinlock_t fault_lock;
	u64 fault_vpn;
	u32 fault_asid;
	bool fault_write;		/* a read may succeed where it failed */
	int fault_err;			/* 0: none */

	atomic64_t ctr[UNET_EP_NR_COUNTERS];
};

/*
 * The kernel agent's miss workers per NIC.  Each serves one address space
 * at a time, so up to this many processes whose pins block (page cache of
 * a slow file system, a userfaultfd) stall the others' misses; more workers
 * would only contend for the CPUs that run the processes.
 */
#define UNET_MISS_WORKERS	4

struct unet_miss_worker {
	struct work_struct work;
	struct unet_nic *nic;
	struct unet_context *serving;	/* under the NIC's miss_lock */
};

struct unet_nic {
	u32 index;
	struct net_device __rcu *netdev;	/* NULL: loopback only */
	netdevice_tracker dev_tracker;
	seqlock_t mac_lock;		/* the netdev may change it any time */
	u8 mac[ETH_ALEN];		/* read with unet_nic_mac() */
	u32 mtu;
	struct packet_type ptype;

	struct xarray endpoints;	/* id -> endpoint, RCU for rx */
	struct workqueue_struct *wq;	/* engines' deferred work */
	struct timer_list reasm_timer;
	bool stopping;
	atomic_t tx_room_waiters;	/* endpoints with tx_wait_room set */

	/* The TLB and the agent's view of it. */
	spinlock_t tlb_lock;
	struct unet_tlb tlb;
	wait_queue_head_t tlb_drain;	/* invalidations waiting for DMA */
	struct list_head misses;	/* demand misses, under miss_lock */
	struct list_head prefetches;	/* served when no demand waits */
	u32 nr_prefetches;
	spinlock_t miss_lock;
	struct unet_miss_worker miss_worker[UNET_MISS_WORKERS];
	wait_queue_head_t miss_idle;	/* a worker finished a miss */
	struct shrinker shrinker;
	bool shrinker_registered;

	atomic64_t ctr[UNET_NIC_NR_COUNTERS];
	atomic64_t miss_hist[UNET_MISS_HIST_BUCKETS];
	struct dentry *debugfs;
};

/* Module parameters (main.c). */
extern unsigned int unet_tlb_size;
extern unsigned int unet_tlb_ways;
extern unsigned int unet_backlog_frames;
extern unsigned int unet_reasm_timeout_ms;

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
void unet_ctx_wake(struct unet_context *ctx);

#endif /* UNET_H */
