// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoints and channels.  An endpoint's queues live in vmalloc()
 * memory that the process maps; a base-level endpoint also owns a pinned
 * communication segment charged to RLIMIT_MEMLOCK.  Only this file creates
 * channels, so a process can send only where the kernel let it.
 *
 * Teardown: an endpoint is unlinked (dead, invisible to the rx path after a
 * grace period), then drained (its engines stopped, its misses taken
 * back), then freed with its last reference.  Its segment does not wait
 * for that last reference: the engines hold it until they are drained and
 * each mapping while it exists, and it goes with the last of those holds,
 * so a sender parked on it or a miss it waits for cannot keep a dead
 * process's pinned memory alive.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "device.h"
#include "../compat.h"
#include "../nic/nic.h"
#include "../nic/ring.h"
#include "../agent/agent.h"

/* mmap offsets: the endpoint handle above bit 32, the region in bit 31. */
#define UNET_MMAP_SEGMENT_BIT	(1ull << 31)

static u64 mmap_offset(u32 handle, bool segment)
{
	return ((u64)handle << 32) | (segment ? UNET_MMAP_SEGMENT_BIT : 0);
}

void unet_ep_get(struct unet_endpoint *ep)
{
	kref_get(&ep->ref);
}

static void ep_free_rcu(struct rcu_head *head)
{
	struct unet_endpoint *ep = container_of(head, struct unet_endpoint,
						rcu);
	int i;

	for (i = 0; i < UNET_MAX_CHANNELS; i++)
		kfree(ep->rx.reasm[i]);
	vfree(ep->qmem);	/* vfree defers itself in atomic context */
	kfree(ep);
}

/*
 * Gives the segment back: its memory and its RLIMIT_MEMLOCK charge.
 * account_locked_vm() takes the mmap lock, which munmap holds when it
 * drops the last mapping, hence also a work item.
 */
static void ep_free_segment(struct unet_endpoint *ep)
{
	if (ep->seg_pages_charged) {
		account_locked_vm(ep->mm, ep->seg_pages_charged, false);
		unet_nic_count(ep->nic, UNET_NIC_segment_pages,
			       -(s64)ep->seg_pages_charged);
		ep->seg_pages_charged = 0;
	}
	vfree(ep->seg);
	ep->seg = NULL;
}

static void ep_segment_work(struct work_struct *work)
{
	struct unet_endpoint *ep = container_of(work, struct unet_endpoint,
						seg_work);

	ep_free_segment(ep);
	unet_ep_put(ep);
}

/*
 * Drops one hold on the segment: the engines hold one until the endpoint
 * is drained, each mapping one while it exists.  The last goes, at once
 * when the caller may take the mmap lock (@now), else from a work item
 * (munmap, which holds it, dropping the last mapping).
 */
static void ep_segment_put(struct unet_endpoint *ep, bool now)
{
	if (!atomic_dec_and_test(&ep->seg_holds) || !ep->seg)
		return;
	if (now) {
		ep_free_segment(ep);
		return;
	}
	unet_ep_get(ep);
	queue_work(unet_free_wq, &ep->seg_work);
}

static void ep_free_work(struct work_struct *work)
{
	struct unet_endpoint *ep = container_of(work, struct unet_endpoint,
						free_work);

	/* A segment work still queued holds a reference: it has run. */
	WARN_ON(ep->seg && atomic_read(&ep->seg_holds));
	ep_free_segment(ep);
	unet_agent_ep_free(ep);
	mmdrop(ep->mm);
	unet_ctx_put(ep->ctx);
	call_rcu(&ep->rcu, ep_free_rcu);
}

static void ep_release(struct kref *ref)
{
	struct unet_endpoint *ep = container_of(ref, struct unet_endpoint,
						ref);

	queue_work(unet_free_wq, &ep->free_work);
}

void unet_ep_put(struct unet_endpoint *ep)
{
	kref_put(&ep->ref, ep_release);
}

static size_t ring_bytes(u32 entries, size_t desc)
{
	return PAGE_ALIGN((size_t)entries * desc);
}

/*
 * Memory the process maps: zeroed, and charged to its memory cgroup like
 * the page tables and sockets it owns (kernel memory a process can ask
 * for again and again must have an owner).  vmalloc_user() cannot charge,
 * so unet_ep_mmap() maps these pages itself.
 */
static void *alloc_shared(size_t size)
{
	return __vmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
}

static int ep_alloc_queues(struct unet_endpoint *ep, struct unet_ep_create *req)
{
	size_t tx = ring_bytes(req->tx_entries, sizeof(struct unet_tx_desc));
	size_t rx = ring_bytes(req->rx_entries, sizeof(struct unet_rx_desc));
	size_t fq = ring_bytes(req->fq_entries, sizeof(struct unet_sge));

	BUILD_BUG_ON(sizeof(struct unet_ctrl) > PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct unet_tx_desc) != UNET_DESC_SIZE);
	BUILD_BUG_ON(sizeof(struct unet_rx_desc) != UNET_DESC_SIZE);

	ep->qsize = PAGE_SIZE + tx + rx + fq;
	ep->qmem = alloc_shared(ep->qsize);
	if (!ep->qmem)
		return -ENOMEM;
	ep->ctrl = ep->qmem;
	ep->txq = ep->qmem + PAGE_SIZE;
	ep->rxq = ep->qmem + PAGE_SIZE + tx;
	ep->fq = ep->qmem + PAGE_SIZE + tx + rx;
	ep->tx_entries = req->tx_entries;
	ep->rx_entries = req->rx_entries;
	ep->fq_entries = req->fq_entries;
	ep->ctrl->nic_idle = 1;

	req->queue_size = ep->qsize;
	req->tx_off = PAGE_SIZE;
	req->rx_off = PAGE_SIZE + tx;
	req->fq_off = PAGE_SIZE + tx + rx;
	return 0;
}

static int ep_alloc_segment(struct unet_endpoint *ep, struct mm_struct *mm,
			    u32 size)
{
	unsigned long pages = size >> PAGE_SHIFT;
	int ret;

	if (!size || size > UNET_SEGMENT_MAX || !PAGE_ALIGNED(size))
		return -EINVAL;
	/* Refused beyond RLIMIT_MEMLOCK unless CAP_IPC_LOCK. */
	ret = account_locked_vm(mm, pages, true);
	if (ret)
		return ret;
	ep->seg = alloc_shared(size);
	if (!ep->seg) {
		account_locked_vm(mm, pages, false);
		return -ENOMEM;
	}
	ep->seg_size = size;
	ep->seg_pages_charged = pages;
	unet_nic_count(ep->nic, UNET_NIC_segment_pages, pages);
	return 0;
}

static void ep_init_engines(struct unet_endpoint *ep)
{
	kref_init(&ep->ref);
	INIT_WORK(&ep->free_work, ep_free_work);
	INIT_WORK(&ep->seg_work, ep_segment_work);
	atomic_set(&ep->seg_holds, 1);	/* the engines' */
	INIT_LIST_HEAD(&ep->active_node);
	mutex_init(&ep->tx.mutex);
	INIT_WORK(&ep->tx.work, unet_tx_work);
	INIT_LIST_HEAD(&ep->tx.room_node);
	spin_lock_init(&ep->rx.lock);
	skb_queue_head_init(&ep->rx.backlog);
	INIT_WORK(&ep->rx.work, unet_rx_work);
	spin_lock_init(&ep->fault_lock);
}

static bool ep_create_ok(const struct unet_ep_create *req)
{
	if (req->flags || req->reserved0 || req->reserved1 ||
	    memchr_inv(req->reserved2, 0, sizeof(req->reserved2)))
		return false;
	if (req->mode != UNET_MODE_MM && req->mode != UNET_MODE_BASE)
		return false;
	if (!unet_ring_size_ok(req->tx_entries, UNET_RING_MIN, UNET_RING_MAX) ||
	    !unet_ring_size_ok(req->rx_entries, UNET_RING_MIN, UNET_RING_MAX) ||
	    !unet_ring_size_ok(req->fq_entries, UNET_RING_MIN, UNET_RING_MAX))
		return false;
	return req->mode == UNET_MODE_BASE || !req->segment_size;
}

/* Undoes a creation that failed before the endpoint was visible. */
static void ep_undo(struct unet_endpoint *ep)
{
	ep_free_segment(ep);
	unet_agent_ep_free(ep);
	mmdrop(ep->mm);
	unet_ctx_put(ep->ctx);
	vfree(ep->qmem);
	kfree(ep);
}

int unet_ep_create(struct unet_context *ctx, struct unet_ep_create *req)
{
	struct unet_endpoint *ep;
	struct unet_nic *nic;
	u32 handle;
	int ret;

	nic = unet_nic_by_index(req->nic);
	if (!nic)
		return -ENODEV;
	if (!ep_create_ok(req))
		return -EINVAL;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return -ENOMEM;
	ep_init_engines(ep);
	unet_ctx_get(ctx);
	ep->ctx = ctx;
	ep->mm = ctx->mm;
	mmgrab(ep->mm);		/* the segment's charge outlives the context */
	ep->nic = nic;
	ep->mode = req->mode;

	ret = unet_agent_ep_init(ep);
	if (ret)
		goto err_undo;
	ret = ep_alloc_queues(ep, req);
	if (ret)
		goto err_undo;
	if (ep->mode == UNET_MODE_BASE) {
		ret = ep_alloc_segment(ep, ctx->mm, req->segment_size);
		if (ret)
			goto err_undo;
	}

	mutex_lock(&ctx->lock);
	ret = xa_alloc(&ctx->endpoints, &handle, ep,
		       XA_LIMIT(1, UNET_EP_PER_CTX), GFP_KERNEL);
	if (ret) {
		mutex_unlock(&ctx->lock);
		ret = ret == -EBUSY ? -EMFILE : ret;
		goto err_undo;
	}
	ep->handle = handle;
	ret = unet_nic_add_endpoint(nic, ep);
	if (ret) {
		xa_erase(&ctx->endpoints, handle);
		mutex_unlock(&ctx->lock);
		synchronize_rcu();	/* poll() may have seen it */
		goto err_undo;
	}
	mutex_unlock(&ctx->lock);

	req->handle = ep->handle;
	req->ep_id = ep->id;
	req->queue_offset = mmap_offset(ep->handle, false);
	req->segment_offset = ep->seg ? mmap_offset(ep->handle, true) : 0;
	return 0;

err_undo:
	ep_undo(ep);
	return ret;
}

struct unet_endpoint *unet_ep_lookup(struct unet_context *ctx, u32 handle)
{
	struct unet_endpoint *ep;

	mutex_lock(&ctx->lock);
	ep = xa_load(&ctx->endpoints, handle);
	if (ep)
		unet_ep_get(ep);
	mutex_unlock(&ctx->lock);
	return ep;
}

/* Stops the NIC from finding @ep; an RCU grace period must follow. */
static void ep_unlink(struct unet_endpoint *ep)
{
	WRITE_ONCE(ep->dead, true);
	unet_nic_remove_endpoint(ep->nic, ep);
	unet_nic_deactivate(ep);
}

/*
 * Drains every engine's use of an unlinked endpoint, after the grace
 * period.  Mappings may still hold references; the queue memory goes with
 * the last one, the segment as soon as no mapping is left.
 */
static void ep_drain(struct unet_endpoint *ep)
{
	unet_agent_forget_ep(ep);	/* the agent will not wake it */
	unet_tx_stop(ep);
	unet_rx_stop(ep);
	ep_segment_put(ep, true);	/* no engine touches it any more */
	unet_ep_put(ep);
}

int unet_ep_destroy(struct unet_context *ctx, u32 handle)
{
	struct unet_endpoint *ep;

	mutex_lock(&ctx->lock);
	ep = xa_erase(&ctx->endpoints, handle);
	mutex_unlock(&ctx->lock);
	if (!ep)
		return -ENOENT;
	ep_unlink(ep);
	synchronize_rcu();		/* no rx handler still sees it */
	ep_drain(ep);
	return 0;
}

/*
 * Called from release: the context's file is gone.  One grace period
 * covers every endpoint, so a process with many endpoints exits quickly.
 */
void unet_ep_destroy_all(struct unet_context *ctx)
{
	struct unet_endpoint *ep;
	unsigned long handle;

	xa_for_each(&ctx->endpoints, handle, ep)
		ep_unlink(ep);
	synchronize_rcu();
	xa_for_each(&ctx->endpoints, handle, ep) {
		xa_erase(&ctx->endpoints, handle);
		ep_drain(ep);
	}
}

static void ep_vma_open(struct vm_area_struct *vma)
{
	struct unet_endpoint *ep = vma->vm_private_data;

	unet_ep_get(ep);
	atomic_inc(&ep->seg_holds);	/* a split: the original holds one */
}

static void ep_vma_close(struct vm_area_struct *vma)
{
	struct unet_endpoint *ep = vma->vm_private_data;

	ep_segment_put(ep, false);
	unet_ep_put(ep);
}

static const struct vm_operations_struct ep_vm_ops = {
	.open = ep_vma_open,
	.close = ep_vma_close,
};

static int map_shared(struct vm_area_struct *vma, u8 *mem)
{
	unsigned long addr;
	int ret;

	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		ret = vm_insert_page(vma, addr, vmalloc_to_page(mem));
		if (ret)
			return ret;	/* mmap's failure path unmaps the rest */
		mem += PAGE_SIZE;
	}
	return 0;
}

int unet_ep_mmap(struct unet_context *ctx, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned long len = vma->vm_end - vma->vm_start;
	bool segment = off & UNET_MMAP_SEGMENT_BIT;
	struct unet_endpoint *ep;
	void *mem;
	size_t size;
	int ret;

	if (off & (UNET_MMAP_SEGMENT_BIT - 1))
		return -EINVAL;
	ep = unet_ep_lookup(ctx, off >> 32);
	if (!ep)
		return -ENOENT;
	/* Drained and unmapped already (a destroy raced us): gone. */
	ret = -ENOENT;
	if (!atomic_inc_not_zero(&ep->seg_holds))
		goto out;
	mem = segment ? ep->seg : ep->qmem;
	size = segment ? ep->seg_size : ep->qsize;
	ret = -EINVAL;
	if (!mem || len != PAGE_ALIGN(size))
		goto out_hold;
	/* A child must open its own context: the queues are not inherited. */
	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	ret = map_shared(vma, mem);
	if (ret)
		goto out_hold;
	vma->vm_ops = &ep_vm_ops;
	vma->vm_private_data = ep;
	return 0;	/* the lookup's reference and the hold are the vma's */
out_hold:
	ep_segment_put(ep, false);	/* mmap holds the mmap lock */
out:
	unet_ep_put(ep);
	return ret;
}

/*
 * Creates a channel.  One to this NIC's own address (or, on a NIC without
 * a netdev, to the all-zero one it has) is local for good; any other puts
 * frames on the wire and needs the wire right the context was opened with.
 */
int unet_chan_create(struct unet_context *ctx, struct unet_chan_create *req)
{
	struct unet_endpoint *ep;
	struct unet_reasm *reasm;
	bool local;
	int ret, i, slot = -1;

	if (req->flags || req->reserved)
		return -EINVAL;
	ep = unet_ep_lookup(ctx, req->handle);
	if (!ep)
		return -ENOENT;
	local = unet_nic_is_local(ep->nic, req->remote_mac);
	ret = -EINVAL;
	if (!req->remote_ep || (!local && !is_valid_ether_addr(req->remote_mac)))
		goto out_put;
	ret = -EPERM;
	if (!local && !ctx->wire_ok)
		goto out_put;
	/* Allocated up front: the slot is chosen under a spinlock. */
	reasm = kzalloc(sizeof(*reasm), GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!reasm)
		goto out_put;

	mutex_lock(&ctx->lock);
	spin_lock_bh(&ep->rx.lock);
	for (i = 0; i < UNET_MAX_CHANNELS; i++) {
		struct unet_channel *c = &ep->rx.chan[i];

		if (!c->used) {
			if (slot < 0)
				slot = i;
		} else if (c->remote_ep == req->remote_ep &&
			   c->local == local &&
			   (local || ether_addr_equal(c->mac, req->remote_mac))) {
			ret = -EEXIST;
			goto out_unlock;
		}
	}
	ret = -ENOSPC;
	if (slot < 0)
		goto out_unlock;
	if (!ep->rx.reasm[slot]) {
		ep->rx.reasm[slot] = reasm;
		reasm = NULL;
	}
	/* A refusal is the old channel's business, not this one's. */
	ep->rx.reasm[slot]->refused = false;
	ep->rx.chan[slot].remote_ep = req->remote_ep;
	ep->rx.chan[slot].local = local;
	ether_addr_copy(ep->rx.chan[slot].mac, req->remote_mac);
	WRITE_ONCE(ep->rx.chan[slot].used, true);
	req->channel = slot;
	ret = 0;
out_unlock:
	spin_unlock_bh(&ep->rx.lock);
	mutex_unlock(&ctx->lock);
	kfree(reasm);
out_put:
	unet_ep_put(ep);
	return ret;
}

int unet_chan_destroy(struct unet_context *ctx, struct unet_chan_destroy *req)
{
	struct unet_endpoint *ep;
	int ret = -ENOENT;

	ep = unet_ep_lookup(ctx, req->handle);
	if (!ep)
		return -ENOENT;
	spin_lock_bh(&ep->rx.lock);
	if (req->channel < UNET_MAX_CHANNELS && ep->rx.chan[req->channel].used) {
		unet_rx_abort_channel(ep, req->channel);
		WRITE_ONCE(ep->rx.chan[req->channel].used, false);
		ret = 0;
	}
	spin_unlock_bh(&ep->rx.lock);
	unet_ep_put(ep);
	return ret;
}
