/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the guest integration tests, compiled once
 * (tests/lib/guest_test.c) and linked into every test program.  Every test
 * prints one line per check, `PASS guest/<name>` or `FAIL guest/<name>:
 * why`, and exits non-zero if any failed; tests/run counts the lines.
 */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unet.h"

/* Checks that failed so far; gt_exit() turns it into the exit status. */
extern int gt_failed;

void gt_result(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void gt_pass(const char *name);
/* Prints FAIL guest/setup with @what and errno, and exits. */
void gt_die(const char *what) __attribute__((noreturn));
double gt_now_ms(void);
int gt_exit(void);

struct unet *gt_open(void);
struct unet_ep *gt_ep(struct unet *u, uint32_t mode, uint32_t seg);
void gt_nic_mac(struct unet *u, uint8_t mac[6]);
long gt_nic_counter(struct unet *u, int ctr);
/* The loaded module's parameter @name, or @dflt if it has none. */
long gt_module_param(const char *name, long dflt);
/* The same as text (its first line) in @buf; false if it has none. */
bool gt_module_param_str(const char *name, char *buf, size_t len);
/* Writes a writable module parameter; false if it cannot. */
bool gt_module_param_set(const char *name, const char *value);

/*
 * Addresses.  gt_addr() is an endpoint's own (unet_ep_addr()); the tests
 * that aim at a chosen (MAC, endpoint id) on purpose — an id that is
 * stale, a decoy, the other guest's before it exists — build one with
 * gt_addr_make(), in the format unet_ep_addr(3) documents, and
 * gt_chan_to() makes a channel to it.
 */
void gt_addr(struct unet_ep *ep, uint8_t addr[UNET_ADDR_LEN]);
void gt_addr_make(uint8_t addr[UNET_ADDR_LEN], const uint8_t mac[6],
		  uint32_t ep_id);
int gt_chan_to(struct unet_ep *ep, const uint8_t mac[6], uint32_t ep_id);
/* A channel from @from to @to on this NIC (the loopback path). */
int gt_chan_local(struct unet_ep *from, struct unet_ep *to);

/* Waits up to @ms for a message; 1 got one, 0 timed out. */
int gt_recv(struct unet_ep *ep, struct unet_recv *r, int ms);
/* Waits for the next send completion; returns its status or -1. */
int gt_send_done(struct unet_ep *ep, int ms);

static inline uint8_t gt_pattern(uint32_t seed, size_t i)
{
	return (uint8_t)((seed * 2654435761u + i * 31 + (i >> 8)) & 0xff);
}
void gt_fill(void *buf, size_t len, uint32_t seed);
/* Index of the first wrong byte, or -1. */
long gt_verify(const void *buf, size_t len, uint32_t seed);

/* ---- buffers and a two-party exchange shared by the delivery tests ---- */

#define GT_BUFSZ	4096
#define GT_NBUF		32
#define GT_MAXMSG	65536

struct gt_side {
	struct unet *u;
	struct unet_ep *ep;
	uint32_t mode;
	uint8_t *rx_pool;	/* GT_NBUF receive buffers */
	uint8_t *tx_buf;	/* GT_MAXMSG send buffer */
	uint8_t *scratch;	/* application memory for received data */
	int ch;
};

/* A buffer's address as the NIC names it: pointer, or segment offset. */
uint64_t gt_buf_addr(struct gt_side *s, void *p);
void gt_side_init(struct gt_side *s, struct unet *u, uint32_t mode);
/* Gives a received message's buffers back to the free queue. */
void gt_repost(struct gt_side *s, struct unet_recv *r);
/*
 * Sends @len bytes of pattern @seed on the side's channel and waits for
 * the completion.  Returns the status.
 */
int gt_send_pattern(struct gt_side *s, uint32_t len, uint32_t seed);
/* Receives one message and checks it; returns NULL or a reason. */
const char *gt_recv_pattern(struct gt_side *s, uint32_t len, uint32_t seed,
			    int ms);

/*
 * Swaps @n u32s (ids, counts) with the peer guest over TCP on the test
 * link, port @port: guest 1 listens, guest 2 connects.  Any failure of one
 * attempt (the peer not listening yet, a reset) is retried for up to
 * 120 s.  Both guests call it at the same point, so it is also a barrier.
 */
void gt_swap_array(bool listener, const char *peer_ip, int port,
		   const uint32_t *mine, uint32_t *theirs, int n);
/* Swaps one u32; each call uses the next port from 18600. */
uint32_t gt_swap_ids(bool listener, const char *peer_ip, uint32_t mine);
/* Swaps endpoint addresses, on the same ports as gt_swap_ids(). */
void gt_swap_addrs(bool listener, const char *peer_ip,
		   const uint8_t mine[UNET_ADDR_LEN],
		   uint8_t theirs[UNET_ADDR_LEN]);
/* The peer guest's MAC: the harness gives guest N 52:54:00:88:b5:0N. */
void gt_peer_mac(int peer_guest, uint8_t mac[6]);

#endif /* GUEST_TEST_H */
