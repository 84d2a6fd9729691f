// SPDX-License-Identifier: GPL-2.0
/*
 * The NIC's DMA engine: the only code that reads or writes process buffers.
 *
 * A base-level endpoint's buffers are offsets into its pinned segment.  An
 * MM endpoint's buffers are virtual addresses, reached only through the
 * NIC's TLB: a hit pins the entry for the length of one page copy (so an
 * invalidation waits for it), a miss is posted to the kernel agent and the
 * copy stops with -EAGAIN and the bytes moved so far, to resume later.
 */
#include <linux/highmem.h>
#include <linux/mm.h>

#include "nic.h"
#include "../agent/agent.h"

struct unet_map {
	u8 *kaddr;
	u32 len;
	struct unet_tlb_entry *entry;	/* MM mode: the TLB entry held */
};

/* Checks a buffer a process named, before anything is copied. */
int unet_dma_check_sge(struct unet_endpoint *ep, const struct unet_sge *sge)
{
	u64 end = sge->addr + sge->len;

	if (sge->reserved)
		return UNET_ST_BAD_DESC;
	if (end < sge->addr)
		return UNET_ST_BAD_ADDR;
	if (ep->mode == UNET_MODE_BASE)
		return end <= ep->seg_size ? 0 : UNET_ST_BAD_ADDR;
	/* Never a kernel address, whatever the page tables say. */
	return end <= TASK_SIZE_MAX ? 0 : UNET_ST_BAD_ADDR;
}

/*
 * A translation the agent refused is reported once, to the engine that
 * asked for it, the next time that engine needs the page.
 */
static int take_fault(struct unet_endpoint *waiter, enum unet_engine engine,
		      u32 asid, u64 vpn, bool write)
{
	struct unet_fault *f = &waiter->fault[engine];
	int status = 0;

	spin_lock_bh(&waiter->fault_lock);
	if (f->status && f->vpn == vpn && f->asid == asid &&
	    f->write == write) {
		status = f->status;
		f->status = 0;
	}
	spin_unlock_bh(&waiter->fault_lock);
	return status;
}

static int map_mm(struct unet_span *s, u64 addr, u32 avail,
		  struct unet_map *m)
{
	struct unet_endpoint *ep = s->ep;
	struct unet_nic *nic = ep->nic;
	struct unet_context *ctx = ep->ctx;
	u64 vpn = addr >> PAGE_SHIFT;
	u32 pgoff = addr & ~PAGE_MASK;
	struct unet_tlb_entry *e;
	int err;

	spin_lock_bh(&nic->tlb_lock);
	e = unet_tlb_lookup(&nic->tlb, ctx->asid, vpn, s->write);
	spin_unlock_bh(&nic->tlb_lock);
	if (!e) {
		err = take_fault(s->waiter, s->engine, ctx->asid, vpn,
				 s->write);
		if (err)
			return err;
		unet_nic_count(nic, UNET_NIC_tlb_misses, 1);
		unet_ep_count(ep, UNET_CTR_tlb_misses, 1);
		unet_agent_post_miss(nic, ctx, vpn,
				     DIV_ROUND_UP_ULL((u64)pgoff + avail,
						      PAGE_SIZE),
				     s->write, s->waiter, s->engine);
		s->missed = true;
		return -EAGAIN;
	}
	unet_nic_count(nic, UNET_NIC_tlb_hits, 1);
	m->entry = e;
	/* A huge entry maps consecutive pages of one folio from e->vpn. */
	m->kaddr = (u8 *)kmap_local_page(nth_page((struct page *)e->page,
						  vpn - e->vpn)) + pgoff;
	m->len = min_t(u32, avail, PAGE_SIZE - pgoff);
	return 0;
}

static int map_ep(struct unet_span *s, u32 off, struct unet_map *m)
{
	u32 i, base = 0;

	for (i = 0; i < s->nsge; i++) {
		if (off < base + s->sge[i].len)
			break;
		base += s->sge[i].len;
	}
	if (i == s->nsge)
		return UNET_ST_BAD_LENGTH;
	off -= base;
	if (s->ep->mode == UNET_MODE_BASE) {
		/* Checked against the segment by unet_dma_check_sge(). */
		m->kaddr = (u8 *)s->ep->seg + s->sge[i].addr + off;
		m->len = s->sge[i].len - off;
		return 0;
	}
	return map_mm(s, s->sge[i].addr + off, s->sge[i].len - off, m);
}

static int span_map(struct unet_span *s, u32 off, u32 want,
		    struct unet_map *m)
{
	int ret = 0;

	m->entry = NULL;
	switch (s->kind) {
	case UNET_SPAN_KERNEL:
		m->kaddr = s->kbuf + off;
		m->len = want;
		break;
	case UNET_SPAN_SKB:
		m->kaddr = NULL;	/* copied with skb_copy_bits() */
		m->len = want;
		break;
	case UNET_SPAN_EP:
		ret = map_ep(s, off, m);
		break;
	}
	if (!ret)
		m->len = min(m->len, want);
	return ret;
}

static void span_unmap(struct unet_span *s, struct unet_map *m)
{
	if (!m->entry)
		return;
	kunmap_local(m->kaddr);
	unet_agent_tlb_put(s->ep->nic, m->entry);
}

/*
 * Copies @len bytes from @src at @soff to @dst at @doff.  Returns 0, or
 * -EAGAIN when a translation is missing (the miss is already posted), or
 * an enum unet_status for a buffer the process may not use, with the span
 * at fault in span->fault.  *copied counts the bytes moved either way.
 */
int unet_dma_copy(struct unet_span *dst, u32 doff, struct unet_span *src,
		  u32 soff, u32 len, u32 *copied)
{
	struct unet_map dm, sm;
	int ret = 0;

	*copied = 0;
	while (len) {
		u32 n;

		ret = span_map(dst, doff, len, &dm);
		if (ret) {
			if (ret > 0)
				dst->fault = ret;
			break;
		}
		n = dm.len;
		if (src->kind == UNET_SPAN_SKB) {
			ret = skb_copy_bits(src->skb, src->skb_off + soff,
					    dm.kaddr, n);
			if (ret)
				ret = UNET_ST_BAD_LENGTH;
		} else {
			ret = span_map(src, soff, n, &sm);
			if (!ret) {
				n = sm.len;
				memcpy(dm.kaddr, sm.kaddr, n);
				span_unmap(src, &sm);
			} else if (ret > 0) {
				src->fault = ret;
			}
		}
		span_unmap(dst, &dm);
		if (ret)
			break;
		doff += n;
		soff += n;
		len -= n;
		*copied += n;
	}
	return ret;
}

/*
 * The first page of [@vpn, @last] that the TLB lacks (for a write if
 * @write), or @last + 1 when it has them all.  Only peeks: a look is not
 * a use.
 */
static u64 first_missing(struct unet_nic *nic, u32 asid, u64 vpn, u64 last,
			 bool write)
{
	for (; vpn <= last; vpn++) {
		bool hit;

		spin_lock_bh(&nic->tlb_lock);
		hit = unet_tlb_peek(&nic->tlb, asid, vpn, write);
		spin_unlock_bh(&nic->tlb_lock);
		if (!hit)
			break;
	}
	return vpn;
}

/*
 * Translates, in the sender's own system call, the pages of the buffers
 * it is about to copy that the TLB lacks: one unet_agent_fill_now() per
 * run of them.  Stops at the first run that call cannot make; the copy
 * misses there and the agent serves it as usual.  @sge is the engine's
 * checked copy of the descriptor's gather list.
 */
void unet_dma_translate_now(struct unet_endpoint *ep,
			    const struct unet_sge *sge, u32 nsge, bool write)
{
	struct unet_nic *nic = ep->nic;
	u32 asid = ep->ctx->asid, i;

	for (i = 0; i < nsge; i++) {
		u64 vpn, last;

		if (!sge[i].len)
			continue;
		last = (sge[i].addr + sge[i].len - 1) >> PAGE_SHIFT;
		for (vpn = sge[i].addr >> PAGE_SHIFT; vpn <= last; vpn++) {
			vpn = first_missing(nic, asid, vpn, last, write);
			if (vpn <= last &&
			    unet_agent_fill_now(ep, vpn, last - vpn + 1, write))
				return;
		}
	}
}

/*
 * Asks the agent to translate the pages of buffers the NIC will need soon,
 * so that the copy finds them in the TLB: one prefetch per buffer, from
 * its first page the TLB lacks to its end (the agent batches it as it
 * does a miss).  Looks at most @max_pages pages; posts prefetches only,
 * never waits.  Returns the pages looked at.
 */
u32 unet_dma_prefetch(struct unet_endpoint *ep, const struct unet_sge *sge,
		      u32 nsge, bool write, u32 max_pages)
{
	struct unet_nic *nic = ep->nic;
	u32 asid = ep->ctx->asid, i, pages = 0;

	if (ep->mode != UNET_MODE_MM)
		return 0;
	/*
	 * Only into free room: once the TLB is mostly full a prefetched page
	 * would evict one in use, and cyclic buffer pools are LRU's worst case.
	 */
	if (READ_ONCE(nic->tlb.valid) + max_pages >
	    unet_tlb_entries(&nic->tlb) * 3 / 4)
		return 0;
	for (i = 0; i < nsge && pages < max_pages; i++) {
		u64 vpn, last, miss;

		if (!sge[i].len || unet_dma_check_sge(ep, &sge[i]))
			continue;
		vpn = sge[i].addr >> PAGE_SHIFT;
		/* The pages still to look at, from this buffer. */
		last = min_t(u64, (sge[i].addr + sge[i].len - 1) >> PAGE_SHIFT,
			     vpn + (max_pages - pages) - 1);
		miss = first_missing(nic, asid, vpn, last, write);
		pages += miss - vpn;
		if (miss <= last) {
			unet_agent_prefetch(nic, ep->ctx, miss, last - miss + 1,
					    write, ep);
			pages += last - miss + 1;
		}
	}
	return pages;
}
