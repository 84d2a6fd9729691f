/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel agent: fills the NIC's TLB on a miss and keeps it coherent with
 * the VM system.  The NIC raises a miss with unet_agent_post_miss() (its
 * "interrupt") and goes on; the agent answers with a TLB fill and
 * unet_nic_translation_ready() for the engine that waited.
 */
#ifndef UNET_AGENT_H
#define UNET_AGENT_H

#include "../unet.h"

int unet_agent_init(void);
void unet_agent_exit(void);

/**
 * unet_agent_nic_init() - give a NIC its TLB and shrinker
 * @nic: the NIC, with its index set
 *
 * Return: 0 or a negative errno.
 */
int unet_agent_nic_init(struct unet_nic *nic);
void unet_agent_nic_exit(struct unet_nic *nic);

/**
 * unet_agent_ctx_init() - start watching an address space
 * @ctx: a new context, bound to its mm
 *
 * Registers the mmu notifier that keeps every NIC's TLB coherent with
 * @ctx->mm.  Return: 0 or a negative errno.
 */
int unet_agent_ctx_init(struct unet_context *ctx);

/**
 * unet_agent_ctx_exit() - stop translating for a context being closed
 * @ctx: the context; its endpoints are already drained
 *
 * Drops the misses still queued for @ctx, waking their engines, and every
 * TLB entry of its address space; never waits for a miss in service (a
 * fault that may block for as long as the process lives).  Such a miss
 * holds its own reference on @ctx and finds it dying.
 */
void unet_agent_ctx_exit(struct unet_context *ctx);

/* Frees the agent's part of a context at its last reference. */
void unet_agent_ctx_free(struct unet_context *ctx);

/* Pages of @ctx's address space pinned by the TLBs now. */
long unet_agent_ctx_pinned(struct unet_context *ctx);

/* An endpoint's miss requests, made with it and freed with it. */
int unet_agent_ep_init(struct unet_endpoint *ep);
void unet_agent_ep_free(struct unet_endpoint *ep);

/**
 * unet_agent_forget_ep() - drop the misses an endpoint waits for
 * @ep: a dead endpoint whose engines are stopped or stopping
 */
void unet_agent_forget_ep(struct unet_endpoint *ep);

/**
 * unet_agent_post_miss() - ask for a translation an engine waits for
 * @nic: the NIC whose TLB misses
 * @ctx: the address space that owns the page
 * @vpn: the virtual page
 * @pages: pages of the buffer from @vpn on (at least 1): the agent may
 *	translate up to that many (a batch) while it serves the miss
 * @write: the NIC will write into it
 * @waiter: the endpoint whose engine waits (may belong to another context)
 * @engine: which of its engines to resume when the translation is there
 */
void unet_agent_post_miss(struct unet_nic *nic, struct unet_context *ctx,
			  u64 vpn, u32 pages, bool write,
			  struct unet_endpoint *waiter,
			  enum unet_engine engine);

/* The same for a page the NIC will want soon; nothing waits for it. */
void unet_agent_prefetch(struct unet_nic *nic, struct unet_context *ctx,
			 u64 vpn, u32 pages, bool write,
			 struct unet_endpoint *waiter);

/**
 * unet_agent_fill_now() - translate a sender's buffer in its own system call
 * @ep: an MM endpoint whose send engine runs in its process, under tx.mutex,
 *	holding no TLB entry
 * @vpn: the first page the TLB lacks
 * @pages: pages of the buffer from @vpn on (at least 1)
 * @write: the NIC will write into it
 *
 * Return: 0 when the translation is there; else nonzero, and nothing was
 * reported: the copy's miss goes to the agent as usual.
 */
int unet_agent_fill_now(struct unet_endpoint *ep, u64 vpn, u32 pages,
			bool write);

/* Drops a TLB user reference taken by the DMA engine. */
void unet_agent_tlb_put(struct unet_nic *nic, struct unet_tlb_entry *e);

#endif /* UNET_AGENT_H */
