/* SPDX-License-Identifier: MIT */
/*
 * The unet provider's own header, carried at the start of every U-Net
 * message the provider sends (docs/FABRIC.md draws it).  U-Net delivers
 * whole messages of at most UNET_MAX_MSG bytes, unreliably, on channels;
 * this header adds what libfabric needs on top: which operation (data or
 * acknowledgement), the tag and remote CQ data, and for RDM the sequence
 * numbers of go-back-N reliability and the receiver's credit.
 *
 * All fields are little-endian on the wire (every supported host is; the
 * accessors below convert, so a big-endian port needs no format change).
 */
#ifndef UFI_PROTO_H
#define UFI_PROTO_H

#include <endian.h>
#include <stdint.h>

#include <unetmm.h>

#define UFI_PROTO_VERSION	1

enum ufi_pkt_type {
	UFI_PKT_DATA	= 1,	/* RDM: one segment of a message */
	UFI_PKT_ACK	= 2,	/* RDM: acknowledgement (and credit) only */
	UFI_PKT_DGRAM	= 3,	/* DGRAM: one whole message, no reliability */
};

enum ufi_pkt_flags {
	UFI_F_FIRST	= 1u << 0,	/* first segment: starts matching */
	UFI_F_LAST	= 1u << 1,	/* last segment: completes the receive */
	UFI_F_TAGGED	= 1u << 2,	/* matches tagged receives only */
	UFI_F_CQ_DATA	= 1u << 3,	/* cq_data is valid (FI_REMOTE_CQ_DATA) */
	UFI_F_NACK	= 1u << 4,	/* ACK: a gap was seen, resend from ack */
	UFI_F_ACK_LAZY	= 1u << 5,	/* DATA: its send completed when posted,
					 * so its ACK may wait for a reply */
	UFI_F_RNDV	= 1u << 6,	/* DATA, FIRST: a request to send (RTS);
					 * it carries no payload, the message's
					 * bytes follow once the receiver has
					 * answered with a grant */
	UFI_F_GRANT	= 1u << 7,	/* ACK: the grant fields are valid */
};

/*
 * A grant rides in a header-only ACK (flags UFI_F_GRANT), in fields an
 * ACK does not otherwise use: seq is the sequence number of the RTS it
 * answers, tag and cq_data hold the 16-byte U-Net address of the
 * receiver's bulk endpoint, msg_len the granted segments [first, end)
 * (first in the low 32 bits).  first == end grants nothing: send the
 * bytes as ordinary segments (or, for a grant in use, stop using it).
 */
static inline uint64_t ufi_grant_range(uint32_t first, uint32_t end)
{
	return (uint64_t)first | (uint64_t)end << 32;
}

struct ufi_hdr {
	uint8_t  version;	/* UFI_PROTO_VERSION */
	uint8_t  type;		/* enum ufi_pkt_type */
	uint8_t  flags;		/* enum ufi_pkt_flags */
	uint8_t  reserved;
	uint32_t seq;		/* DATA: this segment's number, per direction */
	uint32_t ack;		/* next seq the sender of this header expects */
	uint32_t credit;	/* the sender of this header accepts seq < credit */
	uint64_t tag;		/* FIRST: the message's tag */
	uint64_t cq_data;	/* FIRST: remote CQ data */
	uint64_t msg_len;	/* FIRST: bytes in the whole message */
};

#define UFI_HDR_LEN		((uint32_t)sizeof(struct ufi_hdr))
/* Payload bytes one U-Net message carries after the header. */
#define UFI_SEG_MAX		(UNET_MAX_MSG - UFI_HDR_LEN)
/* A message this small travels inside the U-Net descriptor: no free
 * buffer is taken at the receiver. */
#define UFI_INLINE_PAYLOAD	(UNET_INLINE_MAX - UFI_HDR_LEN)

_Static_assert(sizeof(struct ufi_hdr) == 40, "wire header is 40 bytes");

static inline void ufi_hdr_to_wire(struct ufi_hdr *h)
{
	h->seq = htole32(h->seq);
	h->ack = htole32(h->ack);
	h->credit = htole32(h->credit);
	h->tag = htole64(h->tag);
	h->cq_data = htole64(h->cq_data);
	h->msg_len = htole64(h->msg_len);
}

static inline void ufi_hdr_from_wire(struct ufi_hdr *h)
{
	h->seq = le32toh(h->seq);
	h->ack = le32toh(h->ack);
	h->credit = le32toh(h->credit);
	h->tag = le64toh(h->tag);
	h->cq_data = le64toh(h->cq_data);
	h->msg_len = le64toh(h->msg_len);
}

/* Sequence numbers wrap: a is before b if the signed distance is negative. */
static inline int ufi_seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

#endif /* UFI_PROTO_H */
