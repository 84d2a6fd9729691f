// SPDX-License-Identifier: MIT
/*
 * base_cost: what base-level U-Net costs next to U-Net/MM.  The same
 * stream of 16 KiB messages between two endpoints of this process, once
 * per mode.  Base-level mode needs a segment allocated and pinned up
 * front (charged to RLIMIT_MEMLOCK), and the application copies each
 * message into it and out of it; MM mode sends from and receives into the
 * application's own memory, and the NIC pins only what its TLB holds.
 *
 * Build: cc -O2 -o base_cost base_cost.c $(pkg-config --cflags --libs unet)
 * Run:   ./base_cost [MESSAGES]     (unetmm.ko loaded; root or ulimit -l)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unet.h>

#define MSG	16384u
#define SEG	(4 * MSG)	/* base mode: two receive buffers, a send slot */

static void die(const char *what, int err)
{
	fprintf(stderr, "base_cost: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static struct unet_ep *endpoint(struct unet *u, uint32_t mode)
{
	struct unet_ep_attr a;
	struct unet_ep *ep;

	unet_ep_attr_init(&a);
	a.mode = mode;
	a.segment_size = mode == UNET_MODE_BASE ? SEG : 0;
	ep = unet_ep_create(u, &a);
	if (!ep)
		die(mode == UNET_MODE_BASE ? "base endpoint (ulimit -l?)" :
		    "endpoint", errno);
	return ep;
}

static int channel(struct unet_ep *from, struct unet_ep *to)
{
	uint8_t addr[UNET_ADDR_LEN];
	size_t len = sizeof(addr);
	int ch = unet_ep_addr(to, addr, &len);

	if (!ch)
		ch = unet_chan_create(from, addr, len);
	if (ch < 0)
		die("channel", -ch);
	return ch;
}

static uint64_t pinned_kib(struct unet *u)
{
	struct unet_nic_stats st;

	if (unet_nic_stats(u, 0, &st))
		die("unet_nic_stats", EIO);
	return (st.ctr[UNET_NIC_pinned_pages] +
		st.ctr[UNET_NIC_segment_pages]) * 4;
}

static void run(struct unet *u, uint32_t mode, int n, char *app_tx,
		char *app_rx)
{
	uint64_t pinned0 = pinned_kib(u), setup;
	struct unet_ep *tx = endpoint(u, mode), *rx = endpoint(u, mode);
	int base = mode == UNET_MODE_BASE, ch = channel(tx, rx), i;
	char *rx_area = base ? unet_ep_segment(rx, NULL) : malloc(2 * MSG);
	char *tx_area = base ? (char *)unet_ep_segment(tx, NULL) + 2 * MSG : app_tx;
	struct unet_recv r;
	double t0;

	channel(rx, tx);	/* a receiver accepts only known senders */
	setup = pinned_kib(u) - pinned0;
	for (i = 0; i < 2; i++)	/* base: an offset; MM: the address */
		unet_post_free(rx, base ? (uint64_t)i * MSG :
			       (uintptr_t)(rx_area + i * MSG), MSG, i);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		app_tx[0] = (char)i;
		if (base)	/* into the segment, the only place it can go */
			memcpy(tx_area, app_tx, MSG);
		if (unet_send_buf(tx, ch, tx_area, MSG, i))
			die("send", EIO);
		while (unet_recv_poll(rx, &r) == 0)
			;
		const struct unet_buf *b = unet_recv_buf(rx, &r, 0);
		char *p = unet_buf_ptr(rx, b);

		if (base) {	/* out of it, so the buffer can be reposted */
			memcpy(app_rx, p, MSG);
			p = app_rx;
		}
		if (r.status != UNET_ST_OK || p[0] != (char)i)
			die("delivery", EIO);
		unet_recv_done(rx, &r);
		unet_post_free(rx, b->addr, b->len, b->context);
		while (unet_send_poll(tx, NULL, 1) == 0)
			;
	}
	printf("%-6s %8.1f %14llu %16llu\n", base ? "base" : "mm",
	       (now_us() - t0) / n, (unsigned long long)setup,
	       (unsigned long long)(pinned_kib(u) - pinned0));
	unet_ep_destroy(tx);
	unet_ep_destroy(rx);
	if (!base)
		free(rx_area);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char *app_tx = calloc(1, MSG), *app_rx = calloc(1, MSG);
	struct unet *u = unet_open();

	if (!u || !app_tx || !app_rx || n < 1)
		die("setup", u ? EINVAL : errno);
	printf("%d messages of %u bytes, one process, two endpoints\n", n, MSG);
	printf("%-6s %8s %14s %16s\n", "mode", "us/msg", "KiB pinned",
	       "KiB pinned");
	printf("%-6s %8s %14s %16s\n", "", "", "by the setup", "after the run");
	run(u, UNET_MODE_MM, n, app_tx, app_rx);
	run(u, UNET_MODE_BASE, n, app_tx, app_rx);
	unet_close(u);
	return 0;
}
