// SPDX-License-Identifier: MIT
/*
 * Loopback messages parked behind a translation the agent is still
 * waiting for (a userfaultfd page whose handler answers only when told):
 *
 *  - the NIC's MAC address changes while the message is parked.  Once the
 *    page arrives the message must arrive whole; a parked message whose
 *    sender goes away must come back to the receiver as dropped.  Either
 *    way no reassembly (and none of the receiver's buffers) stays held.
 *  - a base-level sender is killed while its message is parked on the
 *    receiver's page: its pinned segment must be freed with its process,
 *    not when the agent at last lets go of the endpoint.
 *
 * Needs a NIC attached to eth0 (the MAC belongs to it).
 *
 *   mm_parked
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "mm_common.h"

#define LEN	4000

/* A page that appears only when release_page() says so. */
struct held_page {
	int uffd;
	int go[2];
	uint8_t *page;
	uint32_t seed;		/* contents it appears with */
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct held_page *h = arg;
	struct uffd_msg msg;
	struct uffdio_copy copy = { 0 };
	uint8_t *src = malloc(MM_PAGE);
	char c;

	if (!src || read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return NULL;
	if (read(h->go[0], &c, 1) != 1)
		return NULL;
	gt_fill(src, MM_PAGE, h->seed);
	copy.dst = (uintptr_t)h->page;
	copy.src = (uintptr_t)src;
	copy.len = MM_PAGE;
	ioctl(h->uffd, UFFDIO_COPY, &copy);
	free(src);
	return NULL;
}

static void hold_page(struct held_page *h, uint32_t seed)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	h->uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	h->page = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	h->seed = seed;
	if (h->uffd < 0 || ioctl(h->uffd, UFFDIO_API, &api) || pipe(h->go))
		gt_die("userfaultfd");
	reg.range.start = (uintptr_t)h->page;
	reg.range.len = MM_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	if (pthread_create(&h->thread, NULL, serve, h))
		gt_die("thread");
}

static void release_page(struct held_page *h)
{
	if (write(h->go[1], "g", 1) != 1)
		gt_die("release page");
	pthread_join(h->thread, NULL);
}

static void set_mac(const char *mac)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip link set dev eth0 address %s", mac);
	if (system(cmd))
		gt_die(cmd);
}

static void mac_string(const uint8_t m[6], char *s)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
}

/* The sender's source page is held; the MAC changes; the page arrives. */
static void mac_change_then_resume(struct unet *u, const char *other_mac)
{
	struct mm_pair p;
	struct held_page h;
	uint8_t *dst = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE);
	uint32_t got = 0;
	int st;

	mm_pair_init(&p, u, 0);
	hold_page(&h, 31);
	if (unet_post_free(p.rx, (uintptr_t)dst, MM_PAGE, 0) ||
	    unet_send_buf(p.tx, p.ch, h.page, LEN, 0))
		gt_die("post");
	usleep(300000);			/* parked on the held page */
	set_mac(other_mac);
	release_page(&h);
	st = mm_recv_msg(p.rx, NULL, 0, &got, false, NULL, 0, NULL);
	gt_result(st == UNET_ST_OK && got == LEN && gt_verify(dst, LEN, 31) < 0,
		  "parked-mac-change-arrives-whole",
		  "status %s, %u bytes, data %s", mm_st(st), got,
		  st == UNET_ST_OK && gt_verify(dst, LEN, 31) < 0 ? "intact" :
		  "wrong");
	st = gt_send_done(p.tx, 2000);
	gt_result(st == UNET_ST_OK, "parked-mac-change-send-completes",
		  "sender's completion: %s", mm_st(st));
	gt_result(mm_wait_ctr_le(u, UNET_NIC_reasm_active, 0, 2000) == 0,
		  "parked-mac-change-nothing-held", "reasm_active %ld",
		  mm_ctr(u, UNET_NIC_reasm_active));
	mm_pair_destroy(&p);
}

/* The MAC changes while the message is parked; then the sender goes. */
static void mac_change_then_abort(struct unet *u, const char *other_mac)
{
	struct unet *us = gt_open();
	struct unet_ep *rx = mm_ep(u, 0), *tx = mm_ep(us, 0);
	struct held_page h;
	uint8_t *dst = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE);
	unsigned int nbuf = 0;
	int ch = gt_chan_local(tx, rx), st;

	gt_chan_local(rx, tx);
	hold_page(&h, 32);
	if (unet_post_free(rx, (uintptr_t)dst, MM_PAGE, 0) ||
	    unet_send_buf(tx, (uint32_t)ch, h.page, LEN, 0))
		gt_die("post");
	usleep(300000);
	set_mac(other_mac);
	unet_ep_destroy(tx);		/* the sender gives up half way */
	unet_close(us);
	st = mm_recv_msg(rx, NULL, 0, NULL, false, NULL, 0, &nbuf);
	gt_result(st == UNET_ST_DROPPED && nbuf == 1,
		  "parked-mac-change-abort-returns-buffers",
		  "receiver got %s with %u buffers back (want dropped, 1)",
		  mm_st(st), nbuf);
	gt_result(mm_wait_ctr_le(u, UNET_NIC_reasm_active, 0, 2000) == 0,
		  "parked-mac-change-abort-nothing-held", "reasm_active %ld",
		  mm_ctr(u, UNET_NIC_reasm_active));
	release_page(&h);
	unet_ep_destroy(rx);
}

/*
 * A base-level child sends into this process's held page and is killed
 * while parked: segment_pages must fall back at once.
 */
static void base_sender_killed(struct unet *u)
{
	const uint32_t seg = 1 << 20;
	struct unet_ep *rx = mm_ep(u, 0);
	struct held_page h;
	uint32_t rx_id = unet_ep_id(rx), tx_id;
	long seg0 = mm_ctr(u, UNET_NIC_segment_pages), with, after = -1;
	int idp[2], st;
	double t0;
	pid_t pid;

	hold_page(&h, 33);
	if (unet_post_free(rx, (uintptr_t)h.page, MM_PAGE, 0) || pipe(idp))
		gt_die("post");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		struct unet *uc = gt_open();
		struct unet_ep *tx = gt_ep(uc, UNET_MODE_BASE, seg);
		uint8_t mac[6], *s = unet_ep_segment(tx, NULL);
		uint32_t id = unet_ep_id(tx);
		int ch;

		gt_nic_mac(uc, mac);
		ch = gt_chan_to(tx, mac, rx_id);
		gt_fill(s, LEN, 34);
		if (ch < 0 || write(idp[1], &id, 4) != 4 ||
		    unet_send_buf(tx, (uint32_t)ch, s, LEN, 0))
			_exit(2);
		for (;;)
			pause();
	}
	if (read(idp[0], &tx_id, 4) != 4)
		gt_die("child endpoint");
	{
		uint8_t mac[6];

		gt_nic_mac(u, mac);
		if (gt_chan_to(rx, mac, tx_id) < 0)
			gt_die("channel");
	}
	usleep(400000);			/* parked on our held page */
	with = mm_ctr(u, UNET_NIC_segment_pages);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	t0 = gt_now_ms();
	while (gt_now_ms() - t0 < 1000) {
		after = mm_ctr(u, UNET_NIC_segment_pages);
		if (after == seg0)
			break;
		usleep(10000);
	}
	gt_result(with == seg0 + seg / 4096 && after == seg0,
		  "parked-base-segment-freed-with-process",
		  "segment_pages %ld before, %ld with the sender, %ld within "
		  "1 s of its death (the agent still holds its endpoint)",
		  seg0, with, after);
	release_page(&h);
	mm_drain(rx, false);
	unet_ep_destroy(rx);
	gt_result(mm_wait_ctr_le(u, UNET_NIC_segment_pages, seg0, 5000) ==
		  seg0 && mm_wait_ctr_le(u, UNET_NIC_misses_queued, 0, 5000) == 0,
		  "parked-base-all-released", "segment_pages %ld, misses %ld",
		  mm_ctr(u, UNET_NIC_segment_pages),
		  mm_ctr(u, UNET_NIC_misses_queued));
}

int main(void)
{
	struct unet *u = gt_open();
	uint8_t mac[6];
	char orig[24], other[24];

	gt_nic_mac(u, mac);
	mac_string(mac, orig);
	mac[5] ^= 0x40;
	mac_string(mac, other);

	mac_change_then_resume(u, other);
	set_mac(orig);
	mac_change_then_abort(u, other);
	set_mac(orig);
	base_sender_killed(u);
	unet_close(u);
	return gt_exit();
}
