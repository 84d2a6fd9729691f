// SPDX-License-Identifier: GPL-2.0
/*
 * TLB lookup, insert and replacement.  See tlb.h for why this file is pure
 * logic.  Entries that a DMA copy is using (users > 0) are never evicted;
 * an invalidation that finds one busy marks it dead so that no new lookup
 * hits it, and the last user hands it to the release callback.
 */
#include "tlb.h"

static inline bool is_pow2(u32 x)
{
	return x && !(x & (x - 1));
}

/* Checks a requested geometry; the module and the tests share the rules. */
int unet_tlb_geometry(u32 entries, u32 ways, u32 *sets)
{
	if (!is_pow2(entries) || !is_pow2(ways) || ways > entries ||
	    entries > (1u << 20) || ways > 64)
		return -1;
	*sets = entries / ways;
	return 0;
}

void unet_tlb_init(struct unet_tlb *tlb, struct unet_tlb_entry *mem,
		   u32 sets, u32 ways)
{
	u32 i;

	tlb->sets = sets;
	tlb->ways = ways;
	tlb->valid = 0;
	tlb->huge = 0;
	tlb->dead = 0;
	tlb->clock = 0;
	tlb->ahead_used = 0;
	tlb->ahead_wasted = 0;
	tlb->batch = UNET_TLB_BATCH_INIT;
	tlb->batch_used = 0;
	tlb->batch_wasted = 0;
	tlb->batch_calls = 0;
	tlb->policy = UNET_TLB_LRU;
	tlb->fills = 0;
	tlb->entry = mem;
	for (i = 0; i < sets * ways; i++) {
		struct unet_tlb_entry empty = { 0 };

		mem[i] = empty;
	}
}

/*
 * Spread consecutive pages of one space over sets; mix in the space id.
 * A huge entry is keyed by its huge page number, salted so that it does
 * not share a set with the 4 KiB page of the same number.
 */
static u32 set_of(const struct unet_tlb *tlb, u32 asid, u64 vpn, u32 order)
{
	u64 key = order ? (vpn >> order) ^ 0xa5a5a5a5a5a5ull : vpn;
	u64 h = key ^ ((u64)asid * 0x9e3779b97f4a7c15ull);

	h ^= h >> 29;
	return (u32)(h & (tlb->sets - 1));
}

static struct unet_tlb_entry *set_base(struct unet_tlb *tlb, u32 set)
{
	return &tlb->entry[(size_t)set * tlb->ways];
}

static struct unet_tlb_entry *set_for(struct unet_tlb *tlb, u32 asid,
				      u64 vpn, u32 order)
{
	return set_base(tlb, set_of(tlb, asid, vpn, order));
}

static bool live(const struct unet_tlb_entry *e)
{
	return (e->flags & (UNET_TLB_VALID | UNET_TLB_DEAD)) == UNET_TLB_VALID;
}

/* @vpn is aligned to @order. */
static bool matches(const struct unet_tlb_entry *e, u32 asid, u64 vpn,
		    u32 order)
{
	return live(e) && e->asid == asid && e->vpn == vpn &&
	       e->order == order;
}

static bool overlaps(const struct unet_tlb_entry *e, u32 asid, u64 start,
		     u64 end)
{
	return e->asid == asid && e->vpn < end &&
	       e->vpn + (unet_tlb_span(e) - 1) >= start;
}

static u64 align_down(u64 vpn, u32 order)
{
	return vpn & ~((1ull << order) - 1);
}

/* A live entry a copy is using: lookups skip it, its last user frees it. */
static void mark_dead(struct unet_tlb *tlb, struct unet_tlb_entry *e)
{
	e->flags |= UNET_TLB_DEAD;
	tlb->dead++;
}

static void release_entry(struct unet_tlb *tlb, struct unet_tlb_entry *e,
			  unet_tlb_release_fn release, void *arg)
{
	if (e->flags & UNET_TLB_AHEAD)
		tlb->ahead_wasted++;
	if (e->order)
		tlb->huge--;
	if (e->flags & UNET_TLB_DEAD)
		tlb->dead--;
	release(e, arg);
	e->flags = 0;
	e->page = NULL;
	e->owner = NULL;
	e->users = 0;
	e->order = 0;
	tlb->valid--;
}

/* The live entry of @order that maps @vpn, if any. */
static struct unet_tlb_entry *find(struct unet_tlb *tlb, u32 asid, u64 vpn,
				   u32 order)
{
	u64 base = align_down(vpn, order);
	struct unet_tlb_entry *e = set_for(tlb, asid, base, order);
	u32 w;

	for (w = 0; w < tlb->ways; w++, e++)
		if (matches(e, asid, base, order))
			return e;
	return NULL;
}

/* A use: to the warm end, unless on probation and still in its burst. */
static void touch_entry(struct unet_tlb *tlb, struct unet_tlb_entry *e)
{
	u64 now = ++tlb->clock;

	if (e->flags & UNET_TLB_PROBATION) {
		if (now - e->filled < UNET_TLB_SR_REUSE)
			return;
		e->flags &= ~UNET_TLB_PROBATION;
	}
	e->stamp = now;
}

/*
 * A hit takes a user reference: the caller copies, then unet_tlb_put().
 * A write lookup hits only a writable entry.  The page's own entry is
 * looked for first, then its huge page's.
 */
struct unet_tlb_entry *unet_tlb_lookup(struct unet_tlb *tlb, u32 asid,
				       u64 vpn, bool write)
{
	static const u32 orders[] = { 0, UNET_TLB_HUGE_ORDER };
	u32 i;

	for (i = 0; i < 2; i++) {
		struct unet_tlb_entry *e = find(tlb, asid, vpn, orders[i]);

		if (!e || (write && !(e->flags & UNET_TLB_WRITABLE)))
			continue;
		if (e->flags & UNET_TLB_AHEAD) {
			e->flags &= ~UNET_TLB_AHEAD;
			tlb->ahead_used++;
		}
		touch_entry(tlb, e);
		e->users++;
		return e;
	}
	return NULL;
}

/* A lookup that takes no reference: is the translation there? */
bool unet_tlb_probe(struct unet_tlb *tlb, u32 asid, u64 vpn, bool write)
{
	struct unet_tlb_entry *e = unet_tlb_lookup(tlb, asid, vpn, write);

	if (e)
		e->users--;
	return e != NULL;
}

/*
 * Whether a translation is there, changing nothing: no use stamp, no
 * reference, and an entry filled ahead stays unused.
 */
bool unet_tlb_peek(const struct unet_tlb *tlb, u32 asid, u64 vpn, bool write)
{
	static const u32 orders[] = { 0, UNET_TLB_HUGE_ORDER };
	u32 i;

	for (i = 0; i < 2; i++) {
		const struct unet_tlb_entry *e;

		e = find((struct unet_tlb *)tlb, asid, vpn, orders[i]);
		if (e && (!write || (e->flags & UNET_TLB_WRITABLE)))
			return true;
	}
	return false;
}

/*
 * Whether a fill of @vpn's 4 KiB page is in progress: a way of its set
 * reserved for it and not filled yet.  Lookups do not see such a way, so
 * without this a second fill of the page (a sender's own beside the
 * agent's) would pin it again, and the later fill would release the
 * earlier one's entry as a duplicate.
 */
bool unet_tlb_filling(const struct unet_tlb *tlb, u32 asid, u64 vpn)
{
	const struct unet_tlb_entry *e = set_for((struct unet_tlb *)tlb, asid,
						 vpn, 0);
	u32 w;

	for (w = 0; w < tlb->ways; w++, e++)
		if ((e->flags & UNET_TLB_RESERVED) && e->asid == asid &&
		    e->vpn == vpn && !e->order)
			return true;
	return false;
}

/*
 * How many pages a miss may translate now, at most @max (at least 1):
 * the batch adapted to the fate of the pages filled ahead since the last
 * adaptation (see UNET_TLB_BATCH_WINDOW).
 */
u32 unet_tlb_batch(struct unet_tlb *tlb, u32 max)
{
	u64 used = tlb->ahead_used - tlb->batch_used;
	u64 wasted = tlb->ahead_wasted - tlb->batch_wasted;
	u64 seen = used + wasted;
	bool adapted = true;

	if (max < UNET_TLB_BATCH_MIN)
		max = UNET_TLB_BATCH_MIN;
	tlb->batch_calls++;
	if (seen >= UNET_TLB_BATCH_WINDOW) {
		if (wasted * 4 > seen)
			tlb->batch /= 2;
		else if (wasted * 16 < seen)
			tlb->batch *= 2;
	} else if (tlb->batch <= UNET_TLB_BATCH_MIN &&
		   tlb->batch_calls >= UNET_TLB_BATCH_WINDOW) {
		tlb->batch *= 2;	/* a probe: see whether it pays again */
	} else {
		adapted = false;
	}
	if (adapted) {
		tlb->batch_used = tlb->ahead_used;
		tlb->batch_wasted = tlb->ahead_wasted;
		tlb->batch_calls = 0;
	}
	if (tlb->batch < UNET_TLB_BATCH_MIN)
		tlb->batch = UNET_TLB_BATCH_MIN;
	if (tlb->batch > max)
		tlb->batch = max;
	return tlb->batch;
}

void unet_tlb_put(struct unet_tlb *tlb, struct unet_tlb_entry *e,
		  unet_tlb_release_fn release, void *arg)
{
	if (--e->users == 0 && (e->flags & UNET_TLB_DEAD))
		release_entry(tlb, e, release, arg);
}

/*
 * How long (in clock ticks) the "ahead" policy keeps a page translated
 * ahead of use and not used yet; 0 under the others.
 */
static u64 ahead_keep(const struct unet_tlb *tlb)
{
	if (tlb->policy != UNET_TLB_AHEAD_FIRST)
		return 0;
	return (u64)UNET_TLB_AHEAD_KEEP * unet_tlb_entries(tlb);
}

/* Whether @a is a better victim than @b; @keep is ahead_keep(tlb). */
static bool colder(const struct unet_tlb *tlb, u64 keep,
		   const struct unet_tlb_entry *a,
		   const struct unet_tlb_entry *b)
{
	if (keep) {
		bool pa = (a->flags & UNET_TLB_AHEAD) &&
			  tlb->clock - a->filled < keep;
		bool pb = (b->flags & UNET_TLB_AHEAD) &&
			  tlb->clock - b->filled < keep;

		if (pa != pb)
			return pb;
	}
	return a->stamp < b->stamp;
}

/*
 * Holds a way of the set of (@vpn, @order) for a translation about to be
 * made, so that pinned pages never exceed the capacity, not even while
 * several pins are in flight: its own idle entry (an upgrade to
 * writable), else a free way, else the least recently used idle one,
 * evicted now.  @vpn is aligned to @order.  Returns NULL when every way is
 * busy, dead or reserved.  The slot is invisible to lookups until
 * unet_tlb_fill(), or freed by unet_tlb_unreserve() if the pin fails.
 */
struct unet_tlb_entry *unet_tlb_reserve(struct unet_tlb *tlb, u32 asid,
					u64 vpn, u32 order,
					unet_tlb_release_fn release,
					void *arg, bool *evicted)
{
	struct unet_tlb_entry *e = set_for(tlb, asid, vpn, order);
	struct unet_tlb_entry *victim = NULL, *lru = NULL;
	u64 keep = ahead_keep(tlb);
	u32 w;

	*evicted = false;
	for (w = 0; w < tlb->ways; w++) {
		struct unet_tlb_entry *c = &e[w];

		if (matches(c, asid, vpn, order) && !c->users) {
			victim = c;
			break;
		}
		if (!c->flags) {
			if (!victim)
				victim = c;
			continue;
		}
		if (c->users || (c->flags & (UNET_TLB_DEAD | UNET_TLB_RESERVED)))
			continue;
		if (!lru || colder(tlb, keep, c, lru))
			lru = c;
	}
	if (!victim) {
		victim = lru;
		if (!victim)
			return NULL;
		*evicted = true;
	}
	if (victim->flags & UNET_TLB_VALID)
		release_entry(tlb, victim, release, arg);
	if (order)
		tlb->huge++;
	victim->flags = UNET_TLB_RESERVED;
	victim->asid = asid;
	victim->vpn = vpn;
	victim->order = order;
	return victim;
}

/*
 * Installs the translation in its reserved slot.  An older entry for the
 * same key (read-only, busy when the slot was reserved) must no longer
 * answer lookups: released if idle, else dead until its last user.  An
 * entry filled @ahead of use is marked so until its first lookup.
 */
void unet_tlb_fill(struct unet_tlb *tlb, struct unet_tlb_entry *slot,
		   void *page, void *owner, bool writable, bool ahead,
		   unet_tlb_release_fn release, void *arg)
{
	struct unet_tlb_entry *e = set_for(tlb, slot->asid, slot->vpn,
					   slot->order);
	u32 w;

	for (w = 0; w < tlb->ways; w++) {
		if (&e[w] == slot ||
		    !matches(&e[w], slot->asid, slot->vpn, slot->order))
			continue;
		if (e[w].users)
			mark_dead(tlb, &e[w]);
		else
			release_entry(tlb, &e[w], release, arg);
	}
	slot->page = page;
	slot->owner = owner;
	slot->flags = UNET_TLB_VALID | (writable ? UNET_TLB_WRITABLE : 0) |
		      (ahead ? UNET_TLB_AHEAD : 0);
	slot->filled = ++tlb->clock;
	slot->stamp = slot->filled;
	if (tlb->policy == UNET_TLB_SCAN_RESISTANT &&
	    tlb->fills++ % UNET_TLB_SR_MRU_EVERY) {
		slot->flags |= UNET_TLB_PROBATION;
		slot->stamp = 0;
	}
	slot->users = 0;
	tlb->valid++;
}

void unet_tlb_unreserve(struct unet_tlb *tlb, struct unet_tlb_entry *slot)
{
	if (slot->order)
		tlb->huge--;
	slot->flags = 0;
	slot->order = 0;
}

static u32 invalidate_entry(struct unet_tlb *tlb, struct unet_tlb_entry *e,
			    unet_tlb_release_fn release, void *arg, u32 *busy)
{
	if (e->users) {
		mark_dead(tlb, e);
		(*busy)++;
		return 1;
	}
	release_entry(tlb, e, release, arg);
	return 1;
}

/* Invalidates the entries of one set of @order that overlap the range. */
static u32 invalidate_set(struct unet_tlb *tlb, u32 asid, u64 base,
			  u32 order, u64 vpn_start, u64 vpn_end,
			  unet_tlb_release_fn release, void *arg, u32 *busy)
{
	struct unet_tlb_entry *e = set_for(tlb, asid, base, order);
	u32 w, n = 0;

	for (w = 0; w < tlb->ways; w++)
		if (live(&e[w]) && e[w].order == order &&
		    overlaps(&e[w], asid, vpn_start, vpn_end))
			n += invalidate_entry(tlb, &e[w], release, arg, busy);
	return n;
}

/*
 * Drops every live entry of @asid that maps a page in [vpn_start,
 * vpn_end).  Busy entries are marked dead and counted in *busy: the
 * caller must wait for their users before it may assume the pages are no
 * longer touched.  Small ranges probe their sets (each page's, and each
 * huge page's that overlaps); large ones sweep the whole array.
 */
u32 unet_tlb_invalidate(struct unet_tlb *tlb, u32 asid, u64 vpn_start,
			u64 vpn_end, unet_tlb_release_fn release, void *arg,
			u32 *busy)
{
	u32 n = 0, i, total = unet_tlb_entries(tlb);
	u64 vpn, last;

	*busy = 0;
	if (vpn_end <= vpn_start || !tlb->valid)
		return 0;
	if (vpn_end - vpn_start <= tlb->sets) {
		for (vpn = vpn_start; vpn < vpn_end; vpn++)
			n += invalidate_set(tlb, asid, vpn, 0, vpn_start,
					    vpn_end, release, arg, busy);
		/* Counted, not compared: the top huge page must not wrap. */
		last = align_down(vpn_end - 1, UNET_TLB_HUGE_ORDER);
		for (vpn = align_down(vpn_start, UNET_TLB_HUGE_ORDER); ;
		     vpn += UNET_TLB_HUGE_PAGES) {
			n += invalidate_set(tlb, asid, vpn,
					    UNET_TLB_HUGE_ORDER, vpn_start,
					    vpn_end, release, arg, busy);
			if (vpn == last)
				break;
		}
		return n;
	}
	for (i = 0; i < total; i++) {
		struct unet_tlb_entry *e = &tlb->entry[i];

		if (live(e) && overlaps(e, asid, vpn_start, vpn_end))
			n += invalidate_entry(tlb, e, release, arg, busy);
	}
	return n;
}

/*
 * Gives back idle entries, coldest first, until at least @nr pages are
 * released (a huge entry counts all its pages: they are what the shrinker
 * gains); returns the pages released.  Sweeps ever younger age slices
 * (older than half the clock, then three quarters, ...): an approximation
 * of LRU that costs a few passes over the array instead of a sort, and
 * never takes a hot entry before a cold one of an older slice.
 */
u32 unet_tlb_evict_cold(struct unet_tlb *tlb, u32 nr,
			unet_tlb_release_fn release, void *arg)
{
	u32 total = unet_tlb_entries(tlb), i, n = 0;
	u64 threshold = 0;
	int shift;

	for (shift = 1; shift <= 64 && n < nr && threshold < tlb->clock;
	     shift++) {
		threshold = tlb->clock -
			    (shift < 64 ? tlb->clock >> shift : 0);
		for (i = 0; i < total && n < nr; i++) {
			struct unet_tlb_entry *e = &tlb->entry[i];

			if (!(e->flags & UNET_TLB_VALID) || e->users ||
			    (e->flags & UNET_TLB_DEAD) || e->stamp > threshold)
				continue;
			n += unet_tlb_span(e);
			release_entry(tlb, e, release, arg);
		}
	}
	return n;
}

/*
 * Dead entries of @asid overlapping [vpn_start, vpn_end) that a DMA copy
 * still uses: an invalidation may return only when there are none.
 */
u32 unet_tlb_busy(const struct unet_tlb *tlb, u32 asid, u64 vpn_start,
		  u64 vpn_end)
{
	u32 total = unet_tlb_entries(tlb), i, n = 0;

	for (i = 0; i < total; i++) {
		const struct unet_tlb_entry *e = &tlb->entry[i];

		if ((e->flags & (UNET_TLB_VALID | UNET_TLB_DEAD)) ==
		    (UNET_TLB_VALID | UNET_TLB_DEAD) && e->users &&
		    overlaps(e, asid, vpn_start, vpn_end))
			n++;
	}
	return n;
}

/* Entries holding a translation, dead ones included (all spaces if asid 0). */
u32 unet_tlb_count(const struct unet_tlb *tlb, u32 asid)
{
	u32 total = unet_tlb_entries(tlb), i, n = 0;

	for (i = 0; i < total; i++) {
		const struct unet_tlb_entry *e = &tlb->entry[i];

		if ((e->flags & UNET_TLB_VALID) && (!asid || e->asid == asid))
			n++;
	}
	return n;
}
