/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The NIC's TLB: a set-associative cache of (address space, virtual page)
 * -> page translations with LRU replacement inside a set.  An entry maps
 * one page, or (order UNET_TLB_HUGE_ORDER) a naturally aligned run of
 * pages that is one huge page in both the virtual and the physical space:
 * a lookup probes the page's set, then its huge page's set.
 *
 * This file and tlb.c hold only the lookup/insert/evict logic.  They take no
 * locks, pin nothing and allocate nothing, so that the very same source is
 * compiled into the module and into the host unit tests.  The caller (the
 * kernel agent and the DMA engine) serialises access and does the pinning.
 */
#ifndef UNET_TLB_H
#define UNET_TLB_H

#include <linux/types.h>

enum {
	UNET_TLB_VALID		= 1u << 0,
	UNET_TLB_WRITABLE	= 1u << 1,
	/* Invalidated while a DMA was using it: lookups skip it, last user frees. */
	UNET_TLB_DEAD		= 1u << 2,
	/* Held for a page being pinned: not valid, not free, not evictable. */
	UNET_TLB_RESERVED	= 1u << 3,
	/* Filled ahead of use (a batch, a prefetch) and not looked up since. */
	UNET_TLB_AHEAD		= 1u << 4,
	/* Scan-resistant policy: filled at the cold end, not yet reused. */
	UNET_TLB_PROBATION	= 1u << 5,
};

/*
 * Replacement inside a set.  LRU evicts the least recently used idle way.
 * Cyclic streams larger than the TLB's reach (a job's processes each
 * sending from its own buffer, round after round) make LRU evict every
 * page just before its reuse: nothing hits.  The scan-resistant policy
 * (bimodal insertion) fills at the cold end, except one fill in
 * UNET_TLB_SR_MRU_EVERY, and moves an entry to the warm end only when it
 * is used again at least UNET_TLB_SR_REUSE clock ticks after its fill (a
 * message's own pages are looked up several times within a few dozen
 * ticks; its next round comes a whole working set later).  A stable part
 * of a cyclic working set then stays resident, and a working set that
 * fits behaves as under LRU once reused.
 */
enum unet_tlb_policy {
	UNET_TLB_LRU,
	UNET_TLB_SCAN_RESISTANT,
	UNET_TLB_AHEAD_FIRST,
};
#define UNET_TLB_SR_MRU_EVERY	32
#define UNET_TLB_SR_REUSE	256
#define UNET_TLB_AHEAD_KEEP	32	/* clock ticks per entry of the TLB */

/*
 * A miss translates up to `batch` pages at once, adapted to how many of
 * the pages it translated ahead were used: every UNET_TLB_BATCH_WINDOW
 * outcomes, more than a quarter wasted halves it, less than 1/16 doubles
 * it, between UNET_TLB_BATCH_MIN and the caller's maximum.  At the minimum
 * nothing is filled ahead, so nothing would ever raise it again: after
 * UNET_TLB_BATCH_WINDOW batches there it tries twice as many.
 */
#define UNET_TLB_BATCH_INIT	16
#define UNET_TLB_BATCH_MIN	1
#define UNET_TLB_BATCH_WINDOW	32
/* The most a miss translates at once, whatever the module is told. */
#define UNET_TLB_BATCH_MAX	64

/* A huge entry: 2 MiB of 4 KiB pages. */
#define UNET_TLB_HUGE_ORDER	9
#define UNET_TLB_HUGE_PAGES	(1u << UNET_TLB_HUGE_ORDER)

struct unet_tlb_entry {
	u64 vpn;		/* the first page it maps, aligned to its order */
	u32 asid;
	u32 flags;
	void *page;		/* struct page * of vpn in the module */
	void *owner;		/* the address space's context, for accounting */
	u64 stamp;		/* last use, for LRU; 0: the cold end */
	u64 filled;		/* clock when filled */
	u32 users;		/* DMA copies in flight through this entry */
	u32 order;		/* 0 or UNET_TLB_HUGE_ORDER */
};

struct unet_tlb {
	u32 sets;		/* power of two */
	u32 ways;
	u32 valid;		/* entries holding a translation (incl. dead) */
	u32 huge;		/* huge entries: valid, dead or reserved */
	u32 dead;		/* dead entries, each still used by a copy */
	u64 clock;
	u64 ahead_used;		/* entries filled ahead, then looked up */
	u64 ahead_wasted;	/* ... given up without a lookup */
	u32 batch;		/* pages a miss may translate now */
	u64 batch_used;		/* ahead_used and ahead_wasted when */
	u64 batch_wasted;	/* batch was last adapted */
	u32 batch_calls;	/* batches asked for since */
	u32 policy;		/* enum unet_tlb_policy */
	u32 fills;		/* for the scan-resistant policy's 1 in N */
	struct unet_tlb_entry *entry;	/* sets * ways */
};

/*
 * Called for every entry the TLB gives up: the caller unpins entry->page.
 * The entry is already cleared when the callback returns.
 */
typedef void (*unet_tlb_release_fn)(struct unet_tlb_entry *entry, void *arg);

int unet_tlb_geometry(u32 entries, u32 ways, u32 *sets);
void unet_tlb_init(struct unet_tlb *tlb, struct unet_tlb_entry *mem,
		   u32 sets, u32 ways);
struct unet_tlb_entry *unet_tlb_lookup(struct unet_tlb *tlb, u32 asid,
				       u64 vpn, bool write);
bool unet_tlb_probe(struct unet_tlb *tlb, u32 asid, u64 vpn, bool write);
bool unet_tlb_peek(const struct unet_tlb *tlb, u32 asid, u64 vpn, bool write);
bool unet_tlb_filling(const struct unet_tlb *tlb, u32 asid, u64 vpn);
u32 unet_tlb_batch(struct unet_tlb *tlb, u32 max);
struct unet_tlb_entry *unet_tlb_reserve(struct unet_tlb *tlb, u32 asid,
					u64 vpn, u32 order,
					unet_tlb_release_fn release,
					void *arg, bool *evicted);
void unet_tlb_fill(struct unet_tlb *tlb, struct unet_tlb_entry *slot,
		   void *page, void *owner, bool writable, bool ahead,
		   unet_tlb_release_fn release, void *arg);
void unet_tlb_unreserve(struct unet_tlb *tlb, struct unet_tlb_entry *slot);
void unet_tlb_put(struct unet_tlb *tlb, struct unet_tlb_entry *entry,
		  unet_tlb_release_fn release, void *arg);
u32 unet_tlb_invalidate(struct unet_tlb *tlb, u32 asid, u64 vpn_start,
			u64 vpn_end, unet_tlb_release_fn release, void *arg,
			u32 *busy);
u32 unet_tlb_evict_cold(struct unet_tlb *tlb, u32 nr,
			unet_tlb_release_fn release, void *arg);
u32 unet_tlb_count(const struct unet_tlb *tlb, u32 asid);
u32 unet_tlb_busy(const struct unet_tlb *tlb, u32 asid, u64 vpn_start,
		  u64 vpn_end);

static inline u32 unet_tlb_entries(const struct unet_tlb *tlb)
{
	return tlb->sets * tlb->ways;
}

static inline u64 unet_tlb_span(const struct unet_tlb_entry *e)
{
	return 1ull << e->order;
}

#endif /* UNET_TLB_H */
