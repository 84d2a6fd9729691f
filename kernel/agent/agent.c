// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel agent.  It is the only part that touches the VM system:
 *
 *  - it serves the NIC's TLB misses: fault the page in and pin it
 *    (FOLL_LONGTERM, FOLL_WRITE for receive buffers), charge it to the
 *    process, write the translation and resume the engine that waited;
 *  - an mmu notifier on every address space with a context removes and
 *    unpins the entries of any range the VM unmaps, moves, write-protects,
 *    migrates or zaps, and returns only when no DMA uses them any more;
 *  - a shrinker gives cold entries back under memory pressure.
 *
 * Misses are served per context, in the order they came, by a work item of
 * that context on an unbound workqueue: a fault that blocks (a userfaultfd
 * nobody serves, a FUSE server that never answers) holds up its own
 * context and nobody else's, however many of them block at once, and the
 * context's teardown never waits for it.
 *
 * A miss ends in one of three ways: the translation is installed; the
 * buffer is refused with a status the engine reports (no mapping, no
 * access, a page that cannot be faulted in); or, for a failure that may
 * pass (no memory), it is retried a few times with a growing pause and
 * then refused too.  A refused buffer is never asked for again on its own.
 *
 * A fill races with invalidations the way KVM's does: it samples the
 * address space's invalidation sequence before pinning and installs the
 * entry only if no invalidation ran or is running meanwhile.
 *
 * With translate=nopin nothing is pinned: a miss reads the page tables
 * with hmm_range_fault() (never faulting; a page that is not there is
 * faulted in as above, then read again), an entry holds only the page
 * frame it saw, and an interval notifier over the whole address space
 * takes the place of the notifier's invalidate_range_start/end.  It
 * removes the entries of the range and waits for the copies that use
 * them, so that the page stays mapped, and hence allocated, until no copy
 * touches it; when it may not wait (the OOM reaper) it fails the
 * invalidation, which the reaper retries later.  A fill follows
 * mmu_interval_read_begin() / hmm_range_fault() / check under the lock
 * the notifier takes, with the per-page log below so that invalidations
 * of other pages do not make it retry.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/backing-dev.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#include "agent.h"
#include "../compat.h"
#include "../nic/nic.h"

/* Retries of a fill that raced with an invalidation. */
#define FILL_RACE_RETRIES	16
/* Transient failures (no memory) are retried after 1, 2, 4 .. 64 ms. */
#define TRANSIENT_RETRIES	7
/* Prefetches queued per context: beyond this they only evict each other. */
#define MAX_PREFETCHES		64
/*
 * Pages one miss may translate at once (its batch, adapted by the TLB to
 * how many of them get used): at most tlb_batch, and never more than a
 * quarter of the TLB, as a batch may evict that many entries of others.
 */
#define BATCH_MAX		UNET_TLB_BATCH_MAX

/*
 * A request for one translation.  A demand miss lives in its waiter (each
 * engine waits for one translation at a time, so it never needs memory
 * at the moment it misses); a prefetch is allocated.
 */
struct unet_miss {
	struct list_head node;		/* on its owner's list */
	struct unet_agent_ctx *owner;	/* context of the page; referenced */
	struct unet_nic *nic;
	struct unet_endpoint *waiter;	/* referenced while queued */
	enum unet_engine engine;
	u64 vpn;
	u32 pages;			/* of the buffer from vpn on, >= 1 */
	bool write;
	bool prefetch;
	bool queued;			/* on a list or in service */
	bool in_service;
	bool taken;			/* its wait for the agent is counted */
	ktime_t posted;
};

/*
 * Invalidations of one address space, as a fill that raced with them
 * needs to know: a sequence number bumped when one starts, the union of
 * the ranges in progress, and a short log of the ranges that started
 * lately.  A fill is stale only if an invalidation *of its page* started
 * since it sampled the sequence (or is running now): invalidations of
 * other pages, however many, do not make it retry.  A log that has
 * overflowed since the sample makes every fill stale, conservatively.
 */
#define INVAL_LOG	64

struct unet_inval {
	u64 seq;
	u32 active;			/* in progress */
	u64 active_start, active_end;	/* their union, in pages */
	struct {
		u64 seq, start, end;
	} log[INVAL_LOG];
};

static void inval_begin(struct unet_inval *iv, u64 start, u64 end)
{
	u32 slot = ++iv->seq % INVAL_LOG;

	iv->log[slot].seq = iv->seq;
	iv->log[slot].start = start;
	iv->log[slot].end = end;
	if (!iv->active++) {
		iv->active_start = start;
		iv->active_end = end;
	} else {
		iv->active_start = min(iv->active_start, start);
		iv->active_end = max(iv->active_end, end);
	}
}

static void inval_end(struct unet_inval *iv)
{
	if (!--iv->active)
		iv->active_start = iv->active_end = 0;
}

/*
 * Whether an invalidation of a page in [start, end) runs now or started
 * after @seq.
 */
static bool inval_stale_range(const struct unet_inval *iv, u64 start,
			      u64 end, u64 seq)
{
	u64 s;

	if (iv->active && start < iv->active_end && end > iv->active_start)
		return true;
	if (iv->seq - seq >= INVAL_LOG)
		return iv->seq != seq;
	for (s = seq + 1; s <= iv->seq; s++) {
		u32 slot = s % INVAL_LOG;

		if (start < iv->log[slot].end && end > iv->log[slot].start)
			return true;
	}
	return false;
}

/* The same for the page @vpn. */
static bool inval_stale(const struct unet_inval *iv, u64 vpn, u64 seq)
{
	return inval_stale_range(iv, vpn, vpn + 1, seq);
}

/*
 * What one fill needs for its run of pages.  The agent's work item has one
 * per context; an MM endpoint has one for the fills its sender makes in
 * its own system call (unet_agent_fill_now(), under its tx.mutex).
 */
struct unet_fill {
	struct page *pages[BATCH_MAX];
	unsigned long pfns[BATCH_MAX];	/* nopin: hmm_range_fault()'s */
	struct unet_tlb_entry *slots[BATCH_MAX];
	struct page **huge;	/* UNET_TLB_HUGE_PAGES; the agent's only */
	/*
	 * A sender's own: no pause to retry, mmap_lock only if it is free,
	 * and translate=pin's 2 MiB entries left to the agent.
	 */
	bool once;
};

/*
 * A fill that raced (every way of a set busy, an invalidation of its
 * page) pauses and tries again, unless it is to try once.
 */
static bool fill_again(const struct unet_fill *f)
{
	if (f->once)
		return false;
	usleep_range(20, 100);
	return true;
}

/*
 * mmap_lock for a fill.  A sender's own fill runs under its endpoint's
 * tx.mutex: it takes the lock only if it is free, or a thread of the
 * process holding it for long would hold the endpoint's engine (and a NIC
 * worker that waits for it) as long.
 */
static bool fill_mmap_lock(const struct unet_fill *f, struct mm_struct *mm)
{
	if (f->once)
		return mmap_read_trylock(mm);
	mmap_read_lock(mm);
	return true;
}

/* The agent's side of a context: coherence and the miss queue. */
struct unet_agent_ctx {
	struct unet_context *ctx;
	struct mmu_notifier mn;
	bool mn_registered;
	/* translate=nopin: the notifier over the whole address space. */
	struct mmu_interval_notifier mni;
	bool mni_inserted;

	spinlock_t inval_lock;		/* nests inside a NIC's tlb_lock */
	struct unet_inval inval;	/* under inval_lock */
	bool dying;			/* no new translations */
	atomic_long_t pinned;		/* TLB pages charged to mm->pinned_vm */
	kuid_t uid;			/* whose fault budget it spends */

	/* The work item's own (it never runs twice at once). */
	struct unet_fill fill;

	/* Under agent_lock. */
	struct list_head misses;	/* demand misses, in order */
	struct list_head prefetches;	/* served when no demand waits */
	u32 nr_prefetches;
	struct delayed_work work;
};

struct unet_agent_nic {
	struct shrinker *shrinker;
	bool shrinker_registered;
};

/*
 * One lock for every context's miss queue: misses are rare next to
 * messages, and one lock lets an endpoint take back its misses from
 * whichever context they wait on.
 */
static DEFINE_SPINLOCK(agent_lock);
static struct workqueue_struct *agent_wq;

static void uncharge(struct unet_nic *nic, struct unet_agent_ctx *ac, long n)
{
	atomic_long_sub(n, &ac->pinned);
	atomic64_sub(n, &ac->ctx->mm->pinned_vm);
	unet_nic_count(nic, UNET_NIC_pinned_pages, -n);
}

static void unpin_uncharge(struct unet_nic *nic, struct unet_agent_ctx *ac,
			   struct page *page)
{
	unpin_user_page(page);
	uncharge(nic, ac, 1);
}

/*
 * Release of an entry by the TLB: called under tlb_lock, never sleeps.
 * Writable entries are anonymous or writeback-free memory (the VMA check
 * and nic_may_write() saw to it), whose dirty bit needs no lock.
 *
 * A pin-free entry holds no reference, but its page is still mapped where
 * the entry says: an entry is released either before its page could be
 * unmapped (eviction of a live entry: no invalidation of it has started,
 * or it would be gone), or by an invalidation that has not yet returned
 * (so has not yet unmapped it), or by the last copy such an invalidation
 * waits for.  The mapping's reference keeps the page while it is dirtied.
 */
static void entry_release(struct unet_tlb_entry *e, void *arg)
{
	struct unet_nic *nic = arg;

	lockdep_assert_held(&nic->tlb_lock);
	if (e->flags & UNET_TLB_WRITABLE)
		set_page_dirty(e->page);
	if (unet_nopin)
		return;
	if (!e->order) {
		unpin_uncharge(nic, e->owner, e->page);
		return;
	}
	/*
	 * A huge entry holds one pin on each of the consecutive pages of
	 * its folio (try_huge() checked them).  Without make_dirty this
	 * takes no lock and never sleeps; the folio is dirty already.
	 */
	unpin_user_page_range_dirty_lock(e->page, unet_tlb_span(e), false);
	uncharge(nic, e->owner, unet_tlb_span(e));
}

/*
 * The TLB's own tallies of pages filled ahead, published as NIC counters.
 * They change only under tlb_lock, in lookups (each followed by a put)
 * and in releases, so every path that may change them ends here.
 */
static void sync_tlb_counters(struct unet_nic *nic)
{
	lockdep_assert_held(&nic->tlb_lock);
	atomic64_set(&nic->ctr[UNET_NIC_tlb_ahead_used], nic->tlb.ahead_used);
	atomic64_set(&nic->ctr[UNET_NIC_tlb_ahead_wasted],
		     nic->tlb.ahead_wasted);
	atomic64_set(&nic->ctr[UNET_NIC_tlb_batch_cap], nic->tlb.batch);
}

void unet_agent_tlb_put(struct unet_nic *nic, struct unet_tlb_entry *e)
{
	bool dead;

	spin_lock_bh(&nic->tlb_lock);
	dead = e->flags & UNET_TLB_DEAD;
	unet_tlb_put(&nic->tlb, e, entry_release, nic);
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (dead)
		wake_up_all(&nic->tlb_drain);
}

/* ------------------------------------------------------------ misses ---- */

static void kick_ctx(struct unet_agent_ctx *ac, unsigned long delay)
{
	unet_ctx_get(ac->ctx);
	if (!queue_delayed_work(agent_wq, &ac->work, delay))
		unet_ctx_put(ac->ctx);
}

static bool prefetch_queued(struct unet_agent_ctx *ac, struct unet_nic *nic,
			    u64 vpn, bool write)
{
	struct unet_miss *m;

	lockdep_assert_held(&agent_lock);
	list_for_each_entry(m, &ac->prefetches, node)
		if (m->nic == nic && m->vpn == vpn && m->write >= write)
			return true;
	return false;
}

static void record_fault(struct unet_endpoint *ep, enum unet_engine engine,
			 u32 asid, u64 vpn, bool write, int status)
{
	struct unet_fault *f = &ep->fault[engine];

	spin_lock_bh(&ep->fault_lock);
	f->asid = asid;
	f->vpn = vpn;
	f->write = write;
	f->status = status;
	spin_unlock_bh(&ep->fault_lock);
}

void unet_agent_post_miss(struct unet_nic *nic, struct unet_context *ctx,
			  u64 vpn, u32 pages, bool write,
			  struct unet_endpoint *waiter,
			  enum unet_engine engine)
{
	struct unet_agent_ctx *ac = ctx->agent;
	struct unet_miss *m = waiter->miss[engine];

	spin_lock_bh(&agent_lock);
	/* Asked already: the engine is woken when that one is answered. */
	if (m->queued) {
		spin_unlock_bh(&agent_lock);
		return;
	}
	if (ac->dying) {
		spin_unlock_bh(&agent_lock);
		record_fault(waiter, engine, ctx->asid, vpn, write,
			     UNET_ST_BAD_ADDR);
		unet_nic_translation_ready(waiter, engine);
		return;
	}
	m->owner = ac;
	m->nic = nic;
	m->waiter = waiter;
	m->engine = engine;
	m->vpn = vpn;
	m->pages = max(pages, 1u);
	m->write = write;
	m->prefetch = false;
	m->queued = true;
	m->in_service = false;
	m->taken = false;
	m->posted = ktime_get();
	unet_ep_get(waiter);
	unet_ctx_get(ctx);
	list_add_tail(&m->node, &ac->misses);
	unet_nic_count(nic, UNET_NIC_misses_queued, 1);
	spin_unlock_bh(&agent_lock);
	kick_ctx(ac, 0);
}

/*
 * A translation wanted soon, of @pages pages from @vpn on (one buffer):
 * served only when no demand miss waits, batched as a miss is.
 */
void unet_agent_prefetch(struct unet_nic *nic, struct unet_context *ctx,
			 u64 vpn, u32 pages, bool write,
			 struct unet_endpoint *waiter)
{
	struct unet_agent_ctx *ac = ctx->agent;
	struct unet_miss *m;

	m = kmalloc(sizeof(*m), GFP_ATOMIC);
	if (!m)
		return;		/* only a hint */
	spin_lock_bh(&agent_lock);
	if (ac->dying || ac->nr_prefetches >= MAX_PREFETCHES ||
	    prefetch_queued(ac, nic, vpn, write)) {
		spin_unlock_bh(&agent_lock);
		kfree(m);
		return;
	}
	*m = (struct unet_miss){
		.owner = ac, .nic = nic, .waiter = waiter, .vpn = vpn,
		.pages = max(pages, 1u), .write = write, .prefetch = true,
		.queued = true, .posted = ktime_get(),
	};
	unet_ep_get(waiter);
	unet_ctx_get(ctx);
	list_add_tail(&m->node, &ac->prefetches);
	ac->nr_prefetches++;
	unet_nic_count(nic, UNET_NIC_misses_queued, 1);
	unet_nic_count(nic, UNET_NIC_tlb_prefetches, 1);
	spin_unlock_bh(&agent_lock);
	kick_ctx(ac, 0);
}

/*
 * Why a page may not be translated, judged from its VMA before anything
 * is faulted or pinned: no mapping, no access, or a receive buffer in page
 * cache that is written back to a disk.  Such a page must not be a
 * receive buffer: a long-term pin races with writeback (Linux 6.5 refuses
 * it outright), dirtying it takes file system locks that the DMA engine,
 * in softirq, cannot take, and a write fault would already have dirtied
 * the page and changed the file's times for a buffer the NIC then
 * refuses.  Returns 0 or an enum unet_status.
 */
static int vma_status_locked(struct mm_struct *mm, unsigned long addr,
			     bool write)
{
	struct vm_area_struct *vma;
	int status = 0;

	mmap_assert_locked(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & VM_READ) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		status = UNET_ST_BAD_ADDR;
	else if (write && !(vma->vm_flags & VM_WRITE))
		status = UNET_ST_NO_ACCESS;
	else if (write && vma->vm_file && (vma->vm_flags & VM_SHARED) &&
		 mapping_can_writeback(vma->vm_file->f_mapping))
		status = UNET_ST_NO_ACCESS;
	else if (vma_is_fsdax(vma))
		status = UNET_ST_BAD_ADDR;	/* never pinned long-term */
	return status;
}

static int vma_status(struct mm_struct *mm, unsigned long addr, bool write)
{
	int status;

	mmap_read_lock(mm);
	status = vma_status_locked(mm, addr, write);
	mmap_read_unlock(mm);
	return status;
}

/*
 * Whether the NIC may write into @page and mark it dirty when it lets go,
 * from any context: a second look, after the pin, at what vma_status()
 * allowed (the VMA may have changed in between).  Anonymous memory and
 * file systems without writeback (tmpfs, shmem, hugetlbfs) need only the
 * dirty bit.
 */
static bool nic_may_write(struct page *page)
{
	struct folio *folio = page_folio(page);
	struct address_space *mapping;

	if (folio_test_anon(folio))
		return true;
	mapping = folio_mapping(folio);
	return !mapping || !mapping_can_writeback(mapping);
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

static void note_pinned(struct unet_nic *nic, long n)
{
	s64 now = atomic64_add_return(n, &nic->ctr[UNET_NIC_pinned_pages]);
	s64 peak = atomic64_read(&nic->ctr[UNET_NIC_pinned_peak]);

	while (now > peak &&
	       !atomic64_try_cmpxchg(&nic->ctr[UNET_NIC_pinned_peak], &peak,
				     now))
		;
}

/*
 * The fault budget.  A fault-in may wait for as long as whoever serves the
 * page likes (a userfaultfd handler, a FUSE server), and while it waits it
 * holds a worker of the agent's workqueue, which has a limited number of
 * them for everyone.  So each user may have at most max_user_faults
 * fault-ins waiting at once; a miss that would need one more waits in its
 * context's queue without holding a worker.  Counts per uid live in an
 * xarray, as value entries, under agent_lock.
 */
static DEFINE_XARRAY(user_faults);

static bool fault_budget_take(kuid_t uid)
{
	unsigned long id = __kuid_val(uid), n;
	void *e;
	bool ok = false;

	spin_lock_bh(&agent_lock);
	e = xa_load(&user_faults, id);
	n = e ? xa_to_value(e) : 0;
	if (n < unet_max_user_faults &&
	    !xa_err(xa_store(&user_faults, id, xa_mk_value(n + 1),
			     GFP_ATOMIC)))
		ok = true;
	spin_unlock_bh(&agent_lock);
	return ok;
}

static void fault_budget_give(kuid_t uid)
{
	unsigned long id = __kuid_val(uid), n;

	spin_lock_bh(&agent_lock);
	n = xa_to_value(xa_load(&user_faults, id));
	if (n > 1)
		xa_store(&user_faults, id, xa_mk_value(n - 1), GFP_ATOMIC);
	else
		xa_erase(&user_faults, id);
	spin_unlock_bh(&agent_lock);
}

/*
 * Faults the page in the way a user fault would, allowed to drop mmap_lock
 * and wait: for a userfaultfd handler, a FUSE server, a slow disk.  The
 * wait is killable, not uninterruptible, so a fault nobody ever answers is
 * not a hung task.  For a read it unshares an anonymous page shared with
 * a parent or child, as the pin of a read-only page must see an exclusive
 * one.  Returns 0 or a negative errno.
 */
static int fault_in(struct mm_struct *mm, unsigned long addr, bool write)
{
	bool unlocked = false;
	int ret;

	mmap_read_lock(mm);
	ret = fixup_user_fault(mm, addr,
			       write ? FAULT_FLAG_WRITE : FAULT_FLAG_UNSHARE,
			       &unlocked);
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Holds ways for the run of pages a miss will translate: its own page,
 * then each following page of the buffer that the TLB lacks, up to the
 * TLB's current batch (never more than a quarter of the TLB).  Returns
 * how many slots it holds in f->slots; 0 when every way of the first
 * page's set is busy, or another fill is making its translation.
 */
static u32 reserve_run(struct unet_agent_ctx *ac, struct unet_fill *f,
		       struct unet_miss *m, u32 *evictions)
{
	struct unet_nic *nic = m->nic;
	struct unet_tlb *tlb = &nic->tlb;
	u32 asid = ac->ctx->asid, want, n;

	lockdep_assert_held(&nic->tlb_lock);
	want = unet_tlb_batch(tlb, min3(unet_tlb_batch_max, (u32)BATCH_MAX,
					unet_tlb_entries(tlb) / 4));
	want = min(want, m->pages);
	*evictions = 0;
	for (n = 0; n < want; n++) {
		u64 vpn = m->vpn + n;
		bool evicted;

		/* A run stops at a page already there: no duplicate. */
		if (n && unet_tlb_peek(tlb, asid, vpn, m->write))
			break;
		/* Or at one another fill is making (a sender's own). */
		if (unet_tlb_filling(tlb, asid, vpn))
			break;
		f->slots[n] = unet_tlb_reserve(tlb, asid, vpn, 0,
					       entry_release, nic, &evicted);
		if (!f->slots[n])
			break;
		*evictions += evicted;
	}
	return n;
}

/* Gives back ways held by reserve_run() from slot @from on. */
static void unreserve_run(struct unet_fill *f, struct unet_nic *nic,
			  u32 from, u32 held)
{
	lockdep_assert_held(&nic->tlb_lock);
	for (; from < held; from++)
		unet_tlb_unreserve(&nic->tlb, f->slots[from]);
}

/*
 * A fill's first step: returns true when the translation is there already
 * (another waiter's miss, or a prefetch, filled it); else holds the ways
 * for its run with reserve_run(), *held of them (0: every way of the
 * page's set is busy).
 */
static bool hold_run(struct unet_agent_ctx *ac, struct unet_fill *f,
		     struct unet_miss *m, u32 *held)
{
	struct unet_nic *nic = m->nic;
	u32 evictions = 0;
	bool hit;

	spin_lock_bh(&nic->tlb_lock);
	hit = unet_tlb_probe(&nic->tlb, ac->ctx->asid, m->vpn, m->write);
	*held = hit ? 0 : reserve_run(ac, f, m, &evictions);
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (evictions)
		unet_nic_count(nic, UNET_NIC_tlb_evictions, evictions);
	return hit;
}

/* unreserve_run() of a whole run, taking tlb_lock. */
static void release_run(struct unet_fill *f, struct unet_nic *nic, u32 held)
{
	spin_lock_bh(&nic->tlb_lock);
	unreserve_run(f, nic, 0, held);
	spin_unlock_bh(&nic->tlb_lock);
}

static void charge_pinned(struct unet_agent_ctx *ac, struct unet_nic *nic,
			  long n)
{
	atomic_long_add(n, &ac->pinned);
	atomic64_add(n, &ac->ctx->mm->pinned_vm);
	note_pinned(nic, n);
}

#define HUGE_BYTES	((unsigned long)UNET_TLB_HUGE_PAGES << PAGE_SHIFT)

/*
 * Whether the page pinned at @addr may be the way to a huge entry: its
 * folio is exactly a huge entry's size, it sits in it at the place its
 * address has in the naturally aligned 2 MiB around it, and that 2 MiB
 * lies in @vma.  Only a hint, under the mmap_lock of the pin: try_huge()
 * checks every page it pins.
 */
static bool huge_fits(struct unet_nic *nic, struct vm_area_struct *vma,
		      unsigned long addr, struct page *page)
{
	unsigned long base = addr & ~(HUGE_BYTES - 1);
	struct folio *folio = page_folio(page);

	if (READ_ONCE(nic->tlb.huge) >= unet_tlb_huge || !vma ||
	    vma->vm_start > base ||
	    vma->vm_end - base < HUGE_BYTES)
		return false;
	return folio_nr_pages(folio) == UNET_TLB_HUGE_PAGES &&
	       folio_page(folio, (addr - base) >> PAGE_SHIFT) == page;
}

/*
 * Translates the 2 MiB around the miss's page with one huge entry: holds
 * a way for it if the NIC has fewer than tlb_huge huge entries (reserved
 * ones included), pins the 512 pages (a pin of each, as for 512 entries:
 * pinned_pages counts them all), and installs the entry only if they are
 * the consecutive pages of one folio, in order, and no invalidation of
 * any of them started since @seq.  Returns 0 when installed, else
 * -EAGAIN: the caller translates 4 KiB pages instead.
 */
static int try_huge(struct unet_agent_ctx *ac, struct unet_fill *f,
		    struct unet_miss *m, u64 seq)
{
	struct unet_nic *nic = m->nic;
	struct mm_struct *mm = ac->ctx->mm;
	unsigned int gup = FOLL_LONGTERM | FOLL_NOFAULT |
			   (m->write ? FOLL_WRITE : 0);
	u64 vpn = m->vpn & ~(u64)(UNET_TLB_HUGE_PAGES - 1);
	unsigned long base = vpn << PAGE_SHIFT;
	struct unet_tlb_entry *slot;
	struct vm_area_struct *vma;
	struct folio *folio;
	bool evicted, ok;
	long n = -EFAULT, i;

	spin_lock_bh(&nic->tlb_lock);
	slot = NULL;
	evicted = false;
	if (nic->tlb.huge < unet_tlb_huge)
		slot = unet_tlb_reserve(&nic->tlb, ac->ctx->asid, vpn,
					UNET_TLB_HUGE_ORDER, entry_release,
					nic, &evicted);
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (evicted)
		unet_nic_count(nic, UNET_NIC_tlb_evictions, 1);
	if (!slot)
		return -EAGAIN;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, base);
	if (vma && vma->vm_end - base >= HUGE_BYTES)
		n = unet_pin_user_pages_remote(mm, base, UNET_TLB_HUGE_PAGES,
					       gup, f->huge);
	mmap_read_unlock(mm);
	if (n > 0)
		charge_pinned(ac, nic, n);

	ok = n == UNET_TLB_HUGE_PAGES;
	folio = ok ? page_folio(f->huge[0]) : NULL;
	ok = ok && folio_nr_pages(folio) == UNET_TLB_HUGE_PAGES &&
	     (!m->write || nic_may_write(f->huge[0]));
	for (i = 0; ok && i < UNET_TLB_HUGE_PAGES; i++)
		ok = f->huge[i] == folio_page(folio, i);

	spin_lock_bh(&nic->tlb_lock);
	if (ok) {
		spin_lock(&ac->inval_lock);
		ok = !ac->dying &&
		     !inval_stale_range(&ac->inval, vpn,
					vpn + UNET_TLB_HUGE_PAGES, seq);
		if (ok)
			unet_tlb_fill(&nic->tlb, slot, f->huge[0], ac,
				      m->write, false, entry_release, nic);
		spin_unlock(&ac->inval_lock);
	}
	if (!ok) {
		/* Unpinned before the way goes back, as in pin_and_fill(). */
		if (n > 0) {
			unpin_user_pages(f->huge, n);
			uncharge(nic, ac, n);
		}
		unet_tlb_unreserve(&nic->tlb, slot);
	}
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (ok)
		unet_nic_count(nic, UNET_NIC_tlb_huge_fills, 1);
	return ok ? 0 : -EAGAIN;
}

/*
 * One attempt to pin the page, and the run of pages after it in the same
 * buffer and VMA, and install them: the page the miss needs as a plain
 * entry, the others as entries filled ahead (UNET_TLB_AHEAD), whose fate
 * (looked up, or given up unused) adapts the next batches.  The pin never
 * faults (FOLL_NOFAULT): a fault may wait for long, and a reserved way
 * must never be held across a wait, or a few blocked faults would take
 * every way of a set from everyone.  So a run stops at the first page
 * that is not present (or not as a pin needs it); that page misses on its
 * own later.  (6.1's hugetlb path faults regardless, but a hugetlbfs
 * fault does no I/O, and without FAULT_FLAG_ALLOW_RETRY a userfaultfd on
 * it fails at once.)
 *
 * Every way is reserved before anything is pinned, so pinned pages never
 * exceed the TLB's capacity, not even with pins in flight; pages pinned
 * but not installed are unpinned before their ways are given back.
 *
 * Returns 0 when the translation is there, a positive enum unet_status
 * for a refusal, -EFAULT when the page must be faulted in first, or
 * -EBUSY when every way of the set stayed busy or invalidations of the
 * page kept racing the fill.
 */
static int pin_and_fill(struct unet_agent_ctx *ac, struct unet_fill *f,
			struct unet_miss *m)
{
	struct unet_context *ctx = ac->ctx;
	struct unet_nic *nic = m->nic;
	struct mm_struct *mm = ctx->mm;
	unsigned long addr = m->vpn << PAGE_SHIFT;
	unsigned int gup = FOLL_LONGTERM | FOLL_NOFAULT |
			   (m->write ? FOLL_WRITE : 0);
	bool no_huge = false;
	int tries;

	for (tries = 0; tries < FILL_RACE_RETRIES; tries++) {
		struct vm_area_struct *vma;
		u32 held, ok, filled, i;
		bool stale, huge;
		u64 seq;
		long n;

		spin_lock_bh(&ac->inval_lock);
		seq = ac->inval.seq;
		stale = inval_stale(&ac->inval, m->vpn, seq);
		if (ac->dying) {
			spin_unlock_bh(&ac->inval_lock);
			return UNET_ST_BAD_ADDR;
		}
		spin_unlock_bh(&ac->inval_lock);
		if (stale) {
			if (!fill_again(f))
				break;
			continue;
		}

		/* Hold the ways first, then pin. */
		if (hold_run(ac, f, m, &held))
			return 0;
		if (!held) {
			if (!fill_again(f))	/* every way busy with DMA */
				break;
			continue;
		}

		/*
		 * One VMA only: what vma_status() judged for the first page
		 * holds for the run (nic_may_write() checks each page again).
		 */
		if (!fill_mmap_lock(f, mm)) {
			release_run(f, nic, held);
			return -EBUSY;
		}
		n = held;
		vma = vma_lookup(mm, addr);
		if (vma)
			n = min_t(unsigned long, n,
				  (vma->vm_end - addr) >> PAGE_SHIFT);
		n = unet_pin_user_pages_remote(mm, addr, n, gup, f->pages);
		huge = !no_huge && n > 0 &&
		       huge_fits(nic, vma, addr, f->pages[0]);
		mmap_read_unlock(mm);
		if (n > 0)
			charge_pinned(ac, nic, n);
		if (huge) {
			/* Its 2 MiB in one entry, or else 4 KiB pages. */
			spin_lock_bh(&nic->tlb_lock);
			for (i = 0; i < n; i++)
				unpin_uncharge(nic, ac, f->pages[i]);
			unreserve_run(f, nic, 0, held);
			spin_unlock_bh(&nic->tlb_lock);
			if (f->once)
				return -EBUSY;	/* the agent's to make */
			if (!try_huge(ac, f, m, seq))
				return 0;
			no_huge = true;
			continue;
		}
		if (n <= 0) {
			release_run(f, nic, held);
			return n < 0 ? (int)n : -EFAULT;
		}
		ok = n;
		for (i = 0; m->write && i < ok; i++)
			if (!nic_may_write(f->pages[i]))
				ok = i;

		spin_lock_bh(&nic->tlb_lock);
		spin_lock(&ac->inval_lock);
		stale = ac->dying || inval_stale(&ac->inval, m->vpn, seq);
		for (filled = 0; !stale && filled < ok; filled++) {
			if (filled &&
			    inval_stale(&ac->inval, m->vpn + filled, seq))
				break;
			unet_tlb_fill(&nic->tlb, f->slots[filled],
				      f->pages[filled], ac, m->write,
				      filled || m->prefetch, entry_release,
				      nic);
		}
		spin_unlock(&ac->inval_lock);
		/*
		 * The rest raced with an invalidation, may not be written, or
		 * lay beyond the VMA.  Unpin before giving the ways back, or
		 * another pin could take one while this page still counts.
		 */
		for (i = filled; i < n; i++)
			unpin_uncharge(nic, ac, f->pages[i]);
		unreserve_run(f, nic, filled, held);
		sync_tlb_counters(nic);
		spin_unlock_bh(&nic->tlb_lock);
		if (filled)
			return 0;
		if (!ok)
			return UNET_ST_NO_ACCESS;
		if (!fill_again(f))	/* raced with an invalidation */
			break;
	}
	return -EBUSY;
}

/* ----------------------------------------------------- pin-free fills ---- */

/*
 * Whether the page tables' answer for one page lets the NIC use it as
 * @m asks: present, backed by a struct page, writable if it is to be
 * written, and then memory the NIC may dirty.  Read without a reference:
 * the page may be unmapped and freed meanwhile, but then an invalidation
 * of it has started and the fill will see it before installing anything.
 */
static bool nopin_present(unsigned long hpfn, bool write)
{
	return (hpfn & HMM_PFN_VALID) && !(hpfn & HMM_PFN_ERROR) &&
	       (!write || (hpfn & HMM_PFN_WRITE));
}

static bool nopin_usable(unsigned long hpfn, bool write)
{
	return nopin_present(hpfn, write) &&
	       (!write || nic_may_write(hmm_pfn_to_page(hpfn)));
}

/*
 * Whether the page tables map the naturally aligned 2 MiB around @addr
 * with one mapping (a PMD, or a larger hugetlb page) that @m may use
 * whole, and the NIC may have one more huge entry.  The mapping order is
 * the page tables' own, so the 512 page frames are consecutive.
 */
static bool nopin_huge_fits(struct unet_nic *nic, struct vm_area_struct *vma,
			    unsigned long addr, unsigned long hpfn)
{
	unsigned long base = addr & ~(HUGE_BYTES - 1);
	unsigned long pfn = hpfn & ~HMM_PFN_FLAGS;

	return READ_ONCE(nic->tlb.huge) < unet_tlb_huge && vma &&
	       vma->vm_start <= base && vma->vm_end - base >= HUGE_BYTES &&
	       hmm_pfn_to_map_order(hpfn) >= UNET_TLB_HUGE_ORDER &&
	       ((pfn - ((addr - base) >> PAGE_SHIFT)) &
		(UNET_TLB_HUGE_PAGES - 1)) == 0;
}

/*
 * Whether a fill that sampled @seq (the log's) and @iseq (the interval
 * notifier's) may install [start, end): no invalidation at all since, or
 * none of those pages.  mmu_interval_read_begin() waited for the ones in
 * progress when the fill began, so the log's record of what started
 * since is all there is to check.  Under inval_lock.
 */
static bool nopin_stale(struct unet_agent_ctx *ac, u64 start, u64 end,
			u64 seq, unsigned long iseq)
{
	lockdep_assert_held(&ac->inval_lock);
	return ac->dying ||
	       (mmu_interval_read_retry(&ac->mni, iseq) &&
		inval_stale_range(&ac->inval, start, end, seq));
}

/*
 * Installs one 2 MiB entry for the huge mapping hmm_range_fault() found
 * at the miss's page (@hpfn): holds a way for it, then installs it if no
 * invalidation of the 2 MiB started since the samples.  Returns 0 when
 * installed, else -EAGAIN: the caller translates 4 KiB pages instead.
 */
static int nopin_huge(struct unet_agent_ctx *ac, struct unet_miss *m,
		      unsigned long hpfn, u64 seq, unsigned long iseq)
{
	struct unet_nic *nic = m->nic;
	u64 vpn = m->vpn & ~(u64)(UNET_TLB_HUGE_PAGES - 1);
	struct page *head = pfn_to_page((hpfn & ~HMM_PFN_FLAGS) -
					(m->vpn - vpn));
	struct unet_tlb_entry *slot = NULL;
	bool evicted = false, ok = false;

	spin_lock_bh(&nic->tlb_lock);
	if (nic->tlb.huge < unet_tlb_huge)
		slot = unet_tlb_reserve(&nic->tlb, ac->ctx->asid, vpn,
					UNET_TLB_HUGE_ORDER, entry_release,
					nic, &evicted);
	if (slot) {
		spin_lock(&ac->inval_lock);
		ok = !nopin_stale(ac, vpn, vpn + UNET_TLB_HUGE_PAGES, seq,
				  iseq);
		if (ok)
			unet_tlb_fill(&nic->tlb, slot, head, ac, m->write,
				      false, entry_release, nic);
		spin_unlock(&ac->inval_lock);
		if (!ok)
			unet_tlb_unreserve(&nic->tlb, slot);
	}
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	if (evicted)
		unet_nic_count(nic, UNET_NIC_tlb_evictions, 1);
	if (ok)
		unet_nic_count(nic, UNET_NIC_tlb_huge_fills, 1);
	return ok ? 0 : -EAGAIN;
}

/*
 * pin_and_fill() for translate=nopin: the same run of pages, read from
 * the page tables by hmm_range_fault() without faulting instead of
 * pinned.  The ways are held while the page tables are read (nothing
 * there waits for long: no fault is taken), then each page is installed
 * only if no invalidation of it started since the fill sampled the
 * sequences.  A 2 MiB mapping that fits gives one huge entry.
 *
 * Returns as pin_and_fill() does.
 */
static int nopin_fill(struct unet_agent_ctx *ac, struct unet_fill *f,
		      struct unet_miss *m)
{
	struct unet_context *ctx = ac->ctx;
	struct unet_nic *nic = m->nic;
	struct mm_struct *mm = ctx->mm;
	unsigned long addr = m->vpn << PAGE_SHIFT;
	bool no_huge = false;
	int tries;

	for (tries = 0; tries < FILL_RACE_RETRIES; tries++) {
		struct hmm_range range = {
			.notifier = &ac->mni,
			.start = addr,
			.hmm_pfns = f->pfns,
			/* Read the page tables only: never fault. */
			.default_flags = 0,
			.pfn_flags_mask = 0,
		};
		struct vm_area_struct *vma;
		u32 held, n, ok, filled;
		unsigned long iseq;
		bool stale, huge;
		u64 seq;
		int ret;

		spin_lock_bh(&ac->inval_lock);
		seq = ac->inval.seq;
		stale = ac->dying;
		spin_unlock_bh(&ac->inval_lock);
		if (stale)
			return UNET_ST_BAD_ADDR;
		/* Sampled after the log: it waits for those in progress. */
		iseq = mmu_interval_read_begin(&ac->mni);

		if (hold_run(ac, f, m, &held))
			return 0;
		if (!held) {
			if (!fill_again(f))	/* every way busy with DMA */
				break;
			continue;
		}

		/*
		 * One VMA only, as in pin_and_fill(): n of the held ways
		 * (all of them go back unless filled).
		 */
		ret = -EFAULT;
		huge = false;
		n = 0;
		if (!fill_mmap_lock(f, mm)) {
			release_run(f, nic, held);
			return -EBUSY;
		}
		vma = vma_lookup(mm, addr);
		if (vma) {
			n = min_t(unsigned long, held,
				  (vma->vm_end - addr) >> PAGE_SHIFT);
			range.end = addr + ((unsigned long)n << PAGE_SHIFT);
			/*
			 * Not iseq: hmm_range_fault() would fail after an
			 * invalidation of any page of the address space
			 * since (one notifier covers it all), and a process
			 * that maps and unmaps other memory in a loop would
			 * starve the fill.  The log decides per page below.
			 */
			range.notifier_seq = READ_ONCE(ac->mni.invalidate_seq);
			ret = hmm_range_fault(&range);
		}
		if (!ret && !no_huge && nopin_usable(f->pfns[0], m->write))
			huge = nopin_huge_fits(nic, vma, addr, f->pfns[0]);
		mmap_read_unlock(mm);

		if (huge) {
			release_run(f, nic, held);
			if (!nopin_huge(ac, m, f->pfns[0], seq, iseq))
				return 0;
			no_huge = true;
			continue;
		}
		if (ret) {
			release_run(f, nic, held);
			/* -EBUSY: an invalidation meanwhile */
			if (ret == -EBUSY && fill_again(f))
				continue;
			return ret;
		}
		if (f->pfns[0] & HMM_PFN_ERROR) {
			/* A special mapping: no page the NIC may use. */
			release_run(f, nic, held);
			return UNET_ST_BAD_ADDR;
		}
		for (ok = 0; ok < n; ok++)
			if (!nopin_usable(f->pfns[ok], m->write))
				break;
		if (!ok && nopin_present(f->pfns[0], m->write)) {
			/* There, but memory the NIC may not dirty. */
			release_run(f, nic, held);
			return UNET_ST_NO_ACCESS;
		}

		spin_lock_bh(&nic->tlb_lock);
		spin_lock(&ac->inval_lock);
		/* The run up to the first page an invalidation touched. */
		for (filled = 0; filled < ok; filled++) {
			u64 vpn = m->vpn + filled;

			if (nopin_stale(ac, vpn, vpn + 1, seq, iseq))
				break;
			unet_tlb_fill(&nic->tlb, f->slots[filled],
				      hmm_pfn_to_page(f->pfns[filled]), ac,
				      m->write, filled || m->prefetch,
				      entry_release, nic);
		}
		spin_unlock(&ac->inval_lock);
		unreserve_run(f, nic, filled, held);
		sync_tlb_counters(nic);
		spin_unlock_bh(&nic->tlb_lock);
		if (filled)
			return 0;
		/* Not there, or not writable yet: fault it in, then again. */
		if (!ok)
			return -EFAULT;
		if (!fill_again(f))	/* raced with an invalidation */
			break;
	}
	return -EBUSY;
}

/* What an errno of a fault, or of a pin after one, means for the buffer. */
static int errno_status(int err)
{
	switch (err) {
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
	case -EINTR:
		return -EAGAIN;		/* may pass: try again later */
	default:
		return UNET_ST_BAD_ADDR;	/* -EFAULT (SIGBUS), -EHWPOISON,
						 * a long-term pin refused */
	}
}

/* The final status of a transient failure that did not pass. */
static int transient_status(int err)
{
	return err == -ENOMEM ? UNET_ST_NO_MEMORY : UNET_ST_BUSY;
}

/*
 * Serves one miss.  Returns 0 (translated, or to be asked for again), the
 * enum unet_status that refuses the buffer, or -EAGAIN when a fault-in is
 * needed and the owner's fault budget is spent: the miss goes back to the
 * head of its queue and the context's work waits a little.
 */
static int serve_miss(struct unet_agent_ctx *ac, struct unet_miss *m)
{
	struct mm_struct *mm = ac->ctx->mm;
	unsigned long addr = m->vpn << PAGE_SHIFT;
	int attempt = 0, faults = 0, ret, err;

	/* The address space is gone: fail the use rather than retry it. */
	if (!mmget_not_zero(mm))
		return UNET_ST_BAD_ADDR;
	ret = vma_status(mm, addr, m->write);
	while (!ret) {
		ret = unet_nopin ? nopin_fill(ac, &ac->fill, m) :
				   pin_and_fill(ac, &ac->fill, m);
		if (ret >= 0)
			break;
		/*
		 * Not there (or not as it must be for the pin): fault it in
		 * as the process itself would, which may wait, then pin
		 * again.  A fault that fails is final unless it may pass.
		 */
		if (ret == -EFAULT && faults < 2) {
			if (!fault_budget_take(ac->uid)) {
				ret = -EAGAIN;
				break;
			}
			unet_nic_count(m->nic, UNET_NIC_faults_waiting, 1);
			ret = fault_in(mm, addr, m->write);
			unet_nic_count(m->nic, UNET_NIC_faults_waiting, -1);
			fault_budget_give(ac->uid);
			faults++;
			if (!ret)
				continue;
		}
		err = ret;
		ret = errno_status(err);
		if (ret != -EAGAIN)
			break;
		if (attempt == TRANSIENT_RETRIES || READ_ONCE(ac->dying)) {
			ret = transient_status(err);
			break;
		}
		unet_nic_count(m->nic, UNET_NIC_tlb_fault_transient, 1);
		msleep(1u << attempt++);
		faults = 0;
		ret = 0;
	}
	mmput(mm);
	return ret;
}

/*
 * A translation made by the sender itself, in its own system call, before
 * its message is copied: what the agent does for a miss, without the two
 * trips through workqueues (to the agent, and back to the engine) that a
 * miss costs.  Only what needs no fault and no pause: mmap_lock if it is
 * free, pages present as the pin needs them, ways free or idle and not
 * being filled by the agent, one attempt, no 2 MiB entry with
 * translate=pin (its 512 pins are the agent's).  What it may still wait
 * for is short and owes nothing to this engine: a pin's page locks or
 * migration, with translate=nopin an invalidation in progress, which
 * waits only for copies, and the caller holds no TLB entry.  Anything
 * else returns nonzero and is left to the miss the copy will raise,
 * which faults, retries and reports as usual.
 */
int unet_agent_fill_now(struct unet_endpoint *ep, u64 vpn, u32 pages,
			bool write)
{
	struct unet_context *ctx = ep->ctx;
	struct unet_agent_ctx *ac = ctx->agent;
	struct unet_miss m = {
		.owner = ac, .nic = ep->nic, .vpn = vpn,
		.pages = max(pages, 1u), .write = write,
	};
	ktime_t start = ktime_get();
	int ret;

	if (!ep->fill || !unet_ctx_is_current(ctx) || READ_ONCE(ac->dying))
		return -EAGAIN;
	ret = -EBUSY;
	if (mmap_read_trylock(ctx->mm)) {
		ret = vma_status_locked(ctx->mm, vpn << PAGE_SHIFT, write);
		mmap_read_unlock(ctx->mm);
	}
	if (!ret)
		ret = unet_nopin ? nopin_fill(ac, ep->fill, &m) :
				   pin_and_fill(ac, ep->fill, &m);
	if (ret) {
		unet_nic_count(ep->nic, UNET_NIC_tlb_sync_fill_fails, 1);
		return ret;
	}
	unet_nic_count(ep->nic, UNET_NIC_tlb_sync_fills, 1);
	unet_nic_count(ep->nic, UNET_NIC_tlb_sync_fill_ns,
		       ktime_to_ns(ktime_sub(ktime_get(), start)));
	return 0;
}

/* The next miss of @ac to serve: demand misses first.  Under agent_lock. */
static struct unet_miss *next_miss(struct unet_agent_ctx *ac)
{
	struct unet_miss *m;

	lockdep_assert_held(&agent_lock);
	m = list_first_entry_or_null(&ac->misses, struct unet_miss, node);
	if (!m) {
		m = list_first_entry_or_null(&ac->prefetches,
					     struct unet_miss, node);
		if (m)
			ac->nr_prefetches--;
	}
	if (m) {
		list_del_init(&m->node);
		m->in_service = true;
	}
	return m;
}

/*
 * What a miss holds, taken out of it before it is handed back: the moment
 * it is no longer queued its waiter may post it again.
 */
struct miss_refs {
	struct unet_nic *nic;
	struct unet_endpoint *waiter;
	struct unet_context *ctx;
	enum unet_engine engine;
	struct unet_miss *prefetch;	/* to free */
};

static struct miss_refs miss_refs(struct unet_miss *m)
{
	return (struct miss_refs){
		.nic = m->nic, .waiter = m->waiter, .ctx = m->owner->ctx,
		.engine = m->engine, .prefetch = m->prefetch ? m : NULL,
	};
}

static void miss_done(struct miss_refs *r)
{
	unet_nic_count(r->nic, UNET_NIC_misses_queued, -1);
	kfree(r->prefetch);
	unet_ep_put(r->waiter);
	unet_ctx_put(r->ctx);
}

static void agent_work(struct work_struct *work)
{
	struct unet_agent_ctx *ac = container_of(to_delayed_work(work),
						 struct unet_agent_ctx, work);
	struct unet_miss *m;

	for (;;) {
		struct miss_refs r;
		int status = 0;

		spin_lock_bh(&agent_lock);
		m = next_miss(ac);
		spin_unlock_bh(&agent_lock);
		if (!m)
			break;
		r = miss_refs(m);
		/* Once: a miss put back for its owner's fault budget. */
		if (!r.prefetch && !m->taken)
			unet_nic_count(r.nic, UNET_NIC_miss_wait_ns,
				       ktime_to_ns(ktime_sub(ktime_get(),
							     m->posted)));
		m->taken = true;
		if (!READ_ONCE(r.waiter->dead))
			status = serve_miss(ac, m);
		if (status == -EAGAIN) {
			/*
			 * The owner's fault budget is spent: back to the head
			 * of the queue, and try again shortly without holding
			 * a worker meanwhile.
			 */
			spin_lock_bh(&agent_lock);
			m->in_service = false;
			list_add(&m->node, m->prefetch ? &ac->prefetches :
							 &ac->misses);
			if (m->prefetch)
				ac->nr_prefetches++;
			spin_unlock_bh(&agent_lock);
			kick_ctx(ac, msecs_to_jiffies(10));
			break;
		}
		/*
		 * A prefetch's refusal is not reported: the buffer may never
		 * be used, and a demand miss will find the fault itself.
		 */
		if (!r.prefetch) {
			if (status) {
				unet_nic_count(r.nic, UNET_NIC_tlb_faults, 1);
				record_fault(r.waiter, r.engine,
					     ac->ctx->asid, m->vpn, m->write,
					     status);
			}
			count_miss_time(r.nic, m->posted);
		}
		spin_lock_bh(&agent_lock);
		m->queued = false;
		m->in_service = false;
		spin_unlock_bh(&agent_lock);
		/* Nothing waits on a prefetch: no engine to wake. */
		if (!r.prefetch)
			unet_nic_translation_ready(r.waiter, r.engine);
		miss_done(&r);
		cond_resched();
	}
	unet_ctx_put(ac->ctx);		/* the queued work's reference */
}

/* Takes a queued miss (not one in service) off its list.  Under agent_lock. */
static void unqueue(struct unet_miss *m)
{
	lockdep_assert_held(&agent_lock);
	list_del_init(&m->node);
	if (m->prefetch)
		m->owner->nr_prefetches--;
	m->queued = false;
}

void unet_agent_forget_ep(struct unet_endpoint *ep)
{
	struct unet_agent_ctx *ac = ep->ctx->agent;
	struct miss_refs g[UNET_ENGINES];
	struct unet_miss *m, *tmp;
	LIST_HEAD(prefetches);
	int e, n = 0;

	spin_lock_bh(&agent_lock);
	for (e = 0; e < UNET_ENGINES; e++) {
		m = ep->miss[e];
		if (m->queued && !m->in_service) {
			unqueue(m);
			g[n++] = miss_refs(m);
		}
	}
	list_for_each_entry_safe(m, tmp, &ac->prefetches, node)
		if (m->waiter == ep && !m->in_service) {
			unqueue(m);
			list_add(&m->node, &prefetches);
		}
	spin_unlock_bh(&agent_lock);
	/* Its engines are stopped: nobody to wake. */
	for (e = 0; e < n; e++)
		miss_done(&g[e]);
	list_for_each_entry_safe(m, tmp, &prefetches, node) {
		struct miss_refs r = miss_refs(m);

		list_del(&m->node);
		miss_done(&r);
	}
}

/* Drops every queued miss of a dying context, waking other waiters. */
static void purge_ctx(struct unet_agent_ctx *ac)
{
	struct unet_miss *m, *tmp;
	LIST_HEAD(demand);
	LIST_HEAD(prefetches);

	spin_lock_bh(&agent_lock);
	list_for_each_entry_safe(m, tmp, &ac->misses, node) {
		unqueue(m);
		list_add_tail(&m->node, &demand);
	}
	list_for_each_entry_safe(m, tmp, &ac->prefetches, node) {
		unqueue(m);
		list_add_tail(&m->node, &prefetches);
	}
	/*
	 * Demand misses of this context have waiters in other contexts
	 * (senders copying into its pages): they are refused.  Until the
	 * refusal is recorded their structures are ours, as if in service:
	 * nobody posts them again, and unet_agent_forget_ep() leaves them.
	 */
	list_for_each_entry(m, &demand, node) {
		m->queued = true;
		m->in_service = true;
	}
	spin_unlock_bh(&agent_lock);

	list_for_each_entry_safe(m, tmp, &demand, node) {
		struct miss_refs r = miss_refs(m);

		list_del_init(&m->node);
		record_fault(r.waiter, r.engine, ac->ctx->asid, m->vpn,
			     m->write, UNET_ST_BAD_ADDR);
		spin_lock_bh(&agent_lock);
		m->queued = false;
		m->in_service = false;
		spin_unlock_bh(&agent_lock);
		unet_nic_translation_ready(r.waiter, r.engine);
		miss_done(&r);
	}
	list_for_each_entry_safe(m, tmp, &prefetches, node) {
		struct miss_refs r = miss_refs(m);

		list_del(&m->node);
		miss_done(&r);
	}
}

int unet_agent_ep_init(struct unet_endpoint *ep)
{
	int e;

	for (e = 0; e < UNET_ENGINES; e++) {
		ep->miss[e] = kzalloc(sizeof(*ep->miss[e]), GFP_KERNEL_ACCOUNT);
		if (!ep->miss[e])
			return -ENOMEM;
		INIT_LIST_HEAD(&ep->miss[e]->node);
	}
	if (ep->mode == UNET_MODE_MM) {
		ep->fill = kzalloc(sizeof(*ep->fill), GFP_KERNEL_ACCOUNT);
		if (!ep->fill)
			return -ENOMEM;
		ep->fill->once = true;
	}
	return 0;
}

void unet_agent_ep_free(struct unet_endpoint *ep)
{
	int e;

	for (e = 0; e < UNET_ENGINES; e++)
		kfree(ep->miss[e]);
	kfree(ep->fill);
}

/* ------------------------------------------------------- coherence ---- */

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
 * allowed to block, waits until no DMA copy uses them: its own entries,
 * and dead ones that an earlier invalidation of an overlapping range (one
 * that runs at the same time, say reclaim beside MADV_DONTNEED) left to
 * their last copy.  When it may not block (the OOM reaper) and a copy
 * uses the range, it returns false; the entries stay dead until their
 * last copy ends.  With translate=pin their pages stay pinned, so nothing
 * can reuse them meanwhile; with translate=nopin the caller must fail the
 * invalidation instead.
 */
static bool invalidate_range(struct unet_context *ctx, u64 vpn_start,
			     u64 vpn_end, int cause, bool blockable)
{
	bool idle = true;
	u32 i, n, busy;

	for (i = 0; i < unet_nr_nics(); i++) {
		struct unet_nic *nic = unet_nic_by_index(i);

		spin_lock_bh(&nic->tlb_lock);
		n = unet_tlb_invalidate(&nic->tlb, ctx->asid, vpn_start,
					vpn_end, entry_release, nic, &busy);
		/* Dead entries in use: this range's, or another's. */
		busy = nic->tlb.dead;
		sync_tlb_counters(nic);
		spin_unlock_bh(&nic->tlb_lock);
		if (n)
			unet_nic_count(nic, cause, n);
		if (!busy || !range_busy(nic, ctx, vpn_start, vpn_end))
			continue;
		if (blockable)
			wait_event(nic->tlb_drain,
				   !range_busy(nic, ctx, vpn_start, vpn_end));
		else
			idle = false;
	}
	return idle;
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
	struct unet_agent_ctx *ac = container_of(mn, struct unet_agent_ctx,
						 mn);

	u64 start = range->start >> PAGE_SHIFT;
	u64 end = DIV_ROUND_UP_ULL(range->end, PAGE_SIZE);

	spin_lock_bh(&ac->inval_lock);
	inval_begin(&ac->inval, start, end);
	spin_unlock_bh(&ac->inval_lock);

	/* Never -EAGAIN: with invalidate_range_end that is a WARN in 6.1. */
	invalidate_range(ac->ctx, start, end, event_cause(range->event),
			 mmu_notifier_range_blockable(range));
	return 0;
}

static void unet_mn_invalidate_end(struct mmu_notifier *mn,
				   const struct mmu_notifier_range *range)
{
	struct unet_agent_ctx *ac = container_of(mn, struct unet_agent_ctx,
						 mn);

	spin_lock_bh(&ac->inval_lock);
	inval_end(&ac->inval);
	spin_unlock_bh(&ac->inval_lock);
}

static void mark_dying(struct unet_agent_ctx *ac)
{
	spin_lock_bh(&ac->inval_lock);
	spin_lock(&agent_lock);
	ac->dying = true;
	spin_unlock(&agent_lock);
	spin_unlock_bh(&ac->inval_lock);
}

/* The address space is being torn down: give back everything it had. */
static void unet_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct unet_agent_ctx *ac = container_of(mn, struct unet_agent_ctx,
						 mn);

	mark_dying(ac);
	invalidate_range(ac->ctx, 0, U64_MAX, UNET_NIC_tlb_inval_other, true);
}

static const struct mmu_notifier_ops unet_mn_ops = {
	.invalidate_range_start = unet_mn_invalidate_start,
	.invalidate_range_end = unet_mn_invalidate_end,
	.release = unet_mn_release,
};

/*
 * translate=nopin: the notifier keeps only release; invalidations come to
 * the interval notifier, which may fail one it cannot wait for.
 */
static const struct mmu_notifier_ops unet_mn_nopin_ops = {
	.release = unet_mn_release,
};

/*
 * An invalidation of the address space, for translate=nopin.  The entries
 * of the range go, and the pages they mapped stay mapped until this
 * returns: so it returns only when no copy uses them.  The OOM reaper
 * cannot wait; if a copy is in flight its invalidation fails (false, the
 * reaper's -EAGAIN) and is tried again later, the page untouched.  The
 * range is logged in the same sequence as the pinning notifier's (begun
 * and ended at once: mmu_interval_read_begin() is what waits for the
 * invalidations in progress), so that a fill retries only when an
 * invalidation of its own pages started.
 */
static bool unet_mni_invalidate(struct mmu_interval_notifier *mni,
				const struct mmu_notifier_range *range,
				unsigned long cur_seq)
{
	struct unet_agent_ctx *ac = container_of(mni, struct unet_agent_ctx,
						 mni);
	u64 start = range->start >> PAGE_SHIFT;
	u64 end = DIV_ROUND_UP_ULL(range->end, PAGE_SIZE);

	spin_lock_bh(&ac->inval_lock);
	mmu_interval_set_seq(mni, cur_seq);
	inval_begin(&ac->inval, start, end);
	inval_end(&ac->inval);
	spin_unlock_bh(&ac->inval_lock);

	return invalidate_range(ac->ctx, start, end, event_cause(range->event),
				mmu_notifier_range_blockable(range));
}

static const struct mmu_interval_notifier_ops unet_mni_ops = {
	.invalidate = unet_mni_invalidate,
};

int unet_agent_ctx_init(struct unet_context *ctx)
{
	struct unet_agent_ctx *ac;
	int ret;

	ac = kzalloc(sizeof(*ac), GFP_KERNEL_ACCOUNT);
	if (!ac)
		return -ENOMEM;
	ac->ctx = ctx;
	spin_lock_init(&ac->inval_lock);
	INIT_LIST_HEAD(&ac->misses);
	INIT_LIST_HEAD(&ac->prefetches);
	INIT_DELAYED_WORK(&ac->work, agent_work);
	ac->uid = current_uid();
	ac->fill.huge = kmalloc_array(UNET_TLB_HUGE_PAGES,
				      sizeof(*ac->fill.huge),
				      GFP_KERNEL_ACCOUNT);
	if (!ac->fill.huge) {
		kfree(ac);
		return -ENOMEM;
	}
	ac->mn.ops = unet_nopin ? &unet_mn_nopin_ops : &unet_mn_ops;
	ret = mmu_notifier_register(&ac->mn, ctx->mm);
	if (ret)
		goto err_free;
	ac->mn_registered = true;
	if (unet_nopin) {
		/* Every user address the DMA engine accepts. */
		ret = mmu_interval_notifier_insert(&ac->mni, ctx->mm, 0,
						   TASK_SIZE_MAX, &unet_mni_ops);
		if (ret)
			goto err_unregister;
		ac->mni_inserted = true;
	}
	ctx->agent = ac;
	return 0;

err_unregister:
	mmu_notifier_unregister(&ac->mn, ctx->mm);
err_free:
	kfree(ac->fill.huge);
	kfree(ac);
	return ret;
}

void unet_agent_ctx_exit(struct unet_context *ctx)
{
	struct unet_agent_ctx *ac = ctx->agent;

	mark_dying(ac);
	purge_ctx(ac);
	if (ac->mn_registered)
		mmu_notifier_unregister(&ac->mn, ctx->mm);
	ac->mn_registered = false;
	/*
	 * A miss still in service may read the page tables with it (its
	 * mmget keeps the mm) but finds the context dying before it
	 * installs anything.
	 */
	if (ac->mni_inserted)
		mmu_interval_notifier_remove(&ac->mni);
	ac->mni_inserted = false;
	invalidate_range(ctx, 0, U64_MAX, UNET_NIC_tlb_inval_other, true);
}

/*
 * The context's last reference is gone: no miss of it is queued or in
 * service, so nothing can have installed an entry since the exit above.
 */
void unet_agent_ctx_free(struct unet_context *ctx)
{
	struct unet_agent_ctx *ac = ctx->agent;

	if (!ac)
		return;
	WARN_ON(!list_empty(&ac->misses) || !list_empty(&ac->prefetches));
	WARN_ON(atomic_long_read(&ac->pinned));
	kfree(ac->fill.huge);
	kfree(ac);
	ctx->agent = NULL;
}

long unet_agent_ctx_pinned(struct unet_context *ctx)
{
	return atomic_long_read(&ctx->agent->pinned);
}

/* -------------------------------------------------------- shrinker ---- */

/*
 * The shrinker counts and frees pages, not entries: pinned pages are what
 * reclaim gains (a huge entry holds 512 of them), and the kernel scales its
 * scan by the count.  Entries in use by a copy are skipped by the scan.
 */
static unsigned long unet_shrink_count(struct shrinker *s,
				       struct shrink_control *sc)
{
	struct unet_nic *nic = unet_shrinker_private(s);
	s64 n = atomic64_read(&nic->ctr[UNET_NIC_pinned_pages]);

	/* Pin-free entries hold no memory: nothing to give back. */
	if (unet_nopin)
		return 0;
	return n > 0 ? n : SHRINK_EMPTY;
}

static unsigned long unet_shrink_scan(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct unet_nic *nic = unet_shrinker_private(s);
	u32 n;

	spin_lock_bh(&nic->tlb_lock);
	n = unet_tlb_evict_cold(&nic->tlb, min_t(unsigned long,
						 sc->nr_to_scan, U32_MAX),
				entry_release, nic);
	sync_tlb_counters(nic);
	spin_unlock_bh(&nic->tlb_lock);
	unet_nic_count(nic, UNET_NIC_tlb_shrunk, n);
	return n ?: SHRINK_STOP;
}

int unet_agent_nic_init(struct unet_nic *nic)
{
	struct unet_tlb_entry *mem;
	struct unet_agent_nic *an;
	u32 sets;
	int ret;

	if (unet_tlb_geometry(unet_tlb_size, unet_tlb_ways, &sets))
		return -EINVAL;
	an = kzalloc(sizeof(*an), GFP_KERNEL);
	mem = kvcalloc(unet_tlb_size, sizeof(*mem), GFP_KERNEL);
	if (!an || !mem) {
		ret = -ENOMEM;
		goto err;
	}
	spin_lock_init(&nic->tlb_lock);
	unet_tlb_init(&nic->tlb, mem, sets, unet_tlb_ways);
	nic->tlb.policy = unet_tlb_policy;
	init_waitqueue_head(&nic->tlb_drain);

	ret = -ENOMEM;
	an->shrinker = unet_shrinker_create(nic, "unetmm-nic%u", nic->index);
	if (!an->shrinker)
		goto err;
	an->shrinker->count_objects = unet_shrink_count;
	an->shrinker->scan_objects = unet_shrink_scan;
	/*
	 * Zero seeks: every reclaim pass may take half of the pinned pages,
	 * coldest first.  A scan in proportion to the priority, as for page
	 * cache, takes nothing from a TLB's few MiB at the priority reclaim
	 * keeps with MGLRU (6.12 enables it), however hard it swaps; yet a
	 * pinned page is one reclaim cannot touch at all, and an entry costs
	 * one miss, no I/O, to refill.
	 */
	an->shrinker->seeks = 0;
	ret = unet_shrinker_register(an->shrinker);
	if (ret)
		goto err_shrinker;
	an->shrinker_registered = true;
	nic->agent = an;
	return 0;

err_shrinker:
	unet_shrinker_free(an->shrinker, false);
err:
	kvfree(mem);
	kfree(an);
	return ret;
}

void unet_agent_nic_exit(struct unet_nic *nic)
{
	struct unet_agent_nic *an = nic->agent;

	if (an && an->shrinker)
		unet_shrinker_free(an->shrinker, an->shrinker_registered);
	WARN_ON(nic->tlb.valid);
	kvfree(nic->tlb.entry);
	kfree(an);
	nic->agent = NULL;
}

int unet_agent_init(void)
{
	/*
	 * Unbound, and as many at once as the workqueue allows: one item per
	 * context with misses, and an item may wait in a fault for long.
	 * High priority: the agent is the NIC's interrupt handler, and must
	 * not queue behind the very processes that busy-poll for its answer.
	 * No WQ_MEM_RECLAIM: nothing in reclaim waits for a miss, and a
	 * rescuer thread must never end up running a blocking pin.
	 */
	agent_wq = alloc_workqueue("unetmm-agent", WQ_UNBOUND | WQ_HIGHPRI,
				   WQ_UNBOUND_MAX_ACTIVE);
	return agent_wq ? 0 : -ENOMEM;
}

/* Every context is gone: their last works have run or are running. */
void unet_agent_exit(void)
{
	destroy_workqueue(agent_wq);
	WARN_ON(!xa_empty(&user_faults));
	xa_destroy(&user_faults);
}
