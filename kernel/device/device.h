/* SPDX-License-Identifier: GPL-2.0 */
/* The U-Net device: contexts (open files), endpoints and channels. */
#ifndef UNET_DEVICE_H
#define UNET_DEVICE_H

#include "../unet.h"

int unet_ep_create(struct unet_context *ctx, struct unet_ep_create *req);
int unet_ep_destroy(struct unet_context *ctx, u32 handle);
void unet_ep_destroy_all(struct unet_context *ctx);
struct unet_endpoint *unet_ep_lookup(struct unet_context *ctx, u32 handle);
int unet_ep_mmap(struct unet_context *ctx, struct vm_area_struct *vma);
int unet_chan_create(struct unet_context *ctx, struct unet_chan_create *req);
int unet_chan_destroy(struct unet_context *ctx, struct unet_chan_destroy *req);

#endif /* UNET_DEVICE_H */
