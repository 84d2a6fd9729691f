// SPDX-License-Identifier: GPL-2.0
/* The NIC's TLB: kernel/tlb/tlb.[ch]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../kernel/tlb/tlb.h"

#define NPAGES		1024
#define MAX_ENTRIES	4096

/* Fake pages: the TLB only stores and hands back the pointers. */
static char pagemem[NPAGES];
#define PAGE(i)		((void *)&pagemem[i])
#define PAGE_NR(p)	((int)((char *)(p) - pagemem))

static struct unet_tlb_entry mem[MAX_ENTRIES];

/* What the release callback saw. */
struct rel {
	int count[NPAGES];
	int total;
	int last;
	bool bad;		/* called with something it must not be */
	char why[160];
};

static struct rel rel;

static void release_cb(struct unet_tlb_entry *e, void *arg)
{
	struct rel *r = arg;
	int nr;

	if (r != &rel) {
		r = &rel;
		r->bad = true;
		strcpy(r->why, "wrong arg");
	}
	if ((char *)e->page < pagemem || (char *)e->page >= pagemem + NPAGES) {
		r->bad = true;
		strcpy(r->why, "page pointer not one of ours");
		return;
	}
	nr = PAGE_NR(e->page);
	if (!(e->flags & UNET_TLB_VALID) || e->users) {
		r->bad = true;
		snprintf(r->why, sizeof(r->why),
			 "page %d released with flags %#x users %u",
			 nr, e->flags, e->users);
	}
	r->count[nr]++;
	r->total++;
	r->last = nr;
}

static void rel_reset(void)
{
	memset(&rel, 0, sizeof(rel));
	rel.last = -1;
}

static void setup(struct unet_tlb *t, u32 entries, u32 ways)
{
	u32 sets = 0;

	rel_reset();
	memset(mem, 0x5a, sizeof(mem));		/* init must clear it */
	if (unet_tlb_geometry(entries, ways, &sets) || entries > MAX_ENTRIES)
		abort();
	unet_tlb_init(t, mem, sets, ways);
}

/*
 * tlb->valid is the number of VALID entries; DEAD ones are VALID and busy,
 * and tlb->dead counts them; empty ones are all zero.  Returns false (and records why) if broken.
 */
static bool invariant_at(const struct unet_tlb *t, const char *file, int line)
{
	u32 i, n = 0, huge = 0, dead = 0, total = unet_tlb_entries(t);

	if (!unit_check(!rel.bad, file, line, "release callback: %s", rel.why))
		return false;
	for (i = 0; i < total; i++) {
		const struct unet_tlb_entry *e = &t->entry[i];

		if (e->order && !unit_check(e->flags, file, line,
					    "empty entry %u of order %u", i,
					    e->order))
			return false;
		huge += e->order != 0;
		if (e->flags & UNET_TLB_VALID) {
			n++;
			dead += !!(e->flags & UNET_TLB_DEAD);
			if (!unit_check(e->page != NULL, file, line,
					"entry %u valid without a page", i))
				return false;
			if (!unit_check(!(e->flags & UNET_TLB_DEAD) || e->users,
					file, line,
					"entry %u dead with no users", i))
				return false;
		} else if (!unit_check((!e->flags ||
					e->flags == UNET_TLB_RESERVED) &&
				       !e->users && !e->page,
				       file, line,
				       "empty entry %u: flags %#x users %u page %p",
				       i, e->flags, e->users, e->page)) {
			return false;
		}
	}
	if (!unit_check(huge == t->huge, file, line,
			"tlb->huge %u, huge entries held %u", t->huge, huge))
		return false;
	if (!unit_check(dead == t->dead, file, line,
			"tlb->dead %u, dead entries %u", t->dead, dead))
		return false;
	return unit_check(n == t->valid && t->valid <= total &&
			  unet_tlb_count(t, 0) == t->valid, file, line,
			  "tlb->valid %u, VALID entries %u, count(0) %u, capacity %u",
			  t->valid, n, unet_tlb_count(t, 0), total);
}

#define INVARIANT(t)	invariant_at(t, __FILE__, __LINE__)

/*
 * What the agent does for a miss, minus the pinning in between: reserve a
 * way, then fill it.  A busy entry for the same page refuses (the agent
 * never gets there: it serves one miss per address space at a time).
 */
static struct unet_tlb_entry *tlb_insert(struct unet_tlb *t, u32 asid,
					 u64 vpn, void *page, void *owner,
					 bool writable,
					 unet_tlb_release_fn release, void *arg,
					 bool *evicted)
{
	struct unet_tlb_entry *slot;
	u32 i;

	*evicted = false;
	for (i = 0; i < unet_tlb_entries(t); i++) {
		const struct unet_tlb_entry *e = &t->entry[i];

		if ((e->flags & (UNET_TLB_VALID | UNET_TLB_DEAD)) ==
		    UNET_TLB_VALID && e->asid == asid && e->vpn == vpn &&
		    e->users)
			return NULL;
	}
	slot = unet_tlb_reserve(t, asid, vpn, 0, release, arg, evicted);
	if (slot)
		unet_tlb_fill(t, slot, page, owner, writable, false, release, arg);
	return slot;
}

static struct unet_tlb_entry *ins(struct unet_tlb *t, u32 asid, u64 vpn,
				  int page, bool writable, bool *evicted)
{
	return tlb_insert(t, asid, vpn, PAGE(page), NULL, writable,
			       release_cb, &rel, evicted);
}

/* Looks up and drops the reference at once: a "touch". */
static struct unet_tlb_entry *touch(struct unet_tlb *t, u32 asid, u64 vpn,
				    bool write)
{
	struct unet_tlb_entry *e = unet_tlb_lookup(t, asid, vpn, write);

	if (e)
		unet_tlb_put(t, e, release_cb, &rel);
	return e;
}

/* The page a read lookup finds, -1 on a miss; takes no reference. */
static int page_of(struct unet_tlb *t, u32 asid, u64 vpn)
{
	struct unet_tlb_entry *e = touch(t, asid, vpn, false);

	return e ? PAGE_NR(e->page) : -1;
}

static u32 inval(struct unet_tlb *t, u32 asid, u64 start, u64 end, u32 *busy)
{
	*busy = 0xdead;
	return unet_tlb_invalidate(t, asid, start, end, release_cb, &rel, busy);
}

TEST(tlb_geometry)
{
	u32 sets = 12345;

	CHECK_EQ(unet_tlb_geometry(8, 2, &sets), 0);
	CHECK_EQ(sets, 4);
	CHECK_EQ(unet_tlb_geometry(1, 1, &sets), 0);
	CHECK_EQ(sets, 1);
	CHECK_EQ(unet_tlb_geometry(16, 16, &sets), 0);
	CHECK_EQ(sets, 1);
	CHECK_EQ(unet_tlb_geometry(1024, 4, &sets), 0);
	CHECK_EQ(sets, 256);
	CHECK_EQ(unet_tlb_geometry(1u << 20, 64, &sets), 0);
	CHECK_EQ(sets, 1u << 14);
	CHECK_EQ(unet_tlb_geometry(64, 64, &sets), 0);
	CHECK_EQ(sets, 1);

	/* Zero and non-powers of two. */
	CHECK_EQ(unet_tlb_geometry(0, 1, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(0, 0, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(8, 0, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(12, 4, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(1000, 8, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(16, 3, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(16, 6, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(UINT32_MAX, 4, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(16, UINT32_MAX, &sets), -1);
	/* More ways than entries. */
	CHECK_EQ(unet_tlb_geometry(4, 8, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(1, 2, &sets), -1);
	/* Too big. */
	CHECK_EQ(unet_tlb_geometry(1u << 21, 4, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(1u << 31, 4, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(256, 128, &sets), -1);
	CHECK_EQ(unet_tlb_geometry(1u << 20, 1u << 20, &sets), -1);
}

TEST(tlb_init_clears)
{
	struct unet_tlb t;
	u32 i;

	setup(&t, 64, 4);
	CHECK_EQ(t.sets, 16);
	CHECK_EQ(t.ways, 4);
	CHECK_EQ(t.valid, 0);
	CHECK_EQ(unet_tlb_entries(&t), 64);
	for (i = 0; i < 64; i++)
		CHECK(!mem[i].flags && !mem[i].users && !mem[i].page &&
		      !mem[i].owner);
	INVARIANT(&t);
}

TEST(tlb_lookup_miss_empty)
{
	struct unet_tlb t;
	u32 busy;
	u64 vpn;

	setup(&t, 64, 4);
	for (vpn = 0; vpn < 200; vpn++) {
		CHECK(!unet_tlb_lookup(&t, 1, vpn, false));
		CHECK(!unet_tlb_lookup(&t, 1, vpn, true));
		CHECK(!unet_tlb_lookup(&t, 0, vpn, false));
	}
	CHECK(!unet_tlb_lookup(&t, UINT32_MAX, UINT64_MAX, false));
	CHECK_EQ(unet_tlb_count(&t, 0), 0);
	CHECK_EQ(unet_tlb_count(&t, 1), 0);
	CHECK_EQ(inval(&t, 1, 0, UINT64_MAX, &busy), 0);
	CHECK_EQ(busy, 0);
	CHECK_EQ(unet_tlb_evict_cold(&t, 100, release_cb, &rel), 0);
	CHECK_EQ(rel.total, 0);
	INVARIANT(&t);
}

TEST(tlb_insert_then_hit)
{
	struct unet_tlb t;
	struct unet_tlb_entry *e, *h;
	bool ev = true;
	int owner;

	setup(&t, 64, 4);
	e = tlb_insert(&t, 3, 0x1234, PAGE(1), &owner, false,
			    release_cb, &rel, &ev);
	REQUIRE(e != NULL);
	CHECK(!ev);
	CHECK_EQ(e->asid, 3);
	CHECK_EQ(e->vpn, 0x1234);
	CHECK_PTR_EQ(e->page, PAGE(1));
	CHECK_PTR_EQ(e->owner, &owner);
	CHECK_EQ(e->flags, UNET_TLB_VALID);
	CHECK_EQ(e->users, 0);		/* returned without a reference */
	CHECK_EQ(t.valid, 1);
	INVARIANT(&t);

	h = unet_tlb_lookup(&t, 3, 0x1234, false);
	CHECK_PTR_EQ(h, e);
	REQUIRE(h != NULL);
	CHECK_EQ(h->users, 1);
	CHECK_PTR_EQ(h->page, PAGE(1));
	h = unet_tlb_lookup(&t, 3, 0x1234, false);
	CHECK_PTR_EQ(h, e);
	CHECK_EQ(e->users, 2);
	unet_tlb_put(&t, e, release_cb, &rel);
	unet_tlb_put(&t, e, release_cb, &rel);
	CHECK_EQ(e->users, 0);
	CHECK_EQ(rel.total, 0);		/* a put of a live entry frees nothing */
	CHECK_EQ(t.valid, 1);

	/* Another space or another page misses. */
	CHECK(!unet_tlb_lookup(&t, 4, 0x1234, false));
	CHECK(!unet_tlb_lookup(&t, 0, 0x1234, false));
	CHECK(!unet_tlb_lookup(&t, 3, 0x1235, false));
	CHECK(!unet_tlb_lookup(&t, 3, 0x1233, false));
	CHECK(!unet_tlb_lookup(&t, 3, 0x1234 + (1ull << 32), false));

	/* Writable entries serve both kinds of lookup. */
	e = ins(&t, 3, 77, 2, true, &ev);
	REQUIRE(e != NULL);
	CHECK_EQ(e->flags, UNET_TLB_VALID | UNET_TLB_WRITABLE);
	CHECK_PTR_EQ(touch(&t, 3, 77, true), e);
	CHECK_PTR_EQ(touch(&t, 3, 77, false), e);
	CHECK_EQ(e->users, 0);

	/* Extreme keys. */
	e = ins(&t, UINT32_MAX, UINT64_MAX, 3, true, &ev);
	REQUIRE(e != NULL);
	CHECK_PTR_EQ(touch(&t, UINT32_MAX, UINT64_MAX, true), e);
	CHECK_EQ(t.valid, 3);
	CHECK_EQ(rel.total, 0);
	INVARIANT(&t);
}

TEST(tlb_readonly_then_writable)
{
	struct unet_tlb t;
	struct unet_tlb_entry *e, *w, *h;
	bool ev = true;

	setup(&t, 16, 4);
	e = ins(&t, 1, 10, 1, false, &ev);
	REQUIRE(e != NULL);
	CHECK(!ev);
	/* A write lookup does not hit the read-only entry ... */
	CHECK(!unet_tlb_lookup(&t, 1, 10, true));
	CHECK_EQ(e->users, 0);
	/* ... a read lookup does. */
	CHECK_PTR_EQ(touch(&t, 1, 10, false), e);
	INVARIANT(&t);

	/* While busy, the upgrade must wait: nothing changes. */
	h = unet_tlb_lookup(&t, 1, 10, false);
	REQUIRE_PTR_EQ(h, e);
	ev = true;
	CHECK(!ins(&t, 1, 10, 2, true, &ev));
	CHECK(!ev);
	CHECK_EQ(rel.total, 0);
	CHECK_PTR_EQ(e->page, PAGE(1));
	CHECK_EQ(t.valid, 1);
	unet_tlb_put(&t, h, release_cb, &rel);
	INVARIANT(&t);

	/* Idle: the writable insert replaces it, which is not an eviction. */
	ev = true;
	w = ins(&t, 1, 10, 2, true, &ev);
	REQUIRE(w != NULL);
	CHECK(!ev);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(rel.count[1], 1);
	CHECK_EQ(t.valid, 1);
	CHECK_EQ(unet_tlb_count(&t, 1), 1);
	h = unet_tlb_lookup(&t, 1, 10, true);
	CHECK_PTR_EQ(h, w);
	if (h) {
		CHECK_PTR_EQ(h->page, PAGE(2));
		unet_tlb_put(&t, h, release_cb, &rel);
	}
	CHECK_EQ(page_of(&t, 1, 10), 2);
	INVARIANT(&t);

	/* Re-inserting the same key read-only also replaces in place. */
	ev = true;
	CHECK(ins(&t, 1, 10, 3, false, &ev) != NULL);
	CHECK(!ev);
	CHECK_EQ(rel.count[2], 1);
	CHECK_EQ(t.valid, 1);
	CHECK(!unet_tlb_lookup(&t, 1, 10, true));
	CHECK_EQ(page_of(&t, 1, 10), 3);
	INVARIANT(&t);
}

/* One set (entries == ways): every key competes for the same ways. */
TEST(tlb_lru)
{
	struct unet_tlb t;
	bool ev;
	int i;

	setup(&t, 4, 4);
	for (i = 0; i < 4; i++) {
		ev = true;
		REQUIRE(ins(&t, 1, 100 + i, i, false, &ev) != NULL);
		CHECK(!ev);			/* free ways first */
	}
	CHECK_EQ(t.valid, 4);
	CHECK_EQ(rel.total, 0);
	INVARIANT(&t);

	/* Touch 2, 0, 3: vpn 101 (page 1) is now the least recently used. */
	CHECK(touch(&t, 1, 102, false));
	CHECK(touch(&t, 1, 100, false));
	CHECK(touch(&t, 1, 103, false));
	REQUIRE(ins(&t, 1, 104, 4, false, &ev) != NULL);
	CHECK(ev);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(rel.count[1], 1);
	CHECK_EQ(page_of(&t, 1, 101), -1);
	CHECK_EQ(t.valid, 4);
	INVARIANT(&t);

	/* Order now (oldest first): 102, 100, 103, 104. */
	REQUIRE(ins(&t, 1, 105, 5, false, &ev) != NULL);
	CHECK(ev);
	CHECK_EQ(rel.total, 2);
	CHECK_EQ(rel.last, 2);
	/* 100, 103, 104, 105: touch 100 and 103 -> 104 goes next. */
	CHECK(touch(&t, 1, 100, false));
	CHECK(touch(&t, 1, 103, true) == NULL);	/* read-only: no touch */
	CHECK(touch(&t, 1, 103, false));
	REQUIRE(ins(&t, 1, 106, 6, false, &ev) != NULL);
	CHECK(ev);
	CHECK_EQ(rel.total, 3);
	CHECK_EQ(rel.last, 4);
	/* A failed write lookup did not refresh 105, so it is next. */
	CHECK(!unet_tlb_lookup(&t, 1, 105, true));
	REQUIRE(ins(&t, 1, 107, 7, false, &ev) != NULL);
	CHECK_EQ(rel.last, 5);
	CHECK_EQ(rel.total, 4);

	CHECK_EQ(page_of(&t, 1, 100), 0);
	CHECK_EQ(page_of(&t, 1, 103), 3);
	CHECK_EQ(page_of(&t, 1, 106), 6);
	CHECK_EQ(page_of(&t, 1, 107), 7);
	for (i = 0; i < 8; i++)
		CHECK(rel.count[i] <= 1);
	INVARIANT(&t);
}

/* The LRU order spans address spaces sharing a set. */
TEST(tlb_lru_mixed_asids)
{
	struct unet_tlb t;
	bool ev;

	setup(&t, 2, 2);
	REQUIRE(ins(&t, 1, 5, 1, false, &ev) != NULL);
	REQUIRE(ins(&t, 2, 5, 2, false, &ev) != NULL);
	CHECK(touch(&t, 1, 5, false));
	REQUIRE(ins(&t, 3, 5, 3, false, &ev) != NULL);
	CHECK(ev);
	CHECK_EQ(rel.last, 2);
	CHECK_EQ(page_of(&t, 1, 5), 1);
	CHECK_EQ(page_of(&t, 2, 5), -1);
	CHECK_EQ(page_of(&t, 3, 5), 3);
	INVARIANT(&t);
}

TEST(tlb_busy_never_evicted)
{
	struct unet_tlb t;
	struct unet_tlb_entry *held[4], *e;
	bool ev;
	int i;

	setup(&t, 4, 4);
	for (i = 0; i < 4; i++)
		REQUIRE(ins(&t, 1, i, i, true, &ev) != NULL);

	/* vpn 0 is busy and, after the touches, also the oldest. */
	held[0] = unet_tlb_lookup(&t, 1, 0, false);
	REQUIRE(held[0] != NULL);
	CHECK(touch(&t, 1, 1, false));
	CHECK(touch(&t, 1, 2, false));
	CHECK(touch(&t, 1, 3, false));
	e = ins(&t, 1, 4, 4, true, &ev);
	REQUIRE(e != NULL);
	CHECK(ev);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(rel.last, 1);			/* the oldest idle one */
	CHECK_EQ(rel.count[0], 0);
	CHECK_PTR_EQ(held[0]->page, PAGE(0));	/* untouched while busy */
	CHECK_EQ(held[0]->users, 1);
	INVARIANT(&t);

	/* Every way busy: no room, nothing released, nothing changed. */
	held[1] = unet_tlb_lookup(&t, 1, 2, true);
	held[2] = unet_tlb_lookup(&t, 1, 3, false);
	held[3] = unet_tlb_lookup(&t, 1, 4, false);
	REQUIRE(held[1] && held[2] && held[3]);
	for (i = 0; i < 10; i++) {
		ev = true;
		CHECK(ins(&t, 1, 100 + i, 10 + i, false, &ev) == NULL);
		CHECK(!ev);
		CHECK(ins(&t, 7, 100 + i, 10 + i, true, &ev) == NULL);
	}
	/* The same key of a busy entry cannot be replaced either. */
	CHECK(ins(&t, 1, 3, 20, true, &ev) == NULL);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(t.valid, 4);
	CHECK_EQ(unet_tlb_evict_cold(&t, 4, release_cb, &rel), 0);
	CHECK_EQ(rel.total, 1);
	INVARIANT(&t);

	/* Dropping one reference makes exactly that way available. */
	unet_tlb_put(&t, held[2], release_cb, &rel);
	CHECK_EQ(rel.total, 1);
	e = ins(&t, 1, 200, 21, false, &ev);
	REQUIRE(e != NULL);
	CHECK(ev);
	CHECK_EQ(rel.last, 3);
	CHECK_PTR_EQ(e, held[2]);
	for (i = 0; i < 4; i++)
		if (i != 2)
			unet_tlb_put(&t, held[i], release_cb, &rel);
	CHECK_EQ(rel.total, 2);
	CHECK_EQ(page_of(&t, 1, 0), 0);
	CHECK_EQ(page_of(&t, 1, 2), 2);
	CHECK_EQ(page_of(&t, 1, 4), 4);
	CHECK_EQ(page_of(&t, 1, 200), 21);
	INVARIANT(&t);
}

/*
 * Fills a 256-entry, 8-way (32-set) TLB with asids 1 and 2 at vpns
 * base..base+n-1 and asid 3 at a few; page = index into a per-asid block.
 */
static bool fill3(struct unet_tlb *t, u64 base, int n)
{
	bool ev;
	int i;

	for (i = 0; i < n; i++) {
		if (!ins(t, 1, base + i, i, false, &ev) || ev)
			return false;
		if (!ins(t, 2, base + i, 100 + i, true, &ev) || ev)
			return false;
	}
	for (i = 0; i < 8; i++)
		if (!ins(t, 3, base + i, 200 + i, false, &ev) || ev)
			return false;
	return true;
}

TEST(tlb_invalidate_small_range)
{
	struct unet_tlb t;
	u32 busy;
	int i;

	setup(&t, 256, 8);
	REQUIRE(fill3(&t, 1000, 40));
	CHECK_EQ(t.valid, 88);

	/* Empty and inverted ranges do nothing. */
	CHECK_EQ(inval(&t, 1, 1010, 1010, &busy), 0);
	CHECK_EQ(busy, 0);
	CHECK_EQ(inval(&t, 1, 1020, 1010, &busy), 0);
	CHECK_EQ(rel.total, 0);

	/* 10 pages <= 32 sets: the per-set probe. */
	CHECK_EQ(inval(&t, 1, 1010, 1020, &busy), 10);
	CHECK_EQ(busy, 0);
	CHECK_EQ(rel.total, 10);
	for (i = 0; i < 40; i++) {
		bool gone = i >= 10 && i < 20;

		CHECK_EQ(rel.count[i], gone);
		CHECK_EQ(page_of(&t, 1, 1000 + i), gone ? -1 : i);
		CHECK_EQ(page_of(&t, 2, 1000 + i), 100 + i);
	}
	for (i = 0; i < 8; i++)
		CHECK_EQ(page_of(&t, 3, 1000 + i), 200 + i);
	CHECK_EQ(t.valid, 78);
	INVARIANT(&t);

	/* Exactly t.sets pages, partly already gone, partly absent. */
	CHECK_EQ(inval(&t, 1, 1015, 1015 + 32, &busy), 40 - 20 + 0);
	CHECK_EQ(rel.total, 30);
	CHECK_EQ(page_of(&t, 1, 1009), 9);
	CHECK_EQ(page_of(&t, 1, 1020), -1);
	CHECK_EQ(page_of(&t, 1, 1039), -1);
	/* One page. */
	CHECK_EQ(inval(&t, 1, 1000, 1001, &busy), 1);
	CHECK_EQ(rel.count[0], 1);
	CHECK_EQ(page_of(&t, 1, 1001), 1);
	/* A space with nothing there. */
	CHECK_EQ(inval(&t, 9, 1000, 1010, &busy), 0);
	CHECK_EQ(unet_tlb_count(&t, 2), 40);
	CHECK_EQ(unet_tlb_count(&t, 3), 8);
	CHECK_EQ(unet_tlb_count(&t, 1), 9);
	INVARIANT(&t);

	/* The top of the address range. */
	{
		bool ev;

		REQUIRE(ins(&t, 4, UINT64_MAX - 1, 300, false, &ev));
		REQUIRE(ins(&t, 4, UINT64_MAX, 301, false, &ev));
		CHECK_EQ(inval(&t, 4, UINT64_MAX - 3, UINT64_MAX, &busy), 1);
		CHECK_EQ(rel.count[300], 1);
		CHECK_EQ(page_of(&t, 4, UINT64_MAX), 301);
	}
	INVARIANT(&t);
}

TEST(tlb_invalidate_sweep)
{
	struct unet_tlb t;
	u32 busy;
	int i;

	setup(&t, 256, 8);
	REQUIRE(fill3(&t, 1000, 40));

	/* 33 pages > 32 sets: the whole-array sweep. */
	CHECK_EQ(inval(&t, 1, 1005, 1005 + 33, &busy), 33);
	CHECK_EQ(busy, 0);
	for (i = 0; i < 40; i++) {
		bool gone = i >= 5 && i < 38;

		CHECK_EQ(rel.count[i], gone);
		CHECK_EQ(page_of(&t, 1, 1000 + i), gone ? -1 : i);
		CHECK_EQ(page_of(&t, 2, 1000 + i), 100 + i);
	}
	CHECK_EQ(t.valid, 88 - 33);
	INVARIANT(&t);

	/* A range far larger than anything, bounds exclusive at the end. */
	CHECK_EQ(inval(&t, 2, 0, 1039, &busy), 39);
	CHECK_EQ(page_of(&t, 2, 1039), 139);
	CHECK_EQ(page_of(&t, 2, 1038), -1);
	CHECK_EQ(inval(&t, 2, 1040, UINT64_MAX, &busy), 0);
	CHECK_EQ(page_of(&t, 2, 1039), 139);
	/* Everything of asid 1. */
	CHECK_EQ(inval(&t, 1, 0, UINT64_MAX, &busy), 7);
	CHECK_EQ(unet_tlb_count(&t, 1), 0);
	CHECK_EQ(unet_tlb_count(&t, 2), 1);
	CHECK_EQ(unet_tlb_count(&t, 3), 8);
	for (i = 0; i < 8; i++)
		CHECK_EQ(page_of(&t, 3, 1000 + i), 200 + i);
	for (i = 0; i < 300; i++)
		CHECK(rel.count[i] <= 1);
	CHECK_EQ(rel.total, 33 + 39 + 7);
	INVARIANT(&t);

	/* Both paths agree: same contents, one each way. */
	setup(&t, 256, 8);
	REQUIRE(fill3(&t, 1 << 20, 32));
	CHECK_EQ(inval(&t, 2, 1 << 20, (1 << 20) + 32, &busy), 32);
	CHECK_EQ(inval(&t, 1, (1 << 20) - 1, (1 << 20) + 32, &busy), 32);
	CHECK_EQ(t.valid, 8);
	INVARIANT(&t);
}

static void check_dead_flow(bool sweep)
{
	struct unet_tlb t;
	struct unet_tlb_entry *a, *b, *c, *n;
	u32 busy;
	bool ev;

	setup(&t, 4, 4);
	a = ins(&t, 1, 10, 1, true, &ev);
	REQUIRE(a != NULL);
	REQUIRE(ins(&t, 1, 11, 2, true, &ev) != NULL);
	REQUIRE(ins(&t, 2, 10, 3, true, &ev) != NULL);

	/* Two DMA copies through vpn 10. */
	b = unet_tlb_lookup(&t, 1, 10, true);
	c = unet_tlb_lookup(&t, 1, 10, false);
	REQUIRE_PTR_EQ(b, a);
	REQUIRE_PTR_EQ(c, a);
	CHECK_EQ(a->users, 2);

	if (sweep) {
		/* Longer than tlb->sets (1): the whole-array sweep. */
		CHECK_EQ(inval(&t, 1, 0, 1000, &busy), 2);
		CHECK_EQ(busy, 1);
	} else {
		/* One page at a time: the per-set probe. */
		CHECK_EQ(inval(&t, 1, 10, 11, &busy), 1);
		CHECK_EQ(busy, 1);
		CHECK_EQ(inval(&t, 1, 11, 12, &busy), 1);
		CHECK_EQ(busy, 0);
	}
	CHECK_EQ(rel.total, 1);			/* the idle vpn 11 */
	CHECK_EQ(rel.count[2], 1);
	CHECK_EQ(rel.count[1], 0);		/* still in use */
	CHECK(a->flags & UNET_TLB_DEAD);
	CHECK(a->flags & UNET_TLB_VALID);
	CHECK_EQ(t.valid, 2);			/* dead still holds its page */
	INVARIANT(&t);

	/* Dead: lookups miss, invalidation does not count it again. */
	CHECK(!unet_tlb_lookup(&t, 1, 10, false));
	CHECK(!unet_tlb_lookup(&t, 1, 10, true));
	CHECK_EQ(inval(&t, 1, 10, 11, &busy), 0);
	CHECK_EQ(busy, 0);
	CHECK_EQ(inval(&t, 1, 0, 1000, &busy), 0);
	CHECK_EQ(unet_tlb_evict_cold(&t, 10, release_cb, &rel), 1);
	CHECK_EQ(rel.count[3], 1);		/* asid 2's, not the dead one */
	CHECK_EQ(rel.count[1], 0);
	CHECK_EQ(t.valid, 1);
	INVARIANT(&t);

	/* The page can come back while the dead entry drains. */
	n = ins(&t, 1, 10, 4, true, &ev);
	REQUIRE(n != NULL);
	CHECK(n != a);
	CHECK(!ev);
	CHECK_EQ(t.valid, 2);
	CHECK_EQ(page_of(&t, 1, 10), 4);
	INVARIANT(&t);

	/* The last put, and only it, releases the dead entry. */
	unet_tlb_put(&t, b, release_cb, &rel);
	CHECK_EQ(rel.count[1], 0);
	CHECK_EQ(a->users, 1);
	INVARIANT(&t);
	unet_tlb_put(&t, c, release_cb, &rel);
	CHECK_EQ(rel.count[1], 1);
	CHECK_EQ(rel.total, 3);
	CHECK_EQ(a->flags, 0);
	CHECK(a->page == NULL);
	CHECK_EQ(t.valid, 1);
	CHECK_EQ(page_of(&t, 1, 10), 4);
	INVARIANT(&t);

	/* The freed way is reused before anything is evicted. */
	REQUIRE(ins(&t, 5, 5, 5, false, &ev) != NULL);
	REQUIRE(ins(&t, 5, 6, 6, false, &ev) != NULL);
	REQUIRE(ins(&t, 5, 7, 7, false, &ev) != NULL);
	CHECK(!ev);
	CHECK_EQ(t.valid, 4);
	CHECK_EQ(rel.total, 3);
	INVARIANT(&t);
}

TEST(tlb_invalidate_busy_dead)
{
	check_dead_flow(false);
}

TEST(tlb_invalidate_busy_dead_sweep)
{
	check_dead_flow(true);
}

TEST(tlb_dead_blocks_insert_when_full)
{
	struct unet_tlb t;
	struct unet_tlb_entry *h[2];
	u32 busy;
	bool ev;

	setup(&t, 2, 2);
	REQUIRE(ins(&t, 1, 1, 1, false, &ev));
	REQUIRE(ins(&t, 1, 2, 2, false, &ev));
	h[0] = unet_tlb_lookup(&t, 1, 1, false);
	h[1] = unet_tlb_lookup(&t, 1, 2, false);
	REQUIRE(h[0] && h[1]);
	CHECK_EQ(inval(&t, 1, 1, 2, &busy), 1);
	CHECK_EQ(busy, 1);
	/* One way dead, one busy: no room even for the dead key. */
	CHECK(!ins(&t, 1, 1, 3, false, &ev));
	CHECK(!ins(&t, 1, 9, 3, false, &ev));
	CHECK_EQ(rel.total, 0);
	unet_tlb_put(&t, h[0], release_cb, &rel);
	CHECK_EQ(rel.count[1], 1);
	CHECK(ins(&t, 1, 1, 3, false, &ev) != NULL);
	CHECK(!ev);
	unet_tlb_put(&t, h[1], release_cb, &rel);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(page_of(&t, 1, 1), 3);
	CHECK_EQ(page_of(&t, 1, 2), 2);
	INVARIANT(&t);
}

TEST(tlb_evict_cold)
{
	struct unet_tlb t;
	struct unet_tlb_entry *busy;
	int i;
	bool ev;

	setup(&t, 8, 8);
	for (i = 0; i < 8; i++)
		REQUIRE(ins(&t, 1, i, i, false, &ev) != NULL);
	/* Ages (oldest first): 1 2 3 4 6 7 5(busy) 0(hot). */
	busy = unet_tlb_lookup(&t, 1, 5, false);
	REQUIRE(busy != NULL);
	CHECK(touch(&t, 1, 0, false));

	CHECK_EQ(unet_tlb_evict_cold(&t, 0, release_cb, &rel), 0);
	CHECK_EQ(rel.total, 0);
	CHECK_EQ(unet_tlb_evict_cold(&t, 3, release_cb, &rel), 3);
	CHECK_EQ(rel.total, 3);
	CHECK_EQ(rel.count[1] + rel.count[2] + rel.count[3], 3);
	CHECK_EQ(t.valid, 5);
	INVARIANT(&t);

	/* Everything idle goes, the busy entry stays. */
	CHECK_EQ(unet_tlb_evict_cold(&t, 100, release_cb, &rel), 4);
	CHECK_EQ(rel.total, 7);
	CHECK_EQ(rel.count[5], 0);
	CHECK_EQ(t.valid, 1);
	for (i = 0; i < 8; i++)
		CHECK_EQ(rel.count[i], i != 5);
	CHECK_EQ(unet_tlb_evict_cold(&t, 100, release_cb, &rel), 0);
	INVARIANT(&t);

	/* Busy ones are not dead: the put leaves it resident. */
	unet_tlb_put(&t, busy, release_cb, &rel);
	CHECK_EQ(rel.total, 7);
	CHECK_EQ(page_of(&t, 1, 5), 5);
	CHECK_EQ(unet_tlb_evict_cold(&t, 1, release_cb, &rel), 1);
	CHECK_EQ(rel.count[5], 1);
	CHECK_EQ(t.valid, 0);
	INVARIANT(&t);
}

/*
 * "Coldest first": asking for fewer than the idle entries must spare the
 * most recently used one, wherever it sits in the array.
 */
TEST(tlb_evict_cold_spares_hot)
{
	struct unet_tlb t;
	bool ev;
	int i, hot;

	for (hot = 0; hot < 8; hot++) {
		setup(&t, 8, 8);
		for (i = 0; i < 8; i++)
			REQUIRE(ins(&t, 1, i, i, false, &ev) != NULL);
		CHECK(touch(&t, 1, hot, false));
		/* Evict all but one: the survivor must be the hot entry. */
		CHECK_EQ(unet_tlb_evict_cold(&t, 7, release_cb, &rel), 7);
		if (!unit_check(page_of(&t, 1, hot) == hot, __FILE__, __LINE__,
				"hot entry (way %d, touched last) evicted by evict_cold(7) of 8",
				hot))
			return;
		INVARIANT(&t);
	}
}

/* Coldest first when every entry was used recently (none below median). */
TEST(tlb_evict_cold_order)
{
	struct unet_tlb t;
	bool ev;
	int i;

	setup(&t, 8, 8);
	for (i = 0; i < 8; i++)
		REQUIRE(ins(&t, 1, i, i, false, &ev) != NULL);
	for (i = 7; i >= 0; i--)
		CHECK(touch(&t, 1, i, false));	/* now 0 is the hottest */
	CHECK_EQ(unet_tlb_evict_cold(&t, 4, release_cb, &rel), 4);
	for (i = 0; i < 8; i++)
		CHECK_EQ(page_of(&t, 1, i), i < 4 ? i : -1);
}

TEST(tlb_count)
{
	struct unet_tlb t;
	struct unet_tlb_entry *h;
	u32 busy;
	bool ev;
	int i;

	setup(&t, 64, 4);
	for (i = 0; i < 3; i++)
		REQUIRE(ins(&t, 1, i, i, false, &ev) != NULL);
	for (i = 0; i < 5; i++)
		REQUIRE(ins(&t, 2, i, 10 + i, true, &ev) != NULL);
	REQUIRE(ins(&t, UINT32_MAX, 0, 20, true, &ev) != NULL);
	CHECK_EQ(unet_tlb_count(&t, 1), 3);
	CHECK_EQ(unet_tlb_count(&t, 2), 5);
	CHECK_EQ(unet_tlb_count(&t, UINT32_MAX), 1);
	CHECK_EQ(unet_tlb_count(&t, 7), 0);
	CHECK_EQ(unet_tlb_count(&t, 0), 9);		/* 0: every space */
	CHECK_EQ(t.valid, 9);

	/* Replacing in place does not change the count. */
	REQUIRE(ins(&t, 1, 0, 30, true, &ev) != NULL);
	CHECK_EQ(unet_tlb_count(&t, 1), 3);

	/* A dead entry still holds its pinned page. */
	h = unet_tlb_lookup(&t, 2, 0, false);
	REQUIRE(h != NULL);
	CHECK_EQ(inval(&t, 2, 0, 2, &busy), 2);
	CHECK_EQ(busy, 1);
	CHECK_EQ(unet_tlb_count(&t, 2), 4);
	CHECK_EQ(unet_tlb_count(&t, 0), t.valid);
	unet_tlb_put(&t, h, release_cb, &rel);
	CHECK_EQ(unet_tlb_count(&t, 2), 3);
	CHECK_EQ(unet_tlb_count(&t, 0), 7);
	INVARIANT(&t);
}

/* ---- randomized test against a reference model ---- */

#define M_ASIDS		4	/* 1..3 used, 4 never inserted */
#define M_VPNS		96
#define M_HOLDS		12

struct mrec {
	u32 asid;
	u64 vpn;
	bool writable;
	bool inserted;
	bool dead;
	int released;
	u64 last_use;
};

struct model {
	struct unet_tlb t;
	struct mrec *rec;
	int nrec;
	int map[M_ASIDS + 1][M_VPNS];	/* live rec per key, -1 if none */
	struct { struct unet_tlb_entry *e; int rec; } hold[M_HOLDS];
	int nhold;
	int inserted, released, dead;
	int op_released;		/* releases in the current op */
	int last_released;
	u64 clock;
	bool bad;
	char why[200];
};

static int held_refs(const struct model *m, int r)
{
	int i, n = 0;

	for (i = 0; i < m->nhold; i++)
		n += m->hold[i].rec == r;
	return n;
}

static void model_release(struct unet_tlb_entry *e, void *arg)
{
	struct model *m = arg;
	struct mrec *r = e->page;
	int idx = (int)(r - m->rec);

	if (idx < 0 || idx >= m->nrec || !r->inserted) {
		m->bad = true;
		snprintf(m->why, sizeof(m->why), "release of unknown page");
		return;
	}
	if (r->released) {
		m->bad = true;
		snprintf(m->why, sizeof(m->why), "page %d released twice", idx);
	}
	if (e->asid != r->asid || e->vpn != r->vpn || e->users ||
	    !(e->flags & UNET_TLB_VALID)) {
		m->bad = true;
		snprintf(m->why, sizeof(m->why),
			 "page %d released from a wrong entry", idx);
	}
	if (held_refs(m, idx)) {
		m->bad = true;
		snprintf(m->why, sizeof(m->why),
			 "page %d released while held", idx);
	}
	r->released++;
	m->released++;
	m->op_released++;
	m->last_released = idx;
	if (r->dead)
		m->dead--;
	else if (r->asid <= M_ASIDS && r->vpn < M_VPNS &&
		 m->map[r->asid][r->vpn] == idx)
		m->map[r->asid][r->vpn] = -1;
}

/* Structural invariants plus: users == our references, valid == pinned. */
static bool model_check(struct model *m, int op)
{
	u32 i, total = unet_tlb_entries(&m->t), n = 0;
	int h, a;

	if (!unit_check(!m->bad, __FILE__, __LINE__, "op %d: %s", op, m->why))
		return false;
	for (i = 0; i < total; i++) {
		const struct unet_tlb_entry *e = &m->t.entry[i];
		int refs = 0;

		if (!(e->flags & UNET_TLB_VALID)) {
			if (!unit_check(!e->flags && !e->users, __FILE__,
					__LINE__, "op %d: empty entry %u dirty",
					op, i))
				return false;
			continue;
		}
		n++;
		for (h = 0; h < m->nhold; h++)
			refs += m->hold[h].e == e;
		if (!unit_check(e->users == (u32)refs, __FILE__, __LINE__,
				"op %d: entry %u users %u, held %d times",
				op, i, e->users, refs))
			return false;
		if (!unit_check(!(e->flags & UNET_TLB_DEAD) ==
				!((struct mrec *)e->page)->dead, __FILE__,
				__LINE__, "op %d: entry %u DEAD flag wrong",
				op, i))
			return false;
	}
	/* Per space: live entries plus dead ones still draining. */
	for (a = 1; a <= M_ASIDS; a++) {
		u32 want = 0;
		int v, j;

		for (v = 0; v < M_VPNS; v++)
			want += m->map[a][v] >= 0;
		for (h = 0; h < m->nhold; h++) {
			int r = m->hold[h].rec;

			if (!m->rec[r].dead || m->rec[r].asid != (u32)a)
				continue;
			for (j = 0; j < h; j++)
				if (m->hold[j].rec == r)
					break;
			want += j == h;
		}
		if (!unit_check(unet_tlb_count(&m->t, a) == want, __FILE__,
				__LINE__, "op %d: count(%d) %u, model %u", op,
				a, unet_tlb_count(&m->t, a), want))
			return false;
	}
	return unit_check(n == m->t.valid &&
			  m->t.valid == (u32)(m->inserted - m->released) &&
			  m->t.valid <= total, __FILE__, __LINE__,
			  "op %d: valid %u, VALID entries %u, pinned %d, capacity %u",
			  op, m->t.valid, n, m->inserted - m->released, total);
}

static int model_live(const struct model *m)
{
	int a, v, n = 0;

	for (a = 1; a <= M_ASIDS; a++)
		for (v = 0; v < M_VPNS; v++)
			n += m->map[a][v] >= 0;
	return n;
}

static void run_model(u32 entries, u32 ways, unsigned long long seed, int ops)
{
	struct model *m = calloc(1, sizeof(*m));
	int op, a, v, i;
	u32 busy, n;

	if (!m)
		abort();
	m->rec = calloc(ops + 1, sizeof(*m->rec));
	if (!m->rec)
		abort();
	setup(&m->t, entries, ways);
	memset(m->map, 0xff, sizeof(m->map));

	for (op = 0; op < ops; op++) {
		unsigned k = unit_below(&seed, 100);
		u32 asid = 1 + unit_below(&seed, 3);
		u64 vpn = unit_below(&seed, M_VPNS);
		int cur = m->map[asid][vpn];

		m->op_released = 0;
		if (k < 40) {				/* lookup */
			bool write = unit_below(&seed, 3) == 0;
			struct unet_tlb_entry *e =
				unet_tlb_lookup(&m->t, asid, vpn, write);
			bool want = cur >= 0 &&
				    (!write || m->rec[cur].writable);

			if (!unit_check(!e == !want, __FILE__, __LINE__,
					"op %d: lookup %u/%llu %s: %s, model %d",
					op, asid, (unsigned long long)vpn,
					write ? "W" : "R", e ? "hit" : "miss",
					cur))
				break;
			if (e) {
				if (!unit_check(e->page == &m->rec[cur],
						__FILE__, __LINE__,
						"op %d: hit returns a stale page",
						op))
					break;
				m->rec[cur].last_use = ++m->clock;
				if (m->nhold < M_HOLDS && unit_below(&seed, 3) == 0) {
					m->hold[m->nhold].e = e;
					m->hold[m->nhold].rec = cur;
					m->nhold++;
				} else {
					unet_tlb_put(&m->t, e, model_release, m);
				}
			}
			CHECK_EQ(m->op_released, 0);
		} else if (k < 75) {			/* insert */
			bool writable = unit_below(&seed, 2);
			bool ev = true, one_set = m->t.sets == 1;
			int nr = m->nrec++, lru = -1, occupied;
			struct unet_tlb_entry *e;

			m->rec[nr].asid = asid;
			m->rec[nr].vpn = vpn;
			m->rec[nr].writable = writable;
			occupied = model_live(m) + m->dead;
			if (one_set) {
				for (a = 1; a <= M_ASIDS; a++)
					for (v = 0; v < M_VPNS; v++) {
						int r = m->map[a][v];

						if (r < 0 || held_refs(m, r))
							continue;
						if (lru < 0 || m->rec[r].last_use <
							       m->rec[lru].last_use)
							lru = r;
					}
			}
			m->rec[nr].inserted = true;	/* provisionally */
			e = tlb_insert(&m->t, asid, vpn, &m->rec[nr], NULL,
					    writable, model_release, m, &ev);
			if (!e) {
				int distinct = 0, h, j;

				m->rec[nr].inserted = false;
				for (h = 0; h < m->nhold; h++) {
					for (j = 0; j < h; j++)
						if (m->hold[j].e == m->hold[h].e)
							break;
					distinct += j == h;
				}
				CHECK(!ev);
				CHECK_EQ(m->op_released, 0);
				/* Only busy ways (or a busy same key) refuse. */
				if (!unit_check((cur >= 0 && held_refs(m, cur)) ||
						(u32)distinct >= ways, __FILE__,
						__LINE__,
						"op %d: insert refused with %d busy entries",
						op, distinct))
					break;
				if (one_set && !(cur >= 0 && held_refs(m, cur)))
					CHECK(lru < 0 && occupied == (int)ways);
				continue;
			}
			m->inserted++;
			m->rec[nr].last_use = ++m->clock;
			if (!unit_check(e->page == &m->rec[nr] && e->asid == asid &&
					e->vpn == vpn && !e->users &&
					e->flags == (UNET_TLB_VALID |
						     (writable ? UNET_TLB_WRITABLE : 0)),
					__FILE__, __LINE__,
					"op %d: inserted entry wrong", op))
				break;
			if (cur >= 0) {
				/* Replaced in place: not an eviction. */
				CHECK(!ev);
				CHECK_EQ(m->op_released, 1);
				CHECK_EQ(m->last_released, cur);
			} else {
				CHECK(m->op_released <= 1);
				CHECK_EQ(ev, m->op_released == 1);
				if (one_set) {
					/* Free ways first, then the LRU idle. */
					CHECK_EQ(ev, occupied == (int)ways);
					if (ev)
						CHECK_EQ(m->last_released, lru);
				}
			}
			m->map[asid][vpn] = nr;
		} else if (k < 87) {			/* put */
			int h, r, refs;
			struct unet_tlb_entry *e;

			if (!m->nhold)
				continue;
			h = unit_below(&seed, m->nhold);
			e = m->hold[h].e;
			r = m->hold[h].rec;
			refs = held_refs(m, r);
			if (!unit_check(e->page == &m->rec[r], __FILE__, __LINE__,
					"op %d: busy entry changed page", op))
				break;
			m->hold[h] = m->hold[--m->nhold];
			unet_tlb_put(&m->t, e, model_release, m);
			if (m->rec[r].dead && refs == 1) {
				CHECK_EQ(m->op_released, 1);
				CHECK_EQ(m->last_released, r);
			} else {
				CHECK_EQ(m->op_released, 0);
			}
		} else if (k < 97) {			/* invalidate */
			u64 start, end;
			int want = 0, want_busy = 0;

			if (unit_below(&seed, 10) == 0)
				asid = M_ASIDS;		/* never inserted */
			start = unit_below(&seed, M_VPNS + 8);
			switch (unit_below(&seed, 4)) {
			case 0:		/* small: the per-set probe */
			case 1:
				end = start + unit_below(&seed, m->t.sets + 1);
				break;
			case 2:		/* large: the sweep */
				end = start + m->t.sets + 1 +
				      unit_below(&seed, M_VPNS);
				break;
			default:
				start = unit_below(&seed, 4) ? start : 0;
				end = UINT64_MAX;
				break;
			}
			for (v = 0; v < M_VPNS; v++) {
				int r = m->map[asid][v];

				if (r < 0 || (u64)v < start || (u64)v >= end)
					continue;
				want++;
				want_busy += held_refs(m, r) > 0;
			}
			n = unet_tlb_invalidate(&m->t, asid, start, end,
						model_release, m, &busy);
			if (!unit_check(n == (u32)want && busy == (u32)want_busy &&
					m->op_released == want - want_busy,
					__FILE__, __LINE__,
					"op %d: invalidate %u [%llu,%llu): n %u busy %u released %d, want %d/%d",
					op, asid, (unsigned long long)start,
					(unsigned long long)end, n, busy,
					m->op_released, want, want_busy))
				break;
			/* The busy ones are dead now: out of the map. */
			for (v = 0; v < M_VPNS; v++) {
				int r = m->map[asid][v];

				if (r < 0 || (u64)v < start || (u64)v >= end)
					continue;
				m->rec[r].dead = true;
				m->dead++;
				m->map[asid][v] = -1;
			}
		} else {				/* shrinker */
			u32 nr = unit_below(&seed, entries + 1), idle = 0;

			for (a = 1; a <= M_ASIDS; a++)
				for (v = 0; v < M_VPNS; v++) {
					int r = m->map[a][v];

					idle += r >= 0 && !held_refs(m, r);
				}
			n = unet_tlb_evict_cold(&m->t, nr, model_release, m);
			CHECK_EQ(n, nr < idle ? nr : idle);
			CHECK_EQ(m->op_released, (int)n);
		}
		if (!model_check(m, op) || UNIT_FAILED())
			break;
	}

	if (!UNIT_FAILED()) {
		/* Drain: drop every reference, invalidate everything. */
		while (m->nhold) {
			struct unet_tlb_entry *e = m->hold[--m->nhold].e;

			unet_tlb_put(&m->t, e, model_release, m);
		}
		for (a = 1; a <= M_ASIDS; a++) {
			unet_tlb_invalidate(&m->t, a, 0, UINT64_MAX,
					    model_release, m, &busy);
			CHECK_EQ(busy, 0);
		}
		model_check(m, ops);
		CHECK_EQ(m->t.valid, 0);
		CHECK_EQ(m->dead, 0);
		CHECK_EQ(m->released, m->inserted);	/* nothing leaked */
		for (i = 0; i < m->nrec; i++)
			if (!unit_check(m->rec[i].released ==
					(m->rec[i].inserted ? 1 : 0),
					__FILE__, __LINE__,
					"page %d inserted %d released %d times",
					i, m->rec[i].inserted,
					m->rec[i].released))
				break;
		/* Enough happened for the test to mean something. */
		CHECK(m->inserted > ops / 10);
	}
	free(m->rec);
	free(m);
}

TEST(tlb_random_model)
{
	run_model(64, 4, 0x7b1c0ffee, 100000);
}

TEST(tlb_random_model_one_set)
{
	/* One set: the model also checks the exact LRU victim. */
	run_model(8, 8, 0x1234567, 50000);
	if (!UNIT_FAILED())
		run_model(4, 4, 0xabcdef, 50000);
}

TEST(tlb_random_model_shapes)
{
	run_model(256, 2, 42, 30000);
	if (!UNIT_FAILED())
		run_model(16, 1, 43, 30000);	/* direct mapped */
	if (!UNIT_FAILED())
		run_model(1, 1, 44, 20000);
}

/*
 * reserve frees the LRU idle way of a full set before the agent pins, so
 * the pinned count never exceeds the capacity; a free way, or the page's
 * own idle entry, needs no eviction.  A reserved way is invisible to
 * lookups and is neither free nor evictable for the next reservation, so
 * two pins in flight into one set hold two ways; a set of busy or
 * reserved ways has no room.
 */
TEST(tlb_reserve)
{
	struct unet_tlb t;
	struct unet_tlb_entry *busy[4], *r;
	bool ev;
	int i;

	setup(&t, 4, 4);
	CHECK(!unet_tlb_filling(&t, 1, 100));
	r = unet_tlb_reserve(&t, 1, 100, 0, release_cb, &rel, &ev);
	REQUIRE(r != NULL);
	CHECK(!ev);
	CHECK_EQ(r->flags, UNET_TLB_RESERVED);
	CHECK(!unet_tlb_lookup(&t, 1, 100, false));
	CHECK_EQ(t.valid, 0);
	/* A fill in progress: of this page only, of this space only. */
	CHECK(unet_tlb_filling(&t, 1, 100));
	CHECK(!unet_tlb_filling(&t, 1, 101));
	CHECK(!unet_tlb_filling(&t, 2, 100));
	unet_tlb_unreserve(&t, r);
	CHECK(!unet_tlb_filling(&t, 1, 100));
	INVARIANT(&t);

	for (i = 0; i < 4; i++)
		REQUIRE(ins(&t, 1, 100 + i, i, false, &ev) != NULL);
	r = unet_tlb_reserve(&t, 1, 102, 0, release_cb, &rel, &ev);
	REQUIRE(r != NULL);
	CHECK(!ev);				/* its own entry, reused */
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(rel.last, 2);
	CHECK(unet_tlb_filling(&t, 1, 102));
	unet_tlb_fill(&t, r, PAGE(7), NULL, true, false, release_cb, &rel);
	CHECK(!unet_tlb_filling(&t, 1, 102));
	CHECK_PTR_EQ(touch(&t, 1, 102, true), r);
	CHECK_EQ(t.valid, 4);
	INVARIANT(&t);

	CHECK(touch(&t, 1, 100, false));	/* 101 is now the oldest */
	r = unet_tlb_reserve(&t, 1, 200, 0, release_cb, &rel, &ev);
	REQUIRE(r != NULL);
	CHECK(ev);
	CHECK_EQ(rel.total, 2);
	CHECK_EQ(rel.last, 1);
	CHECK_EQ(t.valid, 3);
	unet_tlb_fill(&t, r, PAGE(9), NULL, false, false, release_cb, &rel);
	CHECK_EQ(t.valid, 4);
	INVARIANT(&t);

	for (i = 0; i < 4; i++) {
		static const u64 vpn[4] = { 100, 200, 102, 103 };

		busy[i] = unet_tlb_lookup(&t, 1, vpn[i], false);
		REQUIRE(busy[i] != NULL);
	}
	CHECK(!unet_tlb_reserve(&t, 1, 300, 0, release_cb, &rel, &ev));
	CHECK(!ev);
	for (i = 0; i < 4; i++)
		unet_tlb_put(&t, busy[i], release_cb, &rel);
	CHECK_EQ(rel.total, 2);
	INVARIANT(&t);

	/*
	 * Pins in flight into one set each hold their own way: four take
	 * the four ways (evicting the four idle entries), a fifth finds no
	 * room and evicts nothing.
	 */
	for (i = 0; i < 4; i++) {
		busy[i] = unet_tlb_reserve(&t, 3, 1000 + i, 0, release_cb, &rel,
					   &ev);
		REQUIRE(busy[i] != NULL);
		CHECK(ev);
	}
	CHECK(busy[0] != busy[1] && busy[1] != busy[2] &&
	      busy[2] != busy[3] && busy[0] != busy[3]);
	CHECK_EQ(t.valid, 0);
	CHECK_EQ(rel.total, 6);
	CHECK(!unet_tlb_reserve(&t, 3, 5000, 0, release_cb, &rel, &ev));
	CHECK(!ev);
	INVARIANT(&t);
	for (i = 0; i < 4; i++)
		unet_tlb_unreserve(&t, busy[i]);
	INVARIANT(&t);
}

/*
 * An entry for the page that a copy is using when the writable version is
 * filled in: it stops answering lookups at once and is freed by its last
 * user, so the page is never mapped twice.
 */
TEST(tlb_fill_kills_busy_older_entry)
{
	struct unet_tlb t;
	struct unet_tlb_entry *old, *r;
	bool ev;

	setup(&t, 16, 4);
	REQUIRE(ins(&t, 1, 10, 1, false, &ev) != NULL);
	old = unet_tlb_lookup(&t, 1, 10, false);
	REQUIRE(old != NULL);
	r = unet_tlb_reserve(&t, 1, 10, 0, release_cb, &rel, &ev);
	REQUIRE(r != NULL);
	CHECK(r != old);
	unet_tlb_fill(&t, r, PAGE(2), NULL, true, false, release_cb, &rel);
	CHECK(old->flags & UNET_TLB_DEAD);
	CHECK_PTR_EQ(touch(&t, 1, 10, true), r);
	CHECK_PTR_EQ(touch(&t, 1, 10, false), r);
	CHECK_EQ(rel.total, 0);
	unet_tlb_put(&t, old, release_cb, &rel);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(rel.last, 1);
	CHECK_EQ(t.valid, 1);
	INVARIANT(&t);
}

/*
 * unet_tlb_busy counts the dead entries a copy still uses, in range and
 * address space, and nothing else: the notifier waits on it.
 */
TEST(tlb_busy_counts_dead_in_use)
{
	struct unet_tlb t;
	struct unet_tlb_entry *e;
	u32 busy;
	bool ev;

	setup(&t, 16, 4);
	REQUIRE(ins(&t, 1, 10, 0, false, &ev) != NULL);
	REQUIRE(ins(&t, 1, 11, 1, false, &ev) != NULL);
	REQUIRE(ins(&t, 2, 10, 2, false, &ev) != NULL);
	e = unet_tlb_lookup(&t, 1, 10, false);
	REQUIRE(e != NULL);
	CHECK_EQ(unet_tlb_busy(&t, 1, 0, 100), 0);	/* in use, not dead */
	CHECK_EQ(inval(&t, 1, 10, 12, &busy), 2);
	CHECK_EQ(busy, 1);
	CHECK_EQ(unet_tlb_busy(&t, 1, 0, 100), 1);
	CHECK_EQ(unet_tlb_busy(&t, 1, 11, 100), 0);	/* out of range */
	CHECK_EQ(unet_tlb_busy(&t, 2, 0, 100), 0);	/* other space */
	unet_tlb_put(&t, e, release_cb, &rel);
	CHECK_EQ(unet_tlb_busy(&t, 1, 0, 100), 0);
	CHECK_EQ(rel.count[0], 1);
	INVARIANT(&t);
}

/* ---- huge entries ---- */

#define HUGE	UNET_TLB_HUGE_ORDER
#define HP	UNET_TLB_HUGE_PAGES

static struct unet_tlb_entry *ins_order(struct unet_tlb *t, u32 asid,
					u64 vpn, u32 order, int page,
					bool writable, bool ahead)
{
	struct unet_tlb_entry *slot;
	bool ev;

	slot = unet_tlb_reserve(t, asid, vpn, order, release_cb, &rel, &ev);
	if (slot)
		unet_tlb_fill(t, slot, PAGE(page), NULL, writable, ahead,
			      release_cb, &rel);
	return slot;
}

/*
 * One entry answers for every page of its huge page and for none outside
 * it; the page's own entry, if there is one, answers first.
 */
TEST(tlb_huge_lookup)
{
	struct unet_tlb t;
	struct unet_tlb_entry *h, *s, *e;

	setup(&t, 64, 4);
	h = ins_order(&t, 1, 2 * HP, HUGE, 5, true, false);
	REQUIRE(h != NULL);
	CHECK_EQ(h->order, HUGE);
	CHECK_EQ(unet_tlb_span(h), HP);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP, false), h);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP + 1, true), h);
	CHECK_PTR_EQ(touch(&t, 1, 3 * HP - 1, true), h);
	CHECK(!touch(&t, 1, 2 * HP - 1, false));
	CHECK(!touch(&t, 1, 3 * HP, false));
	CHECK(!touch(&t, 2, 2 * HP + 7, false));	/* other space */
	CHECK_EQ(t.valid, 1);

	/* A read-only page entry inside it: first for reads, not writes. */
	s = ins_order(&t, 1, 2 * HP + 7, 0, 6, false, false);
	REQUIRE(s != NULL);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP + 7, false), s);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP + 7, true), h);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP + 8, false), h);
	CHECK_EQ(unet_tlb_count(&t, 1), 2);

	/* The huge key does not collide with the 4 KiB page of that number. */
	e = ins_order(&t, 1, 2, 0, 7, false, false);
	REQUIRE(e != NULL);
	CHECK_PTR_EQ(touch(&t, 1, 2, false), e);
	CHECK_PTR_EQ(touch(&t, 1, 2 * HP, false), h);
	INVARIANT(&t);
}

/*
 * The shrinker asks for pages, not entries: one cold huge entry gives back
 * all 512 of its pages, and is not counted as one.
 */
TEST(tlb_huge_evict_cold_counts_pages)
{
	struct unet_tlb t;

	setup(&t, 64, 4);
	REQUIRE(ins_order(&t, 1, HP, HUGE, 1, true, false));
	REQUIRE(ins_order(&t, 1, 3 * HP + 5, 0, 2, true, false));
	CHECK(touch(&t, 1, 3 * HP + 5, false));	/* the small one is hot */
	CHECK_EQ(unet_tlb_evict_cold(&t, 1, release_cb, &rel), HP);
	CHECK_EQ(rel.last, 1);
	CHECK_EQ(t.valid, 1);
	CHECK_EQ(t.huge, 0);
	CHECK_EQ(unet_tlb_evict_cold(&t, HP, release_cb, &rel), 1);
	CHECK_EQ(t.valid, 0);
	INVARIANT(&t);
}

/*
 * "ahead": a page translated ahead of use is not the victim while it waits
 * for its use, though LRU would take it; once used, it is an entry like
 * any other; after 32 ticks per entry unused, it is fair game again.
 */
TEST(tlb_policy_ahead_keeps_unused_batch)
{
	struct unet_tlb t;
	bool ev;
	int i;

	setup(&t, 4, 4);			/* one set of 4 ways */
	t.policy = UNET_TLB_AHEAD_FIRST;
	REQUIRE(ins_order(&t, 1, 0, 0, 0, false, true));	/* oldest */
	for (i = 1; i < 4; i++)
		REQUIRE(ins_order(&t, 1, i, 0, i, false, false));
	REQUIRE(ins(&t, 1, 10, 10, false, &ev));
	CHECK(ev);
	CHECK_EQ(page_of(&t, 1, 0), 0);		/* kept: not used yet */
	CHECK_EQ(page_of(&t, 1, 1), -1);	/* the LRU used one went */

	CHECK(touch(&t, 1, 0, false));		/* used: ordinary now */
	for (i = 2; i < 4; i++)
		CHECK(touch(&t, 1, i, false));
	CHECK(touch(&t, 1, 10, false));
	REQUIRE(ins(&t, 1, 11, 11, false, &ev));
	CHECK_EQ(page_of(&t, 1, 0), -1);	/* now the LRU one */

	/* The same start under LRU takes the unused batch page first. */
	setup(&t, 4, 4);
	REQUIRE(ins_order(&t, 1, 0, 0, 0, false, true));
	for (i = 1; i < 4; i++)
		REQUIRE(ins_order(&t, 1, i, 0, i, false, false));
	REQUIRE(ins(&t, 1, 10, 10, false, &ev));
	CHECK_EQ(page_of(&t, 1, 0), -1);
	CHECK_EQ(page_of(&t, 1, 1), 1);

	/* Unused for longer than 32 ticks per entry: no longer kept. */
	setup(&t, 4, 4);
	t.policy = UNET_TLB_AHEAD_FIRST;
	REQUIRE(ins_order(&t, 1, 0, 0, 0, false, true));
	for (i = 1; i < 4; i++)
		REQUIRE(ins_order(&t, 1, i, 0, i, false, false));
	for (i = 0; i < 32 * 4; i++)
		CHECK(touch(&t, 1, 1 + i % 3, false));
	REQUIRE(ins(&t, 1, 10, 10, false, &ev));
	CHECK_EQ(page_of(&t, 1, 0), -1);
	INVARIANT(&t);
}

/*
 * "scan": a fill goes to the cold end (but one in 32), and only a use long
 * after its fill moves it to the warm end.
 */
TEST(tlb_policy_scan_inserts_cold)
{
	struct unet_tlb t;
	bool ev;
	int i;

	setup(&t, 4, 4);
	t.policy = UNET_TLB_SCAN_RESISTANT;
	t.fills = 1;				/* the next fill is not 1 in 32 */
	for (i = 0; i < 4; i++)
		REQUIRE(ins_order(&t, 1, i, 0, i, false, false));
	for (i = 0; i < UNET_TLB_SR_REUSE; i++)
		CHECK(touch(&t, 1, 1 + i % 3, false));	/* 1..3 reused late */
	REQUIRE(ins(&t, 1, 10, 10, false, &ev));	/* 0, never reused */
	CHECK_EQ(page_of(&t, 1, 0), -1);
	REQUIRE(ins(&t, 1, 11, 11, false, &ev));	/* evicts 10: cold */
	CHECK_EQ(page_of(&t, 1, 10), -1);
	CHECK_EQ(page_of(&t, 1, 11), 11);
	CHECK(touch(&t, 1, 11, false));		/* soon after: stays cold */
	REQUIRE(ins(&t, 1, 12, 12, false, &ev));
	CHECK_EQ(page_of(&t, 1, 11), -1);
	for (i = 1; i < 4; i++)
		CHECK_EQ(page_of(&t, 1, i), i);
	INVARIANT(&t);
}

/*
 * Unmapping any 4 KiB of a huge page drops the huge entry, on the probing
 * path (a small range) and on the sweep; a range beside it leaves it.
 */
TEST(tlb_huge_invalidate)
{
	struct unet_tlb t;
	struct unet_tlb_entry *h;
	u32 busy;
	int sweep;

	for (sweep = 0; sweep < 2; sweep++) {
		u64 end;

		setup(&t, 64, 4);		/* 16 sets */
		REQUIRE(ins_order(&t, 1, HP, HUGE, 1, true, false));
		REQUIRE(ins_order(&t, 1, 3 * HP, HUGE, 2, true, false));
		REQUIRE(ins_order(&t, 1, 2 * HP + 3, 0, 3, true, false));
		CHECK_EQ(inval(&t, 1, 2 * HP, 2 * HP + 3, &busy), 0);
		CHECK_EQ(inval(&t, 2, HP, 4 * HP, &busy), 0);
		CHECK_EQ(t.valid, 3);
		end = sweep ? HP + 300 + 100 : HP + 301;
		CHECK_EQ(inval(&t, 1, HP + 300, end, &busy), 1);
		CHECK_EQ(busy, 0);
		CHECK_EQ(rel.last, 1);
		CHECK(!touch(&t, 1, HP + 1, false));
		CHECK(touch(&t, 1, 3 * HP + 1, false));
		/* A range that ends where a huge page begins leaves it. */
		CHECK_EQ(inval(&t, 1, 2 * HP + 4, 3 * HP, &busy), 0);
		/* One that starts in the middle takes both. */
		CHECK_EQ(inval(&t, 1, 2 * HP + 3, 3 * HP + 1, &busy), 2);
		CHECK_EQ(t.valid, 0);
		INVARIANT(&t);
	}

	/* In use: dead until its copy ends, counted busy over any page. */
	setup(&t, 64, 4);
	REQUIRE(ins_order(&t, 1, HP, HUGE, 1, true, false));
	h = unet_tlb_lookup(&t, 1, HP + 9, true);
	REQUIRE(h != NULL);
	CHECK_EQ(inval(&t, 1, 2 * HP - 1, 2 * HP, &busy), 1);
	CHECK_EQ(busy, 1);
	CHECK(h->flags & UNET_TLB_DEAD);
	CHECK(!touch(&t, 1, HP + 9, false));
	CHECK_EQ(unet_tlb_busy(&t, 1, HP + 500, HP + 501), 1);
	CHECK_EQ(unet_tlb_busy(&t, 1, 2 * HP, 3 * HP), 0);
	CHECK_EQ(rel.total, 0);
	unet_tlb_put(&t, h, release_cb, &rel);
	CHECK_EQ(rel.total, 1);
	CHECK_EQ(unet_tlb_busy(&t, 1, HP, 2 * HP), 0);
	INVARIANT(&t);
}

/* An entry filled ahead of use counts as used at its first lookup only. */
TEST(tlb_ahead_used_or_wasted)
{
	struct unet_tlb t;
	u32 busy;

	setup(&t, 16, 4);
	REQUIRE(ins_order(&t, 1, 10, 0, 1, false, true));
	REQUIRE(ins_order(&t, 1, 11, 0, 2, false, true));
	REQUIRE(ins_order(&t, 1, 12, 0, 3, false, false));
	CHECK(touch(&t, 1, 10, false));
	CHECK(touch(&t, 1, 10, false));
	CHECK(touch(&t, 1, 12, false));
	CHECK_EQ(t.ahead_used, 1);
	CHECK_EQ(t.ahead_wasted, 0);
	CHECK_EQ(inval(&t, 1, 0, 100, &busy), 3);
	CHECK_EQ(t.ahead_used, 1);
	CHECK_EQ(t.ahead_wasted, 1);		/* 11, never looked up */
	INVARIANT(&t);
}

/* A peek finds what a lookup would, and changes nothing. */
TEST(tlb_peek_changes_nothing)
{
	struct unet_tlb t;
	struct unet_tlb_entry *e, *h;
	u64 stamp, clock;

	setup(&t, 64, 4);
	e = ins_order(&t, 1, 10, 0, 1, false, true);
	h = ins_order(&t, 1, 2 * HP, HUGE, 2, true, true);
	REQUIRE(e && h);
	stamp = e->stamp;
	clock = t.clock;
	CHECK(unet_tlb_peek(&t, 1, 10, false));
	CHECK(!unet_tlb_peek(&t, 1, 10, true));		/* read-only */
	CHECK(!unet_tlb_peek(&t, 2, 10, false));
	CHECK(!unet_tlb_peek(&t, 1, 11, false));
	CHECK(unet_tlb_peek(&t, 1, 2 * HP + 77, true));	/* the huge one */
	CHECK(!unet_tlb_peek(&t, 1, 3 * HP, false));
	CHECK_EQ(e->stamp, stamp);
	CHECK_EQ(t.clock, clock);
	CHECK_EQ(e->users, 0);
	CHECK_EQ(h->users, 0);
	CHECK(e->flags & UNET_TLB_AHEAD);
	CHECK(h->flags & UNET_TLB_AHEAD);
	CHECK_EQ(t.ahead_used, 0);
	INVARIANT(&t);
}

/*
 * The batch a miss may translate: starts at UNET_TLB_BATCH_INIT, doubles
 * while pages filled ahead are used, halves while they are wasted, and
 * stays within [UNET_TLB_BATCH_MIN, max]; it changes only once a window
 * of outcomes has been seen.
 */
TEST(tlb_batch_adapts)
{
	struct unet_tlb t;
	u32 i, b;

	setup(&t, 1024, 4);
	CHECK_EQ(unet_tlb_batch(&t, 64), UNET_TLB_BATCH_INIT);
	CHECK_EQ(unet_tlb_batch(&t, 4), 4);		/* capped */
	setup(&t, 1024, 4);
	t.ahead_used += UNET_TLB_BATCH_WINDOW - 1;
	CHECK_EQ(unet_tlb_batch(&t, 64), UNET_TLB_BATCH_INIT);
	t.ahead_used++;
	CHECK_EQ(unet_tlb_batch(&t, 64), 2 * UNET_TLB_BATCH_INIT);
	CHECK_EQ(unet_tlb_batch(&t, 64), 2 * UNET_TLB_BATCH_INIT);
	for (i = 0; i < 10; i++) {
		t.ahead_used += UNET_TLB_BATCH_WINDOW;
		b = unet_tlb_batch(&t, 64);
	}
	CHECK_EQ(b, 64);
	/* A sequential stream with a few losses keeps it. */
	t.ahead_used += 30;
	t.ahead_wasted += 2;
	CHECK_EQ(unet_tlb_batch(&t, 64), 64);
	/* Scattered use: mostly wasted, down to the minimum. */
	for (i = 0; i < 10; i++) {
		t.ahead_used += 4;
		t.ahead_wasted += UNET_TLB_BATCH_WINDOW;
		b = unet_tlb_batch(&t, 64);
	}
	CHECK_EQ(b, UNET_TLB_BATCH_MIN);
	CHECK_EQ(unet_tlb_batch(&t, 0), UNET_TLB_BATCH_MIN);
	/* And back up once the pattern is sequential again. */
	for (i = 0; i < 3; i++) {
		t.ahead_used += UNET_TLB_BATCH_WINDOW;
		b = unet_tlb_batch(&t, 64);
	}
	CHECK_EQ(b, 8 * UNET_TLB_BATCH_MIN);

	/*
	 * At the minimum nothing is filled ahead, so no outcome comes: after
	 * a window of batches it probes with twice as many.
	 */
	setup(&t, 1024, 4);
	for (i = 0; i < 10; i++) {
		t.ahead_wasted += UNET_TLB_BATCH_WINDOW;
		unet_tlb_batch(&t, 64);
	}
	for (i = 0; i < UNET_TLB_BATCH_WINDOW - 1; i++)
		CHECK_EQ(unet_tlb_batch(&t, 64), UNET_TLB_BATCH_MIN);
	CHECK_EQ(unet_tlb_batch(&t, 64), 2 * UNET_TLB_BATCH_MIN);
	/* Not while the maximum is the minimum (tlb_batch=1). */
	setup(&t, 1024, 4);
	for (i = 0; i < 3 * UNET_TLB_BATCH_WINDOW; i++)
		CHECK_EQ(unet_tlb_batch(&t, 1), 1);
}

/*
 * A randomized run of 4 KiB and huge entries against a model that knows,
 * for every page, which live entry must answer: the page's own (if it
 * allows the access), else its huge page's.
 */
#define HM_ASIDS	3
#define HM_HUGE		4			/* huge pages per space */
#define HM_VPNS		((int)(HM_HUGE * HP))
#define HM_HOLDS	8

struct hrec {
	u32 asid, order;
	u64 vpn;
	bool writable, dead, released;
};

struct hmodel {
	struct hrec *rec;
	int nrec;
	int small[HM_ASIDS + 1][HM_VPNS];	/* live rec, -1 */
	int huge[HM_ASIDS + 1][HM_HUGE];
	struct { struct unet_tlb_entry *e; int rec; } hold[HM_HOLDS];
	int nhold;
	bool bad;
};

static struct hmodel *hm;

static void hm_release(struct unet_tlb_entry *e, void *arg)
{
	int r = (int)((struct hrec *)e->page - hm->rec), h;
	struct hrec *x = &hm->rec[r];

	(void)arg;
	for (h = 0; h < hm->nhold; h++)
		hm->bad |= hm->hold[h].rec == r;
	hm->bad |= x->released || e->users || e->vpn != x->vpn ||
		   e->order != x->order;
	x->released = true;
	if (x->dead)
		return;
	if (x->order && hm->huge[x->asid][x->vpn / HP] == r)
		hm->huge[x->asid][x->vpn / HP] = -1;
	else if (!x->order && hm->small[x->asid][x->vpn] == r)
		hm->small[x->asid][x->vpn] = -1;
}

static int hm_expect(u32 asid, u64 vpn, bool write)
{
	int s = hm->small[asid][vpn], h = hm->huge[asid][vpn / HP];

	if (s >= 0 && (!write || hm->rec[s].writable))
		return s;
	if (h >= 0 && (!write || hm->rec[h].writable))
		return h;
	return -1;
}

static void hm_kill(int r)
{
	struct hrec *x = &hm->rec[r];

	x->dead = true;
	if (x->order)
		hm->huge[x->asid][x->vpn / HP] = -1;
	else
		hm->small[x->asid][x->vpn] = -1;
}

static bool hm_held(int r)
{
	int h;

	for (h = 0; h < hm->nhold; h++)
		if (hm->rec[hm->hold[h].rec].vpn == hm->rec[r].vpn &&
		    hm->hold[h].rec == r)
			return true;
	return false;
}

TEST(tlb_huge_random_model)
{
	unsigned long long seed = 0x5eed2;
	struct unet_tlb t;
	int op, ops = 60000, a, v;
	u32 busy;

	hm = calloc(1, sizeof(*hm));
	REQUIRE(hm != NULL);
	hm->rec = calloc(ops, sizeof(*hm->rec));
	REQUIRE(hm->rec != NULL);
	memset(hm->small, 0xff, sizeof(hm->small));
	memset(hm->huge, 0xff, sizeof(hm->huge));
	setup(&t, 32, 4);
	for (op = 0; op < ops && !UNIT_FAILED(); op++) {
		unsigned k = unit_below(&seed, 100);
		u32 asid = 1 + unit_below(&seed, HM_ASIDS);
		u64 vpn = unit_below(&seed, HM_VPNS);

		if (k < 45) {
			bool write = unit_below(&seed, 2);
			struct unet_tlb_entry *e =
				unet_tlb_lookup(&t, asid, vpn, write);
			int want = hm_expect(asid, vpn, write);

			if (!unit_check((e ? (int)((struct hrec *)e->page -
						   hm->rec) : -1) == want,
					__FILE__, __LINE__,
					"op %d: lookup %u/%llu answered wrongly",
					op, asid, (unsigned long long)vpn))
				break;
			if (!e)
				continue;
			if (hm->nhold < HM_HOLDS && unit_below(&seed, 3) == 0) {
				hm->hold[hm->nhold].e = e;
				hm->hold[hm->nhold++].rec = want;
			} else {
				unet_tlb_put(&t, e, hm_release, NULL);
			}
		} else if (k < 75) {
			u32 order = unit_below(&seed, 3) ? 0 : HUGE;
			int nr = hm->nrec++, *cur;
			struct unet_tlb_entry *slot;
			bool ev;

			if (order)
				vpn &= ~(u64)(HP - 1);
			cur = order ? &hm->huge[asid][vpn / HP] :
				      &hm->small[asid][vpn];
			if (*cur >= 0 && hm_held(*cur))
				continue;	/* the agent never does this */
			hm->rec[nr] = (struct hrec){ .asid = asid,
				.order = order, .vpn = vpn,
				.writable = unit_below(&seed, 2) };
			slot = unet_tlb_reserve(&t, asid, vpn, order,
						hm_release, NULL, &ev);
			if (!slot)
				continue;
			unet_tlb_fill(&t, slot, &hm->rec[nr], NULL,
				      hm->rec[nr].writable, false, hm_release,
				      NULL);
			*cur = nr;
		} else if (k < 88) {
			struct unet_tlb_entry *e;
			int h;

			if (!hm->nhold)
				continue;
			h = unit_below(&seed, hm->nhold);
			e = hm->hold[h].e;
			hm->hold[h] = hm->hold[--hm->nhold];
			unet_tlb_put(&t, e, hm_release, NULL);
		} else {
			u64 end = vpn + 1 + unit_below(&seed, unit_below(&seed, 4) ?
						       16 : 2 * HP);
			int want = 0, want_busy = 0;
			u32 n;

			for (v = 0; v < HM_VPNS; v++) {
				int s = hm->small[asid][v];

				if (s >= 0 && (u64)v >= vpn && (u64)v < end) {
					want++;
					want_busy += hm_held(s);
					hm_kill(s);
				}
			}
			for (v = 0; v < HM_HUGE; v++) {
				int h = hm->huge[asid][v];

				if (h >= 0 && (u64)v * HP < end &&
				    (u64)(v + 1) * HP > vpn) {
					want++;
					want_busy += hm_held(h);
					hm_kill(h);
				}
			}
			n = unet_tlb_invalidate(&t, asid, vpn, end, hm_release,
						NULL, &busy);
			if (!unit_check(n == (u32)want &&
					busy == (u32)want_busy, __FILE__,
					__LINE__,
					"op %d: invalidate [%llu,%llu): %u/%u, want %d/%d",
					op, (unsigned long long)vpn,
					(unsigned long long)end, n, busy, want,
					want_busy))
				break;
		}
		if (!unit_check(!hm->bad, __FILE__, __LINE__,
				"op %d: a release the model did not allow", op) ||
		    !INVARIANT(&t))
			break;
	}
	while (hm->nhold) {
		hm->nhold--;
		unet_tlb_put(&t, hm->hold[hm->nhold].e, hm_release, NULL);
	}
	for (a = 1; a <= HM_ASIDS; a++) {
		unet_tlb_invalidate(&t, a, 0, UINT64_MAX, hm_release, NULL,
				    &busy);
		CHECK_EQ(busy, 0);
	}
	CHECK_EQ(t.valid, 0);
	for (v = 0; v < hm->nrec; v++)
		CHECK(hm->rec[v].released || !hm->rec[v].asid);
	free(hm->rec);
	free(hm);
}
