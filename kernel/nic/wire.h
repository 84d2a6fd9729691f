/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The U-Net frame header that follows the Ethernet header (EtherType
 * 0x88B5).  docs/WIRE.md draws it.  Pure logic, shared with the host tests.
 */
#ifndef UNET_WIRE_H
#define UNET_WIRE_H

#include <linux/types.h>

#define UNET_WIRE_VERSION	1
#define UNET_WIRE_HDR_LEN	28
#define UNET_WIRE_MIN_FRAG	256	/* smallest fragment size a sender may use */
#define UNET_WIRE_MAX_FRAGS	256	/* UNET_MAX_MSG / UNET_WIRE_MIN_FRAG */

enum unet_wire_type {
	UNET_WIRE_DATA = 1,
};

/* Host-order view of a header; the codec is the only byte-order code. */
struct unet_wire_hdr {
	u8  version;
	u8  type;
	u16 frag_size;	/* payload of every fragment but the last */
	u32 dst_ep;	/* tag: endpoint on the receiving NIC */
	u32 src_ep;	/* tag: endpoint on the sending NIC */
	u32 msg_id;	/* per sending endpoint, increasing */
	u32 msg_len;
	u32 frag_off;	/* byte offset of this fragment in the message */
	u16 frag_len;	/* payload bytes in this frame */
};

enum unet_wire_error {
	UNET_WIRE_OK = 0,
	UNET_WIRE_SHORT,	/* frame shorter than header + payload */
	UNET_WIRE_VERSION_MISMATCH,
	UNET_WIRE_BAD_TYPE,
	UNET_WIRE_BAD_LENGTH,	/* message too long or fragment outside it */
	UNET_WIRE_BAD_FRAG,	/* fragment geometry inconsistent */
};

void unet_wire_encode(const struct unet_wire_hdr *h, u8 *buf);
int unet_wire_decode(const u8 *buf, u32 len, struct unet_wire_hdr *h);

static inline u32 unet_wire_nfrags(u32 msg_len, u32 frag_size)
{
	return msg_len ? (msg_len + frag_size - 1) / frag_size : 1;
}

static inline u32 unet_wire_frag_index(const struct unet_wire_hdr *h)
{
	return h->frag_off / h->frag_size;
}

#endif /* UNET_WIRE_H */
