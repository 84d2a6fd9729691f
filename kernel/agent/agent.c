// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel agent.  It is the only part that touches the VM system:
 *
 *  - it serves the NIC's TLB misses from a workqueue: fault the page in and
 *    pin it (FOLL_LONGTERM, FOLL_WRITE for receive buffers), charge it to
 *    the process, write the translation and wake the waiting endpoint;
 *  - an mmu notifier on every address space with a context removes and
 *    unpins the entries of any range the VM unmaps, moves, write-protects,
 *    migrates or zaps, and returns only when no DMA uses them any more;
 *  - a shrinker gives cold entries back under memory pressure.
 *
 * A fill races with invalidations the way KVM's does: it samples the
 * address space's invalidation sequence before pinning and installs the
 * entry only if no invalidation ran or is running meanwhile.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/backing-dev.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#include "agent.h"
#include "../nic/nic.h"

#define FILL_RETRIES	16
/* Prefetches queued per NIC: beyond this they would only evict each other. */
#define MAX_PREFETCHES	64

struct unet_miss {
	struct list_head node;
	struct unet_context *ctx;	/* owner of the page */
	struct unet_endpoint *waiter;	/* referenced; woken when done */
	u64 vpn;
	bool write;
	ktime_t posted;
};

static void unpin_uncharge(struct unet_nic *nic, struct unet_context *ctx,
			   struct page *page)
{
	unpin_user_page(page);
	atomic_long_dec(&ctx->pinned);
	atomic64_dec(&ctx->mm->pinned_vm);
	unet_nic_count(nic, UNET_NIC_pinned_pages, -1);
}

/*
 * Release of an entry by the TLB: called under tlb_lock, never sleeps.
 * Writable entries are anonymous or writeback-free memory (nic_may_write),
 * whose dirty bit needs no lock.
 */
static void entry_release(struct unet_tlb_entry *e, void *arg)
{
	struct unet_nic *nic = arg;

	if (e->flags & UNET_TLB_WRITABLE)
		set_page_dirty(e->page);
	unpin_uncharge(nic, e->owner, e->page);
}

void unet_agent_tlb_put(struct unet_nic *nic, struct unet_tlb_entry *e)
{
	bool dead;

	spin_lock_bh(&nic->tlb_lock);
	dead = e->flags & UNET_TLB_DEAD;
	unet_tlb_put(&nic->tlb, e, entry_release, nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (dead)
		wake_up_all(&nic->tlb_drain);
}

static void kick_miss_workers(struct unet_nic *nic)
{
	int w;

	for (w = 0; w < UNET_MISS_WORKERS; w++)
		queue_work(nic->wq, &nic->miss_worker[w].work);
}

static void flush_miss_workers(struct unet_nic *nic)
{
	int w;

	for (w = 0; w < UNET_MISS_WORKERS; w++)
		flush_work(&nic->miss_worker[w].work);
}

static bool miss_queued(struct list_head *list, struct unet_context *ctx,
			u64 vpn, bool write, struct unet_endpoint *waiter)
{
	struct unet_miss *m;

	list_for_each_entry(m, list, node)
		if (m->ctx == ctx && m->vpn == vpn && m->write >= write &&
		    (!waiter || m->waiter == waiter))
			return true;
	return false;
}

static void queue_miss(struct unet_nic *nic, struct unet_context *ctx,
		       u64 vpn, bool write, struct unet_endpoint *waiter,
		       bool prefetch)
{
	struct unet_miss *m;

	spin_lock_bh(&nic->miss_lock);
	if (miss_queued(&nic->misses, ctx, vpn, write, waiter) ||
	    (prefetch &&
	     (nic->nr_prefetches >= MAX_PREFETCHES ||
	      miss_queued(&nic->prefetches, ctx, vpn, write, NULL)))) {
		spin_unlock_bh(&nic->miss_lock);
		return;
	}
	m = kmalloc(sizeof(*m), GFP_ATOMIC);
	if (!m) {
		spin_unlock_bh(&nic->miss_lock);
		/* No memory for the request: let the engine try again. */
		if (!prefetch)
			unet_nic_translation_ready(waiter);
		return;
	}
	m->ctx = ctx;
	m->waiter = waiter;
	m->vpn = vpn;
	m->write = write;
	m->posted = ktime_get();
	unet_ep_get(waiter);
	if (prefetch) {
		list_add_tail(&m->node, &nic->prefetches);
		nic->nr_prefetches++;
	} else {
		list_add_tail(&m->node, &nic->misses);
	}
	unet_nic_count(nic, UNET_NIC_misses_queued, 1);
	spin_unlock_bh(&nic->miss_lock);
	kick_miss_workers(nic);
}

void unet_agent_post_miss(struct unet_nic *nic, struct unet_context *ctx,
			  u64 vpn, bool write, struct unet_endpoint *waiter)
{
	queue_miss(nic, ctx, vpn, write, waiter, false);
}

/* A translation wanted soon: served only when no demand miss waits. */
void unet_agent_prefetch(struct unet_nic *nic, struct unet_context *ctx,
			 u64 vpn, bool write, struct unet_endpoint *waiter)
{
	queue_miss(nic, ctx, vpn, write, waiter, true);
}

static void record_fault(struct unet_endpoint *waiter, u32 asid, u64 vpn,
			 bool write, int status)
{
	spin_lock_bh(&waiter->fault_lock);
	waiter->fault_asid = asid;
	waiter->fault_vpn = vpn;
	waiter->fault_write = write;
	waiter->fault_err = status;
	spin_unlock_bh(&waiter->fault_lock);
}

/*
 * Why a page could not be pinned: no mapping, or one without the access
 * asked for.  0 if the mapping allows it: the failure was transient (no
 * memory, a migration that did not finish) and the engine will ask again.
 */
static int fault_status(struct mm_struct *mm, unsigned long addr, bool write)
{
	struct vm_area_struct *vma;
	int status = 0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & VM_READ) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		status = UNET_ST_BAD_ADDR;
	else if (write && !(vma->vm_flags & VM_WRITE))
		status = UNET_ST_NO_ACCESS;
	mmap_read_unlock(mm);
	return status;
}

static void count_miss_time(struct unet_nic *nic, ktime_t posted)
{
	s64 ns = ktime_to_ns(ktime_sub(ktime_get(), posted));
	u64 us = ns > 0 ? ns / NSEC_PER_USEC : 0;
	int bucket = us ? min_t(int, ilog2(us) + 1,
				UNET_MISS_HIST_BUCKETS - 1) : 0;
	s64 max;

	atomic64_inc(&nic->miss_hist[bucket]);
	unet_nic_count(nic, UNET_NIC_miss_ns_total, ns);
	max = atomic64_read(&nic->ctr[UNET_NIC_miss_ns_max]);
	while (ns > max &&
	       !atomic64_try_cmpxchg(&nic->ctr[UNET_NIC_miss_ns_max], &max, ns))
		;
}

static void note_pinned(struct unet_nic *nic)
{
	s64 now = atomic64_inc_return(&nic->ctr[UNET_NIC_pinned_pages]);
	s64 peak = atomic64_read(&nic->ctr[UNET_NIC_pinned_peak]);

	while (now > peak &&
	       !atomic64_try_cmpxchg(&nic->ctr[UNET_NIC_pinned_peak], &peak,
				     now))
		;
}

/*
 * Whether the NIC may write into @page and mark it dirty when it lets go,
 * from any context.  Anonymous memory and file systems without writeback
 * (tmpfs, shmem, hugetlbfs) need only the dirty bit.  Page cache that is
 * written back to a disk must not be a receive buffer: a long-term pin
 * races with writeback (Linux 6.5 refuses such pins outright), and
 * dirtying it takes file system locks that the DMA engine, in softirq,
 * cannot take.
 */
static bool nic_may_write(struct page *page)
{
	struct address_space *mapping;

	if (PageAnon(page))
		return true;
	mapping = page_mapping(page);
	return !mapping || !mapping_can_writeback(mapping);
}

/*
 * Faults the page in the way a user fault would, allowed to drop mmap_lock
 * and wait: for a userfaultfd handler, a FUSE server, a slow disk.  A
 * long-term pin cannot wait like that in 6.1 (it refuses FOLL_LONGTERM
 * with a retry), so a pin that failed retries after this.  Called and
 * returns with mmap_lock held for read.
 */
static bool fault_in(struct mm_struct *mm, unsigned long addr, bool write)
{
	bool unlocked = false;

	return !fixup_user_fault(mm, addr, write ? FAULT_FLAG_WRITE : 0,
				 &unlocked);
}

/* Pins one page and installs it; returns 0 or an enum unet_status. */
static int serve_miss(struct unet_nic *nic, struct unet_miss *m)
{
	struct unet_context *ctx = m->ctx;
	struct mm_struct *mm = ctx->mm;
	unsigned long addr = m->vpn << PAGE_SHIFT;
	unsigned int gup = FOLL_LONGTERM | (m->write ? FOLL_WRITE : 0);
	bool faulted = false;
	int tries, status = 0;

	/* The address space is gone: fail the use rather than retry it. */
	if (!mmget_not_zero(mm))
		return UNET_ST_BAD_ADDR;
	for (tries = 0; tries < FILL_RETRIES; tries++) {
		struct unet_tlb_entry *slot;
		struct page *page;
		bool evicted, stale;
		u64 seq;
		long n;

		spin_lock_bh(&ctx->inval_lock);
		seq = ctx->inval_seq;
		stale = ctx->inval_active || ctx->dying;
		spin_unlock_bh(&ctx->inval_lock);
		if (stale) {
			if (READ_ONCE(ctx->dying)) {
				status = UNET_ST_BAD_ADDR;
				break;
			}
			usleep_range(20, 100);
			continue;
		}

		/*
		 * Another waiter's miss, or a prefetch, may have filled it.
		 * Otherwise hold a way first, then pin: pinned pages never
		 * exceed the TLB's capacity, not even with pins in flight.
		 */
		spin_lock_bh(&nic->tlb_lock);
		if (unet_tlb_probe(&nic->tlb, ctx->asid, m->vpn, m->write)) {
			spin_unlock_bh(&nic->tlb_lock);
			break;
		}
		slot = unet_tlb_reserve(&nic->tlb, ctx->asid, m->vpn,
					entry_release, nic, &evicted);
		spin_unlock_bh(&nic->tlb_lock);
		if (evicted)
			unet_nic_count(nic, UNET_NIC_tlb_evictions, 1);
		if (!slot) {
			usleep_range(20, 100);	/* every way busy with DMA */
			continue;
		}
		mmap_read_lock(mm);
		n = pin_user_pages_remote(mm, addr, 1, gup, &page, NULL, NULL);
		mmap_read_unlock(mm);
		if (n != 1) {
			/* No way held while a fault-in may sleep. */
			spin_lock_bh(&nic->tlb_lock);
			unet_tlb_unreserve(&nic->tlb, slot);
			spin_unlock_bh(&nic->tlb_lock);
			status = fault_status(mm, addr, m->write);
			if (status)
				break;
			/*
			 * A mapping that allows the access: fault the page in
			 * once (it may wait, for a userfaultfd say) and pin
			 * again; if that does not help, the engine asks later.
			 */
			if (!faulted) {
				mmap_read_lock(mm);
				faulted = fault_in(mm, addr, m->write);
				mmap_read_unlock(mm);
				if (faulted)
					continue;
			}
			unet_nic_count(nic, UNET_NIC_tlb_pin_retries, 1);
			break;
		}
		atomic_long_inc(&ctx->pinned);
		atomic64_inc(&mm->pinned_vm);
		note_pinned(nic);
		if (m->write && !nic_may_write(page)) {
			unpin_uncharge(nic, ctx, page);
			spin_lock_bh(&nic->tlb_lock);
			unet_tlb_unreserve(&nic->tlb, slot);
			spin_unlock_bh(&nic->tlb_lock);
			status = UNET_ST_NO_ACCESS;
			break;
		}

		spin_lock_bh(&nic->tlb_lock);
		spin_lock(&ctx->inval_lock);
		stale = ctx->inval_active || ctx->inval_seq != seq ||
			ctx->dying;
		spin_unlock(&ctx->inval_lock);
		if (!stale)
			unet_tlb_fill(&nic->tlb, slot, page, ctx, m->write,
				      entry_release, nic);
		spin_unlock_bh(&nic->tlb_lock);
		if (!stale)
			break;
		/*
		 * Raced with an invalidation: the page may be stale.  Unpin
		 * before giving the way back, or another pin could take it
		 * while this page still counts.
		 */
		unpin_uncharge(nic, ctx, page);
		spin_lock_bh(&nic->tlb_lock);
		unet_tlb_unreserve(&nic->tlb, slot);
		spin_unlock_bh(&nic->tlb_lock);
		usleep_range(20, 100);
	}
	mmput(mm);
	return status;
}

/*
 * The next miss a worker may serve: demand misses before prefetches, and
 * never one of an address space another worker is serving, so that a pin
 * that blocks (a userfaultfd, a FUSE file) holds up only its own process
 * and its misses stay in order.  Called under miss_lock.
 */
static struct unet_miss *next_miss(struct unet_nic *nic, bool *prefetch)
{
	struct list_head *lists[2] = { &nic->misses, &nic->prefetches };
	struct unet_miss *m;
	int l, w;

	for (l = 0; l < 2; l++) {
		list_for_each_entry(m, lists[l], node) {
			for (w = 0; w < UNET_MISS_WORKERS; w++) {
				struct unet_context *c =
					nic->miss_worker[w].serving;

				/* Per address space: opening more /dev/unet
				 * must not buy more workers. */
				if (c && c->mm == m->ctx->mm)
					break;
			}
			if (w < UNET_MISS_WORKERS)
				continue;
			*prefetch = l == 1;
			return m;
		}
	}
	return NULL;
}

static void miss_work(struct work_struct *work)
{
	struct unet_miss_worker *worker =
		container_of(work, struct unet_miss_worker, work);
	struct unet_nic *nic = worker->nic;

	for (;;) {
		struct unet_miss *m;
		bool prefetch = false;
		int status;

		spin_lock_bh(&nic->miss_lock);
		m = next_miss(nic, &prefetch);
		if (m) {
			list_del(&m->node);
			if (prefetch)
				nic->nr_prefetches--;
			worker->serving = m->ctx;
			unet_nic_count(nic, UNET_NIC_misses_queued, -1);
		}
		spin_unlock_bh(&nic->miss_lock);
		if (!m)
			break;
		status = 0;
		if (!READ_ONCE(m->waiter->dead))
			status = serve_miss(nic, m);
		/*
		 * A prefetch's fault is not reported: the buffer may never be
		 * used, and the demand miss will find the fault itself.
		 */
		if (status && !prefetch) {
			unet_nic_count(nic, UNET_NIC_tlb_faults, 1);
			record_fault(m->waiter, m->ctx->asid, m->vpn, m->write,
				     status);
		}
		/* Nothing waits on a prefetch: no engine to wake. */
		if (!prefetch) {
			count_miss_time(nic, m->posted);
			unet_nic_translation_ready(m->waiter);
		}
		spin_lock_bh(&nic->miss_lock);
		worker->serving = NULL;
		spin_unlock_bh(&nic->miss_lock);
		/* Only a context's teardown ever waits here. */
		if (wq_has_sleeper(&nic->miss_idle))
			wake_up_all(&nic->miss_idle);
		unet_ep_put(m->waiter);
		kfree(m);
		cond_resched();
	}
}

static bool miss_in_service(struct unet_nic *nic, struct unet_context *ctx)
{
	bool busy = false;
	int w;

	spin_lock_bh(&nic->miss_lock);
	for (w = 0; w < UNET_MISS_WORKERS; w++)
		if (nic->miss_worker[w].serving == ctx)
			busy = true;
	spin_unlock_bh(&nic->miss_lock);
	return busy;
}

/* Drops queued misses that match; for a context, waits out those served. */
static void purge_misses(struct unet_nic *nic, struct unet_context *ctx,
			 struct unet_endpoint *waiter)
{
	struct unet_miss *m, *tmp;
	LIST_HEAD(gone);

	spin_lock_bh(&nic->miss_lock);
	list_for_each_entry_safe(m, tmp, &nic->misses, node)
		if ((ctx && m->ctx == ctx) || (waiter && m->waiter == waiter))
			list_move(&m->node, &gone);
	list_for_each_entry_safe(m, tmp, &nic->prefetches, node)
		if ((ctx && m->ctx == ctx) || (waiter && m->waiter == waiter)) {
			list_move(&m->node, &gone);
			nic->nr_prefetches--;
		}
	spin_unlock_bh(&nic->miss_lock);
	/*
	 * A context's teardown waits for the workers busy with it (the miss
	 * uses the context).  An endpoint's need not, and must not: its miss
	 * holds its own reference, the engines it would wake are dead, and
	 * the fault it waits on may be one only this process can resolve.
	 */
	if (ctx)
		wait_event(nic->miss_idle, !miss_in_service(nic, ctx));
	list_for_each_entry_safe(m, tmp, &gone, node) {
		unet_nic_count(nic, UNET_NIC_misses_queued, -1);
		if (m->waiter != waiter)
			unet_nic_translation_ready(m->waiter);
		unet_ep_put(m->waiter);
		kfree(m);
	}
}

void unet_agent_forget_ep(struct unet_endpoint *ep)
{
	purge_misses(ep->nic, NULL, ep);
}

static bool range_busy(struct unet_nic *nic, struct unet_context *ctx,
		       u64 vpn_start, u64 vpn_end)
{
	u32 busy;

	spin_lock_bh(&nic->tlb_lock);
	busy = unet_tlb_busy(&nic->tlb, ctx->asid, vpn_start, vpn_end);
	spin_unlock_bh(&nic->tlb_lock);
	return busy;
}

/*
 * Removes the entries of [start, end) of @ctx from every NIC's TLB and, if
 * allowed to block, waits until no DMA copy uses them.  When it may not
 * block (the OOM reaper), entries in use are left dead: their pages stay
 * pinned, so nothing can reuse them, until the copy ends.
 */
static void invalidate_range(struct unet_context *ctx, u64 vpn_start,
			     u64 vpn_end, int cause, bool blockable)
{
	u32 i, n, busy;

	for (i = 0; i < unet_nr_nics(); i++) {
		struct unet_nic *nic = unet_nic_by_index(i);

		spin_lock_bh(&nic->tlb_lock);
		n = unet_tlb_invalidate(&nic->tlb, ctx->asid, vpn_start,
					vpn_end, entry_release, nic, &busy);
		spin_unlock_bh(&nic->tlb_lock);
		if (n)
			unet_nic_count(nic, cause, n);
		if (busy && blockable)
			wait_event(nic->tlb_drain,
				   !range_busy(nic, ctx, vpn_start, vpn_end));
	}
}

static int event_cause(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_UNMAP:
	case MMU_NOTIFY_CLEAR:
		return UNET_NIC_tlb_inval_unmap;
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return UNET_NIC_tlb_inval_protect;
	case MMU_NOTIFY_MIGRATE:
	case MMU_NOTIFY_EXCLUSIVE:
		return UNET_NIC_tlb_inval_migrate;
	default:
		return UNET_NIC_tlb_inval_other;
	}
}

static int unet_mn_invalidate_start(struct mmu_notifier *mn,
				    const struct mmu_notifier_range *range)
{
	struct unet_context *ctx = container_of(mn, struct unet_context, mn);

	spin_lock_bh(&ctx->inval_lock);
	ctx->inval_active++;
	ctx->inval_seq++;
	spin_unlock_bh(&ctx->inval_lock);

	/* Never -EAGAIN: with invalidate_range_end that is a WARN in 6.1. */
	invalidate_range(ctx, range->start >> PAGE_SHIFT,
			 DIV_ROUND_UP_ULL(range->end, PAGE_SIZE),
			 event_cause(range->event),
			 mmu_notifier_range_blockable(range));
	return 0;
}

static void unet_mn_invalidate_end(struct mmu_notifier *mn,
				   const struct mmu_notifier_range *range)
{
	struct unet_context *ctx = container_of(mn, struct unet_context, mn);

	spin_lock_bh(&ctx->inval_lock);
	ctx->inval_active--;
	ctx->inval_seq++;
	spin_unlock_bh(&ctx->inval_lock);
}

/* The address space is being torn down: give back everything it had. */
static void unet_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct unet_context *ctx = container_of(mn, struct unet_context, mn);

	spin_lock_bh(&ctx->inval_lock);
	ctx->dying = true;
	ctx->inval_seq++;
	spin_unlock_bh(&ctx->inval_lock);
	invalidate_range(ctx, 0, U64_MAX, UNET_NIC_tlb_inval_other, true);
}

static const struct mmu_notifier_ops unet_mn_ops = {
	.invalidate_range_start = unet_mn_invalidate_start,
	.invalidate_range_end = unet_mn_invalidate_end,
	.release = unet_mn_release,
};

int unet_agent_ctx_init(struct unet_context *ctx)
{
	int ret;

	spin_lock_init(&ctx->inval_lock);
	ctx->mn.ops = &unet_mn_ops;
	ret = mmu_notifier_register(&ctx->mn, ctx->mm);
	if (ret)
		return ret;
	ctx->mn_registered = true;
	return 0;
}

void unet_agent_ctx_exit(struct unet_context *ctx)
{
	u32 i;

	spin_lock_bh(&ctx->inval_lock);
	ctx->dying = true;
	spin_unlock_bh(&ctx->inval_lock);
	for (i = 0; i < unet_nr_nics(); i++)
		purge_misses(unet_nic_by_index(i), ctx, NULL);
	if (ctx->mn_registered)
		mmu_notifier_unregister(&ctx->mn, ctx->mm);
	invalidate_range(ctx, 0, U64_MAX, UNET_NIC_tlb_inval_other, true);
	WARN_ON(atomic_long_read(&ctx->pinned));
}

static unsigned long unet_shrink_count(struct shrinker *s,
				       struct shrink_control *sc)
{
	struct unet_nic *nic = container_of(s, struct unet_nic, shrinker);
	u32 n = READ_ONCE(nic->tlb.valid);

	return n ?: SHRINK_EMPTY;
}

static unsigned long unet_shrink_scan(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct unet_nic *nic = container_of(s, struct unet_nic, shrinker);
	u32 n;

	spin_lock_bh(&nic->tlb_lock);
	n = unet_tlb_evict_cold(&nic->tlb, sc->nr_to_scan, entry_release, nic);
	spin_unlock_bh(&nic->tlb_lock);
	unet_nic_count(nic, UNET_NIC_tlb_shrunk, n);
	return n ?: SHRINK_STOP;
}

int unet_agent_nic_init(struct unet_nic *nic)
{
	struct unet_tlb_entry *mem;
	u32 sets;
	int ret, i;

	if (unet_tlb_geometry(unet_tlb_size, unet_tlb_ways, &sets))
		return -EINVAL;
	mem = kvcalloc(unet_tlb_size, sizeof(*mem), GFP_KERNEL);
	if (!mem)
		return -ENOMEM;
	spin_lock_init(&nic->tlb_lock);
	unet_tlb_init(&nic->tlb, mem, sets, unet_tlb_ways);
	init_waitqueue_head(&nic->tlb_drain);
	INIT_LIST_HEAD(&nic->misses);
	INIT_LIST_HEAD(&nic->prefetches);
	spin_lock_init(&nic->miss_lock);
	init_waitqueue_head(&nic->miss_idle);
	for (i = 0; i < UNET_MISS_WORKERS; i++) {
		nic->miss_worker[i].nic = nic;
		INIT_WORK(&nic->miss_worker[i].work, miss_work);
	}

	nic->shrinker.count_objects = unet_shrink_count;
	nic->shrinker.scan_objects = unet_shrink_scan;
	nic->shrinker.seeks = DEFAULT_SEEKS;
	ret = register_shrinker(&nic->shrinker, "unetmm-nic%u", nic->index);
	if (ret) {
		kvfree(mem);
		return ret;
	}
	nic->shrinker_registered = true;
	return 0;
}

void unet_agent_nic_exit(struct unet_nic *nic)
{
	if (nic->shrinker_registered)
		unregister_shrinker(&nic->shrinker);
	flush_miss_workers(nic);
	WARN_ON(!list_empty(&nic->misses) || !list_empty(&nic->prefetches));
	WARN_ON(nic->tlb.valid);
	kvfree(nic->tlb.entry);
}
