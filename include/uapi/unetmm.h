/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * U-Net/MM user ABI: the one header shared by unetmm.ko and user space.
 *
 * An open /dev/unet is a context bound to the opener's address space.  A
 * context owns endpoints; an endpoint owns three rings that the process maps
 * with mmap(): a send queue (tx), a receive queue (rx) and a free queue (fq).
 * Every index in the shared control page is a free-running 32-bit counter;
 * a ring slot is counter & (entries - 1).  The process writes tx.prod,
 * fq.prod and rx.cons; the NIC writes tx.cons, fq.cons, rx.prod and the
 * status fields of descriptors.  The NIC copies and checks everything it
 * reads from these pages: a wrong value costs the endpoint an error status,
 * never the kernel anything.
 *
 * Growing this ABI (Documentation/process/botching-up-ioctls.rst):
 *  - UNET_IOC_DEV_INFO says which ABI the module speaks (abi_version: an
 *    incompatible change bumps it) and what it can do (features: bits are
 *    only ever added).  libunet refuses a module of another ABI version.
 *  - every reserved field and every unknown flag bit must be zero: the
 *    kernel refuses the call with EINVAL, so that a later ABI can give them
 *    a meaning without breaking old programs.
 *  - counters are read by count, names and values (UNET_IOC_STATS), so a
 *    counter added later changes no ioctl number and no structure size;
 *    the enums below only ever grow at their end.
 */
#ifndef _UAPI_UNETMM_H
#define _UAPI_UNETMM_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define UNET_ABI_VERSION	2
#define UNET_DEVICE_PATH	"/dev/unet"
#define UNET_ETHERTYPE		0x88B5	/* IEEE 802 local experimental 1 */

/* Sizes the ABI fixes. */
#define UNET_DESC_SIZE		128	/* tx and rx descriptors */
#define UNET_INLINE_MAX		112	/* bytes carried inside a descriptor */
#define UNET_MAX_GATHER		7	/* gather entries per send */
#define UNET_MAX_MSG		65536	/* largest message */
#define UNET_MAX_RX_BUFS	256	/* free buffers one message may span */
#define UNET_RING_MIN		8
#define UNET_RING_MAX		4096	/* entries, power of two */
#define UNET_SEGMENT_MAX	(64u << 20)
#define UNET_MAX_CHANNELS	256	/* per endpoint */
#define UNET_EP_PER_CTX		64	/* endpoints per context */

/*
 * An endpoint id is its address on its NIC, the tag frames carry: a slot
 * of the NIC's endpoint table in the low 16 bits and, above it, the
 * generation of that slot.  Slots are handed out cyclically and a slot
 * taken again gets a new generation, so an id names one endpoint only: a
 * frame or a channel naming a destroyed endpoint never reaches a new one.
 */
#define UNET_EP_SLOT_BITS	16
#define UNET_EP_SLOT(id)	((id) & ((1u << UNET_EP_SLOT_BITS) - 1))

enum unet_mode {
	UNET_MODE_MM	= 0,	/* buffers are virtual addresses (U-Net/MM) */
	UNET_MODE_BASE	= 1,	/* buffers are offsets in a pinned segment */
};

/* A buffer: a virtual address (MM mode) or a segment offset (base mode). */
struct unet_sge {
	__u64 addr;
	__u32 len;
	__u32 reserved;		/* 0: else the descriptor is refused */
};

/* tx descriptor flags */
#define UNET_TX_INLINE		(1u << 0)	/* data is in inline_data */
#define UNET_TX_FLAGS		UNET_TX_INLINE

/* Completion status the NIC writes into tx and rx descriptors. */
enum unet_status {
	UNET_ST_PENDING		= 0,	/* not yet processed */
	UNET_ST_OK		= 1,
	UNET_ST_BAD_CHANNEL	= 2,	/* channel not owned by this endpoint */
	UNET_ST_BAD_LENGTH	= 3,	/* too long, or inline length too big */
	UNET_ST_BAD_GATHER	= 4,	/* too many gather entries */
	UNET_ST_BAD_ADDR	= 5,	/* no memory there, or it cannot be
					 * faulted in (SIGBUS) */
	UNET_ST_NO_ACCESS	= 6,	/* receive buffer not writable by the NIC */
	UNET_ST_NO_ROUTE	= 7,	/* no link, or no such local endpoint */
	UNET_ST_DROPPED		= 8,	/* rx: message lost, buffers returned */
	UNET_ST_NO_BUFS		= 9,	/* rx: free queue could not hold it */
	UNET_ST_BAD_DESC	= 10,	/* unknown flags or reserved bits set */
	UNET_ST_NO_MEMORY	= 11,	/* the page could not be made resident:
					 * the system is out of memory */
	UNET_ST_BUSY		= 12,	/* the page's mapping kept changing, or
					 * the NIC's TLB had no room: nothing
					 * moved, try again */
};

struct unet_tx_desc {
	__u32 channel;		/* channel id from UNET_IOC_CHAN_CREATE */
	__u32 length;		/* inline: data length; gather: ignored */
	__u32 cookie;		/* opaque, for the process; the NIC ignores it */
	__u16 flags;		/* UNET_TX_* */
	__u8  nsge;		/* gather entries used */
	__u8  status;		/* enum unet_status, written by the NIC */
	union {
		struct unet_sge sge[UNET_MAX_GATHER];
		__u8 inline_data[UNET_INLINE_MAX];
	};
};

/* rx descriptor flags */
#define UNET_RX_INLINE		(1u << 0)	/* data is in inline_data */

/*
 * A received message.  Unless inline, it occupies nbuf consecutive free
 * queue entries starting at free-queue sequence number first_buf, filled
 * in order; all but the last are filled to their length.
 */
struct unet_rx_desc {
	__u32 channel;		/* channel the message arrived on */
	__u32 length;		/* message length in bytes */
	__u32 first_buf;	/* fq sequence number of the first buffer */
	__u16 nbuf;		/* free buffers consumed (0 if inline) */
	__u8  flags;		/* UNET_RX_* */
	__u8  status;		/* enum unet_status */
	__u8  inline_data[UNET_INLINE_MAX];
};

/* Producer and consumer of one ring, each on its own cache line. */
struct unet_ring_idx {
	__u32 prod;
	__u32 pad0[15];
	__u32 cons;
	__u32 pad1[15];
};

/* The first page of an endpoint's queue mapping. */
struct unet_ctrl {
	struct unet_ring_idx tx;
	struct unet_ring_idx rx;
	struct unet_ring_idx fq;
	__u32 nic_idle;		/* nonzero: post, then UNET_IOC_KICK */
	__u32 reserved;
	__u32 tx_reaped;	/* process: send completions it has taken */
};

/* UNET_IOC_DEV_INFO: what the module is; the caller passes zeroes. */
struct unet_dev_info {
	__u32 abi_version;	/* out: UNET_ABI_VERSION of the module */
	__u32 nr_nics;		/* out */
	__u64 features;		/* out: UNET_FEAT_* */
	__u32 nic_counters;	/* out: counters in UNET_STATS_NIC */
	__u32 ep_counters;	/* out: counters in UNET_STATS_EP */
	__u32 reserved[10];
};
#define UNET_FEAT_MODE_MM	(1ull << 0)	/* virtual-address buffers */
#define UNET_FEAT_MODE_BASE	(1ull << 1)	/* pinned-segment buffers */
#define UNET_FEAT_WAIT_SEND	(1ull << 2)	/* POLLWRBAND, ctrl.tx_reaped */
#define UNET_FEAT_STATS_NAMES	(1ull << 3)	/* UNET_IOC_STATS gives names */
#define UNET_FEAT_EP_GEN	(1ull << 4)	/* ids carry a generation */
#define UNET_FEAT_BUSY_POLL	(1ull << 5)	/* UNET_IOC_BUSY_POLL */

/* UNET_IOC_NIC_INFO */
struct unet_nic_info {
	__u32 nic;		/* in: NIC index */
	__u32 mtu;		/* out: 0 if loopback only */
	__u8  mac[6];		/* out: all zero if loopback only */
	__u16 flags;		/* out: UNET_NIC_* */
	char  ifname[16];	/* out */
	__u32 tlb_entries;	/* out */
	__u32 tlb_ways;		/* out */
	__u32 nr_nics;		/* out */
	__u32 max_endpoints;	/* out: endpoints the NIC serves at most */
	__u32 reserved[8];	/* in: 0 */
};
#define UNET_NIC_LINK_UP	(1u << 0)
#define UNET_NIC_WIRE		(1u << 1)	/* attached to a netdev */
#define UNET_NIC_WIRE_ACCESS	(1u << 2)	/* the caller may use the wire */

/* UNET_IOC_EP_CREATE */
struct unet_ep_create {
	/* in */
	__u32 nic;
	__u32 mode;		/* enum unet_mode */
	__u32 tx_entries;	/* power of two, UNET_RING_MIN..MAX */
	__u32 rx_entries;
	__u32 fq_entries;
	__u32 segment_size;	/* base mode: bytes, page multiple */
	__u32 flags;		/* 0 */
	__u32 reserved0;	/* 0 */
	/* out */
	__u32 handle;		/* names the endpoint in this context */
	__u32 ep_id;		/* the endpoint's address on its NIC */
	__u64 queue_offset;	/* mmap offset of the queue mapping */
	__u64 queue_size;	/* its length */
	__u64 segment_offset;	/* mmap offset of the segment (base mode) */
	__u32 tx_off;		/* ring offsets inside the queue mapping */
	__u32 rx_off;
	__u32 fq_off;
	__u32 reserved1;	/* 0 */
	__u64 reserved2[4];	/* 0 */
};

/*
 * UNET_IOC_CHAN_CREATE.  A channel to this NIC's own MAC goes through the
 * NIC without the wire (loopback), and stays so if the MAC changes later.
 * A channel to any other MAC puts frames on the wire and needs the right
 * to (CAP_NET_RAW, or the group of the module parameter wire_group): EPERM.
 */
struct unet_chan_create {
	__u32 handle;		/* in: endpoint */
	__u32 remote_ep;	/* in: endpoint id on the remote NIC */
	__u8  remote_mac[6];	/* in: remote NIC, or this NIC's for loopback */
	__u16 flags;		/* in: 0 */
	__u32 channel;		/* out */
	__u32 reserved;		/* in: 0 */
};

struct unet_chan_destroy {
	__u32 handle;
	__u32 channel;
};

/*
 * Counters.  Each set is an array of __u64 indexed by these enums; the
 * names below are the ones UNET_IOC_STATS, debugfs and unetstat give.
 * Most count events since the module was loaded; pinned_pages,
 * segment_pages, endpoints, backlog_frames (frames waiting for
 * translations), backlog_bytes (their memory), reasm_active (messages
 * being reassembled), misses_queued, faults_waiting (fault-ins that
 * wait for a page) and tx_inflight (frames handed to the netdev and not
 * yet freed by its driver) are gauges of what exists now, so that a leak
 * is visible once every process has gone.  tx_room_waits and
 * tx_throttle_waits count the times a transmit engine parked because the
 * driver's ring was full or its own frames in flight reached the limit;
 * the *_wait_ns beside them add up the time it stayed parked, and
 * tx_wakes_freed / tx_wakes_tick count resumes by a freed frame and by a
 * timer (a jiffy after a park for room, or the NIC's 100 ms poll).
 * tlb_ahead_used and tlb_ahead_wasted count the pages a miss translated
 * beyond the one it needed, then used, or given up unused; tlb_batch_cap
 * is the gauge of how many pages a miss may translate at once now;
 * busy_polls counts UNET_IOC_BUSY_POLL calls that polled a device,
 * busy_poll_hits those that returned with a message waiting, and
 * busy_poll_ns the time spent in them.  tlb_prefetches counts the
 * translations asked for ahead of need (free buffers a message will take,
 * the buffers of sends queued behind the one going out).
 * miss_wait_ns is the part of miss_ns_total that misses spent queued,
 * before the agent took them up (behind other misses and prefetches, or
 * waiting for a CPU); the rest is their service.
 * tlb_sync_fills counts the runs of pages an MM sender's own system call
 * translated (or found translated meanwhile) before copying its message,
 * so that the copy finds them, and tlb_sync_fill_ns the time they took;
 * tlb_sync_fill_fails the runs it left to the agent (not present, a 2 MiB
 * entry to make, mmap_lock or a way taken, a fill of the page under way).
 * tlb_huge_fills counts the 2 MiB entries installed; tlb_shrunk counts
 * the pinned pages the shrinker gave back (all 512 of a huge entry's).
 * New counters are added at the end of a list, never in between.
 */
#define UNET_EP_COUNTERS(X)				\
	X(tx_msgs)	X(tx_bytes)	X(rx_msgs)	X(rx_bytes)	\
	X(tx_errors)	X(rx_drop_no_bufs)	X(rx_drop_queue_full)	\
	X(rx_drop_bad_buf)	X(rx_drop_reasm)	X(rx_drop_backlog)	\
	X(bad_index)	X(kicks)	X(tlb_misses)	X(pinned_pages)

#define UNET_NIC_COUNTERS(X)				\
	X(tx_msgs)	X(tx_bytes)	X(tx_frames)	X(tx_errors)	\
	X(rx_msgs)	X(rx_bytes)	X(rx_frames)	X(loopback_msgs)	\
	X(drop_bad_header)	X(drop_no_endpoint)	X(drop_no_channel) \
	X(drop_reasm_timeout)	X(drop_reasm_bad_frag)	\
	X(drop_no_bufs)	X(drop_queue_full)	X(drop_backlog)	\
	X(drop_bad_buf)	X(drop_no_route)	\
	X(tlb_hits)	X(tlb_misses)	X(tlb_evictions)	\
	X(tlb_inval_unmap)	X(tlb_inval_protect)	X(tlb_inval_migrate) \
	X(tlb_inval_other)	X(tlb_shrunk)	X(tlb_faults)		\
	X(pinned_pages)	X(pinned_peak)	X(segment_pages)	\
	X(miss_ns_total)	X(miss_ns_max)	X(endpoints)		\
	X(tlb_pin_retries)	X(backlog_frames)	X(reasm_active)	\
	X(misses_queued)	X(backlog_bytes)	X(drop_backlog_bytes) \
	X(drop_backlog_stale)	X(drop_not_host)	X(polls)	\
	X(poll_ns)	X(tlb_fault_transient)	X(faults_waiting)	\
	X(tx_room_waits)	X(tx_room_wait_ns)	X(tx_throttle_waits) \
	X(tx_throttle_wait_ns)	X(tx_wakes_freed)	X(tx_wakes_tick) \
	X(tx_inflight)	\
	X(tlb_ahead_used)	X(tlb_ahead_wasted)	X(tlb_batch_cap)	\
	X(tlb_huge_fills)	X(busy_polls)	X(busy_poll_hits)	\
	X(busy_poll_ns)	X(tlb_prefetches)	X(miss_wait_ns)	\
	X(tlb_sync_fills)	X(tlb_sync_fill_ns)	X(tlb_sync_fill_fails)

#define UNET_COUNTER_ENUM(name)	UNET_CTR_##name,
enum unet_ep_counter { UNET_EP_COUNTERS(UNET_COUNTER_ENUM) UNET_EP_NR_COUNTERS };
#undef UNET_COUNTER_ENUM
#define UNET_COUNTER_ENUM(name)	UNET_NIC_##name,
enum unet_nic_counter { UNET_NIC_COUNTERS(UNET_COUNTER_ENUM) UNET_NIC_NR_COUNTERS };
#undef UNET_COUNTER_ENUM

/* Miss service time histogram: bucket i counts misses < 2^i microseconds. */
#define UNET_MISS_HIST_BUCKETS	20

/*
 * UNET_IOC_BUSY_POLL: for up to @usecs (at most UNET_BUSY_POLL_MAX_US),
 * or until the endpoint's receive queue holds a message, run the receive
 * processing (NAPI) of the network device the endpoint last heard from,
 * in the caller's own time.  A process that busy-polls its queue on a
 * machine with few CPUs otherwise keeps the very softirq that would fill
 * it from running.  Returns 1 if a message is waiting, 0 if the time ran
 * out; ENODATA if nothing has reached the endpoint from the wire yet (no
 * device to poll: keep polling the queue), EINTR on a signal.
 */
struct unet_busy_poll {
	__u32 handle;		/* in: endpoint */
	__u32 usecs;		/* in: 1 .. UNET_BUSY_POLL_MAX_US */
	__u32 flags;		/* in: 0 */
	__u32 reserved;		/* in: 0 */
};
#define UNET_BUSY_POLL_MAX_US	10000

/* UNET_IOC_STATS: one set of counters, by count (and optionally names). */
struct unet_stats {
	__u32 scope;		/* in: UNET_STATS_* */
	__u32 id;		/* in: NIC index, or endpoint handle (EP) */
	__u32 count;		/* in: room at values (and names);
				 * out: counters the set has */
	__u32 flags;		/* in: 0 */
	__u64 values;		/* in: user pointer to __u64[count], or 0 */
	__u64 names;		/* in: user pointer to
				 * char[count][UNET_STAT_NAME_LEN], or 0 */
	__u64 reserved[2];	/* in: 0 */
};
#define UNET_STATS_NIC		0	/* UNET_NIC_COUNTERS of NIC id */
#define UNET_STATS_MISS_HIST	1	/* miss_us_lt_<2^i> of NIC id */
#define UNET_STATS_EP		2	/* UNET_EP_COUNTERS of endpoint id */
#define UNET_STAT_NAME_LEN	32

#define UNET_IOC_MAGIC		0xB9	/* free in ioctl-number.rst up to 6.18 */
#define UNET_IOC_DEV_INFO	_IOR(UNET_IOC_MAGIC, 0, struct unet_dev_info)
#define UNET_IOC_NIC_INFO	_IOWR(UNET_IOC_MAGIC, 1, struct unet_nic_info)
#define UNET_IOC_EP_CREATE	_IOWR(UNET_IOC_MAGIC, 2, struct unet_ep_create)
#define UNET_IOC_EP_DESTROY	_IOW(UNET_IOC_MAGIC, 3, __u32)
#define UNET_IOC_CHAN_CREATE	_IOWR(UNET_IOC_MAGIC, 4, struct unet_chan_create)
#define UNET_IOC_CHAN_DESTROY	_IOW(UNET_IOC_MAGIC, 5, struct unet_chan_destroy)
#define UNET_IOC_KICK		_IOW(UNET_IOC_MAGIC, 6, __u32)
#define UNET_IOC_STATS		_IOWR(UNET_IOC_MAGIC, 7, struct unet_stats)
#define UNET_IOC_BUSY_POLL	_IOW(UNET_IOC_MAGIC, 8, struct unet_busy_poll)

#endif /* _UAPI_UNETMM_H */
