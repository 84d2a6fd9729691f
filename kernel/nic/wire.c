// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding and validation of the U-Net frame header.  A header that decodes
 * here is safe to act on: its fragment lies inside its message, inside the
 * frame and inside the reassembly bitmap, so the receive engine needs no
 * further range checks on it.
 */
#include "wire.h"

/* The largest message is fixed by the ABI. */
#include <unetmm.h>

static void put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static u16 get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static u32 get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

void unet_wire_encode(const struct unet_wire_hdr *h, u8 *buf)
{
	buf[0] = h->version;
	buf[1] = h->type;
	put16(buf + 2, h->frag_size);
	put32(buf + 4, h->dst_ep);
	put32(buf + 8, h->src_ep);
	put32(buf + 12, h->msg_id);
	put32(buf + 16, h->msg_len);
	put32(buf + 20, h->frag_off);
	put16(buf + 24, h->frag_len);
	put16(buf + 26, 0);
}

/* @len counts the bytes after the Ethernet header. */
int unet_wire_decode(const u8 *buf, u32 len, struct unet_wire_hdr *h)
{
	u32 end;

	if (len < UNET_WIRE_HDR_LEN)
		return UNET_WIRE_SHORT;
	h->version = buf[0];
	h->type = buf[1];
	h->frag_size = get16(buf + 2);
	h->dst_ep = get32(buf + 4);
	h->src_ep = get32(buf + 8);
	h->msg_id = get32(buf + 12);
	h->msg_len = get32(buf + 16);
	h->frag_off = get32(buf + 20);
	h->frag_len = get16(buf + 24);

	if (h->version != UNET_WIRE_VERSION)
		return UNET_WIRE_VERSION_MISMATCH;
	if (h->type != UNET_WIRE_DATA)
		return UNET_WIRE_BAD_TYPE;
	if (h->frag_len > len - UNET_WIRE_HDR_LEN)
		return UNET_WIRE_SHORT;
	if (h->msg_len > UNET_MAX_MSG || h->frag_off > h->msg_len ||
	    h->frag_len > h->msg_len - h->frag_off)
		return UNET_WIRE_BAD_LENGTH;
	if (!h->frag_size)
		return UNET_WIRE_BAD_FRAG;
	/* One frame carries the whole message: geometry is trivially fine. */
	if (h->frag_off == 0 && h->frag_len == h->msg_len &&
	    h->frag_len <= h->frag_size)
		return UNET_WIRE_OK;
	if (h->frag_size < UNET_WIRE_MIN_FRAG || h->frag_off % h->frag_size)
		return UNET_WIRE_BAD_FRAG;
	end = h->frag_off + h->frag_len;
	if (h->frag_len != h->frag_size && end != h->msg_len)
		return UNET_WIRE_BAD_FRAG;
	if (h->frag_len > h->frag_size || (!h->frag_len && h->msg_len))
		return UNET_WIRE_BAD_FRAG;
	return UNET_WIRE_OK;
}
