/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel agent: fills the NIC's TLB on a miss and keeps it coherent with
 * the VM system.  The NIC raises a miss with unet_agent_post_miss() (its
 * "interrupt") and goes on; the agent answers with a TLB fill and
 * unet_nic_translation_ready().
 */
#ifndef UNET_AGENT_H
#define UNET_AGENT_H

#include "../unet.h"

int unet_agent_nic_init(struct unet_nic *nic);
void unet_agent_nic_exit(struct unet_nic *nic);
int unet_agent_ctx_init(struct unet_context *ctx);
void unet_agent_ctx_exit(struct unet_context *ctx);
void unet_agent_forget_ep(struct unet_endpoint *ep);

void unet_agent_post_miss(struct unet_nic *nic, struct unet_context *ctx,
			  u64 vpn, bool write, struct unet_endpoint *waiter);
void unet_agent_prefetch(struct unet_nic *nic, struct unet_context *ctx,
			 u64 vpn, bool write, struct unet_endpoint *waiter);

/* Drops a TLB user reference taken by the DMA engine. */
void unet_agent_tlb_put(struct unet_nic *nic, struct unet_tlb_entry *e);

#endif /* UNET_AGENT_H */
