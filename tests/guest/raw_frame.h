/* SPDX-License-Identifier: MIT */
/*
 * Hand-made U-Net frames for the tests that play a hostile (or merely
 * raw) host on the wire: an AF_PACKET socket on eth0 and a header encoder
 * written from docs/WIRE.md, independent of the module's codec.
 */
#ifndef RAW_FRAME_H
#define RAW_FRAME_H

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "guest_test.h"

#define RAW_HDR		28
#define RAW_ETH		14
#define RAW_FRAG	1472u		/* MTU 1500 minus the U-Net header */

struct raw_sock {
	int fd;
	struct sockaddr_ll sa;
	uint8_t src[6];
};

static inline void raw_open(struct raw_sock *s, const uint8_t src_mac[6])
{
	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_PACKET, SOCK_RAW, htons(UNET_ETHERTYPE));
	if (s->fd < 0)
		gt_die("AF_PACKET socket");
	s->sa.sll_family = AF_PACKET;
	s->sa.sll_protocol = htons(UNET_ETHERTYPE);
	s->sa.sll_halen = 6;
	s->sa.sll_ifindex = (int)if_nametoindex("eth0");
	memcpy(s->src, src_mac, 6);
}

static inline void raw_put_hdr(uint8_t *p, uint16_t frag_size, uint32_t dst,
			       uint32_t src, uint32_t msg_id, uint32_t msg_len,
			       uint32_t frag_off, uint16_t frag_len)
{
	p[0] = 1;		/* version */
	p[1] = 1;		/* data */
	p[2] = frag_size >> 8;
	p[3] = (uint8_t)frag_size;
	*(uint32_t *)(p + 4) = htonl(dst);
	*(uint32_t *)(p + 8) = htonl(src);
	*(uint32_t *)(p + 12) = htonl(msg_id);
	*(uint32_t *)(p + 16) = htonl(msg_len);
	*(uint32_t *)(p + 20) = htonl(frag_off);
	p[24] = frag_len >> 8;
	p[25] = (uint8_t)frag_len;
	p[26] = p[27] = 0;
}

/* One frame to @dst_mac; payload bytes follow a pattern of @seed. */
static inline int raw_send_frag(struct raw_sock *s, const uint8_t dst_mac[6],
				uint32_t dst_ep, uint32_t src_ep,
				uint32_t msg_id, uint32_t msg_len,
				uint32_t frag_size, uint32_t frag_off,
				uint32_t seed)
{
	static uint8_t fr[RAW_ETH + RAW_HDR + 1500];
	uint32_t len = msg_len - frag_off;
	ssize_t n;

	if (len > frag_size)
		len = frag_size;
	memcpy(fr, dst_mac, 6);
	memcpy(fr + 6, s->src, 6);
	fr[12] = UNET_ETHERTYPE >> 8;
	fr[13] = UNET_ETHERTYPE & 0xff;
	raw_put_hdr(fr + RAW_ETH, (uint16_t)frag_size, dst_ep, src_ep, msg_id,
		    msg_len, frag_off, (uint16_t)len);
	for (uint32_t i = 0; i < len; i++)
		fr[RAW_ETH + RAW_HDR + i] = gt_pattern(seed, frag_off + i);
	memcpy(s->sa.sll_addr, dst_mac, 6);
	/* The link is lossless but the queue may be full: try again. */
	for (int tries = 0; tries < 1000; tries++) {
		n = sendto(s->fd, fr, RAW_ETH + RAW_HDR + len, 0,
			   (struct sockaddr *)&s->sa, sizeof(s->sa));
		if (n >= 0)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN)
			break;
		usleep(1000);
	}
	return -1;
}

/* A whole message as fragments of RAW_FRAG bytes; frames sent, or -1. */
static inline int raw_send_msg(struct raw_sock *s, const uint8_t dst_mac[6],
			       uint32_t dst_ep, uint32_t src_ep,
			       uint32_t msg_id, uint32_t msg_len,
			       uint32_t seed)
{
	uint32_t fs = msg_len <= RAW_FRAG ? (msg_len ? msg_len : 1) : RAW_FRAG;
	uint32_t off = 0;
	int frames = 0;

	do {
		if (raw_send_frag(s, dst_mac, dst_ep, src_ep, msg_id, msg_len,
				  fs, off, seed))
			return -1;
		frames++;
		off += fs;
	} while (off < msg_len);
	return frames;
}

#endif /* RAW_FRAME_H */
